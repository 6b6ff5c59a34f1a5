//! A connection's recent rooms: its current room and the rooms it left in the
//! last 10 minutes, at most five in all, newest first. `block`, `report`,
//! `feedback` and `keep_in_touch` name one of them ([`find`]).
//!
//! The ended rooms live on the connection record in a shift register of five
//! map attributes (`r0` newest … `r4`; [`crate::model::RecentRoom`]). The
//! update that ends a room (the one that turns the record idle) pushes the
//! room in with [`PUSH`]: every slot moves down one and the oldest falls out,
//! in that same request, without reading the record first (the partner's side
//! is ended by the other member, who never read it). So the record stays
//! bounded, and ending a room costs no extra request. A resume carries the
//! entries over to the new connection ([`carry`]).

use aws_sdk_dynamodb::types::AttributeValue;

use crate::app::App;
use crate::model::{ConnState, Connection, RECENT_SLOTS, RecentRoom, Room, slot_name};

/// The current room counts as one of the five.
pub const MAX_RECENT: usize = RECENT_SLOTS;

/// One room a connection may still act on, found by [`find`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recent {
    /// The room id.
    pub room: String,
    /// This connection's per-room id (its side of the room).
    pub pid: String,
    /// The partner's member id (empty if unknown).
    pub partner_mid: String,
    /// The partner's display name.
    pub partner_name: String,
    /// The partner's connection id (as last known).
    pub partner_conn: String,
    /// The circle's id.
    pub cid: String,
    /// The round it belonged to (`None`: no round).
    pub round: Option<u32>,
    /// `None` while it is the current room; else until when it may be acted
    /// on (epoch ms).
    pub until: Option<i64>,
}

impl Recent {
    /// Whether it is the room the connection is in now.
    pub fn is_current(&self) -> bool {
        self.until.is_none()
    }

    fn current(cid: &str, r: &Room) -> Self {
        Self {
            room: r.room.clone(),
            pid: r.pid.clone(),
            partner_mid: r.partner_mid.clone(),
            partner_name: r.partner_name.clone(),
            partner_conn: r.partner.clone(),
            cid: cid.to_owned(),
            round: (r.round > 0).then_some(r.round),
            until: None,
        }
    }

    fn ended(cid: &str, e: &RecentRoom) -> Self {
        Self {
            room: e.room.clone(),
            pid: e.pid.clone(),
            partner_mid: e.partner_mid.clone(),
            partner_name: e.partner_name.clone(),
            partner_conn: e.partner_conn.clone(),
            cid: cid.to_owned(),
            round: (e.round > 0).then_some(e.round),
            until: Some(e.until),
        }
    }
}

/// The rooms `conn` may still act on at `now_ms`: the current room first (if
/// paired), then the ended ones still within their 10 minutes, newest first;
/// at most [`MAX_RECENT`] in all.
pub fn list(conn: &Connection, now_ms: i64) -> Vec<Recent> {
    let Some(cid) = conn.cid.as_deref() else {
        return Vec::new();
    };
    let current = match &conn.state {
        ConnState::Paired { room, .. } => Some(Recent::current(cid, room)),
        _ => None,
    };
    current
        .into_iter()
        .chain(
            conn.recent
                .iter()
                .filter(|e| e.until > now_ms)
                .map(|e| Recent::ended(cid, e)),
        )
        .take(MAX_RECENT)
        .collect()
}

/// The room `room` among `conn`'s recent rooms at `now_ms` ([`list`]).
pub fn find(conn: &Connection, room: &str, now_ms: i64) -> Option<Recent> {
    list(conn, now_ms).into_iter().find(|r| r.room == room)
}

/// The `SET` actions that push `:recent_new` into slot `r0`, moving every
/// slot down one (the oldest falls out). Each operand is read before the
/// update, so the slots shift rather than smear.
pub static PUSH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut parts: Vec<String> = (1..RECENT_SLOTS)
        .rev()
        .map(|i| {
            let (to, from) = (slot_name(i), slot_name(i - 1));
            format!("#{to} = if_not_exists(#{from}, :recent_nil)")
        })
        .collect();
    parts.push(format!("#{} = :recent_new", slot_name(0)));
    parts.join(", ")
});

