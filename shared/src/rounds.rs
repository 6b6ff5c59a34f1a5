//! Timed rounds for networking sessions: the organiser starts them; at each
//! round's end (a timer) every room of the circle ends with `round_over`, and
//! everyone present is paired again at once, meeting new people first.
//!
//! Because a round pairs everyone at once it can plan: with the same members
//! present throughout, rounds follow a round-robin (circle method) schedule
//! fixed when rounds start, so n members (n even) meet everyone exactly once
//! in n-1 rounds. When people come and go (or a block gets in the way), a round
//! takes a maximum matching of never-met compatible pairs, then pairs the rest
//! with whoever they met longest ago; an odd one out waits and is paired first
//! the next round.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;
use petgraph::graph::{NodeIndex, UnGraph};

use crate::app::App;
use crate::circles;
use crate::error::ActionError;
use crate::keys;
use crate::model::{Circle, ConnState, Connection, Member, RoundState};
use crate::pairing::{self, Identity, Joiner, NewRoom, Prior};
use crate::presence;
use crate::protocol::{RoundInfo, ServerEvent};
use crate::store::attr::{n, opt_n, opt_s, s, string_list, strings};
use crate::store::{StoreError, Table, tx_delete, tx_update};
use crate::timers::{self, Timer};

/// Round lengths the organiser may pick, in minutes.
pub const MINUTES: std::ops::RangeInclusive<u32> = 2..=30;
/// Writes and posts in flight at once during a round change.
const FAN_OUT: usize = 32;

/// Starts rounds (round 1 now) and re-pairs everyone for it.
pub async fn start(app: &App, circle: Circle, minutes: u32) -> Result<Circle, ActionError> {
    let now = app.now_ms();
    let round = RoundState {
        number: 1,
        minutes,
        ends_at: now + i64::from(minutes) * App::ms(app.settings.round_minute),
        active: true,
    };
    let Some(circle) = circles::set_round(app, &circle, &circle.round, round).await? else {
        return Err(ActionError::Busy);
    };
    timers::schedule(
        app,
        Timer::RoundEnd {
            cid: circle.cid.clone(),
            round: 1,
            due_ms: circle.round.ends_at,
        },
    )
    .await;
    repair(app, &circle, true).await?;
    Ok(circle)
}

/// Stops rounds: rooms go on as ordinary chats; everyone hears `round` 0.
pub async fn stop(app: &App, circle: Circle) -> Result<Circle, ActionError> {
    if !circle.round.active {
        return Ok(circle);
    }
    let round = RoundState {
        active: false,
        ..circle.round.clone()
    };
    let Some(circle) = circles::set_round(app, &circle, &circle.round, round).await? else {
        return Err(ActionError::Busy);
    };
    let stopped = ServerEvent::Round(RoundInfo {
        number: 0,
        minutes: None,
        ends_at: None,
        seconds_left: None,
    });
    let everyone = presence::connections(app, &circle.cid).await?;
    broadcast(
        app,
        everyone
            .iter()
            .map(|c| (c.connection_id.clone(), stopped.clone())),
    )
    .await;
    Ok(circle)
}

/// The round timer: ends round `round` and starts the next, once.
pub async fn round_ended(app: &App, cid: &str, round: u32) -> Result<(), ActionError> {
    let Some(circle) = circles::get_by_cid(app, cid).await? else {
        return Ok(());
    };
    if !circle.round.active || circle.round.number != round {
        return Ok(());
    }
    let now = app.now_ms();
    if circle.round.ends_at > now + 250 {
        timers::schedule(
            app,
            Timer::RoundEnd {
                cid: cid.to_owned(),
                round,
                due_ms: circle.round.ends_at,
            },
        )
        .await;
        return Ok(());
    }
    let next = RoundState {
        number: round + 1,
        ends_at: now + i64::from(circle.round.minutes) * App::ms(app.settings.round_minute),
        ..circle.round.clone()
    };
    let Some(circle) = circles::set_round(app, &circle, &circle.round, next).await? else {
        // Another timer (or the organiser) moved the round on first.
        return Ok(());
    };
    timers::schedule(
        app,
        Timer::RoundEnd {
            cid: cid.to_owned(),
            round: round + 1,
            due_ms: circle.round.ends_at,
        },
    )
    .await;
    repair(app, &circle, false).await
}

