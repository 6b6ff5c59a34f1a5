//! Every sample event in `events/` deserializes into its typed event and runs
//! through its handler against the embedded DynamoDB with the expected status.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use circle_functions::http_api::{self, PublicUrls};
use circle_functions::{FUNCTIONS, HTTP_API_BINARY, TIMER_BINARY};
use circle_shared::clock::SystemClock;
use circle_shared::embedded::EmbeddedDynamo;
use circle_shared::handlers::ws;
use circle_shared::{App, Settings, TableNames};
use serde_json::Value;

use support::{Recorder, event_text, sample_hash_key, seed_sample_group};

const WS_URL: &str = "wss://k7xq2m9v1d.execute-api.eu-west-1.amazonaws.com/prod";

struct World {
    _dynamo: EmbeddedDynamo,
    app: App,
    posts: Arc<Recorder>,
}

async fn world(mut settings: Settings) -> World {
    settings.hash_key = sample_hash_key();
    let dynamo = EmbeddedDynamo::memory()
        .await
        .expect("the embedded store starts");
    let tables = TableNames::with_prefix("events");
    dynamo
        .create_tables(&tables)
        .await
        .expect("tables are created");
    let posts = Arc::new(Recorder::default());
    let app = App::new(
        dynamo.client(),
        tables,
        posts.clone(),
        Arc::new(SystemClock),
        settings,
    );
    seed_sample_group(&app, app.now_secs()).await;
    World {
        _dynamo: dynamo,
        app,
        posts,
    }
}

/// Events named after the binary that receives them (`{binary}[-what].json`).
fn binary_of(file: &str) -> &'static str {
    let stem = file.strip_suffix(".json").expect("event files are .json");
    // HTTP API events are `http-{what}.json`.
    if stem.starts_with("http-") {
        return HTTP_API_BINARY;
    }
    let named = |bin: &str| stem == bin || stem.starts_with(&format!("{bin}-"));
    FUNCTIONS
        .iter()
        .map(|(_, bin)| *bin)
        .chain([HTTP_API_BINARY, TIMER_BINARY])
        .filter(|bin| named(bin))
        .max_by_key(|bin| bin.len())
        .unwrap_or_else(|| panic!("events/{file} is named after no function binary"))
}

fn ws_event(file: &str) -> ApiGatewayWebsocketProxyRequest {
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(&event_text(file)).unwrap_or_else(|e| panic!("events/{file}: {e}"));
    let route = event
        .request_context
        .route_key
        .as_deref()
        .expect("WebSocket events carry a routeKey");
    let bin = FUNCTIONS.iter().find(|(r, _)| *r == route).map(|(_, b)| *b);
    assert_eq!(
        bin,
        Some(binary_of(file)),
        "events/{file}: routeKey {route} belongs to another function"
    );
    event
}

fn with_connection(
    mut event: ApiGatewayWebsocketProxyRequest,
    id: &str,
) -> ApiGatewayWebsocketProxyRequest {
    event.request_context.connection_id = Some(id.to_owned());
    event
}

fn with_body(
    mut event: ApiGatewayWebsocketProxyRequest,
    edit: impl FnOnce(&mut Value),
) -> ApiGatewayWebsocketProxyRequest {
    let mut body: Value =
        serde_json::from_str(event.body.as_deref().expect("action events have a body"))
            .expect("sample bodies are JSON");
    edit(&mut body);
    event.body = Some(body.to_string());
    event
}

async fn run_ws(app: &App, event: ApiGatewayWebsocketProxyRequest) -> i64 {
    ws::handle(app, event).await.status_code
}

fn kinds_for<'a>(posts: &'a [(String, Value)], id: &str) -> Vec<&'a str> {
    posts
        .iter()
        .filter(|(to, _)| to == id)
        .map(|(_, e)| e["event"].as_str().expect("every server event is tagged"))
        .collect()
}

fn only_event<'a>(posts: &'a [(String, Value)], id: &str, kind: &str) -> &'a Value {
    let found: Vec<&Value> = posts
        .iter()
        .filter(|(to, e)| to == id && e["event"] == kind)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} for {id} in {posts:?}");
    found[0]
}

