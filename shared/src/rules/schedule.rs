//! Whom to pair in a round: pure, no store and no `App`. With the same members
//! present, rounds follow a round-robin (circle method) schedule fixed when
//! rounds start; otherwise a maximum matching of never-met compatible pairs,
//! then whoever met longest ago; an odd one out is paired first next round.
//! In a circle with labels the schedule (blind to labels) is not used: a
//! maximum matching of never-met pairs of a preferred label comes first, then
//! one of the never-met left, then whoever met longest ago; if that leaves
//! fewer never-met pairs than ignoring labels would, labels are ignored.

use std::collections::HashMap;

use petgraph::graph::{NodeIndex, UnGraph};

use crate::model::{LabelMode, Member};

/// The round-robin roster fixed when rounds start.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// The members, in seat order.
    pub mids: Vec<String>,
    /// The round the schedule's first pairing was used for.
    pub base: u32,
    /// Whether every round so far followed the schedule (once one doesn't, its
    /// later pairings could repeat a meeting, so it is dropped for good).
    pub on_schedule: bool,
    /// Who sat out last round (paired first this round).
    pub sat_out: Option<String>,
}
/// Pairs of indexes into the people present, and who is left over.
pub type Pairing = (Vec<(usize, usize)>, Vec<usize>);

/// Each present member's label (aligned with `mids`) and the circle's mode.
pub type RoundLabels<'a> = Option<(LabelMode, &'a [Option<&'a str>])>;

/// Whom to pair this round: index pairs into `mids`, who is left over, and
/// whether the round-robin schedule was followed. `labels`: in a circle with
/// labels, each member's label and the mode.
pub fn plan(
    mids: &[&str],
    members: &HashMap<String, Member>,
    roster: &Roster,
    round: u32,
    labels: RoundLabels<'_>,
) -> (Vec<(usize, usize)>, Vec<usize>, bool) {
    let blocked = |a: &str, b: &str| {
        members.get(a).is_some_and(|m| m.blocked.contains(b))
            || members.get(b).is_some_and(|m| m.blocked.contains(a))
    };
    let compatible = |a: usize, b: usize| mids[a] != mids[b] && !blocked(mids[a], mids[b]);
    if roster.on_schedule
        && labels.is_none()
        && let Some((pairs, left)) = scheduled(mids, roster, round)
        && pairs.iter().all(|&(a, b)| compatible(a, b))
    {
        return (pairs, left, true);
    }
    let never = |a: usize, b: usize| {
        members
            .get(mids[a])
            .and_then(|m| m.last_met(mids[b]))
            .is_none()
    };
    let n = mids.len();
    let preferred =
        |a: usize, b: usize| labels.is_some_and(|(mode, of)| mode.prefers(of[a], of[b]));
    let mut mate: Vec<Option<usize>> = vec![None; n];
    // 1. As many never-met pairs of a preferred label as possible (with
    // labels), then as many never-met pairs as possible among the rest.
    let never_met = |a: usize, b: usize| compatible(a, b) && never(a, b);
    if labels.is_some() {
        match_most(&mut mate, |a, b| never_met(a, b) && preferred(a, b));
    }
    match_most(&mut mate, never_met);
    // Preferring a label never costs a never-met pair: when the label-first
    // matching has fewer never-met pairs than a label-blind one, that one wins.
    if labels.is_some() {
        let mut blind: Vec<Option<usize>> = vec![None; n];
        match_most(&mut blind, never_met);
        let matched = |m: &[Option<usize>]| m.iter().filter(|x| x.is_some()).count();
        if matched(&blind) > matched(&mate) {
            mate = blind;
        }
    }
    // Whoever sat out last round is paired first this round: swap them in.
    if let Some(pref) = roster
        .sat_out
        .as_deref()
        .and_then(|m| mids.iter().position(|x| *x == m))
        && mate[pref].is_none()
        && let Some(x) =
            (0..n).find(|&x| mate[x].is_some() && compatible(pref, x) && never(pref, x))
    {
        let y = mate[x].expect("x is matched");
        mate[y] = None;
        mate[x] = Some(pref);
        mate[pref] = Some(x);
    }
    // 2. The rest, with whoever they met longest ago.
    let mut rest: Vec<(i64, usize, usize)> = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            if mate[a].is_none() && mate[b].is_none() && compatible(a, b) {
                let at = members
                    .get(mids[a])
                    .and_then(|m| m.last_met(mids[b]))
                    .unwrap_or(i64::MIN);
                rest.push((at, a, b));
            }
        }
    }
    rest.sort();
    for (_, a, b) in rest {
        if mate[a].is_none() && mate[b].is_none() {
            mate[a] = Some(b);
            mate[b] = Some(a);
        }
    }
    let pairs = (0..n)
        .filter_map(|a| mate[a].filter(|b| a < *b).map(|b| (a, b)))
        .collect();
    let left = (0..n).filter(|a| mate[*a].is_none()).collect();
    (pairs, left, false)
}

