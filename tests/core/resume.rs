//! Chats that survive a dropped connection, and waiters that vanish without
//! closing (docs/design.md Part 2), through the shared handlers with a hand-moved
//! clock and the recording timer queue.

use std::sync::Arc;
use std::time::Duration;

use circle_shared::protocol::{ErrorCode, LeftReason, ServerEvent};
use circle_tests::Harness;
use serde_json::{Value, json};

fn token_of(h: &Harness, conn: &str) -> String {
    match h.join_rooms(conn).last() {
        Some(ServerEvent::JoinRoom { resume, .. }) => resume.clone(),
        other => panic!("{conn} has no room: {other:?}"),
    }
}

fn last_error(h: &Harness, conn: &str) -> Option<ErrorCode> {
    h.errors(conn).last().map(|e| match e {
        ServerEvent::Error { code, .. } => *code,
        _ => unreachable!(),
    })
}

async fn paired(h: &Harness) -> (String, String, String, String) {
    let code = h.group("resume").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &code, "Ann").await;
    h.join(&b, &code, "Bob").await;
    let room = h.current_room(&a).expect("paired");
    (code, a, b, room)
}

fn say(room: &str, text: &str) -> Value {
    json!({"action":"message","room":room,"message":text})
}

#[tokio::test]
async fn a_dropped_member_resumes_its_seat_within_the_grace() {
    let h = Harness::new().await;
    let (_code, a, b, room) = paired(&h).await;
    let token = token_of(&h, &a);
    let (a_pid, b_name) = match h.join_rooms(&a).last() {
        Some(ServerEvent::JoinRoom { partner, user, .. }) => (partner.id.clone(), user.clone()),
        _ => unreachable!(),
    };
    let before = h.app.metrics.snapshot();
    h.disconnect(&a).await;
    let hold = h.app.metrics.snapshot().since(&before);
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::PartnerAway { grace_s: 30, .. })
    ));
    // Meanwhile the partner's messages are refused, not lost in silence.
    h.send(&b, say(&room, "hello?")).await;
    assert_eq!(last_error(&h, &b), Some(ErrorCode::PartnerAway));

    h.clock.advance(Duration::from_secs(29));
    let a2 = h.connect().await;
    let before = h.app.metrics.snapshot();
    h.send(&a2, json!({"action":"resume","room":room,"token":token}))
        .await;
    let resume = h.app.metrics.snapshot().since(&before);
    match h.gateway.events(&a2).as_slice() {
        [
            ServerEvent::JoinRoom {
                room: r,
                user,
                partner,
                resumed: Some(true),
                resume: t,
                ..
            },
        ] => {
            assert_eq!(r, &room);
            assert_eq!(user, &b_name.replace("Bob", "Ann"));
            assert_eq!(partner.name, "Bob");
            assert_eq!(partner.id, a_pid, "the same partner, same ids");
            assert_ne!(t, &token, "a resume answers a fresh token");
        }
        other => panic!("a2 should get join_room resumed: {other:?}"),
    }
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerBack { room: room.clone() })
    );
    // Messages flow again, both ways.
    h.send(&a2, say(&room, "back")).await;
    h.send(&b, say(&room, "welcome")).await;
    for who in [&a2, &b] {
        let texts: Vec<String> = h
            .gateway
            .events(who)
            .into_iter()
            .filter_map(|e| match e {
                ServerEvent::Message { body, .. } => body["message"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["back", "welcome"], "{who}");
    }
    // The hold's timer finds the seat taken and does nothing.
    h.advance(Duration::from_secs(5)).await;
    assert!(
        !h.gateway
            .events(&b)
            .iter()
            .any(|e| matches!(e, ServerEvent::PartnerLeft { .. }))
    );
    h.assert_invariants().await;
    let expiry = {
        let (_code, c, d, _room) = paired(&h).await;
        h.disconnect(&c).await;
        let before = h.app.metrics.snapshot();
        h.advance(h.app.settings.resume_grace).await;
        assert!(matches!(
            h.gateway.events(&d).last(),
            Some(ServerEvent::PartnerLeft {
                reason: LeftReason::Disconnected,
                ..
            })
        ));
        h.app.metrics.snapshot().since(&before)
    };
    for (what, cost) in [
        ("disconnect (hold)", hold),
        ("resume", resume),
        ("hold expiry", expiry),
    ] {
        println!("COST {what:<18} {cost}");
    }
    assert_eq!(hold.timers, 1);
    assert!(resume.ddb_requests() <= 4, "{resume}");
}

#[tokio::test]
async fn a_wrong_or_late_token_gets_not_in_room() {
    let h = Harness::new().await;
    let (_code, a, b, room) = paired(&h).await;
    let token = token_of(&h, &a);
    let other_token = token_of(&h, &b);
    h.disconnect(&a).await;
    let a2 = h.connect().await;
    for bad in [json!("nope"), json!(other_token)] {
        h.send(&a2, json!({"action":"resume","room":room,"token":bad}))
            .await;
        assert_eq!(last_error(&h, &a2), Some(ErrorCode::NotInRoom));
    }
    h.send(
        &a2,
        json!({"action":"resume","room":"no-such-room","token":token}),
    )
    .await;
    assert_eq!(last_error(&h, &a2), Some(ErrorCode::NotInRoom));
    // After the grace it is too late, even before the timer has run.
    h.clock.advance(h.app.settings.resume_grace);
    h.send(&a2, json!({"action":"resume","room":room,"token":token}))
        .await;
    assert_eq!(last_error(&h, &a2), Some(ErrorCode::NotInRoom));
    h.fire_due().await;
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::PartnerLeft {
            reason: LeftReason::Disconnected,
            ..
        })
    ));
    h.assert_invariants().await;
}

