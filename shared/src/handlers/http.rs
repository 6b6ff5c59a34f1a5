//! The HTTP API: circles (`POST /groups`, `GET /groups`, `GET /groups/{code}`)
//! and the organiser's endpoints, as a plain function of a request, wrapped by
//! the HTTP API function on AWS and by axum locally.
//!
//! Every request with a source address is counted against that address's
//! per-minute allowance first (`crate::edge`: one `UpdateItem`); past it the
//! answer is `429` with `Retry-After`.

use serde_json::{Value, json};

use crate::app::App;
use crate::circle::view::{CirclePatch, CircleView, NewCircle};
use crate::circle::{self, CreateError};
use crate::code::AccessCode;
use crate::error::ActionError;
use crate::model::Circle;
use crate::organizer;
use crate::rounds;
use crate::secrets::{domain, valid_member_id};

/// The largest body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// One HTTP request, as both worlds hand it over.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The HTTP method, upper case (`GET`, `POST`, `PATCH`, `DELETE`).
    pub method: &'a str,
    /// Without stage prefix, with the query string if there is one
    /// (`/groups?after=…`).
    pub path: &'a str,
    /// The raw body; one over [`MAX_BODY_BYTES`] is refused with 413.
    pub body: &'a [u8],
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The caller's address (for the per-address limits; only its keyed hash is kept).
    pub source_ip: Option<&'a str>,
    /// The page's base URL, for `organizer_url`.
    pub page_url: &'a str,
}

/// A JSON answer (`204` has no body).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The JSON body (`null` for `204`; errors are `{error, message}`).
    pub body: Value,
    /// Seconds, for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl HttpResponse {
    fn ok(status: u16, body: impl serde::Serialize) -> Self {
        Self {
            status,
            body: serde_json::to_value(body).expect("views serialize to JSON"),
            retry_after: None,
        }
    }

    fn error(status: u16, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "message": message.into()}),
            retry_after: None,
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: Value::Null,
            retry_after: None,
        }
    }

    /// The body as sent: nothing for `204`.
    pub fn body_text(&self) -> String {
        if self.status == 204 {
            String::new()
        } else {
            self.body.to_string()
        }
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::error(
        404,
        "group_not_found",
        "no live circle has that access code",
    )
}

/// Routes one request.
pub async fn handle(app: &App, req: HttpRequest<'_>) -> HttpResponse {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if req.body.len() > MAX_BODY_BYTES {
        return HttpResponse::error(
            413,
            "payload_too_large",
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        );
    }
    if let Some(addr) = req.source_ip {
        match crate::edge::count_request(app, addr).await {
            Ok(None) => {}
            Ok(Some(secs)) => {
                let mut r = HttpResponse::error(
                    429,
                    "rate_limited",
                    "too many requests from this address; try again in a minute",
                );
                r.retry_after = Some(secs);
                return r;
            }
            // The store is failing: the request itself will tell.
            Err(err) => tracing::warn!(error = %err, "could not count a request"),
        }
    }
    let result = match (req.method, segments.as_slice()) {
        ("POST", ["groups"]) => Ok(create(app, &req).await),
        ("GET", ["groups"]) => Ok(list(app, query).await),
        ("GET", ["groups", code]) => Ok(get(app, code).await),
        ("GET", ["organizer"]) => by_key(app, &req).await,
        (m, ["groups", code]) if m == "PATCH" || m == "DELETE" => {
            organizer_request(app, &req, code, |circle| async move {
                if req.method == "DELETE" {
                    organizer::close(app, &circle).await?;
                    return Ok(HttpResponse::no_content());
                }
                let patch = match body_json(req.body).and_then(|v| {
                    CirclePatch::from_json(&v).map_err(|e| invalid(&e.field, e.to_string()))
                }) {
                    Ok(p) => p,
                    Err(r) => return Ok(r),
                };
                let circle = circle::patch(app, circle, &patch).await?;
                Ok(HttpResponse::ok(200, CircleView::with_code(&circle)))
            })
            .await
        }
        (m, ["groups", code, action]) => {
            let known = matches!(
                (m, *action),
                ("GET", "organizer")
                    | ("POST", "code")
                    | ("POST", "remove")
                    | ("POST" | "DELETE", "rounds")
            );
            if !known {
                return if matches!(*action, "organizer" | "code" | "remove" | "rounds") {
                    method_not_allowed(m)
                } else {
                    HttpResponse::error(404, "not_found", "no such endpoint")
                };
            }
            organizer_request(app, &req, code, |circle| {
                organizer_action(app, req, circle, action)
            })
            .await
        }
        (m, ["groups"] | ["groups", _] | ["organizer"]) => Ok(method_not_allowed(m)),
        _ => Ok(HttpResponse::error(404, "not_found", "no such endpoint")),
    };
    result.unwrap_or_else(|err| match err.code() {
        crate::protocol::ErrorCode::RateLimited => {
            HttpResponse::error(429, "rate_limited", "busy; try again in a moment")
        }
        _ => internal(err),
    })
}

