//! The `message` route: relays a message to both members of the sender's room.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::MESSAGE], ws::on_action).await
}
