//! Timed rounds for networking sessions: the organiser starts them; at each
//! round's end (a timer) every room of the circle ends with `round_over`, and
//! everyone present (idle members included; not those sitting out) is paired
//! again at once, meeting new people first.
//!
//! Because a round pairs everyone at once it can plan: with the same members
//! present throughout, rounds follow a round-robin (circle method) schedule
//! fixed when rounds start, so n members (n even) meet everyone exactly once
//! in n-1 rounds. When people come and go (or a block gets in the way), a round
//! takes a maximum matching of never-met compatible pairs, then pairs the rest
//! with whoever they met longest ago; an odd one out waits and is paired first
//! the next round.
//!
//! `mod.rs` starts, stops and ends rounds; `repair.rs` re-pairs a circle at a
//! round change (end the rooms, plan, pair, seat the odd ones out);
//! `roster.rs` keeps the round-robin roster; `warning.rs` sends `round_ending`
//! a round-minute before a round's end. Whom to pair is decided by the
//! pure `crate::rules::schedule`.

use crate::app::App;
use crate::circle;
use crate::error::ActionError;
use crate::model::{Circle, RoundState};
use crate::presence;
use crate::protocol::{RoundInfo, ServerEvent};
use crate::timers::Timer;

/// Round lengths the organiser may pick, in minutes.
pub const MINUTES: std::ops::RangeInclusive<u32> = 2..=30;
/// Writes and posts in flight at once during a round change.
const FAN_OUT: usize = 32;

/// Starts rounds (round 1 now) and re-pairs everyone for it.
pub async fn start(app: &App, circle: Circle, minutes: u32) -> Result<Circle, ActionError> {
    let now = app.now_ms();
    let round = RoundState {
        number: 1,
        minutes,
        ends_at: now + i64::from(minutes) * App::ms(app.settings.round_minute),
        active: true,
    };
    let Some(circle) = circle::set_round(app, &circle, &circle.round, round).await? else {
        return Err(ActionError::Busy);
    };
    app.schedule(Timer::RoundEnd {
        cid: circle.cid.clone(),
        round: 1,
        due_ms: circle.round.ends_at,
    })
    .await;
    warning::schedule(app, &circle.cid, &circle.round).await;
    repair(app, &circle, true).await?;
    Ok(circle)
}

/// Stops rounds: rooms go on as ordinary chats; everyone hears `round` 0.
pub async fn stop(app: &App, circle: Circle) -> Result<Circle, ActionError> {
    if !circle.round.active {
        return Ok(circle);
    }
    let round = RoundState {
        active: false,
        ..circle.round.clone()
    };
    let Some(circle) = circle::set_round(app, &circle, &circle.round, round).await? else {
        return Err(ActionError::Busy);
    };
    let stopped = ServerEvent::Round(RoundInfo {
        number: 0,
        minutes: None,
        ends_at: None,
        seconds_left: None,
    });
    let everyone = presence::connections(app, &circle.cid).await?;
    broadcast(
        app,
        everyone
            .iter()
            .map(|c| (c.connection_id.clone(), stopped.clone())),
    )
    .await;
    Ok(circle)
}

/// The round timer: ends round `round` and starts the next, once.
pub async fn round_ended(app: &App, cid: &str, round: u32) -> Result<(), ActionError> {
    let Some(circle) = circle::get_by_cid(app, cid).await? else {
        return Ok(());
    };
    if !circle.round.active || circle.round.number != round {
        return Ok(());
    }
    let now = app.now_ms();
    if circle.round.ends_at > now + 250 {
        app.schedule(Timer::RoundEnd {
            cid: cid.to_owned(),
            round,
            due_ms: circle.round.ends_at,
        })
        .await;
        return Ok(());
    }
    let next = RoundState {
        number: round + 1,
        ends_at: now + i64::from(circle.round.minutes) * App::ms(app.settings.round_minute),
        ..circle.round.clone()
    };
    let Some(circle) = circle::set_round(app, &circle, &circle.round, next).await? else {
        // Another timer (or the organiser) moved the round on first.
        return Ok(());
    };
    app.schedule(Timer::RoundEnd {
        cid: cid.to_owned(),
        round: round + 1,
        due_ms: circle.round.ends_at,
    })
    .await;
    warning::schedule(app, cid, &circle.round).await;
    repair(app, &circle, false).await
}

mod repair;
mod roster;
mod warning;

use repair::{broadcast, repair};
pub use warning::round_ending;
