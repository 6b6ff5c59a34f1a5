//! The Lambda events API Gateway sends for a WebSocket API, built as the JSON AWS
//! sends and deserialized into [`ApiGatewayWebsocketProxyRequest`], so the local
//! stack exercises the same event shape (and serde path) the Lambdas see.
//!
//! Route selection is `$request.body.action`: a text frame that is a JSON object
//! whose `action` names a declared route goes there; anything else (non-JSON, no
//! or unknown `action`, binary frames) goes to `$default`.

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use circle_shared::handlers::ws::{DEFAULT, ROUTES};
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::ids;

/// The API as events name it: `requestContext.domainName`, `stage`, `apiId`.
#[derive(Debug, Clone)]
pub struct ApiInfo {
    /// `127.0.0.1:3000` locally; the handlers derive the `@connections` endpoint from it.
    pub domain_name: String,
    pub stage: String,
    pub api_id: String,
}

/// What API Gateway knows about a connection.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub connection_id: String,
    pub connected_at_ms: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
}

/// A frame's payload as the integration receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameBody {
    Text(String),
    /// Delivered base64-encoded with `isBase64Encoded: true`.
    Binary(Vec<u8>),
}

/// The route a frame selects by `$request.body.action`.
pub fn select_route(body: &FrameBody) -> &'static str {
    let FrameBody::Text(text) = body else {
        return DEFAULT;
    };
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) else {
        return DEFAULT;
    };
    match obj.get("action") {
        // `$connect` and `$disconnect` are not selectable by a message.
        Some(Value::String(action)) if !action.starts_with('$') => ROUTES
            .iter()
            .find(|r| **r == action.as_str())
            .copied()
            .unwrap_or(DEFAULT),
        _ => DEFAULT,
    }
}

fn request_context(
    api: &ApiInfo,
    conn: &ConnectionInfo,
    route_key: &str,
    event_type: &str,
) -> Map<String, Value> {
    let now = ids::now_ms();
    let request_id = ids::new_id();
    let mut identity = Map::new();
    identity.insert("sourceIp".into(), json!(conn.source_ip));
    if let Some(ua) = &conn.user_agent {
        identity.insert("userAgent".into(), json!(ua));
    }
    let ctx = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": ids::request_time(now),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": conn.connected_at_ms,
        "requestTimeEpoch": now,
        "identity": identity,
        "requestId": request_id,
        "domainName": api.domain_name,
        "connectionId": conn.connection_id,
        "apiId": api.api_id,
    });
    match ctx {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// `$connect`: the handshake's headers (plus the `X-Forwarded-*` AWS adds) and
/// query string.
pub fn connect(
    api: &ApiInfo,
    conn: &ConnectionInfo,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Value {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    let mut add = |name: &str, value: &str| {
        single.insert(name.to_owned(), json!(value));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                multi.insert(name.to_owned(), json!([value]));
            }
        }
    };
    for (name, value) in headers {
        // Header values that are not visible ASCII would not survive the event's
        // `HeaderMap`; API Gateway passes them through, we drop them.
        if let Ok(value) = value.to_str() {
            add(&canonical_header_name(name.as_str()), value);
        }
    }
    add("X-Forwarded-For", &conn.source_ip);
    add(
        "X-Forwarded-Port",
        api.domain_name.rsplit(':').next().unwrap_or("80"),
    );
    add("X-Forwarded-Proto", "http");

    let mut event = json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": request_context(api, conn, "$connect", "CONNECT"),
        "isBase64Encoded": false,
    });
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            single.insert(k.to_string(), json!(v));
            match multi.get_mut(k.as_ref()) {
                Some(Value::Array(values)) => values.push(json!(v)),
                _ => {
                    multi.insert(k.to_string(), json!([v]));
                }
            }
        }
        event["queryStringParameters"] = Value::Object(single);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    event
}

