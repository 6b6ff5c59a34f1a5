//! The local stack end to end over real WebSockets: the stack runs in-process on a
//! free port, clients are tokio-tungstenite, the group API is plain HTTP and
//! `@connections` is reached with the real `aws-sdk-apigatewaymanagement` client.
//! Every wait is for an event, with a timeout.
//!
//! Run: `cargo test -p circle-tests --features e2e --test e2e -- ws::`

use std::time::{Duration, Instant};

use crate::ws_support::{Client, create_group, http, joined, pair, start, start_with};
use aws_sdk_apigatewaymanagement as apigw;
use circle_local::Storage;
use circle_shared::gateway::{ApiGatewayManagement, Gateway, GatewayError};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{self, Message};

fn message(room: &str, text: &str) -> Value {
    json!({"action": "message", "room": room, "message": text})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_joiners_are_paired_and_messages_flow_both_ways_with_server_stamped_from() {
    let stack = start().await;
    let code = create_group(&stack, "Book club").await;

    let mut ann = Client::connect(&stack).await;
    ann.join(&code, "Ann").await;
    let waiting = ann.expect("waiting").await;
    assert_eq!(waiting["group"]["name"], "Book club");
    assert_eq!(waiting["group"]["rules"], json!(["be kind"]));
    assert!(
        waiting["waiting"].as_u64().is_some_and(|n| n >= 1),
        "{waiting}"
    );

    let mut bob = Client::connect(&stack).await;
    bob.join(&code, "  Bob  ").await;
    let bob_joined = joined(&mut bob).await;
    let ann_joined = ann.expect("join_room").await;

    let room = ann_joined["room"]
        .as_str()
        .expect("join_room has a room")
        .to_owned();
    assert_eq!(bob_joined["room"], room);
    assert_eq!(ann_joined["user"], "Ann");
    assert_eq!(ann_joined["match"]["name"], "Bob");
    assert_eq!(bob_joined["user"], "Bob");
    assert_eq!(bob_joined["match"]["name"], "Ann");
    let ann_id = bob_joined["match"]["id"]
        .as_str()
        .expect("a participant id")
        .to_owned();
    let bob_id = ann_joined["match"]["id"]
        .as_str()
        .expect("a participant id")
        .to_owned();
    assert_ne!(ann_id, bob_id);
    let connection_ids = stack.connection_ids();
    assert!(
        !connection_ids.contains(&ann_id) && !connection_ids.contains(&bob_id),
        "participant ids are never connection ids"
    );

    // Ann to Bob: both get it (Ann sees her echo), stamped as from Ann.
    ann.send(json!({"action": "message", "room": room, "message": "hi Bob", "id": 1}))
        .await;
    for client in [&mut ann, &mut bob] {
        let ev = client.expect("message").await;
        assert_eq!(ev["message"], "hi Bob");
        assert_eq!(ev["id"], 1);
        assert_eq!(ev["room"], room);
        assert_eq!(ev["from"], json!({"name": "Ann", "id": ann_id}));
        assert!(
            ev["sent_at"].as_str().is_some_and(|s| !s.is_empty()),
            "{ev}"
        );
    }

    // Bob to Ann, trying to pass himself off as someone else: the server's stamp wins.
    bob.send(json!({"action": "message", "room": room, "message": "hi Ann", "from": {"name": "Mallory", "id": "x"}}))
        .await;
    for client in [&mut ann, &mut bob] {
        let ev = client.expect("message").await;
        assert_eq!(ev["message"], "hi Ann");
        assert_eq!(ev["from"], json!({"name": "Bob", "id": bob_id}));
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_client_can_neither_send_into_nor_read_a_room() {
    let stack = start().await;
    let code = create_group(&stack, "Trio").await;
    let (mut ann, mut bob, room) = pair(&stack, &code).await;

    // Same group, but waiting: not a member.
    let mut cat = Client::connect(&stack).await;
    cat.join(&code, "Cat").await;
    cat.expect("waiting").await;
    cat.send(message(&room, "let me in")).await;
    cat.expect_error("not_in_room").await;

    // Not in any group at all.
    let mut dan = Client::connect(&stack).await;
    dan.send(message(&room, "me too")).await;
    dan.expect_error("not_in_room").await;

    // The members talk; only they hear it.
    ann.send(message(&room, "just us")).await;
    ann.expect("message").await;
    ann.barrier().await; // Ann's relay is finished.
    let ev = bob.expect("message").await;
    assert_eq!(
        ev["message"], "just us",
        "Bob got neither Cat's nor Dan's message first"
    );
    bob.barrier().await;
    cat.barrier().await;
    dan.barrier().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_room_tells_the_partner_and_ends_the_room_for_both() {
    let stack = start().await;
    let code = create_group(&stack, "Leavers").await;
    let (mut ann, mut bob, room) = pair(&stack, &code).await;

    ann.send(json!({"action": "leave_room", "room": room}))
        .await;
    let left = bob.expect("partner_left").await;
    assert_eq!(left["room"], room);
    assert_eq!(left["reason"], "left");

    bob.send(message(&room, "still there?")).await;
    bob.expect_error("not_in_room").await;
    ann.send(message(&room, "bye")).await;
    ann.expect_error("not_in_room").await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_room_with_requeue_pairs_the_leaver_with_the_next_waiter() {
    let stack = start().await;
    let code = create_group(&stack, "Next").await;
    let (mut ann, mut bob, room) = pair(&stack, &code).await;
    let mut cat = Client::connect(&stack).await;
    cat.join(&code, "Cat").await;
    cat.expect("waiting").await;

    ann.send(json!({"action": "leave_room", "room": room, "requeue": true}))
        .await;
    let left = bob.expect("partner_left").await;
    assert_eq!(left["reason"], "left");
    let ann_new = joined(&mut ann).await;
    let cat_new = cat.expect("join_room").await;
    assert_eq!(ann_new["room"], cat_new["room"]);
    assert_ne!(ann_new["room"], room, "a new room");
    assert_eq!(ann_new["match"]["name"], "Cat");
    assert_eq!(cat_new["match"]["name"], "Ann");
    bob.barrier().await; // Bob was not paired again behind anyone's back.
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_clients_partner_hears_it_is_away_then_left_when_the_grace_runs_out() {
    let grace = std::time::Duration::from_secs(1);
    let stack = start_with(|c| c.settings.resume_grace = grace).await;
    let code = create_group(&stack, "Vanish").await;
    let (ann, mut bob, room) = pair(&stack, &code).await;

    // No close frame: the TCP connection just goes.
    drop(ann);
    let away = bob.expect("partner_away").await;
    assert_eq!(away["room"], room);
    assert_eq!(away["grace_s"], 1);
    // Nobody resumes: the server's timer tells Bob, with nothing asked of him.
    let waited = std::time::Instant::now();
    let left = bob.expect("partner_left").await;
    assert_eq!(left["room"], room);
    assert_eq!(left["reason"], "disconnected");
    assert!(waited.elapsed() < grace + std::time::Duration::from_secs(5));
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refuses_a_disallowed_origin_with_403_and_no_upgrade() {
    let stack =
        start_with(|c| c.settings.allowed_origins = Some(vec!["http://good.example".into()])).await;

    let refused = Client::try_connect(&stack.ws_url(), &[("origin", "http://evil.example")]).await;
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected an HTTP 403, got {other}"),
        Ok(_) => panic!("a disallowed origin must not get a socket"),
    }
    assert_eq!(stack.connections(), 0, "no connection was opened");

    let _good = Client::try_connect(&stack.ws_url(), &[("origin", "http://good.example")])
        .await
        .expect("an allowed origin upgrades");
    let _native = Client::connect(&stack).await; // no Origin: not a browser
    assert_eq!(stack.connections(), 2);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_32_kb_closes_with_1009() {
    let stack = start().await;
    let mut client = Client::connect(&stack).await;
    // The server may close before the client finishes writing; the close is what counts.
    let _ = futures_util::SinkExt::send(&mut client.ws, Message::text("x".repeat(40 * 1024))).await;
    let frame = client
        .close_frame()
        .await
        .expect("the close frame has a code");
    assert_eq!(u16::from(frame.code), 1009);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_128_kb_in_small_frames_closes_with_1009() {
    let stack = start().await;
    let mut client = Client::connect(&stack).await;

    // Just under both limits: delivered (and refused by the handler as not JSON).
    let fits = Frame::message("x".repeat(30 * 1024), OpCode::Data(Data::Text), true);
    client.send_raw(Message::Frame(fits)).await;
    client.expect_error("bad_request").await;

    // Five 30 KB fragments: each frame is fine, the message (150 KB) is not.
    let chunk = "x".repeat(30 * 1024);
    for i in 0..5 {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let frame = Frame::message(chunk.clone(), OpCode::Data(opcode), i == 4);
        if futures_util::SinkExt::send(&mut client.ws, Message::Frame(frame))
            .await
            .is_err()
        {
            break;
        }
    }
    let frame = client
        .close_frame()
        .await
        .expect("the close frame has a code");
    assert_eq!(u16::from(frame.code), 1009);
    stack.shutdown().await;
}

/// Starts a stack with one limit shortened, connects, and checks the stack
/// closes the socket with 1001 no sooner than `limit`. Returns the stack.
async fn assert_closed_going_away_after(
    limit: Duration,
    set: impl FnOnce(&mut circle_local::Config),
) -> circle_local::Stack {
    let stack = start_with(set).await;
    let began = Instant::now();
    let mut client = Client::connect(&stack).await;
    let frame = client
        .close_frame()
        .await
        .expect("the close frame has a code");
    assert_eq!(u16::from(frame.code), 1001);
    assert!(
        began.elapsed() >= limit,
        "closed after {:?}, before {limit:?}",
        began.elapsed()
    );
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(600);
    let stack = assert_closed_going_away_after(idle, |c| c.limits.idle_timeout = idle).await;
    assert_eq!(stack.connections(), 0);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_closed_at_its_maximum_lifetime() {
    let lifetime = Duration::from_millis(800);
    let stack =
        assert_closed_going_away_after(lifetime, |c| c.limits.max_lifetime = lifetime).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_unknown_actions_and_missing_fields_get_errors_and_the_connection_survives() {
    let stack = start().await;
    let mut client = Client::connect(&stack).await;

    client.send_raw(Message::text("this is not JSON")).await;
    client.expect_error("bad_request").await;
    client.send_raw(Message::text("[1, 2, 3]")).await;
    client.expect_error("bad_request").await;
    client.send(json!({"action": "dance"})).await;
    client.expect_error("bad_request").await;
    client.send(json!({"no": "action"})).await;
    client.expect_error("bad_request").await;
    client
        .send(json!({"action": "join_group", "name": "Ann"}))
        .await;
    client.expect_error("bad_request").await;
    client
        .send(json!({"action": "message", "message": "no room"}))
        .await;
    client.expect_error("bad_request").await;
    client.send(json!({"action": "leave_room"})).await;
    client.expect_error("bad_request").await;
    // (A binary frame closes the socket with 1003, as on AWS: fidelity.rs.)
    client.join("ZZZZZ-ZZZZZ", "Ann").await;
    client.expect_error("group_not_found").await;

    // Still connected and fully usable.
    let code = create_group(&stack, "Survivors").await;
    client.join(&code, "Ann").await;
    client.expect("waiting").await;
    assert_eq!(stack.connections(), 1);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_restart_of_the_file_backed_stack() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("circle-e2e-{}-{nanos}", std::process::id()));
    let storage = Storage::Dir(dir.clone());

    let first = start_with(|c| c.storage = storage.clone()).await;
    let code = create_group(&first, "Durable").await;
    assert!(
        dir.join("circle.db").is_file(),
        "the data is in the data directory"
    );
    first.shutdown().await;

    let second = start_with(|c| c.storage = storage.clone()).await;
    let answer = http("GET", &format!("{}/groups/{code}", second.http_url()), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["name"], "Durable");
    let mut client = Client::connect(&second).await;
    client.join(&code, "Ann").await;
    let waiting = client.expect("waiting").await;
    assert_eq!(waiting["group"]["name"], "Durable");
    second.shutdown().await;
    std::fs::remove_dir_all(&dir).expect("the temporary data directory is removed");
}

fn management_client(stack: &circle_local::Stack) -> apigw::Client {
    let sdk = circle_shared::app::local_sdk_config();
    let config = apigw::config::Builder::from(&sdk)
        .endpoint_url(stack.connections_endpoint())
        .build();
    apigw::Client::from_conf(config)
}

/// Connects a client and finds its connection id (the only new one).
async fn connect_with_id(stack: &circle_local::Stack) -> (Client, String) {
    let before = stack.connection_ids();
    let client = Client::connect(stack).await;
    let id = stack
        .connection_ids()
        .into_iter()
        .find(|id| !before.contains(id))
        .expect("the new connection is registered before the upgrade completes");
    (client, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_endpoint_gets_posts_deletes_and_answers_410_when_gone() {
    let stack = start().await;
    let sdk = management_client(&stack);
    let code = create_group(&stack, "Managed").await;
    let (mut ann, ann_id) = connect_with_id(&stack).await;
    let (mut bob, bob_id) = connect_with_id(&stack).await;
    assert!(
        ann_id.ends_with('=') && ann_id.len() == 16,
        "an AWS-like id: {ann_id}"
    );

    // GET
    let got = sdk
        .get_connection()
        .connection_id(&ann_id)
        .send()
        .await
        .expect("GET @connections answers");
    let identity = got.identity().expect("an identity");
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));
    let connected = got.connected_at().expect("connectedAt");
    let last_active = got.last_active_at().expect("lastActiveAt");
    assert!(last_active.secs() >= connected.secs());

    // POST
    sdk.post_to_connection()
        .connection_id(&ann_id)
        .data(blob(br#"{"event":"hello","n":1}"#))
        .send()
        .await
        .expect("POST @connections answers");
    let hello = ann.expect("hello").await;
    assert_eq!(hello["n"], 1);

    // DELETE closes the socket, and `$disconnect` runs: the partner is told.
    ann.join(&code, "Ann").await;
    ann.expect("waiting").await;
    bob.join(&code, "Bob").await;
    joined(&mut bob).await;
    ann.expect("join_room").await;
    sdk.delete_connection()
        .connection_id(&bob_id)
        .send()
        .await
        .expect("DELETE @connections answers");
    let frame = bob.close_frame().await.expect("the close frame has a code");
    assert_eq!(u16::from(frame.code), 1000);
    // The room is held for Bob to resume; the partner hears so.
    ann.expect("partner_away").await;

    // 410 for the deleted connection and for ids never seen.
    for id in [bob_id.as_str(), "NoSuchConnId00A="] {
        let get = sdk.get_connection().connection_id(id).send().await;
        assert!(
            get.as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_gone_exception()),
            "GET {id}: {get:?}"
        );
        let post = sdk
            .post_to_connection()
            .connection_id(id)
            .data(blob(b"{}"))
            .send()
            .await;
        assert!(
            post.as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_gone_exception()),
            "POST {id}: {post:?}"
        );
        let delete = sdk.delete_connection().connection_id(id).send().await;
        assert!(
            delete
                .as_ref()
                .err()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_gone_exception()),
            "DELETE {id}: {delete:?}"
        );
    }
    // The handlers' own gateway client maps it to `Gone` too.
    let gateway = ApiGatewayManagement::new(
        &circle_shared::app::local_sdk_config(),
        &stack.connections_endpoint(),
    );
    assert_eq!(gateway.post(&bob_id, "{}").await, Err(GatewayError::Gone));
    stack.shutdown().await;
}

fn blob(bytes: &[u8]) -> apigw::primitives::Blob {
    apigw::primitives::Blob::new(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_config_and_metrics_are_served() {
    let stack = start().await;

    let page = http("GET", &format!("{}/", stack.http_url()), None).await;
    assert_eq!(page.status, 200);
    let content_type = page
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");

    let config = http("GET", &format!("{}/config.json", stack.http_url()), None).await;
    assert_eq!(config.status, 200);
    assert_eq!(
        config.json(),
        json!({"http_url": stack.http_url(), "ws_url": stack.ws_url()})
    );

    // Only a circle created with `listed` is listed; the query string reaches
    // the handler (`limit`, `after`).
    create_group(&stack, "Unlisted").await;
    for name in ["Listed 1", "Listed 2"] {
        let body = json!({"name": name, "description": "d", "listed": true});
        let created = http("POST", &format!("{}/groups", stack.http_url()), Some(&body)).await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let list = http("GET", &format!("{}/groups?limit=1", stack.http_url()), None).await;
    assert_eq!(list.status, 200);
    let page = list.json();
    let groups = page["groups"].as_array().expect("a list");
    assert_eq!(groups.len(), 1, "{page}");
    assert!(
        groups.iter().all(|g| g.get("access_code").is_none()),
        "the list hides access codes"
    );
    let next = page["next"].as_str().expect("a second page");
    let rest = http(
        "GET",
        &format!("{}/groups?limit=1&after={next}", stack.http_url()),
        None,
    )
    .await
    .json();
    let mut names: Vec<&str> = [&page, &rest]
        .iter()
        .flat_map(|p| p["groups"].as_array().expect("a list"))
        .filter_map(|g| g["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Listed 1", "Listed 2"]);

    let _client = Client::connect(&stack).await;
    let metrics = http("GET", &format!("{}/_local/metrics", stack.http_url()), None).await;
    assert_eq!(metrics.status, 200);
    let m = metrics.json();
    assert_eq!(m["connections"], 1);
    let rss = m["rss_bytes"].as_u64().expect("rss_bytes");
    assert!(rss > 0);
    assert!(m["peak_rss_bytes"].as_u64().expect("peak_rss_bytes") >= rss);
    assert!(
        m["metrics"]["ops"]
            .as_array()
            .is_some_and(|ops| ops.iter().any(|n| n.as_u64() > Some(0)))
    );
    stack.shutdown().await;
}
