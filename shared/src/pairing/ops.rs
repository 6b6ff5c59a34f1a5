//! Plumbing for pairing: the conditional updates that move a connection record
//! between states, reading records, sending events, and backing off.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use rand::Rng;

use crate::app::App;
use crate::db::attr::{n, opt_n, s};
use crate::db::keys;
use crate::db::{StoreError, Table};
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::model::{AWAY, Connection, IDLE, PAIRED, RecentRoom, Room};
use crate::protocol::{LeftReason, ServerEvent};
use crate::ratelimit::Kind;

/// A connection's record, or `None` when absent or expired.
pub async fn get_connection(
    app: &App,
    id: &str,
    consistent: bool,
) -> Result<Option<Connection>, StoreError> {
    let item = app
        .store
        .get(Table::Connections, keys::connection(id), consistent)
        .await?;
    parse_connection(app, item.as_ref())
}

pub(crate) fn parse_connection(
    app: &App,
    item: Option<&crate::db::Item>,
) -> Result<Option<Connection>, StoreError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let conn = Connection::from_item(item)?;
    Ok((!conn.is_expired(app.now_secs())).then_some(conn))
}

/// Who a connection is within a circle, as its record gets it on joining.
#[derive(Debug, Clone)]
pub(crate) struct Identity<'a> {
    pub cid: &'a str,
    pub code: &'a str,
    pub mid: &'a str,
    pub name: &'a str,
    /// The record's expiry: no later than the circle's.
    pub expires_at: i64,
    /// The circle's expiry.
    pub circle_expires_at: i64,
    /// The label chosen (set on the record; `None` leaves it as it is).
    pub label: Option<&'a str>,
}

impl Identity<'_> {
    pub(crate) fn values(&self, conn_id: &str) -> Vec<(&'static str, AttributeValue)> {
        vec![
            (":cid", s(self.cid)),
            (":ck", s(keys::presence_key(self.cid, conn_id))),
            (":mid", s(self.mid)),
            (":code", s(self.code)),
            (":name", s(self.name)),
            (":exp", n(self.expires_at)),
            (":cexp", n(self.circle_expires_at)),
            (":label", s(self.label.unwrap_or_default())),
        ]
    }

    /// [`IDENTITY`], and the label when there is one.
    pub(crate) fn clause(&self) -> String {
        match self.label {
            Some(_) => format!("{IDENTITY}, #label = :label"),
            None => IDENTITY.to_owned(),
        }
    }
}

pub(crate) const IDENTITY: &str = "#cid = :cid, #ck = :ck, #mid = :mid, #code = :code, #name = :name, #expires_at = :exp, #cexp = :cexp";

