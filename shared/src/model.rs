//! The records Circle keeps and their DynamoDB item shapes (keys in
//! [`crate::keys`]). Every record carries an `expires_at` TTL no later than its
//! circle's, and every reader treats an expired record as absent.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::code::AccessCode;
use crate::keys;
use crate::store::attr::{b, n, opt_b, opt_n, opt_s, req_n, req_s, s, string_list, string_set};
use crate::store::{Item, StoreError};

/// Connection states.
pub const IDLE: &str = "idle";
pub const WAITING: &str = "waiting";
pub const PAIRED: &str = "paired";
/// A member whose socket dropped mid-chat: the seat is held for the grace period.
pub const AWAY: &str = "away";

/// A circle's timed rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundState {
    /// The current round (1, 2, ...); 0 before any round.
    pub number: u32,
    /// Round length in minutes.
    pub minutes: u32,
    /// When the current round ends (epoch ms).
    pub ends_at: i64,
    /// Whether rounds are running.
    pub active: bool,
}

/// A circle ("group"). Stored under its current access code, so a join finds it
/// with one read; `cid` is the identity that survives a new code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    pub code: AccessCode,
    pub cid: String,
    pub name: String,
    pub description: String,
    pub rules: Vec<String>,
    /// The organiser's own prompts; empty means the default set.
    pub prompts: Vec<String>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds; the TTL attribute.
    pub expires_at: i64,
    /// Keyed hash of the organiser key.
    pub organizer_hash: String,
    /// Lobby shards (fixed for the circle's life).
    pub shards: u32,
    /// Bumped by every change; conditions a copy under a new code.
    pub ver: i64,
    pub round: RoundState,
}

impl Circle {
    pub fn to_item(&self) -> Item {
        let mut item = keys::circle(self.code.as_str());
        item.extend([
            ("cid".into(), s(&self.cid)),
            ("name".into(), s(&self.name)),
            ("description".into(), s(&self.description)),
            ("rules".into(), list(&self.rules)),
            ("prompts".into(), list(&self.prompts)),
            ("created_at".into(), n(self.created_at)),
            ("expires_at".into(), n(self.expires_at)),
            ("okh".into(), s(&self.organizer_hash)),
            ("shards".into(), n(i64::from(self.shards))),
            ("ver".into(), n(self.ver)),
            ("rnd".into(), n(i64::from(self.round.number))),
            ("rmin".into(), n(i64::from(self.round.minutes))),
            ("rends".into(), n(self.round.ends_at)),
            ("ron".into(), b(self.round.active)),
        ]);
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let pk = req_s(item, "pk")?;
        let code = pk
            .strip_prefix(keys::CODE_PREFIX)
            .and_then(AccessCode::parse)
            .ok_or_else(|| StoreError::Corrupt(format!("bad circle key {pk}")))?;
        Ok(Self {
            code,
            cid: req_s(item, "cid")?,
            name: req_s(item, "name")?,
            description: req_s(item, "description")?,
            rules: string_list(item, "rules"),
            prompts: string_list(item, "prompts"),
            created_at: req_n(item, "created_at")?,
            expires_at: req_n(item, "expires_at")?,
            organizer_hash: req_s(item, "okh")?,
            shards: u32::try_from(opt_n(item, "shards").unwrap_or(1).clamp(1, 64)).unwrap_or(1),
            ver: opt_n(item, "ver").unwrap_or(0),
            round: RoundState {
                number: u32::try_from(opt_n(item, "rnd").unwrap_or(0)).unwrap_or(0),
                minutes: u32::try_from(opt_n(item, "rmin").unwrap_or(0)).unwrap_or(0),
                ends_at: opt_n(item, "rends").unwrap_or(0),
                active: opt_b(item, "ron").unwrap_or(false),
            },
        })
    }

    pub fn is_expired(&self, now_secs: i64) -> bool {
        now_secs >= self.expires_at
    }

    /// The round a room formed now belongs to, if rounds run.
    pub fn live_round(&self, now_ms: i64) -> Option<&RoundState> {
        (self.round.active && self.round.ends_at > now_ms).then_some(&self.round)
    }
}

fn list(items: &[String]) -> AttributeValue {
    AttributeValue::L(items.iter().map(s).collect())
}