#[test]
fn two_connections_racing_to_resume_one_seat_one_wins() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        for _ in 0..10 {
            let h = Arc::new(Harness::new().await);
            let (_code, a, b, room) = paired(&h).await;
            let token = token_of(&h, &a);
            h.disconnect(&a).await;
            let racers: Vec<String> = vec![h.connect().await, h.connect().await, h.connect().await];
            let barrier = Arc::new(tokio::sync::Barrier::new(racers.len()));
            let tasks: Vec<_> = racers
                .iter()
                .map(|c| {
                    let (h, c, room, token, barrier) = (
                        h.clone(),
                        c.clone(),
                        room.clone(),
                        token.clone(),
                        barrier.clone(),
                    );
                    tokio::spawn(async move {
                        barrier.wait().await;
                        h.send(&c, json!({"action":"resume","room":room,"token":token}))
                            .await;
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("no panic");
            }
            let winners: Vec<&String> = racers
                .iter()
                .filter(|c| !h.join_rooms(c).is_empty())
                .collect();
            assert_eq!(winners.len(), 1, "exactly one takes the seat");
            for c in &racers {
                if !winners.contains(&c) {
                    assert_eq!(last_error(&h, c), Some(ErrorCode::NotInRoom));
                }
            }
            let backs = h
                .gateway
                .events(&b)
                .iter()
                .filter(|e| matches!(e, ServerEvent::PartnerBack { .. }))
                .count();
            assert_eq!(backs, 1);
            h.assert_invariants().await;
        }
    });
}

#[tokio::test]
async fn when_both_drop_the_room_ends_and_nothing_is_left_behind() {
    let h = Harness::new().await;
    let (_code, a, b, _room) = paired(&h).await;
    h.disconnect(&a).await;
    h.disconnect(&b).await;
    h.assert_invariants().await;
    assert!(h.connection_records().await.is_empty());
    h.advance(h.app.settings.resume_grace).await;
    let seats: Vec<_> = h
        .scan(circle_shared::db::Table::Groups)
        .await
        .into_iter()
        .filter(|i| i["pk"].as_s().is_ok_and(|p| p.starts_with("AWAY#")))
        .collect();
    assert!(seats.is_empty(), "{seats:?}");
}

#[tokio::test]
async fn a_member_who_drops_twice_resumes_twice() {
    let h = Harness::new().await;
    let (_code, a, b, room) = paired(&h).await;
    let token = token_of(&h, &a);
    h.disconnect(&a).await;
    let a2 = h.connect().await;
    h.send(&a2, json!({"action":"resume","room":room,"token":token}))
        .await;
    h.disconnect(&a2).await;
    // Each resume answers a fresh token: the second resume uses the new one.
    let token = token_of(&h, &a2);
    let a3 = h.connect().await;
    h.send(&a3, json!({"action":"resume","room":room,"token":token}))
        .await;
    assert!(matches!(
        h.join_rooms(&a3).last(),
        Some(ServerEvent::JoinRoom {
            resumed: Some(true),
            ..
        })
    ));
    h.send(&b, say(&room, "still there?")).await;
    assert!(matches!(
        h.gateway.events(&a3).last(),
        Some(ServerEvent::Message { .. })
    ));
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_vanished_waiter_is_never_paired_once_45_s_passed() {
    let h = Harness::new().await;
    let code = h.group("vanish").await;
    let (ghost, live, b) = (h.connect().await, h.connect().await, h.connect().await);
    // The ghost's network is gone: no close, no keep-alive; posts still "work".
    h.join(&ghost, &code, "Ghost").await;
    h.clock.advance(Duration::from_secs(46));
    h.join(&b, &code, "Bob").await;
    assert!(
        h.current_room(&b).is_none(),
        "not paired with a vanished waiter"
    );
    assert!(h.join_rooms(&ghost).is_empty());
    let lobby = h.lobby_entries().await;
    let waiting: Vec<&str> = lobby.values().flatten().map(|e| e.conn.as_str()).collect();
    assert_eq!(waiting, [b.as_str()], "the vanished waiter's entry is gone");
    h.assert_invariants().await;

    // A waiter whose keep-alive keeps coming is paired however long it waited.
    h.join(&live, &code, "Live").await; // pairs with b
    assert!(h.current_room(&live).is_some());
    let w = h.connect().await;
    h.join(&w, &code, "Waiter").await;
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(20));
        h.join(&w, &code, "Waiter").await; // the page's keep-alive
    }
    let n = h.connect().await;
    h.join(&n, &code, "New").await;
    assert!(h.current_room(&n).is_some() && h.current_room(&n) == h.current_room(&w));
    // A ghost that comes back (its keep-alive arrives late) waits again.
    h.join(&ghost, &code, "Ghost").await;
    assert!(matches!(
        h.gateway.events(&ghost).last(),
        Some(ServerEvent::Waiting { .. })
    ));
    h.assert_invariants().await;
}
