//! Plain HTTP routes: the group API (the shared handler the HTTP Lambda runs),
//! `/config.json` for the page, and `/_local/metrics` for benchmarks (loopback
//! callers only). Links and `config.json` use the configured public URL, never
//! the request's `Host`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use circle_shared::handlers::http::HttpRequest;
use serde_json::json;
use std::net::SocketAddr;

use crate::Shared;
use crate::proc_stats;

/// The circle and organiser endpoints (`/groups…`, `/organizer`): the shared
/// handler the HTTP Lambda runs.
pub(crate) async fn groups(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let page_url = state.public.page();
    let source_ip = peer.ip().to_string();
    let request = HttpRequest {
        method: method.as_str(),
        path: uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
        body: &body,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        source_ip: Some(&source_ip),
        page_url: &page_url,
    };
    let answer = circle_shared::handlers::http::handle(&state.app, request).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if answer.status == 204 {
        status.into_response()
    } else if let Some((content_type, text)) = answer.text {
        (status, [(header::CONTENT_TYPE, content_type)], text).into_response()
    } else {
        (status, Json(answer.body)).into_response()
    };
    if let Some(secs) = answer.retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// `GET /config.json`: where the page finds the APIs.
pub(crate) async fn config(State(state): State<Arc<Shared>>) -> Response {
    let body = json!({
        "http_url": state.public.http,
        "ws_url": state.public.ws,
    });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `403` unless the caller is on this machine.
fn refuse_remote(peer: SocketAddr) -> Option<Response> {
    (!crate::management::loopback(peer.ip()))
        .then(|| (StatusCode::FORBIDDEN, "served to loopback callers only").into_response())
}

/// `GET /_local/metrics`: DynamoDB and `@connections` counters, memory, sockets.
pub(crate) async fn metrics(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    let memory = proc_stats::memory();
    Json(json!({
        "metrics": state.app.metrics.snapshot(),
        "rss_bytes": memory.rss_bytes,
        "peak_rss_bytes": memory.peak_rss_bytes,
        "connections": state.registry.len(),
        "frames_in_flight_peak": state.frames_in_flight_peak.load(std::sync::atomic::Ordering::Relaxed),
        "hot_partition": state.app.metrics.hot_partition(),
        "aws_sim": state.sim.as_ref().map(|s| s.snapshot()).unwrap_or_default(),
    }))
    .into_response()
}

/// `POST /_local/metrics/hot_partition/reset`: starts a new hot-partition
/// measurement, so a bench phase reports its own busiest key-second.
pub(crate) async fn reset_hot_partition(
    State(state): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(refused) = refuse_remote(peer) {
        return refused;
    }
    state.app.metrics.reset_hot_partition();
    StatusCode::NO_CONTENT.into_response()
}
