//! Why the local stack could not start.

use circle_shared::embedded::EmbeddedError;

/// A start-up failure; running connections never produce one.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("binding {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("preparing the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("embedded DynamoDB: {0}")]
    Dynamo(#[from] EmbeddedError),
    #[error("the public URL: {0}")]
    PublicUrl(#[from] crate::public_url::PublicUrlError),
}
