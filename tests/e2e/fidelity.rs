//! The emulator is as strict as API Gateway: binary frames close with 1003,
//! `@connections` under the stage path, a connection's frames invoked
//! concurrently on request, handlers cut off at their function's timeout, and
//! clients that vanish without a close (posts keep answering 200 until the idle
//! timeout), over real sockets.

use std::time::{Duration, Instant};

use crate::ws_support::*;
use aws_sdk_apigatewaymanagement as apigw;
use circle_shared::db::metrics::DdbOp;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn management_client(endpoint: &str) -> apigw::Client {
    let config = apigw::config::Builder::from(&circle_shared::app::local_sdk_config())
        .endpoint_url(endpoint)
        .build();
    apigw::Client::from_conf(config)
}

/// Connects and returns the client and its connection id (the one new id).
async fn connect_with_id(stack: &circle_local::Stack) -> (Client, String) {
    let before: std::collections::HashSet<String> = stack.connection_ids().into_iter().collect();
    let client = Client::connect(stack).await;
    let id = stack
        .connection_ids()
        .into_iter()
        .find(|id| !before.contains(id))
        .expect("a new connection id");
    (client, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_frame_closes_with_1003_and_invokes_nothing() {
    let stack = start().await;
    let mut c = Client::connect(&stack).await;
    let before = stack.app().metrics.snapshot();
    c.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    let frame = c.close_frame().await.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1003);
    // Only `$disconnect` ran: the address's socket count lowered, one read of
    // the record and its delete, no action.
    let deadline = Instant::now() + WAIT;
    while stack.connections() > 0
        || stack.app().metrics.snapshot().since(&before).ddb_requests() < 3
    {
        assert!(Instant::now() < deadline, "the connection ends");
        tokio::task::yield_now().await;
    }
    let cost = stack.app().metrics.snapshot().since(&before);
    assert_eq!(cost.op(DdbOp::UpdateItem), 1, "{cost}");
    assert_eq!(cost.op(DdbOp::GetItem), 1, "{cost}");
    assert_eq!(cost.op(DdbOp::DeleteItem), 1, "{cost}");
    assert_eq!(cost.gateway_posts, 0, "no error event: nothing was invoked");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_is_served_under_the_stage_as_on_aws() {
    let stack = start().await;
    let (mut c, id) = connect_with_id(&stack).await;
    let sdk = management_client(&format!("{}/local", stack.http_url()));
    sdk.post_to_connection()
        .connection_id(&id)
        .data(apigw::primitives::Blob::new(
            br#"{"event":"hello"}"#.as_slice(),
        ))
        .send()
        .await
        .expect("POST under the stage");
    c.expect("hello").await;
    let got = sdk
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("GET under the stage");
    assert!(got.connected_at().is_some());
    sdk.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .expect("DELETE under the stage");
    assert_eq!(u16::from(c.close_frame().await.expect("a code").code), 1000);
    let gone = sdk
        .post_to_connection()
        .connection_id(&id)
        .data(apigw::primitives::Blob::new(b"{}".as_slice()))
        .send()
        .await;
    assert!(
        gone.as_ref()
            .err()
            .and_then(|e| e.as_service_error())
            .is_some_and(|e| e.is_gone_exception()),
        "{gone:?}"
    );
    // Another stage is not this API's.
    let wrong = http(
        "POST",
        &format!("{}/prod/@connections/{id}", stack.http_url()),
        Some(&json!({})),
    )
    .await;
    assert_ne!(wrong.status, 200);
    stack.shutdown().await;
}

/// Sends `frames` joins from one client as fast as it can, waits until each was
/// handled, and returns the most of them the stack handled at once.
async fn frames_at_once(concurrent: bool, frames: usize) -> usize {
    let stack = start_with(|c| {
        c.limits.concurrent_frames = concurrent;
        c.settings.limits = c.settings.limits.scaled(1000.0);
    })
    .await;
    let code = create_group(&stack, "Frames").await;
    let mut c = Client::connect(&stack).await;
    for i in 0..frames {
        c.send(json!({"action":"nope","n":i})).await;
        c.join(&code, &format!("n{i}")).await;
    }
    // Every `nope` is answered with an error; the first join with `waiting`.
    let mut errors = 0;
    while errors < frames {
        let ev = c.event().await;
        if ev["event"] == "error" {
            assert_eq!(ev["code"], "bad_request", "{ev}");
            errors += 1;
        }
    }
    let peak = stack.frames_in_flight_peak();
    stack.shutdown().await;
    peak
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_concurrent_frames_a_connections_frames_are_handled_at_once() {
    assert_eq!(
        frames_at_once(false, 20).await,
        1,
        "in order: one at a time"
    );
    assert!(
        frames_at_once(true, 20).await > 1,
        "concurrently, as Lambda may"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_past_its_timeout_is_cut_off_and_the_client_told() {
    let stack =
        start_with(|c| c.limits.handler_timeout = Some(("join_group", Duration::from_micros(1))))
            .await;
    let code = create_group(&stack, "Slow").await;
    let mut c = Client::connect(&stack).await;
    c.join(&code, "Ann").await;
    // API Gateway's frame for a failed integration (a Lambda timeout is one);
    // what the handler posted before it was stopped (`waiting`) may come first.
    let ev = loop {
        let ev = c.event().await;
        if ev.get("event").is_none() {
            break ev;
        }
    };
    assert_eq!(ev["message"], "Internal server error", "{ev}");
    assert!(ev["connectionId"].is_string() && ev["requestId"].is_string());
    // The connection survives; other routes run normally.
    c.barrier().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_client_keeps_answering_200_until_the_idle_timeout() {
    let idle = Duration::from_secs(2);
    let stack = start_with(|c| c.limits.idle_timeout = idle).await;
    let (c, id) = connect_with_id(&stack).await;
    assert!(stack.vanish(&id));
    drop(c); // the phone is gone; the gateway doesn't know yet
    let sdk = management_client(&stack.connections_endpoint());
    let vanished_at = Instant::now();
    sdk.post_to_connection()
        .connection_id(&id)
        .data(apigw::primitives::Blob::new(
            br#"{"event":"ping"}"#.as_slice(),
        ))
        .send()
        .await
        .expect("a post to a vanished client answers 200");
    assert!(stack.connection_ids().contains(&id));
    // At the idle timeout the connection ends and `$disconnect` runs.
    let deadline = Instant::now() + idle + WAIT;
    while stack.connection_ids().contains(&id) {
        assert!(Instant::now() < deadline, "the idle timeout ends it");
        tokio::task::yield_now().await;
    }
    assert!(vanished_at.elapsed() >= idle - Duration::from_millis(100));
    let deadline = Instant::now() + WAIT;
    loop {
        let record = circle_shared::pairing::get_connection(stack.app(), &id, true)
            .await
            .expect("the store answers");
        if record.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "$disconnect deletes the record");
        tokio::task::yield_now().await;
    }
    // The HTTP switch does the same for tests that only know the id.
    let (_c2, id2) = connect_with_id(&stack).await;
    let answer = http(
        "POST",
        &format!("{}/_local/connections/{id2}/vanish", stack.http_url()),
        None,
    )
    .await;
    assert_eq!(answer.status, 204);
    let unknown = http(
        "POST",
        &format!(
            "{}/_local/connections/Nope00000000000=/vanish",
            stack.http_url()
        ),
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    stack.shutdown().await;
}
