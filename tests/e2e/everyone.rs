//! Rounds include everyone, over real WebSockets against the local stack:
//! `sit_out` on and off, and `round_ending` before a round's end.

use std::time::Duration;

use crate::ws_support::*;
use serde_json::{Value, json};

/// The next event named `name`, skipping others (a bounded number).
async fn until(c: &mut Client, name: &str) -> Value {
    for _ in 0..50 {
        let ev = c.event().await;
        if ev["event"] == name {
            return ev;
        }
    }
    panic!("no {name} event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sit_out_and_round_ending_over_real_sockets() {
    let stack = start_with(|c| {
        c.settings.round_minute = Duration::from_millis(1_500);
        c.settings.limits = c.settings.limits.scaled(100.0);
    })
    .await;
    let circle = create_circle(&stack, "Everyone").await;
    let code = circle["access_code"].as_str().expect("a code").to_owned();
    let key = circle["organizer_key"].as_str().expect("a key").to_owned();
    let mut a = Client::connect(&stack).await;
    a.join_as(&circle, "Ann", "member-secret-ann-0001").await;
    a.expect("waiting").await;
    let mut b = Client::connect(&stack).await;
    b.join_as(&circle, "Bob", "member-secret-bob-0001").await;
    joined(&mut b).await;
    a.expect("join_room").await;
    let mut c = Client::connect(&stack).await;
    c.join_as(&circle, "Cat", "member-secret-cat-0001").await;
    c.expect("waiting").await;

    // Cat sits out: out of the lobby, answered `sit_out` {on: true}.
    c.send(json!({"action":"sit_out","on":true})).await;
    assert_eq!(c.expect("sit_out").await["on"], true);
    let metrics = stack.app().metrics.snapshot();

    // Rounds of 2 round-minutes (3 s): Ann and Bob are paired, Cat is not.
    let started = http_with_key(
        "POST",
        &format!("{}/groups/{code}/rounds", stack.http_url()),
        Some(&json!({"minutes": 2})),
        Some(&key),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    for m in [&mut a, &mut b] {
        until(m, "round_over").await;
        let room = until(m, "join_room").await;
        assert!(room["ends_at"].is_string(), "{room}");
        // A round-minute before the end: the warning, once.
        let warn = until(m, "round_ending").await;
        assert_eq!(warn["number"], 1, "{warn}");
        assert!(warn["ends_at"].is_string(), "{warn}");
        let left = warn["seconds_left"].as_i64().expect("seconds_left");
        assert!((0..=2).contains(&left), "{warn}");
    }
    let round = until(&mut c, "round").await;
    assert_eq!(round["number"], 1);
    // Nothing more for Cat until the round ends: no room, no warning.
    c.barrier().await;

    // Back in: waiting (the others are in a room) until the next round pairs her.
    c.send(json!({"action":"sit_out","on":false})).await;
    assert_eq!(c.expect("sit_out").await["on"], false);
    c.expect("waiting").await;
    let round = until(&mut c, "round").await;
    assert_eq!(round["number"], 2);
    let cost = stack.app().metrics.snapshot().since(&metrics);
    println!("COST sit_out off + a round of 3 with its warning: {cost}");
    let _ = until(&mut b, "round").await;
    stack.shutdown().await;
}