/// Someone in a round change: a connection that was waiting or whose room just ended.
#[derive(Debug, Clone)]
struct Person {
    conn: Connection,
    prior: Prior,
}

impl Person {
    fn mid(&self) -> &str {
        self.conn.mid.as_deref().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.conn
            .name
            .as_deref()
            .unwrap_or(crate::protocol::ANONYMOUS)
    }
}

/// The round-robin roster fixed when rounds start.
#[derive(Debug, Clone, Default)]
struct Roster {
    mids: Vec<String>,
    /// The round the schedule's first pairing was used for.
    base: u32,
    /// Whether every round so far followed the schedule (once one doesn't, its
    /// later pairings could repeat a meeting, so it is dropped for good).
    on_schedule: bool,
    /// Who sat out last round (paired first this round).
    sat_out: Option<String>,
}

async fn load_roster(app: &App, cid: &str) -> Result<Option<Roster>, StoreError> {
    let item = app
        .store
        .get(Table::Groups, keys::roster(cid), true)
        .await?;
    Ok(item.map(|i| Roster {
        mids: string_list(&i, "mids"),
        base: u32::try_from(opt_n(&i, "base").unwrap_or(1)).unwrap_or(1),
        on_schedule: opt_n(&i, "sched").unwrap_or(0) == 1,
        sat_out: opt_s(&i, "sat_out"),
    }))
}

async fn save_roster(app: &App, circle: &Circle, roster: &Roster) -> Result<(), StoreError> {
    let mut item = keys::roster(&circle.cid);
    item.extend([
        ("mids".into(), strings(roster.mids.clone())),
        ("base".into(), n(i64::from(roster.base))),
        ("sched".into(), n(i64::from(roster.on_schedule))),
        ("expires_at".into(), n(circle.expires_at)),
    ]);
    if let Some(m) = &roster.sat_out {
        item.insert("sat_out".into(), s(m));
    }
    app.store
        .put(app.store.put_op(Table::Groups, item, None, vec![]))
        .await
}

