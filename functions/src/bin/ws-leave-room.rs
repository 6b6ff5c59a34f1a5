//! The `leave_room` route: ends the room, tells the partner, and with `requeue` goes back to the lobby.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(ws::LEAVE_ROOM, ws::on_action).await
}
