//! The group HTTP API (`POST /groups`, `GET /groups`, `GET /groups/{code}`), the
//! web page and its `/config.json`, behind an API Gateway HTTP API.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::http_api::run().await
}
