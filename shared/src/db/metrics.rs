//! Request accounting: every DynamoDB call (with the capacity it consumed), every
//! `@connections` call, timers scheduled, and the busiest partition: item
//! operations per second on the single hottest partition key, the figure to
//! hold against DynamoDB's per-partition limits (3,000 RCU and 1,000 WCU a second).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The DynamoDB operations the core uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdbOp {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    TransactWriteItems,
    BatchGetItem,
    BatchWriteItem,
}

impl DdbOp {
    pub const ALL: [DdbOp; 9] = [
        DdbOp::GetItem,
        DdbOp::PutItem,
        DdbOp::UpdateItem,
        DdbOp::DeleteItem,
        DdbOp::Query,
        DdbOp::Scan,
        DdbOp::TransactWriteItems,
        DdbOp::BatchGetItem,
        DdbOp::BatchWriteItem,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DdbOp::GetItem => "GetItem",
            DdbOp::PutItem => "PutItem",
            DdbOp::UpdateItem => "UpdateItem",
            DdbOp::DeleteItem => "DeleteItem",
            DdbOp::Query => "Query",
            DdbOp::Scan => "Scan",
            DdbOp::TransactWriteItems => "TransactWriteItems",
            DdbOp::BatchGetItem => "BatchGetItem",
            DdbOp::BatchWriteItem => "BatchWriteItem",
        }
    }

    /// Whether it reads (else writes) for capacity accounting.
    pub fn is_read(self) -> bool {
        matches!(
            self,
            DdbOp::GetItem | DdbOp::Query | DdbOp::Scan | DdbOp::BatchGetItem
        )
    }

    fn index(self) -> usize {
        DdbOp::ALL
            .iter()
            .position(|o| *o == self)
            .expect("every DdbOp is in ALL")
    }
}

/// Item operations per partition key in the current one-second window, and the
/// busiest key-second seen since the last reset.
#[derive(Debug)]
struct HotKeys {
    origin: Instant,
    second: u64,
    counts: HashMap<String, u64>,
    peak: HotPartition,
}

/// The busiest partition key over any one second.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HotPartition {
    /// Item operations (a read, a write, or one item of a transaction or batch) on it that second.
    pub ops_per_sec: u64,
    /// The kind of item it holds (`L` lobby, `CODE` circle, `M` members, ...);
    /// never the key itself, which may hold an access code.
    pub kind: String,
}

impl HotKeys {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            second: 0,
            counts: HashMap::new(),
            peak: HotPartition::default(),
        }
    }

    fn close_window(&mut self) {
        if let Some((key, n)) = self.counts.iter().max_by_key(|(_, n)| **n)
            && *n > self.peak.ops_per_sec
        {
            self.peak = HotPartition {
                ops_per_sec: *n,
                kind: super::keys::kind_of(key).to_owned(),
            };
        }
        self.counts.clear();
    }
}

/// Live counters, shared by the store and the gateway wrapper.
#[derive(Debug)]
pub struct Metrics {
    ops: [AtomicU64; 9],
    /// Conditional writes or transactions that were refused (lost races).
    conflicts: AtomicU64,
    /// Requests refused with `TransactionConflict` (an item held by a
    /// transaction in flight).
    transaction_conflicts: AtomicU64,
    /// Requests refused as over throughput (after the SDK's own retries).
    throttled: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
    gateway_posts: AtomicU64,
    gateway_gone: AtomicU64,
    gateway_deletes: AtomicU64,
    timers: AtomicU64,
    hot: Mutex<HotKeys>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            ops: Default::default(),
            conflicts: AtomicU64::new(0),
            transaction_conflicts: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            read_milli_units: AtomicU64::new(0),
            write_milli_units: AtomicU64::new(0),
            gateway_posts: AtomicU64::new(0),
            gateway_gone: AtomicU64::new(0),
            gateway_deletes: AtomicU64::new(0),
            timers: AtomicU64::new(0),
            hot: Mutex::new(HotKeys::new()),
        }
    }
}

