//! CPU cost of the handlers' pure parts, without I/O: API Gateway event
//! deserialisation, route selection, frame parsing, event building and
//! serialisation, and the whole CPU path of one relayed message: once as pure
//! JSON work, and once through the real handler and the real SDK clients
//! (request building, SigV4 signing, response parsing for the `GetItem` and
//! both `@connections` posts) with an HTTP client that answers from memory.
//! It also prints the heap allocations one relayed message makes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use circle_shared::protocol::{
    CircleInfo, ClientAction, ErrorCode, LeftReason, Participant, ServerEvent,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

const JOIN: &str = r#"{"action":"join_group","access_code":"ABCD-EFGH-JK","name":"  Ann  "}"#;
const LEAVE: &str = r#"{"action":"leave_room","room":"0123456789abcdefghij","requeue":true}"#;

fn message_frame() -> String {
    json!({
        "action": "message",
        "room": "0123456789abcdefghij",
        "message": "x".repeat(64),
        "id": "m-1",
    })
    .to_string()
}

/// A `message` route event as API Gateway delivers it (events/ws-message.json shape).
fn apigw_event(body: &str) -> String {
    json!({
        "requestContext": {
            "routeKey": "message",
            "eventType": "MESSAGE",
            "extendedRequestId": "Vx1lgE2koAMFYbg=",
            "requestTime": "09/Apr/2025:12:00:02 +0000",
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": 1_744_200_000_000_i64,
            "requestTimeEpoch": 1_744_200_002_000_i64,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/137.0"},
            "requestId": "Vx1lgE2koAMFYbg=",
            "domainName": "k7xq2m9v1d.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "Vx1lZcIMoAMCKfA=",
            "apiId": "k7xq2m9v1d",
            "messageId": "Vx1lid2EoAMCKfB="
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// API Gateway's route selection on `$request.body.action`.
fn select_route(body: &str) -> &'static str {
    match serde_json::from_str::<Value>(body)
        .ok()
        .as_ref()
        .and_then(|v| v.get("action"))
        .and_then(Value::as_str)
    {
        Some("join_group") => "join_group",
        Some("message") => "message",
        Some("leave_room") => "leave_room",
        _ => "$default",
    }
}

fn participant() -> Participant {
    Participant {
        name: "Ann".into(),
        id: "p-3f9a1c".into(),
        label: None,
    }
}

fn events() -> Vec<(&'static str, ServerEvent)> {
    let mut body = Map::new();
    body.insert("message".into(), json!("x".repeat(64)));
    body.insert("id".into(), json!("m-1"));
    vec![
        (
            "waiting",
            ServerEvent::Waiting {
                group: CircleInfo {
                    name: "Book club".into(),
                    description: "We read and talk about books.".into(),
                    rules: vec!["Be kind".into(), "No spoilers".into()],
                    expires_at: Some("2026-01-04T12:00:00Z".into()),
                },
                waiting: 3,
                round: None,
                reason: None,
                retry_at: None,
            },
        ),
        (
            "join_room",
            ServerEvent::JoinRoom {
                room: "0123456789abcdefghij".into(),
                user: "Bob".into(),
                partner: participant(),
                prompt: "What made you smile this week?".into(),
                resume: "R2dxk3mZQ7Lp9wHtY4vNcS".into(),
                ends_at: None,
                seconds_left: None,
                resumed: None,
            },
        ),
        (
            "message",
            ServerEvent::Message {
                room: "0123456789abcdefghij".into(),
                from: participant(),
                sent_at: "2026-01-01T00:00:00.000Z".into(),
                body,
            },
        ),
        (
            "partner_left",
            ServerEvent::PartnerLeft {
                room: "0123456789abcdefghij".into(),
                reason: LeftReason::Left,
            },
        ),
        (
            "error",
            ServerEvent::error(ErrorCode::NotInRoom, "you are not in that room"),
        ),
    ]
}

fn parsing(c: &mut Criterion) {
    let message = message_frame();
    let mut g = c.benchmark_group("parse");
    for (name, frame) in [
        ("join_group", JOIN),
        ("message", message.as_str()),
        ("leave_room", LEAVE),
        ("bad_json", "{not json"),
    ] {
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(name, |b| b.iter(|| ClientAction::parse(black_box(frame))));
    }
    g.finish();
}

fn routing(c: &mut Criterion) {
    let message = message_frame();
    c.bench_function("route/select_on_action", |b| {
        b.iter(|| select_route(black_box(&message)))
    });
}

fn apigw(c: &mut Criterion) {
    let event = apigw_event(&message_frame());
    let mut g = c.benchmark_group("apigw");
    g.throughput(Throughput::Bytes(event.len() as u64));
    g.bench_function("deserialize_message_event", |b| {
        b.iter(|| {
            serde_json::from_str::<ApiGatewayWebsocketProxyRequest>(black_box(&event))
                .expect("the sample event is valid")
        })
    });
    g.finish();
}

fn serialising(c: &mut Criterion) {
    let mut g = c.benchmark_group("to_frame");
    for (name, ev) in events() {
        g.bench_function(name, |b| b.iter(|| black_box(&ev).to_frame()));
    }
    g.finish();
}

/// Everything a `message` invocation does on the CPU: the Lambda event, the
/// frame, the relayed event and its JSON (the DynamoDB read and the two
/// `@connections` posts are I/O and not here).
fn message_path(c: &mut Criterion) {
    let event = apigw_event(&message_frame());
    c.bench_function("pipeline/message_cpu", |b| {
        b.iter(|| {
            let req: ApiGatewayWebsocketProxyRequest =
                serde_json::from_str(black_box(&event)).expect("the sample event is valid");
            let body = req.body.as_deref().expect("the sample has a body");
            let Ok(ClientAction::Message { room, body }) = ClientAction::parse(body) else {
                panic!("the sample is a message");
            };
            ServerEvent::Message {
                room,
                from: participant(),
                sent_at: "2026-01-01T00:00:00.000Z".into(),
                body,
            }
            .to_frame()
        })
    });
}

/// Counts heap allocations, to report allocations per relayed message.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `layout` is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

mod canned {
    //! An SDK HTTP client that answers from memory: a `GetItem` gets the
    //! sender's connection record (paired), a post gets 200.

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;

    #[derive(Debug, Clone)]
    pub struct Canned {
        pub get_item: &'static str,
    }

    impl HttpClient for Canned {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for Canned {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let dynamodb = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|t| t.starts_with("DynamoDB"));
            let body = if dynamodb {
                SdkBody::from(self.get_item)
            } else {
                SdkBody::empty()
            };
            let status = 200u16.try_into().expect("200 is a status");
            HttpConnectorFuture::ready(Ok(HttpResponse::new(status, body)))
        }
    }
}

/// An attribute as DynamoDB's JSON wire format.
fn wire(v: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::S(s) => json!({"S": s}),
        A::N(n) => json!({"N": n}),
        A::Bool(b) => json!({"BOOL": b}),
        A::Null(b) => json!({"NULL": b}),
        A::Ss(l) => json!({"SS": l}),
        A::L(l) => json!({"L": l.iter().map(wire).collect::<Vec<_>>()}),
        A::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), wire(v))).collect::<Map<_, _>>()}),
        other => panic!("no wire form in this bench for {other:?}"),
    }
}

