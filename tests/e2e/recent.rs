//! Recent rooms end to end over real WebSockets against the local stack:
//! `feedback` (once per side, counted in the organiser's view), `keep_in_touch`
//! (one side only, then both: each gets the other's line once), and a report
//! of an earlier partner, read back through the organiser's paged reports.

use crate::ws_support::*;
use serde_json::{Value, json};

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_and_keep_in_touch_over_real_sockets() {
    let stack = start().await;
    let circle = create_circle(&stack, "Recent").await;
    let (code, key) = (text(&circle, "access_code"), text(&circle, "organizer_key"));
    let (mut ann, mut bob, room) = pair(&stack, code).await;

    // Feedback, during the chat and again: answered twice, counted once.
    for rating in ["good", "meh"] {
        ann.send(json!({"action":"feedback","room":room,"rating":rating}))
            .await;
        assert_eq!(ann.expect("feedback").await["room"], room.as_str());
    }
    ann.send(json!({"action":"feedback","room":room,"rating":"great"}))
        .await;
    ann.expect_error("bad_request").await;

    // Keep in touch: Ann first; nothing is exchanged yet.
    ann.send(json!({"action":"keep_in_touch","room":room,"contact":"ann@example.org"}))
        .await;
    assert_eq!(ann.expect("keep_in_touch").await["room"], room.as_str());
    ann.barrier().await;
    // Bob leaves, then asks too, after the chat: both get the other's line.
    bob.send(json!({"action":"leave_room","room":room})).await;
    ann.expect("partner_left").await;
    bob.send(json!({"action":"keep_in_touch","room":room,"contact":"bob on signal"}))
        .await;
    assert_eq!(bob.expect("keep_in_touch").await["room"], room.as_str());
    let to_bob = bob.expect("contact").await;
    assert_eq!(
        to_bob,
        json!({"event":"contact","room":room,"contact":"ann@example.org"})
    );
    let to_ann = ann.expect("contact").await;
    assert_eq!(to_ann["contact"], "bob on signal");
    // Again: answered, never delivered twice.
    bob.send(json!({"action":"keep_in_touch","room":room}))
        .await;
    bob.expect("keep_in_touch").await;
    bob.barrier().await;
    ann.barrier().await;
    bob.send(json!({"action":"feedback","room":room,"rating":"good"}))
        .await;
    bob.expect("feedback").await;

    // The organiser sees counts only: two ratings, no contact.
    let url = format!("{}/groups/{code}/organizer", stack.http_url());
    let view = http_with_key("GET", &url, None, Some(key)).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert!(!view.text.contains("ann@example.org") && !view.text.contains("bob on signal"));
    let fb = &view.json()["feedback"];
    assert_eq!(
        (fb["good"].as_u64(), fb["meh"].as_u64()),
        (Some(2), Some(0)),
        "{fb}"
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_partner_is_reported_and_the_reports_are_paged() {
    let stack = start().await;
    let circle = create_circle(&stack, "Earlier").await;
    let (code, key) = (text(&circle, "access_code"), text(&circle, "organizer_key"));
    let (mut ann, mut bob, first) = pair(&stack, code).await;
    // Ann moves on ("Next") and meets Cy.
    ann.send(json!({"action":"leave_room","room":first,"requeue":true}))
        .await;
    bob.expect("partner_left").await;
    ann.expect("waiting").await;
    let mut cy = Client::connect(&stack).await;
    cy.join(code, "Cy").await;
    let second = joined(&mut cy).await;
    assert_eq!(ann.expect("join_room").await["room"], second["room"]);
    // From the second room, Ann reports Bob, twice: one report.
    for _ in 0..2 {
        ann.send(json!({"action":"report","room":first,"reason":"rude"}))
            .await;
        assert_eq!(ann.expect("reported").await["room"], first.as_str());
    }
    let base = format!("{}/groups/{code}", stack.http_url());
    let view = http_with_key("GET", &format!("{base}/organizer"), None, Some(key))
        .await
        .json();
    assert_eq!(view["reports"].as_array().map(Vec::len), Some(1), "{view}");
    assert_eq!(view["reports"][0]["reported"]["name"], "Bob");
    assert_eq!(view["reports_next"], Value::Null);
    assert_eq!(view["reported_counts"][0]["name"], "Bob");
    assert_eq!(view["reported_counts"][0]["reports"], 1);
    let page = http_with_key("GET", &format!("{base}/reports"), None, Some(key)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.json()["reports"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        http("GET", &format!("{base}/reports"), None).await.status,
        401
    );
    stack.shutdown().await;
}
