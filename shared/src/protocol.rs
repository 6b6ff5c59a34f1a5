//! The WebSocket protocol: client actions (routed by `action`) and server events
//! (tagged by `event`), as in `docs/design.md` (section 3). Parsing never panics:
//! anything malformed becomes a [`ProtocolError`] that the handlers turn into an
//! `error` event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod aftercare;
mod parts;
pub mod text;

pub use parts::{CircleInfo, EndReason, LeftReason, Participant, RoundInfo, WaitReason};

pub use aftercare::{MAX_CONTACT_CHARS, Rating};

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
    /// `bad_request`: a malformed frame, an unknown action, or one the connection can't take
    /// now (e.g. `join_group` while in a room of another circle).
    BadRequest,
    /// `group_not_found`: no live circle has that access code.
    GroupNotFound,
    /// `group_expired`: the circle has expired.
    GroupExpired,
    /// `not_in_room`: the frame names a room the sender is not in.
    NotInRoom,
    /// `payload_too_large`: the relayed message would be over the gateway's frame limit.
    PayloadTooLarge,
    /// `rate_limited`: over the rate limit, or too busy right now; try again.
    RateLimited,
    /// `removed`: the organiser removed this member from the circle.
    Removed,
    /// `partner_away`: the partner's socket dropped and their seat is held; nothing was relayed.
    PartnerAway,
    /// `code_changed`: the organiser replaced this access code with a new one.
    CodeChanged,
    /// `circle_closed`: the organiser closed the circle this code belonged to.
    CircleClosed,
    /// `internal`: our failure; the details stay in the logs.
    Internal,
}

/// Why a frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is not JSON.
    #[error(
        "frames must be JSON objects, e.g. {{\"action\":\"join_group\",\"access_code\":\"…\"}}"
    )]
    NotJson,
    /// The frame is JSON but not an object.
    #[error("frames must be JSON objects with an \"action\" key")]
    NotAnObject,
    /// No `action` key, or `null`.
    #[error("missing \"action\"")]
    MissingAction,
    /// An `action` the protocol doesn't have (cut to 64 characters).
    #[error(
        "unknown action {0:?}; expected join_group, message, leave_room, block, report, resume, feedback, keep_in_touch or sit_out"
    )]
    UnknownAction(String),
    /// A required string field is missing, `null` or blank.
    #[error("missing or empty \"{0}\"")]
    MissingField(&'static str),
    /// A field has the wrong JSON type.
    #[error("\"{field}\" must be {expected}")]
    WrongType {
        /// The field's key.
        field: &'static str,
        /// What it must be, e.g. "a string".
        expected: &'static str,
    },
    /// A field has the right type but a value out of bounds or of the wrong shape.
    #[error("\"{field}\" {message}")]
    Invalid {
        /// The field's key.
        field: &'static str,
        /// What is wrong with it, e.g. "must be at most 500 characters".
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
    /// `me`: the reporter wrote it.
    Me,
    /// `partner`: the reported partner wrote it.
    Partner,
}

/// One message of a report's excerpt, exactly as the reporter's client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcerptItem {
    /// `from`: who wrote it.
    pub from: ExcerptFrom,
    /// `text`: the message, at most [`MAX_EXCERPT_TEXT`] characters.
    pub text: String,
    /// `sent_at`: when it was sent, as the client recorded it (at most 64 bytes; empty if
    /// absent).
    #[serde(default)]
    pub sent_at: String,
}