impl Metrics {
    pub fn count_op(&self, op: DdbOp) {
        self.ops[op.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one item operation on each partition key given.
    pub fn touch(&self, partitions: &[String]) {
        if partitions.is_empty() {
            return;
        }
        // A poisoned lock only means a panic elsewhere mid-count; the counts stay usable.
        let mut hot = self.hot.lock().unwrap_or_else(|p| p.into_inner());
        let second = hot.origin.elapsed().as_secs();
        if second != hot.second {
            hot.close_window();
            hot.second = second;
        }
        for p in partitions {
            *hot.counts.entry(p.clone()).or_insert(0) += 1;
        }
    }

    /// The busiest partition since the last reset (the current second included).
    pub fn hot_partition(&self) -> HotPartition {
        let mut hot = self.hot.lock().unwrap_or_else(|p| p.into_inner());
        let current = hot.counts.clone();
        hot.close_window();
        let peak = hot.peak.clone();
        hot.counts = current;
        peak
    }

    /// Starts a new hot-partition measurement (e.g. at the start of a bench phase).
    pub fn reset_hot_partition(&self) {
        let mut hot = self.hot.lock().unwrap_or_else(|p| p.into_inner());
        *hot = HotKeys::new();
    }

    pub fn count_conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_transaction_conflict(&self) {
        self.transaction_conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds consumed capacity units as reported by DynamoDB.
    pub fn add_capacity(&self, read_units: f64, write_units: f64) {
        // Capacity comes in halves and small multiples; thousandths keep it exact.
        self.read_milli_units
            .fetch_add((read_units * 1000.0).round() as u64, Ordering::Relaxed);
        self.write_milli_units
            .fetch_add((write_units * 1000.0).round() as u64, Ordering::Relaxed);
    }

    pub fn count_gateway_post(&self) {
        self.gateway_posts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_gateway_gone(&self) {
        self.gateway_gone.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_gateway_delete(&self) {
        self.gateway_deletes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_timer(&self) {
        self.timers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            ops: std::array::from_fn(|i| self.ops[i].load(Ordering::Relaxed)),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            transaction_conflicts: self.transaction_conflicts.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            read_units: self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            gateway_posts: self.gateway_posts.load(Ordering::Relaxed),
            gateway_gone: self.gateway_gone.load(Ordering::Relaxed),
            gateway_deletes: self.gateway_deletes.load(Ordering::Relaxed),
            timers: self.timers.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of [`Metrics`]; subtract two to get the cost of what ran between.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsSnapshot {
    pub ops: [u64; 9],
    pub conflicts: u64,
    /// Requests DynamoDB refused with `TransactionConflict`.
    #[serde(default)]
    pub transaction_conflicts: u64,
    /// Requests DynamoDB refused as over throughput.
    #[serde(default)]
    pub throttled: u64,
    pub read_units: f64,
    pub write_units: f64,
    pub gateway_posts: u64,
    pub gateway_gone: u64,
    pub gateway_deletes: u64,
    #[serde(default)]
    pub timers: u64,
}

impl MetricsSnapshot {
    pub fn op(&self, op: DdbOp) -> u64 {
        self.ops[op.index()]
    }

    pub fn ddb_requests(&self) -> u64 {
        self.ops.iter().sum()
    }

    pub fn ddb_writes(&self) -> u64 {
        DdbOp::ALL
            .iter()
            .filter(|o| !o.is_read())
            .map(|o| self.op(*o))
            .sum()
    }

    pub fn ddb_reads(&self) -> u64 {
        self.ddb_requests() - self.ddb_writes()
    }

    /// The change since `earlier` (saturating, should the counters have restarted).
    pub fn since(&self, earlier: &MetricsSnapshot) -> MetricsSnapshot {
        MetricsSnapshot {
            ops: std::array::from_fn(|i| self.ops[i].saturating_sub(earlier.ops[i])),
            conflicts: self.conflicts.saturating_sub(earlier.conflicts),
            transaction_conflicts: self
                .transaction_conflicts
                .saturating_sub(earlier.transaction_conflicts),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            gateway_posts: self.gateway_posts.saturating_sub(earlier.gateway_posts),
            gateway_gone: self.gateway_gone.saturating_sub(earlier.gateway_gone),
            gateway_deletes: self.gateway_deletes.saturating_sub(earlier.gateway_deletes),
            timers: self.timers.saturating_sub(earlier.timers),
        }
    }
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ddb={}", self.ddb_requests())?;
        for op in DdbOp::ALL {
            let n = self.op(op);
            if n > 0 {
                write!(f, " {}={n}", op.name())?;
            }
        }
        write!(
            f,
            " rcu={:.1} wcu={:.1} conflicts={} tx_conflicts={} throttled={} posts={} gone={} deletes={} timers={}",
            self.read_units,
            self.write_units,
            self.conflicts,
            self.transaction_conflicts,
            self.throttled,
            self.gateway_posts,
            self.gateway_gone,
            self.gateway_deletes,
            self.timers
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hottest_partition_is_counted_per_second() {
        let m = Metrics::default();
        for _ in 0..5 {
            m.touch(&["L#c#0".into(), "CODE#X".into()]);
        }
        m.touch(&["L#c#0".into()]);
        let hot = m.hot_partition();
        assert_eq!(hot.ops_per_sec, 6);
        assert_eq!(hot.kind, "L");
        m.reset_hot_partition();
        assert_eq!(m.hot_partition().ops_per_sec, 0);
    }
}
