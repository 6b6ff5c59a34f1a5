//! The records Circle keeps and their DynamoDB item shapes. Every record carries an
//! `expires_at` TTL, and every reader treats an expired record as absent.

use crate::code::AccessCode;
use crate::store::attr::{n, opt_n, opt_s, req_n, req_s, s, string_list};
use crate::store::{Item, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;

/// Sort key of a group's own item.
pub const GROUP_SK: &str = "GROUP";
/// Sort-key prefix of lobby entries.
pub const WAIT_PREFIX: &str = "WAIT#";

/// Connection states.
pub const IDLE: &str = "idle";
pub const WAITING: &str = "waiting";
pub const PAIRED: &str = "paired";

/// A group ("circle").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub code: AccessCode,
    pub name: String,
    pub description: String,
    pub rules: Vec<String>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; the TTL attribute.
    pub expires_at: i64,
}

impl Group {
    pub fn to_item(&self) -> Item {
        Item::from([
            ("pk".into(), s(self.code.as_str())),
            ("sk".into(), s(GROUP_SK)),
            ("name".into(), s(&self.name)),
            ("description".into(), s(&self.description)),
            (
                "rules".into(),
                AttributeValue::L(self.rules.iter().map(s).collect()),
            ),
            ("created_at".into(), n(self.created_at)),
            ("expires_at".into(), n(self.expires_at)),
        ])
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let pk = req_s(item, "pk")?;
        Ok(Self {
            code: AccessCode::parse(&pk)
                .ok_or_else(|| StoreError::Corrupt(format!("bad access code {pk}")))?,
            name: req_s(item, "name")?,
            description: req_s(item, "description")?,
            rules: string_list(item, "rules"),
            created_at: req_n(item, "created_at")?,
            expires_at: req_n(item, "expires_at")?,
        })
    }

    pub fn is_expired(&self, now_secs: i64) -> bool {
        now_secs >= self.expires_at
    }
}

/// Someone waiting in a group's lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyEntry {
    pub connection_id: String,
    pub name: String,
    /// Identifies this stay in the lobby; every claim is conditioned on it.
    pub ticket: String,
    /// The previous partner to avoid, until `avoid_until` (epoch ms).
    pub avoid: Option<String>,
    pub avoid_until: i64,
    /// When the wait began (epoch ms).
    pub since: i64,
    /// Epoch seconds; the connection's own expiry.
    pub expires_at: i64,
}

impl LobbyEntry {
    pub fn sort_key(connection_id: &str) -> String {
        format!("{WAIT_PREFIX}{connection_id}")
    }

    pub fn to_item(&self, code: &AccessCode) -> Item {
        let mut item = Item::from([
            ("pk".into(), s(code.as_str())),
            ("sk".into(), s(Self::sort_key(&self.connection_id))),
            ("connection_id".into(), s(&self.connection_id)),
            ("name".into(), s(&self.name)),
            ("ticket".into(), s(&self.ticket)),
            ("avoid_until".into(), n(self.avoid_until)),
            ("since".into(), n(self.since)),
            ("expires_at".into(), n(self.expires_at)),
        ]);
        if let Some(avoid) = &self.avoid {
            item.insert("avoid".into(), s(avoid));
        }
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            connection_id: req_s(item, "connection_id")?,
            name: req_s(item, "name")?,
            ticket: req_s(item, "ticket")?,
            avoid: opt_s(item, "avoid"),
            avoid_until: opt_n(item, "avoid_until").unwrap_or(0),
            since: req_n(item, "since")?,
            expires_at: req_n(item, "expires_at")?,
        })
    }
}

/// Where a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Connected, in no lobby and no room.
    Idle,
    Waiting {
        group: String,
        ticket: String,
    },
    Paired(Room),
}

/// A connection's side of a room. The partner's record mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub group: String,
    pub room: String,
    /// This member's opaque per-room id.
    pub pid: String,
    pub partner: String,
    pub partner_name: String,
    pub partner_pid: String,
}

