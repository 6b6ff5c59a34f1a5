//! The pairing loop of one join: read the lobby, claim the best waiter (or
//! up to three, as each may be taken by someone else), else wait (enqueue and
//! read again, invariant 3); hand a crowd to the matchmaker. Lost races never
//! end a join: only a store that keeps refusing does.
//!
//! What the loop carries from one read to the next is one struct, [`Seek`],
//! and each step is a method: [`Seek::read`], [`Seek::claim_best`],
//! [`Seek::wait`].

use std::collections::HashSet;

use rand::Rng;
use tokio::time::Instant;

use super::claim::{ClaimFail, Claimed, claim, enqueue};
use super::lobby::{self, Found, remove_stale};
use super::matchmaker::ensure_run;
use super::member::{Joiner, load_member};
use super::notices::{notify_self, notify_waiters, waiting_event, why};
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
    me: Joiner,
    prior: Prior,
    keep_alive: bool,
) -> Result<(), ActionError> {
    Seek::new(app, circle, me, prior, keep_alive).run().await
}

/// What a step decided.
enum Step<T = ()> {
    /// Go on with this.
    Go(T),
    /// Read the lobby again.
    Again,
    /// The join is over: paired, waiting, or told by someone who paired it.
    Done,
}

/// One join's loop, and what it carries from one read of the lobby to the next.
struct Seek<'a> {
    app: &'a App,
    circle: &'a Circle,
    me: Joiner,
    /// Where the joiner's record stands: every write is conditioned on it.
    prior: Prior,
    /// A keep-alive refreshes its entry's presence on its first read.
    keep_alive: bool,
    /// The lobby shard the joiner reads first and waits in.
    home: u32,
    /// Waiters already lost to someone else.
    skip: HashSet<String>,
    /// `waiting` was sent (once per join, before the entry exists).
    told_waiting: bool,
    /// The joiner enqueued during this join.
    enqueued: bool,
    /// Refusals by the store so far (conflicts, throttles).
    refusals: u32,
    /// A claim was lost to someone else: others are pairing right now.
    lost_race: bool,
    started: Instant,
}

impl<'a> Seek<'a> {
    fn new(app: &'a App, circle: &'a Circle, me: Joiner, prior: Prior, keep_alive: bool) -> Self {
        let home = match &prior {
            Prior::Waiting {
                entry: Some((cid, shard)),
                ..
            } if *cid == circle.cid => *shard,
            _ => rand::rng().random_range(0..circle.shards.max(1)),
        };
        Self {
            app,
            circle,
            me,
            prior,
            keep_alive,
            home,
            skip: HashSet::new(),
            told_waiting: false,
            enqueued: false,
            refusals: 0,
            lost_race: false,
            started: Instant::now(),
        }
    }

    async fn run(mut self) -> Result<(), ActionError> {
        loop {
            // Lost races are others' progress and never end a join; only a store
            // that keeps refusing does (`max_attempts` conflicts or throttles), or,
            // as a last resort, the function's timeout drawing near.
            if self.refusals >= self.app.settings.max_attempts
                || self.started.elapsed() > self.app.settings.join_budget
            {
                tracing::warn!(
                    refusals = self.refusals,
                    "join gave up: the store kept refusing"
                );
                return Err(ActionError::Busy);
            }
            let found = match self.read().await? {
                Step::Go(found) => found,
                Step::Again => continue,
                Step::Done => return Ok(()),
            };
            remove_stale(self.app, self.circle, &found).await;
            let waiting_here = self.enqueued
                || matches!(&self.prior, Prior::Waiting { entry: Some((cid, _)), .. } if *cid == self.circle.cid);
            // A crowd: others are pairing right now (this join lost a race, or
            // several new members wait who could all be paired with each other).
            // Wait, and leave the pairing to the matchmaker.
            let fresh = found.ranked.iter().filter(|e| e.fresh).count();
            let crowded = self.lost_race || fresh >= self.app.settings.crowd.max(1);
            if crowded && waiting_here {
                Box::pin(ensure_run(self.app, self.circle)).await;
                return Ok(());
            }
            let claims = if crowded { 0 } else { TRIES_PER_READ };
            let tried = match self.claim_best(&found, claims).await? {
                Step::Go(tried) => tried,
                Step::Again => continue,
                Step::Done => return Ok(()),
            };
            if waiting_here {
                // Our entry is in the lobby, so anyone arriving sees us; what we
                // read may still hold someone compatible we haven't tried.
                if found.ranked.len() > tried || (tried > 0 && !found.complete) {
                    continue;
                }
                if let Some(mine) = &found.mine {
                    let why = why(self.app, &self.me.seeker(), &found);
                    notify_self(self.app, self.circle, mine, &found, why).await;
                }
                return Ok(());
            }
            // Nobody to pair with, or every waiter tried was taken by someone
            // else: wait (the re-read after enqueuing pairs us if someone is
            // still there), which also spreads a crowd of joiners over more waiters.
            match self.wait(&found, crowded).await? {
                Step::Done => return Ok(()),
                Step::Go(()) | Step::Again => {}
            }
        }
    }

