//! `$connect` and `join_group`: entering a lobby, claiming a waiter, and undoing a
//! pairing with a waiter whose connection turned out to be gone.

use aws_sdk_dynamodb::operation::{delete_item::DeleteItemOutput, put_item::PutItemOutput};
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity, TransactWriteItem};
use rand::seq::IndexedRandom;

use super::ops::*;
use crate::app::App;
use crate::code::AccessCode;
use crate::error::ActionError;
use crate::gateway::GatewayError;
use crate::metrics::DdbOp;
use crate::model::{ConnState, Connection, IDLE, LobbyEntry, Room, WAITING, random_id};
use crate::protocol::{GroupInfo, Participant, ServerEvent};
use crate::store::StoreError;
use crate::store::attr::s;

/// The person a join is for, as the lobby would see them.
#[derive(Debug, Clone)]
pub(super) struct Seeker {
    id: String,
    name: String,
    avoid: Option<String>,
    avoid_until: i64,
    prior: Prior,
}

pub(super) fn candidates<'a>(
    entries: &'a [LobbyEntry],
    me: &Seeker,
    now_ms: i64,
) -> Vec<&'a LobbyEntry> {
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

/// `$connect`: a fresh idle record that expires after API Gateway's 2 h maximum.
pub async fn connect(app: &App, conn_id: &str) -> Result<(), ActionError> {
    let now_ms = app.now_ms();
    let ttl = i64::try_from(app.settings.connection_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let conn = Connection::new(conn_id, now_ms, now_ms.div_euclid(1000) + ttl);
    let result = app
        .store
        .client
        .put_item()
        .table_name(&app.store.tables.connections)
        .set_item(Some(conn.to_item()))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    app.store
        .settle(DdbOp::PutItem, result, PutItemOutput::consumed_capacity)?;
    Ok(())
}

/// What came of committing a pairing and telling both people.
pub(super) enum Told {
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
    // Our record as the enqueue just wrote it. Its lobby entry changes with it in
    // every transaction, so while the Query still shows the entry the record is
    // as written and need not be read again.
    let mut just_enqueued: Option<Connection> = None;
    for round in 0..app.settings.max_attempts.max(1) * 2 {
        if conflicts > app.settings.max_attempts {
            break;
        }
        let (lobby, me) = match just_enqueued.take() {
            Some(me) => (read_lobby(app, &code).await?, Some(me)),
            None => tokio::try_join!(read_lobby(app, &code), get_connection(app, conn_id, true))?,
        };
        let now = app.now_ms();
        let group = match lobby.group {
            None => return Err(ActionError::GroupNotFound),
            Some(g) if g.is_expired(now.div_euclid(1000)) => return Err(ActionError::GroupExpired),
            Some(g) => g,
        };
        let me = me.ok_or(ActionError::UnknownConnection)?;
        let (seeker, in_this_lobby) = match &me.state {
            // Already where a join leads: a keep-alive join that crossed the pairing.
            ConnState::Paired(r) if r.group == code.as_str() => return Ok(()),
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
                enqueue(app, &code, &seeker, &me)
                    .await
                    .map(|record| just_enqueued = Some(record))
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
pub(super) async fn enqueue(
    app: &App,
    code: &AccessCode,
    me: &Seeker,
    record: &Connection,
) -> Result<Connection, StoreError> {
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
    transact(app, items).await?;
    Ok(Connection {
        name: Some(me.name.clone()),
        state: ConnState::Waiting {
            group: code.as_str().to_owned(),
            ticket,
        },
        ..record.clone()
    })
}

/// Pairs the seeker with a waiter in one transaction, then tells both. Item 0 is
/// the waiter's entry, item 1 the waiter's record, item 2 the seeker's.
pub(super) async fn pair(
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
            delete_connection(app, &waiter.connection_id, Only::Any)
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
pub(super) async fn remove_stale_entry(
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
    match app.store.settle(
        DdbOp::DeleteItem,
        result,
        DeleteItemOutput::consumed_capacity,
    ) {
        Ok(_) => {
            tracing::info!(waiter = %waiter.connection_id, "removed a stale lobby entry");
            Ok(())
        }
        // Claimed or removed meanwhile.
        Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err),
    }
}
