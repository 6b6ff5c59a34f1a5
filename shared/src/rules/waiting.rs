//! Why a waiter waits although others are in the lobby: pure, for the
//! `waiting` event's `reason` and `retry_at`.

use crate::model::LobbyEntry;
use crate::protocol::WaitReason;
use crate::rules::matching::{Seeker, compatible};

/// Why nobody present can be paired with `me` now, and when that lifts (epoch
/// ms, for the repeat guard): `None` when nobody else waits, or someone
/// compatible does (a pairing is on its way). Other tabs of the same member
/// don't count as people present.
pub fn why_waiting(
    me: &Seeker<'_>,
    others: &[LobbyEntry],
    now_ms: i64,
) -> Option<(WaitReason, Option<i64>)> {
    let others: Vec<&LobbyEntry> = others
        .iter()
        .filter(|e| e.conn != me.conn && e.mid != me.mid)
        .collect();
    if others.is_empty() || others.iter().any(|e| compatible(me, e, now_ms)) {
        return None;
    }
    let blocked = |e: &LobbyEntry| me.member.is_some_and(|m| m.blocked.contains(&e.mid));
    // Each guarded (not blocked) waiter's guard end: the later of the two sides'.
    let guard_end = |e: &LobbyEntry| {
        let mine = (me.avoid == Some(e.mid.as_str())).then_some(me.avoid_until);
        let theirs = (e.avoid.as_deref() == Some(me.mid)).then_some(e.avoid_until);
        mine.into_iter().chain(theirs).filter(|t| *t > now_ms).max()
    };
    others
        .iter()
        .filter(|e| !blocked(e))
        .filter_map(|e| guard_end(e))
        .min()
        .map(|at| (WaitReason::JustMet, Some(at)))
        .or(Some((WaitReason::Blocked, None)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Member;
    use crate::rules::matching::test_entry as entry;

    fn seeker<'a>(member: Option<&'a Member>, avoid: Option<&'a str>, until: i64) -> Seeker<'a> {
        Seeker {
            conn: "c-me",
            mid: "me",
            member,
            avoid,
            avoid_until: until,
            prefer: None,
        }
    }

    #[test]
    fn alone_or_with_someone_compatible_there_is_no_reason() {
        assert_eq!(why_waiting(&seeker(None, None, 0), &[], 0), None);
        assert_eq!(why_waiting(&seeker(None, None, 0), &[entry("a")], 0), None);
        assert_eq!(why_waiting(&seeker(None, None, 0), &[entry("me")], 0), None);
    }

    #[test]
    fn the_partner_just_left_is_a_wait_until_the_guard_ends() {
        let me = seeker(None, Some("a"), 5_000);
        assert_eq!(
            why_waiting(&me, &[entry("a")], 1_000),
            Some((WaitReason::JustMet, Some(5_000)))
        );
        // The other side's guard counts too, and the later one wins.
        let mut a = entry("a");
        a.avoid = Some("me".into());
        a.avoid_until = 7_000;
        assert_eq!(
            why_waiting(&me, &[a], 1_000),
            Some((WaitReason::JustMet, Some(7_000)))
        );
        assert_eq!(why_waiting(&me, &[entry("a")], 6_000), None);
    }

    #[test]
    fn only_blocked_people_present_is_blocked_without_a_time() {
        let mut m = Member::default();
        m.blocked.insert("a".into());
        let me = seeker(Some(&m), Some("b"), 5_000);
        assert_eq!(
            why_waiting(&me, &[entry("a")], 1_000),
            Some((WaitReason::Blocked, None))
        );
        // A guarded partner beside a blocked one: the guard's end says when.
        assert_eq!(
            why_waiting(&me, &[entry("a"), entry("b")], 1_000),
            Some((WaitReason::JustMet, Some(5_000)))
        );
    }
}
