//! Request accounting: every DynamoDB call (with the capacity it consumed), every
//! `@connections` call, timers scheduled, what the pairing did (pairings,
//! waits, retries, reports, rate-limit refusals), and the busiest partition: item
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
    /// `GetItem`: one item by key.
    GetItem,
    /// `PutItem`: writes a whole item.
    PutItem,
    /// `UpdateItem`: changes attributes of one item.
    UpdateItem,
    /// `DeleteItem`: deletes one item.
    DeleteItem,
    /// `Query`: a page of one partition (of a table or an index).
    Query,
    /// `Scan`: a page of a whole table (listings).
    Scan,
    /// `TransactWriteItems`: several writes, all or none.
    TransactWriteItems,
    /// `BatchGetItem`: several items by key in one request.
    BatchGetItem,
    /// `BatchWriteItem`: several puts or deletes in one request, each on its own.
    BatchWriteItem,
}

impl DdbOp {
    /// Every operation, in the order of [`MetricsSnapshot::ops`].
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

    /// The operation's AWS name, e.g. `GetItem`.
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
    pairings: AtomicU64,
    waits: AtomicU64,
    retries: AtomicU64,
    reports: AtomicU64,
    rate_limited: AtomicU64,
    tallies_lost: AtomicU64,
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
            pairings: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            reports: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            tallies_lost: AtomicU64::new(0),
            hot: Mutex::new(HotKeys::new()),
        }
    }
}

impl Metrics {
    /// Counts one request of `op`.
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

    /// Counts a lost race: a failed condition or a cancelled transaction.
    pub fn count_conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused with `TransactionConflict`.
    pub fn count_transaction_conflict(&self) {
        self.transaction_conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused as over throughput.
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

    /// Counts an `@connections` post.
    pub fn count_gateway_post(&self) {
        self.gateway_posts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a post that found the connection gone (410).
    pub fn count_gateway_gone(&self) {
        self.gateway_gone.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an `@connections` delete (a socket closed by us).
    pub fn count_gateway_delete(&self) {
        self.gateway_deletes.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a timer scheduled.
    pub fn count_timer(&self) {
        self.timers.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` pairings committed (two people put in a room).
    pub fn count_pairings(&self, n: u64) {
        self.pairings.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a joiner put in the lobby to wait.
    pub fn count_wait(&self) {
        self.waits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retry of an action's step after the store refused it (a lost
    /// race, a conflict or a throttle: `pairing::ops::backoff`). The store's
    /// own quick resends of a transaction that met a TransactionConflict are
    /// not retries here; they count as TransactionConflicts.
    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a report recorded.
    pub fn count_report(&self) {
        self.reports.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by a rate limit (a connection's allowance, an
    /// address's caps); a busy store is not one.
    pub fn count_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an activity count dropped after its retries (`activity`).
    pub fn count_tally_lost(&self) {
        self.tallies_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as they are now.
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
            pairings: self.pairings.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            reports: self.reports.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            tallies_lost: self.tallies_lost.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of [`Metrics`]; subtract two to get the cost of what ran between.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsSnapshot {
    /// Requests per operation, in [`DdbOp::ALL`]'s order.
    pub ops: [u64; 9],
    /// Lost races: failed conditions and cancelled transactions.
    pub conflicts: u64,
    /// Requests DynamoDB refused with `TransactionConflict`.
    #[serde(default)]
    pub transaction_conflicts: u64,
    /// Requests DynamoDB refused as over throughput.
    #[serde(default)]
    pub throttled: u64,
    /// Read capacity units consumed, as DynamoDB reported them.
    pub read_units: f64,
    /// Write capacity units consumed, as DynamoDB reported them.
    pub write_units: f64,
    /// `@connections` posts.
    pub gateway_posts: u64,
    /// Posts that found the connection gone (410).
    pub gateway_gone: u64,
    /// `@connections` deletes.
    pub gateway_deletes: u64,
    /// Timers scheduled.
    #[serde(default)]
    pub timers: u64,
    /// Pairings committed.
    #[serde(default)]
    pub pairings: u64,
    /// Joiners put in the lobby to wait.
    #[serde(default)]
    pub waits: u64,
    /// Retries after the store refused.
    #[serde(default)]
    pub retries: u64,
    /// Reports recorded.
    #[serde(default)]
    pub reports: u64,
    /// Requests refused by a rate limit.
    #[serde(default)]
    pub rate_limited: u64,
    /// Activity counts dropped after their retries (`activity`).
    #[serde(default)]
    pub tallies_lost: u64,
}

impl MetricsSnapshot {
    /// Requests of one operation.
    pub fn op(&self, op: DdbOp) -> u64 {
        self.ops[op.index()]
    }

    /// DynamoDB requests of every operation.
    pub fn ddb_requests(&self) -> u64 {
        self.ops.iter().sum()
    }

    /// Requests of the writing operations (see [`DdbOp::is_read`]).
    pub fn ddb_writes(&self) -> u64 {
        DdbOp::ALL
            .iter()
            .filter(|o| !o.is_read())
            .map(|o| self.op(*o))
            .sum()
    }

    /// Requests of the reading operations: `GetItem`, `Query`, `Scan`, `BatchGetItem`.
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
            pairings: self.pairings.saturating_sub(earlier.pairings),
            waits: self.waits.saturating_sub(earlier.waits),
            retries: self.retries.saturating_sub(earlier.retries),
            reports: self.reports.saturating_sub(earlier.reports),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            tallies_lost: self.tallies_lost.saturating_sub(earlier.tallies_lost),
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
        )?;
        write!(
            f,
            " pairings={} waits={} retries={} reports={} rate_limited={}",
            self.pairings, self.waits, self.retries, self.reports, self.rate_limited
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
