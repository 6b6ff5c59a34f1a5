//! What a stack is started with: addresses, storage, the API Gateway limits it
//! emulates, and the handlers' settings.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use circle_shared::Settings;
use circle_shared::aws_sim::SimConfig;
use circle_shared::embedded::Access;

/// API Gateway's WebSocket quotas, as the emulator enforces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A single frame's payload (32 KB on AWS).
    pub max_frame_bytes: usize,
    /// A whole (possibly fragmented) message (128 KB on AWS).
    pub max_message_bytes: usize,
    /// A connection with no frame from the client for this long is closed (10 min).
    pub idle_timeout: Duration,
    /// No connection lives longer than this (2 h).
    pub max_lifetime: Duration,
    /// How long an integration may run before the client is told it timed out (29 s).
    pub integration_timeout: Duration,
    /// Handlers running at once, like a Lambda concurrency limit; more wait their
    /// turn (within the integration timeout). Bounds the load (and the open
    /// connections) a burst, say 10,000 sockets closing at once, puts on the
    /// embedded DynamoDB.
    pub max_concurrency: usize,
    /// Invoke a connection's frames concurrently, as Lambda may (default: one
    /// at a time, in order).
    pub concurrent_frames: bool,
    /// Cut this route's handler off after this instead of its function's
    /// timeout from `template.yaml` (for tests of the cut-off).
    pub handler_timeout: Option<(&'static str, Duration)>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 32 * 1024,
            max_message_bytes: 128 * 1024,
            idle_timeout: Duration::from_secs(10 * 60),
            max_lifetime: Duration::from_secs(2 * 3600),
            integration_timeout: Duration::from_secs(29),
            max_concurrency: 64,
            concurrent_frames: false,
            handler_timeout: None,
        }
    }
}

/// Where the embedded DynamoDB keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Gone when the stack stops.
    Memory,
    /// `circle.db` (SQLite) and `hash.key` inside this directory, created
    /// if absent; owner-only (`0700`, files `0600`).
    Dir(PathBuf),
}

impl Storage {
    /// The database file, when file-backed.
    pub fn file(&self) -> Option<PathBuf> {
        match self {
            Storage::Memory => None,
            Storage::Dir(dir) => Some(dir.join("circle.db")),
        }
    }
}

/// Everything [`crate::Stack::start`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (loopback by default).
    pub host: IpAddr,
    /// The one port for page, HTTP API, WebSocket and `@connections`; 0 picks a free one.
    pub port: u16,
    /// The embedded DynamoDB's loopback port; 0 picks a free one.
    pub dynamo_port: u16,
    /// The only credentials the embedded DynamoDB takes; `None` (the default):
    /// random ones, new every run, known only to the stack.
    pub dynamo_access: Option<Access>,
    /// The URL people open the page at (`http(s)://host[:port]`), put in
    /// organiser links, `config.json` and the page's CSP; `None` (the
    /// default): the listen address. Never a request's `Host`.
    pub public_url: Option<String>,
    pub storage: Storage,
    /// The front end; `None` looks for `./web`, then the repository's `web/`.
    pub web_dir: Option<PathBuf>,
    /// The stage name put in events (`requestContext.stage`).
    pub stage: String,
    /// How often expired records are deleted (DynamoDB's TTL, sped up).
    pub sweep_every: Duration,
    pub limits: Limits,
    /// The handlers' settings; `connection_ttl` is raised to cover `max_lifetime`.
    pub settings: Settings,
    /// AWS's latency, transaction conflicts, throttles and cold starts,
    /// simulated (`--aws-sim`); `None` (the default) runs without.
    pub aws_sim: Option<SimConfig>,
}

impl Default for Config {
    /// `127.0.0.1:3000`, data in `.circle/`, API Gateway's limits.
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3000,
            dynamo_port: 0,
            dynamo_access: None,
            public_url: None,
            storage: Storage::Dir(PathBuf::from(".circle")),
            web_dir: None,
            stage: "local".to_owned(),
            sweep_every: Duration::from_secs(60),
            limits: Limits::default(),
            settings: Settings::default(),
            aws_sim: None,
        }
    }
}

impl Config {
    /// In memory on free ports: what tests want.
    pub fn ephemeral() -> Self {
        Self {
            port: 0,
            storage: Storage::Memory,
            ..Self::default()
        }
    }
}
