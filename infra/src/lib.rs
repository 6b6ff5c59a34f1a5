//! `circle-local`: all of Circle on one machine. One loopback port serves the
//! page, the group HTTP API, an emulation of API Gateway's WebSocket API (with
//! the `@connections` management API) and `/_local/metrics`; an embedded
//! DynamoDB (dynoxide) runs on a second loopback port, for this stack only
//! (it refuses browsers and takes only the run's own random credentials). The
//! route handlers are the ones the Lambdas run, reached through the real AWS
//! SDK clients: only endpoints and credentials differ from AWS.
//!
//! For tests, `POST /_local/connections/{id}/vanish` (loopback only) makes a
//! client vanish without a close, the way a phone that lost its network does on
//! AWS: posts to it keep answering 200 until the idle timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), circle_local::StackError> {
//! let stack = circle_local::Stack::start(circle_local::Config::ephemeral()).await?;
//! println!("{} {}", stack.http_url(), stack.ws_url());
//! stack.shutdown().await;
//! # Ok(()) }
//! ```

pub mod config;
mod data_dir;
pub mod error;
pub mod event;
mod http_api;
pub mod ids;
pub mod invoke;
mod management;
pub mod proc_stats;
pub mod public_url;
pub mod registry;
mod routes;
mod socket;
mod web;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use circle_shared::aws_sim::AwsSim;
use circle_shared::embedded::{Access, EmbeddedDynamo};
use circle_shared::{ApiGatewayManagement, App, TableNames};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, Limits, Storage};
pub use error::StackError;

use event::ApiInfo;
use public_url::PublicUrl;
use registry::Registry;

/// A shutdown waits for sockets to close and their `$disconnect`s to run while
/// they make progress (one ends at least this often)...
const SHUTDOWN_STALL: Duration = Duration::from_secs(5);
/// ...but no longer than this in all.
const SHUTDOWN_CAP: Duration = Duration::from_secs(120);
/// How long the HTTP server may take to finish its requests.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// What every route shares.
pub(crate) struct Shared {
    pub app: App,
    pub registry: Arc<Registry>,
    pub api: ApiInfo,
    pub limits: Limits,
    /// `host:port` as clients reach it.
    pub authority: String,
    /// Where people reach the page and the APIs (`--public-url`).
    pub public: PublicUrl,
    /// The page's Content-Security-Policy (it may connect to `public`).
    pub page_csp: String,
    pub site: web::Site,
    /// Set once shutdown begins: `/ws` refuses new sockets.
    pub closing: AtomicBool,
    /// Concurrent invocations ([`Limits::max_concurrency`]) and, with
    /// `--aws-sim`, warm instances.
    pub lambdas: Arc<invoke::Lambdas>,
    /// AWS's behaviour simulated, when `--aws-sim` is on.
    pub sim: Option<Arc<AwsSim>>,
    /// The most frames of one connection ever handled at once.
    pub frames_in_flight_peak: std::sync::atomic::AtomicUsize,
}

/// A running local stack.
pub struct Stack {
    shared: Arc<Shared>,
    addr: SocketAddr,
    dynamo: EmbeddedDynamo,
    data_file: Option<PathBuf>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    timers: JoinHandle<()>,
    started_in: Duration,
}

/// The address clients use for a listening address (a wildcard means loopback).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

impl Stack {
    /// Binds the port, opens (or creates) the data, creates the tables if absent,
    /// and serves.
    pub async fn start(config: Config) -> Result<Self, StackError> {
        let began = Instant::now();
        let bind_addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(bind_addr)
            .await
            .map_err(|source| StackError::Bind {
                addr: bind_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StackError::Bind {
            addr: bind_addr,
            source,
        })?;
        let authority = reachable(addr).to_string();
        let public = match &config.public_url {
            Some(url) => PublicUrl::parse(url)?,
            None => PublicUrl::listening(&authority),
        };

        let data_file = config.storage.file();
        let db = match (&config.storage, &data_file) {
            (Storage::Dir(dir), Some(_)) => {
                let file = data_dir::prepare(dir).map_err(|source| StackError::DataDir {
                    path: dir.clone(),
                    source,
                })?;
                EmbeddedDynamo::open_file(&file)?
            }
            _ => dynoxide::Database::memory()
                .map_err(|e| circle_shared::embedded::EmbeddedError::Open(e.to_string()))?,
        };
        let sim = config
            .aws_sim
            .clone()
            .map(|c| AwsSim::new(c, Arc::new(circle_shared::clock::SystemClock)));
        let access = config.dynamo_access.clone().unwrap_or_else(Access::random);
        let dynamo = EmbeddedDynamo::serve_with_access(
            db,
            config.dynamo_port,
            config.sweep_every,
            sim.clone(),
            access,
        )
        .await?;
        let tables = TableNames::with_prefix("circle");
        dynamo.create_tables(&tables).await?;

        let mut settings = config.settings.clone();
        if let Storage::Dir(dir) = &config.storage {
            // Member ids and stored hashes must survive a restart with the data.
            settings.hash_key =
                data_dir::hash_key_in(dir).map_err(|source| StackError::DataDir {
                    path: dir.clone(),
                    source,
                })?;
        }
        settings.connection_ttl = settings
            .connection_ttl
            .max(config.limits.max_lifetime + Duration::from_secs(15 * 60));
        settings.max_frame_bytes = config.limits.max_message_bytes;
        let sdk = circle_shared::app::local_sdk_config();
        let gateway = ApiGatewayManagement::new(&sdk, &format!("http://{authority}"));
        let app = App::new(
            dynamo.client(),
            tables,
            Arc::new(gateway),
            Arc::new(circle_shared::clock::SystemClock),
            settings,
        );
        // Timers run in this process (on AWS: an SQS delay queue and a function).
        let (app, timers) = circle_shared::handlers::timer::LocalTimers::install(app);

        let shared = Arc::new(Shared {
            app,
            registry: Arc::new(Registry::default()),
            api: ApiInfo {
                domain_name: authority.clone(),
                stage: config.stage.clone(),
                api_id: "circle-local".to_owned(),
            },
            limits: config.limits,
            authority,
            page_csp: circle_shared::headers::content_security_policy([
                public.http.as_str(),
                public.ws.as_str(),
            ]),
            public,
            site: web::Site::locate(config.web_dir.as_deref()),
            closing: AtomicBool::new(false),
            lambdas: Arc::new(invoke::Lambdas::new(
                config.limits.max_concurrency,
                sim.clone(),
            )),
            sim,
            frames_in_flight_peak: std::sync::atomic::AtomicUsize::new(0),
        });

        let router = routes::router(&shared, &config.stage, &config.limits);
        let (stop, stopped) = oneshot::channel::<()>();
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });

