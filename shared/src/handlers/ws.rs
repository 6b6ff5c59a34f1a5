//! The WebSocket routes (`$connect`, `$disconnect`, `join_group`, `message`,
//! `leave_room`, `block`, `report`, `resume`, `feedback`, `keep_in_touch`,
//! `sit_out`, `$default`) over API Gateway's
//! proxy event.
//!
//! Server events reach clients through `@connections`, never as route responses,
//! so every route answers 200 unless the request itself is broken (400), refused
//! (`$connect` 403) or we failed (500, after telling the client with an `error`).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;

use crate::app::App;
use crate::error::ActionError;
use crate::pairing;
use crate::protocol::{ClientAction, ProtocolError};

/// A socket opens.
pub const CONNECT: &str = "$connect";
/// A socket closed.
pub const DISCONNECT: &str = "$disconnect";
/// Any frame no other route matches; answered with `error` `bad_request`.
pub const DEFAULT: &str = "$default";
/// The `join_group` action.
pub const JOIN_GROUP: &str = "join_group";
/// The `message` action.
pub const MESSAGE: &str = "message";
/// The `leave_room` action.
pub const LEAVE_ROOM: &str = "leave_room";
/// The `block` action.
pub const BLOCK: &str = "block";
/// The `report` action.
pub const REPORT: &str = "report";
/// The `resume` action.
pub const RESUME: &str = "resume";
/// The `feedback` action.
pub const FEEDBACK: &str = "feedback";
/// The `keep_in_touch` action.
pub const KEEP_IN_TOUCH: &str = "keep_in_touch";
/// The `sit_out` action.
pub const SIT_OUT: &str = "sit_out";
/// Every route key the API declares.
pub const ROUTES: [&str; 12] = [
    CONNECT,
    DISCONNECT,
    JOIN_GROUP,
    MESSAGE,
    LEAVE_ROOM,
    BLOCK,
    REPORT,
    RESUME,
    FEEDBACK,
    KEEP_IN_TOUCH,
    SIT_OUT,
    DEFAULT,
];

/// A response with just a status (and a short text body for refusals).
pub fn response(status: i64, body: Option<&str>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    r.body = body.map(|b| Body::Text(b.to_owned()));
    r
}

/// Dispatches on `requestContext.routeKey`.
pub async fn handle(app: &App, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    match event
        .request_context
        .route_key
        .as_deref()
        .unwrap_or(DEFAULT)
    {
        CONNECT => on_connect(app, &event).await,
        DISCONNECT => on_disconnect(app, &event).await,
        // Route selection only narrows what arrives; the body decides.
        _ => on_action(app, &event).await,
    }
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    event
        .request_context
        .connection_id
        .as_deref()
        .filter(|c| !c.is_empty())
}

/// The client's address (`requestContext.identity.sourceIp`, on every event),
/// and when its socket opened (`connectedAt`, the same on `$connect` and
/// `$disconnect`; now when an event lacks it): which counter its socket is in.
fn source<'e>(app: &App, event: &'e ApiGatewayWebsocketProxyRequest) -> Option<(&'e str, i64)> {
    let ctx = &event.request_context;
    let addr = ctx
        .identity
        .source_ip
        .as_deref()
        .filter(|a| !a.is_empty())?;
    let at = if ctx.connected_at > 0 {
        ctx.connected_at
    } else {
        app.now_ms()
    };
    Some((addr, at))
}

/// Whether the browser origin may open a socket. `None` allows any.
pub fn origin_allowed(allowed: Option<&[String]>, origin: Option<&str>) -> bool {
    match (allowed, origin) {
        (Some(list), Some(origin)) => list
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin)),
        _ => true,
    }
}

/// `$connect`: refuses a browser origin that is not allowed (403) and an
/// address with `max_sockets_per_address` sockets open already (429), else
/// counts the socket against its address and records the connection.
pub async fn on_connect(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(id) = connection_id(event) else {
        return response(400, Some("missing connectionId"));
    };
    let origin = event.headers.get("origin").and_then(|v| v.to_str().ok());
    if !origin_allowed(app.settings.allowed_origins.as_deref(), origin) {
        tracing::info!(connection_id = id, origin, "refused: origin not allowed");
        return response(403, Some("origin not allowed"));
    }
    let source = source(app, event);
    if let Some((addr, at)) = source {
        match crate::edge::open_socket(app, addr, at).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    connection_id = id,
                    "refused: too many sockets from its address"
                );
                return response(429, Some("too many connections from this address"));
            }
            Err(err) => {
                tracing::error!(connection_id = id, error = %err, "connect failed");
                return response(500, None);
            }
        }
    }
    match pairing::connect(app, id).await {
        Ok(()) => response(200, None),
        Err(err) => {
            tracing::error!(connection_id = id, error = %err, "connect failed");
            if let Some((addr, at)) = source {
                // No socket opens, and no `$disconnect` will come for it.
                let _ = crate::edge::close_socket(app, addr, at).await;
            }
            response(500, None)
        }
    }
}

