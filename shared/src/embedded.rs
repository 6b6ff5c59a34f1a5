//! The embedded DynamoDB: dynoxide run in this process behind an endpoint of
//! ours on a loopback port (`embedded/front.rs`), reached through the real
//! `aws-sdk-dynamodb` client. Only the stack reaches it: browsers are refused
//! and every request must be signed with the store's own credentials
//! ([`guard`], random per run unless given). dynoxide does not sweep TTL by
//! itself, so a timer does.

pub(crate) mod dispatch;
mod front;
pub mod guard;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dynoxide::Database;
use tokio::task::JoinHandle;

use crate::aws_sim::AwsSim;
use crate::db::StoreError;
use crate::db::tables::{TableNames, create_tables};
use front::Front;
pub use guard::{Access, AccessError};

/// Why the embedded store could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// dynoxide could not open the database (or the file path is not UTF-8).
    #[error("opening the database: {0}")]
    Open(String),
    /// A loopback port could not be bound.
    #[error("binding the DynamoDB port: {0}")]
    Bind(#[from] std::io::Error),
    /// The tables could not be created.
    #[error("creating tables: {0}")]
    Tables(#[from] StoreError),
}

/// A running embedded DynamoDB endpoint.
pub struct EmbeddedDynamo {
    /// Where clients connect (loopback).
    pub addr: SocketAddr,
    /// The database served; it stays usable after [`EmbeddedDynamo::shutdown`].
    pub db: Database,
    /// The `--aws-sim` simulation in front of it, if on.
    pub sim: Option<Arc<AwsSim>>,
    access: Access,
    front: Option<Front>,
    sweeper: JoinHandle<()>,
}

impl EmbeddedDynamo {
    /// Serves `db` on `127.0.0.1:port` (0 picks a free port) and sweeps TTL every
    /// `sweep_every`.
    pub async fn serve(
        db: Database,
        port: u16,
        sweep_every: Duration,
    ) -> Result<Self, EmbeddedError> {
        Self::serve_with(db, port, sweep_every, None).await
    }

    /// As [`EmbeddedDynamo::serve`], with AWS's behaviour simulated in front of
    /// the store when `sim` is given, and fresh random credentials.
    pub async fn serve_with(
        db: Database,
        port: u16,
        sweep_every: Duration,
        sim: Option<Arc<AwsSim>>,
    ) -> Result<Self, EmbeddedError> {
        Self::serve_with_access(db, port, sweep_every, sim, Access::random()).await
    }

    /// As [`EmbeddedDynamo::serve_with`], accepting only requests signed with
    /// `access`.
    pub async fn serve_with_access(
        db: Database,
        port: u16,
        sweep_every: Duration,
        sim: Option<Arc<AwsSim>>,
        access: Access,
    ) -> Result<Self, EmbeddedError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let front = Front::serve(listener, db.clone(), access.clone(), sim.clone());
        let addr = front.addr;
        let sweep_db = db.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let db = sweep_db.clone();
                match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(deleted = n, "ttl sweep"),
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => tracing::warn!(error = %err, "ttl sweep failed"),
                    Err(err) => tracing::warn!(error = %err, "ttl sweep task failed"),
                }
            }
        });
        Ok(Self {
            addr,
            db,
            sim,
            access,
            front: Some(front),
            sweeper,
        })
    }

    /// In memory, on a free port: what tests want.
    pub async fn memory() -> Result<Self, EmbeddedError> {
        Self::memory_with(None).await
    }

    /// In memory, on a free port, with or without the simulation.
    pub async fn memory_with(sim: Option<Arc<AwsSim>>) -> Result<Self, EmbeddedError> {
        Self::memory_with_access(sim, Access::random()).await
    }

    /// In memory, on a free port, accepting only requests signed with `access`.
    pub async fn memory_with_access(
        sim: Option<Arc<AwsSim>>,
        access: Access,
    ) -> Result<Self, EmbeddedError> {
        let db = Database::memory().map_err(|e| EmbeddedError::Open(e.to_string()))?;
        Self::serve_with_access(db, 0, Duration::from_secs(60), sim, access).await
    }

    /// File-backed at `path`.
    pub fn open_file(path: &Path) -> Result<Database, EmbeddedError> {
        let path = path
            .to_str()
            .ok_or_else(|| EmbeddedError::Open("path is not UTF-8".into()))?;
        Database::new(path).map_err(|e| EmbeddedError::Open(e.to_string()))
    }

    /// The endpoint URL for a DynamoDB client: `http://{addr}`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The credentials it accepts.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The local SDK configuration ([`crate::app::local_sdk_config`]) with
    /// this store's credentials, for a client built by hand.
    pub fn sdk_config(&self) -> crate::sdk::SdkConfig {
        crate::app::local_sdk_config()
            .to_builder()
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                self.access.credentials(),
            ))
            .build()
    }

    /// A client for this endpoint, with its credentials.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config())
            .endpoint_url(self.endpoint())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// Creates the tables, unless they exist.
    pub async fn create_tables(&self, names: &TableNames) -> Result<(), EmbeddedError> {
        Ok(create_tables(&self.client(), names).await?)
    }

    /// Stops serving once in-flight requests finish; the database stays usable.
    pub async fn shutdown(mut self) {
        self.sweeper.abort();
        if let Some(front) = self.front.take() {
            front.shutdown().await;
        }
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}
