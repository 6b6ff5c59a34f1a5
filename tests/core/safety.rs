//! Safety and the organiser (docs/design.md Part 2: Members, Block and report, Rate
//! limits, The organiser) through the shared handlers against the embedded
//! DynamoDB, with a hand-moved clock.

use std::time::Duration;

use circle_shared::db::Table;
use circle_shared::protocol::{ErrorCode, LeftReason, ServerEvent};
use circle_shared::{RateLimits, Settings};
use circle_tests::{Harness, Seen, member_secret, test_settings};
use serde_json::{Value, json};

fn codes(h: &Harness, conn: &str) -> Vec<ErrorCode> {
    h.errors(conn)
        .into_iter()
        .map(|e| match e {
            ServerEvent::Error { code, .. } => code,
            _ => unreachable!("errors() only returns errors"),
        })
        .collect()
}

/// Pairs two members of a fresh circle: (harness, circle, a, b, room).
async fn members_paired() -> (Harness, circle_tests::Created, String, String, String) {
    let h = Harness::new().await;
    let c = h.circle("safe").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join_as(&a, &c.code, "Ann", &member_secret(1)).await;
    h.join_as(&b, &c.code, "Bob", &member_secret(2)).await;
    let room = h.current_room(&a).expect("paired");
    (h, c, a, b, room)
}

async fn act(h: &Harness, conn: &str, frame: Value) {
    if let Some(room) = frame.get("room").and_then(Value::as_str) {
        h.gateway.note(conn, Seen::Left(room.to_owned()));
    }
    assert_eq!(h.send(conn, frame).await.status_code, 200);
}

#[tokio::test]
async fn a_malformed_member_secret_is_a_bad_request_and_nothing_is_kept() {
    let h = Harness::new().await;
    let c = h.circle("m").await;
    let a = h.connect().await;
    for bad in ["short", "has spaces in it!!", &"x".repeat(65)] {
        h.send(
            &a,
            json!({"action":"join_group","access_code":c.code,"member":bad}),
        )
        .await;
    }
    assert_eq!(codes(&h, &a), [ErrorCode::BadRequest; 3]);
    assert!(h.lobby_entries().await.is_empty());
    assert!(h.members().await.is_empty());
}

#[tokio::test]
async fn secrets_are_stored_only_as_keyed_hashes() {
    let (h, c, a, b, room) = members_paired().await;
    let token = match &h.join_rooms(&a)[0] {
        ServerEvent::JoinRoom { resume, .. } => resume.clone(),
        _ => unreachable!(),
    };
    h.disconnect(&b).await; // a seat held: its resume hash is stored
    let _ = room;
    let mut everything = String::new();
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            everything.push_str(&format!("{item:?}"));
        }
    }
    for secret in [
        member_secret(1),
        member_secret(2),
        c.key.clone(),
        token,
        "198.51.100.7".to_owned(),
    ] {
        assert!(!everything.contains(&secret), "{secret} is stored in clear");
    }
    // Member ids are keyed hashes, different in every circle.
    let mid_here = h.app.settings.hash_key.member_id(&c.id, &member_secret(1));
    assert!(h.members().await.contains_key(&mid_here));
    assert_ne!(
        mid_here,
        h.app
            .settings
            .hash_key
            .member_id("other", &member_secret(1))
    );
}

#[tokio::test]
async fn a_block_ends_the_room_like_a_leave_and_the_pair_never_meets_again() {
    let (h, c, a, b, room) = members_paired().await;
    act(&h, &a, json!({"action":"block","room":room})).await;
    assert_eq!(
        h.gateway.events(&a).last(),
        Some(&ServerEvent::Blocked { room: room.clone() })
    );
    // The partner only learns that it was left.
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerLeft {
            room: room.clone(),
            reason: LeftReason::Left
        })
    );
    // Both come back, long after any repeat guard, on new connections too.
    h.clock.advance(Duration::from_secs(60));
    let (a2, b2) = (h.connect().await, h.connect().await);
    h.join_as(&a2, &c.code, "Ann", &member_secret(1)).await;
    h.join_as(&b2, &c.code, "Bob", &member_secret(2)).await;
    assert!(h.current_room(&a2).is_none() && h.current_room(&b2).is_none());
    h.assert_invariants().await;
    // Someone else pairs with one of them.
    let cy = h.connect().await;
    h.join_as(&cy, &c.code, "Cy", &member_secret(3)).await;
    assert!(h.current_room(&cy).is_some());
    h.assert_invariants().await;
}

