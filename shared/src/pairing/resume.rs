//! Taking a held seat back (`resume`) and ending a hold nobody came back for
//! (the resume timer).

use super::leave::end_partner;
use super::ops::throttle;
use super::ops::*;
use super::prior::Prior;
use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::db::attr::{n, opt_n, opt_s, s};
use crate::db::keys;
use crate::db::{Item, QuerySpec, StoreError, Table, Tx};
use crate::error::ActionError;
use crate::model::{ConnState, Connection, Room};
use crate::protocol::{LeftReason, Participant, ServerEvent};
use crate::ratelimit::Kind;
use crate::secrets::domain;
use crate::timers::Timer;

/// A held seat, as its item keeps it.
#[derive(Debug, Clone)]
struct Seat {
    pid: String,
    conn: String,
    resume_hash: String,
    until: i64,
    /// The away record as it was when the seat was held.
    record: Connection,
    room: Room,
}

impl Seat {
    fn from_item(item: &Item) -> Result<Self, StoreError> {
        let record = match item.get("rec") {
            Some(aws_sdk_dynamodb::types::AttributeValue::M(m)) => Connection::from_item(m)?,
            _ => return Err(StoreError::Corrupt("held seat without a record".into())),
        };
        let ConnState::Away { room, .. } = &record.state else {
            return Err(StoreError::Corrupt(
                "held seat whose record is not away".into(),
            ));
        };
        Ok(Self {
            pid: crate::db::attr::req_s(item, "sk")?,
            conn: opt_s(item, "conn").unwrap_or_default(),
            resume_hash: opt_s(item, "rh").unwrap_or_default(),
            until: opt_n(item, "away_until").unwrap_or(0),
            room: room.clone(),
            record,
        })
    }
}

async fn seats(app: &App, room: &str) -> Result<Vec<Seat>, StoreError> {
    let q = QuerySpec::partition(Table::Groups, "pk", keys::away_pk(room));
    let items = app.store.query_all(q, 4).await?;
    items.iter().map(Seat::from_item).collect()
}

/// `resume`: a new connection takes back a seat held for it, within the grace.
pub async fn resume(app: &App, conn_id: &str, room: &str, token: &str) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Join).await?;
    let (held, me) = tokio::try_join!(seats(app, room), get_connection(app, conn_id, true))?;
    let me = me.ok_or(ActionError::UnknownConnection)?;
    let now = app.now_ms();
    let Some(seat) = held.iter().find(|seat| {
        app.settings
            .hash_key
            .verify(domain::RESUME, token, &seat.resume_hash)
    }) else {
        return Err(ActionError::NotInRoom);
    };
    if seat.until <= now {
        return Err(ActionError::NotInRoom);
    }
    let prior = Prior::of(&me).ok_or(ActionError::AlreadyInRoom)?;
    let old = &seat.record;
    // A fresh token for the seat from now on: the old one stops working (the
    // seat it opened is deleted below, on the condition that it is still held,
    // so of two racing resumes only one wins and only its token lives on).
    let new_token = crate::secrets::token(22);
    let r = &Room {
        resume_hash: app.settings.hash_key.hash(domain::RESUME, &new_token),
        ..seat.room.clone()
    };
    let partner_seat = held.iter().find(|other| other.pid == r.partner_pid);
    let (Some(cid), Some(mid), Some(code)) = (&old.cid, &old.mid, &old.code) else {
        return Err(ActionError::NotInRoom);
    };
    let name = old
        .name
        .clone()
        .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned());
    let who = Identity {
        cid,
        code,
        mid,
        name: &name,
        expires_at: me.expires_at.min(old.circle_expires_at.max(old.expires_at)),
        circle_expires_at: old.circle_expires_at,
        label: old.label.as_deref(),
    };
    let (cond, values) = prior.condition();
    let mut tx = Tx::new();
    tx.delete(
        "the seat",
        app.store.delete_op(
            Table::Groups,
            keys::away(room, &seat.pid),
            Some("attribute_exists(#sk) AND #away_until > :now AND #conn = :old"),
            vec![(":now", n(now)), (":old", s(&seat.conn))],
        ),
    );
    tx.delete(
        "the away record",
        app.store.delete_op(
            Table::Connections,
            keys::connection(&seat.conn),
            Some(AWAY_IN_ROOM),
            away_values(room),
        ),
    );
    // The rooms the old connection left stay recent on the new one.
    let mut carried = super::recent::carry(old, &me, now);
    if old.sitting_out {
        // `sit_out` goes with the seat to the new connection.
        carried.0.push_str(", #sit = :sitcarry");
        carried.1.push((":sitcarry", n(1)));
    }
    let op = to_paired_and(app, conn_id, &who, r, (cond, values), Some(carried));
    tx.update("my record", op);
    match partner_seat {
        // The partner is away too: its held record and seat now name us.
        Some(theirs) => {
            tx.update(
                "partner's away record",
                app.store.update_op(
                    Table::Connections,
                    keys::connection(&r.partner),
                    "SET #partner = :new",
                    Some("#state = :away AND #room = :r AND #partner = :old"),
                    vec![
                        (":new", s(conn_id)),
                        (":away", s(crate::model::AWAY)),
                        (":r", s(room)),
                        (":old", s(&seat.conn)),
                    ],
                ),
            );
            tx.update(
                "partner's seat",
                app.store.update_op(
                    Table::Groups,
                    keys::away(room, &theirs.pid),
                    "SET #rec.#partner = :new",
                    Some("attribute_exists(#sk)"),
                    vec![(":new", s(conn_id))],
                ),
            );
        }
        None => {
            tx.update(
                "partner's record",
                app.store.update_op(
                    Table::Connections,
                    keys::connection(&r.partner),
                    "SET #partner = :new REMOVE #paway",
                    Some("#room = :r AND #partner = :old"),
                    vec![
                        (":new", s(conn_id)),
                        (":r", s(room)),
                        (":old", s(&seat.conn)),
                    ],
                ),
            );
        }
    }
    prior.exit_lobby(app, &mut tx, false);
    if let Err(err) = app.store.transact(tx).await {
        return Err(if err.is_conflict() {
            // Another connection took the seat first, the grace ran out, or the
            // partner left meanwhile.
            ActionError::NotInRoom
        } else {
            err.into()
        });
    }
    if let Some(theirs) = partner_seat {
        // Mark our new record: the partner's seat is still held.
        let op = app.store.update_op(
            Table::Connections,
            keys::connection(conn_id),
            "SET #paway = :until",
            Some("#room = :r"),
            vec![(":until", n(theirs.until)), (":r", s(room))],
        );
        let _ = app.store.update(op).await;
    }
    let back = ServerEvent::JoinRoom {
        room: r.room.clone(),
        user: name.clone(),
        partner: Participant {
            name: r.partner_name.clone(),
            id: r.partner_pid.clone(),
            label: None,
        },
        prompt: r.prompt.clone(),
        resume: new_token,
        ends_at: (r.ends_at > 0).then(|| rfc3339_millis(r.ends_at)),
        seconds_left: (r.ends_at > 0).then(|| (r.ends_at - now).max(0).div_euclid(1000)),
        resumed: Some(true),
    };
    let _ = send(app, conn_id, &back).await;
    match partner_seat {
        Some(theirs) => {
            let away = ServerEvent::PartnerAway {
                room: r.room.clone(),
                grace_s: u64::try_from((theirs.until - now).max(0) / 1000).unwrap_or(0),
            };
            let _ = send(app, conn_id, &away).await;
        }
        None => {
            let _ = send(
                app,
                &r.partner,
                &ServerEvent::PartnerBack {
                    room: r.room.clone(),
                },
            )
            .await;
        }
    }
    Ok(())
}

