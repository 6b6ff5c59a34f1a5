//! The WebSocket protocol: client actions (routed by `action`) and server events
//! (tagged by `event`), as in DESIGN.md. Parsing never panics: anything malformed
//! becomes a [`ProtocolError`] that the handlers turn into an `error` event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest display name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 40;
/// The name used when a joiner gives none.
pub const ANONYMOUS: &str = "Anonymous";
/// Keys the server owns in a relayed `message`; a sender's own copies are dropped.
pub const RESERVED_MESSAGE_KEYS: [&str; 5] = ["action", "event", "room", "from", "sent_at"];

/// Error codes of the `error` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    GroupNotFound,
    GroupExpired,
    NotInRoom,
    PayloadTooLarge,
    RateLimited,
    Removed,
    PartnerAway,
    Internal,
}

/// Why a frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error(
        "frames must be JSON objects, e.g. {{\"action\":\"join_group\",\"access_code\":\"…\"}}"
    )]
    NotJson,
    #[error("frames must be JSON objects with an \"action\" key")]
    NotAnObject,
    #[error("missing \"action\"")]
    MissingAction,
    #[error(
        "unknown action {0:?}; expected join_group, message, leave_room, block, report or resume"
    )]
    UnknownAction(String),
    #[error("missing or empty \"{0}\"")]
    MissingField(&'static str),
    #[error("\"{field}\" must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("\"{field}\" {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
}

/// Longest report reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Most messages a report's excerpt may hold.
pub const MAX_EXCERPT_ITEMS: usize = 20;
/// Longest excerpt message, in characters.
pub const MAX_EXCERPT_TEXT: usize = 1000;

/// Who wrote a message in a report's excerpt, as the reporter's client says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExcerptFrom {
    Me,
    Partner,
}

/// One message of a report's excerpt, exactly as the reporter's client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcerptItem {
    pub from: ExcerptFrom,
    pub text: String,
    #[serde(default)]
    pub sent_at: String,
}

/// A parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAction {
    JoinGroup {
        access_code: String,
        /// Trimmed, at most [`MAX_NAME_CHARS`], "Anonymous" when blank.
        name: String,
        /// The client's secret for this circle (checked shape), if it keeps one.
        member: Option<String>,
        /// The circle's stable id, when the client knows it (saves a read).
        circle: Option<String>,
    },
    Message {
        room: String,
        /// The sender's other keys, reserved ones removed.
        body: Map<String, Value>,
    },
    LeaveRoom {
        room: String,
        requeue: bool,
    },
    Block {
        room: String,
        requeue: bool,
    },
    Report {
        room: String,
        reason: String,
        excerpt: Vec<ExcerptItem>,
        requeue: bool,
    },
    Resume {
        room: String,
        token: String,
    },
}

impl ClientAction {
    /// Parses one text frame.
    pub fn parse(frame: &str) -> Result<Self, ProtocolError> {
        let value: Value = serde_json::from_str(frame).map_err(|_| ProtocolError::NotJson)?;
        let Value::Object(mut obj) = value else {
            return Err(ProtocolError::NotAnObject);
        };
        let action = match obj.get("action") {
            None | Some(Value::Null) => return Err(ProtocolError::MissingAction),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(ProtocolError::WrongType {
                    field: "action",
                    expected: "a string",
                });
            }
        };
        match action.as_str() {
            "join_group" => Ok(Self::JoinGroup {
                access_code: required_string(&obj, "access_code")?,
                name: display_name(obj.get("name"))?,
                member: match optional_string(&obj, "member")? {
                    Some(m) if crate::secrets::valid_member_secret(&m) => Some(m),
                    Some(_) => {
                        return Err(ProtocolError::Invalid {
                            field: "member",
                            message: "must be 16 to 64 characters of A-Z a-z 0-9 _ -",
                        });
                    }
                    None => None,
                },
                circle: optional_string(&obj, "circle")?
                    .filter(|c| c.len() <= 40 && c.bytes().all(|b| b.is_ascii_alphanumeric())),
            }),
            "message" => {
                let room = required_string(&obj, "room")?;
                for key in RESERVED_MESSAGE_KEYS {
                    obj.remove(key);
                }
                Ok(Self::Message { room, body: obj })
            }
            "leave_room" => Ok(Self::LeaveRoom {
                room: required_string(&obj, "room")?,
                requeue: requeue(&obj)?,
            }),
            "block" => Ok(Self::Block {
                room: required_string(&obj, "room")?,
                requeue: requeue(&obj)?,
            }),
            "report" => {
                let reason = required_string(&obj, "reason")?;
                if reason.chars().count() > MAX_REASON_CHARS {
                    return Err(ProtocolError::Invalid {
                        field: "reason",
                        message: "must be at most 500 characters",
                    });
                }
                Ok(Self::Report {
                    room: required_string(&obj, "room")?,
                    reason,
                    excerpt: excerpt(obj.get("excerpt"))?,
                    requeue: requeue(&obj)?,
                })
            }
            "resume" => Ok(Self::Resume {
                room: required_string(&obj, "room")?,
                token: required_string(&obj, "token")?,
            }),
            _ => Err(ProtocolError::UnknownAction(truncate(&action, 64))),
        }
    }
}

