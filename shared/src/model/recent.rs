//! A connection's recent rooms: the rooms it left lately, newest first, kept
//! on its record for `block`, `report`, `feedback` and `keep_in_touch` after
//! they ended. They live in a fixed shift register of [`RECENT_SLOTS`] map
//! attributes (`r0` the newest … `r4`), so an update that ends a room pushes
//! one in without reading the record, and the oldest falls out: the record
//! never grows. Readers skip entries past their `until`.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::db::Item;
use crate::db::attr::{n, opt_n, opt_s, s};

/// How many ended rooms a record keeps (slots `r0` … `r4`).
pub const RECENT_SLOTS: usize = 5;

/// The attribute name of slot `i` (`r0` is the newest).
pub fn slot_name(i: usize) -> String {
    format!("r{i}")
}

/// One room a connection was in, as its record keeps it once it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRoom {
    /// The room id.
    pub room: String,
    /// This connection's per-room id in it (its side of the room).
    pub pid: String,
    /// The partner's member id, which a block or report names (empty if unknown).
    pub partner_mid: String,
    /// The partner's display name.
    pub partner_name: String,
    /// The partner's connection id when the room ended.
    pub partner_conn: String,
    /// The round the room belonged to (0: none).
    pub round: u32,
    /// Until when it may still be acted on (epoch ms): 10 minutes after it ended.
    pub until: i64,
}

impl RecentRoom {
    /// The entry as a map attribute value.
    pub fn to_value(&self) -> AttributeValue {
        AttributeValue::M(Item::from([
            ("rm".into(), s(&self.room)),
            ("p".into(), s(&self.pid)),
            ("m".into(), s(&self.partner_mid)),
            ("n".into(), s(&self.partner_name)),
            ("c".into(), s(&self.partner_conn)),
            ("rnd".into(), n(i64::from(self.round))),
            ("u".into(), n(self.until)),
        ]))
    }

    /// Reads an entry; anything else (an empty slot is `NULL`) is `None`.
    pub fn from_value(v: &AttributeValue) -> Option<Self> {
        let AttributeValue::M(m) = v else {
            return None;
        };
        Some(Self {
            room: opt_s(m, "rm")?,
            pid: opt_s(m, "p").unwrap_or_default(),
            partner_mid: opt_s(m, "m").unwrap_or_default(),
            partner_name: opt_s(m, "n").unwrap_or_default(),
            partner_conn: opt_s(m, "c").unwrap_or_default(),
            round: u32::try_from(opt_n(m, "rnd").unwrap_or(0)).unwrap_or(0),
            until: opt_n(m, "u")?,
        })
    }

    /// When the room ended (epoch ms), given the window it is kept for.
    pub fn ended_at(&self, window_ms: i64) -> i64 {
        self.until - window_ms
    }
}

/// The entries stored in an item's slots, newest first.
pub fn read_slots(item: &Item) -> Vec<RecentRoom> {
    (0..RECENT_SLOTS)
        .filter_map(|i| item.get(&slot_name(i)).and_then(RecentRoom::from_value))
        .collect()
}

/// Writes `entries` (newest first, at most [`RECENT_SLOTS`]) into an item's slots.
pub fn write_slots(item: &mut Item, entries: &[RecentRoom]) {
    for (i, e) in entries.iter().take(RECENT_SLOTS).enumerate() {
        item.insert(slot_name(i), e.to_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_skip_empty_slots() {
        let e = RecentRoom {
            room: "r".into(),
            pid: "p".into(),
            partner_mid: "m".into(),
            partner_name: "Bo".into(),
            partner_conn: "c".into(),
            round: 3,
            until: 9,
        };
        let mut item = Item::new();
        write_slots(&mut item, std::slice::from_ref(&e));
        item.insert(slot_name(1), AttributeValue::Null(true));
        assert_eq!(read_slots(&item), vec![e]);
    }
}
