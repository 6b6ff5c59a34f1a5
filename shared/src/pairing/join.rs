//! `$connect` and `join_group`: entering a lobby, claiming a waiter, and undoing
//! a pairing with a waiter whose connection turned out to be gone.
//!
//! A join reads the circle, its own record and its member record in one
//! `BatchGetItem` (the member's key is known up front when the client names the
//! circle's id), then a page of the lobby; it pairs with one `TransactWriteItems`
//! or waits with one, re-reading the lobby after it enqueues (invariant 3). A
//! joiner who loses a waiter to someone else tries the next candidate it already
//! read before reading again.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::Update;
use rand::Rng;

use super::lobby::{self, Found, Seeker};
use super::ops::*;
use crate::app::App;
use crate::circles;
use crate::clock::rfc3339_millis;
use crate::code::AccessCode;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::keys;
use crate::model::{Circle, ConnState, Connection, IDLE, LobbyEntry, Member, Room, random_id};
use crate::protocol::{GroupInfo, Participant, RoundInfo, ServerEvent};
use crate::ratelimit::Kind;
use crate::secrets::{domain, token};
use crate::store::attr::{n, s, strings};
use crate::store::{StoreError, Table, tx_delete, tx_put, tx_update};

/// A member's history keeps this many meetings; older ones are dropped when the
/// member next joins, so a join's read stays about one read unit.
pub const MET_CAP: usize = 200;
/// Candidates tried from one read of the lobby before reading it again.
const TRIES_PER_READ: usize = 3;

/// `$connect`: a fresh idle record that expires after API Gateway's 2 h maximum.
pub async fn connect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let now_ms = app.now_ms();
    let ttl = i64::try_from(app.settings.connection_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let conn = Connection::new(conn_id, now_ms, now_ms.div_euclid(1000) + ttl);
    let op = app
        .store
        .put_op(Table::Connections, conn.to_item(), None, vec![]);
    app.store.put(op).await?;
    Ok(())
}

/// A `join_group` as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct JoinRequest<'a> {
    pub access_code: &'a str,
    pub name: &'a str,
    pub member: Option<&'a str>,
    /// The circle's stable id as the client believes it.
    pub circle: Option<&'a str>,
}

/// Refuses a connection over its allowance, marking its record so every
/// instance refuses it until the mark passes.
pub(crate) async fn throttle(app: &App, conn_id: &str, kind: Kind) -> Result<(), ActionError> {
    let now = app.now_ms();
    if app.limiter.allow(conn_id, kind, now) {
        return Ok(());
    }
    if !app.limiter.should_mark(conn_id, now) {
        return Err(ActionError::RateLimited);
    }
    let op = app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        "SET #thr = :until",
        Some("attribute_exists(#connection_id) AND (attribute_not_exists(#thr) OR #thr < :now)"),
        vec![
            (":until", n(now + crate::ratelimit::THROTTLE_MS)),
            (":now", n(now)),
        ],
    );
    match app.store.update(op).await {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(err) => tracing::warn!(error = %err, "could not mark a throttled connection"),
    }
    Err(ActionError::RateLimited)
}

/// The joiner: who it is in this circle and what it knows of itself.
#[derive(Debug, Clone)]
pub(crate) struct Joiner {
    pub conn: String,
    pub name: String,
    pub mid: String,
    pub member: Option<Member>,
    pub avoid: Option<String>,
    pub avoid_until: i64,
    pub code: String,
    /// Its record's expiry (no later than the circle's).
    pub expires_at: i64,
}

impl Joiner {
    fn seeker(&self) -> Seeker<'_> {
        Seeker {
            conn: &self.conn,
            mid: &self.mid,
            member: self.member.as_ref(),
            avoid: self.avoid.as_deref(),
            avoid_until: self.avoid_until,
        }
    }

    fn identity<'a>(&'a self, circle: &'a Circle) -> Identity<'a> {
        Identity {
            cid: &circle.cid,
            code: &self.code,
            mid: &self.mid,
            name: &self.name,
            expires_at: self.expires_at,
            circle_expires_at: circle.expires_at,
        }
    }
}