fn requeue(obj: &Map<String, Value>) -> Result<bool, ProtocolError> {
    match obj.get("requeue") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ProtocolError::WrongType {
            field: "requeue",
            expected: "true or false",
        }),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ProtocolError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ProtocolError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// A report's excerpt: at most 20 `{from: "me"|"partner", text ≤ 1000, sent_at}`.
fn excerpt(value: Option<&Value>) -> Result<Vec<ExcerptItem>, ProtocolError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ProtocolError::WrongType {
                field: "excerpt",
                expected: "a list of messages",
            });
        }
    };
    if items.len() > MAX_EXCERPT_ITEMS {
        return Err(ProtocolError::Invalid {
            field: "excerpt",
            message: "may hold at most 20 messages",
        });
    }
    items
        .iter()
        .map(|item| {
            let parsed: ExcerptItem =
                serde_json::from_value(item.clone()).map_err(|_| ProtocolError::Invalid {
                    field: "excerpt",
                    message: "items must be {\"from\": \"me\" or \"partner\", \"text\", \"sent_at\"}",
                })?;
            if parsed.text.chars().count() > MAX_EXCERPT_TEXT || parsed.sent_at.len() > 64 {
                return Err(ProtocolError::Invalid {
                    field: "excerpt",
                    message: "texts may be at most 1000 characters",
                });
            }
            Ok(parsed)
        })
        .collect()
}

fn required_string(obj: &Map<String, Value>, field: &'static str) -> Result<String, ProtocolError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(ProtocolError::MissingField(field))
        }
        Some(_) => Err(ProtocolError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// Trimmed, cut to [`MAX_NAME_CHARS`] characters, "Anonymous" when missing or blank.
pub fn display_name(value: Option<&Value>) -> Result<String, ProtocolError> {
    let raw = match value {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(ProtocolError::WrongType {
                field: "name",
                expected: "a string",
            });
        }
    };
    let cleaned: String = raw.trim().chars().filter(|c| !c.is_control()).collect();
    let cut = truncate(cleaned.trim(), MAX_NAME_CHARS);
    let cut = cut.trim_end();
    Ok(if cut.is_empty() {
        ANONYMOUS.to_owned()
    } else {
        cut.to_owned()
    })
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// The group as a member sees it in the lobby.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircleInfo {
    pub name: String,
    pub description: String,
    pub rules: Vec<String>,
}

/// Someone in a room: display name and an opaque per-room id (never a connection id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    pub id: String,
}

/// A round as members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInfo {
    pub number: u32,
    pub minutes: Option<u32>,
    /// RFC 3339.
    pub ends_at: Option<String>,
    /// Seconds to `ends_at` when sent, so clients need not trust their clocks.
    pub seconds_left: Option<i64>,
}

/// Why a partner is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftReason {
    Left,
    Disconnected,
}