/// The sender's connection record, paired in the sample's room, as a
/// `GetItem` answer.
fn paired_record() -> &'static str {
    use circle_shared::model::{ConnState, Connection, Room};
    let mut conn = Connection::new("Vx1lZcIMoAMCKfA=", 1_744_200_000_000, 4_102_444_800);
    conn.name = Some("Ann".into());
    conn.cid = Some("c0ffee00c0ffee00".into());
    conn.code = Some("ABCD-EFGH-JK".into());
    conn.mid = Some("0123456789abcdef0123456789abcdef".into());
    conn.circle_expires_at = 4_102_444_800;
    conn.state = ConnState::Paired {
        room: Room {
            room: "0123456789abcdefghij".into(),
            pid: "p-ann".into(),
            partner: "Vx1lZcIMoAMCKfB=".into(),
            partner_name: "Bob".into(),
            partner_pid: "p-bob".into(),
            partner_mid: "fedcba9876543210fedcba9876543210".into(),
            resume_hash: "00".into(),
            prompt: "What made you smile this week?".into(),
            round: 0,
            ends_at: 0,
        },
        partner_away_until: 0,
    };
    let item: Map<String, Value> = conn
        .to_item()
        .iter()
        .map(|(k, v)| (k.clone(), wire(v)))
        .collect();
    Box::leak(json!({ "Item": item }).to_string().into_boxed_str())
}

/// The `message` handler end to end on the CPU: the Lambda event, the rate
/// limiter, the `GetItem` through the SDK (built, signed, parsed), the relayed
/// frame, and both posts through the SDK's `@connections` client.
fn message_handler(c: &mut Criterion) {
    use circle_shared::{App, Settings, TableNames};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let http = aws_sdk_dynamodb::config::SharedHttpClient::new(canned::Canned {
        get_item: paired_record(),
    });
    let sdk = circle_shared::app::local_sdk_config()
        .into_builder()
        .http_client(http)
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url("https://dynamodb.eu-west-1.amazonaws.com")
            .build(),
    );
    let gateway = circle_shared::gateway::ApiGatewayManagement::new(
        &sdk,
        "https://k7xq2m9v1d.execute-api.eu-west-1.amazonaws.com/prod",
    );
    let mut settings = Settings::default();
    // The bench sends far more than one client may; the limiter still runs.
    settings.limits = settings.limits.scaled(1e9);
    let app = App::new(
        dynamodb,
        TableNames::with_prefix("bench"),
        Arc::new(gateway),
        Arc::new(circle_shared::clock::SystemClock),
        settings,
    );
    let event = apigw_event(&message_frame());
    let one = |app: &App| {
        let req: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&event).expect("the sample event is valid");
        let response = rt.block_on(circle_shared::handlers::ws::handle(app, req));
        assert_eq!(response.status_code, 200, "the message was relayed");
    };
    one(&app);
    let before = app.metrics.snapshot();
    one(&app);
    let after = app.metrics.snapshot().since(&before);
    assert_eq!(
        (
            after.ddb_requests(),
            after.ddb_writes(),
            after.gateway_posts
        ),
        (1, 0, 2),
        "one read, no write, two posts"
    );
    let n = 2_000u64;
    let start = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..n {
        one(&app);
    }
    let per = (ALLOCATIONS.load(Ordering::Relaxed) - start) as f64 / n as f64;
    println!("pipeline/message_handler_sdk: {per:.0} heap allocations per relayed message");
    c.bench_function("pipeline/message_handler_sdk", |b| b.iter(|| one(&app)));
}

criterion_group!(
    benches,
    parsing,
    routing,
    apigw,
    serialising,
    message_path,
    message_handler
);
criterion_main!(benches);
