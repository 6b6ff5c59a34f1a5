//! The warning before a round's end: a timer a round-minute before `ends_at`
//! sends `round_ending` to the members of the round's rooms, once (a mark on
//! the circle item, `rwarn`, stops a second delivery of the timer).
//!
//! Cost per round: the circle (2 reads: pointer and item), 1 conditional
//! write (the mark), the presence index (one Query per presence shard), and
//! one `@connections` post per member in a room of the round.

use super::repair::broadcast;
use crate::app::App;
use crate::circle;
use crate::clock::rfc3339_millis;
use crate::db::attr::{b, n};
use crate::db::{StoreError, Table, keys};
use crate::error::ActionError;
use crate::model::{ConnState, RoundState};
use crate::presence;
use crate::protocol::ServerEvent;
use crate::timers::Timer;

/// When round `r` is warned of: a round-minute before its end.
fn warn_at(app: &App, r: &RoundState) -> i64 {
    r.ends_at - App::ms(app.settings.round_minute)
}

/// Schedules the warning of the round that just started.
pub(super) async fn schedule(app: &App, cid: &str, r: &RoundState) {
    app.schedule(Timer::RoundEnding {
        cid: cid.to_owned(),
        round: r.number,
        due_ms: warn_at(app, r),
    })
    .await;
}

/// The warning timer: `round_ending` {`number`, `ends_at`, `seconds_left`} to
/// everyone in a room of round `round`, if it is still the round under way.
pub async fn round_ending(app: &App, cid: &str, round: u32) -> Result<(), ActionError> {
    let Some(circle) = circle::get_by_cid(app, cid).await? else {
        return Ok(());
    };
    let r = &circle.round;
    let now = app.now_ms();
    if !r.active || r.number != round || r.ends_at <= now {
        return Ok(());
    }
    if warn_at(app, r) > now + 250 {
        // Early (a queue's longest delay is shorter than a long round): later.
        schedule(app, cid, r).await;
        return Ok(());
    }
    let mark = app.store.update_op(
        Table::Groups,
        keys::circle(circle.code.as_str()),
        "SET #rwarn = :n",
        Some("#rnd = :n AND #ron = :on AND (attribute_not_exists(#rwarn) OR #rwarn < :n)"),
        vec![(":n", n(i64::from(round))), (":on", b(true))],
    );
    match app.store.update(mark).await {
        Ok(()) => {}
        // Warned already, or the round moved on meanwhile.
        Err(StoreError::ConditionFailed) => return Ok(()),
        Err(err) => return Err(err.into()),
    }
    let event = ServerEvent::RoundEnding {
        number: round,
        ends_at: rfc3339_millis(r.ends_at),
        seconds_left: (r.ends_at - now).max(0).div_euclid(1000),
    };
    let everyone = presence::connections(app, cid).await?;
    let in_round = everyone.into_iter().filter_map(|c| match &c.state {
        ConnState::Paired { room, .. } if room.round == round => {
            Some((c.connection_id, event.clone()))
        }
        _ => None,
    });
    broadcast(app, in_round).await;
    Ok(())
}
