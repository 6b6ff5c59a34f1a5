//! What waiters are told: the `waiting` event, and lobby-count notices to a
//! few long waiters per join (each at most once every `notice_every`), so the
//! cost per join stays constant however big the lobby is.

use super::lobby::Found;
use super::ops::send;
use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::db::Table;
use crate::db::attr::n;
use crate::db::keys;
use crate::model::{Circle, LobbyEntry};
use crate::protocol::{CircleInfo, RoundInfo, ServerEvent};

/// The `waiting` event for this circle.
pub(crate) fn waiting_event(app: &App, circle: &Circle, count: u32) -> ServerEvent {
    ServerEvent::Waiting {
        group: CircleInfo {
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

/// Tells up to three long waiters the lobby count changed (each at most once
/// every `notice_every`), so the cost per join stays constant however big the
/// lobby is. Waiters a join doesn't reach hear it on their next keep-alive.
pub(crate) async fn notify_waiters(
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
pub(crate) async fn notify_self(app: &App, circle: &Circle, mine: &LobbyEntry, found: &Found) {
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
