//! `circle-local`: runs all of Circle on this machine until Ctrl-C or SIGTERM.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use circle_local::public_url::PublicUrl;
use circle_local::{Config, Limits, Stack, Storage};
use circle_shared::aws_sim::{Latency, SimConfig};
use circle_shared::embedded::Access;
use clap::Parser;

/// mimalloc rather than glibc's malloc: the relay path allocates many small,
/// short-lived buffers on both worker threads (SDK requests, JSON, frames);
/// bench/README.md has the before/after figures. The Lambdas keep the system
/// allocator: one request at a time, and a zip budget.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// All of Circle on one machine: the page, the HTTP API, an API Gateway WebSocket
/// emulator with `@connections`, and an embedded DynamoDB. No cloud account, no Docker.
#[derive(Debug, Parser)]
#[command(name = "circle-local", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "CIRCLE_HOST")]
    host: IpAddr,
    /// Port for the page, HTTP API, WebSocket API and @connections (0: any free port).
    #[arg(long, default_value_t = 3000, env = "CIRCLE_PORT")]
    port: u16,
    /// Directory for the database file (circle.db).
    #[arg(long, default_value = ".circle", env = "CIRCLE_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep data in memory only (lost on exit).
    #[arg(long, conflicts_with = "data_dir")]
    memory: bool,
    /// The URL people open the page at, put in organiser links and config.json
    /// (e.g. https://circle.example behind a proxy; default: the listen address).
    #[arg(long, env = "CIRCLE_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Port for the embedded DynamoDB endpoint (0: any free port).
    #[arg(long, default_value_t = 0)]
    dynamo_port: u16,
    /// KEY_ID:SECRET, the only credentials the embedded DynamoDB takes, for
    /// other processes that must reach it (default: random, new every run).
    #[arg(long, env = "CIRCLE_DYNAMO_CREDENTIALS", hide_env_values = true, value_parser = parse_credentials)]
    dynamo_credentials: Option<Access>,
    /// Directory with the web page (default: ./web, else the repository's web/).
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// Close a socket after this long without a frame from its client (e.g. 600s, 10m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Close every socket after this long (e.g. 2h).
    #[arg(long, default_value = "2h", value_parser = parse_duration)]
    max_lifetime: Duration,
    /// Browser origins allowed to open a socket, comma-separated (default: any).
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// How often expired records are swept.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    sweep_every: Duration,
    /// Route handlers running at once (like a Lambda concurrency limit); more wait.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Invoke a connection's frames concurrently, as Lambda may (default: in order).
    #[arg(long)]
    concurrent_frames: bool,
    /// How long a room is held for a member whose socket dropped (e.g. 30s).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    resume_grace: Duration,
    /// Stage name put in WebSocket events.
    #[arg(long, default_value = "local")]
    stage: String,
    /// Multiply every rate limit (messages, joins, blocks, reports, circles per
    /// address) by this; a benchmark's own stack may raise them. Default: docs/design.md's.
    #[arg(long, default_value_t = 1.0)]
    limits_scale: f64,
    /// How long a round's "minute" lasts (60s; shorter for tests and demos, e.g. 2s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    round_minute: Duration,
    /// Partition keys a new circle's lobby is spread over (see docs/scale.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    lobby_shards: u32,
    /// Simulate what AWS does that the embedded store can't show: DynamoDB and
    /// @connections latency, TransactionConflict, per-partition throughput and
    /// Lambda cold starts (see docs/scale.md). Off by default.
    #[arg(long)]
    aws_sim: bool,
    /// With --aws-sim: DynamoDB latency, median and 99th percentile (ms).
    #[arg(long, default_value_t = 4.0, requires = "aws_sim")]
    sim_dynamo_median_ms: f64,
    #[arg(long, default_value_t = 15.0, requires = "aws_sim")]
    sim_dynamo_p99_ms: f64,
    /// With --aws-sim: @connections latency, median and 99th percentile (ms).
    #[arg(long, default_value_t = 6.0, requires = "aws_sim")]
    sim_post_median_ms: f64,
    #[arg(long, default_value_t = 25.0, requires = "aws_sim")]
    sim_post_p99_ms: f64,
    /// With --aws-sim: read and write units per second per partition key.
    #[arg(long, default_value_t = 3000.0, requires = "aws_sim")]
    sim_partition_rcu: f64,
    #[arg(long, default_value_t = 1000.0, requires = "aws_sim")]
    sim_partition_wcu: f64,
    /// With --aws-sim: seconds of unused capacity a partition may spend at once.
    #[arg(long, default_value_t = 1.0, requires = "aws_sim")]
    sim_burst_secs: f64,
    /// With --aws-sim: a new concurrent Lambda instance's init time (e.g. 30ms).
    #[arg(long, default_value = "30ms", value_parser = parse_duration, requires = "aws_sim")]
    sim_cold_start: Duration,
}

