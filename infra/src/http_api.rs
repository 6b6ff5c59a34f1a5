//! Plain HTTP routes: the group API (the shared handler the HTTP Lambda runs),
//! `/config.json` for the page, and `/_local/metrics` for benchmarks.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Shared;
use crate::proc_stats;

/// `POST /groups`, `GET /groups`, `GET /groups/{code}` (and their 405s).
pub(crate) async fn groups(
    State(state): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let answer =
        circle_shared::handlers::http::handle(&state.app, method.as_str(), uri.path(), &body).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(answer.body)).into_response()
}

/// The authority the browser used, when it is a plausible one; else ours.
fn authority(state: &Shared, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.parse::<http::uri::Authority>().is_ok())
        .map_or_else(|| state.authority.clone(), str::to_owned)
}

/// `GET /config.json`: where the page finds the APIs.
pub(crate) async fn config(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let authority = authority(&state, &headers);
    let body = json!({
        "http_url": format!("http://{authority}"),
        "ws_url": format!("ws://{authority}/ws"),
    });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /_local/metrics`: DynamoDB and `@connections` counters, memory, sockets.
pub(crate) async fn metrics(State(state): State<Arc<Shared>>) -> Response {
    let memory = proc_stats::memory();
    Json(json!({
        "metrics": state.app.metrics.snapshot(),
        "rss_bytes": memory.rss_bytes,
        "peak_rss_bytes": memory.peak_rss_bytes,
        "connections": state.registry.len(),
    }))
    .into_response()
}