/// The values [`PUSH`] uses, for `entry`.
pub fn push_values(entry: &RecentRoom) -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":recent_new", entry.to_value()),
        (":recent_nil", AttributeValue::Null(true)),
    ]
}

/// The entry our own record gets when room `r` ends.
pub(crate) fn mine(app: &App, r: &Room) -> RecentRoom {
    RecentRoom {
        room: r.room.clone(),
        pid: r.pid.clone(),
        partner_mid: r.partner_mid.clone(),
        partner_name: r.partner_name.clone(),
        partner_conn: r.partner.clone(),
        round: r.round,
        until: until(app),
    }
}

/// The entry the partner's record gets when room `r` (our side of it) ends.
pub(crate) fn theirs(app: &App, me: &Connection, r: &Room) -> RecentRoom {
    RecentRoom {
        room: r.room.clone(),
        pid: r.partner_pid.clone(),
        partner_mid: me.mid.clone().unwrap_or_default(),
        partner_name: me
            .name
            .clone()
            .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
        partner_conn: me.connection_id.clone(),
        round: r.round,
        until: until(app),
    }
}

fn until(app: &App) -> i64 {
    app.now_ms() + App::ms(app.settings.last_room_window)
}

/// A resume: the new connection keeps the rooms the old one left (and its
/// own, if it had any), newest first, at most [`RECENT_SLOTS`], as `SET`
/// actions and their values for the update that pairs it.
pub(crate) fn carry(
    old: &Connection,
    new: &Connection,
    now_ms: i64,
) -> (String, Vec<(&'static str, AttributeValue)>) {
    const VALUES: [&str; RECENT_SLOTS] = [":carry0", ":carry1", ":carry2", ":carry3", ":carry4"];
    let mut all: Vec<&RecentRoom> = old
        .recent
        .iter()
        .chain(&new.recent)
        .filter(|e| e.until > now_ms)
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.until));
    all.dedup_by(|a, b| a.room == b.room);
    let mut set = Vec::new();
    let mut values = Vec::new();
    for (i, value) in VALUES.iter().enumerate() {
        set.push(format!("#{} = {value}", slot_name(i)));
        values.push((
            *value,
            all.get(i)
                .map_or(AttributeValue::Null(true), |e| e.to_value()),
        ));
    }
    (set.join(", "), values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(room: &str, until: i64) -> RecentRoom {
        RecentRoom {
            room: room.into(),
            pid: "p".into(),
            partner_mid: "m".into(),
            partner_name: "Bo".into(),
            partner_conn: "c".into(),
            round: 0,
            until,
        }
    }

    #[test]
    fn lists_the_current_room_first_and_skips_the_expired() {
        let mut c = Connection::new("me", 0, 10);
        c.cid = Some("cid".into());
        c.recent = vec![entry("a", 100), entry("b", 50), entry("c", 200)];
        let rooms: Vec<_> = list(&c, 60).into_iter().map(|r| r.room).collect();
        assert_eq!(rooms, ["a", "c"]);
        assert!(find(&c, "b", 60).is_none());
        assert_eq!(find(&c, "a", 60).and_then(|r| r.until), Some(100));
        c.recent = (0..5).map(|i| entry(&format!("e{i}"), 100)).collect();
        c.state = ConnState::Paired {
            room: Room {
                room: "now".into(),
                pid: "p".into(),
                partner: "x".into(),
                partner_name: "X".into(),
                partner_pid: "q".into(),
                partner_mid: "mx".into(),
                resume_hash: String::new(),
                prompt: String::new(),
                round: 0,
                ends_at: 0,
            },
            partner_away_until: 0,
        };
        let all = list(&c, 0);
        assert_eq!(all.len(), MAX_RECENT);
        assert!(all[0].is_current());
        assert!(
            find(&c, "e4", 0).is_none(),
            "the current room counts as one of five"
        );
    }

    #[test]
    fn push_shifts_every_slot() {
        assert_eq!(
            PUSH.as_str(),
            "#r4 = if_not_exists(#r3, :recent_nil), #r3 = if_not_exists(#r2, :recent_nil), \
             #r2 = if_not_exists(#r1, :recent_nil), #r1 = if_not_exists(#r0, :recent_nil), \
             #r0 = :recent_new"
        );
    }
}