/// `$disconnect`: best effort; its answer goes nowhere.
pub async fn on_disconnect(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(id) = connection_id(event) else {
        return response(400, None);
    };
    if let Some((addr, at)) = source(app, event)
        && let Err(err) = crate::edge::close_socket(app, addr, at).await
    {
        tracing::warn!(connection_id = id, error = %err, "socket count not lowered");
    }
    match pairing::disconnect(app, id).await {
        Ok(()) => response(200, None),
        Err(err) => {
            tracing::error!(connection_id = id, error = %err, "disconnect failed");
            response(500, None)
        }
    }
}

/// `join_group`, `message`, `leave_room`, `block`, `report`, `resume` and
/// `$default`: parse the body, run the action, and turn any failure into an
/// `error` event on the same connection. (The local stack runs every route
/// through this; each Lambda uses the handler of its own routes below, so its
/// package holds only its own actions.)
pub async fn on_action(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond(app, event, any_action).await
}

/// The `join_group`, `resume` and `sit_out` function's handler.
pub async fn on_join(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond(app, event, joins).await
}

/// The `message` function's handler.
pub async fn on_message(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond(app, event, messages).await
}

/// The `leave_room`, `block`, `report`, `feedback` and `keep_in_touch`
/// function's handler.
pub async fn on_ending(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond(app, event, endings).await
}

/// The `$default` function's handler: every frame gets an `error`.
pub async fn on_default(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond(app, event, async |_: &App, _: &str, _: ClientAction| {
        wrong_route()
    })
    .await
}

async fn respond<F>(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
    run: F,
) -> ApiGatewayProxyResponse
where
    F: AsyncFnOnce(&App, &str, ClientAction) -> Result<(), ActionError>,
{
    let Some(id) = connection_id(event) else {
        return response(400, None);
    };
    let parsed = match (&event.body, event.is_base64_encoded) {
        (Some(body), false) => ClientAction::parse(body),
        _ => Err(ProtocolError::NotJson),
    };
    let result = match parsed {
        Err(err) => Err(ActionError::from(err)),
        Ok(action) => run(app, id, action).await,
    };
    match result {
        Ok(()) => response(200, None),
        Err(err) => {
            pairing::send_error(app, id, &err).await;
            if err.is_client_error() {
                // The code only: a refusal's text may quote what the client sent.
                tracing::info!(connection_id = id, code = ?err.code(), "refused");
                response(200, None)
            } else {
                tracing::error!(connection_id = id, error = %err, "action failed");
                response(500, None)
            }
        }
    }
}

/// An action sent to a function that doesn't serve it (the route selection
/// would not; a misconfigured integration might).
fn wrong_route() -> Result<(), ActionError> {
    Err(ActionError::Protocol(ProtocolError::UnknownAction(
        "(sent to the wrong route)".to_owned(),
    )))
}

async fn any_action(app: &App, id: &str, action: ClientAction) -> Result<(), ActionError> {
    match action {
        a @ (ClientAction::JoinGroup { .. }
        | ClientAction::Resume { .. }
        | ClientAction::SitOut { .. }) => joins(app, id, a).await,
        a @ ClientAction::Message { .. } => messages(app, id, a).await,
        a => endings(app, id, a).await,
    }
}

async fn joins(app: &App, id: &str, action: ClientAction) -> Result<(), ActionError> {
    match action {
        ClientAction::JoinGroup {
            access_code,
            name,
            member,
            circle,
            label,
        } => {
            let req = pairing::JoinRequest {
                access_code: &access_code,
                name: &name,
                member: member.as_deref(),
                circle: circle.as_deref(),
                label: label.as_deref(),
            };
            Box::pin(pairing::join(app, id, req)).await
        }
        ClientAction::Resume { room, token } => {
            Box::pin(pairing::resume(app, id, &room, &token)).await
        }
        ClientAction::SitOut { on } => Box::pin(pairing::sit_out(app, id, on)).await,
        _ => wrong_route(),
    }
}

async fn messages(app: &App, id: &str, action: ClientAction) -> Result<(), ActionError> {
    match action {
        ClientAction::Message { room, body } => pairing::relay(app, id, &room, body).await,
        _ => wrong_route(),
    }
}

async fn endings(app: &App, id: &str, action: ClientAction) -> Result<(), ActionError> {
    let (room, ending, requeue) = match action {
        ClientAction::LeaveRoom { room, requeue } => (room, pairing::Ending::Leave, requeue),
        ClientAction::Block { room, requeue } => (room, pairing::Ending::Block, requeue),
        ClientAction::Report {
            room,
            reason,
            excerpt,
            requeue,
        } => (room, pairing::Ending::Report { reason, excerpt }, requeue),
        ClientAction::Feedback { room, rating } => {
            return pairing::feedback(app, id, &room, rating).await;
        }
        ClientAction::KeepInTouch { room, contact } => {
            return pairing::keep_in_touch(app, id, &room, &contact).await;
        }
        _ => return wrong_route(),
    };
    Box::pin(pairing::end_room(app, id, &room, ending, requeue)).await
}
