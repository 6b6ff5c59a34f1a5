//! A circle: its settings, code, organiser key hash, round and counters.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::code::AccessCode;
use crate::db::attr::{b, n, opt_b, opt_n, opt_s, req_n, req_s, s, string_list};
use crate::db::keys;
use crate::db::{Item, StoreError};

use super::{LabelMode, Labels};

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
    /// The current access code (the item's partition key).
    pub code: AccessCode,
    /// The stable id: survives a new code (`id` in the HTTP API).
    pub cid: String,
    /// The circle's name, 1 to 80 characters.
    pub name: String,
    /// The circle's description, 1 to 500 characters.
    pub description: String,
    /// The organiser's rules, shown to members in the lobby.
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
    /// The timed rounds (`rnd`, `rmin`, `rends`, `ron`).
    pub round: RoundState,
    /// Listed (`GET /groups` shows it): its sort key in the `listed` index
    /// (`lt`, from [`keys::listing_key`]); `None`, the default: unlisted, and
    /// the item has no index keys at all.
    pub listing: Option<String>,
    /// Its labels and label mode (`labels`, `lmode`; absent when it has none).
    pub labels: Labels,
}

impl Circle {
    /// The item under `CODE#{code}` / `CIRCLE`, with the short attribute names.
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
        if !self.labels.names.is_empty() {
            item.extend([
                ("labels".into(), list(&self.labels.names)),
                ("lmode".into(), s(self.labels.mode.as_str())),
            ]);
        }
        if let Some(listing) = &self.listing {
            item.extend([("lk".into(), s(keys::LISTED)), ("lt".into(), s(listing))]);
        }
        item
    }

    /// Reads a circle item; the code comes from its `pk`.
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let pk = req_s(item, "pk")?;
        let code = pk
            .strip_prefix(keys::CODE_PREFIX)
            .and_then(AccessCode::parse)
            // Never the key itself in the error: it holds the access code.
            .ok_or_else(|| StoreError::Corrupt("bad circle key".to_owned()))?;
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
            listing: opt_s(item, "lt"),
            labels: Labels {
                names: string_list(item, "labels"),
                mode: opt_s(item, "lmode")
                    .and_then(|m| LabelMode::parse(&m))
                    .unwrap_or_default(),
            },
        })
    }

    /// Whether it has expired at `now_secs` (epoch seconds).
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
