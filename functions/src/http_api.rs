//! The HTTP API function: the group endpoints (`POST /groups`, `GET /groups`,
//! `GET /groups/{code}`), the web page (`/`, and every file of `web/` by its path:
//! `/main.js`, `/lib/dom.js`, `/style.css`, …; see [`crate::page`]) and
//! `/config.json`, which tells the page where the APIs are.

//!
//! It takes the HTTP API's payload 2.0 events as `aws_lambda_events` types
//! straight from the Lambda runtime: lambda_http's conversion to and from
//! `http` types, which can read every kind of API Gateway and ALB event, is
//! code this function never needs.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use circle_shared::handlers::http::{HttpRequest, HttpResponse};
use circle_shared::{App, Gateway, GatewayError};
use http::{HeaderMap, HeaderValue};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::aws::{Base, env_var};

/// Where the page finds the APIs. `HTTP_URL` defaults to the request's own origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicUrls {
    /// `HTTP_URL`: the HTTP API's base URL.
    pub http_url: Option<String>,
    /// `WS_URL`: the WebSocket API's `wss://` URL (the template sets it).
    pub ws_url: Option<String>,
}

impl PublicUrls {
    pub fn from_env() -> Self {
        Self {
            http_url: env_var("HTTP_URL"),
            ws_url: env_var("WS_URL"),
        }
    }
}

/// The HTTP API never talks to WebSocket clients.
#[derive(Debug)]
pub struct NoGateway;

#[async_trait]
impl Gateway for NoGateway {
    async fn post(&self, _: &str, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Other(
            "the HTTP API function has no @connections client".into(),
        ))
    }

    async fn delete(&self, _: &str) -> Result<(), GatewayError> {
        Err(GatewayError::Other(
            "the HTTP API function has no @connections client".into(),
        ))
    }
}

/// The app this function runs: DynamoDB, no gateway.
pub fn app(base: Base) -> App {
    App::new(
        base.dynamodb,
        base.tables,
        Arc::new(NoGateway),
        Arc::new(circle_shared::clock::SystemClock),
        base.settings,
    )
}

/// The request's stage from its context, unless it is `$default` (no path prefix).
fn named_stage(req: &ApiGatewayV2httpRequest) -> Option<&str> {
    let stage = req.request_context.stage.as_deref()?;
    (stage != "$default" && !stage.is_empty()).then_some(stage)
}

/// The request path without the stage prefix a named stage puts in front.
pub fn route_path(req: &ApiGatewayV2httpRequest) -> String {
    let raw = req
        .raw_path
        .as_deref()
        .filter(|p| !p.is_empty())
        .or(req.request_context.http.path.as_deref())
        .unwrap_or_default();
    if let Some(stage) = named_stage(req) {
        let prefix = format!("/{stage}");
        if let Some(rest) = raw.strip_prefix(&prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return if rest.is_empty() {
                "/".to_owned()
            } else {
                rest.to_owned()
            };
        }
    }
    if raw.is_empty() {
        "/".to_owned()
    } else {
        raw.to_owned()
    }
}

/// This API's own base URL, as the request reached it.
fn own_url(req: &ApiGatewayV2httpRequest) -> Option<String> {
    let domain = req.request_context.domain_name.as_deref()?;
    Some(match named_stage(req) {
        Some(stage) => format!("https://{domain}/{stage}"),
        None => format!("https://{domain}"),
    })
}

/// A response with these static headers and body.
fn response(status: u16, headers: &[(&'static str, &'static str)], body: Body) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_static(value));
    }
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status);
    response.headers = map;
    response.body = Some(body);
    response
}

/// What the function answers (payload format 2.0).
pub type Response = ApiGatewayV2httpResponse;

fn json_response(status: u16, body: &Value, cache: &'static str) -> Response {
    response(
        status,
        &[
            ("content-type", "application/json"),
            ("cache-control", cache),
        ],
        Body::Text(body.to_string()),
    )
}

fn error(status: u16, error: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "message": message}),
        "no-store",
    )
}

/// A file of the page, gzipped when the browser accepts it, with the security
/// headers ([`circle_shared::headers`]): the policy lets it connect to itself,
/// to `HTTP_URL` when set, and to `WS_URL`.
fn page_response(
    urls: &PublicUrls,
    content_type: &'static str,
    file: crate::page::File,
    gzip: bool,
) -> Response {
    let headers = [
        ("content-type", content_type),
        ("cache-control", "no-cache"),
        ("vary", "accept-encoding"),
    ];
    let mut out = if gzip {
        let mut out = response(
            200,
            &[
                headers[0],
                headers[1],
                headers[2],
                ("content-encoding", "gzip"),
            ],
            Body::Binary(file.gzip.to_vec()),
        );
        out.is_base64_encoded = true;
        out
    } else {
        response(200, &headers, Body::Text(file.text.to_owned()))
    };
    let apis = urls.http_url.iter().chain(&urls.ws_url).map(String::as_str);
    let csp = circle_shared::headers::content_security_policy(apis);
    circle_shared::headers::insert(&mut out.headers, &csp);
    out
}

