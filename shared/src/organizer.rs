//! What the organiser can see and do: the live view of a circle (counts,
//! counters, reports), removing a member, and closing the circle (everyone told,
//! sockets closed, every record deleted at once).

use serde::Serialize;
use serde_json::Value;

use crate::app::App;
use crate::circle::view::CircleView;
use crate::clock::rfc3339_millis;
use crate::db::attr::{b, opt_n, opt_s};
use crate::db::keys::{self, MEMBER_SHARDS, STATS_SHARDS};
use crate::db::{QuerySpec, StoreError, Table, Tx};
use crate::error::ActionError;
use crate::model::{Circle, ConnState, Member};
use crate::pairing;
use crate::presence;
use crate::protocol::{LeftReason, ServerEvent};

/// Reports shown at most.
pub const REPORTS_SHOWN: i32 = 100;

/// Someone a report names.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Member id, as `POST /groups/{code}/remove` takes it.
    pub member_id: String,
}

/// A report as the organiser sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    /// The report item's sort key (`{at_ms:013}#{rand}`).
    pub id: String,
    /// When it was made (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The reporter's `reason`.
    pub reason: String,
    /// Exactly as the reporter's client sent it.
    pub excerpt: Value,
    /// Who reported.
    pub reporter: Person,
    /// Whom the report is about.
    pub reported: Person,
}

/// A circle's rounds as the organiser sees them.
#[derive(Debug, Clone, Serialize)]
pub struct RoundView {
    /// The current round; 0 before any.
    pub number: u32,
    /// Round length in minutes; `None` before any round.
    pub minutes: Option<u32>,
    /// When the current round ends (RFC 3339, UTC, milliseconds), while rounds run.
    pub ends_at: Option<String>,
    /// Seconds to `ends_at`, while rounds run.
    pub seconds_left: Option<i64>,
    /// Whether rounds are running.
    pub active: bool,
}

/// The organiser's live view of a circle: the answer to `GET /groups/{code}/organizer`
/// and `GET /organizer`.
#[derive(Debug, Clone, Serialize)]
pub struct OrganizerView {
    /// The circle, with its code and id.
    pub circle: CircleView,
    /// Connections waiting in the lobby now.
    pub waiting: u64,
    /// Connections in a room now (paired, or away with the seat held).
    pub chatting: u64,
    /// Rooms formed so far (summed over the counter shards).
    pub chats: i64,
    /// Members so far: joins with no member record yet (summed over the counter shards).
    pub members: i64,
    /// The rounds.
    pub round: RoundView,
    /// The newest reports, newest first, at most [`REPORTS_SHOWN`].
    pub reports: Vec<ReportView>,
}

/// The circle's rounds for the organiser, `seconds_left` counted from now.
pub fn round_view(app: &App, c: &Circle) -> RoundView {
    let started = c.round.number > 0;
    RoundView {
        number: c.round.number,
        minutes: started.then_some(c.round.minutes),
        ends_at: c.round.active.then(|| rfc3339_millis(c.round.ends_at)),
        seconds_left: c
            .round
            .active
            .then(|| (c.round.ends_at - app.now_ms()).max(0).div_euclid(1000)),
        active: c.round.active,
    }
}

/// The organiser's view of a circle.
pub async fn view(app: &App, circle: &Circle) -> Result<OrganizerView, StoreError> {
    let stats_keys: Vec<_> = (0..STATS_SHARDS)
        .map(|k| (Table::Groups, keys::stats(&circle.cid, k), false))
        .collect();
    let mut q = QuerySpec::partition(Table::Groups, "pk", keys::reports_pk(&circle.cid));
    q.forward = false;
    q.consistent = false;
    q.limit = Some(REPORTS_SHOWN);
    let (conns, stats, reports) = tokio::try_join!(
        presence::connections(app, &circle.cid),
        app.store.batch_get(&stats_keys),
        app.store.query(q),
    )?;
    let (mut chats, mut members) = (0, 0);
    for item in stats.into_iter().flatten() {
        chats += opt_n(&item, "chats").unwrap_or(0);
        members += opt_n(&item, "members").unwrap_or(0);
    }
    let waiting = conns
        .iter()
        .filter(|c| matches!(c.state, ConnState::Waiting { .. }))
        .count() as u64;
    let chatting = conns
        .iter()
        .filter(|c| matches!(c.state, ConnState::Paired { .. } | ConnState::Away { .. }))
        .count() as u64;
    let reports = reports
        .items
        .iter()
        .map(|r| {
            let get = |k: &str| opt_s(r, k).unwrap_or_default();
            ReportView {
                id: get("sk"),
                at: rfc3339_millis(opt_n(r, "at").unwrap_or(0)),
                reason: get("reason"),
                excerpt: serde_json::from_str(&get("excerpt")).unwrap_or(Value::Array(vec![])),
                reporter: Person {
                    name: get("reporter_name"),
                    member_id: get("reporter_mid"),
                },
                reported: Person {
                    name: get("reported_name"),
                    member_id: get("reported_mid"),
                },
            }
        })
        .collect();
    Ok(OrganizerView {
        circle: CircleView::with_code(circle),
        waiting,
        chatting,
        chats,
        members,
        round: round_view(app, circle),
        reports,
    })
}

