//! The pairing loop of one join: read the lobby, claim the best waiter (or
//! up to three, as each may be taken by someone else), else wait (enqueue and
//! read again, invariant 3); hand a crowd to the matchmaker. Lost races never
//! end a join: only a store that keeps refusing does.

use std::collections::HashSet;

use rand::Rng;

use super::claim::{ClaimFail, Claimed, claim, enqueue};
use super::lobby::{self, remove_stale};
use super::member::{Joiner, load_member};
use super::notices::{notify_self, notify_waiters, waiting_event};
use super::ops::*;
use super::prior::Prior;
use crate::app::App;
use crate::db::attr::n;
use crate::db::{StoreError, Table, keys};
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::model::{Circle, Member};

/// Candidates tried from one read of the lobby before reading it again.
const TRIES_PER_READ: usize = 3;

/// Pairs the joiner with a waiter, or puts it in the lobby.
pub(crate) async fn seek(
    app: &App,
    circle: &Circle,
    mut me: Joiner,
    mut prior: Prior,
    mut keep_alive: bool,
) -> Result<(), ActionError> {
    let started = tokio::time::Instant::now();
    let mut skip: HashSet<String> = HashSet::new();
    let mut told_waiting = false;
    let mut enqueued = false;
    let mut conflicts = 0u32;
    let mut lost_race = false;
    let mut home = match &prior {
        Prior::Waiting {
            entry: Some((cid, shard)),
            ..
        } if *cid == circle.cid => *shard,
        _ => rand::rng().random_range(0..circle.shards.max(1)),
    };
    loop {
        // Lost races are others' progress and never end a join; only a store
        // that keeps refusing does (`max_attempts` conflicts or throttles), or,
        // as a last resort, the function's timeout drawing near.
        if conflicts >= app.settings.max_attempts || started.elapsed() > app.settings.join_budget {
            tracing::warn!(conflicts, "join gave up: the store kept refusing");
            return Err(ActionError::Busy);
        }
        // A keep-alive refreshes its entry's presence while it looks around.
        let refresh = async {
            match (&prior, keep_alive) {
                (
                    Prior::Waiting {
                        ticket,
                        entry: Some((cid, shard)),
                    },
                    true,
                ) => {
                    let op = app.store.update_op(
                        Table::Groups,
                        keys::entry(cid, *shard, ticket),
                        "SET #seen = :now",
                        Some("attribute_exists(#sk)"),
                        vec![(":now", n(app.now_ms()))],
                    );
                    app.store.update(op).await
                }
                _ => Ok(()),
            }
        };
        let seeker = me.seeker();
        let (found, refreshed) =
            tokio::join!(lobby::find(app, circle, home, &seeker, &skip), refresh);
        let found = match found {
            Ok(found) => found,
            Err(err) if err.is_retryable() => {
                conflicts += 1;
                backoff(conflicts).await;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        if keep_alive {
            keep_alive = false;
            match refreshed {
                Ok(()) => {}
                Err(StoreError::ConditionFailed) => {
                    // Our entry is gone: claimed (then we were told) or removed
                    // as stale. Look at our record to know which.
                    match Prior::reload(app, &me.conn, true).await? {
                        Some(p) => prior = p,
                        None => return Ok(()),
                    }
                    continue;
                }
                // Our entry is in someone's claim in flight: look again once
                // it has settled.
                Err(err) if err.is_retryable() => {
                    keep_alive = true;
                    conflicts += 1;
                    backoff(conflicts).await;
                    continue;
                }
                Err(err) => return Err(err.into()),
            }
        }
        remove_stale(app, circle, &found).await;
        let waiting_here = enqueued
            || matches!(&prior, Prior::Waiting { entry: Some((cid, _)), .. } if *cid == circle.cid);
        // A crowd: others are pairing right now (this join lost a race, or
        // several new members wait who could all be paired with each other).
        // Wait, and leave the pairing to the matchmaker.
        let crowded = lost_race
            || found.ranked.iter().filter(|e| e.fresh).count() >= app.settings.crowd.max(1);
        if crowded && waiting_here {
            Box::pin(super::matchmaker::ensure_run(app, circle)).await;
            return Ok(());
        }

        let mut retry = false;
        let mut tried = 0;
        let claims = if crowded { 0 } else { TRIES_PER_READ };
        for waiter in found.ranked.iter().take(claims) {
            tried += 1;
            match Box::pin(claim(app, circle, &me, &prior, waiter, true)).await {
                Ok(Claimed::Told) => {
                    notify_waiters(app, circle, &found, Some(&waiter.ticket), false).await;
                    return Ok(());
                }
                Ok(Claimed::WaiterGone) => {
                    skip.insert(waiter.ticket.clone());
                    // The claim took our own entry with it: we are idle now.
                    prior = Prior::Idle;
                    enqueued = false;
                    retry = true;
                    break;
                }
                Err(ClaimFail::Waiter) => {
                    skip.insert(waiter.ticket.clone());
                    lost_race = true;
                }
                Err(ClaimFail::Claimed) => return Ok(()),
                Err(ClaimFail::Me) => {
                    match Prior::reload(app, &me.conn, false).await? {
                        Some(p) => prior = p,
                        // Someone claimed us meanwhile; they told us.
                        None => return Ok(()),
                    }
                    retry = true;
                    break;
                }
                Err(ClaimFail::MyMember) => {
                    me.member = load_member(app, &circle.cid, &me.mid).await?;
                    retry = true;
                    break;
                }
                Err(ClaimFail::Store(err)) if err.is_retryable() => {
                    conflicts += 1;
                    lost_race = true;
                    backoff(conflicts).await;
                    retry = true;
                    break;
                }
                Err(ClaimFail::Store(err)) => return Err(err.into()),
            }
        }
        if retry {
            continue;
        }
        if waiting_here {
            // Our entry is in the lobby, so anyone arriving sees us; what we
            // read may still hold someone compatible we haven't tried.
            if found.ranked.len() > tried || (tried > 0 && !found.complete) {
                continue;
            }
            if let Some(mine) = &found.mine {
                notify_self(app, circle, mine, &found).await;
            }
            return Ok(());
        }
        // Nobody to pair with, or every waiter tried was taken by someone else:
        // wait (the re-read after enqueuing pairs us if someone is still there),
        // which also spreads a crowd of joiners over more waiters.
        if !told_waiting {
            // Told before the entry exists, so no `join_room` can overtake it.
            let waiting = waiting_event(app, circle, found.count(true));
            if send(app, &me.conn, &waiting).await == Err(GatewayError::Gone) {
                return Ok(());
            }
            told_waiting = true;
        }
        match Box::pin(enqueue(app, circle, &me, &prior, home, found.count(true))).await {
            Ok(ticket) => {
                prior = Prior::Waiting {
                    ticket,
                    entry: Some((circle.cid.clone(), home)),
                };
                if me.member.is_none() {
                    me.member = Some(Member {
                        mid: me.mid.clone(),
                        expires_at: circle.expires_at,
                        ..Member::default()
                    });
                }
                enqueued = true;
                notify_waiters(app, circle, &found, None, true).await;
                if crowded {
                    // No second read: the matchmaker's reads stand for it.
                    Box::pin(super::matchmaker::ensure_run(app, circle)).await;
                    return Ok(());
                }
            }
            Err(ClaimFail::Me) => match Prior::reload(app, &me.conn, false).await? {
                Some(p) => {
                    if let Prior::Waiting {
                        entry: Some((_, shard)),
                        ..
                    } = &p
                    {
                        home = *shard;
                    }
                    prior = p;
                }
                None => return Ok(()),
            },
            Err(ClaimFail::MyMember) => {
                me.member = load_member(app, &circle.cid, &me.mid).await?;
            }
            Err(ClaimFail::Waiter | ClaimFail::Claimed) => {}
            Err(ClaimFail::Store(err)) if err.is_retryable() => {
                conflicts += 1;
                backoff(conflicts).await;
            }
            Err(ClaimFail::Store(err)) => return Err(err.into()),
        }
    }
}
