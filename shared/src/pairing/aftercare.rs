//! After a chat: `feedback` ("Good chat?", counted, never who rated whom)
//! and `keep_in_touch` (two contact lines exchanged only when both sides ask,
//! held at most 10 minutes, never shown to the organiser, never logged).
//! Both name the current room or a recent one (`super::recent`).
//!
//! - `feedback`: a content-free mark `FB#{cid}` / `{room}#{pid}` is put on
//!   the condition that it is absent (once per side per room, race-free); only
//!   then is the rating counted (`crate::activity`). The mark holds no rating
//!   and no member id, and the count no room or person.
//! - `keep_in_touch`: one item per room, `K#{cid}` / `{room}`, with a slot per
//!   side (`s_{pid}`), each written once on a condition. The write answers the
//!   whole item; the write that finds the other slot filled is the one that
//!   completes the pair (DynamoDB orders writes to one item), so exactly one
//!   delivers both lines, then empties the slots and leaves a `done` mark
//!   until the item expires (10 minutes after the last write). A first line
//!   schedules [`Timer::ForgetContacts`], which removes it 10 minutes later
//!   if it is still there: TTL alone may take days.

use aws_sdk_dynamodb::types::AttributeValue;

use super::ops::{get_connection, send, throttle};
use super::recent::{self, Recent};
use crate::activity::{self, Tally};
use crate::app::App;
use crate::db::attr::{n, opt_n, opt_s, s};
use crate::db::{Item, StoreError, Table, keys};
use crate::error::ActionError;
use crate::model::Connection;
use crate::protocol::{Rating, ServerEvent};
use crate::ratelimit::Kind;
use crate::timers::Timer;

/// How long a keep-in-touch line is held (and how long a room stays recent).
pub const HOLD_MS: i64 = 10 * 60 * 1000;

/// The connection and the room it names, or `not_in_room`.
async fn recent_room(
    app: &App,
    conn_id: &str,
    room: &str,
) -> Result<(Connection, Recent), ActionError> {
    let me = get_connection(app, conn_id, true)
        .await?
        .ok_or(ActionError::UnknownConnection)?;
    if me.throttled_until > app.now_ms() {
        return Err(ActionError::RateLimited);
    }
    let found = recent::find(&me, room, app.now_ms()).ok_or(ActionError::NotInRoom)?;
    Ok((me, found))
}

/// `feedback`: counts the rating once per side per room, and answers
/// `feedback` (also to a repeat, which counts nothing).
pub async fn feedback(
    app: &App,
    conn_id: &str,
    room: &str,
    rating: Rating,
) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Feedback).await?;
    let (me, r) = recent_room(app, conn_id, room).await?;
    let exp = me.circle_expires_at.max(me.expires_at);
    let mut mark = keys::feedback_mark(&r.cid, &r.room, &r.pid);
    mark.insert("expires_at".into(), n(exp));
    let op = app.store.put_op(
        Table::Groups,
        mark,
        Some("attribute_not_exists(#sk)"),
        vec![],
    );
    match app.store.put(op).await {
        Ok(()) => {
            let what = match rating {
                Rating::Good => Tally::Good,
                Rating::Meh => Tally::Meh,
            };
            // Never fails the action: a lost count is logged and counted there.
            let _ = activity::tally_until(app, &r.cid, exp, r.round, what).await;
        }
        Err(StoreError::ConditionFailed) => {}
        Err(err) => return Err(err.into()),
    }
    let _ = send(app, conn_id, &ServerEvent::Feedback { room: r.room }).await;
    Ok(())
}

/// The attribute of one side's keep-in-touch slot.
fn slot(pid: &str) -> String {
    format!("s_{pid}")
}

