//! Request accounting: every DynamoDB call (with the capacity it consumed) and every
//! `@connections` call, so tests and benchmarks can print per-action costs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

impl DdbOp {
    pub const ALL: [DdbOp; 7] = [
        DdbOp::GetItem,
        DdbOp::PutItem,
        DdbOp::UpdateItem,
        DdbOp::DeleteItem,
        DdbOp::Query,
        DdbOp::Scan,
        DdbOp::TransactWriteItems,
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
        }
    }

    /// Whether it reads (else writes) for capacity accounting.
    pub fn is_read(self) -> bool {
        matches!(self, DdbOp::GetItem | DdbOp::Query | DdbOp::Scan)
    }
}

/// Live counters, shared by the store and the gateway wrapper.
#[derive(Debug, Default)]
pub struct Metrics {
    ops: [AtomicU64; 7],
    /// Conditional writes or transactions that were refused (lost races).
    conflicts: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
    gateway_posts: AtomicU64,
    gateway_gone: AtomicU64,
    gateway_deletes: AtomicU64,
}

impl Metrics {
    pub fn count_op(&self, op: DdbOp) {
        let i = DdbOp::ALL
            .iter()
            .position(|o| *o == op)
            .expect("every DdbOp is in ALL");
        self.ops[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
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

    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            ops: std::array::from_fn(|i| self.ops[i].load(Ordering::Relaxed)),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            read_units: self.read_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            write_units: self.write_milli_units.load(Ordering::Relaxed) as f64 / 1000.0,
            gateway_posts: self.gateway_posts.load(Ordering::Relaxed),
            gateway_gone: self.gateway_gone.load(Ordering::Relaxed),
            gateway_deletes: self.gateway_deletes.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of [`Metrics`]; subtract two to get the cost of what ran between.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricsSnapshot {
    pub ops: [u64; 7],
    pub conflicts: u64,
    pub read_units: f64,
    pub write_units: f64,
    pub gateway_posts: u64,
    pub gateway_gone: u64,
    pub gateway_deletes: u64,
}

impl MetricsSnapshot {
    pub fn op(&self, op: DdbOp) -> u64 {
        self.ops[DdbOp::ALL
            .iter()
            .position(|o| *o == op)
            .expect("every DdbOp is in ALL")]
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
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            gateway_posts: self.gateway_posts.saturating_sub(earlier.gateway_posts),
            gateway_gone: self.gateway_gone.saturating_sub(earlier.gateway_gone),
            gateway_deletes: self.gateway_deletes.saturating_sub(earlier.gateway_deletes),
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
            " rcu={:.1} wcu={:.1} conflicts={} posts={} gone={} deletes={}",
            self.read_units,
            self.write_units,
            self.conflicts,
            self.gateway_posts,
            self.gateway_gone,
            self.gateway_deletes
        )
    }
}
