//! Pairing, relay, leave and disconnect through the shared route handlers, against
//! the embedded DynamoDB: each of docs/design.md's pairing invariants, bad input, and
//! the DynamoDB cost of each action. Ends with property-based action sequences.

use std::sync::Arc;
use std::time::Duration;

use circle_shared::db::metrics::DdbOp;
use circle_shared::model::ConnState;
use circle_shared::protocol::{ErrorCode, LeftReason, ServerEvent};
use circle_shared::{Settings, embedded::EmbeddedDynamo};
use circle_tests::{Harness, Seen};
use proptest::prelude::*;
use serde_json::json;

fn error_code(e: &ServerEvent) -> ErrorCode {
    match e {
        ServerEvent::Error { code, .. } => *code,
        other => panic!("expected error, got {other:?}"),
    }
}

/// Two people paired in a fresh group: (harness, code, a, b, room).
async fn paired() -> (Harness, String, String, String, String) {
    let h = Harness::new().await;
    let code = h.group("pair").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &code, "Ann").await;
    h.join(&b, &code, "Bob").await;
    let room = h.current_room(&a).expect("a is in a room");
    assert_eq!(h.current_room(&b).as_ref(), Some(&room));
    (h, code, a, b, room)
}

#[tokio::test]
async fn the_first_joiner_waits_and_the_second_pairs_with_it() {
    let h = Harness::new().await;
    let code = h.group("Team").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &code.to_lowercase().replace('-', " "), "  Ann  ")
        .await;
    let ev = h.gateway.events(&a);
    match ev.as_slice() {
        [ServerEvent::Waiting { group, waiting, .. }] => {
            assert_eq!(group.name, "Team");
            assert_eq!(group.rules, vec!["be kind"]);
            assert_eq!(*waiting, 1);
        }
        other => panic!("a should get one waiting event, got {other:?}"),
    }
    h.join(&b, &code, "").await;
    // b pairs at once and may skip `waiting`; a gets join_room after its waiting.
    let a_events = h.gateway.events(&a);
    let b_events = h.gateway.events(&b);
    assert_eq!(a_events.len(), 2, "{a_events:?}");
    assert_eq!(b_events.len(), 1, "{b_events:?}");
    let (
        ServerEvent::JoinRoom {
            room: ra,
            user: ua,
            partner: pa,
            ..
        },
        ServerEvent::JoinRoom {
            room: rb,
            user: ub,
            partner: pb,
            ..
        },
    ) = (&a_events[1], &b_events[0])
    else {
        panic!("both get join_room: {a_events:?} {b_events:?}");
    };
    assert_eq!(ra, rb);
    assert_eq!((ua.as_str(), pa.name.as_str()), ("Ann", "Anonymous"));
    assert_eq!((ub.as_str(), pb.name.as_str()), ("Anonymous", "Ann"));
    assert_ne!(pa.id, pb.id);
    assert!(
        pa.id != a && pa.id != b && pb.id != a && pb.id != b,
        "ids are not connection ids"
    );
    h.assert_invariants().await;
}

#[tokio::test]
async fn messages_are_relayed_to_both_with_the_senders_stamp() {
    let (h, _code, a, b, room) = paired().await;
    let a_pid = match &h.join_rooms(&b)[0] {
        ServerEvent::JoinRoom { partner, .. } => partner.id.clone(),
        _ => unreachable!("join_rooms only returns join_room"),
    };
    let res = h
        .send(&a, json!({"action":"message","room":room,"message":"hi <b>there</b>","id":7,"from":{"name":"Mallory","id":"x"},"sent_at":"1999"}))
        .await;
    assert_eq!(res.status_code, 200);
    for who in [&a, &b] {
        let last = h.gateway.events(who).pop().expect("a message arrived");
        let ServerEvent::Message {
            room: r,
            from,
            sent_at,
            body,
        } = last
        else {
            panic!("{who} expected a message, got {last:?}");
        };
        assert_eq!(r, room);
        assert_eq!(from.name, "Ann");
        assert_eq!(from.id, a_pid);
        assert!(sent_at.starts_with("20"), "{sent_at}");
        assert_eq!(
            serde_json::Value::Object(body),
            json!({"message":"hi <b>there</b>","id":7})
        );
    }
    // And back the other way.
    h.send(&b, json!({"action":"message","room":room,"message":"yo"}))
        .await;
    let ServerEvent::Message { from, .. } = h.gateway.events(&a).pop().expect("reply arrived")
    else {
        panic!("a gets b's message");
    };
    assert_eq!(from.name, "Bob");
}

