//! Clients and configuration from the environment Lambda provides.
//!
//! The SDK configuration is built from the variables Lambda sets (`AWS_REGION`
//! and the role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN`) rather than aws-config's full default chain: profiles,
//! SSO, STS and IMDS are never used on Lambda, and leaving them out keeps every
//! binary about 0.5 MB smaller. `AWS_ENDPOINT_URL_DYNAMODB` (or
//! `AWS_ENDPOINT_URL`) points DynamoDB elsewhere, for local runs.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use circle_shared::{Settings, TableNames};

/// A non-empty environment variable.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Region and credentials from the environment, aws-config's connect timeout.
pub fn sdk_config() -> SdkConfig {
    let region = env_var("AWS_REGION").or_else(|| env_var("AWS_DEFAULT_REGION"));
    let mut builder = SdkConfig::builder().behavior_version(BehaviorVersion::latest());
    builder.set_region(region.map(Region::new));
    builder
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .build(),
        )
        .build()
}

/// A DynamoDB client, at `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` if set.
pub fn dynamodb_client(sdk_config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let endpoint = env_var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| env_var("AWS_ENDPOINT_URL"));
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk_config);
    config.set_endpoint_url(endpoint);
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// Table names, settings and a DynamoDB client: what every function needs.
#[derive(Debug, Clone)]
pub struct Base {
    pub sdk_config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub tables: TableNames,
    pub settings: Settings,
}

impl Base {
    /// From `GROUPS_TABLE`, `CONNECTIONS_TABLE`, `ALLOWED_ORIGINS` and [`sdk_config`].
    pub fn from_env() -> Self {
        let sdk_config = sdk_config();
        Self {
            dynamodb: dynamodb_client(&sdk_config),
            sdk_config,
            tables: TableNames::from_env(),
            settings: Settings::from_env(),
        }
    }
}
