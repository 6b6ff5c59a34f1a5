//! The `join_group` route: enters a group's lobby and pairs at random.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(ws::JOIN_GROUP, ws::on_action).await
}
