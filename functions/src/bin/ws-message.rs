//! The `message` route: relays a message to both members of the sender's room.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::MESSAGE], ws::on_message).await
}
