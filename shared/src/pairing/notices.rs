//! What waiters are told: the `waiting` event (with why nobody present can be
//! paired yet, and when that lifts), and lobby-count notices to the other
//! waiters a join saw, so every waiter hears the same count. A small lobby's
//! waiters are each told every change; a big lobby's, a few per join and each
//! at most once every `notice_every`, so the cost per join stays constant
//! however big the lobby is.

use super::lobby::Found;
use super::ops::send;
use crate::app::App;
use crate::clock::{rfc3339_millis, rfc3339_secs};
use crate::db::Table;
use crate::db::attr::n;
use crate::db::keys;
use crate::model::{Circle, LobbyEntry};
use crate::protocol::{CircleInfo, RoundInfo, ServerEvent, WaitReason};
use crate::rules::matching::Seeker;
use crate::rules::waiting::why_waiting;

/// Why a waiter waits, and until when (epoch ms).
pub(crate) type Why = Option<(WaitReason, Option<i64>)>;

/// Waiters told per join (a lobby with at most this many others is "small":
/// each is told every change of the count).
const TOLD_PER_JOIN: usize = 3;

/// The `waiting` event for this circle: `count` waiters, the recipient
/// included; `why` nobody present can be paired with it now.
pub(crate) fn waiting_event(app: &App, circle: &Circle, count: u32, why: Why) -> ServerEvent {
    ServerEvent::Waiting {
        group: CircleInfo {
            name: circle.name.clone(),
            description: circle.description.clone(),
            rules: circle.rules.clone(),
            expires_at: Some(rfc3339_secs(circle.expires_at)),
        },
        waiting: count,
        round: circle.live_round(app.now_ms()).map(|r| round_info(app, r)),
        reason: why.map(|(r, _)| r),
        retry_at: why.and_then(|(_, at)| at).map(rfc3339_millis),
    }
}

/// Why the seeker waits, from what its read of the lobby found.
pub(crate) fn why(app: &App, seeker: &Seeker<'_>, found: &Found) -> Why {
    why_waiting(seeker, &found.others, app.now_ms())
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

/// Tells the other waiters a join saw that the lobby count changed: every
/// one of a small lobby, else up to three (each at most once every
/// `notice_every`). `joined`: the joiner (`joiner`) now waits too; `claimed`:
/// the waiter it was paired with. Waiters a join doesn't reach hear it on
/// their next keep-alive.
pub(crate) async fn notify_waiters(
    app: &App,
    circle: &Circle,
    found: &Found,
    claimed: Option<&str>,
    joiner: Option<&Seeker<'_>>,
) {
    let now = app.now_ms();
    let count = i64::try_from(found.others.len()).unwrap_or(i64::MAX) + i64::from(joiner.is_some())
        - i64::from(claimed.is_some());
    let small = found.others.len() <= TOLD_PER_JOIN;
    let due: Vec<&LobbyEntry> = found
        .others
        .iter()
        .filter(|e| Some(e.ticket.as_str()) != claimed)
        .filter(|e| e.told != count && (small || e.notice_after <= now))
        .take(TOLD_PER_JOIN)
        .collect();
    futures_util::future::join_all(due.into_iter().map(|e| {
        // With only the two of them waiting, why they aren't paired is the
        // same from either side.
        let why = match joiner {
            Some(j) if count == 2 => why_waiting(j, std::slice::from_ref(e), now),
            _ => None,
        };
        notice(app, circle, e, count, why, !small)
    }))
    .await;
}

/// Tells a keep-alive waiter the count if it changed (and, in a big lobby,
/// a notice is due).
pub(crate) async fn notify_self(
    app: &App,
    circle: &Circle,
    mine: &LobbyEntry,
    found: &Found,
    why: Why,
) {
    let count = i64::from(found.count(true));
    let small = found.others.len() <= TOLD_PER_JOIN;
    if mine.told != count && (small || mine.notice_after <= app.now_ms()) {
        notice(app, circle, mine, count, why, !small).await;
    }
}

/// Records the count told on the waiter's entry (once per count; with
/// `gated`, at most once every `notice_every`), then tells it.
async fn notice(app: &App, circle: &Circle, e: &LobbyEntry, count: i64, why: Why, gated: bool) {
    let now = app.now_ms();
    let cond = if gated {
        "attribute_exists(#sk) AND #nt <= :now"
    } else {
        "attribute_exists(#sk) AND #told <> :told"
    };
    let op = app.store.update_op(
        Table::Groups,
        keys::entry(&circle.cid, e.shard, &e.ticket),
        "SET #nt = :nt, #told = :told",
        Some(cond),
        vec![
            (":nt", n(now + App::ms(app.settings.notice_every))),
            (":told", n(count)),
            (":now", n(now)),
        ],
    );
    if app.store.update(op).await.is_ok() {
        let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
        let _ = send(app, &e.conn, &waiting_event(app, circle, count, why)).await;
    }
}
