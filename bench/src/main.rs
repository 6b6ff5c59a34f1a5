//! `circle-bench`: drives a running Circle local stack over real WebSockets from a
//! second process and reports latencies, rates, invariant violations, memory and
//! the DynamoDB / `@connections` cost of every action. See bench/README.md.
//!
//! Exit status: 0 when the run had no errors and no invariant violations, 1 when
//! it had some (timings never fail a run), 2 when the benchmark itself could not run.

mod burst;
mod cost;
mod dynamo;
mod error;
mod http;
mod idle;
mod load;
mod report;
mod rounds;
mod stack;
mod stats;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde::Serialize;

use error::BenchError;
use stack::{SpawnedStack, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// Join burst, messages, leaves, requeues, disconnects.
    Load,
    /// N clients join one circle at once, for each N in --sizes.
    Burst,
    /// One circle of --clients members through --rounds timed rounds.
    Rounds,
    /// Many idle sockets; the stack's memory.
    Idle,
    /// The embedded DynamoDB's own request rate (no stack needed).
    Dynamo,
}

/// Load generator for Circle's local stack.
#[derive(Debug, Parser)]
#[command(name = "circle-bench", version)]
struct Args {
    #[arg(long, value_enum, default_value_t = Mode::Load)]
    mode: Mode,
    /// The running stack's HTTP address (ignored with --spawn-stack).
    #[arg(long, default_value = "http://127.0.0.1:3000", env = "CIRCLE_URL")]
    url: String,
    /// Start circle-local (--memory, a free port) for this run and stop it after.
    #[arg(long)]
    spawn_stack: bool,
    /// The circle-local binary for --spawn-stack (default: next to this binary,
    /// else target/release, else target/debug).
    #[arg(long)]
    stack_bin: Option<PathBuf>,
    /// Where the spawned stack's log goes (RUST_LOG for it: CIRCLE_STACK_LOG, default warn).
    #[arg(long)]
    stack_log: Option<PathBuf>,
    /// Extra arguments for a spawned stack (repeat the flag), after
    /// `--memory --port 0 --limits-scale 100`; the bench is many people behind
    /// one address, so the per-address create limit is raised.
    #[arg(long = "stack-arg", allow_hyphen_values = true)]
    stack_args: Vec<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Hard deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
    /// Small and quick, for CI: 40 clients, 4 groups, 5 messages each at 200/s,
    /// 15 s phase timeout, 60 s deadline. Fails on errors or invariant violations only.
    #[arg(long)]
    smoke: bool,

    /// Load: clients.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Load: groups the clients are spread over (round-robin).
    #[arg(long, default_value_t = 50)]
    groups: usize,
    /// Load: messages each paired client sends.
    #[arg(long, default_value_t = 20)]
    messages: usize,
    /// Load: aggregate messages per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Load: size of each message's text.
    #[arg(long, default_value_t = 64)]
    payload_bytes: usize,
    /// Load: share of pairs where one member leaves.
    #[arg(long, default_value_t = 0.1)]
    leave_fraction: f64,
    /// Load: share of pairs where one member leaves with requeue ("next") and the
    /// other joins again.
    #[arg(long, default_value_t = 0.3)]
    next_fraction: f64,
    /// Load and idle: WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Load: the longest one phase may take, in seconds.
    #[arg(long, default_value_t = 60)]
    phase_timeout_secs: u64,
    /// Load: silence required after a phase's goal is met, in milliseconds.
    #[arg(long, default_value_t = 300)]
    quiet_ms: u64,
    /// Load: the stack's repeat guard (Settings::repeat_guard), in seconds.
    #[arg(long, default_value_t = 30)]
    repeat_guard_secs: u64,
    /// Load, burst and rounds: labels per circle (0: none); clients join with them in turn.
    #[arg(long, default_value_t = 0)]
    labels: usize,

    /// Burst: the circle sizes, one burst each, in order.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000, 5000])]
    sizes: Vec<usize>,