/// Moves a record into `room`, on the condition `cond` (with its values).
pub(crate) fn to_paired(
    app: &App,
    conn_id: &str,
    who: &Identity<'_>,
    room: &Room,
    cond: &str,
    cond_values: Vec<(&'static str, AttributeValue)>,
) -> Update {
    to_paired_and(app, conn_id, who, room, (cond, cond_values), None)
}

/// [`to_paired`], with more `SET` actions and their values (a resume's
/// recent rooms, `super::recent::carry`).
pub(crate) fn to_paired_and(
    app: &App,
    conn_id: &str,
    who: &Identity<'_>,
    room: &Room,
    (cond, cond_values): (&str, Vec<(&'static str, AttributeValue)>),
    more: Option<(String, Vec<(&'static str, AttributeValue)>)>,
) -> Update {
    let mut values = who.values(conn_id);
    values.extend(cond_values);
    values.push((":paired", s(PAIRED)));
    values.extend(room.values());
    let mut set = format!(
        "SET #state = :paired, {}, {}",
        who.clause(),
        Room::set_clause()
    );
    if let Some((more, more_values)) = more {
        set.push_str(", ");
        set.push_str(&more);
        values.extend(more_values);
    }
    app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        &format!("{set} REMOVE #ticket, #shard, #paway, #away_until"),
        Some(cond),
        values,
    )
}

/// Takes a record out of `room` (only while it is in it, and `extra` holds),
/// pushing the room into its recent rooms (`super::recent`) and remembering
/// the partner for the repeat guard.
pub(crate) fn to_idle_after(
    app: &App,
    conn_id: &str,
    room: &str,
    last: &RecentRoom,
    avoid_until: i64,
    extra: Option<(&str, Vec<(&'static str, AttributeValue)>)>,
) -> Update {
    // Only a record still paired in the room: a held (away) record is ended by
    // its hold's own path, never turned idle under it.
    let mut cond = "#room = :r AND #state = :paired".to_owned();
    let mut values = vec![
        (":idle", s(IDLE)),
        (":paired", s(PAIRED)),
        (":r", s(room)),
        (":avoid", s(&last.partner_mid)),
        (":au", n(avoid_until)),
    ];
    if let Some((c, v)) = extra {
        cond.push_str(" AND ");
        cond.push_str(c);
        values.extend(v);
    }
    values.extend(super::recent::push_values(last));
    let remove = Room::remove_clause();
    let push = super::recent::PUSH.as_str();
    app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        &format!(
            "SET #state = :idle, {push}, #avoid = :avoid, #avoid_until = :au REMOVE {remove}, #paway, #away_until"
        ),
        Some(&cond),
        values,
    )
}

/// The condition that a record is away in `room` (a seat held for resume).
pub(crate) const AWAY_IN_ROOM: &str = "#state = :away AND #room = :r";

pub(crate) fn away_values(room: &str) -> Vec<(&'static str, AttributeValue)> {
    vec![(":away", s(AWAY)), (":r", s(room))]
}

/// Until when a just-ended pair avoids each other.
pub(crate) fn avoid_until(app: &App) -> i64 {
    app.now_ms() + App::ms(app.settings.repeat_guard)
}

/// Full-jitter exponential backoff after a lost race, counted as a retry.
pub(crate) async fn backoff(app: &App, conflicts: u32) {
    app.metrics.count_retry();
    let cap_ms = 4u64.saturating_mul(1 << conflicts.min(6)).min(250);
    let ms = rand::rng().random_range(0..=cap_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Tells `to` that its partner in `room` is gone, and why (best effort, as
/// every notice after a committed change).
pub(crate) async fn tell_partner_left(app: &App, to: &str, room: &str, reason: LeftReason) {
    let left = ServerEvent::PartnerLeft {
        room: room.to_owned(),
        reason,
    };
    let _ = send(app, to, &left).await;
}

pub(crate) async fn send(
    app: &App,
    conn_id: &str,
    event: &ServerEvent,
) -> Result<(), GatewayError> {
    let result = app.gateway.post(conn_id, &event.to_frame()).await;
    if let Err(err) = &result
        && *err != GatewayError::Gone
    {
        tracing::warn!(connection_id = conn_id, error = %err, "post to connection failed");
    }
    result
}

/// Sends an `error` event; a client that is gone no longer needs it.
pub async fn send_error(app: &App, conn_id: &str, err: &ActionError) {
    if matches!(err, ActionError::RateLimited) {
        app.metrics.count_rate_limited();
    }
    let _ = send(
        app,
        conn_id,
        &ServerEvent::error(err.code(), err.public_message()),
    )
    .await;
}

/// Throttle marks in a row after which the connection is closed (`DELETE
/// @connections`): a client that kept sending past its allowance for about
/// this many seconds (a mark lasts [`THROTTLE_MS`](crate::ratelimit::THROTTLE_MS)).
pub const CLOSE_AFTER_STRIKES: i64 = 10;
/// A mark this long after the previous one ended starts a new run of strikes,
/// so a client that trips the limit now and then is never closed for it.
pub const STRIKE_GAP_MS: i64 = 10_000;

/// Refuses a connection over its allowance, marking its record so every
/// instance refuses it until the mark passes. Each mark is a strike; the
/// [`CLOSE_AFTER_STRIKES`]th in a row closes the connection. The count lives
/// in the record (`ths`), so it holds across Lambda instances, and costs one
/// write per mark (two when a run starts), written only while over the limit.
pub(crate) async fn throttle(app: &App, conn_id: &str, kind: Kind) -> Result<(), ActionError> {
    let now = app.now_ms();
    if app.limiter.allow(conn_id, kind, now) {
        return Ok(());
    }
    if !app.limiter.should_mark(conn_id, now) {
        return Err(ActionError::RateLimited);
    }
    let strikes = mark(app, conn_id, now).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "could not mark a throttled connection");
        0
    });
    if strikes >= CLOSE_AFTER_STRIKES {
        tracing::info!(
            connection_id = conn_id,
            strikes,
            "closing a connection that keeps going over its rate limit"
        );
        match app.gateway.delete(conn_id).await {
            Ok(()) | Err(GatewayError::Gone) => {}
            Err(err) => tracing::warn!(connection_id = conn_id, error = %err, "could not close it"),
        }
    }
    Err(ActionError::RateLimited)
}

/// Writes the throttle mark and counts it as a strike. Answers the strikes in
/// a row so far, or 0 when another instance's mark still holds (or the record
/// is gone).
async fn mark(app: &App, conn_id: &str, now: i64) -> Result<i64, StoreError> {
    let until = now + crate::ratelimit::THROTTLE_MS;
    let recent = now - STRIKE_GAP_MS;
    // The previous mark ended lately: the run goes on.
    let go_on = app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        "SET #thr = :until ADD #ths :one",
        // A mark that ends now has passed (as the in-process limiter sees it).
        Some("attribute_exists(#connection_id) AND #thr <= :now AND #thr >= :recent"),
        vec![
            (":until", n(until)),
            (":one", n(1)),
            (":now", n(now)),
            (":recent", n(recent)),
        ],
    );
    match app.store.update_returning(go_on).await {
        Ok(new) => return Ok(opt_n(&new, "ths").unwrap_or(1)),
        Err(StoreError::ConditionFailed) => {}
        Err(err) => return Err(err),
    }
    // No mark, or one that ended long ago: a run starts.
    let first = app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        "SET #thr = :until, #ths = :one",
        Some("attribute_exists(#connection_id) AND (attribute_not_exists(#thr) OR #thr < :recent)"),
        vec![(":until", n(until)), (":one", n(1)), (":recent", n(recent))],
    );
    match app.store.update(first).await {
        Ok(()) => Ok(1),
        Err(StoreError::ConditionFailed) => Ok(0),
        Err(err) => Err(err),
    }
}

/// `sit_out` off: the flag goes, whatever the state (also when a connection
/// enters another circle: sitting out belongs to the circle it was chosen in).
pub(crate) async fn stop_sitting_out(app: &App, me: &Connection) -> Result<(), StoreError> {
    let op = app.store.update_op(
        Table::Connections,
        keys::connection(&me.connection_id),
        "REMOVE #sit",
        Some("attribute_exists(#sit)"),
        vec![],
    );
    match app.store.update(op).await {
        // Cleared meanwhile (another `sit_out` off): nothing left to do.
        Err(StoreError::ConditionFailed) => Ok(()),
        other => other,
    }
}
