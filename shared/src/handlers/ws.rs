//! The WebSocket routes (`$connect`, `$disconnect`, `join_group`, `message`,
//! `leave_room`, `block`, `report`, `resume`, `$default`) over API Gateway's
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

pub const CONNECT: &str = "$connect";
pub const DISCONNECT: &str = "$disconnect";
pub const DEFAULT: &str = "$default";
pub const JOIN_GROUP: &str = "join_group";
pub const MESSAGE: &str = "message";
pub const LEAVE_ROOM: &str = "leave_room";
pub const BLOCK: &str = "block";
pub const REPORT: &str = "report";
pub const RESUME: &str = "resume";
/// Every route key the API declares.
pub const ROUTES: [&str; 9] = [
    CONNECT, DISCONNECT, JOIN_GROUP, MESSAGE, LEAVE_ROOM, BLOCK, REPORT, RESUME, DEFAULT,
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

/// Whether the browser origin may open a socket. `None` allows any.
pub fn origin_allowed(allowed: Option<&[String]>, origin: Option<&str>) -> bool {
    match (allowed, origin) {
        (Some(list), Some(origin)) => list
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin)),
        _ => true,
    }
}

/// `$connect`: refuses a browser origin that is not allowed (403), else records
/// the connection.
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
    match pairing::connect(app, id).await {
        Ok(()) => response(200, None),
        Err(err) => {
            tracing::error!(connection_id = id, error = %err, "connect failed");
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
    match pairing::disconnect(app, id).await {
        Ok(()) => response(200, None),
        Err(err) => {
            tracing::error!(connection_id = id, error = %err, "disconnect failed");
            response(500, None)
        }
    }
}

/// Which actions a function serves (a const parameter, so each function's
/// handler is compiled with only its own actions: the route selection sends it
/// only those, and a smaller package starts faster on Lambda).
mod serves {
    /// Every action (the local stack, which runs all routes in one process).
    pub const ALL: u8 = 0;
    /// `join_group` and `resume`.
    pub const JOINS: u8 = 1;
    /// `message`.
    pub const MESSAGES: u8 = 2;
    /// `leave_room`, `block`, `report`.
    pub const ENDINGS: u8 = 3;
    /// Nothing: `$default` answers every frame with an `error`.
    pub const NOTHING: u8 = 4;
}

/// `join_group`, `message`, `leave_room`, `block`, `report`, `resume` and
/// `$default`: parse the body, run the action, and turn any failure into an
/// `error` event on the same connection.
pub async fn on_action(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond::<{ serves::ALL }>(app, event).await
}

/// The `join_group` and `resume` function's handler.
pub async fn on_join(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond::<{ serves::JOINS }>(app, event).await
}

/// The `message` function's handler.
pub async fn on_message(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond::<{ serves::MESSAGES }>(app, event).await
}

/// The `leave_room`, `block` and `report` function's handler.
pub async fn on_ending(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond::<{ serves::ENDINGS }>(app, event).await
}

/// The `$default` function's handler.
pub async fn on_default(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    respond::<{ serves::NOTHING }>(app, event).await
}

async fn respond<const SERVES: u8>(
    app: &App,
    event: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let Some(id) = connection_id(event) else {
        return response(400, None);
    };
    let parsed = match (&event.body, event.is_base64_encoded) {
        (Some(body), false) => ClientAction::parse(body),
        _ => Err(ProtocolError::NotJson),
    };
    let result = match parsed {
        Err(err) => Err(ActionError::from(err)),
        Ok(action) => run::<SERVES>(app, id, action).await,
    };
    match result {
        Ok(()) => response(200, None),
        Err(err) => {
            pairing::send_error(app, id, &err).await;
            if err.is_client_error() {
                tracing::info!(connection_id = id, error = %err, "refused");
                response(200, None)
            } else {
                tracing::error!(connection_id = id, error = %err, "action failed");
                response(500, None)
            }
        }
    }
}

/// Runs one action, if this function serves it; the arms a function doesn't
/// serve compile away.
async fn run<const SERVES: u8>(
    app: &App,
    id: &str,
    action: ClientAction,
) -> Result<(), ActionError> {
    use serves::{ALL, ENDINGS, JOINS, MESSAGES};
    let wrong_route = || {
        Err(ActionError::Protocol(ProtocolError::UnknownAction(
            "(sent to the wrong route)".to_owned(),
        )))
    };
    match action {
        ClientAction::JoinGroup {
            access_code,
            name,
            member,
            circle,
        } if matches!(SERVES, ALL | JOINS) => {
            let req = pairing::JoinRequest {
                access_code: &access_code,
                name: &name,
                member: member.as_deref(),
                circle: circle.as_deref(),
            };
            Box::pin(pairing::join(app, id, req)).await
        }
        ClientAction::Resume { room, token } if matches!(SERVES, ALL | JOINS) => {
            Box::pin(pairing::resume(app, id, &room, &token)).await
        }
        ClientAction::Message { room, body } if matches!(SERVES, ALL | MESSAGES) => {
            pairing::relay(app, id, &room, body).await
        }
        ClientAction::LeaveRoom { room, requeue } if matches!(SERVES, ALL | ENDINGS) => {
            let ending = pairing::Ending::Leave;
            Box::pin(pairing::end_room(app, id, &room, ending, requeue)).await
        }
        ClientAction::Block { room, requeue } if matches!(SERVES, ALL | ENDINGS) => {
            let ending = pairing::Ending::Block;
            Box::pin(pairing::end_room(app, id, &room, ending, requeue)).await
        }
        ClientAction::Report {
            room,
            reason,
            excerpt,
            requeue,
        } if matches!(SERVES, ALL | ENDINGS) => {
            let ending = pairing::Ending::Report { reason, excerpt };
            Box::pin(pairing::end_room(app, id, &room, ending, requeue)).await
        }
        _ => wrong_route(),
    }
}
