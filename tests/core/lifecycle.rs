//! A circle's life as members and the organiser see it: tombstones of a
//! replaced code and a closed circle (`code_changed`, `circle_closed`, `410`)
//! that live until the circle's original end and hold nothing but a keyed
//! hash; `circle_ended` on close and at the end; a new code that evicts the
//! old code's connections, anonymous tabs included; the organiser's live
//! roster (`present`) and its cost at 1,000 present; the default icebreakers;
//! names without format characters; resume tokens that rotate.

use std::time::Duration;

use circle_shared::db::Table;
use circle_shared::model::{ConnState, Connection};
use circle_shared::protocol::{EndReason, ErrorCode, ServerEvent};
use circle_shared::timers::Timer;
use circle_tests::{Harness, member_secret};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn codes(h: &Harness, conn: &str) -> Vec<ErrorCode> {
    h.error_codes(conn)
}

fn ended(h: &Harness, conn: &str) -> Vec<EndReason> {
    h.gateway
        .events(conn)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::CircleEnded { reason } => Some(reason),
            _ => None,
        })
        .collect()
}

async fn rotate(h: &Harness, code: &str, key: &str, body: Option<Value>) -> Value {
    let r = h
        .http("POST", &format!("/groups/{code}/code"), body, Some(key))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Every organiser route on `code` with `key`: (status, error) of each.
async fn organiser_routes(h: &Harness, code: &str, key: &str) -> Vec<(u16, Value)> {
    let p = |rest: &str| format!("/groups/{code}{rest}");
    let calls = [
        ("GET", p("/organizer"), None),
        ("PATCH", p(""), Some(json!({"name":"x"}))),
        ("DELETE", p(""), None),
        ("POST", p("/code"), None),
        (
            "POST",
            p("/remove"),
            Some(json!({"member_id":"0123456789abcdef0123"})),
        ),
        ("POST", p("/rounds"), Some(json!({"minutes":5}))),
        ("DELETE", p("/rounds"), None),
    ];
    let mut out = Vec::new();
    for (m, path, body) in calls {
        let r = h.http(m, &path, body, Some(key)).await;
        out.push((r.status, r.body["error"].clone()));
    }
    out
}

/// The tombstones in the groups table: exactly their content-free attributes.
async fn tombstones(h: &Harness) -> Vec<circle_shared::db::Item> {
    h.scan(Table::Groups)
        .await
        .into_iter()
        .filter(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("TOMB#"))
        })
        .collect()
}

#[tokio::test]
async fn a_replaced_code_says_code_changed_until_the_circles_original_end() {
    let h = Harness::new().await;
    let c = h.circle("rot").await;
    let old = c.code.clone();
    let new = rotate(&h, &old, &c.key, None).await["access_code"]
        .as_str()
        .expect("a new code")
        .to_owned();
    let r = h.http("GET", &format!("/groups/{old}"), None, None).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (410, json!("code_changed"))
    );
    assert_eq!(
        h.http("GET", &format!("/groups/{new}"), None, None)
            .await
            .status,
        200
    );
    // A new connection with the old code is told it changed.
    let x = h.connect().await;
    h.join(&x, &old, "Xavier").await;
    assert_eq!(codes(&h, &x), vec![ErrorCode::CodeChanged]);
    // The organiser API on the old code says so too; on the new one it works.
    for (status, error) in organiser_routes(&h, &old, &c.key).await {
        assert_eq!((status, error), (410, json!("code_changed")));
    }
    // The tombstone: a keyed hash for a key, the word, the circle's end. No code, no id.
    let t = tombstones(&h).await;
    assert_eq!(t.len(), 1, "{t:?}");
    let mut attrs: Vec<&str> = t[0].keys().map(String::as_str).collect();
    attrs.sort_unstable();
    assert_eq!(attrs, ["expires_at", "pk", "sk", "why"]);
    let text = format!("{:?}", t[0]);
    assert!(!text.contains(&c.id) && !text.contains(&old.replace('-', "")));
    let expires = c.body["expires_at"].as_str().expect("expires_at");
    let end = chrono::DateTime::parse_from_rfc3339(expires)
        .expect("rfc3339")
        .timestamp();
    assert_eq!(
        t[0]["expires_at"].as_n().expect("a number"),
        &end.to_string()
    );
    // At the circle's end it is forgotten: plain "not found".
    h.clock.advance(Duration::from_secs(3 * 24 * 3600 + 1));
    let r = h.http("GET", &format!("/groups/{old}"), None, None).await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn a_closed_circle_says_circle_closed_to_joins_lookups_and_every_organiser_route() {
    let h = Harness::new().await;
    let c = h.circle("closing").await;
    let (a, b, w) = (h.connect().await, h.connect().await, h.connect().await);
    h.join(&a, &c.code, "Ann").await;
    h.join(&b, &c.code, "Bob").await;
    h.join(&w, &c.code, "Wes").await;
    let before = h.app.metrics.snapshot();
    let r = h
        .http("DELETE", &format!("/groups/{}", c.code), None, Some(&c.key))
        .await;
    let cost = h.app.metrics.snapshot().since(&before);
    assert_eq!(r.status, 204);
    eprintln!("close with 3 connected: {cost}");
    for conn in [&a, &b, &w] {
        let events = h.gateway.events(conn);
        assert!(events.contains(&ServerEvent::CircleClosed {}), "{conn}");
        assert_eq!(ended(&h, conn), vec![EndReason::Closed], "{conn}");
        assert!(h.gateway.was_closed(conn));
    }
    let r = h
        .http("GET", &format!("/groups/{}", c.code), None, None)
        .await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (410, json!("circle_closed"))
    );
    let x = h.connect().await;
    h.join(&x, &c.code, "Xavier").await;
    assert_eq!(codes(&h, &x), vec![ErrorCode::CircleClosed]);
    for (status, error) in organiser_routes(&h, &c.code, &c.key).await {
        assert_eq!((status, error), (410, json!("circle_closed")));
    }
    // The organiser link (the key alone) says "closed", not "wrong key".
    let r = h.http("GET", "/organizer", None, Some(&c.key)).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (410, json!("circle_closed"))
    );
    let r = h.http("GET", "/organizer", None, Some("not-the-key")).await;
    assert_eq!(r.status, 403);
    // Both tombstones end with the circle.
    h.clock.advance(Duration::from_secs(3 * 24 * 3600 + 1));
    assert_eq!(
        h.http("GET", &format!("/groups/{}", c.code), None, None)
            .await
            .status,
        404
    );
    assert_eq!(
        h.http("GET", "/organizer", None, Some(&c.key)).await.status,
        403
    );
}

