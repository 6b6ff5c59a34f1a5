//! The group HTTP API against the embedded DynamoDB: create, get, expiry,
//! validation, access-code uniqueness, and the listing (`GET /groups`: listed
//! circles only, newest first, paged, one Query of a sparse index whatever the
//! table holds).

use std::collections::HashSet;
use std::time::Duration;

use circle_shared::code::AccessCode;
use circle_shared::db::metrics::DdbOp;
use circle_shared::handlers::http::{HttpRequest, HttpResponse, handle};
use circle_tests::{Harness, member_secret};
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
async fn expired_groups_are_absent_everywhere_before_ttl_deletes_them() {
    let h = Harness::new().await;
    let code = listed(&h, "Old").await;
    h.clock.advance(Duration::from_secs(3 * 24 * 3600 - 1));
    assert_eq!(get(&h, &format!("/groups/{code}")).await.0, 200);
    assert_eq!(names(&get(&h, "/groups").await.1), ["Old"]);
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(get(&h, &format!("/groups/{code}")).await.0, 404);
    assert_eq!(
        get(&h, "/groups").await.1,
        json!({"groups": [], "next": null})
    );
    // Still in the table and the index (TTL deletes lazily): only the read hides it.
    assert!(
        h.scan(circle_shared::db::Table::Groups)
            .await
            .iter()
            .any(|i| i.contains_key("lk"))
    );
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
    for path in [
        "/groups/ABCD2345/reports",
        "/groups/ABCD2345/qr",
        "/groups/ABCD2345/activity.csv",
    ] {
        assert_eq!(raw(&h, "PUT", path, b"").await.status, 405, "{path}");
    }
    assert_eq!(raw(&h, "GET", "/nope", b"").await.status, 404);
    assert_eq!(get(&h, "/groups").await.1["groups"], json!([]));
}

#[tokio::test]
async fn codes_are_unique() {
    let h = Harness::new().await;
    let mut seen = HashSet::new();
    let n: usize = std::env::var("ZZN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for i in 0..n {
        assert!(seen.insert(h.group(&format!("g{i}")).await));
    }
}