/// A fresh id for a joiner without a member secret: it has no history.
fn anonymous_member() -> String {
    let mut bytes = [0u8; crate::secrets::MEMBER_ID_BYTES];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `join_group`: enter the circle's lobby, then get paired (or wait).
pub async fn join(app: &App, conn_id: &str, req: JoinRequest<'_>) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Join).await?;
    let code = AccessCode::parse(req.access_code).ok_or(ActionError::GroupNotFound)?;
    let hinted = match (req.circle, req.member) {
        (Some(cid), Some(secret)) => {
            Some((cid.to_owned(), app.settings.hash_key.member_id(cid, secret)))
        }
        _ => None,
    };
    let mut wanted = vec![
        (Table::Groups, keys::circle(code.as_str()), true),
        (Table::Connections, keys::connection(conn_id), false),
    ];
    if let Some((cid, mid)) = &hinted {
        wanted.push((Table::Groups, keys::member(cid, mid), true));
    }
    let got = app.store.batch_get(&wanted).await?;
    let conn = parse_connection(app, got[1].as_ref())?.ok_or(ActionError::UnknownConnection)?;
    if conn.throttled_until > app.now_ms() {
        return Err(ActionError::RateLimited);
    }
    let circle = match got[0].as_ref() {
        Some(item) => {
            let c = Circle::from_item(item)?;
            if c.is_expired(app.now_secs()) {
                return Err(ActionError::GroupExpired);
            }
            c
        }
        // A code since replaced still works for whoever came in with it on
        // this connection: waiting, chatting, or between chats ("Find
        // someone new" after a partner left). A new connection can't use it.
        None => match (&conn.cid, &conn.code) {
            (Some(cid), Some(c)) if c == code.as_str() => circles::get_by_cid(app, cid)
                .await?
                .ok_or(ActionError::GroupNotFound)?,
            _ => return Err(ActionError::GroupNotFound),
        },
    };
    let in_this_circle = conn.cid.as_deref() == Some(circle.cid.as_str());
    let mid = match req.member {
        Some(secret) => app.settings.hash_key.member_id(&circle.cid, secret),
        None => match (&conn.mid, in_this_circle) {
            (Some(mid), true) => mid.clone(),
            _ => anonymous_member(),
        },
    };
    let member = match (&hinted, got.get(2)) {
        (Some((cid, hmid)), Some(item)) if *cid == circle.cid && *hmid == mid => {
            item.as_ref().map(Member::from_item).transpose()?
        }
        _ if req.member.is_some() || in_this_circle => app
            .store
            .get(Table::Groups, keys::member(&circle.cid, &mid), true)
            .await?
            .as_ref()
            .map(Member::from_item)
            .transpose()?,
        _ => None,
    };
    if member.as_ref().is_some_and(|m| m.removed) {
        return Err(ActionError::Removed);
    }
    let prior = match &conn.state {
        // Already where a join leads: a keep-alive join that crossed the pairing.
        ConnState::Paired { .. } if in_this_circle => return Ok(()),
        ConnState::Paired { .. } | ConnState::Away { .. } => {
            return Err(ActionError::AlreadyInRoom);
        }
        ConnState::Waiting { ticket, shard } => Prior::Waiting {
            ticket: ticket.clone(),
            entry: conn.cid.clone().map(|cid| (cid, *shard)),
        },
        ConnState::Idle => Prior::Idle,
    };
    let expires_at = conn.expires_at.min(circle.expires_at);
    let joiner = Joiner {
        conn: conn_id.to_owned(),
        name: req.name.to_owned(),
        mid,
        member,
        avoid: conn.avoid.clone(),
        avoid_until: conn.avoid_until,
        code: code.as_str().to_owned(),
        expires_at,
    };
    let keep_alive = in_this_circle && matches!(conn.state, ConnState::Waiting { .. });
    // Boxed: the pairing loop is a large future, and every route that joins awaits it.
    Box::pin(seek(app, &circle, joiner, prior, keep_alive)).await
}

/// Goes back into the lobby of the circle a connection was just in ("Next"),
/// as the identity its record holds.
pub(crate) async fn requeue(app: &App, conn: &Connection) -> Result<(), ActionError> {
    let (Some(cid), Some(mid)) = (&conn.cid, &conn.mid) else {
        return Err(ActionError::NotInRoom);
    };
    let circle = circles::get_by_cid(app, cid)
        .await?
        .ok_or(ActionError::GroupNotFound)?;
    let member = app
        .store
        .get(Table::Groups, keys::member(cid, mid), true)
        .await?
        .as_ref()
        .map(Member::from_item)
        .transpose()?;
    if member.as_ref().is_some_and(|m| m.removed) {
        return Err(ActionError::Removed);
    }
    let joiner = Joiner {
        conn: conn.connection_id.clone(),
        name: conn
            .name
            .clone()
            .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
        mid: mid.clone(),
        member,
        avoid: conn.avoid.clone(),
        avoid_until: conn.avoid_until,
        code: conn
            .code
            .clone()
            .unwrap_or_else(|| circle.code.as_str().to_owned()),
        expires_at: conn.expires_at.min(circle.expires_at),
    };
    Box::pin(seek(app, &circle, joiner, Prior::Idle, false)).await
}

/// Puts someone a round left over into the lobby (pairing them if someone
/// compatible is already there).
pub(crate) async fn seek_for_round(
    app: &App,
    circle: &Circle,
    me: Joiner,
    prior: Prior,
) -> Result<(), ActionError> {
    Box::pin(seek(app, circle, me, prior, false)).await
}

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
                    match get_connection(app, &me.conn, true).await? {
                        Some(Connection {
                            state: ConnState::Waiting { ticket, .. },
                            ..
                        }) => {
                            prior = Prior::Waiting {
                                ticket,
                                entry: None,
                            };
                        }
                        Some(Connection {
                            state: ConnState::Idle,
                            ..
                        }) => prior = Prior::Idle,
                        Some(_) => return Ok(()),
                        None => return Err(ActionError::UnknownConnection),
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
                    match get_connection(app, &me.conn, true).await? {
                        Some(c) => match c.state {
                            ConnState::Idle => prior = Prior::Idle,
                            ConnState::Waiting { ticket, shard } => {
                                prior = Prior::Waiting {
                                    ticket,
                                    entry: c.cid.clone().map(|cid| (cid, shard)),
                                }
                            }
                            // Someone claimed us meanwhile; they told us.
                            ConnState::Paired { .. } | ConnState::Away { .. } => return Ok(()),
                        },
                        None => return Err(ActionError::UnknownConnection),
                    }
                    retry = true;
                    break;
                }
                Err(ClaimFail::MyMember) => {
                    me.member = reload_member(app, circle, &me.mid).await?;
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
            Err(ClaimFail::Me) => match get_connection(app, &me.conn, true).await? {
                Some(c) => match c.state {
                    ConnState::Idle => prior = Prior::Idle,
                    ConnState::Waiting { ticket, shard } => {
                        home = shard;
                        prior = Prior::Waiting {
                            ticket,
                            entry: c.cid.clone().map(|cid| (cid, shard)),
                        }
                    }
                    ConnState::Paired { .. } | ConnState::Away { .. } => return Ok(()),
                },
                None => return Err(ActionError::UnknownConnection),
            },
            Err(ClaimFail::MyMember) => {
                me.member = reload_member(app, circle, &me.mid).await?;
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

async fn reload_member(
    app: &App,
    circle: &Circle,
    mid: &str,
) -> Result<Option<Member>, ActionError> {
    let member = app
        .store
        .get(Table::Groups, keys::member(&circle.cid, mid), true)
        .await?
        .as_ref()
        .map(Member::from_item)
        .transpose()?;
    if member.as_ref().is_some_and(|m| m.removed) {
        return Err(ActionError::Removed);
    }
    Ok(member)
}

/// The `waiting` event for this circle.
pub(crate) fn waiting_event(app: &App, circle: &Circle, count: u32) -> ServerEvent {
    ServerEvent::Waiting {
        group: GroupInfo {
            name: circle.name.clone(),
            description: circle.description.clone(),
            rules: circle.rules.clone(),
        },
        waiting: count,
        round: circle.live_round(app.now_ms()).map(|r| round_info(app, r)),
    }
}

/// A round as members see it.
pub(crate) fn round_info(app: &App, r: &crate::model::RoundState) -> RoundInfo {
    RoundInfo {
        number: r.number,
        minutes: Some(r.minutes),
        ends_at: Some(rfc3339_millis(r.ends_at)),
        seconds_left: Some((r.ends_at - app.now_ms()).max(0).div_euclid(1000)),
    }
}

/// Why a claim or an enqueue did not commit.
#[derive(Debug)]
pub(crate) enum ClaimFail {
    /// We were claimed by someone else meanwhile.
    Claimed,
    /// The waiter is no longer there (claimed, gone, stale, removed, or blocks us).
    Waiter,
    /// Our own record is not as read.
    Me,
    /// Our member record is not as read (removed, a new block, created meanwhile).
    MyMember,
    Store(StoreError),
}

/// What came of committing a pairing and telling both people.
pub(crate) enum Claimed {
    Told,
    /// The waiter's connection was gone: the pairing was undone and the join goes on.
    WaiterGone,
}

/// The member-record side of a pairing: the meeting goes into its history, on
/// the condition that the member is not removed and has no block with the other.
#[allow(clippy::too_many_arguments)]
pub(crate) fn member_met(
    app: &App,
    cid: &str,
    mid: &str,
    other_mid: &str,
    known: Option<&Member>,
    expires_at: i64,
    conn: Option<&str>,
) -> Update {
    let now_s = app.now_secs();
    let met = Member::met_entry(other_mid, now_s);
    let mut values = vec![(":exp", n(expires_at)), (":other", s(other_mid))];
    let mut set = "#expires_at = :exp".to_owned();
    if let Some(c) = conn {
        set.push_str(", #conn = :conn");
        values.push((":conn", s(c)));
    }
    let cond = match known {
        None => "attribute_not_exists(#sk)".to_owned(),
        Some(m) if m.met.len() >= MET_CAP => {
            // Keep the newest meetings only; conditioned on the list as read.
            let keep = m.met.len() + 1 - MET_CAP;
            let list: Vec<String> = m.met[keep..]
                .iter()
                .map(|(mid, at)| Member::met_entry(mid, *at))
                .chain(std::iter::once(met.clone()))
                .collect();
            set.push_str(", #met = :full");
            values.push((":full", strings(list)));
            values.push((":len", n(m.met.len() as i64)));
            "attribute_exists(#sk) AND attribute_not_exists(#removed) AND NOT contains(#blocked, :other) AND size(#met) = :len".to_owned()
        }
        Some(_) => "attribute_exists(#sk) AND attribute_not_exists(#removed) AND NOT contains(#blocked, :other)".to_owned(),
    };
    if !set.contains("#met") {
        set.push_str(", #met = list_append(if_not_exists(#met, :empty), :m)");
        values.push((":empty", strings(Vec::<String>::new())));
        values.push((":m", strings(vec![met])));
    }
    app.store.update_op(
        Table::Groups,
        keys::member(cid, mid),
        &format!("SET {set}"),
        Some(&cond),
        values,
    )
}

/// Counts chats started and new members on a random counter shard, after
/// the change they count committed: a plain `ADD`, never inside a pairing
/// transaction (every pairing of the circle would contend for the shards), and
/// retried on a conflict or a throttle so the organiser's figures stay exact.
pub(crate) async fn add_stats(app: &App, circle: &Circle, chats: i64, members: i64) {
    if chats == 0 && members == 0 {
        return;
    }
    for attempt in 1..=app.settings.max_attempts {
        let shard = rand::rng().random_range(0..keys::STATS_SHARDS);
        let op = app.store.update_op(
            Table::Groups,
            keys::stats(&circle.cid, shard),
            "ADD #chats :c, #members :m SET #expires_at = :exp",
            None,
            vec![
                (":c", n(chats)),
                (":m", n(members)),
                (":exp", n(circle.expires_at)),
            ],
        );
        match app.store.update(op).await {
            Ok(()) => return,
            Err(err) if err.is_retryable() => backoff(attempt).await,
            Err(err) => {
                tracing::warn!(error = %err, "a circle's counters could not be updated");
                return;
            }
        }
    }
    tracing::warn!("a circle's counters stayed busy; this count is lost");
}

/// A fresh room between two people: ids, resume tokens, a prompt, the round.
pub(crate) struct NewRoom {
    pub room: String,
    pub pids: [String; 2],
    pub tokens: [String; 2],
    pub prompt: String,
    pub round: u32,
    pub ends_at: i64,
}

impl NewRoom {
    pub(crate) fn new(app: &App, circle: &Circle) -> Self {
        let round = circle.live_round(app.now_ms());
        Self {
            room: random_id(20),
            pids: [random_id(12), random_id(12)],
            tokens: [token(22), token(22)],
            prompt: crate::prompts::pick(&circle.prompts),
            round: round.map_or(0, |r| r.number),
            ends_at: round.map_or(0, |r| r.ends_at),
        }
    }

    /// Side `i`'s record of the room (its partner is side `1 - i`).
    pub(crate) fn side(
        &self,
        app: &App,
        i: usize,
        partner: &str,
        partner_name: &str,
        partner_mid: &str,
    ) -> Room {
        Room {
            room: self.room.clone(),
            pid: self.pids[i].clone(),
            partner: partner.to_owned(),
            partner_name: partner_name.to_owned(),
            partner_pid: self.pids[1 - i].clone(),
            partner_mid: partner_mid.to_owned(),
            resume_hash: app.settings.hash_key.hash(domain::RESUME, &self.tokens[i]),
            prompt: self.prompt.clone(),
            round: self.round,
            ends_at: self.ends_at,
        }
    }

    /// The `join_room` event for side `i`.
    pub(crate) fn event(&self, app: &App, i: usize, user: &str, partner_name: &str) -> ServerEvent {
        ServerEvent::JoinRoom {
            room: self.room.clone(),
            user: user.to_owned(),
            partner: Participant {
                name: partner_name.to_owned(),
                id: self.pids[1 - i].clone(),
            },
            prompt: self.prompt.clone(),
            resume: self.tokens[i].clone(),
            ends_at: (self.ends_at > 0).then(|| rfc3339_millis(self.ends_at)),
            seconds_left: (self.ends_at > 0)
                .then(|| (self.ends_at - app.now_ms()).max(0).div_euclid(1000)),
            resumed: None,
        }
    }
}

/// Pairs the joiner with a waiter in one transaction, then tells both. Items:
/// 0 the waiter's entry, 1 the waiter's record, 2 the joiner's record, 3 the
/// waiter's member, 4 the joiner's member, 5 the joiner's own entry. Only the
/// two people's items: the counters are added after it commits.
/// With `count`, the chat (and a new member) is counted here; else the
/// caller counts a batch of claims at once.
pub(crate) async fn claim(
    app: &App,
    circle: &Circle,
    me: &Joiner,
    prior: &Prior,
    waiter: &LobbyEntry,
    count: bool,
) -> Result<Claimed, ClaimFail> {
    let cut = app.now_ms() - App::ms(app.settings.presence_window);
    let new_room = NewRoom::new(app, circle);
    // Side 0 is the waiter, side 1 the joiner.
    let their_side = new_room.side(app, 0, &me.conn, &me.name, &me.mid);
    let my_side = new_room.side(app, 1, &waiter.conn, &waiter.name, &waiter.mid);
    let waiter_identity = Identity {
        cid: &circle.cid,
        code: &me.code,
        mid: &waiter.mid,
        name: &waiter.name,
        expires_at: waiter.expires_at,
        circle_expires_at: circle.expires_at,
    };
    let (my_cond, my_values) = prior.condition();
    let mut items = vec![
        tx_delete(app.store.delete_op(
            Table::Groups,
            keys::entry(&circle.cid, waiter.shard, &waiter.ticket),
            Some("attribute_exists(#sk) AND #seen >= :cut"),
            vec![(":cut", n(cut))],
        )),
        tx_update(to_paired(
            app,
            &waiter.conn,
            &waiter_identity,
            &their_side,
            "#state = :waiting AND #ticket = :wticket",
            vec![
                (":waiting", s(crate::model::WAITING)),
                (":wticket", s(&waiter.ticket)),
            ],
        )),
        tx_update(to_paired(
            app,
            &me.conn,
            &me.identity(circle),
            &my_side,
            my_cond,
            my_values,
        )),
        tx_update(member_met(
            app,
            &circle.cid,
            &waiter.mid,
            &me.mid,
            Some(&Member::default()),
            circle.expires_at,
            None,
        )),
        tx_update(member_met(
            app,
            &circle.cid,
            &me.mid,
            &waiter.mid,
            me.member.as_ref(),
            circle.expires_at,
            Some(&me.conn),
        )),
    ];
    if let Prior::Waiting {
        ticket,
        entry: Some((cid, shard)),
    } = prior
    {
        items.push(tx_delete(app.store.delete_op(
            Table::Groups,
            keys::entry(cid, *shard, ticket),
            Some("attribute_exists(#sk)"),
            vec![],
        )));
    }
    if let Err(err) = app.store.transact(items).await {
        return Err(if err.item_failed(5) && !err.item_failed(0) {
            // Our own entry went while the waiter's was still there: someone
            // claimed us (and told us), no need to read our record to know it.
            ClaimFail::Claimed
        } else if err.item_failed(2) || err.item_failed(5) {
            ClaimFail::Me
        } else if err.item_failed(0) || err.item_failed(1) || err.item_failed(3) {
            if err.item_failed(1) && !err.item_failed(0) {
                // An entry whose record is not waiting under it: a lost `$disconnect`.
                remove_entry(app, circle, &EntryRef::from(waiter), None).await;
            }
            ClaimFail::Waiter
        } else if err.item_failed(4) {
            ClaimFail::MyMember
        } else {
            ClaimFail::Store(err)
        });
    }

    // The waiter first: if it is gone, undo before the joiner hears anything.
    let to_waiter = new_room.event(app, 0, &waiter.name, &me.name);
    if send(app, &waiter.conn, &to_waiter).await == Err(GatewayError::Gone) {
        tracing::info!(waiter = %waiter.conn, "paired waiter was gone; undoing");
        let remove = crate::model::Room::ATTRS
            .iter()
            .map(|a| format!("#{a}"))
            .collect::<Vec<_>>()
            .join(", ");
        let undo = app.store.update_op(
            Table::Connections,
            keys::connection(&me.conn),
            &format!("SET #state = :idle REMOVE {remove}"),
            Some("#room = :r"),
            vec![(":idle", s(IDLE)), (":r", s(&new_room.room))],
        );
        let gone = app.store.delete_op(
            Table::Connections,
            keys::connection(&waiter.conn),
            None,
            vec![],
        );
        let (undone, _) = tokio::join!(app.store.update(undo), app.store.delete(gone));
        return match undone {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(Claimed::WaiterGone),
            Err(err) => Err(ClaimFail::Store(err)),
        };
    }
    // If the joiner is gone, its own `$disconnect` tells the waiter.
    let to_me = new_room.event(app, 1, &me.name, &waiter.name);
    let chats = i64::from(count);
    let new_member = i64::from(count && me.member.is_none());
    let _ = tokio::join!(
        send(app, &me.conn, &to_me),
        add_stats(app, circle, chats, new_member)
    );
    Ok(Claimed::Told)
}

/// Puts the joiner in the lobby: its entry, its record and its member record
/// change together. Returns its ticket.
pub(crate) async fn enqueue(
    app: &App,
    circle: &Circle,
    me: &Joiner,
    prior: &Prior,
    shard: u32,
    count: u32,
) -> Result<String, ClaimFail> {
    let ticket = random_id(16);
    let now = app.now_ms();
    let entry = LobbyEntry {
        conn: me.conn.clone(),
        mid: me.mid.clone(),
        name: me.name.clone(),
        ticket: ticket.clone(),
        shard,
        avoid: me.avoid.clone(),
        avoid_until: me.avoid_until,
        seen: now,
        since: now,
        notice_after: now + App::ms(app.settings.notice_every),
        told: i64::from(count),
        expires_at: me.expires_at,
        fresh: me.member.is_none(),
    };
    let (member_set, member_cond, mut member_values) = match &me.member {
        None => (
            "SET #conn = :conn, #expires_at = :exp, #met = :empty",
            "attribute_not_exists(#sk)",
            vec![(":empty", strings(Vec::<String>::new()))],
        ),
        Some(_) => (
            "SET #conn = :conn, #expires_at = :exp",
            "attribute_exists(#sk) AND attribute_not_exists(#removed)",
            vec![],
        ),
    };
    member_values.extend([(":conn", s(&me.conn)), (":exp", n(circle.expires_at))]);
    let mut items = vec![
        tx_put(app.store.put_op(
            Table::Groups,
            entry.to_item(&circle.cid),
            Some("attribute_not_exists(#sk)"),
            vec![],
        )),
        tx_update(to_waiting(
            app,
            &me.conn,
            &me.identity(circle),
            &ticket,
            shard,
            prior,
        )),
        tx_update(app.store.update_op(
            Table::Groups,
            keys::member(&circle.cid, &me.mid),
            member_set,
            Some(member_cond),
            member_values,
        )),
    ];
    let mut old_entry_at = None;
    if let Prior::Waiting {
        ticket: old,
        entry: Some((cid, old_shard)),
    } = prior
    {
        old_entry_at = Some(items.len());
        items.push(tx_delete(app.store.delete_op(
            Table::Groups,
            keys::entry(cid, *old_shard, old),
            Some("attribute_exists(#sk)"),
            vec![],
        )));
    }
    match app.store.transact(items).await {
        Ok(()) => {
            add_stats(app, circle, 0, i64::from(me.member.is_none())).await;
            Ok(ticket)
        }
        Err(err) if err.item_failed(1) || old_entry_at.is_some_and(|i| err.item_failed(i)) => {
            Err(ClaimFail::Me)
        }
        Err(err) if err.item_failed(2) => Err(ClaimFail::MyMember),
        Err(err) => Err(ClaimFail::Store(err)),
    }
}

/// A lobby entry by its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    pub conn: &'a str,
    pub shard: u32,
    pub ticket: &'a str,
}

impl<'a> From<&'a LobbyEntry> for EntryRef<'a> {
    fn from(e: &'a LobbyEntry) -> Self {
        Self {
            conn: &e.conn,
            shard: e.shard,
            ticket: &e.ticket,
        }
    }
}

/// Removes a lobby entry nobody should be paired with (not heard from within
/// the presence window, or whose record is no longer waiting under it), and
/// sets its record idle if it still waits under it: if that client is in fact
/// alive, its next keep-alive puts it back.
pub(crate) async fn remove_entry(app: &App, circle: &Circle, e: &EntryRef<'_>, seen: Option<i64>) {
    let (cond, values) = match seen {
        Some(seen) => ("#seen = :seen", vec![(":seen", n(seen))]),
        None => ("attribute_exists(#sk)", vec![]),
    };
    let items = vec![
        tx_delete(app.store.delete_op(
            Table::Groups,
            keys::entry(&circle.cid, e.shard, e.ticket),
            Some(cond),
            values,
        )),
        tx_update(app.store.update_op(
            Table::Connections,
            keys::connection(e.conn),
            "SET #state = :idle REMOVE #ticket, #shard",
            Some("#state = :waiting AND #ticket = :t"),
            vec![
                (":idle", s(IDLE)),
                (":waiting", s(crate::model::WAITING)),
                (":t", s(e.ticket)),
            ],
        )),
    ];
    if let Err(err) = app.store.transact(items).await {
        if err.item_failed(1) && !err.item_failed(0) {
            // The record is gone or moved on: the entry alone goes.
            let op = app.store.delete_op(
                Table::Groups,
                keys::entry(&circle.cid, e.shard, e.ticket),
                None,
                vec![],
            );
            let _ = app.store.delete(op).await;
        }
    } else {
        tracing::info!(waiter = %e.conn, "removed a lobby entry nobody may be paired with");
    }
}

async fn remove_stale(app: &App, circle: &Circle, found: &Found) {
    futures_util::future::join_all(
        found.stale.iter().map(|e| async move {
            remove_entry(app, circle, &EntryRef::from(e), Some(e.seen)).await
        }),
    )
    .await;
}

/// Tells up to three long waiters the lobby count changed (each at most once
/// every `notice_every`), so the cost per join stays constant however big the
/// lobby is. Waiters a join doesn't reach hear it on their next keep-alive.
async fn notify_waiters(
    app: &App,
    circle: &Circle,
    found: &Found,
    claimed: Option<&str>,
    joined: bool,
) {
    let now = app.now_ms();
    let count = i64::try_from(found.others.len()).unwrap_or(i64::MAX) + i64::from(joined)
        - i64::from(claimed.is_some());
    let every = App::ms(app.settings.notice_every);
    let due: Vec<&LobbyEntry> = found
        .others
        .iter()
        .filter(|e| Some(e.ticket.as_str()) != claimed)
        .filter(|e| e.notice_after <= now && e.since + every <= now && e.told != count)
        .take(3)
        .collect();
    futures_util::future::join_all(due.into_iter().map(|e| notice(app, circle, e, count))).await;
}

/// Tells a keep-alive waiter the count if it changed and a notice is due.
async fn notify_self(app: &App, circle: &Circle, mine: &LobbyEntry, found: &Found) {
    let count = i64::from(found.count(true));
    if mine.notice_after <= app.now_ms() && mine.told != count {
        notice(app, circle, mine, count).await;
    }
}

async fn notice(app: &App, circle: &Circle, e: &LobbyEntry, count: i64) {
    let now = app.now_ms();
    let op = app.store.update_op(
        Table::Groups,
        keys::entry(&circle.cid, e.shard, &e.ticket),
        "SET #nt = :nt, #told = :told",
        Some("attribute_exists(#sk) AND #nt <= :now"),
        vec![
            (":nt", n(now + App::ms(app.settings.notice_every))),
            (":told", n(count)),
            (":now", n(now)),
        ],
    );
    if app.store.update(op).await.is_ok() {
        let event = waiting_event(app, circle, u32::try_from(count.max(1)).unwrap_or(u32::MAX));
        let _ = send(app, &e.conn, &event).await;
    }
}
