//! A member record: a member's history (whom it met, when) and blocks.

use std::collections::BTreeSet;

use crate::db::attr::{opt_b, opt_s, req_n, req_s, string_list, string_set};
use crate::db::{Item, StoreError};

/// A member of a circle: who they met and when, whom they blocked (both ways),
/// whether the organiser removed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// The member id (keyed hash of the member secret): the item's sort key.
    pub mid: String,
    /// (member id, epoch seconds) in the order met; the same member may recur.
    pub met: Vec<(String, i64)>,
    /// Members this one must never be paired with (a block either way).
    pub blocked: BTreeSet<String>,
    /// The organiser removed it: it can't join again.
    pub removed: bool,
    /// The connection it last joined with.
    pub conn: Option<String>,
    /// Epoch seconds; the TTL attribute.
    pub expires_at: i64,
}

impl Member {
    /// Reads a member item; `met` elements that don't parse are skipped.
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