    /// Rounds: how many rounds to run.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Rounds: a spawned stack's round "minute", in seconds (a round is two,
    /// the shortest an organiser may set).
    #[arg(long, default_value_t = 5.0)]
    round_secs: f64,

    /// Idle: sockets to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Idle: how long to hold them before reading memory, in seconds.
    #[arg(long, default_value_t = 3.0)]
    hold_secs: f64,

    /// Dynamo: seconds per operation.
    #[arg(long, default_value_t = 3.0)]
    dynamo_secs: f64,
    /// Dynamo: concurrent requests.
    #[arg(long, default_value_t = 8)]
    dynamo_concurrency: usize,
}

impl Args {
    fn apply_smoke(&mut self) {
        if self.smoke {
            self.clients = 40;
            self.groups = 4;
            self.messages = 5;
            self.rate = 200.0;
            self.leave_fraction = 0.25;
            self.next_fraction = 0.25;
            self.phase_timeout_secs = 15;
            self.quiet_ms = 200;
            self.deadline_secs = self.deadline_secs.min(60);
            self.connections = self.connections.min(200);
            self.hold_secs = self.hold_secs.min(1.0);
            self.dynamo_secs = self.dynamo_secs.min(0.5);
            self.sizes = vec![40, 100];
        }
    }

    fn load_config(&self) -> load::LoadConfig {
        load::LoadConfig {
            clients: self.clients,
            groups: self.groups,
            messages: self.messages,
            rate: self.rate,
            payload_bytes: self.payload_bytes,
            leave_fraction: self.leave_fraction.clamp(0.0, 1.0),
            next_fraction: self.next_fraction.clamp(0.0, 1.0),
            connect_concurrency: self.connect_concurrency,
            phase_timeout: Duration::from_secs(self.phase_timeout_secs),
            quiet: Duration::from_millis(self.quiet_ms),
            repeat_guard: Duration::from_secs(self.repeat_guard_secs),
            labels: self.labels,
        }
    }

    /// Sockets this process (and a spawned stack) will hold at once.
    fn sockets_needed(&self) -> u64 {
        match self.mode {
            Mode::Load => self.clients as u64,
            Mode::Burst => self.sizes.iter().copied().max().unwrap_or(0) as u64,
            Mode::Rounds => self.clients as u64,
            Mode::Idle => self.connections as u64,
            Mode::Dynamo => 0,
        }
    }
}

/// The JSON file.
#[derive(Serialize)]
struct Output<'a, R: Serialize> {
    mode: Mode,
    stack_binary: Option<String>,
    stack_addr: Option<String>,
    ok: bool,
    report: &'a R,
}

fn parse_addr(url: &str) -> Result<SocketAddr, BenchError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    rest.split('/')
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| BenchError::Usage(format!("--url {url:?} is not http://IP:PORT")))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let mut args = Args::parse();
    args.apply_smoke();
    let hard_stop = Duration::from_secs(args.deadline_secs + 60);
    match tokio::time::timeout(hard_stop, run(args)).await {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        Ok(Ok(false)) => ExitCode::from(1),
        Ok(Err(err)) => {
            eprintln!("circle-bench: {err}");
            ExitCode::from(2)
        }
        Err(_) => {
            eprintln!("circle-bench: {}", BenchError::Deadline(hard_stop));
            ExitCode::from(2)
        }
    }
}

