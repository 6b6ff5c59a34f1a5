//! The Lambda side of Circle: thin wrappers that build their clients once per
//! container and hand each event to the handlers in `circle-shared`.
//!
//! One binary per WebSocket route (`src/bin/ws-*.rs`) and one for the group HTTP
//! API and the web page (`src/bin/http-api.rs`); [`FUNCTIONS`] lists them.

pub mod aws;
pub mod http_api;
pub mod logging;
pub mod page;
pub mod websocket;

/// Every WebSocket route key and the binary (and SAM function) that serves it.
pub const FUNCTIONS: [(&str, &str); 6] = [
    (circle_shared::handlers::ws::CONNECT, "ws-connect"),
    (circle_shared::handlers::ws::DISCONNECT, "ws-disconnect"),
    (circle_shared::handlers::ws::JOIN_GROUP, "ws-join-group"),
    (circle_shared::handlers::ws::MESSAGE, "ws-message"),
    (circle_shared::handlers::ws::LEAVE_ROOM, "ws-leave-room"),
    (circle_shared::handlers::ws::DEFAULT, "ws-default"),
];

/// The binary that serves the group HTTP API and the page.
pub const HTTP_API_BINARY: &str = "http-api";