#[tokio::test]
async fn members_hear_circle_ended_at_the_circles_end_by_a_timer_that_comes_back_until_due() {
    let h = Harness::new().await;
    let c = h.circle("ending").await;
    let end_ms = chrono::DateTime::parse_from_rfc3339(c.body["expires_at"].as_str().expect("end"))
        .expect("rfc3339")
        .timestamp_millis();
    let timer = Timer::CircleEnd {
        cid: c.id.clone(),
        due_ms: end_ms,
    };
    assert!(h.timers.pending().contains(&timer), "scheduled at creation");
    let (a, b, w) = (h.connect().await, h.connect().await, h.connect().await);
    h.join(&a, &c.code, "Ann").await;
    h.join(&b, &c.code, "Bob").await;
    h.join(&w, &c.code, "Wes").await;
    // Early (SQS delays stop at 15 minutes): put back, nobody told.
    let before = h.app.metrics.snapshot();
    circle_shared::handlers::timer::fire(&h.app, &timer)
        .await
        .expect("fires");
    let early = h.app.metrics.snapshot().since(&before);
    assert_eq!((early.ddb_requests(), early.timers), (0, 1), "{early}");
    assert!(ended(&h, &a).is_empty());
    // Due: everyone connected is told, once per delivery (the recording
    // queue still holds the original beside the one put back: two deliveries,
    // as SQS's at-least-once may make too).
    assert_eq!(
        h.timers.pending().iter().filter(|t| **t == timer).count(),
        2
    );
    h.clock.advance(Duration::from_millis(
        u64::try_from(end_ms - h.app.now_ms() + 1).expect("ahead"),
    ));
    let before = h.app.metrics.snapshot();
    h.fire_due().await;
    let cost = h.app.metrics.snapshot().since(&before);
    eprintln!("circle end with 3 connected, delivered twice: {cost}");
    for conn in [&a, &b, &w] {
        assert_eq!(ended(&h, conn), vec![EndReason::Expired; 2], "{conn}");
    }
    assert_eq!(cost.gateway_posts, 2 * 3, "{cost}");
    // Past its end the circle admits nobody.
    let late = h.connect().await;
    h.join(&late, &c.code, "Late").await;
    assert_eq!(codes(&h, &late), vec![ErrorCode::GroupExpired]);
}