    /// One read of the lobby, with a keep-alive's presence refresh beside it.
    async fn read(&mut self) -> Result<Step<Found>, ActionError> {
        let (app, circle) = (self.app, self.circle);
        let refresh = async {
            match (&self.prior, self.keep_alive) {
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
        let seeker = self.me.seeker();
        let (found, refreshed) = tokio::join!(
            lobby::find(app, circle, self.home, &seeker, &self.skip),
            refresh
        );
        let found = match found {
            Ok(found) => found,
            Err(err) if err.is_retryable() => {
                self.refused().await;
                return Ok(Step::Again);
            }
            Err(err) => return Err(err.into()),
        };
        if !self.keep_alive {
            return Ok(Step::Go(found));
        }
        self.keep_alive = false;
        match refreshed {
            Ok(()) => Ok(Step::Go(found)),
            // Our entry is gone: claimed (then we were told) or removed as
            // stale. Our record says which.
            Err(StoreError::ConditionFailed) => {
                match Prior::reload(app, &self.me.conn, true).await? {
                    Some(prior) => {
                        self.prior = prior;
                        Ok(Step::Again)
                    }
                    None => Ok(Step::Done),
                }
            }
            // Our entry is in someone's claim in flight: look again once it
            // has settled.
            Err(err) if err.is_retryable() => {
                self.keep_alive = true;
                self.refused().await;
                Ok(Step::Again)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Claims the best of what was read, up to `claims` waiters; goes on with
    /// how many were tried when none could be had.
    async fn claim_best(
        &mut self,
        found: &Found,
        claims: usize,
    ) -> Result<Step<usize>, ActionError> {
        let (app, circle) = (self.app, self.circle);
        let mut tried = 0;
        for waiter in found.ranked.iter().take(claims) {
            tried += 1;
            match Box::pin(claim(app, circle, &self.me, &self.prior, waiter, true)).await {
                Ok(Claimed::Told) => {
                    notify_waiters(app, circle, found, Some(&waiter.ticket), None).await;
                    return Ok(Step::Done);
                }
                Ok(Claimed::WaiterGone) => {
                    self.skip.insert(waiter.ticket.clone());
                    // The claim took our own entry with it: we are idle now.
                    self.prior = Prior::Idle;
                    self.enqueued = false;
                    return Ok(Step::Again);
                }
                Err(ClaimFail::Waiter) => {
                    self.skip.insert(waiter.ticket.clone());
                    self.lost_race = true;
                }
                Err(ClaimFail::Claimed) => return Ok(Step::Done),
                Err(ClaimFail::Me) => return self.reread_me(false).await,
                Err(ClaimFail::MyMember) => {
                    self.reload_member().await?;
                    return Ok(Step::Again);
                }
                Err(ClaimFail::Store(err)) if err.is_retryable() => {
                    self.lost_race = true;
                    self.refused().await;
                    return Ok(Step::Again);
                }
                Err(ClaimFail::Store(err)) => return Err(err.into()),
            }
        }
        Ok(Step::Go(tried))
    }

    /// Tells the joiner it waits (once), then enqueues it.
    async fn wait(&mut self, found: &Found, crowded: bool) -> Result<Step, ActionError> {
        let (app, circle) = (self.app, self.circle);
        if !self.told_waiting {
            // Told before the entry exists, so no `join_room` can overtake it.
            let why = why(app, &self.me.seeker(), found);
            let waiting = waiting_event(app, circle, found.count(true), why);
            if send(app, &self.me.conn, &waiting).await == Err(GatewayError::Gone) {
                return Ok(Step::Done);
            }
            self.told_waiting = true;
        }
        let enqueued = enqueue(
            app,
            circle,
            &self.me,
            &self.prior,
            self.home,
            found.count(true),
        );
        match Box::pin(enqueued).await {
            Ok(ticket) => {
                self.prior = Prior::Waiting {
                    ticket,
                    entry: Some((circle.cid.clone(), self.home)),
                };
                if self.me.member.is_none() {
                    self.me.member = Some(Member {
                        mid: self.me.mid.clone(),
                        expires_at: circle.expires_at,
                        ..Member::default()
                    });
                }
                self.enqueued = true;
                notify_waiters(app, circle, found, None, Some(&self.me.seeker())).await;
                if crowded {
                    // No second read: the matchmaker's reads stand for it.
                    Box::pin(ensure_run(app, circle)).await;
                    return Ok(Step::Done);
                }
                Ok(Step::Again)
            }
            Err(ClaimFail::Me) => self.reread_me(true).await,
            Err(ClaimFail::MyMember) => {
                self.reload_member().await?;
                Ok(Step::Again)
            }
            Err(ClaimFail::Waiter | ClaimFail::Claimed) => Ok(Step::Again),
            Err(ClaimFail::Store(err)) if err.is_retryable() => {
                self.refused().await;
                Ok(Step::Again)
            }
            Err(ClaimFail::Store(err)) => Err(err.into()),
        }
    }

    /// Our record was not as read: read it again (done if someone paired us;
    /// they told us). With `adopt_home`, a waiting record's shard becomes home.
    async fn reread_me<T>(&mut self, adopt_home: bool) -> Result<Step<T>, ActionError> {
        let Some(prior) = Prior::reload(self.app, &self.me.conn, false).await? else {
            return Ok(Step::Done);
        };
        if adopt_home
            && let Prior::Waiting {
                entry: Some((_, shard)),
                ..
            } = &prior
        {
            self.home = *shard;
        }
        self.prior = prior;
        Ok(Step::Again)
    }

    /// Our member record was not as read: read it again (`Removed` ends the join).
    async fn reload_member(&mut self) -> Result<(), ActionError> {
        self.me.member = load_member(self.app, &self.circle.cid, &self.me.mid).await?;
        Ok(())
    }

    /// Counts a refusal by the store and backs off.
    async fn refused(&mut self) {
        self.refusals += 1;
        backoff(self.app, self.refusals).await;
    }
}
