//! The simulation's front of the embedded DynamoDB: an HTTP server that takes
//! each request, applies latency, throughput and transaction holds
//! ([`super::AwsSim`]), and forwards what it admits to dynoxide on a private
//! loopback port. Refusals are answered in DynamoDB's own JSON error shapes,
//! so the SDK and the core see what they would on AWS.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::rules::{self, Touch};
use super::{AwsSim, Refusal};

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const ERROR_PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";

#[derive(Clone)]
struct Front {
    sim: Arc<AwsSim>,
    inner: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The running front.
pub struct SimFront {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl SimFront {
    /// Serves on `listener`, forwarding to the DynamoDB endpoint `inner`.
    pub fn serve(listener: tokio::net::TcpListener, sim: Arc<AwsSim>, inner: String) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let front = Front {
            sim,
            inner,
            client: Client::builder(TokioExecutor::new()).build(connector),
        };
        let app = Router::new()
            .route("/", any(handle))
            .fallback(any(handle))
            .with_state(front);
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            stop: Some(tx),
            server,
        }
    }

    /// Stops serving once in-flight requests finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for SimFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn error(kind: &str, message: &str, extra: Option<(&str, Value)>) -> Response {
    let mut body = json!({"__type": format!("{ERROR_PREFIX}{kind}"), "message": message});
    if let Some((k, v)) = extra {
        body[k] = v;
    }
    let mut resp = (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    resp
}

fn throttled() -> Response {
    error(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. \
         Consider increasing your provisioning level with the UpdateTable API.",
        None,
    )
}

/// `TransactionCanceledException` with `code` at `positions`, `None` elsewhere.
fn cancelled(items: usize, positions: &[usize], code: &str) -> Response {
    let reasons: Vec<Value> = (0..items)
        .map(|i| {
            if positions.contains(&i) {
                json!({"Code": code, "Message": "Transaction is ongoing for the item"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    let list: Vec<&str> = (0..items)
        .map(|i| if positions.contains(&i) { code } else { "None" })
        .collect();
    error(
        "TransactionCanceledException",
        &format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            list.join(", ")
        ),
        Some(("CancellationReasons", Value::Array(reasons))),
    )
}

async fn handle(State(front): State<Front>, headers: HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("")
        .to_owned();
    let touch = serde_json::from_slice::<Value>(&body)
        .map(|v| rules::touch(&op, &v))
        .unwrap_or_default();
    let sim = &front.sim;
    tokio::time::sleep(sim.config.dynamo_latency.sample()).await;
    if sim.admit(&touch.charges).is_err() {
        return if op == "TransactWriteItems" {
            let all: Vec<usize> = (0..touch.writes.len()).collect();
            cancelled(touch.writes.len(), &all, "ThrottlingError")
        } else {
            throttled()
        };
    }
    match op.as_str() {
        "TransactWriteItems" => match sim.hold(&touch.writes) {
            Err(Refusal::Conflict(at)) => cancelled(touch.writes.len(), &at, "TransactionConflict"),
            Err(Refusal::Throttled) => throttled(),
            Ok(tx) => {
                // In flight: prepared, then committed, holding its items throughout.
                tokio::time::sleep(sim.config.dynamo_latency.sample()).await;
                sim.commit_turn().await;
                let resp = forward(&front, &headers, body, &touch).await;
                sim.release(tx);
                resp
            }
        },
        "PutItem" | "UpdateItem" | "DeleteItem" => match sim.check_write(&touch.writes) {
            Err(_) => error(
                "TransactionConflictException",
                "Transaction is ongoing for the item",
                None,
            ),
            Ok(()) => forward(&front, &headers, body, &touch).await,
        },
        _ => forward(&front, &headers, body, &touch).await,
    }
}

async fn forward(front: &Front, headers: &HeaderMap, body: Bytes, touch: &Touch) -> Response {
    let mut req = http::Request::post(&front.inner);
    for (name, value) in headers {
        if name != "host" {
            req = req.header(name, value);
        }
    }
    let req = match req.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let resp = match front.client.request(req).await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let (parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if let Some(partition) = &touch.query_partition
        && parts.status.is_success()
        && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
    {
        front.sim.charge_after(
            partition,
            rules::consumed_units(&v) - rules::QUERY_ADMIT_UNITS,
        );
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