/// Removes a member: it can't join again, its live connections get `error`
/// `removed` and are closed, and a partner it had hears `partner_left` (`left`).
/// `Ok(None)` when no such member ever joined.
pub async fn remove(app: &App, circle: &Circle, mid: &str) -> Result<Option<usize>, ActionError> {
    let Some(item) = app
        .store
        .get(Table::Groups, keys::member(&circle.cid, mid), true)
        .await?
    else {
        return Ok(None);
    };
    let member = Member::from_item(&item)?;
    let op = app.store.update_op(
        Table::Groups,
        keys::member(&circle.cid, mid),
        "SET #removed = :t",
        None,
        vec![(":t", b(true))],
    );
    app.store.update(op).await?;
    let mut conns: Vec<_> = presence::connections(app, &circle.cid)
        .await?
        .into_iter()
        .filter(|c| c.mid.as_deref() == Some(mid))
        .collect();
    // The index may lag a join by a moment; the member record names its last connection.
    if let Some(last) = &member.conn
        && !conns.iter().any(|c| &c.connection_id == last)
        && let Some(c) = pairing::get_connection(app, last, true).await?
        && c.mid.as_deref() == Some(mid)
    {
        conns.push(c);
    }
    let removed = ActionError::Removed;
    for c in &conns {
        match &c.state {
            ConnState::Paired {
                room,
                partner_away_until,
            } => {
                let mut tx = Tx::new();
                pairing::end_both(app, &mut tx, c, room, *partner_away_until > 0);
                if app.store.transact(tx).await.is_ok() && *partner_away_until == 0 {
                    pairing::tell_partner_left(app, &room.partner, &room.room, LeftReason::Left)
                        .await;
                }
            }
            ConnState::Away { room, .. } => {
                // Its socket is already gone: end the room from the partner's side.
                if let Some(partner) = pairing::get_connection(app, &room.partner, true).await?
                    && let Some(theirs) = partner.room().cloned()
                {
                    let mut tx = Tx::new();
                    pairing::end_both(app, &mut tx, &partner, &theirs, true);
                    if app.store.transact(tx).await.is_ok() {
                        pairing::tell_partner_left(
                            app,
                            &partner.connection_id,
                            &theirs.room,
                            LeftReason::Left,
                        )
                        .await;
                    }
                }
            }
            ConnState::Waiting { ticket, shard } => {
                let entry = pairing::EntryRef {
                    conn: &c.connection_id,
                    shard: *shard,
                    ticket,
                };
                pairing::remove_entry(app, circle, &entry, None).await;
            }
            ConnState::Idle => {}
        }
        pairing::send_error(app, &c.connection_id, &removed).await;
        let _ = app.gateway.delete(&c.connection_id).await;
    }
    Ok(Some(conns.len()))
}

/// Closes a circle now: new joins fail at once, everyone connected hears
/// `circle_closed` and is disconnected, and every record of the circle goes.
pub async fn close(app: &App, circle: &Circle) -> Result<(), ActionError> {
    let mut tx = Tx::new();
    tx.delete(
        "circle by code",
        app.store.delete_op(
            Table::Groups,
            keys::circle(circle.code.as_str()),
            None,
            vec![],
        ),
    );
    tx.delete(
        "pointer",
        app.store
            .delete_op(Table::Groups, keys::pointer(&circle.cid), None, vec![]),
    );
    tx.delete(
        "organiser key",
        app.store.delete_op(
            Table::Groups,
            keys::organizer(&circle.organizer_hash),
            None,
            vec![],
        ),
    );
    app.store.transact(tx).await?;
    let conns = presence::connections(app, &circle.cid).await?;
    let closed = ServerEvent::CircleClosed {};
    futures_util::future::join_all(conns.iter().map(|c| async {
        let _ = pairing::send(app, &c.connection_id, &closed).await;
        let _ = app.gateway.delete(&c.connection_id).await;
    }))
    .await;
    let mut seats = Vec::new();
    for c in &conns {
        if let ConnState::Away { room, .. } = &c.state {
            seats.push(keys::away(&room.room, &room.pid));
        }
    }
    app.store
        .delete_all(
            Table::Connections,
            conns
                .iter()
                .map(|c| keys::connection(&c.connection_id))
                .collect(),
        )
        .await?;
    let mut partitions: Vec<String> = (0..circle.shards.max(1))
        .map(|s| keys::lobby_pk(&circle.cid, s))
        .collect();
    partitions.extend((0..MEMBER_SHARDS).map(|k| format!("M#{}#{k}", circle.cid)));
    partitions.push(keys::reports_pk(&circle.cid));
    partitions.push(format!("C#{}", circle.cid));
    let mut doomed = seats;
    doomed.extend((0..STATS_SHARDS).map(|k| keys::stats(&circle.cid, k)));
    for pk in partitions {
        let q = QuerySpec::partition(Table::Groups, "pk", pk);
        for item in app.store.query_all(q, usize::MAX).await? {
            let key = item
                .into_iter()
                .filter(|(k, _)| k == "pk" || k == "sk")
                .collect();
            doomed.push(key);
        }
    }
    app.store.delete_all(Table::Groups, doomed).await?;
    tracing::info!(cid = %circle.cid, connections = conns.len(), "circle closed by its organiser");
    Ok(())
}
