//! Insight end to end over real WebSockets and HTTP against the local stack:
//! an announcement reaches every connected member (paired or waiting), a
//! second within 10 s is refused, and the activity CSV is served as `text/csv`.

use crate::ws_support::*;
use serde_json::{Value, json};

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_reaches_every_connected_member() {
    let stack = start().await;
    let circle = create_circle(&stack, "Announcing").await;
    let (code, key) = (text(&circle, "access_code"), text(&circle, "organizer_key"));
    let (mut ann, mut bob, _room) = pair(&stack, code).await;
    let mut cy = Client::connect(&stack).await;
    cy.join(code, "Cy").await;
    cy.expect("waiting").await;
    let url = format!("{}/groups/{code}/announce", stack.http_url());
    let body = json!({"text": "Pizza in the kitchen at 1"});
    let r = http_with_key("POST", &url, Some(&body), Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json(), json!({"sent": 3}));
    for c in [&mut ann, &mut bob, &mut cy] {
        let ev = c.expect("announcement").await;
        assert_eq!(ev["text"], "Pizza in the kitchen at 1");
        assert!(ev["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{ev}");
    }
    // Too soon: refused, and nobody hears it.
    let r = http_with_key("POST", &url, Some(&json!({"text": "again"})), Some(key)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json()["error"], "rate_limited");
    // The CSV, with the organiser key in a header only.
    let csv_url = format!("{}/groups/{code}/activity.csv", stack.http_url());
    let r = http_with_key("GET", &csv_url, None, Some(key)).await;
    assert_eq!(r.status, 200);
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(ct, Some("text/csv; charset=utf-8"));
    let mut lines = r.text.lines();
    assert_eq!(lines.next(), Some("at,joins,chats,good,meh"));
    let (joins, chats) = lines.fold((0, 0), |(j, c), l| {
        let f: Vec<u64> = l
            .split(',')
            .skip(1)
            .map(|v| v.parse().expect("a count"))
            .collect();
        (j + f[0], c + f[1])
    });
    assert_eq!((joins, chats), (3, 1));
    assert_eq!(http("GET", &csv_url, None).await.status, 401);
    stack.shutdown().await;
}
