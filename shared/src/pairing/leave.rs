//! `leave_room`, `block` and `report` (with "next"), and `$disconnect`: ending a
//! room for both members at once and telling the partner, or, when a socket
//! drops mid-chat, holding the room for the resume grace period.

use super::join::requeue;
use super::ops::throttle;
use super::ops::*;
use crate::app::App;
use crate::db::attr::{n, s, ss};
use crate::db::keys;
use crate::db::{Slot, StoreError, Table, Tx};
use crate::error::ActionError;
use crate::model::{AWAY, ConnState, Connection, PAIRED, Room};
use crate::protocol::{ExcerptItem, LeftReason, ServerEvent};
use crate::ratelimit::Kind;
use crate::timers::Timer;

/// How a member ends a room.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// `leave_room`: the room ends, nothing else.
    Leave,
    /// Never paired again; the partner only sees `partner_left` (`left`).
    Block,
    /// A block, plus a report for the organiser.
    Report {
        /// The reporter's `reason`.
        reason: String,
        /// The messages the reporter's client attached.
        excerpt: Vec<ExcerptItem>,
    },
}

/// The room a block or report is about: whom, and which side we were.
struct Target<'a> {
    room: &'a str,
    pid: &'a str,
    partner_mid: &'a str,
    partner_name: &'a str,
}

/// The writes a block or report adds: each member's `blocked` names the other,
/// and a report for the organiser (expiring with the circle) with its count.
/// Answers the report's slot: it fails when this side reported the room before.
fn moderation(
    app: &App,
    tx: &mut Tx,
    me: &Connection,
    target: &Target<'_>,
    ending: &Ending,
) -> Option<Slot> {
    let (Some(cid), Some(mid)) = (&me.cid, &me.mid) else {
        return None;
    };
    if *ending == Ending::Leave || target.partner_mid.is_empty() {
        return None;
    }
    let partner_mid = target.partner_mid;
    let exp = me.circle_expires_at.max(me.expires_at);
    let block = |who: &str, other: &str| {
        app.store.update_op(
            Table::Groups,
            keys::member(cid, who),
            "ADD #blocked :o SET #expires_at = if_not_exists(#expires_at, :exp)",
            None,
            vec![(":o", ss([other.to_owned()])), (":exp", n(exp))],
        )
    };
    tx.update("my block", block(mid, partner_mid));
    tx.update("their block", block(partner_mid, mid));
    let Ending::Report { reason, excerpt } = ending else {
        return None;
    };
    let report = crate::organizer::reports::NewReport {
        cid,
        room: target.room,
        pid: target.pid,
        reason,
        excerpt,
        reporter_name: me.name.as_deref().unwrap_or(crate::protocol::ANONYMOUS),
        reporter_mid: mid,
        reported_name: target.partner_name,
        reported_mid: partner_mid,
        expires_at: exp,
    };
    Some(crate::organizer::reports::add(app, tx, &report))
}

/// The writes that end `room` for both: us to idle; the partner to idle while it
/// still names us, or, when its seat is held, its record and seat removed.
pub(crate) fn end_both(
    app: &App,
    tx: &mut Tx,
    me: &Connection,
    r: &Room,
    partner_away: bool,
) -> (Slot, Slot) {
    (
        end_mine(app, tx, me, r, partner_away),
        end_partner(app, tx, me, r, partner_away),
    )
}

/// Our side of ending `room`: our record to idle. It is conditioned on the
/// partner's hold as we read it: a hold that commits meanwhile fails this, and
/// the caller reads again.
fn end_mine(app: &App, tx: &mut Tx, me: &Connection, r: &Room, partner_away: bool) -> Slot {
    let mine = super::recent::mine(app, r);
    let held = if partner_away {
        ("#paway > :zero", vec![(":zero", n(0))])
    } else {
        ("attribute_not_exists(#paway)", vec![])
    };
    let op = to_idle_after(
        app,
        &me.connection_id,
        &r.room,
        &mine,
        avoid_until(app),
        Some(held),
    );
    tx.update("my record", op)
}