#[tokio::test]
async fn block_and_report_work_on_the_last_room_for_ten_minutes() {
    let (h, c, a, b, room) = members_paired().await;
    h.leave(&a, &room, false).await;
    // b was left; it can still report the room it was in.
    h.clock.advance(Duration::from_secs(9 * 60));
    act(
        &h,
        &b,
        json!({"action":"report","room":room,"reason":"rude",
               "excerpt":[{"from":"partner","text":"you are <b>dumb</b>","sent_at":"2026-01-01T00:00:00Z"},
                          {"from":"me","text":"bye","sent_at":"2026-01-01T00:00:01Z"}]}),
    )
    .await;
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::Reported { room: room.clone() })
    );
    // Past ten minutes: not any more.
    h.clock.advance(Duration::from_secs(61));
    act(&h, &a, json!({"action":"block","room":room})).await;
    assert_eq!(codes(&h, &a), [ErrorCode::NotInRoom]);

    let view = h
        .http(
            "GET",
            &format!("/groups/{}/organizer", c.code),
            None,
            Some(&c.key),
        )
        .await;
    assert_eq!(view.status, 200);
    let reports = view.body["reports"].as_array().expect("reports");
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r["reason"], "rude");
    // The excerpt exactly as the reporter's client sent it.
    assert_eq!(
        r["excerpt"],
        json!([{"from":"partner","text":"you are <b>dumb</b>","sent_at":"2026-01-01T00:00:00Z"},
               {"from":"me","text":"bye","sent_at":"2026-01-01T00:00:01Z"}])
    );
    assert_eq!(r["reporter"]["name"], "Bob");
    assert_eq!(r["reported"]["name"], "Ann");
    let mid = |n| h.app.settings.hash_key.member_id(&c.id, &member_secret(n));
    assert_eq!(r["reporter"]["member_id"], mid(2));
    assert_eq!(r["reported"]["member_id"], mid(1));
    // A report blocks too.
    assert!(h.members().await[&mid(2)].blocked.contains(&mid(1)));
}

#[tokio::test]
async fn bad_reports_are_refused_and_change_nothing() {
    let (h, _c, a, b, room) = members_paired().await;
    for frame in [
        json!({"action":"report","room":room}),
        json!({"action":"report","room":room,"reason":"x".repeat(501)}),
        json!({"action":"report","room":room,"reason":"r","excerpt":"nope"}),
        json!({"action":"report","room":room,"reason":"r","excerpt":vec![json!({"from":"me","text":"t"}); 21]}),
        json!({"action":"report","room":room,"reason":"r","excerpt":[{"from":"them","text":"t"}]}),
        json!({"action":"report","room":room,"reason":"r","excerpt":[{"from":"me","text":"t".repeat(1001)}]}),
    ] {
        h.send(&a, frame).await;
    }
    assert_eq!(codes(&h, &a), [ErrorCode::BadRequest; 6]);
    assert_eq!(h.current_room(&a), Some(room.clone()));
    assert_eq!(h.current_room(&b), Some(room));
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_flood_is_rate_limited_and_an_ordinary_chat_is_not() {
    let settings = Settings {
        limits: RateLimits::default(),
        ..test_settings()
    };
    let h = Harness::with_settings(settings).await;
    let c = h.circle("rl").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &c.code, "Ann").await;
    h.join(&b, &c.code, "Bob").await;
    let room = h.current_room(&a).expect("paired");

    // An ordinary chat: a message every 700 ms (typing notices included) for a minute.
    let before = h.app.metrics.snapshot();
    for i in 0..86 {
        h.send(
            &b,
            json!({"action":"message","room":room,"message":format!("m{i}")}),
        )
        .await;
        h.clock.advance(Duration::from_millis(700));
    }
    let ordinary = h.app.metrics.snapshot().since(&before);
    assert!(codes(&h, &b).is_empty(), "{:?}", codes(&h, &b));
    // Still one eventually consistent read and no write per message.
    assert_eq!(ordinary.ddb_requests(), 86);
    assert_eq!(ordinary.ddb_writes(), 0);

    // A flood: 100 a second for 3 seconds.
    let relayed = |h: &Harness| {
        h.gateway
            .events(&b)
            .iter()
            .filter(|e| matches!(e, ServerEvent::Message { from, .. } if from.name == "Ann"))
            .count()
    };
    let start = relayed(&h);
    let before = h.app.metrics.snapshot();
    for i in 0..300 {
        h.send(
            &a,
            json!({"action":"message","room":room,"message":format!("f{i}")}),
        )
        .await;
        h.clock.advance(Duration::from_millis(10));
    }
    let flood = h.app.metrics.snapshot().since(&before);
    let got = relayed(&h) - start;
    assert!(
        codes(&h, &a).iter().all(|c| *c == ErrorCode::RateLimited) && !codes(&h, &a).is_empty()
    );
    // At most 10 a second plus the burst of 20 reached the partner.
    assert!(got <= 20 + 3 * 10, "{got} relayed");
    assert!(got >= 20, "the burst passes: {got}");
    // The limiter wrote only while over the allowance: about once a second.
    assert!(flood.ddb_writes() <= 4, "{flood}");
}

