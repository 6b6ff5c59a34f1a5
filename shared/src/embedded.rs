//! The embedded DynamoDB: dynoxide served in-process on a loopback port, reached
//! through the real `aws-sdk-dynamodb` client. dynoxide does not sweep TTL by
//! itself, so a timer does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dynoxide::Database;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::aws_sim::AwsSim;
use crate::aws_sim::proxy::SimFront;
use crate::db::StoreError;
use crate::db::tables::{TableNames, create_tables};

/// Why the embedded store could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("opening the database: {0}")]
    Open(String),
    #[error("binding the DynamoDB port: {0}")]
    Bind(#[from] std::io::Error),
    #[error("creating tables: {0}")]
    Tables(#[from] StoreError),
}

/// A running embedded DynamoDB endpoint.
pub struct EmbeddedDynamo {
    pub addr: SocketAddr,
    pub db: Database,
    /// The `--aws-sim` simulation in front of it, if on.
    pub sim: Option<Arc<AwsSim>>,
    front: Option<SimFront>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), String>>>,
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
    /// the store when `sim` is given: `port` is then the simulation's, and
    /// dynoxide listens on a private loopback port behind it.
    pub async fn serve_with(
        db: Database,
        port: u16,
        sweep_every: Duration,
        sim: Option<Arc<AwsSim>>,
    ) -> Result<Self, EmbeddedError> {
        let public = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let (listener, front) = match &sim {
            Some(sim) => {
                let inner = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
                let inner_url = format!("http://{}/", inner.local_addr()?);
                (inner, Some(SimFront::serve(public, sim.clone(), inner_url)))
            }
            None => (public, None),
        };
        let addr = match &front {
            Some(f) => f.addr,
            None => listener.local_addr()?,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            db.clone(),
            async move {
                let _ = rx.await;
            },
        ));
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
            front,
            shutdown: Some(tx),
            server: Some(server),
            sweeper,
        })
    }

    /// In memory, on a free port: what tests want.
    pub async fn memory() -> Result<Self, EmbeddedError> {
        Self::memory_with(None).await
    }

    /// In memory, on a free port, with or without the simulation.
    pub async fn memory_with(sim: Option<Arc<AwsSim>>) -> Result<Self, EmbeddedError> {
        let db = Database::memory().map_err(|e| EmbeddedError::Open(e.to_string()))?;
        Self::serve_with(db, 0, Duration::from_secs(60), sim).await
    }

    /// File-backed at `path`.
    pub fn open_file(path: &Path) -> Result<Database, EmbeddedError> {
        let path = path
            .to_str()
            .ok_or_else(|| EmbeddedError::Open("path is not UTF-8".into()))?;
        Database::new(path).map_err(|e| EmbeddedError::Open(e.to_string()))
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client for this endpoint.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        crate::app::local_dynamodb_client(&self.endpoint())
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        self.sweeper.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
