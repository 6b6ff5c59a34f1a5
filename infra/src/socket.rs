//! The WebSocket API at `/ws`, emulating API Gateway's:
//!
//! - `$connect` runs before the upgrade completes; a non-2xx answer refuses the
//!   handshake with that status and no socket is opened.
//! - each frame is an invocation on the route `$request.body.action` selects; a
//!   connection's frames are processed one at a time, in order, or, with
//!   `concurrent_frames`, all at once as AWS may run them. Each handler is cut
//!   off at its function's timeout. A binary frame closes the socket with 1003
//!   and invokes nothing, as on AWS. Route responses are not sent back:
//!   server events reach clients only through `@connections`. A failed
//!   integration gets API Gateway's `{"message":"Internal server error",…}` frame.
//! - a frame over 32 KB or a message over 128 KB closes the socket with 1009;
//!   10 min without a frame from the client (pings count; frames we send do
//!   not), or 2 h in all, closes it with 1001. `@connections` DELETE closes
//!   with 1000.
//! - `$disconnect` runs once the socket is gone, with the close code and reason
//!   (1005 when the client's close frame had none, 1006 when it just vanished).
//! - a test switch makes a client vanish without a close ([`Connection::vanish`]):
//!   as on AWS, the gateway keeps it and accepts posts for it until the idle
//!   timeout, then `$disconnect` runs (1001).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::Shared;
use crate::config::Limits;
use crate::event::{self, ConnectionInfo, FrameBody};
use crate::ids;
use crate::invoke::{Invocation, invoke};
use crate::registry::{CloseRequest, Connection, Outbound};

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// How long a closing handshake may take before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long writing one frame to a client that does not read may take.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// Read buffer per socket; frames up to the limit still fit (it grows as needed),
/// but idle sockets stay small.
const READ_BUFFER: usize = 4 * 1024;

const GOING_AWAY: &str = "Going away";

fn ws_config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_frame_size(Some(limits.max_frame_bytes))
        .max_message_size(Some(limits.max_message_bytes))
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `GET /ws`: `$connect`, then the upgrade.
pub(crate) async fn upgrade(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
) -> Response {
    let headers = req.headers();
    let is_upgrade = req.method() == http::Method::GET
        && header_has_token(headers, header::CONNECTION, "upgrade")
        && header_has_token(headers, header::UPGRADE, "websocket");
    if !is_upgrade {
        return plain(StatusCode::UPGRADE_REQUIRED, "this is a WebSocket endpoint");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        let mut r = plain(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        );
        r.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return r;
    }
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes().to_vec())
    else {
        return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    if state.closing.load(Ordering::SeqCst) {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the local stack is shutting down",
        );
    }
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return plain(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        );
    };
    // Counted from here so a shutdown waits for `$connect`s under way too.
    let guard = state.registry.task_guard();

    let headers = req.headers();
    let info = ConnectionInfo {
        connection_id: ids::new_id(),
        connected_at_ms: ids::now_ms(),
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let connect = event::connect(&state.api, &info, headers, req.uri().query());
    let Invocation { result, .. } = invoke(
        &state.app,
        &state.lambdas,
        connect,
        state.limits.integration_timeout,
        state.limits.handler_timeout,
    )
    .await;
    let response = match result {
        Ok(r) => r,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    };
    if !(200..300).contains(&response.status_code) {
        let status = u16::try_from(response.status_code)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match response.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) => t,
            _ => String::new(),
        };
        tracing::info!(connection_id = %info.connection_id, status = status.as_u16(), "$connect refused the upgrade");
        return plain(status, &body);
    }
    // A `$connect` that picked a subprotocol answers with it, as on AWS.
    let protocol = response
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .cloned();

    let (conn, outbox) = Connection::new(info);
    state.registry.insert(Arc::clone(&conn));
    if state.closing.load(Ordering::SeqCst) {
        conn.request_close(1001, GOING_AWAY);
    }
    tracing::debug!(connection_id = conn.id(), "connected");
    let task_state = Arc::clone(&state);
    tokio::spawn(async move {
        let _guard = guard;
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config(&task_state.limits)),
                )
                .await;
                run(&task_state, conn, outbox, socket).await;
            }
            Err(err) => {
                tracing::info!(connection_id = conn.id(), error = %err, "upgrade failed after $connect");
                task_state.registry.remove(conn.id());
                disconnect(
                    &task_state,
                    &conn.info,
                    1006,
                    "Connection closed abnormally",
                )
                .await;
            }
        }
    });

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = tungstenite::handshake::derive_accept_key(&key);
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("a base64 accept key is a valid header value"),
    );
    if let Some(protocol) = protocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
}