/// Ends every open room of the circle and pairs everyone present for the
/// circle's current round.
async fn repair(app: &App, circle: &Circle, first: bool) -> Result<(), ActionError> {
    let conns = presence::connections(app, &circle.cid).await?;
    let mut notices: Vec<(String, ServerEvent)> = Vec::new();
    let mut people: Vec<Person> = Vec::new();
    let by_id: HashMap<&str, &Connection> = conns
        .iter()
        .map(|c| (c.connection_id.as_str(), c))
        .collect();

    // End every open room: each once, from a side still connected.
    let mut ended = BTreeSet::new();
    let mut endings = Vec::new();
    for c in &conns {
        if let ConnState::Paired {
            room,
            partner_away_until,
        } = &c.state
            && ended.insert(room.room.clone())
        {
            endings.push((c, room.clone(), *partner_away_until > 0));
        }
    }
    let jobs: Vec<_> = endings
        .into_iter()
        .map(|(c, room, away)| async move {
            let items = pairing::end_both(app, c, &room, away);
            let result = app.store.transact(items).await;
            (c, room, away, result)
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect()
        .await;
    for (c, room, away, result) in results {
        if let Err(err) = result {
            tracing::info!(error = %err, room = %room.room, "a room changed before its round ended");
            continue;
        }
        let number = if first { 0 } else { room.round };
        let over = ServerEvent::RoundOver {
            room: room.room.clone(),
            number,
        };
        notices.push((c.connection_id.clone(), over.clone()));
        people.push(Person {
            conn: c.clone(),
            prior: Prior::Idle,
        });
        if !away && let Some(p) = by_id.get(room.partner.as_str()) {
            notices.push((p.connection_id.clone(), over));
            people.push(Person {
                conn: (*p).clone(),
                prior: Prior::Idle,
            });
        }
    }
    for c in &conns {
        if let ConnState::Waiting { ticket, shard } = &c.state {
            people.push(Person {
                conn: c.clone(),
                prior: Prior::Waiting {
                    ticket: ticket.clone(),
                    entry: Some((circle.cid.clone(), *shard)),
                },
            });
        }
    }
    // A connection is one person, however the index listed it (a room seen
    // from both sides, or a stale copy of a record that changed meanwhile).
    let mut seen_conns = HashSet::new();
    people.retain(|p| seen_conns.insert(p.conn.connection_id.clone()));
    // Everyone connected hears the round start, after their room's end.
    let info = pairing::round_info(app, &circle.round);
    for c in &conns {
        notices.push((c.connection_id.clone(), ServerEvent::Round(info.clone())));
    }
    broadcast(app, notices).await;

    // Plan the pairs.
    let members = load_members(app, circle, &people).await?;
    let mut roster = match load_roster(app, &circle.cid).await? {
        Some(r) if !first => r,
        _ => Roster {
            mids: {
                let mut m: Vec<String> = people.iter().map(|p| p.mid().to_owned()).collect();
                m.sort();
                m.dedup();
                arrange(m, &members)
            },
            base: circle.round.number,
            on_schedule: true,
            sat_out: None,
        },
    };
    let mids: Vec<&str> = people.iter().map(Person::mid).collect();
    let (pairs, left, scheduled) = plan(&mids, &members, &roster, circle.round.number);
    roster.on_schedule &= scheduled;
    roster.sat_out = left.first().map(|i| people[*i].mid().to_owned());
    save_roster(app, circle, &roster).await?;

    // Pair them, then put the odd ones out in the lobby.
    let jobs: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| pair_two(app, circle, &people[a], &people[b], &members))
        .collect();
    let paired: Vec<bool> = futures_util::stream::iter(jobs)
        .buffered(FAN_OUT)
        .collect()
        .await;
    // A pair whose records changed since they were read (a leave, a drop, a
    // stale index entry) is not lost for the round: both go through the lobby
    // like the odd one out, which re-reads their records.
    let mut left = left;
    for (&(a, b), ok) in pairs.iter().zip(&paired) {
        if !ok {
            left.extend([a, b]);
        }
    }
    tracing::info!(
        cid = %circle.cid,
        round = circle.round.number,
        people = people.len(),
        pairs = paired.iter().filter(|ok| **ok).count(),
        "round paired"
    );
    for i in left {
        let p = &people[i];
        let joiner = Joiner {
            conn: p.conn.connection_id.clone(),
            name: p.name().to_owned(),
            mid: p.mid().to_owned(),
            member: members.get(p.mid()).cloned(),
            avoid: None,
            avoid_until: 0,
            code: p
                .conn
                .code
                .clone()
                .unwrap_or_else(|| circle.code.as_str().to_owned()),
            expires_at: p.conn.expires_at.min(circle.expires_at),
        };
        if let Err(err) = pairing::seek_for_round(app, circle, joiner, p.prior.clone()).await {
            tracing::info!(error = %err, "odd one out could not wait");
        }
    }
    Ok(())
}

async fn load_members(
    app: &App,
    circle: &Circle,
    people: &[Person],
) -> Result<HashMap<String, Member>, StoreError> {
    let keys: Vec<_> = people
        .iter()
        .map(|p| (Table::Groups, keys::member(&circle.cid, p.mid()), true))
        .collect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(100) {
        for item in app.store.batch_get(chunk).await?.into_iter().flatten() {
            let m = Member::from_item(&item)?;
            out.insert(m.mid.clone(), m);
        }
    }
    Ok(out)
}

/// Pairs two people for a round in one transaction and tells them. `false` if
/// either moved on meanwhile (they are then left to ordinary pairing).
async fn pair_two(
    app: &App,
    circle: &Circle,
    a: &Person,
    b: &Person,
    members: &HashMap<String, Member>,
) -> bool {
    let room = NewRoom::new(app, circle);
    let side_a = room.side(app, 0, &b.conn.connection_id, b.name(), b.mid());
    let side_b = room.side(app, 1, &a.conn.connection_id, a.name(), a.mid());
    let identity = |p: &'_ Person| -> (String, i64) {
        (
            p.conn
                .code
                .clone()
                .unwrap_or_else(|| circle.code.as_str().to_owned()),
            p.conn.expires_at.min(circle.expires_at),
        )
    };
    let (code_a, exp_a) = identity(a);
    let (code_b, exp_b) = identity(b);
    let who_a = Identity {
        cid: &circle.cid,
        code: &code_a,
        mid: a.mid(),
        name: a.name(),
        expires_at: exp_a,
        circle_expires_at: circle.expires_at,
    };
    let who_b = Identity {
        cid: &circle.cid,
        code: &code_b,
        mid: b.mid(),
        name: b.name(),
        expires_at: exp_b,
        circle_expires_at: circle.expires_at,
    };
    let (cond_a, vals_a) = a.prior.condition();
    let (cond_b, vals_b) = b.prior.condition();
    let mut items = vec![
        tx_update(pairing::to_paired(
            app,
            &a.conn.connection_id,
            &who_a,
            &side_a,
            cond_a,
            vals_a,
        )),
        tx_update(pairing::to_paired(
            app,
            &b.conn.connection_id,
            &who_b,
            &side_b,
            cond_b,
            vals_b,
        )),
        tx_update(pairing::member_met(
            app,
            &circle.cid,
            a.mid(),
            b.mid(),
            members.get(a.mid()),
            circle.expires_at,
            None,
        )),
        tx_update(pairing::member_met(
            app,
            &circle.cid,
            b.mid(),
            a.mid(),
            members.get(b.mid()),
            circle.expires_at,
            None,
        )),
    ];
    for p in [a, b] {
        if let Prior::Waiting {
            ticket,
            entry: Some((cid, shard)),
        } = &p.prior
        {
            items.push(tx_delete(app.store.delete_op(
                Table::Groups,
                keys::entry(cid, *shard, ticket),
                None,
                vec![],
            )));
        }
    }
    if let Err(err) = app.store.transact(items).await {
        tracing::info!(error = %err, "a round pair changed before it could be paired");
        return false;
    }
    let _ = futures_util::future::join3(
        pairing::send(
            app,
            &a.conn.connection_id,
            &room.event(app, 0, a.name(), b.name()),
        ),
        pairing::send(
            app,
            &b.conn.connection_id,
            &room.event(app, 1, b.name(), a.name()),
        ),
        pairing::add_stats(app, circle, 1, 0),
    )
    .await;
    true
}

