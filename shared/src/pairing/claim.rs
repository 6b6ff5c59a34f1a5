//! The two writes of a join: `claim` pairs the joiner with a waiter in one
//! transaction (then tells the waiter first, undoing if it is gone), and
//! `enqueue` puts the joiner in the lobby. Each reads a cancellation by its
//! named slots.

use aws_sdk_dynamodb::types::Update;

use super::labels::Share;
use super::lobby::{EntryRef, remove_entry};
use super::member::Joiner;
use super::ops::*;
use super::prior::Prior;
use super::room::{NewRoom, add_counts, add_stats, member_met};
use crate::app::App;
use crate::db::attr::{n, s, strings};
use crate::db::{StoreError, Table, Tx, keys};
use crate::gateway::GatewayError;
use crate::model::{Circle, IDLE, LobbyEntry, WAITING, random_id};

/// Moves a record into the lobby under `ticket`.
pub(crate) fn to_waiting(
    app: &App,
    conn_id: &str,
    who: &Identity<'_>,
    ticket: &str,
    shard: u32,
    prior: &Prior,
) -> Update {
    let (cond, prior_values) = prior.condition();
    let mut values = who.values(conn_id);
    values.extend(prior_values);
    values.extend([
        (":waiting", s(WAITING)),
        (":ticket", s(ticket)),
        (":shard", n(i64::from(shard))),
    ]);
    app.store.update_op(
        Table::Connections,
        keys::connection(conn_id),
        &format!(
            "SET #state = :waiting, #ticket = :ticket, #shard = :shard, {}",
            who.clause()
        ),
        Some(cond),
        values,
    )
}

/// Why a claim or an enqueue did not commit.
#[derive(Debug)]
pub(crate) enum ClaimFail {
    /// We were claimed by someone else meanwhile.
    Claimed,
    /// The waiter is no longer there (claimed, gone, stale, removed, or blocks us).
    Waiter,
    /// Our own record is not as read.
    Me,
    /// Our member record is not as read (removed, a new block, created meanwhile).
    MyMember,
    Store(StoreError),
}

/// What came of committing a pairing and telling both people.
pub(crate) enum Claimed {
    Told,
    /// The waiter's connection was gone: the pairing was undone and the join goes on.
    WaiterGone,
}

/// Pairs the joiner with a waiter in one transaction, then tells both. Only
/// the two people's items (entries, records, members): the counters are added
/// after it commits.
/// With `count`, the chat (and a new member) is counted here; else the
/// caller counts a batch of claims at once.
pub(crate) async fn claim(
    app: &App,
    circle: &Circle,
    me: &Joiner,
    prior: &Prior,
    waiter: &LobbyEntry,
    count: bool,
) -> Result<Claimed, ClaimFail> {
    let cut = app.now_ms() - App::ms(app.settings.presence_window);
    let new_room = NewRoom::new(app, circle);
    // Side 0 is the waiter, side 1 the joiner.
    let their_side = new_room.side(app, 0, &me.conn, &me.name, &me.mid);
    let my_side = new_room.side(app, 1, &waiter.conn, &waiter.name, &waiter.mid);
    let waiter_identity = Identity {
        cid: &circle.cid,
        code: &me.code,
        mid: &waiter.mid,
        name: &waiter.name,
        expires_at: waiter.expires_at,
        circle_expires_at: circle.expires_at,
        label: None,
    };
    let (my_cond, my_values) = prior.condition();
    let mut tx = Tx::new();
    let their_entry = tx.delete(
        "waiter's entry",
        app.store.delete_op(
            Table::Groups,
            keys::entry(&circle.cid, waiter.shard, &waiter.ticket),
            Some("attribute_exists(#sk) AND #seen >= :cut"),
            vec![(":cut", n(cut))],
        ),
    );
    let their_record = tx.update(
        "waiter's record",
        to_paired(
            app,
            &waiter.conn,
            &waiter_identity,
            &their_side,
            "#state = :waiting AND #ticket = :wticket",
            vec![
                (":waiting", s(crate::model::WAITING)),
                (":wticket", s(&waiter.ticket)),
            ],
        ),
    );
    let op = to_paired(
        app,
        &me.conn,
        &me.identity(circle),
        &my_side,
        my_cond,
        my_values,
    );
    let my_record = tx.update("joiner's record", op);
    // The waiter's member record exists: it was written when it enqueued.
    let known = crate::model::Member::default();
    let op = member_met(
        app,
        &circle.cid,
        &waiter.mid,
        &me.mid,
        Some(&known),
        circle.expires_at,
        None,
    );
    let their_member = tx.update("waiter's member", op);
    let op = member_met(
        app,
        &circle.cid,
        &me.mid,
        &waiter.mid,
        me.member.as_ref(),
        circle.expires_at,
        Some(&me.conn),
    );
    let my_member = tx.update("joiner's member", op);
    let my_entry = prior.exit_lobby(app, &mut tx, true);
    if let Err(err) = app.store.transact(tx).await {
        let my_entry_failed = my_entry.is_some_and(|e| err.failed(e));
        return Err(if my_entry_failed && !err.failed(their_entry) {
            // Our own entry went while the waiter's was still there: someone
            // claimed us (and told us), no need to read our record to know it.
            ClaimFail::Claimed
        } else if err.failed(my_record) || my_entry_failed {
            ClaimFail::Me
        } else if err.failed(their_entry) || err.failed(their_record) || err.failed(their_member) {
            if err.failed(their_record) && !err.failed(their_entry) {
                // An entry whose record is not waiting under it: a lost `$disconnect`.
                remove_entry(app, circle, &EntryRef::from(waiter), None).await;
            }
            ClaimFail::Waiter
        } else if err.failed(my_member) {
            ClaimFail::MyMember
        } else {
            ClaimFail::Store(err)
        });
    }

    // The waiter first: if it is gone, undo before the joiner hears anything.
    let to_waiter = new_room.event(app, 0, &waiter.name, &me.name, me.label());
    if send(app, &waiter.conn, &to_waiter).await == Err(GatewayError::Gone) {
        tracing::info!(waiter = %waiter.conn, "paired waiter was gone; undoing");
        let remove = crate::model::Room::remove_clause();
        let undo = app.store.update_op(
            Table::Connections,
            keys::connection(&me.conn),
            &format!("SET #state = :idle REMOVE {remove}"),
            Some("#room = :r"),
            vec![(":idle", s(IDLE)), (":r", s(&new_room.room))],
        );
        let gone = app.store.delete_op(
            Table::Connections,
            keys::connection(&waiter.conn),
            None,
            vec![],
        );
        let (undone, _) = tokio::join!(app.store.update(undo), app.store.delete(gone));
        return match undone {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(Claimed::WaiterGone),
            Err(err) => Err(ClaimFail::Store(err)),
        };
    }
    // If the joiner is gone, its own `$disconnect` tells the waiter.
    let to_me = new_room.event(app, 1, &me.name, &waiter.name, waiter.label.as_deref());
    let chats = i64::from(count);
    let new_member = i64::from(count && me.member.is_none());
    let share = match count {
        true => Share::of(me.label(), waiter.label.as_deref()),
        false => Share::default(),
    };
    let _ = tokio::join!(
        send(app, &me.conn, &to_me),
        add_counts(app, circle, chats, new_member, share)
    );
    Ok(Claimed::Told)
}

