//! `message`: one eventually consistent read, no write, relayed to the partner
//! and echoed to the sender.

use serde_json::{Map, Value};

use super::ops::*;
use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::model::{Connection, Room};
use crate::protocol::{LeftReason, Participant, ServerEvent};
use crate::store::StoreError;

/// `message`: one eventually consistent read, no write; relayed to the partner and
/// echoed to the sender with the server's stamp.
pub async fn relay(
    app: &App,
    conn_id: &str,
    room: &str,
    body: Map<String, Value>,
) -> Result<(), ActionError> {
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
    let Some(r) = me.room().filter(|r| r.room == room) else {
        return Err(ActionError::NotInRoom);
    };
    let event = ServerEvent::Message {
        room: r.room.clone(),
        from: Participant {
            name: me
                .name
                .clone()
                .unwrap_or_else(|| crate::protocol::ANONYMOUS.to_owned()),
            id: r.pid.clone(),
        },
        sent_at: rfc3339_millis(app.now_ms()),
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
        Err(GatewayError::Gone) => partner_gone(app, conn_id, r).await,
        Err(GatewayError::PayloadTooLarge) => Err(ActionError::PayloadTooLarge {
            limit: app.settings.max_frame_bytes,
        }),
        Err(err) => Err(err.into()),
        Ok(()) => Ok(()),
    }
}

/// The partner's connection is gone without a `$disconnect`: end the room for us
/// and drop its record.
pub(super) async fn partner_gone(app: &App, conn_id: &str, r: &Room) -> Result<(), ActionError> {
    let mine = leave_room_update(app, conn_id, &r.room, &r.partner, avoid_until(app));
    let (out, _) = tokio::join!(
        update_one(app, mine),
        delete_connection(app, &r.partner, Only::InRoom(&r.room))
    );
    match out {
        Ok(()) => {
            let left = ServerEvent::PartnerLeft {
                room: r.room.clone(),
                reason: LeftReason::Disconnected,
            };
            let _ = send(app, conn_id, &left).await;
            Ok(())
        }
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
