//! What the smoke test puts behind `cargo lambda watch` instead of AWS: the
//! embedded DynamoDB (with the tables and the group the sample events join) and an
//! `@connections` endpoint that answers 200 and prints every post.
//!
//! Both listen on free loopback ports. Stdout gets `DYNAMODB=<url>`,
//! `CONNECTIONS=<url>`, then `READY`, then one `POST <connection id> <frame>` line
//! per post. Table names come from `GROUPS_TABLE` / `CONNECTIONS_TABLE`. Runs until
//! killed. The store takes only requests signed with the credentials
//! `infra/scripts/check-deploy.sh` gives the functions (`smoke` / `smoke`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use circle_shared::TableNames;
use circle_shared::embedded::{Access, EmbeddedDynamo};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only loses the transcript; the endpoint keeps answering.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// `POST /@connections/{id}` (the SDK may send `@` as `%40`).
async fn connections(method: Method, uri: Uri, body: Bytes) -> StatusCode {
    let path = uri.path().replace("%40", "@");
    let Some(id) = path.strip_prefix("/@connections/") else {
        return StatusCode::NOT_FOUND;
    };
    let id = id
        .replace("%3D", "=")
        .replace("%2B", "+")
        .replace("%2F", "/");
    match method {
        Method::POST => {
            say(&format!("POST {id} {}", String::from_utf8_lossy(&body)));
            StatusCode::OK
        }
        Method::DELETE => StatusCode::NO_CONTENT,
        _ => StatusCode::METHOD_NOT_ALLOWED,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dynamo = EmbeddedDynamo::memory_with_access(None, Access::new("smoke", "smoke")?).await?;
    let tables = TableNames::from_env();
    dynamo.create_tables(&tables).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let app = circle_shared::App::with_defaults(
        dynamo.client(),
        tables,
        std::sync::Arc::new(support::Recorder::default()),
    );
    support::seed_sample_group(&app, i64::try_from(now)?).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    say(&format!("DYNAMODB={}", dynamo.endpoint()));
    say(&format!("CONNECTIONS=http://{addr}"));
    say("READY");
    axum::serve(listener, axum::Router::new().fallback(connections)).await?;
    Ok(())
}
