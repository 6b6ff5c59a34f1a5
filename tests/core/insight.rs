//! Insight without records: activity counts per 5-minute bucket (joins,
//! chats, feedback) with the circle's TTL and nothing that links a rating to a
//! person; the organiser's view, the CSV, and announcements (rate limited
//! race-free); nothing left after close or expiry; each action's cost.

use std::time::Duration;

use circle_shared::activity::{self, BUCKET_SECS, Tally};
use circle_shared::db::metrics::MetricsSnapshot;
use circle_shared::db::{Item, Table};
use circle_shared::protocol::ServerEvent;
use circle_tests::{Harness, Seen, member_secret};
use serde_json::{Value, json};

/// A circle with Ann and Bob paired in it.
async fn paired() -> (Harness, circle_tests::Created, String, String, String) {
    let h = Harness::new().await;
    let c = h.circle("insight").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join_as(&a, &c.code, "Ann", &member_secret(1)).await;
    h.join_as(&b, &c.code, "Bob", &member_secret(2)).await;
    let room = h.current_room(&a).expect("paired");
    (h, c, a, b, room)
}

async fn rate(h: &Harness, conn: &str, room: &str, rating: &str) {
    h.gateway.note(conn, Seen::Left(room.to_owned()));
    let frame = json!({"action":"feedback","room":room,"rating":rating});
    assert_eq!(h.send(conn, frame).await.status_code, 200);
}