#[tokio::test]
async fn websocket_events_run_through_their_handlers() {
    let w = world(Settings::default()).await;
    let me = ws_event("ws-connect.json")
        .request_context
        .connection_id
        .expect("the sample has a connection id");
    let partner = "partner-Vx1lZcIM=";

    // Someone waits in the sample group first.
    assert_eq!(
        run_ws(
            &w.app,
            with_connection(ws_event("ws-connect.json"), partner)
        )
        .await,
        200
    );
    assert_eq!(
        run_ws(
            &w.app,
            with_connection(ws_event("ws-join-group.json"), partner)
        )
        .await,
        200
    );
    assert_eq!(kinds_for(&w.posts.take(), partner), ["waiting"]);

    // The samples, in a connection's order of life.
    assert_eq!(run_ws(&w.app, ws_event("ws-connect.json")).await, 200);
    assert_eq!(run_ws(&w.app, ws_event("ws-join-group.json")).await, 200);
    let posts = w.posts.take();
    let mine = only_event(&posts, &me, "join_room");
    let theirs = only_event(&posts, partner, "join_room");
    assert_eq!(mine["room"], theirs["room"]);
    assert_eq!(theirs["match"]["name"], "Ada");
    let room = mine["room"]
        .as_str()
        .expect("join_room names the room")
        .to_owned();

    // The sample's own room is not ours: an error event, the connection stays.
    assert_eq!(run_ws(&w.app, ws_event("ws-message.json")).await, 200);
    assert_eq!(
        only_event(&w.posts.take(), &me, "error")["code"],
        "not_in_room"
    );
    let in_room = |b: &mut Value| b["room"] = Value::from(room.clone());
    assert_eq!(
        run_ws(&w.app, with_body(ws_event("ws-message.json"), in_room)).await,
        200
    );
    let posts = w.posts.take();
    for id in [me.as_str(), partner] {
        let msg = only_event(&posts, id, "message");
        assert_eq!(
            (msg["message"].as_str(), msg["from"]["name"].as_str()),
            (Some("hello!"), Some("Ada"))
        );
    }

    assert_eq!(run_ws(&w.app, ws_event("ws-default.json")).await, 200);
    assert_eq!(
        only_event(&w.posts.take(), &me, "error")["code"],
        "bad_request"
    );

    assert_eq!(run_ws(&w.app, ws_event("ws-leave-room.json")).await, 200);
    assert_eq!(
        only_event(&w.posts.take(), &me, "error")["code"],
        "not_in_room"
    );
    assert_eq!(
        run_ws(&w.app, with_body(ws_event("ws-leave-room.json"), in_room)).await,
        200
    );
    let posts = w.posts.take();
    assert_eq!(
        only_event(&posts, partner, "partner_left")["reason"],
        "left"
    );
    // `requeue: true`: back in the lobby, alone there.
    assert_eq!(kinds_for(&posts, &me), ["waiting"]);

    assert_eq!(run_ws(&w.app, ws_event("ws-disconnect.json")).await, 200);
    let gone = circle_shared::pairing::get_connection(&w.app, &me, true)
        .await
        .expect("the store answers");
    assert!(gone.is_none(), "the record is gone after $disconnect");
}

/// Connects and joins `id` to the sample circle with the join sample.
async fn join_sample(w: &World, id: &str) {
    assert_eq!(
        run_ws(&w.app, with_connection(ws_event("ws-connect.json"), id)).await,
        200
    );
    assert_eq!(
        run_ws(&w.app, with_connection(ws_event("ws-join-group.json"), id)).await,
        200
    );
}