/// A parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAction {
    /// `join_group`: enter a circle's lobby and get paired. Sent again while waiting, it is
    /// the keep-alive.
    JoinGroup {
        /// `access_code`, trimmed; any spelling [`crate::code::AccessCode::parse`] accepts.
        access_code: String,
        /// Trimmed, at most [`MAX_NAME_CHARS`], "Anonymous" when blank.
        name: String,
        /// The client's secret for this circle (checked shape), if it keeps one.
        member: Option<String>,
        /// The circle's stable id, when the client knows it (saves a read).
        circle: Option<String>,
        /// `label`: one of the circle's labels (format characters dropped, trimmed).
        label: Option<String>,
    },
    /// `message`: relay the frame's other keys to both members of the room.
    Message {
        /// `room`: the room to relay to.
        room: String,
        /// The sender's other keys, reserved ones removed.
        body: Map<String, Value>,
    },
    /// `leave_room`: end the room for both members.
    LeaveRoom {
        /// `room`: the room to end.
        room: String,
        /// `requeue` (default `false`): go back to the lobby afterwards ("Next").
        requeue: bool,
    },
    /// `block`: end the room, and never be paired with this partner again in the circle.
    Block {
        /// `room`: the room (or the last room, within 10 minutes of its end).
        room: String,
        /// `requeue` (default `false`): go back to the lobby afterwards.
        requeue: bool,
    },
    /// `report`: a block, plus a report stored for the organiser.
    Report {
        /// `room`: the room (or the last room, within 10 minutes of its end).
        room: String,
        /// `reason`: 1 to [`MAX_REASON_CHARS`] characters.
        reason: String,
        /// `excerpt`: messages the reporter's client attached, at most
        /// [`MAX_EXCERPT_ITEMS`]; empty if absent.
        excerpt: Vec<ExcerptItem>,
        /// `requeue` (default `false`): go back to the lobby afterwards.
        requeue: bool,
    },
    /// `feedback`: one-tap "Good chat?" for the current room or a recent one,
    /// once per side per room; only counts are kept.
    Feedback {
        /// `room`: the current room or one of the last 10 minutes.
        room: String,
        /// `rating`: `good` or `meh`.
        rating: Rating,
    },
    /// `keep_in_touch`: offer to stay in touch; the lines are exchanged only
    /// when both sides sent it.
    KeepInTouch {
        /// `room`: the current room or one of the last 10 minutes.
        room: String,
        /// `contact`: the line to share (at most [`MAX_CONTACT_CHARS`]; may be empty).
        contact: String,
    },
    /// `sit_out`: leave rounds and lobby pairing (`on: true`) or come back (`on: false`).
    SitOut {
        /// `on`: sit out (`true`) or be paired again (`false`).
        on: bool,
    },
    /// `resume`: take back a held seat from a new connection, within the grace period.
    Resume {
        /// `room`: the room whose seat is held.
        room: String,
        /// `token`: the seat's secret, as `join_room` gave it in `resume`.
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
                label: optional_string(&obj, "label")?
                    .map(|l| text::strip_format(&l).trim().to_owned())
                    .filter(|l| !l.is_empty()),
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
            "feedback" => Ok(Self::Feedback {
                room: required_string(&obj, "room")?,
                rating: aftercare::rating(&obj)?,
            }),
            "keep_in_touch" => Ok(Self::KeepInTouch {
                room: required_string(&obj, "room")?,
                contact: aftercare::contact(optional_string(&obj, "contact")?)?,
            }),
            "sit_out" => Ok(Self::SitOut {
                on: match obj.get("on") {
                    Some(Value::Bool(b)) => *b,
                    None | Some(Value::Null) => return Err(ProtocolError::MissingField("on")),
                    Some(_) => {
                        return Err(ProtocolError::WrongType {
                            field: "on",
                            expected: "true or false",
                        });
                    }
                },
            }),
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

/// Trimmed, without control and format (Cf) characters, cut to
/// [`MAX_NAME_CHARS`] characters, "Anonymous" when missing or blank; a name of
/// format characters only is [`ProtocolError::Invalid`].
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
    let cleaned = text::strip_format(raw.trim());
    let cut = truncate(cleaned.trim(), MAX_NAME_CHARS);
    let cut = cut.trim_end();
    Ok(if cut.is_empty() && !raw.trim().is_empty() {
        // Only invisible characters: refused, never shown as "Anonymous".
        return Err(ProtocolError::Invalid {
            field: "name",
            message: "has no visible characters",
        });
    } else if cut.is_empty() {
        ANONYMOUS.to_owned()
    } else {
        cut.to_owned()
    })
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Everything the server sends, tagged by `event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ServerEvent {
    /// `waiting`: in the lobby, not paired yet; a long waiter gets it again with a new count.
    Waiting {
        /// `group`: the circle being waited in.
        group: CircleInfo,
        /// `waiting`: how many are in the lobby.
        waiting: u32,
        /// The round under way, if rounds run.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        round: Option<RoundInfo>,
        /// `reason`: why nobody present can be paired with the waiter now
        /// (absent: nobody else is waiting, or a pairing is on its way).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<WaitReason>,
        /// `retry_at`: when the reason lifts and pairing is tried again (RFC 3339;
        /// with `reason` `just_met` only).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        retry_at: Option<String>,
    },
    /// `join_room`: paired into a room (or back in it after a `resume`).
    JoinRoom {
        /// `room`: the room id, which later actions name.
        room: String,
        /// `user`: the recipient's own display name.
        user: String,
        /// `match`: the partner.
        #[serde(rename = "match")]
        partner: Participant,
        /// An icebreaker, the same for both.
        prompt: String,
        /// This seat's secret for `resume`.
        resume: String,
        /// When a round's room ends (RFC 3339).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ends_at: Option<String>,
        /// `seconds_left`: seconds to `ends_at` when sent, in a round's room.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        seconds_left: Option<i64>,
        /// `resumed`: `true` after a `resume`; absent on a new pairing.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        resumed: Option<bool>,
    },
    /// `message`: a relayed message, sent to both members (the sender gets an echo).
    Message {
        /// `room`: the room it was sent in.
        room: String,
        /// `from`: the sender.
        from: Participant,
        /// `sent_at`: when the server relayed it (RFC 3339, UTC, milliseconds).
        sent_at: String,
        /// The sender's own keys, flattened into the event (reserved ones removed).
        #[serde(flatten)]
        body: Map<String, Value>,
    },
    /// `partner_left`: the partner is gone and the room has ended.
    PartnerLeft {
        /// `room`: the room that ended.
        room: String,
        /// `reason`: `left` or `disconnected`.
        reason: LeftReason,
    },
    /// `partner_away`: the partner's socket dropped; their seat is held for a while.
    PartnerAway {
        /// `room`: the room.
        room: String,
        /// `grace_s`: seconds the seat is still held.
        grace_s: u64,
    },
    /// `partner_back`: the partner took their seat back with `resume`.
    PartnerBack {
        /// `room`: the room.
        room: String,
    },
    /// `blocked`: the sender's `block` went through.
    Blocked {
        /// `room`: the room the `block` named.
        room: String,
    },
    /// `reported`: the sender's `report` went through.
    Reported {
        /// `room`: the room the `report` named.
        room: String,
    },
    /// `feedback`: the sender's rating was counted (or had been already).
    Feedback {
        /// `room`: the room rated.
        room: String,
    },
    /// `keep_in_touch`: the sender's offer is held (until both sent it, or 10 minutes).
    KeepInTouch {
        /// `room`: the room it names.
        room: String,
    },
    /// `contact`: both sides asked to keep in touch; the other's line, once.
    Contact {
        /// `room`: the room it names.
        room: String,
        /// `contact`: the other side's line (may be empty).
        contact: String,
    },
    /// A round started (`number` 0: rounds stopped).
    Round(RoundInfo),
    /// `round_ending`: the round ends in about a round-minute (to the members
    /// of its rooms, once).
    RoundEnding {
        /// `number`: the round about to end.
        number: u32,
        /// `ends_at`: when it ends (RFC 3339).
        ends_at: String,
        /// `seconds_left`: seconds to `ends_at` when sent.
        seconds_left: i64,
    },
    /// `sit_out`: the sender's `sit_out` is now `on` (also the answer to a
    /// `join_group` or "Next" while sitting out, which pairs nobody).
    SitOut {
        /// `on`: whether the connection sits out.
        on: bool,
    },
    /// `round_over`: a round change ended this room.
    RoundOver {
        /// `room`: the room that ended.
        room: String,
        /// `number`: the round that ended; 0 for a room from before rounds began.
        number: u32,
    },
    /// `announcement`: a line from the organiser to everyone connected to the circle.
    Announcement {
        /// `text`: at most 280 characters.
        text: String,
        /// `at`: when it was sent (RFC 3339, UTC, milliseconds).
        at: String,
    },
    /// `circle_closed`: the organiser closed the circle; the socket closes next.
    CircleClosed {},
    /// `circle_ended`: the circle is over (closed, or past its end); the socket closes next.
    CircleEnded {
        /// `reason`: `closed` or `expired`.
        reason: EndReason,
    },
    /// `error`: an action failed (see [`ErrorCode`]).
    Error {
        /// `code`: what kind of failure.
        code: ErrorCode,
        /// `message`: a human-readable explanation.
        message: String,
    },
}

impl ServerEvent {
    /// An `error` event with this code and text.
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
mod tests;
