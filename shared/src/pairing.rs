//! Race-free pairing on DynamoDB conditional writes: connect, join (lobby and
//! pairing), message relay, leave (with "next"), and disconnect.
//!
//! Every state change is one `TransactWriteItems` whose conditions name exactly the
//! state that was read, so concurrent Lambdas can only commit consistent changes:
//!
//! - a pairing deletes the waiter's lobby entry (condition: its `ticket`), moves
//!   the waiter's connection from `waiting` to `paired` (condition: `waiting` with
//!   that ticket) and the joiner's likewise (condition: the state read). Both
//!   records name each other and the room, or nothing changes (invariants 1, 2).
//! - a joiner who finds no compatible waiter enqueues itself, then re-reads the
//!   lobby with a strongly consistent Query and claims any compatible waiter it
//!   now sees. Of two people enqueuing at once, the later one's re-read sees the
//!   earlier one, so two compatible people are never both left waiting (3).
//! - the choice among compatible waiters is uniformly random (4); people who just
//!   ended a room avoid each other for `repeat_guard` (5), after which any join
//!   (a waiter's repeated `join_group` too) pairs them.
//! - a waiter whose connection is gone (410) is deleted and the joiner's record
//!   put back before anyone is told, and the join goes on (6).
//! - expired records are ignored on every read (7, 8).

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value};
use std::time::Duration;

use crate::app::App;
use crate::clock::rfc3339_millis;
use crate::code::AccessCode;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::metrics::DdbOp;
use crate::model::{
    ConnState, Connection, GROUP_SK, Group, IDLE, LobbyEntry, PAIRED, Room, WAIT_PREFIX, WAITING,
    random_id,
};
use crate::protocol::{GroupInfo, LeftReason, Participant, ServerEvent};
use crate::store::attr::{n, s};
use crate::store::{Item, StoreError};