fn pk(item: &Item) -> String {
    item.get("pk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn sk(item: &Item) -> String {
    item.get("sk")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn num(item: &Item, a: &str) -> i64 {
    item.get(a)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn expiry(h: &Harness, code: &str) -> i64 {
    let code = circle_shared::code::AccessCode::parse(code).expect("code");
    circle_shared::circle::get(&h.app, &code, true)
        .await
        .expect("read")
        .expect("live")
        .expires_at
}

/// An organiser request on `c`: `{method} /groups/{code}{tail}` with its key.
async fn org(
    h: &Harness,
    c: &circle_tests::Created,
    method: &str,
    tail: &str,
    body: Option<Value>,
) -> circle_shared::handlers::http::HttpResponse {
    let path = format!("/groups/{}{tail}", c.code);
    h.http(method, &path, body, Some(&c.key)).await
}

/// The activity items (`A#…`) and the announcement limit of every circle.
async fn insight_items(h: &Harness) -> Vec<Item> {
    h.scan(Table::Groups)
        .await
        .into_iter()
        .filter(|i| pk(i).starts_with("A#") || sk(i) == "ANNOUNCE")
        .collect()
}

#[tokio::test]
async fn tallies_land_in_their_bucket_with_the_circles_ttl() {
    let (h, c, _a, _b, _room) = paired().await;
    let exp = expiry(&h, &c.code).await;
    let first = activity::bucket_start(h.app.now_secs());
    // Five minutes on: a third joins (and waits), and a rating of round 3.
    h.clock.advance(Duration::from_secs(BUCKET_SECS as u64));
    let w = h.connect().await;
    h.join_as(&w, &c.code, "Cy", &member_secret(3)).await;
    activity::tally(&h.app, &c.id, Some(3), Tally::Good)
        .await
        .expect("counted");
    // A keep-alive join of a waiter is not a join.
    h.join_as(&w, &c.code, "Cy", &member_secret(3)).await;
    let got = activity::read(&h.app, &c.id).await.expect("read");
    assert_eq!(got.buckets.len(), 2, "{got:?}");
    let (b0, b1) = (got.buckets[0], got.buckets[1]);
    assert_eq!((b0.start, b0.joins, b0.chats, b0.good), (first, 2, 1, 0));
    assert_eq!(
        (b1.start, b1.joins, b1.chats, b1.good),
        (first + BUCKET_SECS, 1, 0, 1)
    );
    assert_eq!(got.rounds.len(), 1);
    assert_eq!((got.rounds[0].round, got.rounds[0].good), (3, 1));
    // Every activity item dies with the circle, to the second.
    let items = insight_items(&h).await;
    assert_eq!(items.len(), 3, "{items:#?}");
    for item in &items {
        assert_eq!(num(item, "expires_at"), exp, "{item:?}");
    }
}

#[tokio::test]
async fn a_tally_for_a_closed_circle_writes_nothing() {
    let (h, c, _a, _b, _room) = paired().await;
    let r = org(&h, &c, "DELETE", "", None).await;
    assert_eq!(r.status, 204);
    activity::tally(&h.app, &c.id, None, Tally::Join)
        .await
        .expect("nothing to count");
    assert!(insight_items(&h).await.is_empty());
}

#[tokio::test]
async fn no_record_links_a_rating_to_a_person() {
    let (h, c, a, b, room) = paired().await;
    rate(&h, &a, &room, "good").await;
    rate(&h, &b, &room, "meh").await;
    // A repeat counts nothing.
    rate(&h, &a, &room, "meh").await;
    let view = org(&h, &c, "GET", "/organizer", None).await;
    assert_eq!(view.body["feedback"]["good"], 1, "{}", view.body);
    assert_eq!(view.body["feedback"]["meh"], 1);
    let allowed = ["pk", "sk", "j", "ch", "g", "mh", "expires_at"];
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            if pk(&item).starts_with("A#") {
                // Counts only: no member, connection, room or participant.
                for attr in item.keys() {
                    assert!(allowed.contains(&attr.as_str()), "{attr} on {item:?}");
                }
            }
            // No stored value anywhere spells a rating.
            for (attr, v) in &item {
                if let Ok(s) = v.as_s() {
                    assert!(s != "good" && s != "meh", "{attr} on {item:?}");
                }
                assert!(!attr.contains("rating"), "{attr} on {item:?}");
            }
        }
    }
}

#[tokio::test]
async fn the_organiser_view_and_csv_show_every_bucket() {
    let (h, c, a, _b, room) = paired().await;
    rate(&h, &a, &room, "good").await;
    h.clock.advance(Duration::from_secs(2 * BUCKET_SECS as u64));
    let path = format!("/groups/{}/organizer", c.code);
    let view = h.http("GET", &path, None, Some(&c.key)).await;
    assert_eq!(view.status, 200);
    let rows = view.body["activity"].as_array().expect("activity").clone();
    // Created, then two buckets later: three buckets, the middle one empty.
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[0],
        json!({"at": rows[0]["at"], "joins": 2, "chats": 1, "good": 1, "meh": 0})
    );
    assert_eq!(rows[1]["joins"], 0);
    let at = chrono::DateTime::parse_from_rfc3339(rows[0]["at"].as_str().expect("at"))
        .expect("RFC 3339");
    assert_eq!(at.timestamp() % BUCKET_SECS, 0);
    assert_eq!(view.body["feedback"]["rounds"], json!([]));

    let csv_path = format!("/groups/{}/activity.csv", c.code);
    let csv = h.http("GET", &csv_path, None, Some(&c.key)).await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.body_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "at,joins,chats,good,meh");
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[1],
        format!("{},2,1,1,0", rows[0]["at"].as_str().expect("at"))
    );
    assert!(text.ends_with("\r\n"));
    // The organiser key, as for the rest of the organiser API.
    assert_eq!(h.http("GET", &csv_path, None, None).await.status, 401);
    let other = h.circle("other").await;
    assert_eq!(
        h.http("GET", &csv_path, None, Some(&other.key))
            .await
            .status,
        403
    );
    assert_eq!(
        h.http("POST", &csv_path, None, Some(&c.key)).await.status,
        405
    );
}