/// Puts the joiner in the lobby: its entry, its record and its member record
/// change together. Returns its ticket.
pub(crate) async fn enqueue(
    app: &App,
    circle: &Circle,
    me: &Joiner,
    prior: &Prior,
    shard: u32,
    count: u32,
) -> Result<String, ClaimFail> {
    let ticket = random_id(16);
    let now = app.now_ms();
    let entry = LobbyEntry {
        conn: me.conn.clone(),
        mid: me.mid.clone(),
        name: me.name.clone(),
        ticket: ticket.clone(),
        shard,
        avoid: me.avoid.clone(),
        avoid_until: me.avoid_until,
        seen: now,
        since: now,
        notice_after: now + App::ms(app.settings.notice_every),
        told: i64::from(count),
        expires_at: me.expires_at,
        fresh: me.member.is_none(),
        label: me.label().map(str::to_owned),
    };
    let (member_set, member_cond, mut member_values) = match &me.member {
        None => (
            "SET #conn = :conn, #expires_at = :exp, #met = :empty",
            "attribute_not_exists(#sk)",
            vec![(":empty", strings(Vec::<String>::new()))],
        ),
        Some(_) => (
            "SET #conn = :conn, #expires_at = :exp",
            "attribute_exists(#sk) AND attribute_not_exists(#removed)",
            vec![],
        ),
    };
    member_values.extend([(":conn", s(&me.conn)), (":exp", n(circle.expires_at))]);
    let mut tx = Tx::new();
    let op = app.store.put_op(
        Table::Groups,
        entry.to_item(&circle.cid),
        Some("attribute_not_exists(#sk)"),
        vec![],
    );
    tx.put("my entry", op);
    let op = to_waiting(app, &me.conn, &me.identity(circle), &ticket, shard, prior);
    let my_record = tx.update("my record", op);
    let op = app.store.update_op(
        Table::Groups,
        keys::member(&circle.cid, &me.mid),
        member_set,
        Some(member_cond),
        member_values,
    );
    let my_member = tx.update("my member", op);
    let old_entry = prior.exit_lobby(app, &mut tx, true);
    match app.store.transact(tx).await {
        Ok(()) => {
            app.metrics.count_wait();
            add_stats(app, circle, 0, i64::from(me.member.is_none())).await;
            Ok(ticket)
        }
        Err(err) if err.failed(my_record) || old_entry.is_some_and(|e| err.failed(e)) => {
            Err(ClaimFail::Me)
        }
        Err(err) if err.failed(my_member) => Err(ClaimFail::MyMember),
        Err(err) => Err(ClaimFail::Store(err)),
    }
}