#[tokio::test]
async fn circle_creation_is_limited_per_address_and_only_a_hash_is_kept() {
    let settings = Settings {
        limits: RateLimits::default(),
        ..test_settings()
    };
    let h = Harness::with_settings(settings).await;
    let body = json!({"name":"n","description":"d"});
    for _ in 0..20 {
        assert_eq!(
            h.http("POST", "/groups", Some(body.clone()), None)
                .await
                .status,
            201
        );
    }
    let refused = h.http("POST", "/groups", Some(body.clone()), None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"], "rate_limited");
    assert!(refused.retry_after.is_some_and(|s| s <= 3600));
    // Another address is not affected.
    let other = circle_shared::handlers::http::handle(
        &h.app,
        circle_shared::handlers::http::HttpRequest {
            method: "POST",
            path: "/groups",
            body: body.to_string().as_bytes(),
            authorization: None,
            source_ip: Some("203.0.113.9"),
            page_url: "http://x/",
        },
    )
    .await;
    assert_eq!(other.status, 201);
    // The next hour, again.
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        h.http("POST", "/groups", Some(body), None).await.status,
        201
    );
    // What is kept of an address: a keyed hash expiring within the hour.
    let now = h.clock.now_secs();
    for item in h.scan(Table::Groups).await {
        let pk = item["pk"].as_s().expect("pk").clone();
        if pk.starts_with("RL#") {
            assert!(!pk.contains("198.51"));
            let exp: i64 = item["expires_at"].as_n().expect("n").parse().expect("int");
            assert!(exp <= now + 3600);
        }
    }
}

use circle_shared::clock::Clock;

#[tokio::test]
async fn the_organiser_api_wants_the_circles_own_key() {
    let h = Harness::new().await;
    let (c, other) = (h.circle("one").await, h.circle("two").await);
    assert!(
        c.body["organizer_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("#organizer={}", c.key)))
    );
    let paths = [
        ("GET", format!("/groups/{}/organizer", c.code), None),
        (
            "PATCH",
            format!("/groups/{}", c.code),
            Some(json!({"name":"x"})),
        ),
        ("POST", format!("/groups/{}/code", c.code), None),
        (
            "POST",
            format!("/groups/{}/remove", c.code),
            Some(json!({"member_id":"00112233445566778899"})),
        ),
        (
            "POST",
            format!("/groups/{}/rounds", c.code),
            Some(json!({"minutes":5})),
        ),
        ("DELETE", format!("/groups/{}/rounds", c.code), None),
        ("DELETE", format!("/groups/{}", c.code), None),
    ];
    for (method, path, body) in &paths {
        let none = h.http(method, path, body.clone(), None).await;
        assert_eq!(none.status, 401, "{method} {path}");
        assert_eq!(none.body["error"], "unauthorized");
        for wrong in ["not-the-key", other.key.as_str()] {
            let res = h.http(method, path, body.clone(), Some(wrong)).await;
            assert_eq!(res.status, 403, "{method} {path}");
            assert_eq!(res.body["error"], "forbidden");
        }
    }
    // The key finds its circle by itself, and only its own.
    let mine = h.http("GET", "/organizer", None, Some(&c.key)).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body["circle"]["access_code"], c.code);
    assert_eq!(
        h.http("GET", "/organizer", None, Some("nope")).await.status,
        403
    );
    assert_eq!(h.http("GET", "/organizer", None, None).await.status, 401);
    // Nothing shows a code without the key.
    let listed = h.http("GET", "/groups", None, None).await;
    assert!(!listed.body.to_string().contains(&c.code));
}