        let stack = Self {
            shared,
            addr,
            dynamo,
            data_file,
            stop: Some(stop),
            server,
            timers,
            started_in: began.elapsed(),
        };
        tracing::info!(
            http = %stack.http_url(),
            dynamodb = %stack.dynamo_endpoint(),
            started_in_ms = stack.started_in.as_millis() as u64,
            "circle-local is up"
        );
        Ok(stack)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`: the page, `/groups`, `@connections`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.shared.authority)
    }

    /// `ws://127.0.0.1:PORT/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.shared.authority)
    }

    /// Where people open the page (`--public-url`, else [`Stack::http_url`]),
    /// without a trailing `/`.
    pub fn public_url(&self) -> &str {
        &self.shared.public.http
    }

    /// The management API's endpoint, as the SDK wants it.
    pub fn connections_endpoint(&self) -> String {
        self.http_url()
    }

    /// The embedded DynamoDB's endpoint.
    pub fn dynamo_endpoint(&self) -> String {
        self.dynamo.endpoint()
    }

    /// The database file, when file-backed.
    pub fn data_file(&self) -> Option<&std::path::Path> {
        self.data_file.as_deref()
    }

    /// The web directory being served, if one was found.
    pub fn web_dir(&self) -> Option<&std::path::Path> {
        self.shared.site.dir.as_deref()
    }

    /// How long [`Stack::start`] took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The `--aws-sim` simulation's counts (`enabled: false` when off).
    pub fn aws_sim(&self) -> circle_shared::aws_sim::SimSnapshot {
        self.shared
            .sim
            .as_ref()
            .map(|s| s.snapshot())
            .unwrap_or_default()
    }

    /// The handlers' context (store, gateway, metrics).
    pub fn app(&self) -> &App {
        &self.shared.app
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.shared.registry.len()
    }

    /// The id of the open connection whose client sent this `User-Agent` (for
    /// tests and tools: clients never learn their own id).
    pub fn connection_with_user_agent(&self, user_agent: &str) -> Option<String> {
        self.shared
            .registry
            .find(|c| c.info.user_agent.as_deref() == Some(user_agent))
    }

    /// Deletes expired items now, as DynamoDB's TTL eventually does; how many.
    pub async fn sweep_ttl(&self) -> Result<usize, String> {
        let db = self.dynamo.db.clone();
        tokio::task::spawn_blocking(move || db.sweep_ttl())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// The most frames of one connection ever handled at once (1 unless
    /// `concurrent_frames`).
    pub fn frames_in_flight_peak(&self) -> usize {
        self.shared.frames_in_flight_peak.load(Ordering::Relaxed)
    }

    /// Makes a client vanish without a close, as a phone that lost its network
    /// does on AWS (see `socket.rs`); `false` for an unknown id.
    pub fn vanish(&self, connection_id: &str) -> bool {
        match self.shared.registry.get(connection_id) {
            Some(conn) => {
                conn.vanish();
                true
            }
            None => false,
        }
    }

    /// The ids of the open connections (what `@connections` takes); for tests and
    /// tools, since clients never learn their own id.
    pub fn connection_ids(&self) -> Vec<String> {
        self.shared.registry.ids()
    }

    /// Stops accepting sockets, closes every socket (1001) and runs their
    /// `$disconnect`s, stops the HTTP server, then stops DynamoDB once its last
    /// request is done; data already written is on disk.
    pub async fn shutdown(mut self) {
        let began = Instant::now();
        self.shared.closing.store(true, Ordering::SeqCst);
        let open = self.shared.registry.len();
        self.shared.registry.close_all(1001, "Going away");
        if !self
            .shared
            .registry
            .wait_for_tasks(SHUTDOWN_STALL, SHUTDOWN_CAP)
            .await
        {
            tracing::warn!("some connections did not finish closing in time");
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(SERVER_WAIT, &mut self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => tracing::warn!(error = %err, "HTTP server ended with an error"),
            Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server task failed"),
            Err(_) => {
                tracing::warn!("HTTP server did not stop in time");
                self.server.abort();
            }
        }
        self.timers.abort();
        self.dynamo.shutdown().await;
        tracing::info!(
            closed_sockets = open,
            took_ms = began.elapsed().as_millis() as u64,
            "circle-local stopped"
        );
    }
}