#[tokio::test]
async fn a_third_client_cannot_send_into_or_read_a_room() {
    let (h, code, a, b, room) = paired().await;
    let c = h.connect().await;
    h.join(&c, &code, "Eve").await;
    let before_a = h.gateway.events(&a).len();
    let before_b = h.gateway.events(&b).len();
    h.send(
        &c,
        json!({"action":"message","room":room,"message":"let me in"}),
    )
    .await;
    assert_eq!(
        error_code(h.errors(&c).last().expect("c gets an error")),
        ErrorCode::NotInRoom
    );
    assert_eq!(h.gateway.events(&a).len(), before_a);
    assert_eq!(h.gateway.events(&b).len(), before_b);
    h.send(
        &a,
        json!({"action":"message","room":room,"message":"private"}),
    )
    .await;
    assert!(
        !h.gateway
            .events(&c)
            .iter()
            .any(|e| matches!(e, ServerEvent::Message { .. })),
        "c saw nothing of the room"
    );
    // Nor can it leave someone else's room.
    h.leave(&c, &room, false).await;
    assert_eq!(
        error_code(h.errors(&c).last().expect("c gets an error")),
        ErrorCode::NotInRoom
    );
    assert_eq!(h.current_room(&a), Some(room));
    h.assert_invariants().await;
}

#[tokio::test]
async fn bad_frames_get_error_events_and_the_connection_keeps_working() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    let a = h.connect().await;
    let cases: Vec<(&str, String, ErrorCode)> = vec![
        ("$default", "not json".into(), ErrorCode::BadRequest),
        ("$default", "[1]".into(), ErrorCode::BadRequest),
        (
            "$default",
            json!({"action":"dance"}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "$default",
            json!({"no":"action"}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "join_group",
            json!({"action":"join_group"}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "join_group",
            json!({"action":"join_group","access_code":42}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "join_group",
            json!({"action":"join_group","access_code":"ZZZZZ-ZZZZZ"}).to_string(),
            ErrorCode::GroupNotFound,
        ),
        (
            "join_group",
            json!({"action":"join_group","access_code":"nope"}).to_string(),
            ErrorCode::GroupNotFound,
        ),
        (
            "message",
            json!({"action":"message"}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "message",
            json!({"action":"message","room":"r"}).to_string(),
            ErrorCode::NotInRoom,
        ),
        (
            "leave_room",
            json!({"action":"leave_room","room":"r","requeue":1}).to_string(),
            ErrorCode::BadRequest,
        ),
        (
            "leave_room",
            json!({"action":"leave_room","room":"r"}).to_string(),
            ErrorCode::NotInRoom,
        ),
    ];
    for (route, body, want) in &cases {
        let res = h.send_raw(&a, route, body.clone()).await;
        assert_eq!(res.status_code, 200, "{body}");
        let last = h.gateway.events(&a).pop().expect("an error event");
        assert_eq!(error_code(&last), *want, "{body}");
        if let ServerEvent::Error { message, .. } = last {
            assert!(!message.is_empty());
        }
    }
    assert_eq!(h.errors(&a).len(), cases.len());
    // Still usable, and nothing was left behind.
    h.join(&a, &code, "Ann").await;
    assert!(matches!(
        h.gateway.events(&a).last(),
        Some(ServerEvent::Waiting { .. })
    ));
    h.assert_invariants().await;
}

#[tokio::test]
async fn joining_while_in_a_room_changes_nothing() {
    let (h, code, a, b, room) = paired().await;
    // The same circle: a keep-alive join that crossed the pairing is a no-op.
    let before = h.gateway.events(&a).len();
    h.join(&a, &code, "Ann").await;
    assert_eq!(
        h.gateway.events(&a).len(),
        before,
        "{:?}",
        h.gateway.events(&a)
    );
    // Another circle: refused until the room is left.
    let other = h.group("other").await;
    h.join(&a, &other, "Ann").await;
    assert_eq!(
        error_code(h.errors(&a).last().expect("error")),
        ErrorCode::BadRequest
    );
    assert_eq!(h.current_room(&a).as_ref(), Some(&room));
    assert_eq!(h.current_room(&b).as_ref(), Some(&room));
    assert!(h.lobby_entries().await.is_empty());
    h.assert_invariants().await;
}

#[tokio::test]
async fn joining_another_group_while_waiting_moves_the_waiter() {
    let h = Harness::new().await;
    let (g1, g2) = (h.group("one").await, h.group("two").await);
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &g1, "Ann").await;
    h.join(&a, &g2, "Ann").await;
    let lobbies = h.lobby_entries().await;
    assert!(
        !lobbies.contains_key(h.cid(&g1).await.as_str()),
        "{lobbies:?}"
    );
    assert_eq!(lobbies[h.cid(&g2).await.as_str()].len(), 1);
    h.join(&b, &g1, "Bob").await;
    assert!(
        h.current_room(&b).is_none(),
        "b must not pair with someone who moved on"
    );
    h.assert_invariants().await;
}

#[tokio::test]
async fn leave_tells_the_partner_and_frees_both() {
    let (h, code, a, b, room) = paired().await;
    h.leave(&a, &room, false).await;
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerLeft {
            room: room.clone(),
            reason: LeftReason::Left
        })
    );
    assert!(h.current_room(&b).is_none());
    for c in h.connection_records().await {
        assert_eq!(c.state, ConnState::Idle, "{c:?}");
    }
    // b may join again and waits (a is not in the lobby: it left without requeue).
    h.join(&b, &code, "Bob").await;
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::Waiting { .. })
    ));
    h.assert_invariants().await;
}