/// Everything the server sends, tagged by `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    Waiting {
        group: CircleInfo,
        waiting: u32,
        /// The round under way, if rounds run.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        round: Option<RoundInfo>,
    },
    JoinRoom {
        room: String,
        user: String,
        #[serde(rename = "match")]
        partner: Participant,
        /// An icebreaker, the same for both.
        prompt: String,
        /// This seat's secret for `resume`.
        resume: String,
        /// When a round's room ends (RFC 3339).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ends_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seconds_left: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        resumed: Option<bool>,
    },
    Message {
        room: String,
        from: Participant,
        sent_at: String,
        #[serde(flatten)]
        body: Map<String, Value>,
    },
    PartnerLeft {
        room: String,
        reason: LeftReason,
    },
    PartnerAway {
        room: String,
        grace_s: u64,
    },
    PartnerBack {
        room: String,
    },
    Blocked {
        room: String,
    },
    Reported {
        room: String,
    },
    /// A round started (`number` 0: rounds stopped).
    Round(RoundInfo),
    RoundOver {
        room: String,
        number: u32,
    },
    CircleClosed {},
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ServerEvent {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    /// The JSON text frame.
    pub fn to_frame(&self) -> String {
        serde_json::to_string(self).expect("server events are plain JSON and always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_group_trims_and_defaults_the_name() {
        let a =
            ClientAction::parse(r#"{"action":"join_group","access_code":" ab ","name":"  Ann  "}"#);
        assert_eq!(
            a,
            Ok(ClientAction::JoinGroup {
                access_code: "ab".into(),
                name: "Ann".into(),
                member: None,
                circle: None,
            })
        );
        for frame in [
            r#"{"action":"join_group","access_code":"x"}"#,
            r#"{"action":"join_group","access_code":"x","name":"   "}"#,
            r#"{"action":"join_group","access_code":"x","name":null}"#,
        ] {
            let ClientAction::JoinGroup { name, .. } = ClientAction::parse(frame).expect(frame)
            else {
                panic!("{frame} is a join");
            };
            assert_eq!(name, ANONYMOUS);
        }
        let long = "é".repeat(100);
        let frame = json!({"action":"join_group","access_code":"x","name":long}).to_string();
        let ClientAction::JoinGroup { name, .. } = ClientAction::parse(&frame).expect("long name")
        else {
            panic!("is a join");
        };
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        let cases = [
            ("not json", ProtocolError::NotJson),
            ("[1,2]", ProtocolError::NotAnObject),
            ("{}", ProtocolError::MissingAction),
            (
                r#"{"action":7}"#,
                ProtocolError::WrongType {
                    field: "action",
                    expected: "a string",
                },
            ),
            (
                r#"{"action":"dance"}"#,
                ProtocolError::UnknownAction("dance".into()),
            ),
            (
                r#"{"action":"join_group"}"#,
                ProtocolError::MissingField("access_code"),
            ),
            (
                r#"{"action":"join_group","access_code":" "}"#,
                ProtocolError::MissingField("access_code"),
            ),
            (
                r#"{"action":"join_group","access_code":5}"#,
                ProtocolError::WrongType {
                    field: "access_code",
                    expected: "a string",
                },
            ),
            (
                r#"{"action":"join_group","access_code":"x","name":[]}"#,
                ProtocolError::WrongType {
                    field: "name",
                    expected: "a string",
                },
            ),
            (
                r#"{"action":"message"}"#,
                ProtocolError::MissingField("room"),
            ),
            (
                r#"{"action":"leave_room","room":"r","requeue":"yes"}"#,
                ProtocolError::WrongType {
                    field: "requeue",
                    expected: "true or false",
                },
            ),
        ];
        for (frame, want) in cases {
            assert_eq!(ClientAction::parse(frame), Err(want), "{frame}");
        }
    }

    #[test]
    fn message_keeps_extra_keys_and_drops_reserved_ones() {
        let frame = r#"{"action":"message","room":"r1","message":"hi","id":3,"typing":false,"from":{"name":"spoof"},"sent_at":"x","event":"join_room"}"#;
        let ClientAction::Message { room, body } = ClientAction::parse(frame).expect("valid")
        else {
            panic!("is a message");
        };
        assert_eq!(room, "r1");
        assert_eq!(
            Value::Object(body),
            json!({"message":"hi","id":3,"typing":false})
        );
    }

    #[test]
    fn events_serialize_as_designed() {
        let ev = ServerEvent::JoinRoom {
            room: "r".into(),
            user: "Ann".into(),
            partner: Participant {
                name: "Bob".into(),
                id: "p2".into(),
            },
            prompt: "Why?".into(),
            resume: "tok".into(),
            ends_at: None,
            seconds_left: None,
            resumed: None,
        };
        assert_eq!(
            serde_json::to_value(&ev).expect("serializes"),
            json!({"event":"join_room","room":"r","user":"Ann","match":{"name":"Bob","id":"p2"},
                   "prompt":"Why?","resume":"tok"})
        );
        assert_eq!(
            serde_json::to_value(ServerEvent::CircleClosed {}).expect("serializes"),
            json!({"event":"circle_closed"})
        );
        assert_eq!(
            serde_json::to_value(ServerEvent::Round(RoundInfo {
                number: 2,
                minutes: Some(5),
                ends_at: Some("t".into()),
                seconds_left: Some(300)
            }))
            .expect("serializes"),
            json!({"event":"round","number":2,"minutes":5,"ends_at":"t","seconds_left":300})
        );
        let mut body = Map::new();
        body.insert("message".into(), json!("hi"));
        let ev = ServerEvent::Message {
            room: "r".into(),
            from: Participant {
                name: "Ann".into(),
                id: "p1".into(),
            },
            sent_at: "2026-01-01T00:00:00.000Z".into(),
            body,
        };
        let v = serde_json::to_value(&ev).expect("serializes");
        assert_eq!(
            v,
            json!({"event":"message","room":"r","from":{"name":"Ann","id":"p1"},"sent_at":"2026-01-01T00:00:00.000Z","message":"hi"})
        );
        assert_eq!(
            serde_json::from_value::<ServerEvent>(v).expect("round trips"),
            ev
        );
        let err = ServerEvent::error(ErrorCode::NotInRoom, "nope");
        assert_eq!(
            serde_json::to_value(&err).expect("serializes"),
            json!({"event":"error","code":"not_in_room","message":"nope"})
        );
    }
}
