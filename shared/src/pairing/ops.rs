//! DynamoDB plumbing for pairing: item keys, conditional updates and
//! transactions, the lobby read, and sending events to connections.

use aws_sdk_dynamodb::operation::{
    delete_item::DeleteItemOutput, query::QueryOutput, update_item::UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use rand::Rng;
use std::time::Duration;

use crate::app::App;
use crate::code::AccessCode;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::metrics::DdbOp;
use crate::model::{
    Connection, GROUP_SK, Group, IDLE, LobbyEntry, PAIRED, Room, WAIT_PREFIX, WAITING,
};
use crate::protocol::ServerEvent;
use crate::store::attr::{n, s};
use crate::store::{Item, StoreError};

/// Expression attribute names used by every update here; several are reserved words.
pub(super) const NAMES: [(&str, &str); 13] = [
    ("#st", "state"),
    ("#grp", "grp"),
    ("#rm", "room"),
    ("#pid", "pid"),
    ("#pt", "partner"),
    ("#pn", "partner_name"),
    ("#pp", "partner_pid"),
    ("#tk", "ticket"),
    ("#nm", "name"),
    ("#lp", "last_partner"),
    ("#au", "avoid_until"),
    ("#cid", "connection_id"),
    ("#sk", "sk"),
];

/// Adds the `#…` names an expression mentions.
pub(super) fn names_for(expressions: &[&str]) -> Option<std::collections::HashMap<String, String>> {
    let map: std::collections::HashMap<String, String> = NAMES
        .iter()
        .filter(|(alias, _)| expressions.iter().any(|e| mentions(e, alias)))
        .map(|(a, n)| ((*a).to_owned(), (*n).to_owned()))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// Whether `expr` uses `alias` as a whole token (so `#pt` is not found in `#pid`).
pub(super) fn mentions(expr: &str, alias: &str) -> bool {
    expr.match_indices(alias).any(|(i, _)| {
        let next = expr[i + alias.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

pub(super) fn conn_key(id: &str) -> Item {
    Item::from([("connection_id".into(), s(id))])
}

pub(super) fn entry_key(code: &str, conn_id: &str) -> Item {
    Item::from([
        ("pk".into(), s(code)),
        ("sk".into(), s(LobbyEntry::sort_key(conn_id))),
    ])
}

/// A group's item and its live lobby, from one strongly consistent Query.
#[derive(Debug, Clone, Default)]
pub struct Lobby {
    pub group: Option<Group>,
    pub entries: Vec<LobbyEntry>,
}

/// Reads a group and its lobby. Expired entries are left out.
pub async fn read_lobby(app: &App, code: &AccessCode) -> Result<Lobby, StoreError> {
    let now = app.now_secs();
    let mut lobby = Lobby::default();
    let mut start: Option<Item> = None;
    // A lobby holds few entries at rest; the page cap bounds a pathological burst.
    for _ in 0..4 {
        let result = app
            .store
            .client
            .query()
            .table_name(&app.store.tables.groups)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(code.as_str()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = app
            .store
            .settle(DdbOp::Query, result, QueryOutput::consumed_capacity)?;
        for item in out.items() {
            match item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
            {
                Some(GROUP_SK) => lobby.group = Some(Group::from_item(item)?),
                Some(sk) if sk.starts_with(WAIT_PREFIX) => {
                    let entry = LobbyEntry::from_item(item)?;
                    if entry.expires_at > now {
                        lobby.entries.push(entry);
                    }
                }
                _ => {}
            }
        }
        match out.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    Ok(lobby)
}

/// A connection's record, or `None` when absent or expired.
pub async fn get_connection(
    app: &App,
    id: &str,
    consistent: bool,
) -> Result<Option<Connection>, StoreError> {
    let item = app
        .store
        .get_item(&app.store.tables.connections, conn_key(id), consistent)
        .await?;
    let Some(item) = item else {
        return Ok(None);
    };
    let conn = Connection::from_item(&item)?;
    Ok((!conn.is_expired(app.now_secs())).then_some(conn))
}

pub(super) async fn transact(app: &App, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
    let result = app
        .store
        .client
        .transact_write_items()
        .set_transact_items(Some(items))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    match result {
        Ok(out) => {
            app.store
                .count(DdbOp::TransactWriteItems, out.consumed_capacity());
            Ok(())
        }
        Err(err) => {
            let err = crate::store::Store::transact_error(err);
            app.store.count_failed(DdbOp::TransactWriteItems, &err);
            Err(err)
        }
    }
}

/// Builds an `Update` on a connection record.
pub(super) fn conn_update(
    app: &App,
    id: &str,
    update: &str,
    condition: &str,
    values: Vec<(&str, AttributeValue)>,
) -> Update {
    Update::builder()
        .table_name(&app.store.tables.connections)
        .set_key(Some(conn_key(id)))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(names_for(&[update, condition]))
        .set_expression_attribute_values(Some(
            values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .build()
        .expect("table name, key and update expression are set")
}

pub(super) fn entry_delete(
    app: &App,
    code: &str,
    conn_id: &str,
    ticket: &str,
) -> TransactWriteItem {
    let delete = Delete::builder()
        .table_name(&app.store.tables.groups)
        .set_key(Some(entry_key(code, conn_id)))
        .condition_expression("#tk = :t")
        .set_expression_attribute_names(names_for(&["#tk"]))
        .expression_attribute_values(":t", s(ticket))
        .build()
        .expect("table name and key are set");
    TransactWriteItem::builder().delete(delete).build()
}

pub(super) fn tx_update(update: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(update).build()
}

/// The state a connection is moved out of, as a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Prior {
    Idle,
    Waiting { group: String, ticket: String },
}

impl Prior {
    pub(super) fn condition(&self) -> (&'static str, Vec<(&'static str, AttributeValue)>) {
        match self {
            Prior::Idle => ("#st = :prior", vec![(":prior", s(IDLE))]),
            Prior::Waiting { ticket, .. } => (
                "#st = :prior AND #tk = :ptk",
                vec![(":prior", s(WAITING)), (":ptk", s(ticket))],
            ),
        }
    }
}

pub(super) const SET_PAIRED: &str = "SET #st = :paired, #grp = :grp, #rm = :room, #pid = :pid, #pt = :pt, #pn = :pn, #pp = :pp, #nm = :nm REMOVE #tk";
pub(super) const SET_IDLE_AFTER_ROOM: &str =
    "SET #st = :idle, #lp = :lp, #au = :au REMOVE #grp, #rm, #pid, #pt, #pn, #pp";

/// Values for [`SET_PAIRED`]: `room` is the record's own side.
pub(super) fn paired_values(room: &Room, own_name: &str) -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":paired", s(PAIRED)),
        (":grp", s(&room.group)),
        (":room", s(&room.room)),
        (":pid", s(&room.pid)),
        (":pt", s(&room.partner)),
        (":pn", s(&room.partner_name)),
        (":pp", s(&room.partner_pid)),
        (":nm", s(own_name)),
    ]
}

/// One conditional update outside a transaction.
pub(super) async fn update_one(app: &App, update: Update) -> Result<(), StoreError> {
    let result = app
        .store
        .client
        .update_item()
        .table_name(update.table_name())
        .set_key(Some(update.key().clone()))
        .update_expression(update.update_expression())
        .set_condition_expression(update.condition_expression().map(str::to_owned))
        .set_expression_attribute_names(update.expression_attribute_names().cloned())
        .set_expression_attribute_values(update.expression_attribute_values().cloned())
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    app.store.settle(
        DdbOp::UpdateItem,
        result,
        UpdateItemOutput::consumed_capacity,
    )?;
    Ok(())
}

/// Which state a connection record may be deleted in.
#[derive(Debug, Clone, Copy)]
pub(super) enum Only<'a> {
    Any,
    InRoom(&'a str),
    Idle,
}

/// Deletes a connection record if it is in the given state.
pub(super) async fn delete_connection(
    app: &App,
    conn_id: &str,
    only: Only<'_>,
) -> Result<(), StoreError> {
    let mut req = app
        .store
        .client
        .delete_item()
        .table_name(&app.store.tables.connections)
        .set_key(Some(conn_key(conn_id)))
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    match only {
        Only::Any => {}
        Only::InRoom(room) => {
            req = req
                .condition_expression("#rm = :room")
                .expression_attribute_names("#rm", "room")
                .expression_attribute_values(":room", s(room));
        }
        Only::Idle => {
            req = req
                .condition_expression("#st = :idle")
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":idle", s(IDLE));
        }
    }
    let result = req.send().await;
    app.store.settle(
        DdbOp::DeleteItem,
        result,
        DeleteItemOutput::consumed_capacity,
    )?;
    Ok(())
}

/// Takes `conn_id` out of `room` (only while it is in it), remembering the partner
/// to avoid.
pub(super) fn leave_room_update(
    app: &App,
    conn_id: &str,
    room: &str,
    partner: &str,
    avoid_until: i64,
) -> Update {
    conn_update(
        app,
        conn_id,
        SET_IDLE_AFTER_ROOM,
        "#rm = :room",
        vec![
            (":idle", s(IDLE)),
            (":lp", s(partner)),
            (":au", n(avoid_until)),
            (":room", s(room)),
        ],
    )
}

/// The partner's side of ending a room: only while it still names us.
pub(super) fn partner_out_update(app: &App, me: &str, r: &Room, avoid_until: i64) -> Update {
    conn_update(
        app,
        &r.partner,
        SET_IDLE_AFTER_ROOM,
        "#rm = :room AND #pt = :me",
        vec![
            (":idle", s(IDLE)),
            (":lp", s(me)),
            (":au", n(avoid_until)),
            (":room", s(&r.room)),
            (":me", s(me)),
        ],
    )
}

pub(super) fn avoid_until(app: &App) -> i64 {
    app.now_ms() + i64::try_from(app.settings.repeat_guard.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Full-jitter exponential backoff after a lost race.
pub(super) async fn backoff(conflicts: u32) {
    let cap_ms = 4u64.saturating_mul(1 << conflicts.min(6)).min(250);
    let ms = rand::rng().random_range(0..=cap_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

pub(super) async fn send(
    app: &App,
    conn_id: &str,
    event: &ServerEvent,
) -> Result<(), GatewayError> {
    let result = app.gateway.post(conn_id, &event.to_frame()).await;
    if let Err(err) = &result
        && *err != GatewayError::Gone
    {
        tracing::warn!(connection_id = conn_id, error = %err, "post to connection failed");
    }
    result
}

/// Sends an `error` event; a client that is gone no longer needs it.
pub async fn send_error(app: &App, conn_id: &str, err: &ActionError) {
    let _ = send(
        app,
        conn_id,
        &ServerEvent::error(err.code(), err.public_message()),
    )
    .await;
}

/// Whether two people may be paired now: not each other's last partner while the
/// repeat guard of either still runs.
pub fn compatible(
    a_id: &str,
    a_avoid: Option<&str>,
    a_until: i64,
    b_id: &str,
    b_avoid: Option<&str>,
    b_until: i64,
    now_ms: i64,
) -> bool {
    a_id != b_id
        && !(a_avoid == Some(b_id) && now_ms < a_until)
        && !(b_avoid == Some(a_id) && now_ms < b_until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_as_whole_tokens() {
        let names = names_for(&["SET #pid = :p", "#st = :s"]).expect("some names");
        assert!(names.contains_key("#pid") && names.contains_key("#st"));
        assert!(!names.contains_key("#pt") && !names.contains_key("#sk"));
    }

    #[test]
    fn previous_partners_are_incompatible_only_during_the_guard() {
        assert!(compatible("a", None, 0, "b", None, 0, 5));
        assert!(!compatible("a", None, 0, "a", None, 0, 5));
        assert!(!compatible("a", Some("b"), 10, "b", None, 0, 5));
        assert!(!compatible("a", None, 0, "b", Some("a"), 10, 5));
        assert!(compatible("a", Some("b"), 10, "b", Some("a"), 10, 10));
        assert!(compatible("a", Some("c"), 10, "b", Some("d"), 10, 5));
    }
}
