//! How a circle's life ends or changes hands, as members hear it: a new code
//! that evicts everyone who came in with an old one, a close (`circle_ended`
//! `closed`, after `circle_closed`), and the circle's end (`circle_ended`
//! `expired`, by a timer scheduled at creation; on AWS an SQS message that
//! comes back every 15 minutes until due, never a sleeping Lambda).

use futures_util::future::join_all;

use crate::app::App;
use crate::circle;
use crate::db::attr::opt_s;
use crate::db::{Table, keys};
use crate::error::ActionError;
use crate::model::Circle;
use crate::pairing;
use crate::presence;
use crate::protocol::{EndReason, ServerEvent};
use crate::timers::Timer;

/// Connections told and closed at once (bounded, so a big circle doesn't
/// open thousands of `@connections` requests together).
const IN_FLIGHT: usize = 16;

/// A timer arriving this early (ms) is put back instead of fired.
const EARLY_MS: i64 = 1_000;

/// `POST /groups/{code}/code`: a new code; with `evict`, every connection that
/// came in with an earlier code gets `error` `code_changed` and is closed
/// (its room ends for both, its lobby entry goes), anonymous tabs included.
/// Returns the circle under its new code and how many were closed.
pub async fn rotate(
    app: &App,
    circle: Circle,
    evict: bool,
) -> Result<(Circle, usize), ActionError> {
    let next = circle::rotate(app, circle, evict).await?;
    if !evict {
        return Ok((next, 0));
    }
    let doomed: Vec<_> = presence::connections(app, &next.cid)
        .await?
        .into_iter()
        .filter(|c| c.code.as_deref() != Some(next.code.as_str()))
        .collect();
    let why = ActionError::CodeChanged;
    let mut closed = 0;
    // A chunk at a time (plain `join_all`: stream combinators over borrowed
    // closures make the handler's future not `Send`).
    for chunk in doomed.chunks(IN_FLIGHT) {
        let done = join_all(
            chunk
                .iter()
                .map(|c| super::close_connection(app, &next, c, &why)),
        )
        .await;
        closed += done.iter().filter(|r| r.is_ok()).count();
    }
    tracing::info!(cid = %next.cid, closed, "code changed; old code's connections closed");
    Ok((next, closed))
}

/// Tells every connection `events`, then closes it if `close`.
pub(crate) async fn tell_and_close(
    app: &App,
    conns: &[crate::model::Connection],
    events: &[ServerEvent],
    close: bool,
) {
    for chunk in conns.chunks(IN_FLIGHT) {
        join_all(chunk.iter().map(|c| async move {
            for event in events {
                let _ = pairing::send(app, &c.connection_id, event).await;
            }
            if close {
                let _ = app.gateway.delete(&c.connection_id).await;
            }
        }))
        .await;
    }
}

/// The `CircleEnd` timer: early, it is put back; due, everyone still
/// connected hears `circle_ended` (`expired`). A circle closed
/// meanwhile (no pointer) or given a later end is left alone; a repeat (SQS
/// delivers at least once) only finds the sockets gone.
pub async fn circle_end(app: &App, cid: &str, due_ms: i64) -> Result<(), ActionError> {
    if due_ms > app.now_ms() + EARLY_MS {
        app.schedule(Timer::CircleEnd {
            cid: cid.to_owned(),
            due_ms,
        })
        .await;
        return Ok(());
    }
    // Read past `circle::get`, which hides an expired circle.
    let Some(pointer) = app
        .store
        .get(Table::Groups, keys::pointer(cid), true)
        .await?
    else {
        return Ok(());
    };
    let Some(code) = opt_s(&pointer, "code") else {
        return Ok(());
    };
    let item = app
        .store
        .get(Table::Groups, keys::circle(&code), true)
        .await?;
    let Some(c) = item.as_ref().map(Circle::from_item).transpose()? else {
        return Ok(());
    };
    if c.cid != cid || !c.is_expired(app.now_secs()) {
        return Ok(());
    }
    let conns = presence::connections_at_end(app, cid).await?;
    let ended = ServerEvent::CircleEnded {
        reason: EndReason::Expired,
    };
    // Told only: the page closes its socket (the timer function may post to
    // connections, not delete them), and API Gateway ends it within 2 h anyway.
    tell_and_close(app, &conns, std::slice::from_ref(&ended), false).await;
    tracing::info!(cid = %cid, connections = conns.len(), "circle reached its end");
    Ok(())
}