/// A frame from the client, on the route it selected.
pub fn message(api: &ApiInfo, conn: &ConnectionInfo, body: &FrameBody) -> Value {
    let route = select_route(body);
    let mut ctx = request_context(api, conn, route, "MESSAGE");
    ctx.insert("messageId".into(), json!(ids::new_id()));
    let (body, base64) = match body {
        FrameBody::Text(text) => (text.clone(), false),
        FrameBody::Binary(bytes) => (aws_smithy_types::base64::encode(bytes), true),
    };
    json!({
        "requestContext": ctx,
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// `$disconnect`, with the close code and reason.
pub fn disconnect(api: &ApiInfo, conn: &ConnectionInfo, status_code: u16, reason: &str) -> Value {
    let mut ctx = request_context(api, conn, "$disconnect", "DISCONNECT");
    ctx.insert("disconnectStatusCode".into(), json!(status_code));
    ctx.insert("disconnectReason".into(), json!(reason));
    let headers = json!({
        "Host": api.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    });
    let multi = json!({
        "Host": [api.domain_name],
        "x-api-key": [""],
        "X-Forwarded-For": [""],
        "x-restapi": [""],
    });
    json!({
        "headers": headers,
        "multiValueHeaders": multi,
        "requestContext": ctx,
        "isBase64Encoded": false,
    })
}

/// The typed event the handlers take.
pub fn to_request(event: Value) -> Result<ApiGatewayWebsocketProxyRequest, serde_json::Error> {
    serde_json::from_value(event)
}

/// `sec-websocket-key` → `Sec-WebSocket-Key`, as API Gateway forwards names.
fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "websocket" => "WebSocket".to_owned(),
            _ => {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> ApiInfo {
        ApiInfo {
            domain_name: "127.0.0.1:3000".into(),
            stage: "local".into(),
            api_id: "local".into(),
        }
    }

    fn conn() -> ConnectionInfo {
        ConnectionInfo {
            connection_id: "Ab1Cd2Ef3Gh4Ij5=".into(),
            connected_at_ms: 1_707_502_303_419,
            source_ip: "127.0.0.1".into(),
            user_agent: Some("test".into()),
        }
    }

    #[test]
    fn routes_are_selected_by_action() {
        let text = |s: &str| FrameBody::Text(s.into());
        assert_eq!(
            select_route(&text(r#"{"action":"join_group"}"#)),
            "join_group"
        );
        assert_eq!(
            select_route(&text(r#"{"action":"message","room":"r"}"#)),
            "message"
        );
        assert_eq!(
            select_route(&text(r#"{"action":"leave_room"}"#)),
            "leave_room"
        );
        for other in [
            r#"{"action":"dance"}"#,
            r#"{"action":"$connect"}"#,
            r#"{"action":"$disconnect"}"#,
            r#"{"action":7}"#,
            r#"{}"#,
            "[1]",
            "not json",
        ] {
            assert_eq!(select_route(&text(other)), DEFAULT, "{other}");
        }
        assert_eq!(
            select_route(&FrameBody::Binary(b"{\"action\":\"message\"}".to_vec())),
            DEFAULT
        );
    }

    #[test]
    fn connect_event_carries_headers_and_context() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "origin",
            "http://127.0.0.1:3000".parse().expect("valid header"),
        );
        headers.insert("sec-websocket-key", "abc".parse().expect("valid header"));
        let v = connect(&api(), &conn(), &headers, Some("a=1&a=2&b=x%20y"));
        assert_eq!(v["headers"]["Sec-WebSocket-Key"], "abc");
        assert_eq!(v["headers"]["X-Forwarded-Port"], "3000");
        assert_eq!(v["queryStringParameters"]["b"], "x y");
        assert_eq!(v["multiValueQueryStringParameters"]["a"], json!(["1", "2"]));
        let req = to_request(v).expect("the event deserializes");
        let ctx = &req.request_context;
        assert_eq!(ctx.route_key.as_deref(), Some("$connect"));
        assert_eq!(ctx.event_type.as_deref(), Some("CONNECT"));
        assert_eq!(ctx.connection_id.as_deref(), Some("Ab1Cd2Ef3Gh4Ij5="));
        assert_eq!(ctx.connected_at, 1_707_502_303_419);
        assert!(ctx.request_time_epoch >= ctx.connected_at);
        assert_eq!(ctx.identity.source_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(ctx.domain_name.as_deref(), Some("127.0.0.1:3000"));
        assert_eq!(ctx.stage.as_deref(), Some("local"));
        assert!(ctx.request_id.is_some());
        assert_eq!(
            req.headers.get("origin").and_then(|v| v.to_str().ok()),
            Some("http://127.0.0.1:3000")
        );
    }

    #[test]
    fn message_and_disconnect_events_deserialize() {
        let req = to_request(message(
            &api(),
            &conn(),
            &FrameBody::Text(r#"{"action":"message"}"#.into()),
        ))
        .expect("the event deserializes");
        assert_eq!(req.request_context.route_key.as_deref(), Some("message"));
        assert_eq!(req.request_context.event_type.as_deref(), Some("MESSAGE"));
        assert!(req.request_context.message_id.is_some());
        assert_eq!(req.body.as_deref(), Some(r#"{"action":"message"}"#));
        assert!(!req.is_base64_encoded);

        let req = to_request(message(&api(), &conn(), &FrameBody::Binary(vec![0xff, 0])))
            .expect("the event deserializes");
        assert_eq!(req.request_context.route_key.as_deref(), Some("$default"));
        assert!(req.is_base64_encoded);
        assert_eq!(req.body.as_deref(), Some("/wA="));

        let req = to_request(disconnect(&api(), &conn(), 1001, "Going away"))
            .expect("the event deserializes");
        assert_eq!(
            req.request_context.route_key.as_deref(),
            Some("$disconnect")
        );
        assert_eq!(
            req.request_context.event_type.as_deref(),
            Some("DISCONNECT")
        );
        assert_eq!(req.request_context.disconnect_status_code, Some(1001));
        assert_eq!(
            req.request_context.disconnect_reason.as_deref(),
            Some("Going away")
        );
    }
}
