//! Who may be paired with whom, and in what order: pure, no store and no
//! `App`. Used by a join's lobby read and by the matchmaker.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use crate::model::{LobbyEntry, Member};

/// The joiner as the lobby rules see it.
#[derive(Debug, Clone)]
pub struct Seeker<'a> {
    /// Its connection.
    pub conn: &'a str,
    /// Its member id.
    pub mid: &'a str,
    /// The member record (history and blocks); `None` for a new member.
    pub member: Option<&'a Member>,
    /// The member just left (the repeat guard), until `avoid_until` (ms).
    pub avoid: Option<&'a str>,
    /// When the repeat guard ends (epoch ms).
    pub avoid_until: i64,
}

/// Whether two people may be paired now: different members, no block either way,
/// not just-left partners while the guard of either runs.
pub fn compatible(me: &Seeker<'_>, other: &LobbyEntry, now_ms: i64) -> bool {
    other.conn != me.conn
        && other.mid != me.mid
        && !me.member.is_some_and(|m| m.blocked.contains(&other.mid))
        && !(me.avoid == Some(other.mid.as_str()) && now_ms < me.avoid_until)
        && !(other.avoid.as_deref() == Some(me.mid) && now_ms < other.avoid_until)
}

/// Ranks compatible waiters: never met first, shuffled; then by when last met.
/// Among the never-met, those in `spread` (read from a random point of a big
/// lobby) come first, so concurrent joiners go for different waiters.
pub fn rank(
    seeker: &Seeker<'_>,
    mut candidates: Vec<LobbyEntry>,
    spread: &HashSet<String>,
) -> Vec<LobbyEntry> {
    candidates.shuffle(&mut rand::rng());
    let met = |e: &LobbyEntry| seeker.member.and_then(|m| m.last_met(&e.mid));
    // Stable sort keeps the shuffle among equals.
    candidates.sort_by_key(|e| match met(e) {
        None => (0, !spread.contains(&e.ticket), 0),
        Some(at) => (1, false, at),
    });
    candidates
}

#[cfg(test)]
pub(crate) fn test_entry(mid: &str) -> LobbyEntry {
    LobbyEntry {
        conn: format!("c-{mid}"),
        mid: mid.into(),
        name: mid.into(),
        ticket: format!("t-{mid}"),
        shard: 0,
        avoid: None,
        avoid_until: 0,
        seen: 0,
        since: 0,
        notice_after: 0,
        told: 0,
        expires_at: i64::MAX / 2000,
        fresh: false,
    }
}

#[cfg(test)]
mod tests {
    use super::test_entry as entry;
    use super::*;

    #[test]
    fn never_met_come_first_then_the_one_met_longest_ago() {
        let member = Member {
            mid: "me".into(),
            met: vec![("a".into(), 10), ("b".into(), 5), ("a".into(), 20)],
            ..Member::default()
        };
        let seeker = Seeker {
            conn: "c-me",
            mid: "me",
            member: Some(&member),
            avoid: None,
            avoid_until: 0,
        };
        for _ in 0..20 {
            let ranked = rank(
                &seeker,
                vec![entry("a"), entry("b"), entry("c"), entry("d")],
                &HashSet::new(),
            );
            let mids: Vec<&str> = ranked.iter().map(|e| e.mid.as_str()).collect();
            assert!(matches!(mids[..2], ["c", "d"] | ["d", "c"]), "{mids:?}");
            assert_eq!(mids[2..], ["b", "a"]);
        }
    }

    #[test]
    fn blocks_guards_and_oneself_are_incompatible() {
        let member = Member {
            mid: "me".into(),
            blocked: ["x".to_owned()].into(),
            ..Member::default()
        };
        let seeker = Seeker {
            conn: "c-me",
            mid: "me",
            member: Some(&member),
            avoid: Some("g"),
            avoid_until: 100,
        };
        assert!(!compatible(&seeker, &entry("x"), 0));
        assert!(!compatible(&seeker, &entry("g"), 50));
        assert!(compatible(&seeker, &entry("g"), 100));
        assert!(!compatible(&seeker, &entry("me"), 0));
        let mut other = entry("o");
        other.avoid = Some("me".into());
        other.avoid_until = 100;
        assert!(!compatible(&seeker, &other, 99));
        assert!(compatible(&seeker, &entry("o"), 0));
    }
}