/// Someone waiting in a circle's lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyEntry {
    pub conn: String,
    pub mid: String,
    pub name: String,
    /// This stay in the lobby; also the entry's sort key.
    pub ticket: String,
    pub shard: u32,
    /// The member just left, avoided until `avoid_until` (epoch ms).
    pub avoid: Option<String>,
    pub avoid_until: i64,
    /// Last heard from (epoch ms): the join, then each keep-alive.
    pub seen: i64,
    /// When the wait began (epoch ms).
    pub since: i64,
    /// No lobby-count notice before this (epoch ms).
    pub notice_after: i64,
    /// The lobby count this waiter was last told.
    pub told: i64,
    pub expires_at: i64,
    /// No member record when it entered: nothing for the matchmaker to read.
    pub fresh: bool,
}

impl LobbyEntry {
    pub fn to_item(&self, cid: &str) -> Item {
        let mut item = keys::entry(cid, self.shard, &self.ticket);
        item.extend([
            ("conn".into(), s(&self.conn)),
            ("mid".into(), s(&self.mid)),
            ("name".into(), s(&self.name)),
            ("avoid_until".into(), n(self.avoid_until)),
            ("seen".into(), n(self.seen)),
            ("since".into(), n(self.since)),
            ("nt".into(), n(self.notice_after)),
            ("told".into(), n(self.told)),
            ("expires_at".into(), n(self.expires_at)),
        ]);
        if let Some(a) = &self.avoid {
            item.insert("avoid".into(), s(a));
        }
        item.extend(self.fresh.then(|| ("fresh".to_owned(), b(true))));
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let pk = req_s(item, "pk")?;
        let sk = req_s(item, "sk")?;
        let shard = pk
            .rsplit('#')
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("bad lobby key {pk}")))?;
        Ok(Self {
            conn: req_s(item, "conn")?,
            mid: req_s(item, "mid")?,
            name: req_s(item, "name")?,
            ticket: sk
                .strip_prefix(keys::ENTRY_PREFIX)
                .ok_or_else(|| StoreError::Corrupt(format!("bad lobby entry {sk}")))?
                .to_owned(),
            shard,
            avoid: opt_s(item, "avoid"),
            avoid_until: opt_n(item, "avoid_until").unwrap_or(0),
            seen: req_n(item, "seen")?,
            since: req_n(item, "since")?,
            notice_after: opt_n(item, "nt").unwrap_or(0),
            told: opt_n(item, "told").unwrap_or(0),
            expires_at: req_n(item, "expires_at")?,
            fresh: opt_b(item, "fresh").unwrap_or(false),
        })
    }
}

/// A connection's side of a room. The partner's record mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub room: String,
    /// This member's opaque per-room id.
    pub pid: String,
    pub partner: String,
    pub partner_name: String,
    pub partner_pid: String,
    pub partner_mid: String,
    /// Keyed hash of this seat's resume token.
    pub resume_hash: String,
    pub prompt: String,
    /// The round the room belongs to (0: none).
    pub round: u32,
    /// When the round's room ends (epoch ms; 0: no end).
    pub ends_at: i64,
}

impl Room {
    /// Attribute names and values a record in this room carries.
    pub fn attrs(&self) -> [(&'static str, AttributeValue); 10] {
        [
            ("room", s(&self.room)),
            ("pid", s(&self.pid)),
            ("partner", s(&self.partner)),
            ("partner_name", s(&self.partner_name)),
            ("partner_pid", s(&self.partner_pid)),
            ("partner_mid", s(&self.partner_mid)),
            ("rh", s(&self.resume_hash)),
            ("prompt", s(&self.prompt)),
            ("rnd", n(i64::from(self.round))),
            ("ends_at", n(self.ends_at)),
        ]
    }

    /// Attributes a record leaves behind with its room.
    pub const ATTRS: [&'static str; 10] = [
        "room",
        "pid",
        "partner",
        "partner_name",
        "partner_pid",
        "partner_mid",
        "rh",
        "prompt",
        "rnd",
        "ends_at",
    ];

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            room: req_s(item, "room")?,
            pid: req_s(item, "pid")?,
            partner: req_s(item, "partner")?,
            partner_name: req_s(item, "partner_name")?,
            partner_pid: req_s(item, "partner_pid")?,
            partner_mid: opt_s(item, "partner_mid").unwrap_or_default(),
            resume_hash: opt_s(item, "rh").unwrap_or_default(),
            prompt: opt_s(item, "prompt").unwrap_or_default(),
            round: u32::try_from(opt_n(item, "rnd").unwrap_or(0)).unwrap_or(0),
            ends_at: opt_n(item, "ends_at").unwrap_or(0),
        })
    }
}

