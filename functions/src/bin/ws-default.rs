//! The `$default` route: anything without a known `action` gets an `error` event; the connection stays.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::DEFAULT], ws::on_action).await
}
