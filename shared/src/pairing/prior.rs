//! Where a joiner was before this join (`Prior`): idle, or waiting under a
//! ticket with a lobby entry. Its record's condition, re-reading it when a
//! write found it changed, and leaving the old lobby entry in the same
//! transaction are each written once, here.

use aws_sdk_dynamodb::types::AttributeValue;

use super::ops::get_connection;
use crate::app::App;
use crate::db::attr::s;
use crate::db::{Slot, Table, Tx, keys};
use crate::error::ActionError;
use crate::model::{ConnState, Connection, IDLE, WAITING};

/// What a joiner's record must still be for a pairing or a wait to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Prior {
    Idle,
    /// Waiting under `ticket`; `entry` is its lobby entry when it still exists
    /// (and must go with it).
    Waiting {
        ticket: String,
        entry: Option<(String, u32)>,
    },
}

impl Prior {
    /// The condition on the joiner's record, and its values.
    pub(crate) fn condition(&self) -> (&'static str, Vec<(&'static str, AttributeValue)>) {
        match self {
            // A member sitting out is never paired nor put in the lobby.
            Prior::Idle => (
                "#state = :prior AND attribute_not_exists(#sit)",
                vec![(":prior", s(IDLE))],
            ),
            Prior::Waiting { ticket, .. } => (
                "#state = :prior AND #ticket = :pticket",
                vec![(":prior", s(WAITING)), (":pticket", s(ticket))],
            ),
        }
    }

    /// Reads the joiner's record again after a write found it changed:
    /// `None` when someone paired it meanwhile (they told it), or it sits out
    /// (`sit_out`: nobody pairs it, and it was answered when it sat out). With
    /// `entry_gone`, a waiting record's entry is known to be gone already.
    pub(crate) async fn reload(
        app: &App,
        conn_id: &str,
        entry_gone: bool,
    ) -> Result<Option<Prior>, ActionError> {
        let conn = get_connection(app, conn_id, true)
            .await?
            .ok_or(ActionError::UnknownConnection)?;
        if conn.sitting_out {
            return Ok(None);
        }
        Ok(Prior::of(&conn).map(|p| match p {
            Prior::Waiting { ticket, .. } if entry_gone => Prior::Waiting {
                ticket,
                entry: None,
            },
            p => p,
        }))
    }

    /// Where a connection record stands, as a joiner: `None` when it is in a
    /// room (paired, or away with its seat held).
    pub(crate) fn of(conn: &Connection) -> Option<Prior> {
        match &conn.state {
            ConnState::Idle => Some(Prior::Idle),
            ConnState::Waiting { ticket, shard } => Some(Prior::Waiting {
                ticket: ticket.clone(),
                entry: conn.cid.clone().map(|cid| (cid, *shard)),
            }),
            ConnState::Paired { .. } | ConnState::Away { .. } => None,
        }
    }

    /// Leaves the old lobby entry in the same transaction, if there is one;
    /// with `must_exist`, only while it is still there (else the slot fails).
    pub(crate) fn exit_lobby(&self, app: &App, tx: &mut Tx, must_exist: bool) -> Option<Slot> {
        let Prior::Waiting {
            ticket,
            entry: Some((cid, shard)),
        } = self
        else {
            return None;
        };
        let cond = must_exist.then_some("attribute_exists(#sk)");
        let op = app.store.delete_op(
            Table::Groups,
            keys::entry(cid, *shard, ticket),
            cond,
            vec![],
        );
        Some(tx.delete("old lobby entry", op))
    }
}