/// Where a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Connected, in no lobby and no room.
    Idle,
    Waiting {
        ticket: String,
        shard: u32,
    },
    /// In a room; `partner_away_until` > 0 while the partner's seat is held.
    Paired {
        room: Room,
        partner_away_until: i64,
    },
    /// The socket dropped mid-chat; the seat is held until `until` (epoch ms).
    Away {
        room: Room,
        until: i64,
    },
}

/// The room a connection was in last, for `block`/`report` after it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRoom {
    pub room: String,
    /// Until when it may still be blocked or reported (epoch ms).
    pub until: i64,
    pub partner_mid: String,
    pub partner_name: String,
}

/// One WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    /// Epoch ms.
    pub connected_at: i64,
    /// Epoch seconds; the TTL attribute (no later than its circle's).
    pub expires_at: i64,
    /// The display name given at the last join.
    pub name: Option<String>,
    /// The circle joined (its stable id), its code as joined, and the member.
    pub cid: Option<String>,
    pub code: Option<String>,
    pub mid: Option<String>,
    pub state: ConnState,
    /// The member just left, avoided until `avoid_until` (epoch ms).
    pub avoid: Option<String>,
    pub avoid_until: i64,
    pub last_room: Option<LastRoom>,
    /// Set while the client is over its rate limit (epoch ms).
    pub throttled_until: i64,
    /// The circle's expiry (epoch seconds; 0 before joining), for records made
    /// on its behalf (reports) that must die with it.
    pub circle_expires_at: i64,
}

impl Connection {
    pub fn new(connection_id: &str, connected_at_ms: i64, expires_at: i64) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            connected_at: connected_at_ms,
            expires_at,
            name: None,
            cid: None,
            code: None,
            mid: None,
            state: ConnState::Idle,
            avoid: None,
            avoid_until: 0,
            last_room: None,
            throttled_until: 0,
            circle_expires_at: 0,
        }
    }

    pub fn to_item(&self) -> Item {
        let mut item = keys::connection(&self.connection_id);
        item.extend([
            ("connected_at".into(), n(self.connected_at)),
            ("expires_at".into(), n(self.expires_at)),
            ("avoid_until".into(), n(self.avoid_until)),
        ]);
        let opt = [
            ("name", &self.name),
            ("cid", &self.cid),
            ("code", &self.code),
            ("mid", &self.mid),
            ("avoid", &self.avoid),
        ];
        for (k, v) in opt {
            if let Some(v) = v {
                item.insert(k.into(), s(v));
            }
        }
        if let Some(cid) = &self.cid {
            item.insert("ck".into(), s(keys::presence_key(cid, &self.connection_id)));
        }
        if self.circle_expires_at > 0 {
            item.insert("cexp".into(), n(self.circle_expires_at));
        }
        if self.throttled_until > 0 {
            item.insert("thr".into(), n(self.throttled_until));
        }
        if let Some(lr) = &self.last_room {
            item.extend([
                ("lr".into(), s(&lr.room)),
                ("lr_until".into(), n(lr.until)),
                ("lr_mid".into(), s(&lr.partner_mid)),
                ("lr_name".into(), s(&lr.partner_name)),
            ]);
        }
        let (state, room) = match &self.state {
            ConnState::Idle => (IDLE, None),
            ConnState::Waiting { ticket, shard } => {
                item.insert("ticket".into(), s(ticket));
                item.insert("shard".into(), n(i64::from(*shard)));
                (WAITING, None)
            }
            ConnState::Paired {
                room,
                partner_away_until,
            } => {
                if *partner_away_until > 0 {
                    item.insert("paway".into(), n(*partner_away_until));
                }
                (PAIRED, Some(room))
            }
            ConnState::Away { room, until } => {
                item.insert("away_until".into(), n(*until));
                (AWAY, Some(room))
            }
        };
        item.insert("state".into(), s(state));
        if let Some(room) = room {
            item.extend(room.attrs().map(|(k, v)| (k.to_owned(), v)));
        }
        item
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let state = match req_s(item, "state")?.as_str() {
            IDLE => ConnState::Idle,
            WAITING => ConnState::Waiting {
                ticket: req_s(item, "ticket")?,
                shard: u32::try_from(opt_n(item, "shard").unwrap_or(0)).unwrap_or(0),
            },
            PAIRED => ConnState::Paired {
                room: Room::from_item(item)?,
                partner_away_until: opt_n(item, "paway").unwrap_or(0),
            },
            AWAY => ConnState::Away {
                room: Room::from_item(item)?,
                until: req_n(item, "away_until")?,
            },
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown connection state {other}"
                )));
            }
        };
        let last_room = match (opt_s(item, "lr"), opt_n(item, "lr_until")) {
            (Some(room), Some(until)) => Some(LastRoom {
                room,
                until,
                partner_mid: opt_s(item, "lr_mid").unwrap_or_default(),
                partner_name: opt_s(item, "lr_name").unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Self {
            connection_id: req_s(item, "connection_id")?,
            connected_at: req_n(item, "connected_at")?,
            expires_at: req_n(item, "expires_at")?,
            name: opt_s(item, "name"),
            cid: opt_s(item, "cid"),
            code: opt_s(item, "code"),
            mid: opt_s(item, "mid"),
            state,
            avoid: opt_s(item, "avoid"),
            avoid_until: opt_n(item, "avoid_until").unwrap_or(0),
            last_room,
            throttled_until: opt_n(item, "thr").unwrap_or(0),
            circle_expires_at: opt_n(item, "cexp").unwrap_or(0),
        })
    }

    pub fn is_expired(&self, now_secs: i64) -> bool {
        now_secs >= self.expires_at
    }

    /// The room, while paired.
    pub fn room(&self) -> Option<&Room> {
        match &self.state {
            ConnState::Paired { room, .. } => Some(room),
            _ => None,
        }
    }
}

