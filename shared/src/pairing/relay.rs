//! `message`: one eventually consistent read, no write, relayed to the partner
//! and echoed to the sender (refused over the rate limit or while the partner's
//! seat is held).

use serde_json::{Map, Value};

use super::leave::hold;
use super::ops::throttle;
use super::ops::*;
use super::resume::expire_hold;
use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::db::StoreError;
use crate::db::Table;
use crate::db::keys;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::model::{ConnState, Connection, Room};
use crate::protocol::{LeftReason, Participant, ServerEvent};
use crate::ratelimit::Kind;

/// A hold the timer should have ended this long ago is ended by the partner's
/// next message instead (should a timer ever be lost).
const LATE_HOLD_MS: i64 = 5_000;

/// `message`: one eventually consistent read, no write; relayed to the partner and
/// echoed to the sender with the server's stamp.
pub async fn relay(
    app: &App,
    conn_id: &str,
    room: &str,
    body: Map<String, Value>,
) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Message).await?;
    let in_room = |c: &Option<Connection>| {
        c.as_ref()
            .and_then(|c| c.room())
            .is_some_and(|r| r.room == room)
    };
    let mut me = get_connection(app, conn_id, false).await?;
    if !in_room(&me) {
        // A fresh pairing may not have reached an eventually consistent read yet.
        me = get_connection(app, conn_id, true).await?;
    }
    let Some(me) = me else {
        return Err(ActionError::NotInRoom);
    };
    let now = app.now_ms();
    if me.throttled_until > now {
        return Err(ActionError::RateLimited);
    }
    let ConnState::Paired {
        room: r,
        partner_away_until,
    } = &me.state
    else {
        return Err(ActionError::NotInRoom);
    };
    if r.room != room {
        return Err(ActionError::NotInRoom);
    }
    if *partner_away_until > 0 {
        if *partner_away_until + LATE_HOLD_MS < now {
            expire_hold(app, &r.room, &r.partner_pid, &r.partner).await?;
            return Err(ActionError::NotInRoom);
        }
        return Err(ActionError::PartnerAway);
    }
    let event = ServerEvent::Message {
        room: r.room.clone(),
        from: Participant {
            name: me
                .name
                .clone()
                .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
            id: r.pid.clone(),
            label: None,
        },
        sent_at: rfc3339_millis(now),
        body,
    };
    let frame = event.to_frame();
    if frame.len() > app.settings.max_frame_bytes {
        return Err(ActionError::PayloadTooLarge {
            limit: app.settings.max_frame_bytes,
        });
    }
    let (to_partner, _) = tokio::join!(
        app.gateway.post(&r.partner, &frame),
        app.gateway.post(conn_id, &frame)
    );
    match to_partner {
        Err(GatewayError::Gone) => partner_gone(app, &me, r).await,
        Err(GatewayError::PayloadTooLarge) => Err(ActionError::PayloadTooLarge {
            limit: app.settings.max_frame_bytes,
        }),
        Err(err) => Err(err.into()),
        Ok(()) => Ok(()),
    }
}

/// The partner's socket is gone (410) and its `$disconnect` hasn't run yet
/// (on AWS it may come late, or never): hold its seat as that `$disconnect`
/// would, so it can still resume; the message is not delivered. If its record
/// is not in the room any more, the room is over for us too.
async fn partner_gone(app: &App, me: &Connection, r: &Room) -> Result<(), ActionError> {
    if let Some(partner) = get_connection(app, &r.partner, true).await?
        && let ConnState::Paired { room: theirs, .. } = &partner.state
        && theirs.room == r.room
        && theirs.partner == me.connection_id
    {
        match hold(app, &partner, theirs, false).await {
            Ok(()) => return Err(ActionError::PartnerAway),
            Err(err) if err.is_conflict() => return Err(ActionError::PartnerAway),
            Err(err) => return Err(err.into()),
        }
    }
    let last = super::recent::mine(app, r);
    let mine = to_idle_after(
        app,
        &me.connection_id,
        &r.room,
        &last,
        avoid_until(app),
        None,
    );
    let gone = app.store.delete_op(
        Table::Connections,
        keys::connection(&r.partner),
        Some("#room = :r AND #state = :paired"),
        vec![
            (":r", crate::db::attr::s(&r.room)),
            (":paired", crate::db::attr::s(crate::model::PAIRED)),
        ],
    );
    let (out, _) = tokio::join!(app.store.update(mine), app.store.delete(gone));
    match out {
        Ok(()) => {
            tell_partner_left(app, &me.connection_id, &r.room, LeftReason::Disconnected).await;
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