/// Sends events, many at once.
async fn broadcast(app: &App, events: impl IntoIterator<Item = (String, ServerEvent)>) {
    let jobs: Vec<_> = events
        .into_iter()
        .map(|(conn, event)| async move { pairing::send(app, &conn, &event).await })
        .collect();
    futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect::<Vec<_>>()
        .await;
}

/// Pairs of indexes into the people present, and who is left over.
type Pairing = (Vec<(usize, usize)>, Vec<usize>);

/// Whom to pair this round: index pairs into `mids`, who is left over, and
/// whether the round-robin schedule was followed.
fn plan(
    mids: &[&str],
    members: &HashMap<String, Member>,
    roster: &Roster,
    round: u32,
) -> (Vec<(usize, usize)>, Vec<usize>, bool) {
    let blocked = |a: &str, b: &str| {
        members.get(a).is_some_and(|m| m.blocked.contains(b))
            || members.get(b).is_some_and(|m| m.blocked.contains(a))
    };
    let compatible = |a: usize, b: usize| mids[a] != mids[b] && !blocked(mids[a], mids[b]);
    if roster.on_schedule
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
    // 1. As many never-met pairs as possible.
    let n = mids.len();
    let mut graph: UnGraph<(), ()> = UnGraph::with_capacity(n, 0);
    let nodes: Vec<NodeIndex> = (0..n).map(|_| graph.add_node(())).collect();
    for a in 0..n {
        for b in a + 1..n {
            if compatible(a, b) && never(a, b) {
                graph.add_edge(nodes[a], nodes[b], ());
            }
        }
    }
    let matching = petgraph::algo::maximum_matching(&graph);
    let mut mate: Vec<Option<usize>> = (0..n)
        .map(|a| matching.mate(nodes[a]).map(|m| m.index()))
        .collect();
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
fn arrange(mids: Vec<String>, members: &HashMap<String, Member>) -> Vec<String> {
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
            let (pairs, _, _) = plan(&mids, &members, &r, round);
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
            let (pairs, _, on) = plan(&mids, &members, &r, round);
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
        let (pairs, left, _) = plan(&mids, &members, &r, 1);
        assert_eq!((pairs.len(), left.len()), (2, 1));
        r.sat_out = Some(names[left[0]].clone());
        let (pairs, _, _) = plan(&mids, &members, &r, 2);
        assert!(pairs.iter().any(|&(a, b)| a == left[0] || b == left[0]));
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
        let (pairs, left, _) = plan(&mids, &members, &Roster::default(), 1);
        assert!(left.is_empty());
        assert!(pairs.contains(&(0, 3)), "{pairs:?}");
        assert!(pairs.contains(&(1, 2)), "{pairs:?}");
    }
}