#[tokio::test]
async fn next_pairs_the_leaver_with_the_next_waiter() {
    let (h, code, a, b, room) = paired().await;
    let c = h.connect().await;
    h.join(&c, &code, "Cat").await;
    h.leave(&a, &room, true).await;
    let new_room = h.current_room(&a).expect("a is paired again");
    assert_ne!(new_room, room);
    assert_eq!(h.current_room(&c), Some(new_room));
    let ServerEvent::JoinRoom { partner, .. } = h.join_rooms(&a).pop().expect("second join_room")
    else {
        unreachable!("join_rooms only returns join_room");
    };
    assert_eq!(partner.name, "Cat");
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerLeft {
            room,
            reason: LeftReason::Left
        })
    );
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_disconnect_holds_the_room_then_tells_the_partner() {
    let (h, _code, a, b, room) = paired().await;
    h.disconnect(&a).await;
    let grace_s = h.app.settings.resume_grace.as_secs();
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerAway {
            room: room.clone(),
            grace_s
        })
    );
    h.assert_invariants().await;
    // Nobody resumes: when the grace runs out the timer ends the room.
    h.advance(h.app.settings.resume_grace - Duration::from_millis(1))
        .await;
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::PartnerAway { .. })
    ));
    h.advance(Duration::from_millis(1)).await;
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerLeft {
            room,
            reason: LeftReason::Disconnected
        })
    );
    let records = h.connection_records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].connection_id, b);
    assert_eq!(records[0].state, ConnState::Idle);
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_disconnect_while_waiting_leaves_the_lobby() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &code, "Ann").await;
    h.disconnect(&a).await;
    assert!(h.lobby_entries().await.is_empty());
    h.join(&b, &code, "Bob").await;
    assert!(h.join_rooms(&b).is_empty(), "no ghost match");
    h.assert_invariants().await;
}

