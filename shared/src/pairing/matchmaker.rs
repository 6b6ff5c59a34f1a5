//! The matchmaker: pairs a crowded lobby in batches, one run at a time per
//! circle, so pairings don't race each other for the same waiters.
//!
//! Greedy claiming (each joiner claims a waiter it read) is right for a calm
//! lobby, but in a crowd nearly every waiter is itself claiming, and claims
//! collide: on AWS, `TransactionConflict`s grow with the crowd. So a joiner
//! whose read of the lobby shows a crowd (`Settings::crowd` compatible
//! waiters) enters the lobby and hands the pairing over:
//!
//! 1. After its entry is written it reads the circle's lease item
//!    (`keys::matchmaker`, strongly consistent). Held: the run holding it will
//!    see the entry (below); done. Free: it takes the lease (a conditional
//!    write) and runs; if someone else took it first, their run will see it.
//! 2. A run reads the whole lobby, plans a maximal matching (never-met pairs
//!    first, then whoever met longest ago, the rules of `lobby::rank`), commits
//!    each pair with the same transaction a claim uses (only the two people's
//!    items), and reads again while it paired anyone.
//! 3. When a pass finds no one to pair, it lets the lease go and reads the
//!    lobby once more: a joiner that found the lease held wrote its entry
//!    before that release, so this read sees it. Anyone to pair: the run takes
//!    the lease again (or whoever took it meanwhile will see them).
//!
//! So invariant 3 holds as with greedy claiming: whoever enters last is seen by
//! a read made after it entered, by itself or by a run. A run that dies keeps
//! the lease until it expires (`LEASE`); the waiters' keep-alives start the
//! next one. A run stops after `RUN_BUDGET`, well inside a function's
//! timeout; whoever joins or keeps alive next takes over.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rand::seq::SliceRandom;

use super::claim::{ClaimFail, Claimed, claim, enqueue};
use super::labels::Share;
use super::lobby::{EntryRef, remove_entry};
use super::member::Joiner;
use super::prior::Prior;
use crate::app::App;
use crate::db::attr::{n, s};
use crate::db::keys;
use crate::db::{QuerySpec, StoreError, Table};
use crate::model::{Circle, LabelMode, LobbyEntry, Member, random_id};
use crate::rules::matching::{Seeker, compatible};

/// How long a run holds its circle without renewing.
const LEASE: Duration = Duration::from_secs(10);
/// A run hands over after this long.
const RUN_BUDGET: Duration = Duration::from_secs(8);
/// Pair transactions in flight at once.
const FAN_OUT: usize = 32;

/// Makes sure a run of the matchmaker will see the caller's lobby entry
/// (written before this is called): returns at once when a run holds the
/// lease, else runs one here.
pub(crate) async fn ensure_run(app: &App, circle: &Circle) {
    let lease = app
        .store
        .get(Table::Groups, keys::matchmaker(&circle.cid), true)
        .await;
    let held = match &lease {
        Ok(Some(item)) => crate::db::attr::opt_n(item, "until").is_some_and(|u| u > app.now_ms()),
        Ok(None) => false,
        Err(err) => {
            // The entry stays; the next join or keep-alive starts a run.
            tracing::warn!(error = %err, "could not read the matchmaker's lease");
            return;
        }
    };
    if held {
        return;
    }
    // Its own task, awaited here: a run's pairings are not polled from deep
    // inside the joiner's own handler (its stack), and the invocation still
    // ends only when the run does.
    let (app, circle) = (app.clone(), circle.clone());
    match tokio::spawn(async move { run(&app, &circle).await }).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "a matchmaker run stopped early"),
        Err(err) => tracing::warn!(error = %err, "a matchmaker run failed"),
    }
}

/// Takes the lease for `run_id` if it is free or expired; `false` if held.
async fn acquire(app: &App, circle: &Circle, run_id: &str) -> Result<bool, StoreError> {
    let now = app.now_ms();
    let op = app.store.update_op(
        Table::Groups,
        keys::matchmaker(&circle.cid),
        "SET #holder = :me, #until = :until, #expires_at = :exp",
        Some("attribute_not_exists(#until) OR #until <= :now OR #holder = :me"),
        vec![
            (":me", s(run_id)),
            (":until", n(now + App::ms(LEASE))),
            (":now", n(now)),
            (":exp", n(circle.expires_at)),
        ],
    );
    match app.store.update(op).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Lets the lease go, if it is still ours.
async fn release(app: &App, circle: &Circle, run_id: &str) -> Result<(), StoreError> {
    let op = app.store.update_op(
        Table::Groups,
        keys::matchmaker(&circle.cid),
        "SET #until = :zero",
        Some("#holder = :me"),
        vec![(":zero", n(0)), (":me", s(run_id))],
    );
    match app.store.update(op).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err),
    }
}

