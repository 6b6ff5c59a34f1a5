//! `sit_out`: a member leaves rounds and lobby pairing (`on`), or comes back
//! (`off`, which puts an idle member back in the lobby). The flag (`sit`)
//! lives on the connection record; every write that moves an idle record into
//! the lobby or a room is conditioned on its absence (`Prior::condition`), so
//! no pairing can commit for someone sitting out, however it races.

use super::join::requeue;
use super::ops::{backoff, get_connection, send, stop_sitting_out, throttle};
use super::prior::Prior;
use crate::app::App;
use crate::db::attr::{n, s};
use crate::db::{StoreError, Table, Tx, keys};
use crate::error::ActionError;
use crate::model::{ConnState, Connection, IDLE, PAIRED, WAITING};
use crate::protocol::{ProtocolError, ServerEvent};
use crate::ratelimit::Kind;

/// `sit_out`: sets or clears the connection's flag and answers `sit_out` {`on`};
/// a member waiting leaves the lobby, one idle and coming back joins it again.
/// A chat under way goes on either way (the next round leaves it out).
pub async fn sit_out(app: &App, conn_id: &str, on: bool) -> Result<(), ActionError> {
    throttle(app, conn_id, Kind::Join).await?;
    let mut conflicts = 0;
    let me = loop {
        let me = get_connection(app, conn_id, true)
            .await?
            .ok_or(ActionError::UnknownConnection)?;
        if me.cid.is_none() {
            return Err(ActionError::Protocol(ProtocolError::Invalid {
                field: "action",
                message: "sit_out needs a join_group first",
            }));
        }
        if me.sitting_out == on {
            break None;
        }
        let result = if on {
            set(app, &me).await
        } else {
            stop_sitting_out(app, &me).await
        };
        match result {
            Ok(()) => break Some(me),
            Err(err) if err.is_retryable() && conflicts < app.settings.max_attempts => {
                conflicts += 1;
                backoff(app, conflicts).await;
            }
            Err(err) => return Err(err.into()),
        }
    };
    let _ = send(app, conn_id, &ServerEvent::SitOut { on }).await;
    // Back from sitting out, between chats: into the lobby.
    if let Some(me) = me.filter(|m| !on && m.state == ConnState::Idle) {
        let back = Connection {
            sitting_out: false,
            ..me
        };
        Box::pin(requeue(app, &back)).await?;
    }
    Ok(())
}

/// Sits out, conditioned on the state read: a waiter leaves the lobby in the
/// same transaction (its record turns idle).
async fn set(app: &App, me: &Connection) -> Result<(), StoreError> {
    let key = keys::connection(&me.connection_id);
    match &me.state {
        ConnState::Waiting { ticket, .. } => {
            let mut tx = Tx::new();
            tx.update(
                "my record",
                app.store.update_op(
                    Table::Connections,
                    key,
                    "SET #state = :idle, #sit = :one REMOVE #ticket, #shard",
                    Some("#state = :waiting AND #ticket = :t"),
                    vec![
                        (":idle", s(IDLE)),
                        (":one", n(1)),
                        (":waiting", s(WAITING)),
                        (":t", s(ticket)),
                    ],
                ),
            );
            if let Some(prior) = Prior::of(me) {
                prior.exit_lobby(app, &mut tx, false);
            }
            app.store.transact(tx).await
        }
        ConnState::Idle => {
            let op = app.store.update_op(
                Table::Connections,
                key,
                "SET #sit = :one",
                Some("#state = :idle"),
                vec![(":one", n(1)), (":idle", s(IDLE))],
            );
            app.store.update(op).await
        }
        ConnState::Paired { room, .. } | ConnState::Away { room, .. } => {
            let op = app.store.update_op(
                Table::Connections,
                key,
                "SET #sit = :one",
                Some("#room = :r AND #state = :paired"),
                vec![
                    (":one", n(1)),
                    (":r", s(&room.room)),
                    (":paired", s(PAIRED)),
                ],
            );
            app.store.update(op).await
        }
    }
}