fn method_not_allowed(method: &str) -> HttpResponse {
    HttpResponse::error(
        405,
        "method_not_allowed",
        format!("{method} is not allowed here"),
    )
}

fn invalid(field: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse {
        status: 400,
        body: json!({"error": "bad_request", "message": message.into(), "field": field}),
        retry_after: None,
    }
}

fn body_json(body: &[u8]) -> Result<Value, HttpResponse> {
    serde_json::from_slice(body)
        .map_err(|_| HttpResponse::error(400, "bad_request", "the body must be JSON"))
}

/// The organiser key from `Authorization: Bearer <key>`.
fn bearer<'a>(req: &HttpRequest<'a>) -> Option<&'a str> {
    let value = req.authorization?.trim();
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

fn unauthorized() -> HttpResponse {
    HttpResponse::error(
        401,
        "unauthorized",
        "send the organiser key as Authorization: Bearer <organizer_key>",
    )
}

/// Runs `then` for the circle `code` if the request carries its organiser key:
/// 401 without a key, 404 for an unknown code, 403 for a key that isn't this
/// circle's (compared in constant time).
async fn organizer_request<F, Fut>(
    app: &App,
    req: &HttpRequest<'_>,
    code: &str,
    then: F,
) -> Result<HttpResponse, ActionError>
where
    F: FnOnce(Circle) -> Fut,
    Fut: Future<Output = Result<HttpResponse, ActionError>>,
{
    let Some(key) = bearer(req) else {
        return Ok(unauthorized());
    };
    let Some(code) = AccessCode::parse(&percent_decode(code)) else {
        return Ok(not_found());
    };
    let Some(circle) = circle::get(app, &code, true).await? else {
        return Ok(not_found());
    };
    if !app
        .settings
        .hash_key
        .verify(domain::ORGANIZER, key, &circle.organizer_hash)
    {
        return Ok(HttpResponse::error(
            403,
            "forbidden",
            "that is not this circle's organiser key",
        ));
    }
    then(circle).await
}

async fn organizer_action(
    app: &App,
    req: HttpRequest<'_>,
    circle: Circle,
    action: &str,
) -> Result<HttpResponse, ActionError> {
    match (req.method, action) {
        ("GET", "organizer") => Ok(HttpResponse::ok(200, organizer::view(app, &circle).await?)),
        ("POST", "code") => {
            let circle = circle::rotate(app, circle).await?;
            Ok(HttpResponse::ok(
                200,
                json!({"access_code": circle.code.to_string()}),
            ))
        }
        ("POST", "remove") => {
            let body = match body_json(req.body) {
                Ok(v) => v,
                Err(r) => return Ok(r),
            };
            let Some(mid) = body
                .get("member_id")
                .and_then(Value::as_str)
                .filter(|m| valid_member_id(m))
            else {
                return Ok(invalid(
                    "member_id",
                    "member_id must be a member id from a report",
                ));
            };
            match organizer::remove(app, &circle, mid).await? {
                Some(closed) => Ok(HttpResponse::ok(
                    200,
                    json!({"member_id": mid, "closed": closed}),
                )),
                None => Ok(HttpResponse::error(
                    404,
                    "member_not_found",
                    "no member with that id has joined this circle",
                )),
            }
        }
        ("POST", "rounds") => {
            let body = match body_json(req.body) {
                Ok(v) => v,
                Err(r) => return Ok(r),
            };
            let Some(minutes) = body
                .get("minutes")
                .and_then(Value::as_u64)
                .and_then(|m| u32::try_from(m).ok())
                .filter(|m| rounds::MINUTES.contains(m))
            else {
                return Ok(invalid(
                    "minutes",
                    "minutes must be a whole number from 2 to 30",
                ));
            };
            let circle = rounds::start(app, circle, minutes).await?;
            Ok(HttpResponse::ok(
                200,
                json!({"round": organizer::round_view(app, &circle)}),
            ))
        }
        ("DELETE", "rounds") => {
            let circle = rounds::stop(app, circle).await?;
            Ok(HttpResponse::ok(
                200,
                json!({"round": organizer::round_view(app, &circle)}),
            ))
        }
        _ => Ok(method_not_allowed(req.method)),
    }
}