/// How a connection ended.
enum Ending {
    /// The client sent a close frame.
    Client(Option<CloseFrame>),
    /// We close: `@connections` DELETE, idle, lifetime, shutdown.
    Server(CloseRequest),
    /// The client broke a rule (too big, bad protocol): close at once and drop.
    Fault(u16, &'static str),
    /// The socket just went away.
    Abnormal,
    /// The client vanished without a close (the test switch).
    Vanished,
}

type Pending = std::pin::Pin<Box<dyn Future<Output = Invocation> + Send>>;

fn to_message(frame: Outbound) -> Message {
    match frame {
        Outbound::Text(t) => Message::text(t),
        Outbound::Binary(b) => Message::binary(b),
    }
}

/// Tells the client (through its own outbox, as AWS would) that its message's
/// integration failed.
fn report(conn: &Connection, done: &Invocation) {
    if let Err(err) = &done.result {
        let _ = conn.send(Outbound::Text(
            err.client_frame(conn.id(), &done.request_id),
        ));
    }
}

/// Serves one socket until it ends, then runs `$disconnect`.
async fn run(
    state: &Arc<Shared>,
    conn: Arc<Connection>,
    mut outbox: mpsc::Receiver<Outbound>,
    mut socket: Socket,
) {
    let limits = state.limits;
    let idle = tokio::time::sleep(limits.idle_timeout);
    let age = Duration::from_millis(
        u64::try_from(ids::now_ms() - conn.info.connected_at_ms).unwrap_or(0),
    );
    let lifetime = tokio::time::sleep(limits.max_lifetime.saturating_sub(age));
    tokio::pin!(idle, lifetime);
    // Invocations under way: at most one (in order), or any number.
    let mut in_flight: FuturesUnordered<Pending> = FuturesUnordered::new();
    let max_in_flight = if limits.concurrent_frames {
        usize::MAX
    } else {
        1
    };

    let ending = loop {
        tokio::select! {
            biased;
            // Frames already posted go out before a requested close.
            Some(frame) = outbox.recv() => {
                match tokio::time::timeout(SEND_WAIT, socket.send(to_message(frame))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => break Ending::Abnormal,
                }
            }
            request = conn.close_requested() => break Ending::Server(request),
            () = conn.vanished() => break Ending::Vanished,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => report(&conn, &done),
            frame = socket.next(), if in_flight.len() < max_in_flight => {
                let body = match frame {
                    Some(Ok(Message::Text(text))) => FrameBody::Text(text.as_str().to_owned()),
                    // AWS's rule: a binary frame closes the connection, nothing is invoked.
                    Some(Ok(Message::Binary(_))) => break Ending::Fault(1003, "Binary frames are not supported"),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        conn.touch(ids::now_ms());
                        idle.as_mut().reset(Instant::now() + limits.idle_timeout);
                        continue;
                    }
                    Some(Ok(Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(frame))) => break Ending::Client(frame),
                    Some(Err(tungstenite::Error::Capacity(_))) => break Ending::Fault(1009, "Message too big"),
                    Some(Err(tungstenite::Error::Utf8(_))) => break Ending::Fault(1007, "Invalid frame payload data"),
                    Some(Err(tungstenite::Error::Protocol(_))) => break Ending::Fault(1002, "Protocol error"),
                    Some(Err(_)) | None => break Ending::Abnormal,
                };
                conn.touch(ids::now_ms());
                idle.as_mut().reset(Instant::now() + limits.idle_timeout);
                let event = event::message(&state.api, &conn.info, &body);
                let (app, lambdas) = (state.app.clone(), Arc::clone(&state.lambdas));
                let (timeout, cut_off) = (limits.integration_timeout, limits.handler_timeout);
                in_flight.push(Box::pin(async move { invoke(&app, &lambdas, event, timeout, cut_off).await }));
                state.frames_in_flight_peak.fetch_max(in_flight.len(), Ordering::Relaxed);
            }
            () = &mut idle => break Ending::Server(CloseRequest { code: 1001, reason: GOING_AWAY.into() }),
            () = &mut lifetime => break Ending::Server(CloseRequest { code: 1001, reason: GOING_AWAY.into() }),
        }
    };