/// The partner's side of ending `room`: its record to idle while it still names
/// us, or, when its seat is held, its record and seat removed. The slot is the
/// partner's record.
pub(crate) fn end_partner(
    app: &App,
    tx: &mut Tx,
    me: &Connection,
    r: &Room,
    partner_away: bool,
) -> Slot {
    if partner_away {
        let record = tx.delete(
            "partner's away record",
            app.store.delete_op(
                Table::Connections,
                keys::connection(&r.partner),
                Some(AWAY_IN_ROOM),
                away_values(&r.room),
            ),
        );
        tx.delete(
            "partner's seat",
            app.store.delete_op(
                Table::Groups,
                keys::away(&r.room, &r.partner_pid),
                None,
                vec![],
            ),
        );
        return record;
    }
    let theirs = super::recent::theirs(app, me, r);
    let op = to_idle_after(
        app,
        &r.partner,
        &r.room,
        &theirs,
        avoid_until(app),
        Some((
            "#partner = :me AND #state = :paired",
            vec![(":me", s(&me.connection_id)), (":paired", s(PAIRED))],
        )),
    );
    tx.update("partner's record", op)
}

/// `leave_room`, `block` and `report`: both leave the room together; the partner
/// is told it was left. `block` and `report` also work on any recent room
/// (`super::recent`: the last five, for 10 minutes after each ended). With
/// `requeue`, back to the lobby for someone new.
pub async fn end_room(
    app: &App,
    conn_id: &str,
    room: &str,
    ending: Ending,
    requeue_after: bool,
) -> Result<(), ActionError> {
    match &ending {
        Ending::Leave => {}
        Ending::Block => throttle(app, conn_id, Kind::Block).await?,
        Ending::Report { .. } => throttle(app, conn_id, Kind::Report).await?,
    }
    let mut conflicts = 0u32;
    let me = loop {
        let me = get_connection(app, conn_id, true)
            .await?
            .ok_or(ActionError::UnknownConnection)?;
        if ending != Ending::Leave && me.throttled_until > app.now_ms() {
            return Err(ActionError::RateLimited);
        }
        let result = match &me.state {
            ConnState::Paired {
                room: r,
                partner_away_until,
            } if r.room == room => {
                let partner_away = *partner_away_until > 0;
                let mut tx = Tx::new();
                let (mine, theirs) = end_both(app, &mut tx, &me, r, partner_away);
                let target = Target {
                    room: &r.room,
                    pid: &r.pid,
                    partner_mid: &r.partner_mid,
                    partner_name: &r.partner_name,
                };
                moderation(app, &mut tx, &me, &target, &ending);
                match app.store.transact(tx).await {
                    Ok(()) => {
                        if !partner_away {
                            tell_partner_left(app, &r.partner, &r.room, LeftReason::Left).await;
                        }
                        Ok(())
                    }
                    Err(err) if err.failed(mine) => Err(StoreError::ConditionFailed),
                    // The partner no longer names us: leave alone.
                    Err(err) if err.is_conflict() && err.failed(theirs) => {
                        let mut tx = Tx::new();
                        end_mine(app, &mut tx, &me, r, partner_away);
                        moderation(app, &mut tx, &me, &target, &ending);
                        app.store.transact(tx).await
                    }
                    Err(err) => Err(err),
                }
            }
            _ => match (&ending, super::recent::find(&me, room, app.now_ms())) {
                (Ending::Block | Ending::Report { .. }, Some(last)) if !last.is_current() => {
                    let mut tx = Tx::new();
                    let target = Target {
                        room: &last.room,
                        pid: &last.pid,
                        partner_mid: &last.partner_mid,
                        partner_name: &last.partner_name,
                    };
                    let report = moderation(app, &mut tx, &me, &target, &ending);
                    if tx.is_empty() {
                        Ok(())
                    } else {
                        match app.store.transact(tx).await {
                            // Reported before: answered again, nothing stored.
                            Err(err) if report.is_some_and(|s| err.failed(s)) => Ok(()),
                            other => other,
                        }
                    }
                }
                _ => return Err(ActionError::NotInRoom),
            },
        };
        match result {
            Ok(()) => break me,
            Err(err) if err.is_retryable() && conflicts < app.settings.max_attempts => {
                conflicts += 1;
                backoff(app, conflicts).await;
            }
            Err(err) => return Err(err.into()),
        }
    };
    let told = match ending {
        Ending::Leave => None,
        Ending::Block => Some(ServerEvent::Blocked {
            room: room.to_owned(),
        }),
        Ending::Report { .. } => {
            app.metrics.count_report();
            Some(ServerEvent::Reported {
                room: room.to_owned(),
            })
        }
    };
    if let Some(event) = told {
        let _ = send(app, conn_id, &event).await;
    }
    if requeue_after {
        let now = get_connection(app, conn_id, true).await?.unwrap_or(me);
        requeue(app, &now).await?;
    }
    Ok(())
}

