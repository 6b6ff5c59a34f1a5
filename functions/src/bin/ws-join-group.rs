//! The `join_group` and `resume` routes: enter a circle's lobby and pair (never-met
//! first), or take back a seat held after a dropped connection.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run_hashing(&[ws::JOIN_GROUP, ws::RESUME], ws::on_join).await
}