/// One WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    /// Epoch ms.
    pub connected_at: i64,
    /// Epoch seconds; the TTL attribute.
    pub expires_at: i64,
    /// The display name given at the last join.
    pub name: Option<String>,
    pub state: ConnState,
    pub last_partner: Option<String>,
    /// Epoch ms until which `last_partner` is avoided.
    pub avoid_until: i64,
}

impl Connection {
    pub fn new(connection_id: &str, connected_at_ms: i64, expires_at: i64) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            connected_at: connected_at_ms,
            expires_at,
            name: None,
            state: ConnState::Idle,
            last_partner: None,
            avoid_until: 0,
        }
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::from([
            ("connection_id".into(), s(&self.connection_id)),
            ("connected_at".into(), n(self.connected_at)),
            ("expires_at".into(), n(self.expires_at)),
            ("avoid_until".into(), n(self.avoid_until)),
        ]);
        if let Some(name) = &self.name {
            item.insert("name".into(), s(name));
        }
        if let Some(p) = &self.last_partner {
            item.insert("last_partner".into(), s(p));
        }
        match &self.state {
            ConnState::Idle => {
                item.insert("state".into(), s(IDLE));
            }
            ConnState::Waiting { group, ticket } => {
                item.insert("state".into(), s(WAITING));
                item.insert("grp".into(), s(group));
                item.insert("ticket".into(), s(ticket));
            }
            ConnState::Paired(r) => {
                item.insert("state".into(), s(PAIRED));
                item.insert("grp".into(), s(&r.group));
                item.insert("room".into(), s(&r.room));
                item.insert("pid".into(), s(&r.pid));
                item.insert("partner".into(), s(&r.partner));
                item.insert("partner_name".into(), s(&r.partner_name));
                item.insert("partner_pid".into(), s(&r.partner_pid));
            }
        }
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let state = match req_s(item, "state")?.as_str() {
            IDLE => ConnState::Idle,
            WAITING => ConnState::Waiting {
                group: req_s(item, "grp")?,
                ticket: req_s(item, "ticket")?,
            },
            PAIRED => ConnState::Paired(Room {
                group: req_s(item, "grp")?,
                room: req_s(item, "room")?,
                pid: req_s(item, "pid")?,
                partner: req_s(item, "partner")?,
                partner_name: req_s(item, "partner_name")?,
                partner_pid: req_s(item, "partner_pid")?,
            }),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown connection state {other}"
                )));
            }
        };
        Ok(Self {
            connection_id: req_s(item, "connection_id")?,
            connected_at: req_n(item, "connected_at")?,
            expires_at: req_n(item, "expires_at")?,
            name: opt_s(item, "name"),
            state,
            last_partner: opt_s(item, "last_partner"),
            avoid_until: opt_n(item, "avoid_until").unwrap_or(0),
        })
    }

    pub fn is_expired(&self, now_secs: i64) -> bool {
        now_secs >= self.expires_at
    }

    pub fn room(&self) -> Option<&Room> {
        match &self.state {
            ConnState::Paired(r) => Some(r),
            _ => None,
        }
    }
}

/// Random opaque ids (room ids, participant ids, tickets).
pub fn random_id(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_items() {
        let code = AccessCode::generate();
        let g = Group {
            code: code.clone(),
            name: "n".into(),
            description: "d".into(),
            rules: vec!["r1".into(), "r2".into()],
            created_at: 10,
            expires_at: 20,
        };
        assert_eq!(Group::from_item(&g.to_item()), Ok(g));
        let e = LobbyEntry {
            connection_id: "c".into(),
            name: "Ann".into(),
            ticket: "t".into(),
            avoid: Some("x".into()),
            avoid_until: 5,
            since: 1,
            expires_at: 9,
        };
        assert_eq!(LobbyEntry::from_item(&e.to_item(&code)), Ok(e));
        let mut c = Connection::new("c", 1, 2);
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c.clone()));
        c.state = ConnState::Paired(Room {
            group: code.as_str().into(),
            room: "r".into(),
            pid: "p".into(),
            partner: "d".into(),
            partner_name: "Bob".into(),
            partner_pid: "q".into(),
        });
        c.last_partner = Some("z".into());
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c));
    }
}