async fn organizer_view(
    h: &Harness,
    path: &str,
    key: &str,
) -> circle_shared::handlers::http::HttpResponse {
    h.http("GET", path, None, Some(key)).await
}

#[tokio::test]
async fn the_organiser_sees_live_counts_counters_and_can_edit() {
    let h = Harness::new().await;
    let c = h.circle("stats").await;
    let path = format!("/groups/{}/organizer", c.code);
    let view = |h| organizer_view(h, &path, &c.key);
    let v = view(&h).await.body;
    assert_eq!(
        (&v["waiting"], &v["chatting"], &v["chats"], &v["members"]),
        (&json!(0), &json!(0), &json!(0), &json!(0))
    );
    let conns: Vec<String> = futures_util::future::join_all((0..3).map(|_| h.connect())).await;
    for (i, conn) in conns.iter().enumerate() {
        h.join_as(conn, &c.code, "P", &member_secret(i)).await;
    }
    let v = view(&h).await.body;
    assert_eq!(
        (&v["waiting"], &v["chatting"], &v["chats"], &v["members"]),
        (&json!(1), &json!(2), &json!(1), &json!(3))
    );
    // The same member again on a new connection is not a new member.
    let again = h.connect().await;
    h.join_as(&again, &c.code, "P", &member_secret(0)).await;
    let v = view(&h).await.body;
    assert_eq!((&v["chats"], &v["members"]), (&json!(2), &json!(3)));

    let patched = h
        .http(
            "PATCH",
            &format!("/groups/{}", c.code),
            Some(json!({"name":"Renamed","rules":["one","two"],"prompts":["Why?"]})),
            Some(&c.key),
        )
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["name"], "Renamed");
    assert_eq!(patched.body["description"], "a test circle");
    let bad = h
        .http(
            "PATCH",
            &format!("/groups/{}", c.code),
            Some(json!({"name":""})),
            Some(&c.key),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].clone()),
        (400, json!("name"))
    );
    // New rooms get the circle's own prompt.
    let (x, y) = (h.connect().await, h.connect().await);
    h.join(&x, &c.code, "X").await;
    h.join(&y, &c.code, "Y").await;
    let prompts: Vec<String> = h
        .join_rooms(&y)
        .into_iter()
        .map(|e| match e {
            ServerEvent::JoinRoom { prompt, .. } => prompt,
            _ => unreachable!(),
        })
        .collect();
    assert!(
        prompts.iter().all(|p| p == "Why?") && !prompts.is_empty(),
        "{prompts:?}"
    );
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_new_code_shuts_out_the_old_one_and_people_inside_stay() {
    let (h, c, a, b, room) = members_paired().await;
    let w = h.connect().await;
    h.join_as(&w, &c.code, "Wai", &member_secret(9)).await; // waits
    let rotated = h
        .http(
            "POST",
            &format!("/groups/{}/code", c.code),
            None,
            Some(&c.key),
        )
        .await;
    assert_eq!(rotated.status, 200);
    let new_code = rotated.body["access_code"]
        .as_str()
        .expect("a code")
        .to_owned();
    assert_ne!(new_code, c.code);
    // The old code: 410 `code_changed`, and a new join with it is refused.
    assert_eq!(
        h.http("GET", &format!("/groups/{}", c.code), None, None)
            .await
            .status,
        410
    );
    let late = h.connect().await;
    h.join(&late, &c.code, "Late").await;
    assert_eq!(codes(&h, &late), [ErrorCode::CodeChanged]);
    // The waiter's keep-alive with the old code still works; the chat goes on.
    h.join_as(&w, &c.code, "Wai", &member_secret(9)).await;
    assert!(codes(&h, &w).is_empty(), "{:?}", codes(&h, &w));
    h.send(
        &a,
        json!({"action":"message","room":room,"message":"still here"}),
    )
    .await;
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::Message { .. })
    ));
    // The new code joins, and pairs with the waiter; the key still works.
    let n = h.connect().await;
    h.join(&n, &new_code, "New").await;
    assert!(h.current_room(&n).is_some() && h.current_room(&n) == h.current_room(&w));
    let view = h
        .http(
            "GET",
            &format!("/groups/{new_code}/organizer"),
            None,
            Some(&c.key),
        )
        .await;
    assert_eq!(view.status, 200);
    // Someone inside whose chat ended still finds someone new with the code
    // they came in with.
    act(&h, &a, json!({"action":"leave_room","room":room})).await;
    h.join_as(&b, &c.code, "Bob", &member_secret(2)).await;
    assert!(codes(&h, &b).is_empty(), "{:?}", codes(&h, &b));
    assert!(matches!(
        h.gateway.events(&b).last(),
        Some(ServerEvent::Waiting { .. } | ServerEvent::JoinRoom { .. })
    ));
    h.assert_invariants().await;
}

