//! The embedded DynamoDB's HTTP endpoint on its loopback port: it refuses
//! browsers and anything not signed with the store's own credentials
//! ([`super::guard`]), applies AWS's behaviour when `--aws-sim` is on
//! ([`crate::aws_sim::proxy`]), and runs the request on dynoxide in this
//! process ([`super::dispatch`]). No other port reaches the data, and no CORS
//! header is ever sent.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use dynoxide::Database;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::dispatch::{self, Reply};
use super::guard::{self, Access};
use crate::aws_sim::AwsSim;
use crate::aws_sim::proxy;

/// DynamoDB takes bodies up to 16 MB.
const MAX_BODY: usize = 16 * 1024 * 1024;

struct Served {
    db: Database,
    access: Access,
    sim: Option<Arc<AwsSim>>,
}

/// The running endpoint.
pub(crate) struct Front {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl Front {
    /// Serves `db` on `listener` to holders of `access`.
    pub(crate) fn serve(
        listener: tokio::net::TcpListener,
        db: Database,
        access: Access,
        sim: Option<Arc<AwsSim>>,
    ) -> Self {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let app = Router::new()
            .route("/", any(handle))
            .fallback(any(handle))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::new(Served { db, access, sim }));
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
    pub(crate) async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.server).await;
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn answer(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, reply.body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(id) = HeaderValue::from_str(&crate::secrets::token(52).to_ascii_uppercase()) {
        headers.insert("x-amzn-requestid", id);
    }
    resp
}

async fn handle(
    State(served): State<Arc<Served>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if guard::from_browser(&headers) {
        return refuse(&guard::Refusal::Browser);
    }
    if method != Method::POST || uri.path() != "/" {
        return (StatusCode::NOT_FOUND, "<UnknownOperationException/>\n").into_response();
    }
    if let Err(refusal) = guard::check_signature(&served.access, &method, &uri, &headers, &body) {
        return refuse(&refusal);
    }
    let Some(op) = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(dispatch::operation)
    else {
        return answer(dispatch::run(&served.db, "", ""));
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return answer(Reply {
            status: 400,
            body: r#"{"__type":"com.amazon.coral.service#SerializationException"}"#.to_owned(),
        });
    };
    let run = || dispatch::run(&served.db, op, text);
    match &served.sim {
        Some(sim) => answer(proxy::simulate(sim, op, &body, run).await),
        None => answer(run()),
    }
}

fn refuse(refusal: &guard::Refusal) -> Response {
    tracing::warn!(
        reason = refusal.reason(),
        "the embedded DynamoDB refused a request"
    );
    let (status, body) = refusal.answer();
    answer(Reply { status, body })
}