#[tokio::test]
async fn block_report_resume_and_timer_samples_run_through_their_handlers() {
    let w = world(Settings::default()).await;
    let (a, b) = ("block-a-Vx1lZc=", "block-b-Vx1lZc=");
    join_sample(&w, a).await;
    join_sample(&w, b).await;
    let posts = w.posts.take();
    let room = only_event(&posts, a, "join_room")["room"]
        .as_str()
        .expect("a room")
        .to_owned();
    let in_room = |b: &mut Value| b["room"] = Value::from(room.clone());

    // block: ends the room; the partner only sees that it was left.
    let block = with_connection(with_body(ws_event("ws-leave-room-block.json"), in_room), a);
    assert_eq!(run_ws(&w.app, block).await, 200);
    let posts = w.posts.take();
    assert_eq!(kinds_for(&posts, a), ["blocked"]);
    assert_eq!(only_event(&posts, b, "partner_left")["reason"], "left");

    // report on the room just ended (the last room): stored for the organiser.
    let report = with_connection(with_body(ws_event("ws-leave-room-report.json"), in_room), b);
    assert_eq!(run_ws(&w.app, report).await, 200);
    assert_eq!(kinds_for(&w.posts.take(), b), ["reported"]);
    let (status, _, body) = run_http(&w.app, "http-organizer.json").await;
    assert_eq!(status, 200);
    let view = json(&body);
    assert_eq!(
        view["reports"][0]["reason"],
        "Kept asking for my phone number"
    );
    assert_eq!(view["reports"][0]["excerpt"][0]["from"], "partner");

    // feedback and keep_in_touch on the room just ended, from both sides.
    for who in [a, b] {
        let feedback = with_connection(
            with_body(ws_event("ws-leave-room-feedback.json"), in_room),
            who,
        );
        assert_eq!(run_ws(&w.app, feedback).await, 200);
        assert_eq!(kinds_for(&w.posts.take(), who), ["feedback"]);
    }
    let touch = |who| {
        with_connection(
            with_body(ws_event("ws-leave-room-keep-in-touch.json"), in_room),
            who,
        )
    };
    assert_eq!(run_ws(&w.app, touch(a)).await, 200);
    assert_eq!(kinds_for(&w.posts.take(), a), ["keep_in_touch"]);
    assert_eq!(run_ws(&w.app, touch(b)).await, 200);
    let posts = w.posts.take();
    assert_eq!(kinds_for(&posts, b), ["keep_in_touch", "contact"]);
    assert_eq!(
        only_event(&posts, a, "contact")["contact"],
        "ann@example.org"
    );

    // resume: a dropped member's new connection takes its seat back.
    let (c, d, d2) = ("resume-c-Vx1lZ=", "resume-d-Vx1lZ=", "resume-d2-Vx1l=");
    join_sample(&w, c).await;
    join_sample(&w, d).await;
    let posts = w.posts.take();
    let seat = only_event(&posts, d, "join_room");
    let (room, token) = (
        seat["room"].as_str().expect("a room").to_owned(),
        seat["resume"].as_str().expect("a token").to_owned(),
    );
    let gone = with_connection(ws_event("ws-disconnect.json"), d);
    assert_eq!(run_ws(&w.app, gone).await, 200);
    assert_eq!(kinds_for(&w.posts.take(), c), ["partner_away"]);
    // The sample's own token is not this seat's: refused.
    assert_eq!(
        run_ws(&w.app, with_connection(ws_event("ws-connect.json"), d2)).await,
        200
    );
    let wrong = with_connection(
        with_body(ws_event("ws-join-group-resume.json"), |b| {
            b["room"] = Value::from(room.clone())
        }),
        d2,
    );
    assert_eq!(run_ws(&w.app, wrong).await, 200);
    assert_eq!(
        only_event(&w.posts.take(), d2, "error")["code"],
        "not_in_room"
    );
    let right = with_connection(
        with_body(ws_event("ws-join-group-resume.json"), |b| {
            b["room"] = Value::from(room.clone());
            b["token"] = Value::from(token.clone());
        }),
        d2,
    );
    assert_eq!(run_ws(&w.app, right).await, 200);
    let posts = w.posts.take();
    assert_eq!(only_event(&posts, d2, "join_room")["resumed"], true);
    assert_eq!(kinds_for(&posts, c), ["partner_back"]);

    // The timer sample names a seat nobody holds: nothing to do, nothing to retry.
    let sqs: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&event_text("timer-due.json")).expect("events/timer-due.json");
    assert_eq!(binary_of("timer-due.json"), TIMER_BINARY);
    let done = circle_functions::timer_function::handle(&w.app, sqs).await;
    assert!(done.batch_item_failures.is_empty());
    assert!(w.posts.take().is_empty());
}

