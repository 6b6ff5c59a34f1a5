//! The `join_group` and `resume` routes: enter a circle's lobby and pair (never-met
//! first), or take back a seat held after a dropped connection.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::JOIN_GROUP, ws::RESUME], ws::on_action).await
}
