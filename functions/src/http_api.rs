//! The HTTP API function: the group endpoints (`POST /groups`, `GET /groups`,
//! `GET /groups/{code}`), the web page (`/`, `/app.js`, `/style.css`) and
//! `/config.json`, which tells the page where the APIs are.

use std::sync::Arc;

use async_trait::async_trait;
use circle_shared::handlers::http::{HttpRequest, HttpResponse};
use circle_shared::{App, Gateway, GatewayError};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};
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
fn named_stage(req: &Request) -> Option<String> {
    let stage = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.stage.clone(),
        _ => None,
    }?;
    (stage != "$default" && !stage.is_empty()).then_some(stage)
}

/// The request path without the stage prefix a named stage puts in front.
pub fn route_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    let raw = if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    };
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
fn own_url(req: &Request) -> Option<String> {
    let domain = match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.domain_name.clone(),
        _ => None,
    }?;
    Some(match named_stage(req) {
        Some(stage) => format!("https://{domain}/{stage}"),
        None => format!("https://{domain}"),
    })
}

fn json_response(status: u16, body: &Value, cache: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", cache)
        .body(Body::Text(body.to_string()))
        .expect("a status code and static headers make a valid response")
}

fn error(status: u16, error: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": error, "message": message}),
        "no-store",
    )
}

/// Answers one request.
pub async fn respond(app: &App, urls: &PublicUrls, req: Request) -> Response<Body> {
    let path = route_path(&req);
    let method = req.method().as_str();
    if method == "GET" {
        if let Some((content_type, body)) = crate::page::asset(&path) {
            return match body {
                Some(body) => Response::builder()
                    .status(200)
                    .header("content-type", content_type)
                    .header("cache-control", "no-cache")
                    .header("x-content-type-options", "nosniff")
                    .header("referrer-policy", "no-referrer")
                    .header("content-security-policy", "frame-ancestors 'none'")
                    .body(Body::Text(body.to_owned()))
                    .expect("a status code and static headers make a valid response"),
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
    let source = source_ip(&req);
    let request = HttpRequest {
        method,
        path: &path,
        body: req.body().as_ref(),
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        source_ip: source.as_deref(),
        page_url: &page_url,
    };
    let reply = circle_shared::handlers::http::handle(app, request).await;
    http_response(&reply)
}

/// The caller's address as API Gateway saw it.
fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// A shared handler's answer as a Lambda response (`204` without a body).
pub fn http_response(reply: &HttpResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("cache-control", "no-store");
    if let Some(secs) = reply.retry_after {
        builder = builder.header("retry-after", secs.to_string());
    }
    if reply.status == 204 {
        return builder
            .body(Body::Empty)
            .expect("a status code and static headers make a valid response");
    }
    builder
        .header("content-type", "application/json")
        .body(Body::Text(reply.body_text()))
        .expect("a status code and static headers make a valid response")
}

/// Runs the HTTP API function: it reaches WebSocket clients (removing a member,
/// closing a circle, rounds) through `CONNECTIONS_ENDPOINT`, and schedules round
/// timers on `TIMER_QUEUE_URL`.
pub async fn run() -> Result<(), Error> {
    crate::logging::init();
    let function = crate::websocket::WsFunction::from_env_with_timers();
    let app = match function.app() {
        Some(app) => app.clone(),
        None => {
            tracing::warn!("CONNECTIONS_ENDPOINT is unset: organiser actions can't reach members");
            app(Base::from_env())
        }
    };
    let urls = PublicUrls::from_env();
    let (app, urls) = (&app, &urls);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(AsIs(respond(app, urls, req).await))
    }))
    .await
}

/// A response handed to lambda_http unchanged. Its `IntoResponse` for a plain
/// `Response` re-decodes every body by the charset of its content type, which
/// links encoding_rs's tables of every legacy encoding (about 0.1 MB of the
/// zip); every body here is `Body::Text`, already UTF-8.
struct AsIs(Response<Body>);

impl lambda_http::IntoResponse for AsIs {
    fn into_response(
        self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::LambdaRequest;

    fn request(stage: &str, raw_path: &str) -> Request {
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
        let event = serde_json::from_value(event).expect("a valid HTTP API event");
        LambdaRequest::ApiGatewayV2(event).into()
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
