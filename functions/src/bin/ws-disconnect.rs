//! The `$disconnect` route: drops the connection record, tells a partner, clears a lobby entry.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run_with_timers(&[ws::DISCONNECT], ws::on_disconnect).await
}