/// Adds a maximum matching of the unmatched, over the pairs `edge` allows.
fn match_most(mate: &mut [Option<usize>], edge: impl Fn(usize, usize) -> bool) {
    let free: Vec<usize> = (0..mate.len()).filter(|a| mate[*a].is_none()).collect();
    let mut graph: UnGraph<(), ()> = UnGraph::with_capacity(free.len(), 0);
    let nodes: Vec<NodeIndex> = free.iter().map(|_| graph.add_node(())).collect();
    for (i, &a) in free.iter().enumerate() {
        for (j, &b) in free.iter().enumerate().skip(i + 1) {
            if edge(a, b) {
                graph.add_edge(nodes[i], nodes[j], ());
            }
        }
    }
    let matching = petgraph::algo::maximum_matching(&graph);
    for (i, &a) in free.iter().enumerate() {
        if let Some(m) = matching.mate(nodes[i]) {
            mate[a] = Some(free[m.index()]);
        }
    }
}

/// The seat pairs of circle-method round `i` for `players` seats (even).
fn seat_pairs(players: usize, i: usize) -> Vec<(usize, usize)> {
    let mut others: Vec<usize> = (1..players).collect();
    others.rotate_right(i % (players - 1).max(1));
    let line: Vec<usize> = std::iter::once(0).chain(others).collect();
    (0..players / 2)
        .map(|j| (line[j], line[players - 1 - j]))
        .collect()
}

/// Seats the roster so the round-robin meets new people first: people who met
/// before rounds began are put in the schedule's last rounds. When those
/// meetings form a matching (the usual case: everyone chatted with at most one
/// other), they all land in the very last round; otherwise a search over
/// seatings keeps repeats out of the early rounds as far as it can.
pub fn arrange(mids: Vec<String>, members: &HashMap<String, Member>) -> Vec<String> {
    use rand::seq::SliceRandom;
    let n = mids.len();
    let players = n + n % 2;
    if players < 4 {
        return mids;
    }
    let met = |a: &str, b: &str| members.get(a).is_some_and(|m| m.last_met(b).is_some());
    // Cost of a seating: met pairs per round, early rounds weighing most.
    let rounds: Vec<Vec<(usize, usize)>> =
        (0..players - 1).map(|i| seat_pairs(players, i)).collect();
    let cost = |order: &[String]| -> usize {
        rounds
            .iter()
            .enumerate()
            .map(|(i, pairs)| {
                let repeats = pairs
                    .iter()
                    .filter(|(s, t)| *s < n && *t < n && met(&order[*s], &order[*t]))
                    .count();
                repeats * (players - 1 - i)
            })
            .sum()
    };
    let mut best = mids.clone();
    let mut best_cost = cost(&best);
    // Pre-round meetings that form a matching go to the last round's seats.
    let mut partners: HashMap<&str, Vec<&str>> = HashMap::new();
    for (i, a) in mids.iter().enumerate() {
        for b in &mids[i + 1..] {
            if met(a, b) {
                partners.entry(a.as_str()).or_default().push(b.as_str());
                partners.entry(b.as_str()).or_default().push(a.as_str());
            }
        }
    }
    if partners.values().all(|p| p.len() == 1) {
        let mut seats: Vec<Option<String>> = vec![None; n];
        let mut free: Vec<(usize, usize)> = rounds[players - 2]
            .iter()
            .copied()
            .filter(|(s, t)| *s < n && *t < n)
            .collect();
        let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for a in &mids {
            if let Some(&[b]) = partners.get(a.as_str()).map(Vec::as_slice)
                && !placed.contains(a.as_str())
                && let Some((s, t)) = free.pop()
            {
                seats[s] = Some(a.clone());
                seats[t] = Some(b.to_owned());
                placed.insert(a.as_str());
                placed.insert(b);
            }
        }
        let mut rest = mids.iter().filter(|m| !placed.contains(m.as_str()));
        for seat in seats.iter_mut() {
            if seat.is_none() {
                *seat = rest.next().cloned();
            }
        }
        let order: Vec<String> = seats.into_iter().flatten().collect();
        if order.len() == n && cost(&order) < best_cost {
            best_cost = cost(&order);
            best = order;
        }
    }
    let mut rng = rand::rng();
    let mut order = mids;
    for _ in 0..200 {
        if best_cost == 0 {
            break;
        }
        order.shuffle(&mut rng);
        let c = cost(&order);
        if c < best_cost {
            best_cost = c;
            best = order.clone();
        }
    }
    best
}

