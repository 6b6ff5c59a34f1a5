//! The group HTTP API (`POST /groups`, `GET /groups`, `GET /groups/{code}`), the
//! web page and its `/config.json`, behind an API Gateway HTTP API.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    circle_functions::http_api::run().await
}
