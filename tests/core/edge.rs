//! Abuse at the API's edge, counted in DynamoDB so it holds across Lambda
//! instances: sockets per source address (`$connect` refuses past the cap,
//! `$disconnect` frees a place, a lost `$disconnect` is forgotten two epochs
//! on), HTTP API requests per address per minute, and a connection that keeps
//! going over its rate limit closed with `DELETE @connections`. Only keyed
//! hashes of addresses are stored.

use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use circle_shared::clock::Clock;
use circle_shared::db::Table;
use circle_shared::db::metrics::DdbOp;
use circle_shared::handlers::http::{HttpRequest, HttpResponse, handle};
use circle_shared::pairing::{CLOSE_AFTER_STRIKES, STRIKE_GAP_MS};
use circle_shared::protocol::{ErrorCode, ServerEvent};
use circle_shared::{RateLimits, Settings};
use circle_tests::{Harness, test_settings};
use serde_json::json;

const ADDR: &str = "203.0.113.40";

fn with_limits(adjust: impl FnOnce(&mut RateLimits)) -> Settings {
    let mut settings = test_settings();
    adjust(&mut settings.limits);
    settings
}

/// A `$connect` or `$disconnect` of `conn` from `addr`, its socket opened at `at_ms`.
fn event(route: &str, conn: &str, addr: &str, at_ms: i64) -> ApiGatewayWebsocketProxyRequest {
    let mut e = Harness::event(route, conn, None);
    e.request_context.identity.source_ip = Some(addr.to_owned());
    e.request_context.connected_at = at_ms;
    e
}

async fn connect(h: &Harness, conn: &str, addr: &str, at_ms: i64) -> i64 {
    circle_shared::handlers::ws::handle(&h.app, event("$connect", conn, addr, at_ms))
        .await
        .status_code
}

async fn disconnect(h: &Harness, conn: &str, addr: &str, at_ms: i64) {
    let res = Box::pin(circle_shared::handlers::ws::handle(
        &h.app,
        event("$disconnect", conn, addr, at_ms),
    ))
    .await;
    assert_eq!(res.status_code, 200);
}

/// No stored item holds a plain address anywhere.
async fn no_address_stored(h: &Harness, addrs: &[&str]) {
    for table in [Table::Groups, Table::Connections] {
        for item in h.scan(table).await {
            let text = format!("{item:?}");
            for addr in addrs {
                assert!(!text.contains(addr), "{addr} stored: {text}");
            }
        }
    }
}

#[tokio::test]
async fn sockets_per_address_are_capped_and_a_disconnect_frees_a_place() {
    let h = Harness::with_settings(with_limits(|l| l.max_sockets_per_address = 3)).await;
    let t0 = h.clock.now_millis();
    for i in 0..3 {
        let before = h.app.metrics.snapshot();
        assert_eq!(connect(&h, &format!("s{i}"), ADDR, t0).await, 200);
        // The cost of `$connect`: the previous epoch's count, this one's, the record.
        let cost = h.app.metrics.snapshot().since(&before);
        assert_eq!(cost.op(DdbOp::GetItem), 1, "{cost}");
        assert_eq!(cost.op(DdbOp::UpdateItem), 1, "{cost}");
        assert_eq!(cost.op(DdbOp::PutItem), 1, "{cost}");
        assert_eq!(cost.ddb_requests(), 3, "{cost}");
    }
    assert_eq!(connect(&h, "s3", ADDR, t0).await, 429, "over the cap");
    assert!(
        circle_shared::pairing::get_connection(&h.app, "s3", true)
            .await
            .expect("readable")
            .is_none(),
        "a refused socket leaves no record"
    );
    // Another address has its own count.
    assert_eq!(connect(&h, "o0", "198.51.100.99", t0).await, 200);
    // A socket that closes frees its place.
    let before = h.app.metrics.snapshot();
    disconnect(&h, "s0", ADDR, t0).await;
    let cost = h.app.metrics.snapshot().since(&before);
    assert_eq!(cost.op(DdbOp::UpdateItem), 1, "the decrement: {cost}");
    assert_eq!(connect(&h, "s4", ADDR, t0).await, 200);
    assert_eq!(connect(&h, "s5", ADDR, t0).await, 429);
    no_address_stored(&h, &[ADDR, "198.51.100.99"]).await;
}

#[tokio::test]
async fn the_cap_counts_the_previous_epoch_and_forgets_older_ones() {
    let settings = with_limits(|l| l.max_sockets_per_address = 2);
    let epoch = settings.connection_ttl;
    let h = Harness::with_settings(settings).await;
    let t0 = h.clock.now_millis();
    assert_eq!(connect(&h, "a", ADDR, t0).await, 200);
    assert_eq!(connect(&h, "b", ADDR, t0).await, 200);
    // One epoch on, those sockets may still be open: still full.
    h.clock.advance(epoch);
    let t1 = h.clock.now_millis();
    assert_eq!(connect(&h, "c", ADDR, t1).await, 429);
    // `a` closes (counted where it opened): a place.
    disconnect(&h, "a", ADDR, t0).await;
    assert_eq!(connect(&h, "c", ADDR, t1).await, 200);
    // `b`'s `$disconnect` never comes. Two epochs after `a` and `b` opened,
    // no socket of theirs can be open: only `c` counts.
    h.clock.advance(epoch);
    let t2 = h.clock.now_millis();
    assert_eq!(connect(&h, "d", ADDR, t2).await, 200);
    assert_eq!(connect(&h, "e", ADDR, t2).await, 429);
}