#[tokio::test]
async fn previous_partners_avoid_each_other_then_a_pair_of_two_is_not_stranded() {
    let (h, code, a, b, room) = paired().await;
    h.leave(&a, &room, true).await; // "next": a waits
    h.join(&b, &code, "Bob").await; // b comes back within the guard: both wait
    assert!(h.current_room(&a).is_none() && h.current_room(&b).is_none());
    assert_eq!(
        h.lobby_entries().await[h.cid(&code).await.as_str()].len(),
        2
    );
    h.assert_invariants().await;

    // Someone new pairs with one of them; the other keeps waiting.
    let c = h.connect().await;
    h.join(&c, &code, "Cat").await;
    let c_room = h.current_room(&c).expect("c pairs with a waiter");
    let (paired_with_c, other) = if h.current_room(&a) == Some(c_room.clone()) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert_eq!(h.current_room(paired_with_c), Some(c_room));
    assert!(h.current_room(other).is_none());
    h.assert_invariants().await;

    // In a two-person circle the guard lapses: the waiter's repeated join pairs them.
    let (h, code, a, b, room) = paired().await;
    h.leave(&a, &room, true).await;
    h.join(&b, &code, "Bob").await;
    h.join(&a, &code, "Ann").await;
    assert!(h.current_room(&a).is_none(), "still within the guard");
    h.clock
        .advance(h.app.settings.repeat_guard + Duration::from_millis(1));
    h.join(&a, &code, "Ann").await;
    let again = h.current_room(&a).expect("paired again after the guard");
    assert_eq!(h.current_room(&b), Some(again));
    h.assert_invariants().await;
}

#[tokio::test]
async fn the_choice_among_compatible_waiters_is_random() {
    // Two waiters who just left each other (so both wait); a newcomer picks one.
    let mut picked_first = 0;
    let trials = 40;
    for _ in 0..trials {
        let (h, code, a, b, room) = paired().await;
        h.leave(&a, &room, true).await;
        h.join(&b, &code, "Bob").await;
        let c = h.connect().await;
        h.join(&c, &code, "Cat").await;
        let c_room = h.current_room(&c).expect("c pairs");
        if h.current_room(&a) == Some(c_room) {
            picked_first += 1;
        }
    }
    // Each side is picked with probability 1/2; all 40 the same way has odds 2^-39.
    assert!(
        picked_first > 0 && picked_first < trials,
        "picked a {picked_first} of {trials} times"
    );
}

#[tokio::test]
async fn a_gone_waiter_is_cleaned_up_and_the_joiner_waits_or_pairs_elsewhere() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    let (ghost, b, c) = (h.connect().await, h.connect().await, h.connect().await);
    h.join(&ghost, &code, "Ghost").await;
    h.gateway.mark_gone(&ghost); // its socket vanished and $disconnect never came
    h.join(&b, &code, "Bob").await;
    assert!(
        h.join_rooms(&b).is_empty(),
        "b was not told of a ghost match: {:?}",
        h.gateway.events(&b)
    );
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::Waiting { .. })
    ));
    assert!(
        !h.connection_records()
            .await
            .iter()
            .any(|r| r.connection_id == ghost),
        "the ghost's record is gone"
    );
    h.assert_invariants().await;
    h.join(&c, &code, "Cat").await;
    assert_eq!(h.current_room(&b), h.current_room(&c));
    assert!(h.current_room(&b).is_some());
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_lobby_entry_whose_record_vanished_is_removed() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    let (lost, b) = (h.connect().await, h.connect().await);
    h.join(&lost, &code, "Lost").await;
    // The record expired and TTL deleted it before the lobby entry.
    h.app
        .store
        .client
        .delete_item()
        .table_name(&h.app.store.tables.connections)
        .key(
            "connection_id",
            aws_sdk_dynamodb::types::AttributeValue::S(lost.clone()),
        )
        .send()
        .await
        .expect("delete works");
    h.join(&b, &code, "Bob").await;
    assert!(h.join_rooms(&b).is_empty());
    let lobby = &h.lobby_entries().await[h.cid(&code).await.as_str()];
    assert_eq!(lobby.len(), 1);
    assert_eq!(lobby[0].conn, b);
    h.assert_invariants().await;
}

#[tokio::test]
async fn expired_connections_are_ignored_on_read() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    let a = h.connect().await;
    h.join(&a, &code, "Ann").await;
    // Past the connection TTL (API Gateway would have closed it at 2 h).
    h.clock
        .advance(h.app.settings.connection_ttl + Duration::from_secs(1));
    let b = h.connect().await;
    h.join(&b, &code, "Bob").await;
    assert!(
        h.join_rooms(&b).is_empty(),
        "no match with an expired waiter"
    );
    h.send(&a, json!({"action":"join_group","access_code":code}))
        .await;
    assert_eq!(
        error_code(h.errors(&a).last().expect("error")),
        ErrorCode::BadRequest
    );
    h.assert_invariants().await;
}

