//! Per-phase cost accounting (diffs of the stack's counters) and output helpers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use circle_shared::db::metrics::DdbOp;
use serde::Serialize;

use crate::error::BenchError;
use crate::stack::{Counters, StackMetrics};

/// What one phase cost the stack, in total and per action.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseReport {
    pub name: String,
    /// How many actions (joins, messages, leaves, ...) the phase made.
    pub actions: u64,
    pub secs: f64,
    pub total: Counters,
    pub per_action: PerAction,
    pub rss_bytes_after: u64,
    pub peak_rss_bytes_after: u64,
    /// CPU the stack used in the phase, in cores (CPU seconds / wall seconds);
    /// only when the bench started the stack.
    pub stack_cpu_cores: Option<f64>,
    /// CPU this benchmark process used, in cores.
    pub bench_cpu_cores: Option<f64>,
    /// What `--aws-sim` refused and cold-started in the phase.
    pub aws_sim: crate::stack::SimCounts,
}

/// Counters divided by the number of actions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PerAction {
    pub ddb_requests: f64,
    pub ddb_reads: f64,
    pub ddb_writes: f64,
    pub by_op: BTreeMap<String, f64>,
    pub read_units: f64,
    pub write_units: f64,
    pub conflicts: f64,
    /// Refused with `TransactionConflict`, as the core counted them.
    pub transaction_conflicts: f64,
    /// Refused as over throughput after the SDK's retries, as the core counted them.
    pub throttled: f64,
    pub gateway_posts: f64,
    pub gateway_gone: f64,
    pub gateway_deletes: f64,
}

impl PhaseReport {
    pub fn new(
        name: &str,
        actions: u64,
        took: Duration,
        before: &StackMetrics,
        after: &StackMetrics,
    ) -> Self {
        let total = after.metrics.since(&before.metrics);
        let per = |n: u64| {
            if actions == 0 {
                0.0
            } else {
                n as f64 / actions as f64
            }
        };
        let perf = |x: f64| {
            if actions == 0 {
                0.0
            } else {
                x / actions as f64
            }
        };
        let by_op = DdbOp::ALL
            .iter()
            .filter(|op| total.op(**op) > 0)
            .map(|op| (op.name().to_owned(), per(total.op(*op))))
            .collect();
        Self {
            name: name.to_owned(),
            actions,
            secs: took.as_secs_f64(),
            per_action: PerAction {
                ddb_requests: per(total.ddb_requests()),
                ddb_reads: per(total.ddb_reads()),
                ddb_writes: per(total.ddb_writes()),
                by_op,
                read_units: perf(total.read_units),
                write_units: perf(total.write_units),
                conflicts: per(total.conflicts),
                transaction_conflicts: per(total.transaction_conflicts),
                throttled: per(total.throttled),
                gateway_posts: per(total.gateway_posts),
                gateway_gone: per(total.gateway_gone),
                gateway_deletes: per(total.gateway_deletes),
            },
            total,
            rss_bytes_after: after.rss_bytes,
            peak_rss_bytes_after: after.peak_rss_bytes,
            stack_cpu_cores: cores(before.stack_cpu_secs, after.stack_cpu_secs, took),
            bench_cpu_cores: cores(before.bench_cpu_secs, after.bench_cpu_secs, took),
            aws_sim: after.aws_sim.since(&before.aws_sim),
        }
    }
}

fn cores(before: Option<f64>, after: Option<f64>, took: Duration) -> Option<f64> {
    let secs = took.as_secs_f64();
    (secs > 0.0).then_some((after? - before?) / secs)
}

/// The per-action cost table.
pub fn print_phases(phases: &[PhaseReport]) {
    println!(
        "\n{:<16} {:>7} {:>7} {:>9} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}  DynamoDB ops per action",
        "per action",
        "n",
        "secs",
        "cpu s/b",
        "ddb req",
        "writes",
        "RCU",
        "WCU",
        "posts",
        "410",
        "confl"
    );
    for p in phases {
        let a = &p.per_action;
        let ops: Vec<String> = a
            .by_op
            .iter()
            .map(|(op, n)| format!("{op} {n:.2}"))
            .collect();
        let cpu = match (p.stack_cpu_cores, p.bench_cpu_cores) {
            (Some(s), Some(b)) => format!("{s:.2}/{b:.2}"),
            (None, Some(b)) => format!("-/{b:.2}"),
            _ => "-".to_owned(),
        };
        println!(
            "{:<16} {:>7} {:>7.2} {:>9} {:>7.2} {:>7.2} {:>6.2} {:>6.2} {:>6.2} {:>6.3} {:>6.3}  {}",
            p.name,
            p.actions,
            p.secs,
            cpu,
            a.ddb_requests,
            a.ddb_writes,
            a.read_units,
            a.write_units,
            a.gateway_posts,
            a.gateway_gone,
            a.conflicts,
            ops.join(", ")
        );
    }
    println!(
        "(per action: mean over the phase; cpu s/b = cores the stack / this bench used during the phase; RCU/WCU as DynamoDB reports them, transactions double)"
    );
    println!(
        "\n{:<16} {:>12} {:>10} {:>10} {:>10} {:>11}",
        "refusals", "txconf/act", "throttled", "aws-sim", "sim thr.", "cold starts"
    );
    for p in phases {
        println!(
            "{:<16} {:>12.3} {:>10} {:>10} {:>10} {:>11}",
            p.name,
            p.per_action.transaction_conflicts,
            p.total.throttled,
            if p.aws_sim.enabled { "on" } else { "off" },
            p.aws_sim.throttles,
            p.aws_sim.cold_starts
        );
    }
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), BenchError> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n")?;
    tracing::info!(path = %path.display(), "JSON report written");
    Ok(())
}