fn announcements(h: &Harness, conn: &str) -> Vec<String> {
    h.gateway
        .events(conn)
        .into_iter()
        .filter_map(|e| match e {
            ServerEvent::Announcement { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_announcement_reaches_everyone_once_per_ten_seconds() {
    let (h, c, a, b, _room) = paired().await;
    let w = h.connect().await;
    h.join_as(&w, &c.code, "Cy", &member_secret(3)).await;
    let path = format!("/groups/{}/announce", c.code);
    let say = |text: &str| json!({ "text": text });
    // Two at once (two organiser tabs): exactly one goes out.
    let (r1, r2) = tokio::join!(
        h.http("POST", &path, Some(say("Pizza in 5")), Some(&c.key)),
        h.http("POST", &path, Some(say("Pizza in 5")), Some(&c.key)),
    );
    let mut statuses = [r1.status, r2.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429], "{} {}", r1.body, r2.body);
    let ok = if r1.status == 200 { &r1 } else { &r2 };
    let refused = if r1.status == 429 { &r1 } else { &r2 };
    assert_eq!(ok.body, json!({"sent": 3}));
    assert_eq!(refused.body["error"], "rate_limited");
    assert_eq!(refused.retry_after, Some(10));
    for conn in [&a, &b, &w] {
        assert_eq!(announcements(&h, conn), ["Pizza in 5"]);
    }
    let event = h
        .gateway
        .events(&a)
        .into_iter()
        .find(|e| matches!(e, ServerEvent::Announcement { .. }))
        .expect("announced");
    let frame: Value = serde_json::from_str(&event.to_frame()).expect("JSON");
    assert_eq!(frame["event"], "announcement");
    assert!(frame["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    // Bad text is a 400 and uses up nothing.
    h.clock.advance(Duration::from_secs(10));
    for bad in [
        json!({"text": "   "}),
        json!({"text": "x".repeat(281)}),
        json!({"text": 5}),
        json!({}),
    ] {
        let r = h.http("POST", &path, Some(bad), Some(&c.key)).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["field"], "text");
    }
    let r = h
        .http("POST", &path, Some(say(&"é".repeat(280))), Some(&c.key))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        h.http("POST", &path, Some(say("hi")), None).await.status,
        401
    );
    assert_eq!(h.http("GET", &path, None, Some(&c.key)).await.status, 405);
}

#[tokio::test]
async fn nothing_of_insight_is_left_after_close_or_expiry() {
    // Closed: the activity partition and the announcement limit go with it.
    let (h, c, a, _b, room) = paired().await;
    rate(&h, &a, &room, "good").await;
    let r = org(&h, &c, "POST", "/announce", Some(json!({"text":"bye"}))).await;
    assert_eq!(r.status, 200);
    assert!(!insight_items(&h).await.is_empty());
    let r = org(&h, &c, "DELETE", "", None).await;
    assert_eq!(r.status, 204);
    assert!(
        insight_items(&h).await.is_empty(),
        "{:#?}",
        insight_items(&h).await
    );

    // Expired: every item's TTL is up, so DynamoDB's TTL deletes them all.
    let (h, c, a, _b, room) = paired().await;
    rate(&h, &a, &room, "meh").await;
    let exp = expiry(&h, &c.code).await;
    h.clock
        .advance(h.app.settings.circle_ttl + Duration::from_secs(1));
    let now = h.app.now_secs();
    assert!(now > exp);
    let items = insight_items(&h).await;
    assert!(!items.is_empty());
    let left: Vec<_> = items
        .iter()
        .filter(|i| num(i, "expires_at") >= now)
        .collect();
    assert!(left.is_empty(), "outlive their circle: {left:#?}");
}

/// The cost of each insight action, printed (`COST` lines) and bounded.
#[tokio::test]
async fn insight_costs_a_bounded_few_requests() {
    let h = Harness::new().await;
    let m = || h.app.metrics.snapshot();
    let c = h.circle("cost").await;
    let mut costs: Vec<(&str, MetricsSnapshot)> = Vec::new();
    let conns: Vec<String> = futures_util::future::join_all((0..4).map(|_| h.connect())).await;
    let t = m();
    h.join_as(&conns[0], &c.code, "A", &member_secret(0)).await;
    costs.push(("join (waits; + 1 join tally)", m().since(&t)));
    let t = m();
    h.join_as(&conns[1], &c.code, "B", &member_secret(1)).await;
    costs.push(("join (pairs; + join and chat tallies)", m().since(&t)));
    let room = h.current_room(&conns[0]).expect("paired");
    let t = m();
    activity::tally(&h.app, &c.id, None, Tally::Join)
        .await
        .expect("counted");
    costs.push(("tally (expiry read from the pointer)", m().since(&t)));
    let t = m();
    rate(&h, &conns[0], &room, "good").await;
    costs.push(("feedback (no round)", m().since(&t)));
    let t = m();
    let view = org(&h, &c, "GET", "/organizer", None).await;
    assert_eq!(view.status, 200);
    costs.push(("organiser view", m().since(&t)));
    let t = m();
    let csv = org(&h, &c, "GET", "/activity.csv", None).await;
    assert_eq!(csv.status, 200);
    costs.push(("activity.csv", m().since(&t)));
    let t = m();
    let r = org(&h, &c, "POST", "/announce", Some(json!({"text":"hello"}))).await;
    assert_eq!(r.body, json!({"sent": 2}));
    costs.push(("announce (2 connected)", m().since(&t)));
    for (what, cost) in &costs {
        println!("COST {what}: {cost}");
    }
    let get = |what: &str| costs.iter().find(|(w, _)| *w == what).expect(what).1;
    use circle_shared::db::metrics::DdbOp;
    // A tally is one UpdateItem; with the expiry unknown, one GetItem first.
    let tally = get("tally (expiry read from the pointer)");
    assert_eq!(
        (tally.op(DdbOp::GetItem), tally.op(DdbOp::UpdateItem)),
        (1, 1)
    );
    assert_eq!(tally.ddb_requests(), 2);
    // The CSV: the HTTP request's address count, the circle, one Query.
    let csv = get("activity.csv");
    assert_eq!(csv.op(DdbOp::Query), 1, "{csv}");
    assert!(csv.ddb_requests() <= 3, "{csv}");
    // An announcement: the address count and the circle, its one conditional
    // write, the `by_circle` index's shards, and one post per connection.
    let ann = get("announce (2 connected)");
    let shards = u64::from(circle_shared::db::keys::PRESENCE_SHARDS);
    assert_eq!(ann.op(DdbOp::Query), shards, "{ann}");
    assert_eq!(ann.ddb_writes(), 2, "{ann}");
    assert_eq!(ann.gateway_posts, 2);
    assert_eq!(ann.tallies_lost, 0);
}

/// A burst over one partition's throughput (the AWS simulation, with a tiny
/// per-partition write allowance that only moves with its clock): a throttled
/// tally is retried, then dropped and counted, never failing anything; once
/// the partition has capacity again, tallies land.
#[tokio::test]
async fn a_throttled_tally_is_retried_then_dropped_and_counted() {
    use circle_shared::aws_sim::{AwsSim, Latency, SimConfig};
    use circle_shared::clock::ManualClock;
    use circle_shared::embedded::EmbeddedDynamo;
    use circle_shared::{App, TableNames};
    use std::sync::Arc;
    let sim_clock = Arc::new(ManualClock::new(0));
    let sim = AwsSim::new(
        SimConfig {
            dynamo_latency: Latency::NONE,
            partition_wcu: 2.0,
            burst_secs: 1.0,
            ..SimConfig::default()
        },
        sim_clock.clone(),
    );
    let dynamo = EmbeddedDynamo::memory_with(Some(sim.clone()))
        .await
        .expect("the store starts");
    let names = TableNames::with_prefix("throttle");
    dynamo.create_tables(&names).await.expect("tables");
    // No SDK retries: the core's own retries are what is tested.
    let conf = aws_sdk_dynamodb::config::Builder::from(&dynamo.sdk_config())
        .endpoint_url(dynamo.endpoint())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let app = App::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        names,
        Arc::new(circle_tests::RecordingGateway::default()),
        Arc::new(ManualClock::starting_now()),
        circle_tests::test_settings(),
    );
    let exp = app.now_secs() + 3600;
    let (a, b, c) = tokio::join!(
        activity::tally_until(&app, "cid", exp, None, Tally::Join),
        activity::tally_until(&app, "cid", exp, None, Tally::Join),
        activity::tally_until(&app, "cid", exp, None, Tally::Join),
    );
    let mut results = [a, b, c];
    results.sort_by_key(Result::is_ok);
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "{results:?}"
    );
    assert_eq!(results[0], Err(circle_shared::db::StoreError::Throttled));
    let m = app.metrics.snapshot();
    assert_eq!(m.tallies_lost, 1);
    assert!(m.throttled >= 6, "every attempt was throttled: {m}");
    assert_eq!(m.retries, 5, "{m}");
    // A second later the partition has room again.
    sim_clock.advance(Duration::from_secs(1));
    activity::tally_until(&app, "cid", exp, None, Tally::Join)
        .await
        .expect("counted");
    let got = activity::read(&app, "cid").await.expect("read");
    assert_eq!(got.buckets[0].joins, 3);
}