#[tokio::test]
async fn a_removed_member_is_closed_out_and_cant_rejoin_with_the_same_member() {
    let (h, c, a, b, room) = members_paired().await;
    let mid = h.app.settings.hash_key.member_id(&c.id, &member_secret(1));
    let removed = h
        .http(
            "POST",
            &format!("/groups/{}/remove", c.code),
            Some(json!({"member_id": mid})),
            Some(&c.key),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["closed"], 1);
    assert_eq!(codes(&h, &a), [ErrorCode::Removed]);
    assert!(h.gateway.was_closed(&a));
    assert_eq!(
        h.gateway.events(&b).last(),
        Some(&ServerEvent::PartnerLeft {
            room,
            reason: LeftReason::Left
        })
    );
    h.disconnect(&a).await; // the socket closed: $disconnect follows
    let again = h.connect().await;
    h.join_as(&again, &c.code, "Ann", &member_secret(1)).await;
    assert_eq!(codes(&h, &again), [ErrorCode::Removed]);
    // A new browser (a new member secret) can, as the page warns.
    h.join_as(&again, &c.code, "Ann", &member_secret(77)).await;
    assert_eq!(codes(&h, &again), [ErrorCode::Removed]);
    assert!(matches!(
        h.gateway.events(&again).last(),
        Some(ServerEvent::JoinRoom { .. } | ServerEvent::Waiting { .. })
    ));
    let unknown = h
        .http(
            "POST",
            &format!("/groups/{}/remove", c.code),
            Some(json!({"member_id":"ffffffffffffffffffff"})),
            Some(&c.key),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let bad = h
        .http(
            "POST",
            &format!("/groups/{}/remove", c.code),
            Some(json!({"member_id":"x"})),
            Some(&c.key),
        )
        .await;
    assert_eq!(bad.status, 400);
    h.assert_invariants().await;
}

/// Every item belonging to circle `cid`, across both tables.
async fn items_of(h: &Harness, cid: &str, code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            let text = format!("{item:?}");
            if text.contains(cid) || text.contains(code) {
                out.push(text);
            }
        }
    }
    out
}

#[tokio::test]
async fn closing_tells_everyone_closes_every_socket_and_leaves_no_record() {
    let (h, c, a, b, room) = members_paired().await;
    let (w, v) = (h.connect().await, h.connect().await);
    h.join_as(&w, &c.code, "W", &member_secret(5)).await;
    act(
        &h,
        &a,
        json!({"action":"report","room":room,"reason":"spam"}),
    )
    .await;
    h.join_as(&a, &c.code, "Ann", &member_secret(1)).await;
    h.join_as(&v, &c.code, "V", &member_secret(6)).await;
    h.disconnect(&v).await; // a held seat, if v was paired
    assert!(!items_of(&h, &c.id, &c.code).await.is_empty());
    let closed = h
        .http("DELETE", &format!("/groups/{}", c.code), None, Some(&c.key))
        .await;
    assert_eq!(closed.status, 204);
    for conn in [&a, &b, &w] {
        assert!(
            h.gateway
                .events(conn)
                .contains(&ServerEvent::CircleClosed {}),
            "{conn}"
        );
        assert!(h.gateway.was_closed(conn));
    }
    let left = items_of(&h, &c.id, &c.code).await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    // Only a content-free tombstone says what became of the code.
    assert_eq!(
        h.http("GET", &format!("/groups/{}", c.code), None, None)
            .await
            .status,
        410
    );
    // Sockets close: their $disconnects find nothing to do.
    for conn in [&a, &b, &w] {
        h.disconnect(conn).await;
    }
    assert!(items_of(&h, &c.id, &c.code).await.is_empty());
}

