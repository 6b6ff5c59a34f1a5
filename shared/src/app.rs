//! Everything a handler needs, built once per process (per Lambda container, or
//! once for the local stack): the store, the gateway, the clock, the timer
//! queue, the rate limiter and the settings.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::db::Store;
use crate::db::metrics::Metrics;
use crate::db::tables::TableNames;
use crate::gateway::{CountingGateway, Gateway};
use crate::ratelimit::{Limiter, RateLimits};
use crate::secrets::HashKey;
use crate::timers::{NoTimers, Timer, TimerQueue};

/// Tunables. Defaults follow `docs/design.md` and API Gateway's limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a circle lives (3 days).
    pub circle_ttl: Duration,
    /// A connection record's TTL: API Gateway's 2 h maximum plus a margin.
    pub connection_ttl: Duration,
    /// How long two people who just ended a room are kept apart.
    pub repeat_guard: Duration,
    /// Attempts at a leave or disconnect before giving up as busy.
    pub max_attempts: u32,
    /// The last resort of a join that the store keeps refusing: it gives up
    /// (as busy) after this long, inside its function's 20 s timeout, so a
    /// cut-off never leaves a half-told pairing. Lost races never end a join.
    pub join_budget: Duration,
    /// A lobby read showing this many new members (who could all be paired
    /// with each other) is a crowd, as is a lost race: the joiner waits and
    /// hands the pairing to the circle's matchmaker instead of racing the
    /// crowd to claim someone (`pairing::matchmaker`).
    pub crowd: usize,
    /// The largest frame the gateway will deliver (128 KB).
    pub max_frame_bytes: usize,
    /// Browser origins `$connect` accepts; `None` accepts any. Clients that send no
    /// `Origin` (non-browsers) are always accepted.
    pub allowed_origins: Option<Vec<String>>,
    /// How long a room is held for a member whose socket dropped without
    /// `leave_room` (`docs/design.md` Part 2).
    pub resume_grace: Duration,
    /// A waiter not heard from (join or keep-alive) for this long is not paired.
    pub presence_window: Duration,
    /// How long after a room ended it can still be blocked or reported.
    pub last_room_window: Duration,
    /// At most one lobby-count notice per waiter this often.
    pub notice_every: Duration,
    /// How long a round "minute" lasts: 60 s; shorter only for tests and demos
    /// of the local stack (`circle-local --round-minute`).
    pub round_minute: Duration,
    /// Lobby shards of a new circle (partition keys its lobby is spread over).
    pub lobby_shards: u32,
    /// Lobby entries read per page.
    pub lobby_page: i32,
    /// Rate limits per connection and per source address.
    pub limits: RateLimits,
    /// The page's base URL for `organizer_url` when a request does not tell it.
    pub public_url: Option<String>,
    /// Keys every stored hash (`HASH_KEY` on AWS).
    pub hash_key: HashKey,
}

impl Settings {
    /// Defaults, with `ALLOWED_ORIGINS` (comma-separated), `HASH_KEY`, `HTTP_URL`,
    /// `LOBBY_SHARDS`, `MAX_SOCKETS_PER_ADDRESS` and `REQUESTS_PER_MINUTE_PER_ADDRESS`
    /// (0: no cap) read from the environment.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let allowed_origins = var("ALLOWED_ORIGINS").and_then(|v| {
            let list: Vec<String> = v
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            (!list.is_empty()).then_some(list)
        });
        let defaults = Self::default();
        let number =
            |name: &str, default: u32| var(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        let limits = RateLimits {
            max_sockets_per_address: number(
                "MAX_SOCKETS_PER_ADDRESS",
                defaults.limits.max_sockets_per_address,
            ),
            requests_per_minute: number(
                "REQUESTS_PER_MINUTE_PER_ADDRESS",
                defaults.limits.requests_per_minute,
            ),
            ..defaults.limits
        };
        Self {
            allowed_origins,
            limits,
            hash_key: var("HASH_KEY")
                .map(|k| HashKey::new(k.into_bytes()))
                .unwrap_or(defaults.hash_key.clone()),
            public_url: var("HTTP_URL"),
            lobby_shards: var("LOBBY_SHARDS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(defaults.lobby_shards)
                .clamp(1, 64),
            ..defaults
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            circle_ttl: Duration::from_secs(3 * 24 * 3600),
            connection_ttl: Duration::from_secs(2 * 3600 + 15 * 60),
            repeat_guard: Duration::from_secs(30),
            max_attempts: 60,
            join_budget: Duration::from_secs(15),
            crowd: 2,
            max_frame_bytes: 128 * 1024,
            allowed_origins: None,
            resume_grace: Duration::from_secs(30),
            presence_window: Duration::from_secs(45),
            last_room_window: Duration::from_secs(600),
            notice_every: Duration::from_secs(5),
            round_minute: Duration::from_secs(60),
            lobby_shards: 1,
            lobby_page: 16,
            limits: RateLimits::default(),
            public_url: None,
            hash_key: HashKey::random(),
        }
    }
}

/// The handlers' context.
#[derive(Clone)]
pub struct App {
    /// The DynamoDB tables, with every request counted into `metrics`.
    pub store: Store,
    /// `@connections`, with every call counted into `metrics`.
    pub gateway: Arc<dyn Gateway>,
    /// Time: real, or driven by hand in tests.
    pub clock: Arc<dyn Clock>,
    /// The tunables.
    pub settings: Settings,
    /// Counters of every DynamoDB request, `@connections` call and timer.
    pub metrics: Arc<Metrics>,
    /// Where timers are scheduled; [`NoTimers`] unless set with [`App::with_timers`].
    pub timers: Arc<dyn TimerQueue>,
    /// This process's rate-limit buckets.
    pub limiter: Arc<Limiter>,
}

impl App {
    /// Wires a DynamoDB client and a gateway together; both are counted into one
    /// [`Metrics`]. No timer queue: see [`App::with_timers`].
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
            limiter: Arc::new(Limiter::new(settings.limits)),
            clock,
            settings,
            metrics,
            timers: Arc::new(NoTimers),
        }
    }

    /// The same app with a timer queue.
    pub fn with_timers(mut self, timers: Arc<dyn TimerQueue>) -> Self {
        self.timers = timers;
        self
    }

    /// Schedules through the app's queue, counting it; a failure is logged (the
    /// records it guards still expire, and a partner's next message ends a room
    /// whose hold ran out).
    pub async fn schedule(&self, timer: Timer) {
        self.metrics.count_timer();
        if let Err(err) = self.timers.schedule(timer.clone()).await {
            tracing::error!(error = %err, ?timer, "could not schedule a timer");
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

    /// Now from the app's clock, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Now from the app's clock, in epoch seconds.
    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    /// `d` in milliseconds, for adding to epoch times.
    pub fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
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
        .stalled_stream_protection(aws_types::sdk_config::StalledStreamProtectionConfig::disabled())
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
