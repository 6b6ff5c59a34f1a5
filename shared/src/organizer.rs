//! What the organiser can see and do: the live view of a circle (counts,
//! counters, reports), removing a member, and closing the circle (everyone told,
//! sockets closed, every record deleted at once).

pub mod insight;
pub mod lifecycle;
pub mod reports;
pub mod roster;
pub mod screen;

use serde::Serialize;

use crate::app::App;
use crate::circle::tombstone;
use crate::circle::view::CircleView;
use crate::clock::rfc3339_millis;
use crate::db::attr::{b, opt_n};
use crate::db::keys::{self, MEMBER_SHARDS, STATS_SHARDS};
use crate::db::{QuerySpec, StoreError, Table, Tx};
use crate::error::ActionError;
use crate::model::{Circle, ConnState, Member};
use crate::pairing;
use crate::presence;
use crate::protocol::{EndReason, LeftReason, ServerEvent};

pub use reports::{Person, ReportView, ReportedCount};

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
    /// Who is connected now, at most [`roster::PRESENT_SHOWN`].
    pub present: Vec<roster::Present>,
    /// How many are connected now (all of them, listed or not).
    pub present_total: usize,
    /// Connections waiting in the lobby now.
    pub waiting: u64,
    /// Connections in a room now (paired, or away with the seat held).
    pub chatting: u64,
    /// Rooms formed so far (summed over the counter shards).
    pub chats: i64,
    /// Members so far: joins with no member record yet (summed over the counter shards).
    pub members: i64,
    /// In a circle with labels: chats across and within labels so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_share: Option<crate::circle::labels::LabelShare>,
    /// The rounds.
    pub round: RoundView,
    /// The first page of reports (at most [`reports::REPORTS_PAGE`], newest first).
    pub reports: Vec<ReportView>,
    /// The next page's cursor (`GET /groups/{code}/reports?after=…`), if any.
    pub reports_next: Option<String>,
    /// Reports per reported member, most reported first (at most
    /// [`reports::COUNTS_SHOWN`]): no flood can hide one.
    pub reported_counts: Vec<ReportedCount>,
    /// `good` and `meh` ratings over the circle's life, and per round.
    pub feedback: insight::FeedbackView,
    /// Joins, chats and ratings per 5-minute bucket over the circle's life.
    pub activity: Vec<insight::ActivityRow>,
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
    let (conns, stats, page, reported_counts, (feedback, activity)) = tokio::try_join!(
        presence::connections(app, &circle.cid),
        app.store.batch_get(&stats_keys),
        reports::page(app, &circle.cid, None),
        reports::counts(app, &circle.cid),
        insight::read(app, circle),
    )?;
    let (mut chats, mut members) = (0, 0);
    let mut share = crate::circle::labels::LabelShare::default();
    for item in stats.into_iter().flatten() {
        chats += opt_n(&item, "chats").unwrap_or(0);
        members += opt_n(&item, "members").unwrap_or(0);
        share.add(&item);
    }
    let waiting = conns
        .iter()
        .filter(|c| matches!(c.state, ConnState::Waiting { .. }))
        .count() as u64;
    let chatting = conns
        .iter()
        .filter(|c| matches!(c.state, ConnState::Paired { .. } | ConnState::Away { .. }))
        .count() as u64;
    let (present, present_total) = roster::present(&conns);
    Ok(OrganizerView {
        circle: CircleView::with_code(circle),
        present,
        present_total,
        waiting,
        chatting,
        chats,
        members,
        label_share: circle.labels.active().map(|_| share),
        round: round_view(app, circle),
        reports: page.reports,
        reports_next: page.reports_next,
        reported_counts,
        feedback,
        activity,
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
    for c in &conns {
        close_connection(app, circle, c, &ActionError::Removed).await?;
    }
    Ok(Some(conns.len()))
}

/// Ends whatever `c` is doing in the circle (its room ends for both and the
/// partner hears `partner_left`; its lobby entry goes), then sends it `error`
/// `why` and closes its socket.
pub(crate) async fn close_connection(
    app: &App,
    circle: &Circle,
    c: &crate::model::Connection,
    why: &ActionError,
) -> Result<(), ActionError> {
    {
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
        pairing::send_error(app, &c.connection_id, why).await;
        let _ = app.gateway.delete(&c.connection_id).await;
    }
    Ok(())
}

/// Closes a circle now: new joins fail at once (`circle_closed`), everyone
/// connected hears `circle_closed` and `circle_ended` (`closed`) and is
/// disconnected, and every record of the circle goes but two tombstones (its
/// code's and its organiser key's, content-free, until its original end).
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
    // The key index and the code stay as content-free tombstones until the
    // circle's original end, so the page can say "closed".
    tx.put(
        "organiser key, closed",
        tombstone::closed_key_op(app, &circle.organizer_hash, circle.expires_at),
    );
    tx.put(
        "code's tombstone",
        tombstone::put_op(
            app,
            circle.code.as_str(),
            tombstone::Ended::CircleClosed,
            true,
            circle.expires_at,
        ),
    );
    app.store.transact(tx).await?;
    let conns = presence::connections(app, &circle.cid).await?;
    let events = [
        ServerEvent::CircleClosed {},
        ServerEvent::CircleEnded {
            reason: EndReason::Closed,
        },
    ];
    lifecycle::tell_and_close(app, &conns, &events, true).await;
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
    partitions.push(keys::report_counts_pk(&circle.cid));
    partitions.push(keys::feedback_pk(&circle.cid));
    partitions.push(keys::keep_in_touch_pk(&circle.cid));
    partitions.push(format!("C#{}", circle.cid));
    partitions.push(keys::activity_pk(&circle.cid));
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
