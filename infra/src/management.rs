//! The `@connections/{connectionId}` management API on the local port, answered
//! the way AWS answers it so the real `aws-sdk-apigatewaymanagement` client can
//! talk to it: POST sends a frame, GET describes the connection, DELETE closes it,
//! 410 `GoneException` for ids that are not (or no longer) connected.
//!
//! AWS signs these calls with IAM; locally only loopback callers are served
//! ([`loopback`], which `/_local/*` uses too).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Shared;
use crate::ids;
use crate::registry::{Connection, Outbound, SendError};

/// Whether a caller is on this machine; an IPv4 loopback address mapped into
/// IPv6 (`::ffff:127.0.0.1`, what a dual-stack `[::]` listener sees) counts.
pub(crate) fn loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The close code a `DELETE` closes the socket with.
pub const DELETE_CLOSE_CODE: u16 = 1000;

/// An error as AWS's REST-JSON protocol carries it.
fn aws_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [
            (
                header::HeaderName::from_static("x-amzn-errortype"),
                error_type,
            ),
            (header::CONTENT_TYPE, "application/json"),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", "the connection is gone")
}

/// The connection, or the answer to give instead.
fn lookup(state: &Shared, peer: SocketAddr, id: &str) -> Result<Arc<Connection>, Box<Response>> {
    if !loopback(peer.ip()) {
        return Err(Box::new(aws_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "@connections is served to loopback callers only",
        )));
    }
    state.registry.get(id).ok_or_else(|| Box::new(gone()))
}

/// `POST @connections/{id}`: the body goes to the client as one frame (text when
/// it is UTF-8).
pub(crate) async fn post(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(sim) = &state.sim {
        tokio::time::sleep(sim.config.post_latency.sample()).await;
    }
    let conn = match lookup(&state, peer, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if body.len() > state.limits.max_message_bytes {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "the data is larger than the message limit",
        );
    }
    let frame = match String::from_utf8(body.to_vec()) {
        Ok(text) => Outbound::Text(text),
        Err(err) => Outbound::Binary(err.into_bytes()),
    };
    match conn.send(frame) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(SendError::Gone) => gone(),
        Err(SendError::Full) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "the client-side buffer is full",
        ),
    }
}

/// `GET @connections/{id}`.
pub(crate) async fn get(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    let conn = match lookup(&state, peer, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut identity = json!({ "sourceIp": conn.info.source_ip });
    if let Some(ua) = &conn.info.user_agent {
        identity["userAgent"] = json!(ua);
    }
    let body = json!({
        "connectedAt": ids::iso8601(conn.info.connected_at_ms),
        "identity": identity,
        "lastActiveAt": ids::iso8601(conn.last_active_ms()),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `POST /_local/connections/{id}/vanish` (a test switch, loopback only): the
/// client vanishes without a close; 204, or 404 for an unknown id.
pub(crate) async fn vanish(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    if !loopback(peer.ip()) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match state.registry.get(&id) {
        Some(conn) => {
            conn.vanish();
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `DELETE @connections/{id}`: closes the socket; `$disconnect` follows.
pub(crate) async fn delete(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
) -> Response {
    match lookup(&state, peer, &id) {
        Ok(conn) => {
            conn.request_close(DELETE_CLOSE_CODE, "");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => *r,
    }
}
