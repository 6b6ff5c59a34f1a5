//! CPU cost of the handlers' pure parts, without I/O: API Gateway event
//! deserialisation, route selection, frame parsing, event building and
//! serialisation, and the whole CPU path of one relayed message.

use std::hint::black_box;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use circle_shared::protocol::{
    ClientAction, ErrorCode, GroupInfo, LeftReason, Participant, ServerEvent,
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
                group: GroupInfo {
                    name: "Book club".into(),
                    description: "We read and talk about books.".into(),
                    rules: vec!["Be kind".into(), "No spoilers".into()],
                },
                waiting: 3,
                round: None,
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

criterion_group!(benches, parsing, routing, apigw, serialising, message_path);
criterion_main!(benches);