    let (code, reason) = if matches!(ending, Ending::Vanished) {
        // The network is gone: the client's side just stops. The gateway only
        // notices at the idle timeout (or the lifetime, or a DELETE); until then
        // the connection stays, and posts to it are accepted and lost.
        drop(socket);
        tokio::select! {
            () = &mut idle => {}
            () = &mut lifetime => {}
            _ = conn.close_requested() => {}
        }
        state.registry.remove(conn.id());
        drop(outbox);
        (1001, GOING_AWAY.to_owned())
    } else {
        // From here `@connections` answers 410, as on AWS while `$disconnect` runs.
        state.registry.remove(conn.id());
        drop(outbox);
        close_socket(socket, ending).await
    };
    // Invocations under way are their own Lambdas: they finish (or are cut off).
    while in_flight.next().await.is_some() {}
    tracing::debug!(connection_id = conn.id(), code, reason = %reason, "disconnected");
    disconnect(state, &conn.info, code, &reason).await;
}

/// Ends the socket as the ending requires; the `$disconnect` code and reason.
async fn close_socket(mut socket: Socket, ending: Ending) -> (u16, String) {
    match ending {
        Ending::Client(frame) => {
            // Drive out tungstenite's close reply, then let the client hang up.
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                while let Some(Ok(_)) = socket.next().await {}
            })
            .await;
            match frame {
                Some(f) => (u16::from(f.code), f.reason.as_str().to_owned()),
                None => (1005, "Client-side close frame status not set".to_owned()),
            }
        }
        Ending::Server(CloseRequest { code, reason }) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.clone().into(),
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                if socket.close(Some(frame)).await.is_ok() {
                    while let Some(Ok(m)) = socket.next().await {
                        if m.is_close() {
                            break;
                        }
                    }
                }
            })
            .await;
            (code, reason)
        }
        Ending::Fault(code, reason) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(Some(frame))).await;
            // The rest of the offending frame is unread; closing now would reset the
            // connection and could lose our close frame. Drain raw bytes until the
            // client hangs up (bounded), off the `$disconnect` path.
            tokio::spawn(async move {
                let raw = socket.get_mut();
                let mut scratch = [0u8; 4096];
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    while matches!(raw.read(&mut scratch).await, Ok(n) if n > 0) {}
                })
                .await;
            });
            (code, reason.to_owned())
        }
        Ending::Abnormal => (1006, "Connection closed abnormally".to_owned()),
        Ending::Vanished => (1001, GOING_AWAY.to_owned()),
    }
}

async fn disconnect(state: &Shared, info: &ConnectionInfo, code: u16, reason: &str) {
    let event = event::disconnect(&state.api, info, code, reason);
    let _ = invoke(
        &state.app,
        &state.lambdas,
        event,
        state.limits.integration_timeout,
        state.limits.handler_timeout,
    )
    .await;
}
