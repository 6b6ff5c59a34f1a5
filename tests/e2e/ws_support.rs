//! Helpers for the end-to-end WebSocket tests: a stack started in-process on a
//! free port, a small HTTP client, and a WebSocket client that waits for events
//! with timeouts (never sleeps).

use std::time::Duration;

use circle_local::{Config, Stack};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single expected event may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// Whether this run invokes a connection's frames concurrently, as Lambda may
/// (`CIRCLE_CONCURRENT_FRAMES=1`; the test script runs the suites both ways).
pub fn concurrent_frames() -> bool {
    std::env::var("CIRCLE_CONCURRENT_FRAMES").is_ok_and(|v| v == "1")
}

/// A stack in memory on free ports, with `adjust` applied to the config;
/// with AWS's behaviour simulated when `CIRCLE_AWS_SIM=1` (the test script
/// runs the chaos run both ways).
pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Stack {
    let mut config = Config::ephemeral();
    config.limits.concurrent_frames = concurrent_frames();
    config.aws_sim = (std::env::var("CIRCLE_AWS_SIM").as_deref() == Ok("1"))
        .then(circle_shared::aws_sim::SimConfig::default);
    adjust(&mut config);
    Stack::start(config).await.expect("the local stack starts")
}

pub async fn start() -> Stack {
    start_with(|_| {}).await
}

/// An HTTP answer: status, headers, and the body as JSON (or a string when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|_| panic!("the body is JSON: {}", self.text))
    }
}

/// One HTTP request.
pub async fn http(method: &str, url: &str, body: Option<&Value>) -> Answer {
    http_with_key(method, url, body, None).await
}

/// One HTTP request, with the organiser key as `Authorization: Bearer` if given.
pub async fn http_with_key(
    method: &str,
    url: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> Answer {
    let bearer = key.map(|k| format!("Bearer {k}"));
    let mut headers = Vec::new();
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    http_with_headers(method, url, &headers, &body).await
}

/// One HTTP request with exactly these headers (hyper adds `Host` unless
/// one is given) and this body.
pub async fn http_with_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    http_from(None, method, url, headers, body).await
}

/// [`http_with_headers`] from the local address `from` (another loopback
/// address plays another client).
pub async fn http_from(
    from: Option<std::net::IpAddr>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_local_address(from);
    let client = HttpClient::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(connector);
    let mut req = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a valid request");
    let res = tokio::time::timeout(WAIT, client.request(req))
        .await
        .expect("the HTTP answer comes in time")
        .expect("the HTTP request succeeds");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("the body is read")
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Creates a circle over HTTP; the whole answer (code, id, organiser key).
pub async fn create_circle(stack: &Stack, name: &str) -> Value {
    let body = json!({"name": name, "description": "end to end", "rules": ["be kind"]});
    let answer = http("POST", &format!("{}/groups", stack.http_url()), Some(&body)).await;
    assert_eq!(answer.status, 201, "POST /groups: {}", answer.text);
    answer.json()
}

/// Creates a circle over HTTP; its access code.
pub async fn create_group(stack: &Stack, name: &str) -> String {
    let body = json!({"name": name, "description": "end to end", "rules": ["be kind"]});
    let answer = http("POST", &format!("{}/groups", stack.http_url()), Some(&body)).await;
    assert_eq!(answer.status, 201, "POST /groups: {}", answer.text);
    answer.json()["access_code"]
        .as_str()
        .expect("the created group has an access code")
        .to_owned()
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client.
pub struct Client {
    pub ws: Ws,
}

impl Client {
    /// Connects to the stack's `/ws`.
    pub async fn connect(stack: &Stack) -> Self {
        Self::try_connect(&stack.ws_url(), &[])
            .await
            .expect("the upgrade succeeds")
    }

    /// Connects with extra handshake headers.
    pub async fn try_connect(
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Self, tungstenite::Error> {
        let mut req = url.into_client_request()?;
        for (name, value) in headers {
            req.headers_mut().insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name"),
                http::HeaderValue::from_str(value).expect("a valid header value"),
            );
        }
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .expect("the handshake ends in time")?;
        Ok(Self { ws })
    }

    pub async fn send(&mut self, value: Value) {
        self.send_raw(Message::text(value.to_string())).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("the frame is sent");
    }

    /// The next server event (a JSON text frame).
    pub async fn event(&mut self) -> Value {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("an event arrives in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).expect("server frames are JSON");
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// The next event if one comes within `d` (for draining a stream whose end
    /// is known some other way).
    pub async fn event_within(&mut self, d: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(d, self.ws.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Some(
                        serde_json::from_str(text.as_str()).expect("server frames are JSON"),
                    );
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected an event, got {other:?}"),
            }
        }
    }

    /// The next event, which must be `name`.
    pub async fn expect(&mut self, name: &str) -> Value {
        let ev = self.event().await;
        assert_eq!(ev["event"], name, "expected a {name} event, got {ev}");
        ev
    }

    /// The next event, which must be an `error` with `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let ev = self.expect("error").await;
        assert_eq!(ev["code"], code, "{ev}");
        assert!(
            ev["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{ev}"
        );
        ev
    }

    /// Waits for the server's close frame, skipping anything before it.
    pub async fn close_frame(&mut self) -> Option<CloseFrame> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("the server closes in time");
            match next {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// `join_group` as the page sends it: with a member secret and the circle's id.
    pub async fn join_as(&mut self, circle: &Value, name: &str, member: &str) {
        self.send(
            json!({"action": "join_group", "access_code": circle["access_code"],
            "circle": circle["id"], "name": name, "member": member}),
        )
        .await;
    }

    /// `join_group`.
    pub async fn join(&mut self, code: &str, name: &str) {
        self.send(json!({"action": "join_group", "access_code": code, "name": name}))
            .await;
    }

    /// Sends a frame that always gets an answer (an unknown action's `error`) and
    /// checks that answer is the next event. The stack handles a connection's
    /// frames in order, so this proves everything this client's earlier frames
    /// caused is done, and that nothing else was queued for it meanwhile.
    pub async fn barrier(&mut self) {
        self.send(json!({"action": "barrier"})).await;
        let ev = self.event().await;
        assert_eq!(
            ev["event"], "error",
            "nothing may arrive before the barrier's answer, got {ev}"
        );
        assert_eq!(ev["code"], "bad_request", "{ev}");
    }
}

/// A pair in a room: `(first, second, room)`. `first` joined first and waited.
pub async fn pair(stack: &Stack, code: &str) -> (Client, Client, String) {
    let mut a = Client::connect(stack).await;
    a.join(code, "Ann").await;
    a.expect("waiting").await;
    let mut b = Client::connect(stack).await;
    b.join(code, "Bob").await;
    let room_b = joined(&mut b).await;
    let ev_a = a.expect("join_room").await;
    let room = ev_a["room"]
        .as_str()
        .expect("join_room names the room")
        .to_owned();
    assert_eq!(room_b["room"], room, "both members are told the same room");
    (a, b, room)
}

/// The `join_room` a joiner gets, skipping an optional `waiting` first.
pub async fn joined(client: &mut Client) -> Value {
    let ev = client.event().await;
    if ev["event"] == "waiting" {
        client.expect("join_room").await
    } else {
        assert_eq!(ev["event"], "join_room", "{ev}");
        ev
    }
}