/// Answers one request.
pub async fn respond(app: &App, urls: &PublicUrls, req: ApiGatewayV2httpRequest) -> Response {
    let path = route_path(&req);
    let method = req.request_context.http.method.as_str();
    if method == "GET" {
        if let Some((content_type, body)) = crate::page::asset(&path) {
            let gzip = req
                .headers
                .get(http::header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(circle_shared::headers::accepts_gzip);
            return match body {
                Some(file) => page_response(urls, content_type, file, gzip),
                None => error(
                    404,
                    "not_found",
                    "this file of the page was not built into the function",
                ),
            };
        }
        if path == "/config.json" {
            let http_url = urls.http_url.clone().or_else(|| own_url(&req));
            return match (http_url, &urls.ws_url) {
                (Some(http_url), Some(ws_url)) => json_response(
                    200,
                    &json!({"http_url": http_url, "ws_url": ws_url}),
                    "no-cache",
                ),
                _ => {
                    tracing::error!(
                        "WS_URL (or HTTP_URL, for a request without a domain) is not configured"
                    );
                    error(500, "internal", "the API URLs are not configured")
                }
            };
        }
    }
    let page_url = urls
        .http_url
        .clone()
        .or_else(|| own_url(&req))
        .unwrap_or_default();
    let body = match (&req.body, req.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.as_bytes().to_vec(),
        (Some(text), true) => match aws_smithy_types::base64::decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return error(400, "bad_request", "the request body is not valid base64"),
        },
    };
    // The shared handler reads `GET /groups`' paging from the query string.
    let target = match req.raw_query_string.as_deref().filter(|q| !q.is_empty()) {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let request = HttpRequest {
        method,
        path: &target,
        body: &body,
        authorization: req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        source_ip: req.request_context.http.source_ip.as_deref(),
        page_url: &page_url,
    };
    let reply = circle_shared::handlers::http::handle(app, request).await;
    http_response(&reply)
}

/// A shared handler's answer as a Lambda response (`204` without a body).
pub fn http_response(reply: &HttpResponse) -> Response {
    let (headers, body): (&[_], _) = if reply.status == 204 {
        (&[("cache-control", "no-store")], Body::Empty)
    } else {
        (
            &[
                ("cache-control", "no-store"),
                ("content-type", reply.content_type()),
            ],
            Body::Text(reply.body_text()),
        )
    };
    let mut out = response(reply.status, headers, body);
    if let Some(secs) = reply.retry_after {
        out.headers.insert("retry-after", HeaderValue::from(secs));
    }
    out
}

/// Runs the HTTP API function: it reaches WebSocket clients (removing a member,
/// closing a circle, rounds) through `CONNECTIONS_ENDPOINT`, and schedules round
/// timers on `TIMER_QUEUE_URL`.
pub async fn run() -> Result<(), Error> {
    crate::logging::init();
    // Organiser keys, source addresses, resume tokens of round pairings: it hashes.
    let base = Base::from_env().with_hash_key().await?;
    let function = crate::websocket::WsFunction::with_base_and_timers(base.clone());
    let app = match function.app() {
        Some(app) => app.clone(),
        None => {
            tracing::warn!("CONNECTIONS_ENDPOINT is unset: organiser actions can't reach members");
            app(base)
        }
    };
    let urls = PublicUrls::from_env();
    let (app, urls) = (&app, &urls);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            let work = respond(app, urls, event.payload);
            let id = &event.context.request_id;
            let api = crate::HTTP_API_BINARY;
            Ok::<_, Error>(crate::emf::observed(app, api, id, false, work).await)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(stage: &str, raw_path: &str) -> ApiGatewayV2httpRequest {
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {"host": "abc.execute-api.eu-west-1.amazonaws.com"},
            "requestContext": {
                "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "stage": stage,
                "requestId": "r",
                "routeKey": "$default",
                "time": "09/Apr/2025:12:00:00 +0000",
                "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        serde_json::from_value(event).expect("a valid HTTP API event")
    }

    #[test]
    fn a_named_stage_is_stripped_from_the_path() {
        assert_eq!(route_path(&request("$default", "/groups")), "/groups");
        assert_eq!(
            route_path(&request("prod", "/prod/groups/AB")),
            "/groups/AB"
        );
        assert_eq!(route_path(&request("prod", "/prod")), "/");
        assert_eq!(route_path(&request("prod", "/production")), "/production");
        assert_eq!(route_path(&request("$default", "")), "/");
    }

    #[test]
    fn the_own_url_includes_a_named_stage() {
        assert_eq!(
            own_url(&request("$default", "/")).as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            own_url(&request("prod", "/prod/")).as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod")
        );
    }
}