/// The resume timer: if the seat is still held and its grace is over, the room
/// ends and the partner hears `partner_left` (`disconnected`). Does nothing if
/// the seat was taken back or the room already ended.
pub async fn expire_hold(app: &App, room: &str, pid: &str, conn: &str) -> Result<(), ActionError> {
    let Some(item) = app
        .store
        .get(Table::Groups, keys::away(room, pid), true)
        .await?
    else {
        return Ok(());
    };
    let seat = Seat::from_item(&item)?;
    if seat.conn != conn {
        return Ok(());
    }
    let now = app.now_ms();
    if seat.until > now + 250 {
        // Fired early (a clock step, or a queue's rounding): wait for the rest.
        app.schedule(Timer::ResumeExpiry {
            room: room.to_owned(),
            pid: pid.to_owned(),
            conn: conn.to_owned(),
            due_ms: seat.until,
        })
        .await;
        return Ok(());
    }
    let r = &seat.room;
    let mut held = Tx::new();
    let seat_slot = held.delete(
        "the seat",
        app.store.delete_op(
            Table::Groups,
            keys::away(room, pid),
            Some("#conn = :c"),
            vec![(":c", s(conn))],
        ),
    );
    let record = held.delete(
        "the away record",
        app.store.delete_op(
            Table::Connections,
            keys::connection(conn),
            Some(AWAY_IN_ROOM),
            away_values(room),
        ),
    );
    // The partner, seen from the away record's side, leaves it for good.
    let mut tx = held.clone();
    let theirs = end_partner(app, &mut tx, &seat.record, r, false);
    match app.store.transact(tx).await {
        Ok(()) => {
            tell_partner_left(app, &r.partner, &r.room, LeftReason::Disconnected).await;
            Ok(())
        }
        Err(err) if err.failed(theirs) && !err.failed(seat_slot) && !err.failed(record) => {
            // The partner already left (or is away too): the seat just goes.
            match app.store.transact(held).await {
                Ok(()) => Ok(()),
                Err(err) if err.failed(record) && !err.failed(seat_slot) => {
                    forget_seat(app, room, pid, conn).await
                }
                Err(err) if err.is_conflict() => Ok(()),
                Err(err) => Err(err.into()),
            }
        }
        // The away record is gone (its room ended another way): the seat with it.
        Err(err) if err.failed(record) && !err.failed(seat_slot) => {
            forget_seat(app, room, pid, conn).await
        }
        Err(err) if err.is_conflict() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Deletes a seat whose away record no longer exists.
async fn forget_seat(app: &App, room: &str, pid: &str, conn: &str) -> Result<(), ActionError> {
    let op = app.store.delete_op(
        Table::Groups,
        keys::away(room, pid),
        Some("#conn = :c"),
        vec![(":c", s(conn))],
    );
    match app.store.delete(op).await {
        Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
