//! The Lambda side of Circle: thin wrappers that build their clients once per
//! container and hand each event to the handlers in `circle-shared`.
//!
//! One binary per WebSocket route (`src/bin/ws-*.rs`) and one for the group HTTP
//! API and the web page (`src/bin/http-api.rs`); [`FUNCTIONS`] lists them.

pub mod aws;
pub mod emf;
pub mod http_api;
pub mod logging;
pub mod page;
pub mod timer_function;
pub mod timers;
pub mod websocket;

/// Every WebSocket route key and the binary (and SAM function) that serves it.
/// `block` and `report` end a room like `leave_room` and go back to the lobby
/// like it, so the leave function serves them (and `feedback` and
/// `keep_in_touch`, which act on a room just left); `resume` enters a room like a
/// join, and `sit_out` off joins the lobby again, so the join function serves them.
pub const FUNCTIONS: [(&str, &str); 12] = [
    (circle_shared::handlers::ws::CONNECT, "ws-connect"),
    (circle_shared::handlers::ws::DISCONNECT, "ws-disconnect"),
    (circle_shared::handlers::ws::JOIN_GROUP, "ws-join-group"),
    (circle_shared::handlers::ws::MESSAGE, "ws-message"),
    (circle_shared::handlers::ws::LEAVE_ROOM, "ws-leave-room"),
    (circle_shared::handlers::ws::BLOCK, "ws-leave-room"),
    (circle_shared::handlers::ws::REPORT, "ws-leave-room"),
    (circle_shared::handlers::ws::RESUME, "ws-join-group"),
    (circle_shared::handlers::ws::FEEDBACK, "ws-leave-room"),
    (circle_shared::handlers::ws::KEEP_IN_TOUCH, "ws-leave-room"),
    (circle_shared::handlers::ws::SIT_OUT, "ws-join-group"),
    (circle_shared::handlers::ws::DEFAULT, "ws-default"),
];

/// The routes a binary serves.
pub fn routes_of(binary: &str) -> Vec<&'static str> {
    FUNCTIONS
        .iter()
        .filter(|(_, b)| *b == binary)
        .map(|(r, _)| *r)
        .collect()
}

/// The binary that serves the group HTTP API and the page.
pub const HTTP_API_BINARY: &str = "http-api";
/// The binary that fires timers from the SQS queue.
pub const TIMER_BINARY: &str = "timer";