/// `500ms`, `30s`, `10m`, `2h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 10m or 2h"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        other => return Err(format!("unknown unit {other:?}; use ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("a duration must be more than zero".into());
    }
    Ok(d)
}

/// A `--public-url`, checked.
fn parse_public_url(s: &str) -> Result<String, String> {
    PublicUrl::parse(s)
        .map(|url| url.http)
        .map_err(|e| e.to_string())
}

/// `KEY_ID:SECRET`.
fn parse_credentials(s: &str) -> Result<Access, String> {
    let (key_id, secret) = s.split_once(':').ok_or("credentials are KEY_ID:SECRET")?;
    Access::new(key_id, secret).map_err(|e| e.to_string())
}

fn config(args: Args) -> Config {
    let mut settings = circle_shared::Settings::from_env();
    let origins: Vec<String> = args
        .allowed_origins
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    if !origins.is_empty() {
        settings.allowed_origins = Some(origins);
    }
    settings.limits = settings.limits.scaled(args.limits_scale);
    settings.lobby_shards = args.lobby_shards;
    settings.round_minute = args.round_minute;
    settings.resume_grace = args.resume_grace;
    let aws_sim = args.aws_sim.then_some(SimConfig {
        dynamo_latency: Latency {
            median_ms: args.sim_dynamo_median_ms,
            p99_ms: args.sim_dynamo_p99_ms,
        },
        post_latency: Latency {
            median_ms: args.sim_post_median_ms,
            p99_ms: args.sim_post_p99_ms,
        },
        partition_rcu: args.sim_partition_rcu,
        partition_wcu: args.sim_partition_wcu,
        burst_secs: args.sim_burst_secs,
        cold_start: args.sim_cold_start,
    });
    Config {
        host: args.host,
        port: args.port,
        dynamo_port: args.dynamo_port,
        dynamo_access: args.dynamo_credentials,
        public_url: args.public_url,
        storage: if args.memory {
            Storage::Memory
        } else {
            Storage::Dir(args.data_dir)
        },
        web_dir: args.web_dir,
        stage: args.stage,
        sweep_every: args.sweep_every,
        limits: Limits {
            idle_timeout: args.idle_timeout,
            max_lifetime: args.max_lifetime,
            max_concurrency: usize::from(args.concurrency),
            concurrent_frames: args.concurrent_frames,
            ..Limits::default()
        },
        settings,
        aws_sim,
    }
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Logs to the terminal at `RUST_LOG` (default info), except that the SDK's,
/// the embedded DynamoDB's and the wire's targets
/// ([`circle_shared::logs::QUIET_TARGETS`]) stay at info or quieter: at
/// debug and trace they print items and frames, which hold personal data.
fn init_logging() {
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    log_subscriber(filter, std::io::stdout).init();
}

/// The terminal subscriber for `filter`, writing to `writer`.
fn log_subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    let quiet = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(circle_shared::logs::directives());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(quiet)
}