/// Expression attribute names used by every update here; several are reserved words.
const NAMES: [(&str, &str); 13] = [
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
fn names_for(expressions: &[&str]) -> Option<std::collections::HashMap<String, String>> {
    let map: std::collections::HashMap<String, String> = NAMES
        .iter()
        .filter(|(alias, _)| expressions.iter().any(|e| mentions(e, alias)))
        .map(|(a, n)| ((*a).to_owned(), (*n).to_owned()))
        .collect();
    (!map.is_empty()).then_some(map)
}

/// Whether `expr` uses `alias` as a whole token (so `#pt` is not found in `#pid`).
fn mentions(expr: &str, alias: &str) -> bool {
    expr.match_indices(alias).any(|(i, _)| {
        let next = expr[i + alias.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn conn_key(id: &str) -> Item {
    Item::from([("connection_id".into(), s(id))])
}

fn entry_key(code: &str, conn_id: &str) -> Item {
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
        let out = app
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
            .await
            .map_err(StoreError::from_sdk)?;
        app.store.count_one(DdbOp::Query, out.consumed_capacity());
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
    let out = app
        .store
        .client
        .get_item()
        .table_name(&app.store.tables.connections)
        .set_key(Some(conn_key(id)))
        .consistent_read(consistent)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    app.store.count_one(DdbOp::GetItem, out.consumed_capacity());
    let Some(item) = out.item() else {
        return Ok(None);
    };
    let conn = Connection::from_item(item)?;
    Ok((!conn.is_expired(app.now_secs())).then_some(conn))
}

async fn transact(app: &App, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
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
fn conn_update(
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

fn entry_delete(app: &App, code: &str, conn_id: &str, ticket: &str) -> TransactWriteItem {
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

fn tx_update(update: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(update).build()
}

/// The state a connection is moved out of, as a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Prior {
    Idle,
    Waiting { group: String, ticket: String },
}

impl Prior {
    fn condition(&self) -> (&'static str, Vec<(&'static str, AttributeValue)>) {
        match self {
            Prior::Idle => ("#st = :prior", vec![(":prior", s(IDLE))]),
            Prior::Waiting { ticket, .. } => (
                "#st = :prior AND #tk = :ptk",
                vec![(":prior", s(WAITING)), (":ptk", s(ticket))],
            ),
        }
    }
}

const SET_PAIRED: &str = "SET #st = :paired, #grp = :grp, #rm = :room, #pid = :pid, #pt = :pt, #pn = :pn, #pp = :pp, #nm = :nm REMOVE #tk";
const SET_IDLE_AFTER_ROOM: &str =
    "SET #st = :idle, #lp = :lp, #au = :au REMOVE #grp, #rm, #pid, #pt, #pn, #pp";

/// Values for [`SET_PAIRED`]: `room` is the record's own side.
fn paired_values(room: &Room, own_name: &str) -> Vec<(&'static str, AttributeValue)> {
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

/// The person a join is for, as the lobby would see them.
#[derive(Debug, Clone)]
struct Seeker {
    id: String,
    name: String,
    avoid: Option<String>,
    avoid_until: i64,
    prior: Prior,
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

fn candidates<'a>(entries: &'a [LobbyEntry], me: &Seeker, now_ms: i64) -> Vec<&'a LobbyEntry> {
    entries
        .iter()
        .filter(|e| {
            compatible(
                &me.id,
                me.avoid.as_deref(),
                me.avoid_until,
                &e.connection_id,
                e.avoid.as_deref(),
                e.avoid_until,
                now_ms,
            )
        })
        .collect()
}

/// Full-jitter exponential backoff after a lost race.
async fn backoff(conflicts: u32) {
    let cap_ms = 4u64.saturating_mul(1 << conflicts.min(6)).min(250);
    let ms = rand::rng().random_range(0..=cap_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

async fn send(app: &App, conn_id: &str, event: &ServerEvent) -> Result<(), GatewayError> {
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

/// `$connect`: a fresh idle record that expires after API Gateway's 2 h maximum.
pub async fn connect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let now_ms = app.now_ms();
    let ttl = i64::try_from(app.settings.connection_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let conn = Connection::new(conn_id, now_ms, now_ms.div_euclid(1000) + ttl);
    let out = app
        .store
        .client
        .put_item()
        .table_name(&app.store.tables.connections)
        .set_item(Some(conn.to_item()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(StoreError::from_sdk)?;
    app.store.count_one(DdbOp::PutItem, out.consumed_capacity());
    Ok(())
}

/// What came of committing a pairing and telling both people.
enum Told {
    Both,
    /// The waiter's connection was gone: the pairing was undone and the join goes on.
    WaiterGone,
}

/// `join_group`: enter the group's lobby, then get paired (or wait).
pub async fn join(
    app: &App,
    conn_id: &str,
    access_code: &str,
    name: &str,
) -> Result<(), ActionError> {
    let code = AccessCode::parse(access_code).ok_or(ActionError::GroupNotFound)?;
    let mut told_waiting = false;
    let mut conflicts = 0u32;
    for round in 0..app.settings.max_attempts.max(1) * 2 {
        if conflicts > app.settings.max_attempts {
            break;
        }
        let (lobby, me) =
            tokio::try_join!(read_lobby(app, &code), get_connection(app, conn_id, true))?;
        let now = app.now_ms();
        let group = match lobby.group {
            None => return Err(ActionError::GroupNotFound),
            Some(g) if g.is_expired(now.div_euclid(1000)) => return Err(ActionError::GroupExpired),
            Some(g) => g,
        };
        let me = me.ok_or(ActionError::UnknownConnection)?;
        let (seeker, in_this_lobby) = match &me.state {
            ConnState::Paired(_) if round == 0 => return Err(ActionError::AlreadyInRoom),
            // Someone claimed us while we were waiting; they told us.
            ConnState::Paired(_) => return Ok(()),
            ConnState::Waiting { group: g, ticket } if g == code.as_str() => {
                let Some(mine) = lobby
                    .entries
                    .iter()
                    .find(|e| e.connection_id == conn_id && &e.ticket == ticket)
                else {
                    // Our entry is being claimed right now; read again.
                    conflicts += 1;
                    backoff(conflicts).await;
                    continue;
                };
                let seeker = Seeker {
                    id: conn_id.to_owned(),
                    name: mine.name.clone(),
                    avoid: mine.avoid.clone(),
                    avoid_until: mine.avoid_until,
                    prior: Prior::Waiting {
                        group: g.clone(),
                        ticket: ticket.clone(),
                    },
                };
                (seeker, true)
            }
            other => {
                let prior = match other {
                    ConnState::Waiting { group, ticket } => Prior::Waiting {
                        group: group.clone(),
                        ticket: ticket.clone(),
                    },
                    _ => Prior::Idle,
                };
                let seeker = Seeker {
                    id: conn_id.to_owned(),
                    name: name.to_owned(),
                    avoid: me.last_partner.clone(),
                    avoid_until: me.avoid_until,
                    prior,
                };
                (seeker, false)
            }
        };

        let choices = candidates(&lobby.entries, &seeker, now);
        let chosen = choices.choose(&mut rand::rng()).map(|e| (*e).clone());
        let result = match chosen {
            Some(waiter) => match pair(app, &code, &seeker, &waiter).await {
                Ok(Told::Both) => return Ok(()),
                Ok(Told::WaiterGone) => Ok(()),
                Err(err) => {
                    if err.item_failed(1) && !err.item_failed(0) {
                        remove_stale_entry(app, &code, &waiter).await?;
                    }
                    Err(err)
                }
            },
            None if in_this_lobby => return Ok(()),
            None => {
                if !told_waiting {
                    // Told before the entry exists, so no `join_room` can overtake it.
                    let count = lobby
                        .entries
                        .iter()
                        .filter(|e| e.connection_id != conn_id)
                        .count()
                        + 1;
                    let waiting = ServerEvent::Waiting {
                        group: GroupInfo {
                            name: group.name.clone(),
                            description: group.description.clone(),
                            rules: group.rules.clone(),
                        },
                        waiting: u32::try_from(count).unwrap_or(u32::MAX),
                    };
                    if send(app, conn_id, &waiting).await == Err(GatewayError::Gone) {
                        return Ok(());
                    }
                    told_waiting = true;
                }
                enqueue(app, &code, &seeker, &me).await
            }
        };
        match result {
            Ok(()) => {}
            Err(err) if err.is_conflict() || err == StoreError::Throttled => {
                conflicts += 1;
                backoff(conflicts).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
    tracing::warn!(
        connection_id = conn_id,
        "join gave up after repeated conflicts"
    );
    Err(ActionError::Busy)
}

/// Puts the seeker in the lobby: its entry and its record change together.
async fn enqueue(
    app: &App,
    code: &AccessCode,
    me: &Seeker,
    record: &Connection,
) -> Result<(), StoreError> {
    let ticket = random_id(16);
    let entry = LobbyEntry {
        connection_id: me.id.clone(),
        name: me.name.clone(),
        ticket: ticket.clone(),
        avoid: me.avoid.clone(),
        avoid_until: me.avoid_until,
        since: app.now_ms(),
        expires_at: record.expires_at,
    };
    let put = Put::builder()
        .table_name(&app.store.tables.groups)
        .set_item(Some(entry.to_item(code)))
        .build()
        .expect("table name and item are set");
    let (cond, mut values) = me.prior.condition();
    values.extend([
        (":waiting", s(WAITING)),
        (":grp", s(code.as_str())),
        (":tk", s(&ticket)),
        (":nm", s(&me.name)),
    ]);
    let update = conn_update(
        app,
        &me.id,
        "SET #st = :waiting, #grp = :grp, #tk = :tk, #nm = :nm",
        cond,
        values,
    );
    let mut items = vec![
        TransactWriteItem::builder().put(put).build(),
        tx_update(update),
    ];
    if let Prior::Waiting { group, ticket } = &me.prior {
        items.push(entry_delete(app, group, &me.id, ticket));
    }
    transact(app, items).await
}

/// Pairs the seeker with a waiter in one transaction, then tells both. Item 0 is
/// the waiter's entry, item 1 the waiter's record, item 2 the seeker's.
async fn pair(
    app: &App,
    code: &AccessCode,
    me: &Seeker,
    waiter: &LobbyEntry,
) -> Result<Told, StoreError> {
    let room = random_id(20);
    let (my_pid, their_pid) = (random_id(12), random_id(12));
    let their_side = Room {
        group: code.as_str().to_owned(),
        room: room.clone(),
        pid: their_pid.clone(),
        partner: me.id.clone(),
        partner_name: me.name.clone(),
        partner_pid: my_pid.clone(),
    };
    let my_side = Room {
        group: code.as_str().to_owned(),
        room: room.clone(),
        pid: my_pid.clone(),
        partner: waiter.connection_id.clone(),
        partner_name: waiter.name.clone(),
        partner_pid: their_pid.clone(),
    };
    let mut waiter_values = paired_values(&their_side, &waiter.name);
    waiter_values.extend([(":waiting", s(WAITING)), (":wtk", s(&waiter.ticket))]);
    let waiter_update = conn_update(
        app,
        &waiter.connection_id,
        SET_PAIRED,
        "#st = :waiting AND #tk = :wtk",
        waiter_values,
    );
    let (cond, prior_values) = me.prior.condition();
    let mut my_values = paired_values(&my_side, &me.name);
    my_values.extend(prior_values);
    let my_update = conn_update(app, &me.id, SET_PAIRED, cond, my_values);
    let mut items = vec![
        entry_delete(app, code.as_str(), &waiter.connection_id, &waiter.ticket),
        tx_update(waiter_update),
        tx_update(my_update),
    ];
    if let Prior::Waiting { group, ticket } = &me.prior {
        items.push(entry_delete(app, group, &me.id, ticket));
    }
    transact(app, items).await?;

    // The waiter first: if it is gone, undo before the seeker hears anything.
    let to_waiter = ServerEvent::JoinRoom {
        room: room.clone(),
        user: waiter.name.clone(),
        partner: Participant {
            name: me.name.clone(),
            id: my_pid,
        },
    };
    if send(app, &waiter.connection_id, &to_waiter).await == Err(GatewayError::Gone) {
        tracing::info!(waiter = %waiter.connection_id, "paired waiter was gone; undoing");
        let undo = conn_update(
            app,
            &me.id,
            "SET #st = :idle REMOVE #grp, #rm, #pid, #pt, #pn, #pp",
            "#rm = :room",
            vec![(":idle", s(IDLE)), (":room", s(&room))],
        );
        let (undone, _) = tokio::join!(
            update_one(app, undo),
            delete_connection(app, &waiter.connection_id, None)
        );
        return match undone {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(Told::WaiterGone),
            Err(err) => Err(err),
        };
    }
    let to_me = ServerEvent::JoinRoom {
        room,
        user: me.name.clone(),
        partner: Participant {
            name: waiter.name.clone(),
            id: their_pid,
        },
    };
    // If the seeker is gone, its own `$disconnect` tells the waiter.
    let _ = send(app, &me.id, &to_me).await;
    Ok(Told::Both)
}

/// A lobby entry whose connection is no longer waiting under its ticket (its
/// `$disconnect` was lost, or its record expired) is removed so it can't block.
async fn remove_stale_entry(
    app: &App,
    code: &AccessCode,
    waiter: &LobbyEntry,
) -> Result<(), StoreError> {
    let still_waiting = matches!(
        get_connection(app, &waiter.connection_id, true).await?,
        Some(Connection { state: ConnState::Waiting { ref ticket, .. }, .. }) if *ticket == waiter.ticket
    );
    if still_waiting {
        return Ok(());
    }
    let result = app
        .store
        .client
        .delete_item()
        .table_name(&app.store.tables.groups)
        .set_key(Some(entry_key(code.as_str(), &waiter.connection_id)))
        .condition_expression("#tk = :t")
        .expression_attribute_names("#tk", "ticket")
        .expression_attribute_values(":t", s(&waiter.ticket))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    match result {
        Ok(out) => {
            app.store
                .count_one(DdbOp::DeleteItem, out.consumed_capacity());
            tracing::info!(waiter = %waiter.connection_id, "removed a stale lobby entry");
            Ok(())
        }
        Err(err) => match StoreError::from_sdk(err) {
            StoreError::ConditionFailed => {
                app.store
                    .count_failed(DdbOp::DeleteItem, &StoreError::ConditionFailed);
                Ok(())
            }
            other => Err(other),
        },
    }
}

async fn update_one(app: &App, update: Update) -> Result<(), StoreError> {
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
    match result {
        Ok(out) => {
            app.store
                .count_one(DdbOp::UpdateItem, out.consumed_capacity());
            Ok(())
        }
        Err(err) => {
            let err = StoreError::from_sdk(err);
            app.store.count_failed(DdbOp::UpdateItem, &err);
            Err(err)
        }
    }
}

/// Deletes a connection record, optionally only while it is in `room`.
async fn delete_connection(
    app: &App,
    conn_id: &str,
    only_in_room: Option<&str>,
) -> Result<(), StoreError> {
    let mut req = app
        .store
        .client
        .delete_item()
        .table_name(&app.store.tables.connections)
        .set_key(Some(conn_key(conn_id)))
        .return_consumed_capacity(ReturnConsumedCapacity::Total);
    if let Some(room) = only_in_room {
        req = req
            .condition_expression("#rm = :room")
            .expression_attribute_names("#rm", "room")
            .expression_attribute_values(":room", s(room));
    }
    match req.send().await {
        Ok(out) => {
            app.store
                .count_one(DdbOp::DeleteItem, out.consumed_capacity());
            Ok(())
        }
        Err(err) => {
            let err = StoreError::from_sdk(err);
            app.store.count_failed(DdbOp::DeleteItem, &err);
            Err(err)
        }
    }
}

/// Takes `conn_id` out of `room` (only while it is in it), remembering the partner
/// to avoid.
fn leave_room_update(
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
fn partner_out_update(app: &App, me: &str, r: &Room, avoid_until: i64) -> Update {
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

fn avoid_until(app: &App) -> i64 {
    app.now_ms() + i64::try_from(app.settings.repeat_guard.as_millis()).unwrap_or(i64::MAX / 4)
}

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
            ConnState::Idle => {
                let del = Delete::builder()
                    .table_name(&app.store.tables.connections)
                    .set_key(Some(conn_key(conn_id)))
                    .condition_expression("#st = :idle")
                    .expression_attribute_names("#st", "state")
                    .expression_attribute_values(":idle", s(IDLE))
                    .build()
                    .expect("table name and key are set");
                transact(app, vec![TransactWriteItem::builder().delete(del).build()]).await
            }
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
                        match delete_connection(app, conn_id, Some(&r.room)).await {
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
async fn partner_gone(app: &App, conn_id: &str, r: &Room) -> Result<(), ActionError> {
    let mine = leave_room_update(app, conn_id, &r.room, &r.partner, avoid_until(app));
    let (out, _) = tokio::join!(
        update_one(app, mine),
        delete_connection(app, &r.partner, Some(&r.room))
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