#[tokio::test]
async fn a_new_code_with_evict_closes_everyone_who_came_in_with_an_old_one_anonymous_tabs_too() {
    let h = Harness::new().await;
    let c = h.circle("evict").await;
    // Mallory has a member tab and an anonymous second tab; Bob chats with her.
    let (m1, m2, b) = (h.connect().await, h.connect().await, h.connect().await);
    h.join_as(&m1, &c.code, "Mallory", &member_secret(1)).await;
    h.join_as(&b, &c.code, "Bob", &member_secret(2)).await;
    h.join(&m2, &c.code, "M").await;
    // A plain rotate: people already inside stay, and their old code still works.
    let second = rotate(&h, &c.code, &c.key, None).await;
    assert_eq!(second["closed"], 0);
    let second = second["access_code"].as_str().expect("code").to_owned();
    h.join(&m2, &c.code, "M").await; // the waiter's keep-alive
    assert!(codes(&h, &m2).is_empty(), "{:?}", codes(&h, &m2));
    // Someone joins with the second code.
    let d = h.connect().await;
    h.join(&d, &second, "Dee").await;
    // Remove Mallory, then a new code that evicts.
    let mid = h
        .members()
        .await
        .into_values()
        .find(|m| m.conn.as_deref() == Some(m1.as_str()));
    let mid = mid.map(|m| m.mid).expect("Mallory's member record");
    let removed = h
        .http(
            "POST",
            &format!("/groups/{second}/remove"),
            Some(json!({"member_id": mid})),
            Some(&c.key),
        )
        .await;
    assert_eq!(removed.status, 200);
    let before = h.app.metrics.snapshot();
    let third = rotate(&h, &second, &c.key, Some(json!({"evict": true}))).await;
    let cost = h.app.metrics.snapshot().since(&before);
    eprintln!("rotate with evict, closing {}: {cost}", third["closed"]);
    let third = third["access_code"].as_str().expect("code").to_owned();
    // Everyone who came in with the first or second code is told and closed.
    for conn in [&m2, &b, &d] {
        assert!(
            codes(&h, conn).contains(&ErrorCode::CodeChanged),
            "{conn}: {:?}",
            codes(&h, conn)
        );
        assert!(h.gateway.was_closed(conn), "{conn}");
    }
    // Neither old code works for anyone, old connections included.
    h.join(&m2, &c.code, "M").await;
    assert_eq!(codes(&h, &m2).last(), Some(&ErrorCode::CodeChanged));
    let y = h.connect().await;
    h.join(&y, &second, "Y").await;
    assert_eq!(codes(&h, &y), vec![ErrorCode::CodeChanged]);
    // The new code works.
    let z = h.connect().await;
    h.join(&z, &third, "Zed").await;
    assert!(codes(&h, &z).is_empty());
    assert_eq!(
        h.http(
            "POST",
            &format!("/groups/{third}/code"),
            Some(json!({"evict": "yes"})),
            Some(&c.key)
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn the_roster_lists_who_is_present_and_what_each_is_doing() {
    let h = Harness::new().await;
    let c = h.circle("roster").await;
    let (a, b, w, i, x) = (
        h.connect().await,
        h.connect().await,
        h.connect().await,
        h.connect().await,
        h.connect().await,
    );
    h.join(&a, &c.code, "Ann").await;
    h.join(&b, &c.code, "Bob").await;
    let room = h.current_room(&a).expect("paired");
    h.join(&i, &c.code, "Ida").await;
    h.join(&x, &c.code, "Xan").await;
    let room2 = h.current_room(&i).expect("paired");
    h.leave(&i, &room2, false).await; // Ida idle; Xan idle too
    h.join(&x, &c.code, "Xan").await; // Xan waits again
    h.join(&w, &c.code, "Wes").await; // paired with Xan, or waiting
    h.disconnect(&a).await; // Ann away, Bob still chatting
    let _ = room;
    let view = h.organizer_view(&c).await;
    let present = view["present"].as_array().expect("present").clone();
    assert_eq!(view["present_total"], 5);
    let state = |name: &str| {
        present
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["state"].as_str().expect("a state").to_owned())
            .unwrap_or_default()
    };
    assert_eq!(state("Ann"), "away");
    assert_eq!(state("Bob"), "chatting");
    assert_eq!(state("Ida"), "idle");
    assert_eq!(state("Xan"), "chatting");
    assert_eq!(state("Wes"), "chatting");
    for p in &present {
        assert!(circle_shared::secrets::valid_member_id(
            p["member_id"].as_str().expect("id")
        ));
        assert!(chrono::DateTime::parse_from_rfc3339(p["since"].as_str().expect("since")).is_ok());
    }
}

#[tokio::test]
async fn the_roster_lists_at_most_1000_counts_them_all_and_costs_no_request_of_its_own() {
    let h = Harness::new().await;
    let c = h.circle("crowd").await;
    let now = h.app.now_ms();
    let records: Vec<Connection> = (0..1_005)
        .map(|n| {
            let mut conn = Connection::new(&format!("conn{n:05}"), now + n, now / 1000 + 7200);
            conn.cid = Some(c.id.clone());
            conn.code = Some(c.code.replace('-', ""));
            conn.mid = Some(format!("{n:020x}"));
            conn.name = Some(format!("P{n}"));
            conn.state = if n % 2 == 0 {
                ConnState::Idle
            } else {
                ConnState::Waiting {
                    ticket: format!("t{n}"),
                    shard: 0,
                }
            };
            conn
        })
        .collect();
    futures_util::stream::iter(&records)
        .for_each_concurrent(16, |conn| async {
            let op = h
                .app
                .store
                .put_op(Table::Connections, conn.to_item(), None, vec![]);
            h.app.store.put(op).await.expect("stored");
        })
        .await;
    let path = format!("/groups/{}/organizer", c.code);
    let before = h.app.metrics.snapshot();
    let r = h.http("GET", &path, None, Some(&c.key)).await;
    let cost = h.app.metrics.snapshot().since(&before);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["present_total"], 1_005);
    assert_eq!(r.body["present"].as_array().expect("present").len(), 1_000);
    assert_eq!(r.body["waiting"], 502);
    let queries = cost.op(circle_shared::db::metrics::DdbOp::Query);
    eprintln!(
        "organiser view at 1,005 present: {} requests ({queries} Query), {:.1} read units, {} writes",
        cost.ddb_requests(),
        cost.read_units,
        cost.ddb_writes()
    );
    // Of which the roster's source, the presence read alone:
    let before = h.app.metrics.snapshot();
    let conns = circle_shared::presence::connections(&h.app, &c.id)
        .await
        .expect("read");
    let presence = h.app.metrics.snapshot().since(&before);
    assert_eq!(conns.len(), 1_005);
    assert_eq!(presence.ddb_requests(), 8, "{presence}");
    eprintln!("presence at 1,005: {presence}");
    // The 8 presence shards' Queries (one page each at this size) are the
    // whole of what presence costs; the rest is the view's other parts.
    assert!(queries <= 8 + 4, "{cost}");
    assert!(cost.ddb_requests() <= 24, "{cost}");
}

#[tokio::test]
async fn the_default_icebreakers_are_served_for_the_create_form() {
    let h = Harness::new().await;
    let r = h.http("GET", "/prompts", None, None).await;
    assert_eq!(r.status, 200);
    let got: Vec<&str> = r.body["prompts"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(got, circle_shared::prompts::DEFAULT_PROMPTS);
}

#[tokio::test]
async fn names_lose_format_and_bidi_controls_and_an_invisible_name_is_refused() {
    let h = Harness::new().await;
    let r = h
        .http(
            "POST",
            "/groups",
            Some(json!({"name":"Book\u{202E}club\u{200B}","description":"d\u{2066}"})),
            None,
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        (r.body["name"].clone(), r.body["description"].clone()),
        (json!("Bookclub"), json!("d"))
    );
    let code = r.body["access_code"].as_str().expect("code").to_owned();
    let (a, b, z) = (h.connect().await, h.connect().await, h.connect().await);
    h.join(&a, &code, "A\u{202E}li\u{200B}ce\u{FEFF}").await;
    h.join(&b, &code, "\u{2066}Bob\u{2069}\u{00AD}").await;
    match h.join_rooms(&b).last() {
        Some(ServerEvent::JoinRoom { partner, user, .. }) => {
            assert_eq!((partner.name.as_str(), user.as_str()), ("Alice", "Bob"));
        }
        other => panic!("not paired: {other:?}"),
    }
    h.join(&z, &code, "\u{200B}\u{202E}\u{2060}").await;
    assert_eq!(codes(&h, &z), vec![ErrorCode::BadRequest]);
}

#[tokio::test]
async fn a_resume_answers_a_fresh_token_and_the_old_one_stops_working() {
    let h = Harness::new().await;
    let code = h.group("tokens").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &code, "Ann").await;
    h.join(&b, &code, "Bob").await;
    let room = h.current_room(&a).expect("paired");
    let token = |conn: &str| match h.join_rooms(conn).last() {
        Some(ServerEvent::JoinRoom { resume, .. }) => resume.clone(),
        other => panic!("{other:?}"),
    };
    let first = token(&a);
    h.disconnect(&a).await;
    let a2 = h.connect().await;
    let before = h.app.metrics.snapshot();
    h.send(&a2, json!({"action":"resume","room":room,"token":first}))
        .await;
    eprintln!("resume: {}", h.app.metrics.snapshot().since(&before));
    let second = token(&a2);
    assert_ne!(second, first);
    // Dropped again: the first token opens nothing, the second does.
    h.disconnect(&a2).await;
    let a3 = h.connect().await;
    h.send(&a3, json!({"action":"resume","room":room,"token":first}))
        .await;
    assert_eq!(codes(&h, &a3), vec![ErrorCode::NotInRoom]);
    h.send(&a3, json!({"action":"resume","room":room,"token":second}))
        .await;
    let third = token(&a3);
    assert!(third != first && third != second);
    assert_eq!(h.current_room(&a3).as_deref(), Some(room.as_str()));
}
