//! What every AWS SDK client in Circle is built from, on AWS and locally: an
//! HTTP/1.1 client (hyper-util's pooled client, rustls with ring, the system's
//! root certificates) plugged into the SDK's orchestrator.
//!
//! Why not the SDK's own `aws-smithy-http-client`: it always compiles HTTP/2
//! (the `h2` crate, and hyper's and hyper-util's HTTP/2 paths, into both its
//! client and the Lambda runtime's), which none of DynamoDB, `@connections` or
//! SQS speak to us; that was about 0.12 MB of every Lambda zip. Retries,
//! timeouts of whole operations and signing stay the SDK's; this only moves
//! bytes, and classifies transport failures the way the SDK's client does
//! (connect and I/O failures are retryable, a read timeout is a timeout).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
pub use aws_types::SdkConfig;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;

/// The SDK's default connect timeout (`behavior-version-latest`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// Idle pooled connections are dropped after this; AWS endpoints close theirs
/// sooner or later, and a reused dead one is retried by the SDK.
const POOL_IDLE: Duration = Duration::from_secs(60);

type Hyper = Client<HttpsConnector<TcpConnector>, SdkBody>;

/// One HTTP/1.1 client for an SDK client: `https://` with the system's roots
/// (TLS 1.2 and 1.3, ring's cipher suites), plain `http://` as locally.
pub fn http_client() -> SharedHttpClient {
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls_config()).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let hyper = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .build(https);
    SharedHttpClient::new(Http1Client {
        hyper,
        connector: Mutex::new(None),
    })
}

/// The TLS settings, built once per process (reading the system's roots is
/// the slow part of a cold start's first request otherwise).
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            tracing::warn!(error = %err, "a system root certificate could not be read");
        }
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::error!(
                ignored,
                "no system root certificates: HTTPS requests will fail"
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring's default provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }))
}

#[derive(Debug)]
struct Http1Client {
    hyper: Hyper,
    /// The orchestrator asks for a connector on every attempt; it is the same
    /// one while the read timeout is.
    connector: Mutex<Option<(Option<Duration>, SharedHttpConnector)>>,
}

impl HttpClient for Http1Client {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let read_timeout = settings.read_timeout();
        let mut cached = self.connector.lock().unwrap_or_else(|p| p.into_inner());
        match &*cached {
            Some((timeout, connector)) if *timeout == read_timeout => connector.clone(),
            _ => {
                let connector = SharedHttpConnector::new(Http1Connector {
                    hyper: self.hyper.clone(),
                    read_timeout,
                });
                *cached = Some((read_timeout, connector.clone()));
                connector
            }
        }
    }
}

#[derive(Debug)]
struct Http1Connector {
    hyper: Hyper,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Http1Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(err) => return HttpConnectorFuture::ready(Err(ConnectorError::user(err.into()))),
        };
        let sent = self.hyper.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(answer) => answer,
                    Err(elapsed) => return Err(ConnectorError::timeout(elapsed.into())),
                },
                None => sent.await,
            };
            match answer {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|err| ConnectorError::other(err.into(), None)),
                Err(err) => Err(classify(err)),
            }
        })
    }
}

/// Connect failures and broken connections (a pooled one the server closed,
/// say) are I/O errors, which the SDK retries; anything else is not.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    let broken = err.is_connect()
        || std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<hyper::Error>())
            .is_some_and(|h| h.is_closed() || h.is_incomplete_message() || h.is_canceled());
    if broken {
        ConnectorError::io(err.into())
    } else {
        ConnectorError::other(err.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_settings_allow_tls_1_2_and_1_3() {
        let config = tls_config();
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            assert!(
                config
                    .crypto_provider()
                    .cipher_suites
                    .iter()
                    .any(|s| s.version() == version),
                "{version:?} suites"
            );
        }
    }
}