#[tokio::test]
async fn an_expired_group_cannot_be_joined_before_ttl_deletes_it() {
    let h = Harness::new().await;
    let code = h.group("g").await;
    h.clock.advance(Duration::from_secs(3 * 24 * 3600));
    let a = h.connect().await;
    h.join(&a, &code, "Ann").await;
    assert_eq!(
        error_code(h.errors(&a).last().expect("error")),
        ErrorCode::GroupExpired
    );
    assert!(h.lobby_entries().await.is_empty());
}

#[tokio::test]
async fn an_oversized_relay_is_refused() {
    let (h, _code, a, b, room) = paired().await;
    let before = h.gateway.events(&b).len();
    let big = "x".repeat(h.app.settings.max_frame_bytes);
    h.send(&a, json!({"action":"message","room":room,"message":big}))
        .await;
    assert_eq!(
        error_code(h.errors(&a).last().expect("error")),
        ErrorCode::PayloadTooLarge
    );
    assert_eq!(h.gateway.events(&b).len(), before);
}

#[tokio::test]
async fn connect_refuses_browser_origins_that_are_not_allowed() {
    let settings = Settings {
        allowed_origins: Some(vec!["https://circle.example".into()]),
        ..Settings::default()
    };
    let h = Harness::with_settings(settings).await;
    let mut ev = Harness::event("$connect", "c1=", None);
    ev.headers.insert(
        "origin",
        "https://evil.example".parse().expect("valid header"),
    );
    let res = circle_shared::handlers::ws::handle(&h.app, ev).await;
    assert_eq!(res.status_code, 403);
    assert!(h.connection_records().await.is_empty());
    let mut ev = Harness::event("$connect", "c2=", None);
    ev.headers.insert(
        "origin",
        "https://circle.example".parse().expect("valid header"),
    );
    assert_eq!(
        circle_shared::handlers::ws::handle(&h.app, ev)
            .await
            .status_code,
        200
    );
    // Non-browser clients send no Origin.
    assert!(!h.connect().await.is_empty());
}

#[tokio::test]
async fn request_costs_per_action() {
    let h = Harness::new().await;
    let circle = h.circle("cost").await;
    let code = circle.code.clone();
    let (a, b) = (h.connect().await, h.connect().await);
    let m = || h.app.metrics.snapshot();
    // As the page joins: with a member secret and the circle's id.
    let page_join = |name: &str, n: usize| {
        json!({"action":"join_group","access_code":code,"name":name,
               "member":circle_tests::member_secret(n),"circle":circle.id})
    };

    let t0 = m();
    h.send(&a, page_join("Ann", 1)).await;
    let wait = m().since(&t0);
    let t1 = m();
    h.send(&b, page_join("Bob", 2)).await;
    let pair = m().since(&t1);
    let room = h.current_room(&a).expect("paired");
    let t2 = m();
    h.send(
        &a,
        json!({"action":"message","room":room,"message":"hello"}),
    )
    .await;
    let message = m().since(&t2);
    let t3 = m();
    h.leave(&a, &room, false).await;
    let leave = m().since(&t3);
    // Without the circle's id the member record takes a read of its own.
    let (c, d) = (h.connect().await, h.connect().await);
    h.join_as(&c, &code, "Cat", &circle_tests::member_secret(3))
        .await;
    let t4 = m();
    h.join_as(&d, &code, "Dan", &circle_tests::member_secret(4))
        .await;
    let pair_unhinted = m().since(&t4);
    let room2 = h.current_room(&d).expect("d paired");
    let t5 = m();
    h.leave(&d, &room2, true).await;
    let next = m().since(&t5);
    let t6 = m();
    h.disconnect(&d).await;
    let disconnect = m().since(&t6);

    for (what, cost) in [
        ("join (waits)", wait),
        ("join (pairs)", pair),
        ("join (pairs, no id)", pair_unhinted),
        ("message", message),
        ("leave", leave),
        ("leave+requeue", next),
        ("disconnect (wait)", disconnect),
    ] {
        println!("COST {what:<20} {cost}");
    }
    // A pairing: one batched read (circle, record, member), a lobby page, one
    // transaction, and after it commits (never inside it) the counters' `ADD`
    // and the activity bucket's two (a join, a chat: `activity`).
    assert_eq!(pair.op(DdbOp::BatchGetItem), 1);
    assert_eq!(pair.op(DdbOp::Query), 1);
    assert_eq!(pair.op(DdbOp::TransactWriteItems), 1);
    assert_eq!(pair.op(DdbOp::UpdateItem), 3);
    assert_eq!(pair.ddb_requests(), 6);
    // Waiting: the same reads, the enqueue, the counters' `ADD` (a new
    // member), the lobby read again (invariant 3), and the join's tally.
    assert_eq!(wait.ddb_requests(), 6);
    assert_eq!(pair_unhinted.ddb_requests(), 7);
    // A message: one eventually consistent read and no write.
    assert_eq!(message.ddb_requests(), 1);
    assert_eq!(message.ddb_writes(), 0);
    assert_eq!(message.gateway_posts, 2);
    assert_eq!(leave.ddb_requests(), 2);
    h.assert_invariants().await;
}

