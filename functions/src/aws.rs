//! Clients and configuration from the environment Lambda provides.
//!
//! The SDK configuration is built from the variables Lambda sets (`AWS_REGION`
//! and the role's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN`) rather than aws-config's default chain: profiles, SSO,
//! STS and IMDS are never used on Lambda, and aws-config is not a dependency at
//! all (it compiles three more SDK clients). `AWS_ENDPOINT_URL_DYNAMODB` (or
//! `AWS_ENDPOINT_URL`) points DynamoDB elsewhere, for local runs.
//!
//! The hash key is no environment variable on AWS: the functions that hash
//! get the ARN of its secret (`HASH_KEY_SECRET_ARN`) and the right to read that
//! one secret, and read it once at cold start ([`Base::with_hash_key`]).

use std::time::Duration;

use aws_credential_types::provider::{error::CredentialsError, future};
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, ProvideCredentials, Region, SharedCredentialsProvider,
    timeout::TimeoutConfig,
};
use circle_shared::sdk::{SdkConfig, http_client};
use circle_shared::secrets::HashKey;
use circle_shared::{Settings, TableNames};

/// The environment variable naming the secret (its ARN) that holds the hash key.
pub const HASH_KEY_SECRET_ARN: &str = "HASH_KEY_SECRET_ARN";

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

/// A service's endpoint override: `AWS_ENDPOINT_URL_{SERVICE}`, else
/// `AWS_ENDPOINT_URL` (the SDK's own variables), for local runs.
fn endpoint_override(service: &str) -> Option<String> {
    env_var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| env_var("AWS_ENDPOINT_URL"))
}

/// A DynamoDB client, at `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` if set.
pub fn dynamodb_client(sdk_config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let mut config = aws_sdk_dynamodb::config::Builder::from(sdk_config);
    config.set_endpoint_url(endpoint_override("DYNAMODB"));
    aws_sdk_dynamodb::Client::from_conf(config.build())
}

/// A Secrets Manager client, at `endpoint` if given.
pub fn secrets_manager_client(
    sdk_config: &SdkConfig,
    endpoint: Option<String>,
) -> aws_sdk_secretsmanager::Client {
    let mut config = aws_sdk_secretsmanager::config::Builder::from(sdk_config);
    config.set_endpoint_url(endpoint);
    aws_sdk_secretsmanager::Client::from_conf(config.build())
}

/// Why the hash key could not be read; the function does not start without it.
#[derive(Debug, thiserror::Error)]
pub enum HashKeyError {
    /// `GetSecretValue` failed (no right, no such secret, no network).
    #[error("GetSecretValue of the hash key's secret failed: {0}")]
    Get(String),
    /// The secret has no (or an empty) `SecretString`.
    #[error("the hash key's secret holds no SecretString")]
    Empty,
}

/// The hash key from the secret `arn`: its `SecretString`, the very bytes the
/// `HASH_KEY` variable used to hold, so stored hashes keep matching. One
/// `GetSecretValue`.
pub async fn read_hash_key(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<HashKey, HashKeyError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            HashKeyError::Get(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
        })?;
    match out.secret_string().map(str::trim) {
        Some(key) if !key.is_empty() => Ok(HashKey::new(key.as_bytes().to_vec())),
        _ => Err(HashKeyError::Empty),
    }
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

    /// For a function that hashes: the key from the secret `HASH_KEY_SECRET_ARN`
    /// names, read once (at cold start). Without that variable the settings keep
    /// `HASH_KEY`, as local runs pass it, or a random key.
    pub async fn with_hash_key(mut self) -> Result<Self, HashKeyError> {
        if let Some(arn) = env_var(HASH_KEY_SECRET_ARN) {
            let client =
                secrets_manager_client(&self.sdk_config, endpoint_override("SECRETS_MANAGER"));
            self.settings.hash_key = read_hash_key(&client, &arn).await?;
        } else if env_var("HASH_KEY").is_none() {
            tracing::warn!(
                "neither HASH_KEY_SECRET_ARN nor HASH_KEY is set: hashing with a random key \
                 that no other instance shares"
            );
        }
        Ok(self)
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

    /// A Secrets Manager on 127.0.0.1 that answers `GetSecretValue` of `arn`
    /// with `secret`, and anything else with an error; answers its URL.
    async fn fake_secrets_manager(arn: &'static str, secret: &'static str) -> String {
        use axum::http::{HeaderMap, StatusCode};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let app = axum::Router::new().fallback(async move |headers: HeaderMap, body: String| {
            let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
            let asked: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let json = [("content-type", "application/x-amz-json-1.1")];
            if target == Some("secretsmanager.GetSecretValue") && asked["SecretId"] == arn {
                let body = serde_json::json!({"ARN": arn, "Name": "k", "SecretString": secret});
                (StatusCode::OK, json, body.to_string())
            } else {
                let body = serde_json::json!({
                    "__type": "ResourceNotFoundException",
                    "Message": "Secrets Manager can't find the specified secret."
                });
                (StatusCode::BAD_REQUEST, json, body.to_string())
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn the_hash_key_is_the_secrets_string() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:HashKeySecret-AbCdEf";
        let url =
            fake_secrets_manager(arn, "k3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3y").await;
        let client = secrets_manager_client(&circle_shared::app::local_sdk_config(), Some(url));
        let key = read_hash_key(&client, arn)
            .await
            .expect("the secret is read");
        // The very key the `HASH_KEY` variable gave before: stored hashes still match.
        let before = HashKey::new(b"k3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3yk3y".to_vec());
        assert_eq!(key.hash("d", "secret"), before.hash("d", "secret"));
        let other = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:Other-AbCdEf";
        assert!(matches!(
            read_hash_key(&client, other).await,
            Err(HashKeyError::Get(_))
        ));
    }
}
