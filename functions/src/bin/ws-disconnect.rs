//! The `$disconnect` route: drops the connection record, tells a partner, clears a lobby entry.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::DISCONNECT], ws::on_disconnect).await
}