/// `GET /organizer`: the organiser's view, found by the key alone.
async fn by_key(app: &App, req: &HttpRequest<'_>) -> Result<HttpResponse, ActionError> {
    let Some(key) = bearer(req) else {
        return Ok(unauthorized());
    };
    match circle::get_by_key(app, key).await? {
        Some(circle) => Ok(HttpResponse::ok(200, organizer::view(app, &circle).await?)),
        None => Ok(HttpResponse::error(
            403,
            "forbidden",
            "no live circle has that organiser key",
        )),
    }
}

async fn create(app: &App, req: &HttpRequest<'_>) -> HttpResponse {
    let value = match body_json(req.body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let new = match NewCircle::from_json(&value) {
        Ok(g) => g,
        Err(err) => return invalid(&err.field, err.to_string()),
    };
    match circle::create(app, new, req.source_ip).await {
        Ok(created) => {
            let mut body = serde_json::to_value(CircleView::with_code(&created.circle))
                .expect("views serialize");
            let base = if req.page_url.ends_with('/') {
                req.page_url.to_owned()
            } else {
                format!("{}/", req.page_url)
            };
            body["organizer_key"] = json!(created.organizer_key);
            body["organizer_url"] = json!(format!("{base}#organizer={}", created.organizer_key));
            HttpResponse {
                status: 201,
                body,
                retry_after: None,
            }
        }
        Err(CreateError::RateLimited) => {
            let mut r = HttpResponse::error(
                429,
                "rate_limited",
                "too many circles created from this address; try again within the hour",
            );
            r.retry_after =
                Some(3600 - u64::try_from(app.now_secs().rem_euclid(3600)).unwrap_or(0));
            r
        }
        Err(CreateError::Store(err)) => internal(err),
    }
}

async fn get(app: &App, code: &str) -> HttpResponse {
    let Some(code) = AccessCode::parse(&percent_decode(code)) else {
        return not_found();
    };
    match circle::get(app, &code, true).await {
        Ok(Some(circle)) => HttpResponse::ok(200, CircleView::with_code(&circle)),
        Ok(None) => not_found(),
        Err(err) => internal(err),
    }
}

/// `GET /groups?after=&limit=`: a page of the listed circles, without codes.
async fn list(app: &App, query: &str) -> HttpResponse {
    let mut after = None;
    let mut limit = circle::LIST_PAGE;
    for (key, value) in query.split('&').filter_map(|p| p.split_once('=')) {
        match key {
            "after" if circle::valid_cursor(value) => after = Some(value),
            "after" => return invalid("after", "after must be a next from a previous page"),
            "limit" => match value.parse() {
                Ok(n) if (1..=circle::LIST_PAGE).contains(&n) => limit = n,
                _ => {
                    let max = circle::LIST_PAGE;
                    return invalid("limit", format!("limit must be from 1 to {max}"));
                }
            },
            _ => {}
        }
    }
    match circle::list(app, after, limit).await {
        Ok(page) => HttpResponse::ok(
            200,
            json!({
                "groups": page.circles.iter().map(CircleView::without_code).collect::<Vec<_>>(),
                "next": page.next,
            }),
        ),
        Err(err) => internal(err),
    }
}

fn internal(err: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %err, "request failed");
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
