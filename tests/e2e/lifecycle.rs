//! A circle's lifecycle end to end over real WebSockets against the local
//! stack: a replaced code (`code_changed`), a new code that evicts the old
//! code's connections (anonymous tabs too), and a close (`circle_closed`,
//! `circle_ended`, and `410` afterwards).

use crate::ws_support::*;
use serde_json::{Value, json};

fn at(stack: &circle_local::Stack, code: &str, path: &str) -> String {
    format!("{}/groups/{code}{path}", stack.http_url())
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_code_evicts_the_old_codes_sockets_and_the_old_code_says_code_changed() {
    let stack = start().await;
    let circle = create_circle(&stack, "Evicting").await;
    let (code, key) = (text(&circle, "access_code"), text(&circle, "organizer_key"));
    // A member in a room, and a second, anonymous tab waiting.
    let (mut ann, mut bob, _room) = pair(&stack, code).await;
    let mut tab = Client::connect(&stack).await;
    tab.join(code, "Ann again").await;
    tab.expect("waiting").await;
    let r = http_with_key(
        "POST",
        &at(&stack, code, "/code"),
        Some(&json!({"evict": true})),
        Some(key),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let answer = r.json();
    assert_eq!(answer["closed"], 3, "{answer}");
    let new = text(&answer, "access_code").to_owned();
    for c in [&mut ann, &mut bob, &mut tab] {
        loop {
            let ev = c.event().await;
            // A partner's end of the room may come first.
            if ev["event"] == "partner_left" {
                continue;
            }
            assert_eq!(
                (ev["event"].clone(), ev["code"].clone()),
                (json!("error"), json!("code_changed")),
                "{ev}"
            );
            break;
        }
        c.close_frame().await;
    }
    // The old code, from a new socket and over HTTP: code_changed.
    let mut late = Client::connect(&stack).await;
    late.join(code, "Late").await;
    late.expect_error("code_changed").await;
    let r = http("GET", &at(&stack, code, ""), None).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (410, json!("code_changed"))
    );
    // The new code works.
    late.join(&new, "Late").await;
    late.expect("waiting").await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_says_circle_closed_then_circle_ended_and_the_code_answers_circle_closed() {
    let stack = start().await;
    let circle = create_circle(&stack, "Closing").await;
    let (code, key) = (text(&circle, "access_code"), text(&circle, "organizer_key"));
    let (mut ann, mut bob, _room) = pair(&stack, code).await;
    let r = http_with_key("DELETE", &at(&stack, code, ""), None, Some(key)).await;
    assert_eq!(r.status, 204);
    for c in [&mut ann, &mut bob] {
        c.expect("circle_closed").await;
        let ended = c.expect("circle_ended").await;
        assert_eq!(ended["reason"], "closed");
        c.close_frame().await;
    }
    let mut late = Client::connect(&stack).await;
    late.join(code, "Late").await;
    late.expect_error("circle_closed").await;
    let r = http("GET", &at(&stack, code, ""), None).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (410, json!("circle_closed"))
    );
    let r = http_with_key("GET", &at(&stack, code, "/organizer"), None, Some(key)).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (410, json!("circle_closed"))
    );
    let r = http_with_key(
        "GET",
        &format!("{}/organizer", stack.http_url()),
        None,
        Some(key),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (410, json!("circle_closed"))
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_views_qr_code_and_the_default_icebreakers_are_served() {
    let stack = start().await;
    let circle = create_circle(&stack, "Projected").await;
    let code = text(&circle, "access_code");
    let r = http("GET", &at(&stack, code, "/qr"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let qr = r.json();
    assert!(
        text(&qr, "link").ends_with(&format!("?code={code}")),
        "{qr}"
    );
    assert!(text(&qr, "svg").contains("<svg"), "{qr}");
    let r = http("GET", &format!("{}/prompts", stack.http_url()), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["prompts"].as_array().map(Vec::len), Some(24));
    stack.shutdown().await;
}