/// Runs the chosen mode; whether it passed.
async fn run(args: Args) -> Result<bool, BenchError> {
    let deadline = Instant::now() + Duration::from_secs(args.deadline_secs);
    let needed = args.sockets_needed();
    if needed > 0
        && let Some(soft) = stack::open_file_limit()
        && soft < needed + 64
    {
        return Err(BenchError::FileLimit {
            soft,
            needed: needed + 256,
        });
    }
    if args.mode == Mode::Dynamo {
        let cfg = dynamo::DynamoConfig {
            secs_per_op: args.dynamo_secs,
            concurrency: args.dynamo_concurrency,
        };
        let report = dynamo::run(&cfg, deadline).await?;
        dynamo::print(&report);
        write(&args, None, true, &report)?;
        return Ok(true);
    }

    let spawned = if args.spawn_stack {
        let binary = match &args.stack_bin {
            Some(b) => b.clone(),
            None => stack::find_stack_binary().ok_or_else(|| {
                BenchError::Spawn(
                    "no circle-local binary found; build it first: cargo build --release -p circle-local"
                        .into(),
                )
            })?,
        };
        let log = args
            .stack_log
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("circle-bench-stack.log"));
        let mut extra = vec!["--limits-scale".to_owned(), "100".to_owned()];
        if args.mode == Mode::Rounds {
            extra.push(format!(
                "--round-minute={}ms",
                (args.round_secs * 1000.0) as u64
            ));
        }
        extra.extend(args.stack_args.iter().cloned());
        Some(SpawnedStack::start(&binary, &log, &extra).await?)
    } else {
        None
    };
    let target = match &spawned {
        Some(s) => s.target.clone(),
        None => Target {
            addr: parse_addr(&args.url)?,
            pid: None,
        },
    };
    let result = run_against(&args, &target, spawned.as_ref(), deadline).await;
    if let Some(s) = spawned {
        s.stop().await;
    }
    result
}

async fn run_against(
    args: &Args,
    target: &Target,
    spawned: Option<&SpawnedStack>,
    deadline: Instant,
) -> Result<bool, BenchError> {
    // Fail early and clearly when the stack is not there.
    target.metrics().await?;
    match args.mode {
        Mode::Load => {
            let report = load::run(&args.load_config(), target, deadline).await?;
            load::print(&report);
            write(args, Some((spawned, target)), report.ok(), &report)?;
            Ok(report.ok())
        }
        Mode::Burst => {
            let report = burst::run(&args.sizes, &args.load_config(), target, deadline).await?;
            burst::print(&report);
            write(args, Some((spawned, target)), report.ok(), &report)?;
            Ok(report.ok())
        }
        Mode::Rounds => {
            let cfg = rounds::RoundsConfig {
                clients: args.clients,
                rounds: args.rounds,
                connect_concurrency: args.connect_concurrency,
                timeout: Duration::from_secs(args.deadline_secs),
                labels: args.labels,
            };
            let report = rounds::run(&cfg, target).await?;
            rounds::print(&report);
            write(args, Some((spawned, target)), report.ok(), &report)?;
            Ok(report.ok())
        }
        Mode::Idle => {
            let cfg = idle::IdleConfig {
                connections: args.connections,
                concurrency: args.connect_concurrency,
                hold_secs: args.hold_secs,
            };
            let report = idle::run(&cfg, target, deadline).await?;
            idle::print(&report);
            write(args, Some((spawned, target)), report.ok, &report)?;
            Ok(report.ok)
        }
        Mode::Dynamo => unreachable!("dynamo runs without a stack, before this"),
    }
}

fn write<R: Serialize>(
    args: &Args,
    stack: Option<(Option<&SpawnedStack>, &Target)>,
    ok: bool,
    report: &R,
) -> Result<(), BenchError> {
    let Some(path) = &args.json else {
        return Ok(());
    };
    let out = Output {
        mode: args.mode,
        stack_binary: stack
            .and_then(|(s, _)| s)
            .map(|s| s.binary.display().to_string()),
        stack_addr: stack.map(|(_, t)| t.addr.to_string()),
        ok,
        report,
    };
    report::write_json(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_is_small_and_urls_parse() {
        let mut args = Args::try_parse_from(["circle-bench", "--spawn-stack", "--smoke"])
            .expect("valid arguments");
        args.apply_smoke();
        assert_eq!(args.clients, 40);
        assert!(args.deadline_secs <= 60);
        assert_eq!(
            parse_addr("http://127.0.0.1:3000").expect("an address"),
            "127.0.0.1:3000".parse::<SocketAddr>().expect("an address")
        );
        assert!(parse_addr("localhost").is_err());
    }
}