// ---- Property-based sequences of actions -------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Join { who: usize, group: usize },
    Leave { who: usize, requeue: bool },
    Message { who: usize },
    Disconnect { who: usize },
    Vanish { who: usize },
    AdvanceClock { secs: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6usize, 0..2usize).prop_map(|(who, group)| Op::Join { who, group }),
        3 => (0..6usize, any::<bool>()).prop_map(|(who, requeue)| Op::Leave { who, requeue }),
        1 => (0..6usize).prop_map(|who| Op::Message { who }),
        1 => (0..6usize).prop_map(|who| Op::Disconnect { who }),
        1 => (0..6usize).prop_map(|who| Op::Vanish { who }),
        1 => (1..40u64).prop_map(|secs| Op::AdvanceClock { secs }),
    ]
}

async fn run_sequence(dynamo: Arc<EmbeddedDynamo>, ops: Vec<Op>) -> Result<(), String> {
    let h = Harness::on(dynamo, Settings::default()).await;
    let groups = [h.group("p0").await, h.group("p1").await];
    let mut conns: Vec<String> = Vec::new();
    for _ in 0..6 {
        conns.push(h.connect().await);
    }
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Join { who, group } => {
                h.join(&conns[*who], &groups[*group], &format!("u{who}"))
                    .await
            }
            Op::Leave { who, requeue } => {
                let room = h
                    .current_room(&conns[*who])
                    .unwrap_or_else(|| "none".into());
                h.leave(&conns[*who], &room, *requeue).await;
            }
            Op::Message { who } => {
                let room = h
                    .current_room(&conns[*who])
                    .unwrap_or_else(|| "none".into());
                h.send(
                    &conns[*who],
                    json!({"action":"message","room":room,"message":"m"}),
                )
                .await;
            }
            Op::Disconnect { who } => {
                h.disconnect(&conns[*who]).await;
                conns[*who] = h.connect().await;
            }
            Op::Vanish { who } => {
                // The socket is gone and $disconnect is lost (best effort on AWS).
                h.gateway.mark_gone(&conns[*who]);
                conns[*who] = h.connect().await;
            }
            Op::AdvanceClock { secs } => h.clock.advance(Duration::from_secs(*secs)),
        }
        let bad = h.violations().await;
        if !bad.is_empty() {
            return Err(format!("after step {step} {op:?}: {}", bad.join("; ")));
        }
        for c in &conns {
            if let Some(Seen::Event(ServerEvent::Error {
                code: ErrorCode::Internal,
                message,
            })) = h.gateway.seen(c).last()
            {
                return Err(format!("internal error after {op:?}: {message}"));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, .. ProptestConfig::default() })]
    #[test]
    fn random_action_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let result = rt.block_on(async {
            let dynamo = Arc::new(EmbeddedDynamo::memory().await.expect("embedded DynamoDB starts"));
            run_sequence(dynamo, ops).await
        });
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}