#[tokio::main]
async fn main() -> ExitCode {
    let began = Instant::now();
    let args = Args::parse();
    init_logging();

    let config = config(args);
    let origins = config.settings.allowed_origins.clone();
    let aws_sim = config.aws_sim.clone();
    let stack = match Stack::start(config).await {
        Ok(s) => s,
        Err(err) => {
            eprintln!("circle-local could not start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let http = stack.http_url();
    let storage = match stack.data_file() {
        Some(f) => format!("file {}", f.display()),
        None => "in memory".to_owned(),
    };
    let web = match stack.web_dir() {
        Some(d) => format!("from {}", d.display()),
        None => "placeholder (no web/ directory found)".to_owned(),
    };
    println!(
        "Circle is running (ready in {} ms)",
        began.elapsed().as_millis()
    );
    println!("  page          {}/   ({web})", stack.public_url());
    println!("  HTTP API      {http}/groups");
    println!("  WebSocket     {}", stack.ws_url());
    println!("  @connections  {http}/@connections/{{connectionId}}");
    println!(
        "  DynamoDB      {}   ({storage}; this stack only)",
        stack.dynamo_endpoint()
    );
    println!("  metrics       {http}/_local/metrics");
    if let Some(sim) = &aws_sim {
        println!(
            "  aws-sim       on: DynamoDB {}/{} ms, posts {}/{} ms (median/p99), {}/{} RCU/WCU per partition, cold start {:?}",
            sim.dynamo_latency.median_ms,
            sim.dynamo_latency.p99_ms,
            sim.post_latency.median_ms,
            sim.post_latency.p99_ms,
            sim.partition_rcu,
            sim.partition_wcu,
            sim.cold_start
        );
    }
    if let Some(origins) = origins {
        println!("  origins       {}", origins.join(", "));
    }
    println!("Press Ctrl-C to stop.");

    stop_signal().await;
    println!("Stopping… (Ctrl-C again to quit at once)");
    tokio::spawn(async {
        stop_signal().await;
        eprintln!("circle-local: quitting without a clean shutdown");
        std::process::exit(130);
    });
    stack.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_trace_leaves_the_sdk_and_the_store_at_info() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Out(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Out {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("not poisoned").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let writer = out.clone();
        let filter = tracing_subscriber::EnvFilter::new("trace,dynoxide=trace");
        let subscriber = log_subscriber(filter, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "dynoxide::server", "a request body");
            tracing::debug!(target: "aws_smithy_runtime::client", "an SDK request");
            tracing::debug!(target: "tungstenite::protocol", "a frame");
            tracing::info!(target: "aws_smithy_runtime::client", "kept");
            tracing::debug!(target: "circle_local::socket", "ours");
        });
        let text = String::from_utf8(out.0.lock().expect("not poisoned").clone()).expect("UTF-8");
        for hidden in ["a request body", "an SDK request", "a frame"] {
            assert!(!text.contains(hidden), "{hidden:?} in {text}");
        }
        assert!(text.contains("kept") && text.contains("ours"), "{text}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    fn config_of(argv: &[&str]) -> Config {
        config(Args::try_parse_from(argv).expect("valid arguments"))
    }

    #[test]
    fn cli_parses() {
        let args = Args::try_parse_from([
            "circle-local",
            "--memory",
            "--port",
            "0",
            "--idle-timeout",
            "1s",
        ])
        .expect("valid arguments");
        let config = config(args);
        assert_eq!(config.storage, Storage::Memory);
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(1));
        assert!(Args::try_parse_from(["circle-local", "--memory", "--data-dir", "x"]).is_err());
        assert_eq!(config.aws_sim, None, "off by default");
        assert_eq!(config.public_url, None, "the listen address by default");
        assert_eq!(config.dynamo_access, None, "random credentials by default");
        let public = config_of(&["circle-local", "--public-url", "https://circle.example/"]);
        assert_eq!(public.public_url.as_deref(), Some("https://circle.example"));
        assert!(Args::try_parse_from(["circle-local", "--public-url", "circle.example"]).is_err());
        let creds = config_of(&["circle-local", "--dynamo-credentials", "dev:s3cret"]);
        assert_eq!(creds.dynamo_access, Access::new("dev", "s3cret").ok());
        assert!(Args::try_parse_from(["circle-local", "--dynamo-credentials", "dev"]).is_err());
        let sim = config_of(&["circle-local", "--aws-sim", "--sim-partition-wcu", "50"]);
        assert_eq!(sim.aws_sim.map(|s| s.partition_wcu), Some(50.0));
        assert!(
            Args::try_parse_from(["circle-local", "--sim-partition-wcu", "50"]).is_err(),
            "the knobs need --aws-sim"
        );
    }
}
