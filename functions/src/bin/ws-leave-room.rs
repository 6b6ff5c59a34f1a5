//! The `leave_room`, `block` and `report` routes: end the room, tell the partner
//! (a block or report is never revealed), and with `requeue` go back to the lobby;
//! also `feedback` and `keep_in_touch` (whose first line schedules its 10-minute
//! forget timer on the queue).

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run_with_timers(
        &[ws::LEAVE_ROOM, ws::BLOCK, ws::REPORT],
        ws::on_ending,
    )
    .await
}
