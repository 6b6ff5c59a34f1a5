//! The `$connect` route: records the connection, or refuses (403) a browser origin not in `ALLOWED_ORIGINS`.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run_hashing(&[ws::CONNECT], ws::on_connect).await
}