/// The circle-method pairing for `round`, when the people present are exactly
/// the roster and the schedule has a round left.
fn scheduled(mids: &[&str], roster: &Roster, round: u32) -> Option<Pairing> {
    let present: std::collections::BTreeSet<&str> = mids.iter().copied().collect();
    let listed: std::collections::BTreeSet<&str> = roster.mids.iter().map(String::as_str).collect();
    if present.len() != mids.len() || present != listed {
        return None;
    }
    let players = roster.mids.len() + roster.mids.len() % 2;
    let i = usize::try_from(round.checked_sub(roster.base)?).ok()?;
    if players < 2 || i >= players - 1 {
        return None;
    }
    // Seat k holds roster member k (or the bye, k == len).
    let index_of = |seat: usize| {
        roster
            .mids
            .get(seat)
            .and_then(|m| mids.iter().position(|x| x == m))
    };
    let mut pairs = Vec::new();
    let mut left = Vec::new();
    for (s, t) in seat_pairs(players, i) {
        match (index_of(s), index_of(t)) {
            (Some(a), Some(b)) => pairs.push((a.min(b), a.max(b))),
            (Some(a), None) | (None, Some(a)) => left.push(a),
            (None, None) => {}
        }
    }
    Some((pairs, left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn roster(mids: &[String]) -> Roster {
        Roster {
            mids: mids.to_vec(),
            base: 1,
            on_schedule: true,
            sat_out: None,
        }
    }

    /// Plays `rounds` rounds, recording meetings as the server would.
    fn play(n: usize, rounds: u32, stable: bool) -> Vec<Vec<(usize, usize)>> {
        let names: Vec<String> = (0..n).map(|i| format!("m{i:02}")).collect();
        let mut members: HashMap<String, Member> = names
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    Member {
                        mid: m.clone(),
                        ..Member::default()
                    },
                )
            })
            .collect();
        let r = roster(&names);
        let mut out = Vec::new();
        for round in 1..=rounds {
            let mids: Vec<&str> = names.iter().map(String::as_str).collect();
            let r = if stable { r.clone() } else { Roster::default() };
            let (pairs, _, _) = plan(&mids, &members, &r, round, None);
            for &(a, b) in &pairs {
                let at = i64::from(round);
                members
                    .get_mut(&names[a])
                    .expect("a")
                    .met
                    .push((names[b].clone(), at));
                members
                    .get_mut(&names[b])
                    .expect("b")
                    .met
                    .push((names[a].clone(), at));
            }
            out.push(pairs);
        }
        out
    }

    #[test]
    fn a_stable_even_circle_meets_everyone_exactly_once_in_n_minus_1_rounds() {
        for n in [2, 4, 6, 8, 20] {
            let rounds = play(n, (n - 1) as u32, true);
            let mut seen = HashSet::new();
            for pairs in &rounds {
                assert_eq!(pairs.len(), n / 2);
                for p in pairs {
                    assert!(seen.insert(*p), "n={n}: {p:?} met twice");
                }
            }
            assert_eq!(seen.len(), n * (n - 1) / 2);
        }
    }

    #[test]
    fn people_who_met_before_rounds_meet_again_only_in_the_last_round() {
        let names: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
        let mut members: HashMap<String, Member> = HashMap::new();
        for (a, b) in [(0, 1), (2, 3), (4, 5), (6, 7)] {
            for (x, y) in [(a, b), (b, a)] {
                members
                    .entry(names[x].clone())
                    .or_default()
                    .met
                    .push((names[y].clone(), 0));
            }
        }
        let r = Roster {
            mids: arrange(names.clone(), &members),
            ..roster(&names)
        };
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        for round in 1..=7 {
            let (pairs, _, on) = plan(&mids, &members, &r, round, None);
            assert!(on, "round {round} follows the schedule");
            let repeats = pairs
                .iter()
                .filter(|(a, b)| {
                    members
                        .get(mids[*a])
                        .is_some_and(|m| m.last_met(mids[*b]).is_some())
                })
                .count();
            assert_eq!(repeats, if round == 7 { 4 } else { 0 }, "round {round}");
        }
    }

    #[test]
    fn an_odd_circle_sits_one_out_and_pairs_them_next() {
        let names: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        let members = HashMap::new();
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut r = Roster::default();
        let (pairs, left, _) = plan(&mids, &members, &r, 1, None);
        assert_eq!((pairs.len(), left.len()), (2, 1));
        r.sat_out = Some(names[left[0]].clone());
        let (pairs, _, _) = plan(&mids, &members, &r, 2, None);
        assert!(pairs.iter().any(|&(a, b)| a == left[0] || b == left[0]));
    }

    /// How many of `pairs` join two different labels.
    fn across(pairs: &[(usize, usize)], labels: &[Option<&str>]) -> usize {
        pairs
            .iter()
            .filter(|(a, b)| LabelMode::Across.prefers(labels[*a], labels[*b]))
            .count()
    }

    #[test]
    fn with_labels_rounds_maximise_never_met_preferred_pairs() {
        // Mentors m0, m1, m6, m7 and mentees m2..m5: the schedule, blind to
        // labels, pairs seat 0 with 7, 1 with 6, ...: never across.
        let names: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        let labels: Vec<Option<&str>> = (0..8)
            .map(|i| {
                Some(if [0, 1, 6, 7].contains(&i) {
                    "mentor"
                } else {
                    "mentee"
                })
            })
            .collect();
        let members = HashMap::new();
        let r = roster(&names);
        let (naive, _, _) = plan(&mids, &members, &r, 1, None);
        let (pairs, left, on) = plan(
            &mids,
            &members,
            &r,
            1,
            Some((LabelMode::Across, labels.as_slice())),
        );
        assert!(!on, "the schedule is blind to labels");
        assert!(left.is_empty());
        assert_eq!(across(&pairs, &labels), 4, "{pairs:?}");
        assert!(across(&naive, &labels) < 4, "the naive plan: {naive:?}");
        // Within: mentors with mentors.
        let (pairs, _, _) = plan(
            &mids,
            &members,
            &r,
            1,
            Some((LabelMode::Within, labels.as_slice())),
        );
        assert_eq!(across(&pairs, &labels), 0, "{pairs:?}");
        // Labels never leave anyone out: 3 mentors, 1 mentee.
        let few: Vec<Option<&str>> = [Some("a"), Some("a"), Some("a"), Some("b")].into();
        let (pairs, left, _) = plan(
            &mids[..4],
            &members,
            &Roster::default(),
            1,
            Some((LabelMode::Across, few.as_slice())),
        );
        assert_eq!((pairs.len(), left.len(), across(&pairs, &few)), (2, 0, 1));
    }

    /// A–B preferred and never met, A–C and B–D never met but same label, C–D
    /// met: label-first would pair A–B and then C–D again; two new pairs win.
    #[test]
    fn labels_never_cost_a_never_met_pair() {
        let names: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        let labels: Vec<Option<&str>> = vec![Some("x"), Some("y"), Some("x"), Some("y")];
        let mut members: HashMap<String, Member> = HashMap::new();
        let met = |mid: &str, other: &[&str]| Member {
            mid: mid.into(),
            met: other.iter().map(|o| ((*o).to_owned(), 1)).collect(),
            ..Member::default()
        };
        // Besides C–D, only A–B crosses labels unmet: A–D and C–B have met.
        members.insert("a".into(), met("a", &["d"]));
        members.insert("b".into(), met("b", &["c"]));
        members.insert("c".into(), met("c", &["d", "b"]));
        members.insert("d".into(), met("d", &["c", "a"]));
        let l = Some((LabelMode::Across, labels.as_slice()));
        let (pairs, left, _) = plan(&mids, &members, &Roster::default(), 1, l);
        assert!(left.is_empty());
        let mut pairs = pairs;
        pairs.sort();
        assert_eq!(pairs, vec![(0, 2), (1, 3)], "A–C and B–D, both new");
    }

    /// A 1,000-member round with four even labels pairs everyone, every pair
    /// across labels; without labels it pairs everyone too.
    #[test]
    fn a_thousand_member_round_with_labels_pairs_everyone_across() {
        let names: Vec<String> = (0..1000).map(|i| format!("m{i:04}")).collect();
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        let labels: Vec<Option<&str>> = (0..1000)
            .map(|i| Some(["a", "b", "c", "d"][i % 4]))
            .collect();
        let members = HashMap::new();
        let l = Some((LabelMode::Across, labels.as_slice()));
        let (pairs, left, _) = plan(&mids, &members, &Roster::default(), 1, l);
        assert_eq!((pairs.len(), left.len()), (500, 0));
        assert_eq!(across(&pairs, &labels), 500);
        let (pairs, left, _) = plan(&mids, &members, &Roster::default(), 1, None);
        assert_eq!((pairs.len(), left.len()), (500, 0));
    }

    #[test]
    fn without_a_schedule_rounds_maximise_never_met_pairs_and_respect_blocks() {
        let names: Vec<String> = (0..4).map(|i| format!("m{i}")).collect();
        let mut members: HashMap<String, Member> = HashMap::new();
        let mut m0 = Member {
            mid: "m0".into(),
            ..Member::default()
        };
        m0.met.push(("m1".into(), 1));
        m0.blocked.insert("m2".into());
        members.insert("m0".into(), m0);
        let mids: Vec<&str> = names.iter().map(String::as_str).collect();
        let (pairs, left, _) = plan(&mids, &members, &Roster::default(), 1, None);
        assert!(left.is_empty());
        assert!(pairs.contains(&(0, 3)), "{pairs:?}");
        assert!(pairs.contains(&(1, 2)), "{pairs:?}");
    }
}
