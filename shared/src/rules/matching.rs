//! Who may be paired with whom, and in what order: pure, no store and no
//! `App`. Used by a join's lobby read and by the matchmaker.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use crate::model::{LabelMode, LobbyEntry, Member};

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
    /// In a circle with labels, its mode and the seeker's label: waiters it
    /// prefers ([`Seeker::prefers`]) come first among the never-met.
    pub prefer: Option<(LabelMode, &'a str)>,
}

impl Seeker<'_> {
    /// Whether a waiter with `label` is of a preferred label.
    pub fn prefers(&self, label: Option<&str>) -> bool {
        self.prefer
            .is_some_and(|(mode, mine)| mode.prefers(Some(mine), label))
    }
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

/// Ranks compatible waiters: never met first, shuffled, those of a preferred
/// label ahead of the rest; then by when last met. Labels only reorder: a
/// never-met waiter of any label still comes before anyone met. Within each
/// tier of the never-met, those in `spread` (read from a random point of a big
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
        None if seeker.prefers(e.label.as_deref()) => (0, !spread.contains(&e.ticket), 0),
        None => (1, !spread.contains(&e.ticket), 0),
        Some(at) => (2, false, at),
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
        label: None,
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
            prefer: None,
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
    fn preferred_never_met_come_first_then_never_met_then_met_longest_ago() {
        let member = Member {
            mid: "me".into(),
            met: vec![("old".into(), 1), ("new".into(), 9), ("mate".into(), 5)],
            ..Member::default()
        };
        let labelled = |mid: &str, label: &str| LobbyEntry {
            label: Some(label.into()),
            ..entry(mid)
        };
        for (mode, mine) in [(LabelMode::Across, "B"), (LabelMode::Within, "A")] {
            let seeker = Seeker {
                conn: "c-me",
                mid: "me",
                member: Some(&member),
                avoid: None,
                avoid_until: 0,
                prefer: Some((mode, mine)),
            };
            for _ in 0..20 {
                let ranked = rank(
                    &seeker,
                    vec![
                        labelled("new", "A"),
                        labelled("x", "B"),
                        labelled("p", "A"),
                        entry("nolabel"),
                        labelled("old", "B"),
                        labelled("mate", "A"),
                        labelled("q", "A"),
                    ],
                    &HashSet::new(),
                );
                let mids: Vec<&str> = ranked.iter().map(|e| e.mid.as_str()).collect();
                // Preferred never-met (p, q: label A) first, then the other
                // never-met (x, nolabel), then by when met: old, mate (even
                // though preferred), new.
                assert!(
                    matches!(mids[..2], ["p", "q"] | ["q", "p"]),
                    "{mode:?} {mids:?}"
                );
                assert!(
                    matches!(mids[2..4], ["x", "nolabel"] | ["nolabel", "x"]),
                    "{mids:?}"
                );
                assert_eq!(mids[4..], ["old", "mate", "new"]);
            }
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
            prefer: None,
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
