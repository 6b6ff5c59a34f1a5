//! The group HTTP API against the embedded DynamoDB: create, get, list, expiry,
//! validation, and access-code uniqueness.

use std::collections::HashSet;
use std::time::Duration;

use circle_shared::code::AccessCode;
use circle_shared::handlers::http::{HttpRequest, HttpResponse, handle};
use circle_tests::Harness;
use serde_json::{Value, json};

async fn raw(h: &Harness, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let req = HttpRequest {
        method,
        path,
        body,
        authorization: None,
        source_ip: Some("192.0.2.1"),
        page_url: "http://127.0.0.1:3000/",
    };
    handle(&h.app, req).await
}

async fn post(h: &Harness, body: &Value) -> (u16, Value) {
    let res = raw(h, "POST", "/groups", body.to_string().as_bytes()).await;
    (res.status, res.body)
}

async fn get(h: &Harness, path: &str) -> (u16, Value) {
    let res = raw(h, "GET", path, b"").await;
    (res.status, res.body)
}

#[tokio::test]
async fn create_returns_the_group_with_a_readable_code_and_three_days_to_live() {
    let h = Harness::new().await;
    let (status, body) = post(
        &h,
        &json!({"name":"Team","description":"Lunch chats","rules":["Be kind","No spam"]}),
    )
    .await;
    assert_eq!(status, 201);
    let code = body["access_code"].as_str().expect("a code");
    assert!(AccessCode::parse(code).is_some(), "{code}");
    assert_eq!(code.len(), 11, "shown as ABCDE-FGHJK");
    assert_eq!(body["name"], "Team");
    assert_eq!(body["description"], "Lunch chats");
    assert_eq!(body["rules"], json!(["Be kind", "No spam"]));
    let created =
        chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().expect("created_at"))
            .expect("rfc3339");
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().expect("expires_at"))
            .expect("rfc3339");
    assert_eq!(expires - created, chrono::Duration::days(3));
}

#[tokio::test]
async fn get_matches_the_code_ignoring_case_spaces_and_dashes() {
    let h = Harness::new().await;
    let code = h.group("Club").await;
    for typed in [
        code.clone(),
        code.to_lowercase(),
        code.replace('-', ""),
        code.replace('-', "%20"),
    ] {
        let (status, body) = get(&h, &format!("/groups/{typed}")).await;
        assert_eq!(status, 200, "{typed}");
        assert_eq!(body["name"], "Club");
        assert_eq!(body["access_code"], code.as_str());
    }
    assert_eq!(get(&h, "/groups/ZZZZZ-ZZZZZ").await.0, 404);
    let (status, body) = get(&h, "/groups/not-a-code").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "group_not_found");
}

#[tokio::test]
async fn the_list_shows_live_groups_without_their_codes() {
    let h = Harness::new().await;
    let a = h.group("Alpha").await;
    let b = h.group("Beta").await;
    let (status, body) = get(&h, "/groups").await;
    assert_eq!(status, 200);
    let list = body.as_array().expect("a list");
    assert_eq!(list.len(), 2);
    let text = body.to_string();
    assert!(
        !text.contains(&a) && !text.contains(&b) && !text.contains("access_code"),
        "{text}"
    );
    let names: HashSet<&str> = list.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, HashSet::from(["Alpha", "Beta"]));
}

#[tokio::test]
async fn expired_groups_are_absent_everywhere_before_ttl_deletes_them() {
    let h = Harness::new().await;
    let code = h.group("Old").await;
    h.clock.advance(Duration::from_secs(3 * 24 * 3600 - 1));
    assert_eq!(get(&h, &format!("/groups/{code}")).await.0, 200);
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(get(&h, &format!("/groups/{code}")).await.0, 404);
    assert_eq!(get(&h, "/groups").await.1, json!([]));
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_field_and_store_nothing() {
    let h = Harness::new().await;
    for (body, field) in [
        (json!({"description":"d"}), "name"),
        (json!({"name":"x".repeat(81),"description":"d"}), "name"),
        (json!({"name":"n","description":""}), "description"),
        (
            json!({"name":"n","description":"d","rules":"one string"}),
            "rules",
        ),
        (
            json!({"name":"n","description":"d","rules":["ok", ""]}),
            "rules[1]",
        ),
    ] {
        let (status, res) = post(&h, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(res["error"], "bad_request");
        assert_eq!(res["field"], field, "{body}");
        assert!(res["message"].as_str().is_some_and(|m| m.contains(field)));
    }
    let res = raw(&h, "POST", "/groups", b"{not json").await;
    assert_eq!(res.status, 400);
    let res = raw(&h, "POST", "/groups", &vec![b' '; 20_000]).await;
    assert_eq!(res.status, 413);
    assert_eq!(raw(&h, "DELETE", "/groups", b"").await.status, 405);
    assert_eq!(raw(&h, "GET", "/nope", b"").await.status, 404);
    assert_eq!(get(&h, "/groups").await.1, json!([]));
}

#[tokio::test]
async fn codes_are_unique() {
    let h = Harness::new().await;
    let mut seen = HashSet::new();
    for i in 0..200 {
        assert!(seen.insert(h.group(&format!("g{i}")).await));
    }
}
