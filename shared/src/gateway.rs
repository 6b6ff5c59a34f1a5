//! Reaching clients: the `@connections` management API behind a small trait, with
//! 410 Gone mapped to a typed outcome so callers can clean up departed peers.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement as apigw;
use std::sync::Arc;

use crate::db::metrics::Metrics;

/// What can go wrong when talking to a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The connection no longer exists (HTTP 410).
    #[error("connection is gone")]
    Gone,
    /// The frame is over the gateway's 128 KB limit (HTTP 413).
    #[error("payload too large for the gateway")]
    PayloadTooLarge,
    /// The management API throttled us (HTTP 429).
    #[error("throttled by the gateway")]
    Throttled,
    /// Any other failure (network, credentials, service), described.
    #[error("@connections request failed: {0}")]
    Other(String),
}

impl GatewayError {
    /// Maps a management API error by its code (the same for every operation).
    fn from_sdk<E, R>(err: apigw::error::SdkError<E, R>) -> Self
    where
        E: apigw::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        use apigw::error::ProvideErrorMetadata;
        match err.code() {
            Some("GoneException") => Self::Gone,
            Some("PayloadTooLargeException") => Self::PayloadTooLarge,
            Some("LimitExceededException") => Self::Throttled,
            _ => {
                Self::Other(aws_smithy_types::error::display::DisplayErrorContext(&err).to_string())
            }
        }
    }
}

/// Sends frames to and closes WebSocket connections.
#[async_trait]
pub trait Gateway: Send + Sync {
    /// `POST @connections/{id}` with a text frame.
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError>;
    /// `DELETE @connections/{id}`.
    async fn delete(&self, connection_id: &str) -> Result<(), GatewayError>;
}

/// The real management API, on AWS or the local stack's emulation of it.
#[derive(Debug, Clone)]
pub struct ApiGatewayManagement {
    client: apigw::Client,
}

impl ApiGatewayManagement {
    /// `endpoint` is `https://{domain}/{stage}` on AWS, `http://127.0.0.1:{port}` locally.
    pub fn new(sdk_config: &crate::sdk::SdkConfig, endpoint: &str) -> Self {
        let config = apigw::config::Builder::from(sdk_config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: apigw::Client::from_conf(config),
        }
    }

    /// The endpoint API Gateway implies for a request's domain and stage.
    pub fn endpoint_for(domain_name: &str, stage: &str) -> String {
        if domain_name.starts_with("127.") || domain_name.starts_with("localhost") {
            format!("http://{domain_name}")
        } else {
            format!("https://{domain_name}/{stage}")
        }
    }
}

#[async_trait]
impl Gateway for ApiGatewayManagement {
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(aws_smithy_types::Blob::new(frame.as_bytes()))
            .send()
            .await;
        result.map(|_| ()).map_err(GatewayError::from_sdk)
    }

    async fn delete(&self, connection_id: &str) -> Result<(), GatewayError> {
        let result = self
            .client
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await;
        result.map(|_| ()).map_err(GatewayError::from_sdk)
    }
}

/// Counts every call (and every 410) into [`Metrics`] before passing it on.
pub struct CountingGateway {
    inner: Arc<dyn Gateway>,
    metrics: Arc<Metrics>,
}

impl CountingGateway {
    /// Counts calls to `inner` into `metrics`.
    pub fn new(inner: Arc<dyn Gateway>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

#[async_trait]
impl Gateway for CountingGateway {
    async fn post(&self, connection_id: &str, frame: &str) -> Result<(), GatewayError> {
        self.metrics.count_gateway_post();
        let result = self.inner.post(connection_id, frame).await;
        if result == Err(GatewayError::Gone) {
            self.metrics.count_gateway_gone();
        }
        result
    }

    async fn delete(&self, connection_id: &str) -> Result<(), GatewayError> {
        self.metrics.count_gateway_delete();
        self.inner.delete(connection_id).await
    }
}
