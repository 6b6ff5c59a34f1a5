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

mod insight;

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
    /// A body that is not JSON: its content type and text (`body` is then
    /// `null`), as `GET /groups/{code}/activity.csv` answers.
    pub text: Option<(&'static str, String)>,
}

impl HttpResponse {
    fn ok(status: u16, body: impl serde::Serialize) -> Self {
        Self {
            status,
            body: serde_json::to_value(body).expect("views serialize to JSON"),
            retry_after: None,
            text: None,
        }
    }

    fn error(status: u16, error: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "message": message.into()}),
            retry_after: None,
            text: None,
        }
    }

    fn no_content() -> Self {
        Self {
            status: 204,
            body: Value::Null,
            retry_after: None,
            text: None,
        }
    }

    /// A `200` with a body that is not JSON.
    pub fn text(content_type: &'static str, text: String) -> Self {
        Self {
            status: 200,
            body: Value::Null,
            retry_after: None,
            text: Some((content_type, text)),
        }
    }

    /// The body's content type: JSON unless [`HttpResponse::text`].
    pub fn content_type(&self) -> &'static str {
        self.text.as_ref().map_or("application/json", |(t, _)| t)
    }

    /// The body as sent: nothing for `204`.
    pub fn body_text(&self) -> String {
        if let Some((_, text)) = &self.text {
            text.clone()
        } else if self.status == 204 {
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

/// `410` for a code that no longer admits anyone, or `404` if nothing is known
/// of it (one read of its tombstone).
async fn gone_or_not_found(app: &App, code: &AccessCode) -> Result<HttpResponse, ActionError> {
    Ok(match circle::tombstone::find(app, code.as_str()).await? {
        Some(t) => gone(t.ended),
        None => not_found(),
    })
}

fn gone(ended: circle::tombstone::Ended) -> HttpResponse {
    let message = match ended {
        circle::tombstone::Ended::CodeChanged => {
            "the organiser changed this circle's code; ask them for the new one"
        }
        circle::tombstone::Ended::CircleClosed => "the organiser closed this circle",
    };
    HttpResponse::error(410, ended.as_str(), message)
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
        ("GET", ["groups", code, "qr"]) => qr(app, &req, code).await,
        ("GET", ["prompts"]) => Ok(HttpResponse::ok(
            200,
            json!({"prompts": crate::prompts::DEFAULT_PROMPTS}),
        )),
        ("GET", ["organizer"]) => by_key(app, &req).await,
        ("GET", ["groups", code, "reports"]) => {
            organizer_request(app, &req, code, |circle| reports_page(app, circle, query)).await
        }
        ("GET", ["groups", code, "activity.csv"]) => {
            organizer_request(app, &req, code, |c| insight::csv(app, c)).await
        }
        ("POST", ["groups", code, "announce"]) => {
            organizer_request(app, &req, code, |c| insight::announce(app, req, c)).await
        }
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
                let insight = matches!(*action, "activity.csv" | "announce" | "reports" | "qr");
                return if insight || matches!(*action, "organizer" | "code" | "remove" | "rounds") {
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
        text: None,
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
        return gone_or_not_found(app, &code).await;
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
            // An optional `{"evict": true}`: also close everyone who came in
            // with an earlier code.
            let evict = match req.body {
                b if b.iter().all(u8::is_ascii_whitespace) => false,
                b => match body_json(b).map(|v| v.get("evict").cloned()) {
                    Ok(None | Some(Value::Null)) => false,
                    Ok(Some(Value::Bool(e))) => e,
                    Ok(Some(_)) => return Ok(invalid("evict", "evict must be true or false")),
                    Err(r) => return Ok(r),
                },
            };
            let (circle, closed) = organizer::lifecycle::rotate(app, circle, evict).await?;
            Ok(HttpResponse::ok(
                200,
                json!({"access_code": circle.code.to_string(), "closed": closed}),
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
        circle::ByKey::Live(circle) => {
            Ok(HttpResponse::ok(200, organizer::view(app, &circle).await?))
        }
        circle::ByKey::Closed => Ok(gone(circle::tombstone::Ended::CircleClosed)),
        circle::ByKey::Unknown => Ok(HttpResponse::error(
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
                text: None,
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

/// `GET /groups/{code}/reports?after=…` (organiser key): one page of reports
/// (`{reports, reports_next}`), the first without `after`.
async fn reports_page(app: &App, circle: Circle, query: &str) -> Result<HttpResponse, ActionError> {
    let after = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "after")
        .map(|(_, v)| percent_decode(v));
    if let Some(a) = &after
        && !organizer::reports::valid_cursor(a)
    {
        return Ok(invalid("after", "not a cursor this API gave"));
    }
    let page = organizer::reports::page(app, &circle.cid, after.as_deref()).await?;
    Ok(HttpResponse::ok(200, page))
}

async fn get(app: &App, code: &str) -> HttpResponse {
    let Some(code) = AccessCode::parse(&percent_decode(code)) else {
        return not_found();
    };
    match circle::get(app, &code, true).await {
        Ok(Some(circle)) => HttpResponse::ok(200, CircleView::with_code(&circle)),
        Ok(None) => gone_or_not_found(app, &code).await.unwrap_or_else(internal),
        Err(err) => internal(err),
    }
}

/// `GET /groups/{code}/qr`: `{link, svg}`, the invite link of a live circle
/// and its QR code (for "Show on a screen"); 410/404 as `GET /groups/{code}`.
async fn qr(app: &App, req: &HttpRequest<'_>, code: &str) -> Result<HttpResponse, ActionError> {
    let Some(code) = AccessCode::parse(&percent_decode(code)) else {
        return Ok(not_found());
    };
    let Some(circle) = circle::get(app, &code, false).await? else {
        return gone_or_not_found(app, &code).await;
    };
    let link = organizer::screen::invite_link(req.page_url, &circle);
    Ok(match organizer::screen::qr_svg(&link) {
        Some(svg) => HttpResponse::ok(200, json!({"link": link, "svg": svg})),
        None => HttpResponse::error(500, "internal", "the invite link is too long for a QR code"),
    })
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
