//! What every AWS SDK client in Circle is built from, on AWS and locally.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
pub use aws_types::SdkConfig;

/// The SDK's own hyper + rustls client (connection pool, timeouts, retry
/// classification, server certificates checked against the system's roots),
/// with ring's crypto rather than the default aws-lc: the same TLS 1.2 and 1.3
/// cipher suites the SDK allows, for a fraction of the package size (see the
/// workspace Cargo.toml); what it lacks is aws-lc's post-quantum hybrid key
/// exchange (X25519MLKEM768), so key exchange is X25519 or ECDHE P-256/P-384.
/// Plain `http://` endpoints, as locally, work too.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
