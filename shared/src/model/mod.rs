//! The records Circle keeps and their DynamoDB item shapes (keys in
//! [`crate::db::keys`]). Every record carries an `expires_at` TTL no later than its
//! circle's, and every reader treats an expired record as absent.
//!
//! `circle.rs` (the circle and its round), `lobby.rs` (a lobby entry),
//! `connection.rs` (a connection, its state and its room), `recent.rs` (the
//! rooms it left lately), `member.rs` (a member's history and blocks).

mod circle;
mod connection;
mod labels;
mod lobby;
mod member;
mod recent;

pub use circle::{Circle, RoundState};
pub use connection::{ConnState, Connection, Room};
pub use labels::{LabelMode, Labels, MAX_LABEL, MAX_LABELS};
pub use lobby::LobbyEntry;
pub use member::Member;
pub use recent::{RECENT_SLOTS, RecentRoom, slot_name};

/// Connection state `idle`: connected, in no lobby and no room.
pub const IDLE: &str = "idle";
/// Connection state `waiting`: in the lobby, under a lobby entry.
pub const WAITING: &str = "waiting";
/// Connection state `paired`: in a room.
pub const PAIRED: &str = "paired";
/// Connection state `away`: the socket dropped mid-chat and the seat is held for the
/// grace period.
pub const AWAY: &str = "away";

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
    use crate::code::AccessCode;

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
            listing: None,
            labels: Labels::default(),
        };
        assert_eq!(Circle::from_item(&c.to_item()), Ok(c.clone()));
        let labelled = Circle {
            labels: Labels {
                names: vec!["a".into(), "b".into()],
                mode: LabelMode::Within,
            },
            ..c.clone()
        };
        assert_eq!(Circle::from_item(&labelled.to_item()), Ok(labelled));
        let listed = Circle {
            listing: Some("0000000020.abc".into()),
            ..c
        };
        assert_eq!(Circle::from_item(&listed.to_item()), Ok(listed));
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
            label: Some("mentor".into()),
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
        c.recent = vec![RecentRoom {
            room: "old".into(),
            pid: "p1".into(),
            partner_mid: "m3".into(),
            partner_name: "Cy".into(),
            partner_conn: "c3".into(),
            round: 2,
            until: 4,
        }];
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c.clone()));
        c.state = ConnState::Away {
            room: room(),
            until: 5,
        };
        assert_eq!(Connection::from_item(&c.to_item()), Ok(c));
    }
}