/// A member of a circle: who they met and when, whom they blocked (both ways),
/// whether the organiser removed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    pub mid: String,
    /// (member id, epoch seconds) in the order met; the same member may recur.
    pub met: Vec<(String, i64)>,
    /// Members this one must never be paired with (a block either way).
    pub blocked: BTreeSet<String>,
    pub removed: bool,
    /// The connection it last joined with.
    pub conn: Option<String>,
    pub expires_at: i64,
}

impl Member {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let met = string_list(item, "met")
            .into_iter()
            .filter_map(|e| {
                let (mid, at) = e.split_once(':')?;
                Some((mid.to_owned(), at.parse().ok()?))
            })
            .collect();
        Ok(Self {
            mid: req_s(item, "sk")?,
            met,
            blocked: string_set(item, "blocked"),
            removed: opt_b(item, "removed").unwrap_or(false),
            conn: opt_s(item, "conn"),
            expires_at: req_n(item, "expires_at")?,
        })
    }

    /// When this member last met `other` (epoch seconds), if ever.
    pub fn last_met(&self, other: &str) -> Option<i64> {
        self.met
            .iter()
            .filter(|(m, _)| m == other)
            .map(|(_, at)| *at)
            .max()
    }

    /// A `met` list element.
    pub fn met_entry(mid: &str, at_secs: i64) -> String {
        format!("{mid}:{at_secs}")
    }
}

/// Random opaque ids (room ids, participant ids, tickets, circle ids).
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

    fn room() -> Room {
        Room {
            room: "r".into(),
            pid: "p".into(),
            partner: "d".into(),
            partner_name: "Bob".into(),
            partner_pid: "q".into(),
            partner_mid: "m2".into(),
            resume_hash: "h".into(),
            prompt: "hi?".into(),
            round: 2,
            ends_at: 99,
        }
    }

    #[test]
    fn records_round_trip_through_items() {
        let c = Circle {
            code: AccessCode::generate(),
            cid: "cid".into(),
            name: "n".into(),
            description: "d".into(),
            rules: vec!["r1".into()],
            prompts: vec![],
            created_at: 10,
            expires_at: 20,
            organizer_hash: "h".into(),
            shards: 2,
            ver: 3,
            round: RoundState {
                number: 1,
                minutes: 5,
                ends_at: 7,
                active: true,
            },
        };
        assert_eq!(Circle::from_item(&c.to_item()), Ok(c));
        let e = LobbyEntry {
            conn: "c".into(),
            mid: "m".into(),
            name: "Ann".into(),
            ticket: "t".into(),
            shard: 3,
            avoid: Some("x".into()),
            avoid_until: 5,
            seen: 4,
            since: 1,
            notice_after: 6,
            told: 2,
            expires_at: 9,
            fresh: true,
        };
        assert_eq!(LobbyEntry::from_item(&e.to_item("cid")), Ok(e));
        let mut c = Connection::new("c", 1, 2);
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c.clone()));
        c.cid = Some("cid".into());
        c.mid = Some("m".into());
        c.state = ConnState::Paired {
            room: room(),
            partner_away_until: 8,
        };
        c.last_room = Some(LastRoom {
            room: "old".into(),
            until: 4,
            partner_mid: "m3".into(),
            partner_name: "Cy".into(),
        });
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c.clone()));
        c.state = ConnState::Away {
            room: room(),
            until: 5,
        };
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c));
    }
}