/// `$disconnect`: the record goes, a lobby entry with it. A member in a room
/// keeps its seat for the resume grace: its partner hears `partner_away`, and
/// a timer ends the room if nobody resumes.
pub async fn disconnect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    app.limiter.forget(conn_id);
    let mut conflicts = 0;
    while conflicts <= app.settings.max_attempts {
        let Some(me) = get_connection(app, conn_id, true).await? else {
            return Ok(());
        };
        let delete_me = |cond: &str, values| {
            app.store.delete_op(
                Table::Connections,
                keys::connection(conn_id),
                Some(cond),
                values,
            )
        };
        let result = match &me.state {
            ConnState::Idle => {
                app.store
                    .delete(delete_me(
                        "#state = :idle",
                        vec![(":idle", s(crate::model::IDLE))],
                    ))
                    .await
            }
            // Held already (a partner's post found the socket gone first): the
            // timer that ends the hold is set here, where a timer queue is.
            ConnState::Away { room, until } => {
                app.schedule(Timer::ResumeExpiry {
                    room: room.room.clone(),
                    pid: room.pid.clone(),
                    conn: conn_id.to_owned(),
                    due_ms: *until,
                })
                .await;
                return Ok(());
            }
            ConnState::Waiting { ticket, shard } => {
                let cond = "#state = :w AND #ticket = :t";
                let values = || vec![(":w", s(crate::model::WAITING)), (":t", s(ticket))];
                let mut tx = Tx::new();
                let record = tx.delete("my record", delete_me(cond, values()));
                let entry = me.cid.as_ref().map(|cid| {
                    tx.delete(
                        "my lobby entry",
                        app.store.delete_op(
                            Table::Groups,
                            keys::entry(cid, *shard, ticket),
                            Some("attribute_exists(#sk)"),
                            vec![],
                        ),
                    )
                });
                match app.store.transact(tx).await {
                    // The entry was already removed (as stale): the record alone goes.
                    Err(err) if entry.is_some_and(|e| err.failed(e)) && !err.failed(record) => {
                        app.store.delete(delete_me(cond, values())).await
                    }
                    other => other,
                }
            }
            ConnState::Paired {
                room: r,
                partner_away_until,
            } => {
                let in_room = || vec![(":r", s(&r.room))];
                if *partner_away_until > 0 {
                    // Both sockets are gone: the room ends with nobody to tell.
                    let mut tx = Tx::new();
                    let mine = tx.delete("my record", delete_me("#room = :r", in_room()));
                    end_partner(app, &mut tx, &me, r, true);
                    match app.store.transact(tx).await {
                        Err(err) if !err.failed(mine) && err.is_conflict() => {
                            app.store.delete(delete_me("#room = :r", in_room())).await
                        }
                        other => other,
                    }
                } else if app.settings.resume_grace.is_zero() {
                    end_for_good(app, &me, r).await
                } else {
                    hold(app, &me, r, true).await
                }
            }
        };
        match result {
            Ok(()) => return Ok(()),
            Err(err) if err.is_retryable() => {
                conflicts += 1;
                backoff(app, conflicts).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ActionError::Busy)
}

/// Ends a room because one side is gone for good; the partner is told.
async fn end_for_good(app: &App, me: &Connection, r: &Room) -> Result<(), StoreError> {
    let theirs = super::recent::theirs(app, me, r);
    let mut tx = Tx::new();
    let mine = tx.delete(
        "my record",
        app.store.delete_op(
            Table::Connections,
            keys::connection(&me.connection_id),
            Some("#room = :r"),
            vec![(":r", s(&r.room))],
        ),
    );
    tx.update(
        "partner's record",
        to_idle_after(
            app,
            &r.partner,
            &r.room,
            &theirs,
            avoid_until(app),
            Some(("#partner = :me", vec![(":me", s(&me.connection_id))])),
        ),
    );
    match app.store.transact(tx).await {
        Ok(()) => {
            tell_partner_left(app, &r.partner, &r.room, LeftReason::Disconnected).await;
            Ok(())
        }
        // The partner no longer names us; just go.
        Err(err) if err.is_conflict() && !err.failed(mine) => {
            let op = app.store.delete_op(
                Table::Connections,
                keys::connection(&me.connection_id),
                Some("#room = :r"),
                vec![(":r", s(&r.room))],
            );
            app.store.delete(op).await
        }
        Err(err) => Err(err),
    }
}

/// Holds the seat: our record turns `away`, the partner's notes it, and a seat
/// item (found by room, never by connection id) keeps what a resume restores.
/// `schedule`: set the timer that ends the hold (a function without a timer
/// queue leaves that to the dropped connection's `$disconnect`).
pub(crate) async fn hold(
    app: &App,
    me: &Connection,
    r: &Room,
    schedule: bool,
) -> Result<(), StoreError> {
    let until = app.now_ms() + App::ms(app.settings.resume_grace);
    let mut away = me.clone();
    away.state = ConnState::Away {
        room: r.clone(),
        until,
    };
    let mut seat = keys::away(&r.room, &r.pid);
    seat.extend([
        ("conn".into(), s(&me.connection_id)),
        ("rh".into(), s(&r.resume_hash)),
        ("away_until".into(), n(until)),
        (
            "rec".into(),
            aws_sdk_dynamodb::types::AttributeValue::M(away.to_item()),
        ),
        // A minute past the grace: the timer deletes it first.
        ("expires_at".into(), n(until.div_euclid(1000) + 60)),
    ]);
    let mut tx = Tx::new();
    let mine = tx.update(
        "my record",
        app.store.update_op(
            Table::Connections,
            keys::connection(&me.connection_id),
            "SET #state = :away, #away_until = :until",
            Some("#state = :paired AND #room = :r AND attribute_not_exists(#paway)"),
            vec![
                (":away", s(AWAY)),
                (":until", n(until)),
                (":paired", s(PAIRED)),
                (":r", s(&r.room)),
            ],
        ),
    );
    let partner = tx.update(
        "partner's record",
        app.store.update_op(
            Table::Connections,
            keys::connection(&r.partner),
            "SET #paway = :until",
            Some("#room = :r AND #partner = :me AND #state = :paired"),
            vec![
                (":until", n(until)),
                (":r", s(&r.room)),
                (":me", s(&me.connection_id)),
                (":paired", s(PAIRED)),
            ],
        ),
    );
    tx.put(
        "my seat",
        app.store.put_op(Table::Groups, seat, None, vec![]),
    );
    match app.store.transact(tx).await {
        Ok(()) => {}
        // The partner is gone or moved on: nothing to hold.
        Err(err) if err.failed(partner) && !err.failed(mine) => {
            let op = app.store.delete_op(
                Table::Connections,
                keys::connection(&me.connection_id),
                Some("#room = :r"),
                vec![(":r", s(&r.room))],
            );
            return match app.store.delete(op).await {
                Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
                Err(err) => Err(err),
            };
        }
        Err(err) => return Err(err),
    }
    if schedule {
        app.schedule(Timer::ResumeExpiry {
            room: r.room.clone(),
            pid: r.pid.clone(),
            conn: me.connection_id.clone(),
            due_ms: until,
        })
        .await;
    }
    let away = ServerEvent::PartnerAway {
        room: r.room.clone(),
        grace_s: app.settings.resume_grace.as_secs(),
    };
    let _ = send(app, &r.partner, &away).await;
    Ok(())
}