/// Creates a listed circle; its code.
async fn listed(h: &Harness, name: &str) -> String {
    let (status, body) = post(
        h,
        &json!({"name": name, "description": "listed", "listed": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["listed"], true);
    body["access_code"].as_str().expect("a code").to_owned()
}

/// The names on one page of the listing.
fn names(page: &Value) -> Vec<String> {
    page["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of groups: {page}"))
        .iter()
        .map(|g| g["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn circles_are_unlisted_by_default_and_absent_from_the_list() {
    let h = Harness::new().await;
    let code = h.group("Private").await;
    let (status, body) = get(&h, &format!("/groups/{code}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["listed"], false);
    let (status, body) = get(&h, "/groups").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"groups": [], "next": null}));
    // An unlisted circle's item carries no index key at all.
    assert!(
        h.scan(circle_shared::db::Table::Groups)
            .await
            .iter()
            .all(|i| !i.contains_key("lk") && !i.contains_key("lt"))
    );
}

#[tokio::test]
async fn listed_circles_appear_newest_first_without_codes_or_ids() {
    let h = Harness::new().await;
    let a = listed(&h, "Alpha").await;
    h.clock.advance(Duration::from_secs(1));
    h.group("Hidden").await;
    h.clock.advance(Duration::from_secs(1));
    let b = listed(&h, "Beta").await;
    let (status, body) = get(&h, "/groups").await;
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["Beta", "Alpha"]);
    assert_eq!(body["next"], Value::Null);
    let text = body.to_string();
    let id = h.cid(&a).await;
    assert!(
        !text.contains(&a) && !text.contains(&b) && !text.contains(&id),
        "{text}"
    );
    assert!(
        !text.contains("access_code") && !text.contains("\"id\""),
        "{text}"
    );
}

#[tokio::test]
async fn the_list_comes_in_pages_with_a_cursor() {
    let h = Harness::new().await;
    // Seven listed circles, three of them in the same second, among unlisted ones.
    let mut made = Vec::new();
    for i in 0..7 {
        if i != 2 && i != 3 {
            h.clock.advance(Duration::from_secs(1));
        }
        listed(&h, &format!("c{i}")).await;
        h.group(&format!("hidden{i}")).await;
        made.push(format!("c{i}"));
    }
    // Newest first; the three of one second in some order, each exactly once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/groups?limit=3&after={a}"),
            None => "/groups?limit=3".to_owned(),
        };
        let (status, body) = get(&h, &path).await;
        assert_eq!(status, 200, "{body}");
        let page = names(&body);
        assert!(page.len() <= 3, "{body}");
        seen.extend(page);
        pages += 1;
        assert!(pages <= 5, "the pages end");
        match body["next"].as_str() {
            Some(next) => {
                assert!(!next.contains("CODE") && next.len() < 30, "{next}");
                after = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3, "7 circles in pages of 3");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, made, "each listed circle once: {seen:?}");
    // c1, c2 and c3 were made in the same second: in any order, but together.
    assert_eq!(&seen[..3], ["c6", "c5", "c4"].map(String::from));
    let mut same_second = seen[3..6].to_vec();
    same_second.sort();
    assert_eq!(same_second, ["c1", "c2", "c3"].map(String::from));
    assert_eq!(seen[6], "c0");
    // The default page holds them all; a bad cursor or limit is a 400 naming it.
    assert_eq!(names(&get(&h, "/groups").await.1).len(), 7);
    for (query, field) in [
        ("after=CODE%23ABCDE", "after"),
        ("after=", "after"),
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("limit=x", "limit"),
    ] {
        let (status, body) = get(&h, &format!("/groups?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["field"], field, "{query}");
    }
}

#[tokio::test]
async fn patching_listed_adds_and_removes_a_circle() {
    let h = Harness::new().await;
    let c = h.circle("Later").await;
    let set_listed = async |code: &str, listed: bool| {
        let body = json!({ "listed": listed });
        let res = h
            .http(
                "PATCH",
                &format!("/groups/{code}"),
                Some(body),
                Some(&c.key),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.body["listed"], listed);
    };
    set_listed(&c.code, true).await;
    assert_eq!(names(&get(&h, "/groups").await.1), ["Later"]);
    // Listing again keeps its place; a change of code keeps it listed.
    set_listed(&c.code, true).await;
    let path = format!("/groups/{}/code", c.code);
    let recoded = h.http("POST", &path, None, Some(&c.key)).await.body;
    let code = recoded["access_code"].as_str().expect("a new code");
    assert_eq!(names(&get(&h, "/groups").await.1), ["Later"]);
    set_listed(code, false).await;
    assert_eq!(names(&get(&h, "/groups").await.1), Vec::<String>::new());
    assert!(
        h.scan(circle_shared::db::Table::Groups)
            .await
            .iter()
            .all(|i| !i.contains_key("lk")),
        "the index attributes are removed"
    );
}

/// `n` circles with the records a busy circle has: three members (two paired,
/// one waiting), a report with an excerpt, counters.
async fn busy_circles(h: &Harness, n: usize) {
    for i in 0..n {
        let code = h.group(&format!("busy {i}")).await;
        let (a, b, c) = (h.connect().await, h.connect().await, h.connect().await);
        h.join_as(&a, &code, "Ann", &member_secret(1)).await;
        h.join_as(&b, &code, "Bob", &member_secret(2)).await;
        h.join_as(&c, &code, "Cat", &member_secret(3)).await;
        let room = h.current_room(&a).expect("paired");
        h.send(
            &b,
            json!({"action":"report","room":room,"reason":"rude",
                   "excerpt":[{"from":"partner","text":"hey","sent_at":"2026-01-01T00:00:00Z"}]}),
        )
        .await;
    }
}

#[tokio::test]
async fn listing_is_one_query_whose_cost_does_not_grow_with_the_table() {
    let h = Harness::new().await;
    for i in 0..5 {
        listed(&h, &format!("open {i}")).await;
    }
    let measure = async || {
        let before = h.app.metrics.snapshot();
        let (status, body) = get(&h, "/groups").await;
        let cost = h.app.metrics.snapshot().since(&before);
        assert_eq!(status, 200);
        assert_eq!(names(&body).len(), 5);
        cost
    };
    let small = measure().await;
    busy_circles(&h, 100).await;
    let items = h.scan(circle_shared::db::Table::Groups).await.len();
    let big = measure().await;
    println!("GET /groups: {small} (5 circles); {big} ({items} items)");
    for cost in [&small, &big] {
        // One Query of the index, no Scan; and the per-address counter's write.
        assert_eq!(cost.op(DdbOp::Query), 1, "{cost}");
        assert_eq!(cost.op(DdbOp::Scan), 0, "{cost}");
        assert_eq!(cost.ddb_reads(), 1, "{cost}");
        assert_eq!(cost.ddb_requests(), 2, "{cost}");
    }
    assert!(items > 1000, "{items} items");
    assert_eq!(small.read_units, big.read_units, "{small} vs {big}");
    assert!(big.read_units <= 1.0, "{big}");
}

#[tokio::test]
async fn a_groups_table_made_before_the_listing_gets_its_index() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let h = Harness::new().await;
    let client = h.dynamo.client();
    let tables = circle_shared::TableNames::with_prefix("older-data-file");
    // The groups table as an older version made it: its keys, no index.
    let mut create = client
        .create_table()
        .table_name(&tables.groups)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, key_type) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        create = create
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(key_type)
                    .build()
                    .expect("a key"),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("an attribute"),
            );
    }
    create.send().await.expect("the old table is made");
    h.dynamo
        .create_tables(&tables)
        .await
        .expect("the tables are brought up to date");
    let table = client
        .describe_table()
        .table_name(&tables.groups)
        .send()
        .await
        .expect("described");
    let indexes: Vec<_> = table
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(indexes, ["listed"]);
    let app = circle_shared::App::new(
        client,
        tables,
        h.gateway.clone(),
        h.clock.clone(),
        circle_tests::test_settings(),
    );
    let body = json!({"name": "Old file", "description": "d", "listed": true}).to_string();
    let request = |method, path, body| HttpRequest {
        method,
        path,
        body,
        authorization: None,
        source_ip: None,
        page_url: "http://127.0.0.1:3000/",
    };
    let created = handle(&app, request("POST", "/groups", body.as_bytes())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = handle(&app, request("GET", "/groups", b"")).await;
    assert_eq!(names(&listed.body), ["Old file"]);
}
