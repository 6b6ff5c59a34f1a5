//! What can stop a benchmark run.

/// A failure of the benchmark itself (not of the system under test, which is
/// counted and reported instead).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP {method} {path}: {reason}")]
    Http {
        method: &'static str,
        path: String,
        reason: String,
    },
    #[error("unexpected answer from {path}: {reason}")]
    BadAnswer { path: String, reason: String },
    #[error("the stack did not start: {0}")]
    Spawn(String),
    #[error("opening WebSockets: {0}")]
    Connect(String),
    #[error(
        "too few open files allowed ({soft}); need about {needed}: run `ulimit -n {needed}` first (bench/run.sh does)"
    )]
    FileLimit { soft: u64, needed: u64 },
    #[error("the hard deadline of {0:?} passed")]
    Deadline(std::time::Duration),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("embedded DynamoDB: {0}")]
    Dynamo(String),
    #[error("bad option: {0}")]
    Usage(String),
}
