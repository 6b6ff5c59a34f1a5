//! Clients and configuration from the environment Lambda provides.
//!
//! The SDK configuration is built from the variables Lambda sets (`AWS_REGION`
//! and the role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN`) rather than aws-config's default chain: profiles, SSO,
//! STS and IMDS are never used on Lambda, and aws-config is not a dependency at
//! all (it compiles three more SDK clients). `AWS_ENDPOINT_URL_DYNAMODB` (or
//! `AWS_ENDPOINT_URL`) points DynamoDB elsewhere, for local runs.

use std::time::Duration;

use aws_credential_types::provider::{error::CredentialsError, future};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, ProvideCredentials, Region, SharedCredentialsProvider,
    timeout::TimeoutConfig,
};
use circle_shared::sdk::{SdkConfig, http_client};
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
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentCredentials))
        .http_client(http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .build(),
        )
        .build()
}

/// The role's credentials from the environment, read at every resolution (the
/// SDK's identity cache keeps them between), as aws-config's
/// `EnvironmentVariableCredentialsProvider` does.
#[derive(Debug)]
struct EnvironmentCredentials;

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(credentials_from(env_var))
    }
}

fn credentials_from(var: impl Fn(&str) -> Option<String>) -> Result<Credentials, CredentialsError> {
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(key), Some(secret)) => Ok(Credentials::new(
            key,
            secret,
            var("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        )),
        _ => Err(CredentialsError::not_loaded(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
        )),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_role_variables() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let creds = credentials_from(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]))
        .expect("both keys set");
        assert_eq!(creds.access_key_id(), "AKID");
        assert_eq!(creds.secret_access_key(), "secret");
        assert_eq!(creds.session_token(), Some("token"));
        assert!(credentials_from(env(&[("AWS_ACCESS_KEY_ID", "AKID")])).is_err());
    }
}
