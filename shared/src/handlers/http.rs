//! The group HTTP API (`POST /groups`, `GET /groups`, `GET /groups/{code}`) as a
//! plain function of method, path and body, wrapped by `lambda_http` on AWS and
//! by axum locally.

use serde_json::{Value, json};

use crate::app::App;
use crate::code::AccessCode;
use crate::groups::{self, GroupView, NewGroup};

/// The largest `POST /groups` body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON answer.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Value,
}

impl HttpResponse {
    fn ok(status: u16, body: impl serde::Serialize) -> Self {
        Self {
            status,
            body: serde_json::to_value(body).expect("views serialize to JSON"),
        }
    }

    fn error(status: u16, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "message": message.into()}),
        }
    }

    pub fn body_text(&self) -> String {
        self.body.to_string()
    }
}

/// Routes one request. `path` is without stage prefix and query string.
pub async fn handle(app: &App, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["groups"]) => create(app, body).await,
        ("GET", ["groups"]) => list(app).await,
        ("GET", ["groups", code]) => get(app, code).await,
        (_, ["groups"]) | (_, ["groups", _]) => HttpResponse::error(
            405,
            "method_not_allowed",
            format!("{method} is not allowed here"),
        ),
        _ => HttpResponse::error(404, "not_found", "no such endpoint"),
    }
}

async fn create(app: &App, body: &[u8]) -> HttpResponse {
    if body.len() > MAX_BODY_BYTES {
        return HttpResponse::error(
            413,
            "payload_too_large",
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        );
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return HttpResponse::error(400, "bad_request", "the body must be JSON"),
    };
    let new = match NewGroup::from_json(&value) {
        Ok(g) => g,
        Err(err) => {
            return HttpResponse {
                status: 400,
                body: json!({"error": "bad_request", "message": err.to_string(), "field": err.field}),
            };
        }
    };
    match groups::create(app, new).await {
        Ok(group) => HttpResponse::ok(201, GroupView::with_code(&group)),
        Err(err) => internal(err),
    }
}

async fn get(app: &App, code: &str) -> HttpResponse {
    let not_found = || {
        HttpResponse::error(
            404,
            "group_not_found",
            "no live circle has that access code",
        )
    };
    let Some(code) = AccessCode::parse(&percent_decode(code)) else {
        return not_found();
    };
    match groups::get(app, &code).await {
        Ok(Some(group)) => HttpResponse::ok(200, GroupView::with_code(&group)),
        Ok(None) => not_found(),
        Err(err) => internal(err),
    }
}

async fn list(app: &App) -> HttpResponse {
    match groups::list(app).await {
        Ok(groups) => HttpResponse::ok(
            200,
            groups
                .iter()
                .map(GroupView::without_code)
                .collect::<Vec<_>>(),
        ),
        Err(err) => internal(err),
    }
}

fn internal(err: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %err, "group request failed");
    HttpResponse::error(
        500,
        "internal",
        "something went wrong on our side; try again",
    )
}

/// Codes typed with spaces arrive as `%20`; nothing else in a code needs decoding.
fn percent_decode(s: &str) -> String {
    s.replace("%20", " ").replace('+', " ")
}
