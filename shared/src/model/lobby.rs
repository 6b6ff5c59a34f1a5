//! A lobby entry: someone waiting in a circle's lobby.

use crate::db::attr::{b, n, opt_b, opt_n, opt_s, req_n, req_s, s};
use crate::db::keys;
use crate::db::{Item, StoreError};

/// Someone waiting in a circle's lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyEntry {
    /// The waiter's connection id.
    pub conn: String,
    /// The waiter's member id.
    pub mid: String,
    /// The waiter's display name.
    pub name: String,
    /// This stay in the lobby; also the entry's sort key.
    pub ticket: String,
    /// The lobby shard it is in (its partition `L#{cid}#{shard}`).
    pub shard: u32,
    /// The member just left, avoided until `avoid_until` (epoch ms).
    pub avoid: Option<String>,
    /// When `avoid` stops being avoided (epoch ms).
    pub avoid_until: i64,
    /// Last heard from (epoch ms): the join, then each keep-alive.
    pub seen: i64,
    /// When the wait began (epoch ms).
    pub since: i64,
    /// No lobby-count notice before this (epoch ms).
    pub notice_after: i64,
    /// The lobby count this waiter was last told.
    pub told: i64,
    /// Epoch seconds; the TTL attribute (the waiter's connection's, never past the circle's).
    pub expires_at: i64,
    /// No member record when it entered: nothing for the matchmaker to read.
    pub fresh: bool,
    /// The label it chose, when the circle has labels.
    pub label: Option<String>,
}

impl LobbyEntry {
    /// The item under `L#{cid}#{shard}` / `W#{ticket}`.
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
        if let Some(l) = &self.label {
            item.insert("label".into(), s(l));
        }
        item.extend(self.fresh.then(|| ("fresh".to_owned(), b(true))));
        item
    }

    /// Reads an entry item; the shard and the ticket come from its keys.
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
            label: opt_s(item, "label"),
        })
    }
}