/// One run: passes while they pair anyone, then the release and the look after it.
async fn run(app: &App, circle: &Circle) -> Result<(), StoreError> {
    let run_id = random_id(12);
    if !acquire(app, circle, &run_id).await? {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut holding = true;
    let mut passes = 0u32;
    loop {
        let entries = read_lobby(app, circle).await?;
        load_members(app, circle, &entries, &mut members).await?;
        let pairs = plan(&entries, &members, app.now_ms(), circle.labels.active());
        if pairs.is_empty() {
            if !holding {
                return Ok(());
            }
            // Let go, then look once more: see the module's doc.
            release(app, circle, &run_id).await?;
            holding = false;
            continue;
        }
        if !holding {
            if !acquire(app, circle, &run_id).await? {
                // Whoever holds it now reads the lobby after taking it.
                return Ok(());
            }
            holding = true;
            continue;
        }
        passes += 1;
        let (paired, share) = commit(app, circle, &entries, &pairs, &mut members).await;
        // One count for the pass (every waiter's member record already exists).
        let chats = i64::try_from(paired).unwrap_or(0);
        super::room::add_counts(app, circle, chats, 0, share).await;
        tracing::info!(cid = %circle.cid, passes, pairs = pairs.len(), paired, "matchmaker pass");
        if started.elapsed() > RUN_BUDGET || !acquire(app, circle, &run_id).await? {
            // Over budget, or the lease was lost: whoever joins next goes on.
            return release(app, circle, &run_id).await;
        }
    }
}

/// Every live entry of the circle's lobby; stale ones are removed on the way.
async fn read_lobby(app: &App, circle: &Circle) -> Result<Vec<LobbyEntry>, StoreError> {
    let now = app.now_ms();
    let cut = now - App::ms(app.settings.presence_window);
    let mut live = Vec::new();
    let mut stale = Vec::new();
    for shard in 0..circle.shards.max(1) {
        let q = QuerySpec::partition(Table::Groups, "pk", keys::lobby_pk(&circle.cid, shard));
        for item in app.store.query_all(q, usize::MAX).await? {
            let e = LobbyEntry::from_item(&item)?;
            if e.seen < cut || e.expires_at * 1000 <= now {
                stale.push(e);
            } else {
                live.push(e);
            }
        }
    }
    futures_util::future::join_all(
        stale.iter().map(|e| async move {
            remove_entry(app, circle, &EntryRef::from(e), Some(e.seen)).await
        }),
    )
    .await;
    Ok(live)
}

/// Reads the member records the plan needs and hasn't got (fresh members have none).
async fn load_members(
    app: &App,
    circle: &Circle,
    entries: &[LobbyEntry],
    members: &mut HashMap<String, Member>,
) -> Result<(), StoreError> {
    let missing: Vec<_> = entries
        .iter()
        .filter(|e| !e.fresh && !members.contains_key(&e.mid))
        .map(|e| (Table::Groups, keys::member(&circle.cid, &e.mid), true))
        .collect();
    for chunk in missing.chunks(100) {
        for item in app.store.batch_get(chunk).await?.into_iter().flatten() {
            let m = Member::from_item(&item)?;
            members.insert(m.mid.clone(), m);
        }
    }
    Ok(())
}

/// A maximal matching of the lobby by the lobby's own rules: each waiter (in
/// random order) takes a compatible never-met waiter of a preferred label
/// (`mode`, in a circle with labels) if there is one; those left take any
/// compatible never-met waiter; those left then take whoever they met longest
/// ago. Nobody is paired with someone met while a compatible never-met waiter
/// is left, and no two compatible waiters are left.
fn plan(
    entries: &[LobbyEntry],
    members: &HashMap<String, Member>,
    now: i64,
    mode: Option<LabelMode>,
) -> Vec<(usize, usize)> {
    // A removed member's entry is about to go; nobody is paired with it.
    let removed = |e: &LobbyEntry| members.get(&e.mid).is_some_and(|m| m.removed);
    let seekers: Vec<Seeker<'_>> = entries
        .iter()
        .map(|e| Seeker {
            conn: &e.conn,
            mid: &e.mid,
            member: members.get(&e.mid),
            avoid: e.avoid.as_deref(),
            avoid_until: e.avoid_until,
            prefer: mode.zip(e.label.as_deref()),
        })
        .collect();
    let fits = |a: usize, b: usize| {
        compatible(&seekers[a], &entries[b], now)
            && compatible(&seekers[b], &entries[a], now)
            && !removed(&entries[a])
            && !removed(&entries[b])
    };
    let met = |a: usize, b: usize| seekers[a].member.and_then(|m| m.last_met(&entries[b].mid));
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.shuffle(&mut rand::rng());
    let mut mate: Vec<Option<usize>> = vec![None; entries.len()];
    let mut pairs = Vec::new();
    // Tiers: 0 never met and preferred, 1 never met, 2 whoever met longest ago.
    let tiers = if mode.is_some() { 0..3 } else { 1..3 };
    for tier in tiers {
        for &a in &order {
            if mate[a].is_some() {
                continue;
            }
            let mut candidates = order
                .iter()
                .copied()
                .filter(|&b| b != a && mate[b].is_none() && fits(a, b));
            let prefers = |b: usize| seekers[a].prefers(entries[b].label.as_deref());
            let pick = match tier {
                0 => candidates.find(|&b| met(a, b).is_none() && prefers(b)),
                1 => candidates.find(|&b| met(a, b).is_none()),
                _ => candidates.min_by_key(|&b| met(a, b).unwrap_or(i64::MIN)),
            };
            if let Some(b) = pick {
                mate[a] = Some(b);
                mate[b] = Some(a);
                pairs.push((a, b));
            }
        }
    }
    pairs
}

/// Commits the planned pairs, many at once; how many went through. A side
/// whose partner turned out to be gone goes back into the lobby.
async fn commit(
    app: &App,
    circle: &Circle,
    entries: &[LobbyEntry],
    pairs: &[(usize, usize)],
    members: &mut HashMap<String, Member>,
) -> (usize, Share) {
    let jobs: Vec<_> = pairs.iter().map(|&(a, b)| {
        let joiner = joiner_of(circle, &entries[a], members);
        let prior = Prior::Waiting {
            ticket: entries[a].ticket.clone(),
            entry: Some((circle.cid.clone(), entries[a].shard)),
        };
        let waiter = &entries[b];
        async move {
            let result = claim(app, circle, &joiner, &prior, waiter, false).await;
            if let Ok(Claimed::WaiterGone) = result
                && let Err(err) = enqueue(app, circle, &joiner, &Prior::Idle, waiter.shard, 1).await
            {
                // `joiner` was told nothing and is idle now: back to the lobby.
                tracing::info!(error = ?err, "a waiter whose partner was gone could not wait again");
            }
            (a, b, result)
        }
    }).collect();
    let results: Vec<_> = futures_util::stream::iter(jobs)
        .buffer_unordered(FAN_OUT)
        .collect()
        .await;
    let mut paired = 0;
    let mut share = Share::default();
    for (a, b, result) in results {
        match result {
            Ok(Claimed::Told) => {
                paired += 1;
                share.add(Share::of(
                    entries[a].label.as_deref(),
                    entries[b].label.as_deref(),
                ));
                // Their histories changed: read again if they are ever needed.
                members.remove(&entries[a].mid);
                members.remove(&entries[b].mid);
            }
            Ok(Claimed::WaiterGone) | Err(ClaimFail::Claimed) => {}
            // A member record changed (a block, a removal): read it again.
            Err(ClaimFail::MyMember) => {
                members.remove(&entries[a].mid);
            }
            Err(ClaimFail::Waiter) => {
                members.remove(&entries[b].mid);
            }
            // The record is not waiting under that entry (a lost
            // `$disconnect`, or it moved on): the entry goes.
            Err(ClaimFail::Me) => {
                remove_entry(app, circle, &EntryRef::from(&entries[a]), None).await;
            }
            Err(ClaimFail::Store(err)) => {
                tracing::info!(error = %err, "a matchmaker pair did not commit");
            }
        }
    }
    (paired, share)
}

/// A waiter as the claiming side of a pair.
fn joiner_of(circle: &Circle, e: &LobbyEntry, members: &HashMap<String, Member>) -> Joiner {
    Joiner {
        conn: e.conn.clone(),
        name: e.name.clone(),
        mid: e.mid.clone(),
        // Its member record exists: it was written with the entry.
        member: Some(members.get(&e.mid).cloned().unwrap_or_else(|| Member {
            mid: e.mid.clone(),
            expires_at: circle.expires_at,
            ..Member::default()
        })),
        avoid: e.avoid.clone(),
        avoid_until: e.avoid_until,
        code: circle.code.as_str().to_owned(),
        expires_at: e.expires_at,
        label: circle.labels.active().zip(e.label.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::matching::test_entry as entry;

    fn member(mid: &str, met: &[(&str, i64)], blocked: &[&str]) -> (String, Member) {
        (
            mid.to_owned(),
            Member {
                mid: mid.into(),
                met: met.iter().map(|(m, at)| ((*m).to_owned(), *at)).collect(),
                blocked: blocked.iter().map(|b| (*b).to_owned()).collect(),
                ..Member::default()
            },
        )
    }

    #[test]
    fn a_crowd_is_paired_by_never_met_first_then_met_longest_ago_and_never_blocked() {
        // a met b; c met d long ago and d met c; e blocked f.
        let members: HashMap<String, Member> = [
            member("a", &[("b", 10)], &[]),
            member("b", &[("a", 10)], &[]),
            member("e", &[], &["f"]),
        ]
        .into();
        for _ in 0..50 {
            let entries: Vec<LobbyEntry> = ["a", "b", "e", "f"].into_iter().map(entry).collect();
            let pairs = plan(&entries, &members, 0, None);
            assert_eq!(pairs.len(), 2, "everyone is paired: {pairs:?}");
            for (x, y) in pairs {
                let (x, y) = (&entries[x].mid, &entries[y].mid);
                assert!(
                    !matches!((x.as_str(), y.as_str()), ("a", "b") | ("b", "a")),
                    "never-met first"
                );
                assert!(
                    !matches!((x.as_str(), y.as_str()), ("e", "f") | ("f", "e")),
                    "never blocked"
                );
            }
        }
        // Only people who met each other left: the one met longest ago.
        let members: HashMap<String, Member> = [
            member("a", &[("b", 10), ("c", 5)], &[]),
            member("b", &[("a", 10)], &[]),
            member("c", &[("a", 5)], &[]),
        ]
        .into();
        let entries: Vec<LobbyEntry> = ["a", "b", "c"].into_iter().map(entry).collect();
        for _ in 0..50 {
            let pairs = plan(&entries, &members, 0, None);
            assert_eq!(pairs.len(), 1);
        }
    }

    #[test]
    fn a_crowd_with_labels_is_paired_by_preferred_label_first() {
        let labelled = |mid: &str, label: &str| LobbyEntry {
            label: Some(label.into()),
            ..entry(mid)
        };
        let crowd = || {
            vec![
                labelled("a1", "A"),
                labelled("a2", "A"),
                labelled("b1", "B"),
                labelled("b2", "B"),
                labelled("c1", "A"),
            ]
        };
        for _ in 0..50 {
            let entries = crowd();
            let pairs = plan(&entries, &HashMap::new(), 0, Some(LabelMode::Across));
            let across = pairs
                .iter()
                .filter(|(x, y)| entries[*x].label != entries[*y].label)
                .count();
            assert_eq!((pairs.len(), across), (2, 2), "{pairs:?}");
            let pairs = plan(&entries, &HashMap::new(), 0, Some(LabelMode::Within));
            let within = pairs
                .iter()
                .filter(|(x, y)| entries[*x].label == entries[*y].label)
                .count();
            assert_eq!((pairs.len(), within), (2, 2), "{pairs:?}");
        }
    }

    #[test]
    fn a_removed_member_is_paired_with_nobody() {
        let mut gone = member("b", &[], &[]);
        gone.1.removed = true;
        let members: HashMap<String, Member> = [gone].into();
        let entries: Vec<LobbyEntry> = ["a", "b"].into_iter().map(entry).collect();
        assert!(plan(&entries, &members, 0, None).is_empty());
    }

    #[test]
    fn the_repeat_guard_and_one_member_twice_stay_apart() {
        let mut a = entry("a");
        a.avoid = Some("b".into());
        a.avoid_until = 100;
        let mut a2 = entry("a");
        a2.conn = "c-a2".into();
        a2.ticket = "t-a2".into();
        let entries = vec![a, entry("b"), a2];
        let pairs = plan(&entries, &HashMap::new(), 50, None);
        // a2 (the same member as a) can only be paired with b.
        assert_eq!(pairs.len(), 1);
        let (x, y) = pairs[0];
        let mut conns = [entries[x].conn.as_str(), entries[y].conn.as_str()];
        conns.sort();
        assert_eq!(conns, ["c-a2", "c-b"]);
    }
}