/// `keep_in_touch`: holds this side's line; when the other side's is there
/// too, each side gets `contact` with the other's line, once.
pub async fn keep_in_touch(
    app: &App,
    conn_id: &str,
    room: &str,
    contact: &str,
) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::KeepInTouch).await?;
    let (me, r) = recent_room(app, conn_id, room).await?;
    let now = app.now_ms();
    let cut = now - HOLD_MS;
    let mine = slot(&r.pid);
    let line = AttributeValue::M(Item::from([
        ("c".into(), s(contact)),
        ("conn".into(), s(conn_id)),
        ("at".into(), n(now)),
    ]));
    let circle_exp = me.circle_expires_at.max(me.expires_at);
    let exp = (now + HOLD_MS).div_euclid(1000).min(circle_exp);
    let op = app.store.update_op(
        Table::Groups,
        keys::keep_in_touch(&r.cid, &r.room),
        &format!("SET #{mine} = :line, #expires_at = :exp"),
        Some(&format!(
            "attribute_not_exists(#done) AND (attribute_not_exists(#{mine}) OR #{mine}.#at < :cut)"
        )),
        vec![(":line", line), (":exp", n(exp)), (":cut", n(cut))],
    );
    let item = match app.store.update_all_new(op).await {
        Ok(item) => Some(item),
        // Sent before (or exchanged already): answered again, nothing changes.
        Err(StoreError::ConditionFailed) => None,
        Err(err) => return Err(err.into()),
    };
    let answer = ServerEvent::KeepInTouch {
        room: r.room.clone(),
    };
    let _ = send(app, conn_id, &answer).await;
    let Some(item) = item else {
        return Ok(());
    };
    let other = item.iter().find_map(|(k, v)| match v {
        AttributeValue::M(m) if k.starts_with("s_") && *k != mine => {
            (opt_n(m, "at").unwrap_or(0) >= cut).then_some((k.clone(), m.clone()))
        }
        _ => None,
    });
    let Some((theirs, other)) = other else {
        // The first line: it is forgotten 10 minutes from now unless the
        // other side asks first (TTL alone could keep it for days).
        let forget = Timer::ForgetContacts {
            cid: r.cid.clone(),
            room: r.room.clone(),
            due_ms: now + HOLD_MS,
        };
        app.schedule(forget).await;
        return Ok(());
    };
    // Ours completed the pair: deliver both lines, then forget them.
    let their_line = opt_s(&other, "c").unwrap_or_default();
    let their_conn = opt_s(&other, "conn").unwrap_or_default();
    let to_me = ServerEvent::Contact {
        room: r.room.clone(),
        contact: their_line,
    };
    let to_them = ServerEvent::Contact {
        room: r.room.clone(),
        contact: contact.to_owned(),
    };
    let _ = tokio::join!(send(app, conn_id, &to_me), send(app, &their_conn, &to_them));
    let done = app.store.update_op(
        Table::Groups,
        keys::keep_in_touch(&r.cid, &r.room),
        &format!("SET #done = :t REMOVE #{mine}, #{theirs}"),
        None,
        vec![(":t", AttributeValue::Bool(true))],
    );
    if app.store.update(done).await.is_err() {
        // Both lines went out: the member is answered; the slots expire with
        // the item's TTL. Nothing personal in the log.
        tracing::warn!(failed = 1, "keep_in_touch cleanup write failed");
    }
    Ok(())
}

/// The [`Timer::ForgetContacts`] timer: removes each line of `room` written
/// 10 minutes before `due_ms` or earlier (a line written since stays, for its
/// own timer), each on a condition that it is still that line.
pub async fn forget_contacts(
    app: &App,
    cid: &str,
    room: &str,
    due_ms: i64,
) -> Result<(), ActionError> {
    let key = keys::keep_in_touch(cid, room);
    let Some(item) = app.store.get(Table::Groups, key.clone(), true).await? else {
        return Ok(());
    };
    let cut = due_ms - HOLD_MS;
    for (slot, line) in &item {
        let AttributeValue::M(line) = line else {
            continue;
        };
        let Some(at) = opt_n(line, "at").filter(|at| slot.starts_with("s_") && *at <= cut) else {
            continue;
        };
        let op = app.store.update_op(
            Table::Groups,
            key.clone(),
            &format!("REMOVE #{slot}"),
            Some(&format!("#{slot}.#at = :at")),
            vec![(":at", n(at))],
        );
        match app.store.update(op).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
