//! Everything a handler needs, built once per process (per Lambda container, or
//! once for the local stack): the store, the gateway, the clock and the settings.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::gateway::{CountingGateway, Gateway};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tables::TableNames;

/// Tunables. Defaults follow DESIGN.md and API Gateway's limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a group lives (3 days).
    pub group_ttl: Duration,
    /// A connection record's TTL: API Gateway's 2 h maximum plus a margin.
    pub connection_ttl: Duration,
    /// How long two people who just ended a room are kept apart.
    pub repeat_guard: Duration,
    /// Attempts at a join, leave or disconnect before giving up as busy.
    pub max_attempts: u32,
    /// The largest frame the gateway will deliver (128 KB).
    pub max_frame_bytes: usize,
    /// Browser origins `$connect` accepts; `None` accepts any. Clients that send no
    /// `Origin` (non-browsers) are always accepted.
    pub allowed_origins: Option<Vec<String>>,
}

impl Settings {
    /// Defaults, with `ALLOWED_ORIGINS` (comma-separated) read from the environment.
    pub fn from_env() -> Self {
        let allowed_origins = std::env::var("ALLOWED_ORIGINS").ok().and_then(|v| {
            let list: Vec<String> = v
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            (!list.is_empty()).then_some(list)
        });
        Self {
            allowed_origins,
            ..Self::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            group_ttl: Duration::from_secs(3 * 24 * 3600),
            connection_ttl: Duration::from_secs(2 * 3600 + 15 * 60),
            repeat_guard: Duration::from_secs(30),
            max_attempts: 60,
            max_frame_bytes: 128 * 1024,
            allowed_origins: None,
        }
    }
}

/// The handlers' context.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub gateway: Arc<dyn Gateway>,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
}

impl App {
    /// Wires a DynamoDB client and a gateway together; both are counted into one
    /// [`Metrics`].
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        tables: TableNames,
        gateway: Arc<dyn Gateway>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        Self {
            store: Store::new(dynamodb, tables, metrics.clone()),
            gateway: Arc::new(CountingGateway::new(gateway, metrics.clone())),
            clock,
            settings,
            metrics,
        }
    }

    /// Real time and default settings.
    pub fn with_defaults(
        dynamodb: aws_sdk_dynamodb::Client,
        tables: TableNames,
        gateway: Arc<dyn Gateway>,
    ) -> Self {
        Self::new(
            dynamodb,
            tables,
            gateway,
            Arc::new(SystemClock),
            Settings::default(),
        )
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("tables", &self.store.tables)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// An SDK config for the local world: a fixed region and static dummy
/// credentials, since nothing local checks them and no account is needed.
pub fn local_sdk_config() -> crate::sdk::SdkConfig {
    crate::sdk::SdkConfig::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .http_client(crate::sdk::http_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "circle-local",
            ),
        ))
        .build()
}

/// A DynamoDB client for an explicit endpoint (the embedded store, or DynamoDB Local).
pub fn local_dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&local_sdk_config())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
