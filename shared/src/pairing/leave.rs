//! `leave_room` (with "next") and `$disconnect`: ending a room for both members
//! at once and telling the partner.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::join::join;
use super::ops::*;
use crate::app::App;
use crate::error::ActionError;
use crate::model::{ConnState, WAITING};
use crate::protocol::{LeftReason, ServerEvent};
use crate::store::StoreError;
use crate::store::attr::s;

/// `leave_room`: both leave the room together; the partner is told. With
/// `requeue`, the leaver goes back to the lobby for someone new.
pub async fn leave(app: &App, conn_id: &str, room: &str, requeue: bool) -> Result<(), ActionError> {
    let me = get_connection(app, conn_id, true)
        .await?
        .ok_or(ActionError::UnknownConnection)?;
    let Some(r) = me.room().filter(|r| r.room == room).cloned() else {
        return Err(ActionError::NotInRoom);
    };
    let until = avoid_until(app);
    let mine = leave_room_update(app, conn_id, &r.room, &r.partner, until);
    let theirs = partner_out_update(app, conn_id, &r, until);
    match transact(app, vec![tx_update(mine.clone()), tx_update(theirs)]).await {
        Ok(()) => {
            let left = ServerEvent::PartnerLeft {
                room: r.room.clone(),
                reason: LeftReason::Left,
            };
            let _ = send(app, &r.partner, &left).await;
        }
        // We were already taken out (the partner left or vanished first).
        Err(err) if err.item_failed(0) => {}
        // The partner's record no longer names us: leave alone.
        Err(err) if err.is_conflict() => match update_one(app, mine).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(err) => return Err(err.into()),
        },
        Err(err) => return Err(err.into()),
    }
    if requeue {
        let name = me.name.as_deref().unwrap_or(crate::protocol::ANONYMOUS);
        join(app, conn_id, &r.group, name).await?;
    }
    Ok(())
}

/// `$disconnect`: the record goes; a partner is told, a lobby entry removed.
pub async fn disconnect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let mut conflicts = 0;
    while conflicts <= app.settings.max_attempts {
        let Some(me) = get_connection(app, conn_id, true).await? else {
            return Ok(());
        };
        let result = match &me.state {
            ConnState::Idle => delete_connection(app, conn_id, Only::Idle).await,
            ConnState::Waiting { group, ticket } => {
                let del = Delete::builder()
                    .table_name(&app.store.tables.connections)
                    .set_key(Some(conn_key(conn_id)))
                    .condition_expression("#st = :w AND #tk = :t")
                    .set_expression_attribute_names(names_for(&["#st #tk"]))
                    .expression_attribute_values(":w", s(WAITING))
                    .expression_attribute_values(":t", s(ticket))
                    .build()
                    .expect("table name and key are set");
                transact(
                    app,
                    vec![
                        TransactWriteItem::builder().delete(del).build(),
                        entry_delete(app, group, conn_id, ticket),
                    ],
                )
                .await
            }
            ConnState::Paired(r) => {
                let del = Delete::builder()
                    .table_name(&app.store.tables.connections)
                    .set_key(Some(conn_key(conn_id)))
                    .condition_expression("#rm = :room")
                    .expression_attribute_names("#rm", "room")
                    .expression_attribute_values(":room", s(&r.room))
                    .build()
                    .expect("table name and key are set");
                let theirs = partner_out_update(app, conn_id, r, avoid_until(app));
                match transact(
                    app,
                    vec![
                        TransactWriteItem::builder().delete(del).build(),
                        tx_update(theirs),
                    ],
                )
                .await
                {
                    Ok(()) => {
                        let left = ServerEvent::PartnerLeft {
                            room: r.room.clone(),
                            reason: LeftReason::Disconnected,
                        };
                        let _ = send(app, &r.partner, &left).await;
                        Ok(())
                    }
                    // The partner no longer names us; just go.
                    Err(err) if err.is_conflict() && !err.item_failed(0) => {
                        match delete_connection(app, conn_id, Only::InRoom(&r.room)).await {
                            Err(StoreError::ConditionFailed) => Err(StoreError::ConditionFailed),
                            other => other,
                        }
                    }
                    Err(err) => Err(err),
                }
            }
        };
        match result {
            Ok(()) => return Ok(()),
            Err(err) if err.is_conflict() || err == StoreError::Throttled => {
                conflicts += 1;
                backoff(conflicts).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(ActionError::Busy)
}
