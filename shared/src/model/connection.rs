//! A connection record: its state (idle, waiting, paired, away), the room it
//! is in, and the rooms it left lately.

use aws_sdk_dynamodb::types::AttributeValue;

use super::recent::RecentRoom;
use super::{AWAY, IDLE, PAIRED, WAITING};
use crate::db::attr::{n, opt_n, opt_s, req_n, req_s, s};
use crate::db::keys;
use crate::db::{Item, StoreError};

/// A connection's side of a room. The partner's record mirrors it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room id.
    pub room: String,
    /// This member's opaque per-room id.
    pub pid: String,
    /// The partner's connection id.
    pub partner: String,
    /// The partner's display name.
    pub partner_name: String,
    /// The partner's per-room id (`match.id`).
    pub partner_pid: String,
    /// The partner's member id, which a block or report names (empty if unknown).
    pub partner_mid: String,
    /// Keyed hash of this seat's resume token.
    pub resume_hash: String,
    /// The room's icebreaker, the same for both.
    pub prompt: String,
    /// The round the room belongs to (0: none).
    pub round: u32,
    /// When the round's room ends (epoch ms; 0: no end).
    pub ends_at: i64,
}

impl Room {
    /// The one table of the attributes a connection record carries while in a
    /// room: its name and its expression placeholder. Setting them
    /// ([`Room::set_clause`]), removing them ([`Room::remove_clause`]) and the
    /// values ([`Room::values`]) all follow this order.
    pub const ATTRS: [(&'static str, &'static str); 10] = [
        ("room", ":room"),
        ("pid", ":pid"),
        ("partner", ":partner"),
        ("partner_name", ":partner_name"),
        ("partner_pid", ":partner_pid"),
        ("partner_mid", ":partner_mid"),
        ("rh", ":rh"),
        ("prompt", ":prompt"),
        ("rnd", ":rnd"),
        ("ends_at", ":ends_at"),
    ];

    /// Each attribute's placeholder and value, in [`Room::ATTRS`]' order.
    pub fn values(&self) -> Vec<(&'static str, AttributeValue)> {
        let values = [
            s(&self.room),
            s(&self.pid),
            s(&self.partner),
            s(&self.partner_name),
            s(&self.partner_pid),
            s(&self.partner_mid),
            s(&self.resume_hash),
            s(&self.prompt),
            n(i64::from(self.round)),
            n(self.ends_at),
        ];
        Self::ATTRS.iter().map(|(_, p)| *p).zip(values).collect()
    }

    /// `#room = :room, #pid = :pid, …` for an update's `SET`.
    pub fn set_clause() -> String {
        Self::ATTRS
            .iter()
            .map(|(a, p)| format!("#{a} = {p}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `#room, #pid, …` for an update's `REMOVE`.
    pub fn remove_clause() -> String {
        Self::ATTRS
            .iter()
            .map(|(a, _)| format!("#{a}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

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
    /// In the lobby, under the entry `W#{ticket}` of lobby shard `shard`.
    Waiting {
        /// This stay in the lobby: the entry's sort key without `W#`.
        ticket: String,
        /// The lobby shard holding the entry.
        shard: u32,
    },
    /// In a room; `partner_away_until` > 0 while the partner's seat is held.
    Paired {
        /// This side of the room.
        room: Room,
        /// Until when the partner's seat is held (epoch ms; 0: the partner is here).
        partner_away_until: i64,
    },
    /// The socket dropped mid-chat; the seat is held until `until` (epoch ms).
    Away {
        /// The room whose seat is held.
        room: Room,
        /// When the hold runs out (epoch ms).
        until: i64,
    },
}

/// One WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// API Gateway's connection id: the table's hash key.
    pub connection_id: String,
    /// Epoch ms.
    pub connected_at: i64,
    /// Epoch seconds; the TTL attribute (no later than its circle's).
    pub expires_at: i64,
    /// The display name given at the last join.
    pub name: Option<String>,
    /// The stable id of the circle joined.
    pub cid: Option<String>,
    /// The access code it joined with (maybe one since replaced).
    pub code: Option<String>,
    /// The member id it joined as (keyed hash of its `member` secret).
    pub mid: Option<String>,
    /// Idle, waiting, paired or away (`state`, with each state's attributes).
    pub state: ConnState,
    /// The member just left, avoided until `avoid_until` (epoch ms).
    pub avoid: Option<String>,
    /// When `avoid` stops being avoided (epoch ms).
    pub avoid_until: i64,
    /// The rooms it left lately, newest first (slots `r0` … `r4`; some may be
    /// past their `until`): what `pairing/recent.rs` reads.
    pub recent: Vec<RecentRoom>,
    /// Set while the client is over its rate limit (epoch ms).
    pub throttled_until: i64,
    /// The circle's expiry (epoch seconds; 0 before joining), for records made
    /// on its behalf (reports) that must die with it.
    pub circle_expires_at: i64,
    /// The label chosen at the last join into a circle with labels.
    pub label: Option<String>,
    /// `sit_out` is on (`sit`): left out of rounds and of lobby pairing until
    /// turned off. The organiser's roster shows it as `sitting_out`.
    pub sitting_out: bool,
}

impl Connection {
    /// A fresh `idle` record, as `$connect` stores it; `connected_at_ms` is in epoch
    /// ms, `expires_at` in epoch seconds.
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
            recent: Vec::new(),
            throttled_until: 0,
            circle_expires_at: 0,
            label: None,
            sitting_out: false,
        }
    }

    /// The item, keyed by `connection_id`, with the short attribute names (`ck`, `thr`, ...).
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
            ("label", &self.label),
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
        if self.sitting_out {
            item.insert("sit".into(), n(1));
        }
        super::recent::write_slots(&mut item, &self.recent);
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
            let names = Room::ATTRS.iter().map(|(a, _)| (*a).to_owned());
            item.extend(names.zip(room.values().into_iter().map(|(_, v)| v)));
        }
        item
    }

    /// Reads a connection item; an unknown `state` is [`StoreError::Corrupt`].
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
            recent: super::recent::read_slots(item),
            throttled_until: opt_n(item, "thr").unwrap_or(0),
            circle_expires_at: opt_n(item, "cexp").unwrap_or(0),
            label: opt_s(item, "label"),
            sitting_out: opt_n(item, "sit").is_some_and(|v| v > 0),
        })
    }

    /// Whether it has expired at `now_secs` (epoch seconds).
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
