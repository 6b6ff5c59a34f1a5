//! The `$default` route: anything without a known `action` gets an `error` event; the connection stays.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::DEFAULT], ws::on_default).await
}