#[tokio::test]
async fn no_cap_when_it_is_zero() {
    let h = Harness::with_settings(with_limits(|l| l.max_sockets_per_address = 0)).await;
    let t0 = h.clock.now_millis();
    let before = h.app.metrics.snapshot();
    for i in 0..5 {
        assert_eq!(connect(&h, &format!("z{i}"), ADDR, t0).await, 200);
    }
    assert_eq!(h.app.metrics.snapshot().since(&before).ddb_requests(), 5);
}

async fn get_from(h: &Harness, addr: &str) -> HttpResponse {
    request_from(h, addr, "/groups").await
}

async fn request_from(h: &Harness, addr: &str, path: &str) -> HttpResponse {
    let req = HttpRequest {
        method: "GET",
        path,
        body: b"",
        authorization: None,
        source_ip: Some(addr),
        page_url: "http://127.0.0.1:3000/",
    };
    handle(&h.app, req).await
}

#[tokio::test]
async fn the_http_api_limits_requests_per_address_per_minute() {
    let h = Harness::with_settings(with_limits(|l| l.requests_per_minute = 5)).await;
    // Start on a minute's first second, so the five fit in one minute.
    let into_minute = h.clock.now_secs().rem_euclid(60);
    h.clock.advance(Duration::from_secs(
        u64::try_from(60 - into_minute).expect("0..60"),
    ));
    for _ in 0..5 {
        assert_eq!(get_from(&h, ADDR).await.status, 200);
    }
    let refused = get_from(&h, ADDR).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["error"], "rate_limited");
    assert_eq!(refused.retry_after, Some(60));
    // Every endpoint counts, the organiser's and a lookup by code too.
    for path in ["/organizer", "/groups/ABCDE-FGHJK"] {
        assert_eq!(request_from(&h, ADDR, path).await.status, 429, "{path}");
    }
    // Another address has its own allowance.
    assert_eq!(get_from(&h, "198.51.100.99").await.status, 200);
    // The next minute, again.
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(get_from(&h, ADDR).await.status, 200);
    no_address_stored(&h, &[ADDR, "198.51.100.99"]).await;
    let now = h.clock.now_secs();
    for item in h.scan(Table::Groups).await {
        let pk = item["pk"].as_s().expect("pk");
        if pk.starts_with("RQ#") {
            let exp: i64 = item["expires_at"].as_n().expect("n").parse().expect("int");
            assert!(exp <= now + 60, "a count lives a minute at most");
        }
    }
}

/// Pairs two members with the real per-connection limits; (harness, a, room).
async fn chatting() -> (Harness, String, String) {
    let h = Harness::with_settings(with_limits(|l| *l = RateLimits::default())).await;
    let c = h.circle("flood").await;
    let (a, b) = (h.connect().await, h.connect().await);
    h.join(&a, &c.code, "Ann").await;
    h.join(&b, &c.code, "Bob").await;
    let room = h.current_room(&a).expect("paired");
    (h, a, room)
}

/// Sends messages until one is refused (or the connection is closed); whether
/// it was.
async fn flood(h: &Harness, conn: &str, room: &str) -> bool {
    for i in 0..40 {
        let before = h.errors(conn).len();
        h.send(
            conn,
            json!({"action":"message","room":room,"message":format!("f{i}")}),
        )
        .await;
        let refused = h.errors(conn)[before..].iter().any(|e| {
            matches!(
                e,
                ServerEvent::Error {
                    code: ErrorCode::RateLimited,
                    ..
                }
            )
        });
        if refused || h.gateway.was_closed(conn) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_connection_that_keeps_flooding_is_closed() {
    let (h, a, room) = chatting().await;
    let strikes = usize::try_from(CLOSE_AFTER_STRIKES).expect("small");
    for strike in 1..=strikes {
        assert!(
            !h.gateway.was_closed(&a),
            "open after {} strikes",
            strike - 1
        );
        assert!(flood(&h, &a, &room).await, "strike {strike} is refused");
        // The mark lasts a second; the next burst comes right after it.
        h.clock.advance(Duration::from_millis(1001));
    }
    assert!(h.gateway.was_closed(&a), "closed at the {strikes}th strike");
    assert_eq!(h.app.metrics.snapshot().gateway_deletes, 1);
}

#[tokio::test]
async fn tripping_the_limit_now_and_then_never_closes() {
    let (h, a, room) = chatting().await;
    let gap = Duration::from_millis(u64::try_from(STRIKE_GAP_MS).expect("positive") + 2000);
    for _ in 0..2 * CLOSE_AFTER_STRIKES {
        assert!(flood(&h, &a, &room).await);
        h.clock.advance(gap);
    }
    assert!(!h.gateway.was_closed(&a));
}
