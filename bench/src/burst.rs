//! One-circle burst mode: for each N, N clients on real sockets join one circle
//! at once (the organiser's "everyone join now"); time until the last is
//! paired, join latency, DynamoDB cost per join and the hottest partition.
//! Each size is a load run with one group and no messages or leaves, so the
//! same invariant checks apply.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::BenchError;
use crate::load::{self, LoadConfig, LoadReport};
use crate::stack::Target;

/// One size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BurstRow {
    pub clients: usize,
    /// First `join_group` sent to the last answer (`join_room` or `waiting`).
    pub all_paired_secs: f64,
    pub join_p50_ms: f64,
    pub join_p99_ms: f64,
    pub requests_per_join: f64,
    pub read_units_per_join: f64,
    pub write_units_per_join: f64,
    pub conflicts_per_join: f64,
    /// `TransactionConflict`s the core received, per join.
    pub transaction_conflicts_per_join: f64,
    /// Throttles the core received (after the SDK's own retries), in all.
    pub throttled: u64,
    /// What `--aws-sim` refused as over throughput (SDK retries included) and
    /// the cold starts it charged, in all.
    pub sim_throttles: u64,
    pub cold_starts: u64,
    /// Joins the clients sent again after a `rate_limited` (busy) answer.
    pub busy_retries: u64,
    pub posts_per_join: f64,
    /// Item operations per second on the busiest partition key.
    pub hot_partition_ops_per_sec: u64,
    pub hot_partition_kind: String,
    /// DynamoDB requests per second over the burst (the embedded store's load).
    pub ddb_requests_per_sec: f64,
    pub stack_cpu_cores: Option<f64>,
    pub paired: u64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BurstReport {
    pub rows: Vec<BurstRow>,
    pub runs: Vec<LoadReport>,
}

impl BurstReport {
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }
}

/// Runs a one-circle burst for each size in turn against one stack.
pub async fn run(
    sizes: &[usize],
    base: &LoadConfig,
    target: &Target,
    deadline: Instant,
) -> Result<BurstReport, BenchError> {
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for &n in sizes {
        if Instant::now() >= deadline {
            break;
        }
        let cfg = LoadConfig {
            clients: n,
            groups: 1,
            messages: 0,
            leave_fraction: 0.0,
            next_fraction: 0.0,
            // A 5,000 burst on a debug build needs more than a minute.
            phase_timeout: base.phase_timeout.max(Duration::from_secs(120)),
            ..base.clone()
        };
        tracing::info!(clients = n, "one-circle burst");
        let report = load::run(&cfg, target, deadline).await?;
        rows.push(row(&report));
        runs.push(report);
    }
    Ok(BurstReport { rows, runs })
}

fn row(report: &LoadReport) -> BurstRow {
    let join = report
        .phases
        .iter()
        .find(|p| p.name == "join (burst)")
        .cloned()
        .unwrap_or_default();
    let hot = report
        .rates
        .join_burst_hot_partition
        .clone()
        .unwrap_or_default();
    let a = &join.per_action;
    BurstRow {
        clients: report.config.clients,
        all_paired_secs: report.rates.join_burst_secs,
        join_p50_ms: report.latency.join_to_join_room.p50_ms,
        join_p99_ms: report.latency.join_to_join_room.p99_ms,
        requests_per_join: a.ddb_requests,
        read_units_per_join: a.read_units,
        write_units_per_join: a.write_units,
        conflicts_per_join: a.conflicts,
        transaction_conflicts_per_join: a.transaction_conflicts,
        throttled: join.total.throttled,
        sim_throttles: join.aws_sim.throttles,
        cold_starts: join.aws_sim.cold_starts,
        busy_retries: report.outcome.busy_retries,
        posts_per_join: a.gateway_posts,
        hot_partition_ops_per_sec: hot.ops_per_sec,
        hot_partition_kind: hot.kind,
        ddb_requests_per_sec: report.rates.join_burst_ddb_requests_per_sec,
        stack_cpu_cores: join.stack_cpu_cores,
        paired: report.outcome.paired_after_burst,
        ok: report.ok(),
    }
}

pub fn print(report: &BurstReport) {
    println!("\n== circle-bench burst: N clients join one circle at once ==");
    println!(
        "\n{:>6} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>12} {:>9} {:>6} {:>7}",
        "N",
        "all (s)",
        "p50 (ms)",
        "p99 (ms)",
        "req/join",
        "RCU/join",
        "WCU/join",
        "confl/join",
        "posts",
        "hot key op/s",
        "req/s",
        "cores",
        "paired"
    );
    for r in &report.rows {
        println!(
            "{:>6} {:>9.3} {:>9.1} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>7.2} {:>8} ({:<2}) {:>9.0} {:>6} {:>7}",
            r.clients,
            r.all_paired_secs,
            r.join_p50_ms,
            r.join_p99_ms,
            r.requests_per_join,
            r.read_units_per_join,
            r.write_units_per_join,
            r.conflicts_per_join,
            r.posts_per_join,
            r.hot_partition_ops_per_sec,
            r.hot_partition_kind,
            r.ddb_requests_per_sec,
            r.stack_cpu_cores
                .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            r.paired,
        );
    }
    if let (Some(first), Some(last)) = (report.rows.first(), report.rows.last())
        && first.requests_per_join > 0.0
        && report.rows.len() > 1
    {
        println!(
            "\nrequests per join at N={} vs N={}: {:+.1}%",
            last.clients,
            first.clients,
            (last.requests_per_join / first.requests_per_join - 1.0) * 100.0
        );
    }
    println!(
        "\n{:>6} {:>10} {:>10} {:>10} {:>11} {:>12}",
        "N", "txconf/join", "throttled", "sim thr.", "cold starts", "busy retries"
    );
    for r in &report.rows {
        println!(
            "{:>6} {:>10.3} {:>10} {:>10} {:>11} {:>12}",
            r.clients,
            r.transaction_conflicts_per_join,
            r.throttled,
            r.sim_throttles,
            r.cold_starts,
            r.busy_retries
        );
    }
    for (r, run) in report.rows.iter().zip(&report.runs) {
        if !r.ok {
            println!(
                "N={}: {} errors, {} invariant violations: {:?} {:?}",
                r.clients,
                run.errors.total,
                run.violations.total,
                run.errors.details,
                run.violations.details
            );
        }
    }
    println!("result: {}", if report.ok() { "OK" } else { "FAILED" });
}