#[tokio::test]
async fn every_record_of_a_circle_dies_with_it_or_sooner() {
    let (h, c, a, _b, room) = members_paired().await;
    act(
        &h,
        &a,
        json!({"action":"report","room":room,"reason":"spam"}),
    )
    .await;
    let circle_expiry: i64 = {
        let code = circle_shared::code::AccessCode::parse(&c.code).expect("code");
        circle_shared::circle::get(&h.app, &code, true)
            .await
            .expect("read")
            .expect("live")
            .expires_at
    };
    let mut kinds = std::collections::BTreeSet::new();
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            let exp: i64 = item["expires_at"]
                .as_n()
                .unwrap_or_else(|_| panic!("every record has a TTL: {item:?}"))
                .parse()
                .expect("a number");
            assert!(exp <= circle_expiry, "{item:?} outlives its circle");
            if let Ok(pk) = item.get("pk").map(|v| v.as_s()).transpose() {
                kinds.insert(pk.map(|p| p.split('#').next().unwrap_or_default().to_owned()));
            }
        }
    }
    // Reports, counters and members are among them.
    for kind in ["R", "S", "M", "CODE", "C", "ORG"] {
        assert!(kinds.contains(&Some(kind.to_owned())), "{kind}: {kinds:?}");
    }
}

/// The DynamoDB and `@connections` cost of each safety and organiser action,
/// printed (`COST` lines) and bounded: a block or report is a handful of
/// requests whatever the circle's size, and the organiser's view reads the
/// same number of items (index pages and counters) for 4 members as for 40.
#[tokio::test]
async fn block_report_and_organiser_actions_cost_a_bounded_few_requests() {
    use circle_shared::db::metrics::MetricsSnapshot;
    let mut costs: Vec<(String, MetricsSnapshot)> = Vec::new();
    let mut view_requests = Vec::new();
    for size in [4usize, 40] {
        let h = Harness::new().await;
        let m = || h.app.metrics.snapshot();
        let c = h.circle("cost").await;
        let conns: Vec<String> =
            futures_util::future::join_all((0..size).map(|_| h.connect())).await;
        for (i, conn) in conns.iter().enumerate() {
            h.join_as(conn, &c.code, "P", &member_secret(i)).await;
        }
        let path = format!("/groups/{}/organizer", c.code);
        let t = m();
        assert_eq!(organizer_view(&h, &path, &c.key).await.status, 200);
        let view = m().since(&t);
        view_requests.push(view.ddb_requests());
        costs.push((format!("organiser view ({size} members)"), view));
        if size != 4 {
            continue;
        }
        let room = h.current_room(&conns[0]).expect("paired");
        let t = m();
        act(
            &h,
            &conns[0],
            json!({"action":"report","room":room,"reason":"spam","excerpt":[{"from":"partner","text":"hi"}]}),
        )
        .await;
        costs.push(("report (in a room)".into(), m().since(&t)));
        let t = m();
        act(&h, &conns[0], json!({"action":"block","room":room})).await;
        costs.push(("block (last room)".into(), m().since(&t)));
        let room2 = h.current_room(&conns[2]).expect("paired");
        let t = m();
        act(&h, &conns[2], json!({"action":"block","room":room2})).await;
        costs.push(("block (in a room)".into(), m().since(&t)));
        let t = m();
        let r = h
            .http(
                "PATCH",
                &format!("/groups/{}", c.code),
                Some(json!({"name":"Renamed"})),
                Some(&c.key),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        costs.push(("organiser patch".into(), m().since(&t)));
        let t = m();
        let r = h
            .http(
                "POST",
                &format!("/groups/{}/code", c.code),
                None,
                Some(&c.key),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        costs.push(("organiser new code".into(), m().since(&t)));
        let code = r.body["access_code"]
            .as_str()
            .expect("the new code")
            .to_owned();
        let mid = h.app.settings.hash_key.member_id(&c.id, &member_secret(3));
        let t = m();
        let r = h
            .http(
                "POST",
                &format!("/groups/{code}/remove"),
                Some(json!({"member_id": mid})),
                Some(&c.key),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        costs.push(("organiser remove".into(), m().since(&t)));
        let t = m();
        let r = h
            .http("DELETE", &format!("/groups/{code}"), None, Some(&c.key))
            .await;
        assert_eq!(r.status, 204);
        costs.push(("organiser close (4)".into(), m().since(&t)));
    }
    for (what, cost) in &costs {
        println!("COST {what:<28} {cost}");
    }
    let of = |name: &str| &costs.iter().find(|(w, _)| w == name).expect(name).1;
    for action in [
        "report (in a room)",
        "block (last room)",
        "block (in a room)",
    ] {
        assert!(of(action).ddb_requests() <= 4, "{action}: {}", of(action));
    }
    assert_eq!(
        view_requests[0], view_requests[1],
        "the organiser's view reads as many times for 40 members as for 4"
    );
}