#[tokio::test]
async fn the_connect_sample_is_refused_from_a_foreign_origin() {
    let settings = Settings {
        allowed_origins: Some(vec!["https://chat.example.com".into()]),
        ..Settings::default()
    };
    let w = world(settings).await;
    assert_eq!(run_ws(&w.app, ws_event("ws-connect.json")).await, 403);
}

fn http_request(file: &str) -> ApiGatewayV2httpRequest {
    let text = event_text(file);
    assert_eq!(binary_of(file), HTTP_API_BINARY);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{file}: {e}"))
}

async fn run_http(app: &App, file: &str) -> (u16, String, Vec<u8>) {
    run_http_request(app, http_request(file)).await
}

async fn run_http_request(app: &App, request: ApiGatewayV2httpRequest) -> (u16, String, Vec<u8>) {
    let urls = PublicUrls {
        http_url: None,
        ws_url: Some(WS_URL.to_owned()),
    };
    let response = http_api::respond(app, &urls, request).await;
    let content_type = response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match response.body {
        Some(Body::Text(t)) => t.into_bytes(),
        Some(Body::Binary(b)) => b,
        _ => Vec::new(),
    };
    (
        u16::try_from(response.status_code).expect("an HTTP status"),
        content_type,
        body,
    )
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("the API answers JSON")
}

#[tokio::test]
async fn http_events_run_through_the_http_api_function() {
    let w = world(Settings::default()).await;

    let (status, content_type, body) = run_http(&w.app, "http-create-group.json").await;
    assert_eq!((status, content_type.as_str()), (201, "application/json"));
    let created = json(&body);
    assert_eq!(created["name"], "Book club");
    assert!(created["access_code"].is_string());

    let (status, _, body) = run_http(&w.app, "http-list-groups.json").await;
    assert_eq!(status, 200);
    let page = json(&body);
    let listed = page["groups"].as_array().expect("a list");
    assert_eq!(
        listed.len(),
        1,
        "the created group (listed); the seeded one is not"
    );
    assert_eq!(listed[0]["name"], "Book club");
    assert_eq!(page["next"], Value::Null);
    assert!(
        listed.iter().all(|g| g.get("access_code").is_none()),
        "listings never show codes"
    );

    let (status, _, body) = run_http(&w.app, "http-get-group.json").await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["access_code"], "HMRW7-KT4PZ");

    let (status, content_type, body) = run_http(&w.app, "http-page.json").await;
    if circle_functions::page::INDEX_HTML.is_some() {
        assert_eq!(
            (status, content_type.as_str()),
            (200, "text/html; charset=utf-8")
        );
        assert!(
            String::from_utf8_lossy(&body).contains("<html"),
            "the page is HTML"
        );
    } else {
        assert_eq!(status, 404, "web/index.html was missing at build time");
    }

    let (status, _, body) = run_http(&w.app, "http-config.json").await;
    assert_eq!(status, 200);
    let config = json(&body);
    let keys: BTreeSet<&str> = config
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["http_url", "ws_url"]));
    assert_eq!(
        config["http_url"],
        "https://p3w8n5c2zr.execute-api.eu-west-1.amazonaws.com"
    );
    assert_eq!(config["ws_url"], WS_URL);
}

/// The page's other files (its ES modules in `web/`'s folders) by their paths, as
/// the greedy `GET /{file+}` route brings them; an unknown path is a 404.
#[tokio::test]
async fn the_page_files_are_served_by_path() {
    let w = world(Settings::default()).await;
    let at = |path: &str| {
        let mut request = http_request("http-page.json");
        request.raw_path = Some(path.to_owned());
        request.request_context.http.path = Some(path.to_owned());
        request
    };
    for (path, content_type, text, _) in circle_functions::page::FILES {
        let (status, got_type, body) = run_http_request(&w.app, at(&format!("/{path}"))).await;
        assert_eq!((status, got_type.as_str()), (200, *content_type), "{path}");
        assert_eq!(body, text.as_bytes(), "{path}");
    }
    for path in ["/lib/nope.js", "/nope.css", "/lib/../main.js"] {
        let (status, _, _) = run_http_request(&w.app, at(path)).await;
        assert_eq!(status, 404, "{path}");
    }
}

