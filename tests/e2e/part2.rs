//! Part 2 end to end over real WebSockets against the local stack: block,
//! report and the organiser's view and controls; rate limits under a real
//! flood; resume after a dropped connection; and a timed-round session.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::ws_support::*;
use serde_json::{Value, json};

fn org(stack: &circle_local::Stack, circle: &Value, path: &str) -> String {
    format!(
        "{}/groups/{}{path}",
        stack.http_url(),
        circle["access_code"].as_str().expect("a code")
    )
}

fn key(circle: &Value) -> &str {
    circle["organizer_key"].as_str().expect("a key")
}

/// Two members paired in `circle`: `(first, second, room)`.
async fn members_pair(stack: &circle_local::Stack, circle: &Value) -> (Client, Client, String) {
    let mut a = Client::connect(stack).await;
    a.join_as(circle, "Ann", "member-secret-ann-0001").await;
    a.expect("waiting").await;
    let mut b = Client::connect(stack).await;
    b.join_as(circle, "Bob", "member-secret-bob-0001").await;
    let jb = joined(&mut b).await;
    let ja = a.expect("join_room").await;
    assert_eq!(ja["room"], jb["room"]);
    assert_eq!(ja["prompt"], jb["prompt"], "the same icebreaker for both");
    let room = ja["room"].as_str().expect("a room").to_owned();
    (a, b, room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_block_and_the_organisers_view_remove_and_close() {
    let stack = start().await;
    let circle = create_circle(&stack, "Moderated").await;
    let stats = || async {
        let v = http_with_key(
            "GET",
            &org(&stack, &circle, "/organizer"),
            None,
            Some(key(&circle)),
        )
        .await;
        assert_eq!(v.status, 200, "{}", v.text);
        v.json()
    };
    let before = stats().await;
    assert_eq!(
        (before["waiting"].clone(), before["chatting"].clone()),
        (json!(0), json!(0))
    );

    let (mut ann, mut bob, room) = members_pair(&stack, &circle).await;
    let moved = stats().await;
    assert_eq!(
        (
            moved["chatting"].clone(),
            moved["chats"].clone(),
            moved["members"].clone()
        ),
        (json!(2), json!(1), json!(2))
    );

    // Ann reports Bob with two of the messages she saw.
    ann.send(json!({"action":"report","room":room,"reason":"kept insulting me",
        "excerpt":[{"from":"partner","text":"you're an idiot","sent_at":"2026-11-22T10:00:00.000Z"}]}))
        .await;
    assert_eq!(ann.expect("reported").await["room"], room);
    let left = bob.expect("partner_left").await;
    assert_eq!(left["reason"], "left", "a report is never revealed");
    let view = stats().await;
    let report = &view["reports"][0];
    assert_eq!(report["reason"], "kept insulting me");
    assert_eq!(report["excerpt"][0]["text"], "you're an idiot");
    assert_eq!(
        (
            report["reporter"]["name"].clone(),
            report["reported"]["name"].clone()
        ),
        (json!("Ann"), json!("Bob"))
    );

    // The organiser removes Bob (from the report): closed out, can't come back.
    let removed = http_with_key(
        "POST",
        &org(&stack, &circle, "/remove"),
        Some(&json!({"member_id": report["reported"]["member_id"]})),
        Some(key(&circle)),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    bob.expect_error("removed").await;
    bob.close_frame().await;
    let mut bob2 = Client::connect(&stack).await;
    bob2.join_as(&circle, "Bob", "member-secret-bob-0001").await;
    bob2.expect_error("removed").await;

    // Close the circle: everyone in it is told and disconnected.
    ann.join_as(&circle, "Ann", "member-secret-ann-0001").await;
    ann.expect("waiting").await;
    let mut cat = Client::connect(&stack).await;
    cat.join_as(&circle, "Cat", "member-secret-cat-0001").await;
    joined(&mut cat).await;
    ann.expect("join_room").await;
    let closed = http_with_key(
        "DELETE",
        &org(&stack, &circle, ""),
        None,
        Some(key(&circle)),
    )
    .await;
    assert_eq!(closed.status, 204);
    for c in [&mut ann, &mut cat] {
        c.expect("circle_closed").await;
        c.close_frame().await;
    }
    let gone = http("GET", &org(&stack, &circle, ""), None).await;
    assert_eq!(gone.status, 410, "a closed circle's code says so");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_rate_limited_and_the_partner_gets_at_most_the_allowance() {
    let stack = start().await;
    let circle = create_circle(&stack, "Flood").await;
    let (mut ann, mut bob, room) = members_pair(&stack, &circle).await;
    // An ordinary exchange first: nothing refused.
    for i in 0..5 {
        ann.send(json!({"action":"message","room":room,"message":format!("hi {i}")}))
            .await;
        assert_eq!(ann.expect("message").await["message"], format!("hi {i}"));
        assert_eq!(bob.expect("message").await["message"], format!("hi {i}"));
    }
    // 100 messages a second for 3 seconds.
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..300 {
        tick.tick().await;
        ann.send(json!({"action":"message","room":room,"message":format!("flood {i}")}))
            .await;
    }
    let elapsed = started.elapsed();
    // Everything relayed is posted before the last frame's answer: once Ann's
    // echo of a final, later message arrives, Bob's count is complete.
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        started + elapsed + Duration::from_millis(1100),
    ))
    .await;
    ann.send(json!({"action":"message","room":room,"message":"last"}))
        .await;
    let mut refused = 0;
    loop {
        let ev = ann.event().await;
        match ev["event"].as_str() {
            Some("error") => {
                assert_eq!(ev["code"], "rate_limited");
                refused += 1;
            }
            Some("message") if ev["message"] == "last" => break,
            _ => {}
        }
    }
    let mut got = 0;
    loop {
        let ev = bob.expect("message").await;
        if ev["message"] == "last" {
            break;
        }
        got += 1;
    }
    let allowance = 20.0 + 10.0 * elapsed.as_secs_f64();
    println!(
        "FLOOD 300 sent in {elapsed:?}: {got} relayed, {refused} refused (allowance {allowance:.0})"
    );
    assert!(refused > 0);
    assert!(f64::from(got) <= allowance + 1.0, "{got} > {allowance}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_partners_seat_is_held_and_messages_to_it_are_refused() {
    let stack = start().await;
    let circle = create_circle(&stack, "Flaky").await;
    let (ann, mut bob, room) = members_pair(&stack, &circle).await;
    drop(ann); // no close frame: the phone went into a tunnel
    let away = bob.expect("partner_away").await;
    assert_eq!(away["grace_s"], 30);
    bob.send(json!({"action":"message","room":room,"message":"hello?"}))
        .await;
    bob.expect_error("partner_away").await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_the_token_from_join_room() {
    let stack = start().await;
    let circle = create_circle(&stack, "Tunnel").await;
    let mut ann = Client::connect(&stack).await;
    ann.join_as(&circle, "Ann", "member-secret-ann-0002").await;
    ann.expect("waiting").await;
    let mut bob = Client::connect(&stack).await;
    bob.join_as(&circle, "Bob", "member-secret-bob-0002").await;
    joined(&mut bob).await;
    let seat = ann.expect("join_room").await;
    let (room, token) = (seat["room"].clone(), seat["resume"].clone());
    drop(ann);
    bob.expect("partner_away").await;
    let mut ann2 = Client::connect(&stack).await;
    ann2.send(json!({"action":"resume","room":room,"token":"wrong"}))
        .await;
    ann2.expect_error("not_in_room").await;
    ann2.send(json!({"action":"resume","room":room,"token":token}))
        .await;
    let back = ann2.expect("join_room").await;
    assert_eq!(
        (back["room"].clone(), back["resumed"].clone()),
        (room.clone(), json!(true))
    );
    assert_eq!(back["match"]["name"], "Bob");
    bob.expect("partner_back").await;
    ann2.send(json!({"action":"message","room":room,"message":"sorry, tunnel"}))
        .await;
    assert_eq!(bob.expect("message").await["message"], "sorry, tunnel");
    bob.send(json!({"action":"message","room":room,"message":"np"}))
        .await;
    // Her own echo and Bob's reply, in either order: Bob may answer (and his
    // post overtake her echo) as soon as her message reached him.
    let mut got = [
        ann2.expect("message").await["message"].clone(),
        ann2.expect("message").await["message"].clone(),
    ];
    got.sort_by_key(|m| m.to_string());
    assert_eq!(got, [json!("np"), json!("sorry, tunnel")]);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_round_session_of_forty() {
    let stack = start_with(|c| {
        c.settings.round_minute = Duration::from_millis(800);
        c.settings.limits = c.settings.limits.scaled(100.0);
    })
    .await;
    let circle = create_circle(&stack, "Speed networking").await;
    let mut clients = Vec::new();
    for i in 0..40 {
        let mut c = Client::connect(&stack).await;
        c.join_as(&circle, &format!("p{i}"), &format!("member-secret-{i:08}"))
            .await;
        clients.push(c);
    }
    // Let the joins settle: each client has waited or been paired.
    let mut room_of: Vec<Option<String>> = vec![None; clients.len()];
    for (i, c) in clients.iter_mut().enumerate() {
        let ev = joined(c).await;
        room_of[i] = ev["room"].as_str().map(str::to_owned);
    }
    let before = stack.app().metrics.snapshot();
    let started = http_with_key(
        "POST",
        &org(&stack, &circle, "/rounds"),
        Some(&json!({"minutes": 2})),
        Some(key(&circle)),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);

    // Each client sees round 1, 2 and 3 start, a room in each, and rooms end with round_over.
    let mut met: HashSet<(String, String)> = HashSet::new();
    let mut per_round: HashMap<u64, HashMap<String, String>> = HashMap::new();
    let mut seen_rounds: Vec<HashSet<u64>> = vec![HashSet::new(); clients.len()];
    let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Until everyone saw round 3 start and was seated in it (its join_room
    // follows the round event).
    while seen_rounds.iter().any(|s| !s.contains(&3))
        || per_round.get(&3).map_or(0, HashMap::len) < clients.len()
    {
        assert!(
            Instant::now() < deadline,
            "three rounds in time: {seen_rounds:?}"
        );
        for (i, c) in clients.iter_mut().enumerate() {
            while let Some(ev) = c.event_within(Duration::from_millis(5)).await {
                match ev["event"].as_str() {
                    Some("round") => {
                        let n = ev["number"].as_u64().expect("a number");
                        seen_rounds[i].insert(n);
                    }
                    Some("join_room") => {
                        assert!(
                            room_of[i].is_none(),
                            "p{i}: join_room while in a room: {ev}"
                        );
                        room_of[i] = ev["room"].as_str().map(str::to_owned);
                        assert!(ev["ends_at"].is_string(), "rooms of a round end: {ev}");
                        let round = *seen_rounds[i].iter().max().unwrap_or(&0);
                        per_round.entry(round).or_default().insert(
                            names[i].clone(),
                            ev["match"]["name"].as_str().unwrap_or("").to_owned(),
                        );
                    }
                    Some("round_over") | Some("partner_left") => {
                        assert_eq!(room_of[i].as_deref(), ev["room"].as_str(), "p{i}: {ev}");
                        room_of[i] = None;
                    }
                    // The warning a round-minute before each round's end.
                    Some("waiting") | Some("message") | Some("round_ending") => {}
                    other => panic!("p{i}: unexpected {other:?}: {ev}"),
                }
            }
        }
    }
    let cost = stack.app().metrics.snapshot().since(&before);
    let stop = http_with_key(
        "DELETE",
        &org(&stack, &circle, "/rounds"),
        None,
        Some(key(&circle)),
    )
    .await;
    assert_eq!(stop.status, 200);
    for round in 1..=3u64 {
        let pairs = &per_round[&round];
        assert_eq!(pairs.len(), 40, "round {round}: everyone paired");
        for (a, b) in pairs {
            assert_eq!(pairs.get(b), Some(a), "round {round}: {a} and {b} agree");
            if a < b {
                assert!(
                    met.insert((a.clone(), b.clone())),
                    "round {round}: {a} met {b} again"
                );
            }
        }
    }
    // Three rounds of 40: 40 members x 3 rounds.
    let member_rounds = 120.0;
    println!(
        "ROUNDS 40 members x 3 rounds: {:.2} posts and {:.2} DynamoDB requests per member per round ({cost})",
        cost.gateway_posts as f64 / member_rounds,
        cost.ddb_requests() as f64 / member_rounds
    );
    stack.shutdown().await;
}
