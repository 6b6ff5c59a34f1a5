//! The `$connect` route: records the connection, or refuses (403) a browser origin not in `ALLOWED_ORIGINS`.

use circle_shared::handlers::ws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::websocket::run(&[ws::CONNECT], ws::on_connect).await
}