/// A browser that accepts gzip gets each file of the page gzipped (base64 in
/// the Lambda response, as API Gateway expects binary bodies), marked so, and
/// `Vary: Accept-Encoding`; one that refuses it (`gzip;q=0`) gets the text.
#[tokio::test]
async fn the_page_is_gzipped_for_a_browser_that_accepts_it() {
    let w = world(Settings::default()).await;
    let urls = PublicUrls {
        http_url: None,
        ws_url: Some(WS_URL.to_owned()),
    };
    for (path, _, text, gzip) in circle_functions::page::FILES {
        for (accept, zipped) in [("gzip, deflate, br", true), ("gzip;q=0, br", false)] {
            let mut request = http_request("http-page.json");
            request.raw_path = Some(format!("/{path}"));
            request.request_context.http.path = Some(format!("/{path}"));
            request
                .headers
                .insert("accept-encoding", accept.parse().expect("a header value"));
            let response = http_api::respond(&w.app, &urls, request).await;
            let header = |name: &str| {
                response
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            assert_eq!(header("vary").as_deref(), Some("accept-encoding"), "{path}");
            if zipped {
                assert_eq!(
                    header("content-encoding").as_deref(),
                    Some("gzip"),
                    "{path}"
                );
                assert!(response.is_base64_encoded, "{path}");
                assert_eq!(response.body, Some(Body::Binary(gzip.to_vec())), "{path}");
                assert!(gzip.len() < text.len(), "{path}: gzip is smaller");
                let wire = serde_json::to_value(&response).expect("serialises");
                assert_eq!(wire["isBase64Encoded"], true, "{path}");
            } else {
                assert_eq!(header("content-encoding"), None, "{path}");
                assert_eq!(
                    response.body,
                    Some(Body::Text((*text).to_owned())),
                    "{path}"
                );
            }
        }
    }
}

/// Every file of the page comes with a strict Content-Security-Policy (its
/// own files, connections only to itself and the APIs, never framed),
/// `nosniff` and no referrer.
#[tokio::test]
async fn the_page_is_served_with_strict_security_headers() {
    let w = world(Settings::default()).await;
    if circle_functions::page::INDEX_HTML.is_none() {
        return;
    }
    let urls = PublicUrls {
        http_url: Some("https://circle.example".to_owned()),
        ws_url: Some(WS_URL.to_owned()),
    };
    let mut module = http_request("http-page.json");
    module.raw_path = Some("/main.js".to_owned());
    module.request_context.http.path = Some("/main.js".to_owned());
    for request in [http_request("http-page.json"), module] {
        let response = http_api::respond(&w.app, &urls, request).await;
        assert_eq!(response.status_code, 200);
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "connect-src 'self' https://circle.example wss://k7xq2m9v1d.execute-api.eu-west-1.amazonaws.com",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{csp} has {directive}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
}

#[test]
fn every_event_file_is_exercised() {
    let covered = BTreeSet::from([
        "http-config.json",
        "http-create-group.json",
        "http-get-group.json",
        "http-list-groups.json",
        "http-organizer.json",
        "http-page.json",
        "timer-due.json",
        "ws-connect.json",
        "ws-default.json",
        "ws-disconnect.json",
        "ws-join-group.json",
        "ws-join-group-resume.json",
        "ws-join-group-sit-out.json",
        "ws-leave-room.json",
        "ws-leave-room-block.json",
        "ws-leave-room-feedback.json",
        "ws-leave-room-keep-in-touch.json",
        "ws-leave-room-report.json",
        "ws-message.json",
    ]);
    let present: BTreeSet<String> = std::fs::read_dir(support::root().join("events"))
        .expect("events/ exists")
        .map(|e| {
            e.expect("a readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(present, covered, "add a case above for each new event file");
    // One sample per route.
    for (route, bin) in FUNCTIONS {
        let named = present.iter().filter(|f| binary_of(f) == bin).any(|f| {
            serde_json::from_str::<Value>(&event_text(f))
                .is_ok_and(|e| e["requestContext"]["routeKey"].as_str() == Some(route))
        });
        assert!(named, "no sample event for {route} ({bin})");
    }
}

#[tokio::test]
async fn each_function_serves_only_its_own_actions() {
    let w = world(Settings::default()).await;
    let me = "routes-Vx1lZcIM=";
    assert_eq!(
        run_ws(&w.app, with_connection(ws_event("ws-connect.json"), me)).await,
        200
    );
    let join = with_connection(ws_event("ws-join-group.json"), me);
    // The message, leave and default functions don't join.
    let refused = [
        ws::on_message(&w.app, &join).await,
        ws::on_ending(&w.app, &join).await,
        ws::on_default(&w.app, &join).await,
    ];
    for response in refused {
        assert_eq!(response.status_code, 200);
    }
    let posts = w.posts.take();
    assert_eq!(kinds_for(&posts, me), ["error"; 3]);
    assert!(posts.iter().all(|(_, e)| e["code"] == "bad_request"));
    // The join function does.
    assert_eq!(ws::on_join(&w.app, &join).await.status_code, 200);
    assert_eq!(kinds_for(&w.posts.take(), me), ["waiting"]);
}

/// The sample `file` (a leave, block or report) for `room`, from `id`.
fn in_room(file: &str, room: &str, id: &str) -> ApiGatewayWebsocketProxyRequest {
    let event = with_body(ws_event(file), |body| body["room"] = Value::from(room));
    with_connection(event, id)
}

/// One event through a WebSocket function as its runtime loop runs it:
/// answers the status and the invocation's EMF line, parsed, after checking
/// that its counters are the change in the app's metrics.
async fn invoke_ws<H>(
    w: &World,
    binary: &str,
    handler: H,
    event: ApiGatewayWebsocketProxyRequest,
    request_id: &str,
) -> (i64, Value)
where
    H: AsyncFn(
        &App,
        &ApiGatewayWebsocketProxyRequest,
    ) -> aws_lambda_events::apigw::ApiGatewayProxyResponse,
{
    let routes = circle_functions::routes_of(binary);
    let before = w.app.metrics.snapshot();
    let (response, line) =
        circle_functions::websocket::invoke(&w.app, &routes, &handler, &event, request_id).await;
    let delta = w.app.metrics.snapshot().since(&before);
    let emf: Value = serde_json::from_str(&line).expect("the EMF line is one JSON object");
    // Valid EMF: the metadata under `_aws`, each declared metric and the
    // dimension at the root, numbers for the metrics.
    let meta = &emf["_aws"];
    assert!(meta["Timestamp"].is_i64(), "{line}");
    let directive = &meta["CloudWatchMetrics"][0];
    assert_eq!(meta["CloudWatchMetrics"].as_array().map(Vec::len), Some(1));
    assert_eq!(directive["Namespace"], "Circle");
    assert_eq!(directive["Dimensions"], serde_json::json!([["Function"]]));
    assert_eq!(emf["Function"], binary);
    assert_eq!(emf["RequestId"], request_id);
    let declared: Vec<&str> = directive["Metrics"]
        .as_array()
        .expect("a list of metrics")
        .iter()
        .map(|m| {
            let unit = m["Unit"].as_str().expect("a unit");
            assert!(["Count", "Milliseconds"].contains(&unit), "{line}");
            m["Name"].as_str().expect("a name")
        })
        .collect();
    // The names the template's alarms and dashboard read.
    let counters = circle_functions::emf::counts(&delta);
    let names = [
        "Pairings",
        "Waits",
        "Retries",
        "ConditionFailures",
        "TransactionConflicts",
        "Throttles",
        "Gone410",
        "Reports",
        "RateLimited",
    ];
    assert_eq!(counters.map(|(name, _)| name), names);
    for (name, value) in counters {
        assert!(declared.contains(&name), "{name} is declared: {line}");
        assert_eq!(emf[name], value, "{name}: {line}");
    }
    let mut root: Vec<&str> = emf
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    root.sort_unstable();
    let mut expected: Vec<&str> = declared
        .iter()
        .copied()
        .chain(["_aws", "Function", "RequestId"])
        .collect();
    expected.sort_unstable();
    assert_eq!(root, expected, "nothing else is in the line: {line}");
    (response.status_code, emf)
}

#[tokio::test]
async fn each_invocation_logs_one_emf_line_with_its_counts() {
    let mut settings = Settings::default();
    // One join and one report per connection, then refused: no refill in a test's time.
    settings.limits.action_burst = 1.0;
    settings.limits.action_per_sec = 1e-6;
    // Two sockets from the samples' address at once.
    settings.limits.max_sockets_per_address = 2;
    let w = world(settings).await;
    let (a, b) = ("emf-a-Vx1lZcIM=", "emf-b-Vx1lZcIM=");
    for id in [a, b] {
        let connect = with_connection(ws_event("ws-connect.json"), id);
        let (status, emf) = invoke_ws(&w, "ws-connect", ws::on_connect, connect, "req-c").await;
        assert_eq!(status, 200);
        assert!(emf.get("JoinLatencyMs").is_none(), "only joins are timed");
    }
    // A third socket from that address is refused, and counted.
    let third = with_connection(ws_event("ws-connect.json"), "emf-c-Vx1lZcIM=");
    let (status, emf) = invoke_ws(&w, "ws-connect", ws::on_connect, third, "req-3").await;
    assert_eq!((status, emf["RateLimited"].as_u64()), (429, Some(1)));
    // The first joiner waits; its join is timed.
    let join = |id| with_connection(ws_event("ws-join-group.json"), id);
    let (_, emf) = invoke_ws(&w, "ws-join-group", ws::on_join, join(a), "req-a").await;
    assert_eq!(
        (emf["Waits"].as_u64(), emf["Pairings"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(emf["JoinLatencyMs"].as_f64().is_some_and(|ms| ms >= 0.0));
    // The second is paired with it.
    let (_, emf) = invoke_ws(&w, "ws-join-group", ws::on_join, join(b), "req-b").await;
    assert_eq!(
        (emf["Waits"].as_u64(), emf["Pairings"].as_u64()),
        (Some(0), Some(1))
    );
    let posts = w.posts.take();
    let room = only_event(&posts, a, "join_room")["room"]
        .as_str()
        .expect("a room")
        .to_owned();
    // A report is counted; its reason and excerpt are not in the line.
    let report = in_room("ws-leave-room-report.json", &room, a);
    let (_, emf) = invoke_ws(&w, "ws-leave-room", ws::on_ending, report, "req-r").await;
    assert_eq!(emf["Reports"], 1);
    // A join over the connection's allowance is refused, and counted.
    let (_, emf) = invoke_ws(&w, "ws-join-group", ws::on_join, join(b), "req-l").await;
    assert_eq!(emf["RateLimited"], 1);
    assert_eq!(
        only_event(&w.posts.take(), b, "error")["code"],
        "rate_limited"
    );
}

#[tokio::test]
async fn a_batch_of_timers_fires_concurrently_within_its_bound() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use circle_functions::timer_function::{MAX_IN_FLIGHT, handle_with};
    use circle_shared::timers::Timer;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let timer = |i: usize| Timer::ResumeExpiry {
        room: format!("room-{i}"),
        pid: format!("p{i}"),
        conn: format!("c{i}"),
        due_ms: 0,
    };
    let message = |id: String, body: String| {
        let mut m = SqsMessage::default();
        m.message_id = Some(id);
        m.body = Some(body);
        m
    };
    // Two full waves of timers, one message that is no timer, and the last
    // timer failing.
    let count = 2 * MAX_IN_FLIGHT;
    let mut event = SqsEvent::default();
    event.records = (0..count)
        .map(|i| {
            message(
                format!("m{i}"),
                serde_json::to_string(&timer(i)).expect("JSON"),
            )
        })
        .chain([message("junk".into(), "not a timer".into())])
        .collect();
    // Each firing waits until MAX_IN_FLIGHT of them are in flight together:
    // one after another, the first would wait for ever.
    let wave = tokio::sync::Barrier::new(MAX_IN_FLIGHT);
    let (in_flight, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failing = timer(count - 1);
    let fire = |t: Timer| {
        let (wave, in_flight, peak, failing) = (&wave, &in_flight, &peak, &failing);
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            wave.wait().await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            if t == *failing {
                Err(circle_shared::ActionError::Busy)
            } else {
                Ok(())
            }
        }
    };
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        handle_with(event, MAX_IN_FLIGHT, fire),
    )
    .await
    .expect("the batch's timers fire together, not one after another");
    assert_eq!(
        peak.load(Ordering::SeqCst),
        MAX_IN_FLIGHT,
        "at most the bound at once"
    );
    // Only the failed timer goes back to the queue; the junk is dropped.
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [format!("m{}", count - 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_refusals_are_counted_as_retries_and_transaction_conflicts() {
    use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem};
    use circle_shared::aws_sim::{AwsSim, Latency, SimConfig};

    // The embedded DynamoDB behind AWS's behaviour (transactions hold their
    // items), with no SDK retries: every refusal reaches the core.
    let sim = AwsSim::new(
        SimConfig {
            dynamo_latency: Latency::NONE,
            post_latency: Latency::NONE,
            ..SimConfig::default()
        },
        Arc::new(SystemClock),
    );
    let dynamo = EmbeddedDynamo::memory_with(Some(sim.clone()))
        .await
        .expect("the embedded store starts");
    let tables = TableNames::with_prefix("retries");
    dynamo.create_tables(&tables).await.expect("tables");
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&dynamo.sdk_config())
            .endpoint_url(dynamo.endpoint())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build(),
    );
    let settings = Settings {
        max_attempts: 2,
        hash_key: sample_hash_key(),
        ..Settings::default()
    };
    let posts = Arc::new(Recorder::default());
    let app = App::new(
        client.clone(),
        tables.clone(),
        posts.clone(),
        Arc::new(SystemClock),
        settings,
    );
    seed_sample_group(&app, app.now_secs()).await;
    let w = World {
        _dynamo: dynamo,
        app,
        posts,
    };
    let (a, b) = ("retry-a-Vx1lZcI=", "retry-b-Vx1lZcI=");
    join_sample(&w, a).await;
    join_sample(&w, b).await;
    let room = only_event(&w.posts.take(), a, "join_room")["room"]
        .as_str()
        .expect("a room")
        .to_owned();
    // Another transaction holds a's record and doesn't commit yet.
    let pause = sim.pause_commits().await;
    let holder = {
        let check = ConditionCheck::builder()
            .table_name(&tables.connections)
            .key("connection_id", AttributeValue::S(a.to_owned()))
            .condition_expression("attribute_exists(connection_id)")
            .build()
            .expect("a condition check");
        let item = TransactWriteItem::builder().condition_check(check).build();
        tokio::spawn(async move {
            client
                .transact_write_items()
                .transact_items(item)
                .send()
                .await
                .map(|_| ())
        })
    };
    sim.held_at_least(1).await;
    // a's leave is refused each time (TransactionConflict; the store resends
    // each transaction a few times itself), retried `max_attempts` times, then
    // given up: a busy store, told as such, which is no rate limit.
    let leave = in_room("ws-leave-room.json", &room, a);
    let (status, emf) = invoke_ws(&w, "ws-leave-room", ws::on_ending, leave, "req-t").await;
    assert_eq!(status, 200);
    assert_eq!(
        only_event(&w.posts.take(), a, "error")["code"],
        "rate_limited"
    );
    assert_eq!(emf["Retries"], 2);
    assert!(emf["TransactionConflicts"].as_u64() >= Some(3), "{emf}");
    assert_eq!(emf["RateLimited"], 0);
    drop(pause);
    holder
        .await
        .expect("no panic")
        .expect("the holding transaction commits");
}
