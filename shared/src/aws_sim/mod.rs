//! `--aws-sim`: what AWS does that the embedded store and the emulator can't
//! show by themselves, simulated on purpose and faithfully to AWS's
//! documentation, so the local stack, the tests and the benchmarks meet it.
//!
//! - **Latency** on every DynamoDB request and `@connections` post, drawn from
//!   a log-normal distribution fitted to a median and a p99.
//! - **`TransactionConflict`**: a `TransactWriteItems` holds its items while it
//!   is in flight; another transaction touching one of them is cancelled
//!   (`TransactionCanceledException`, reason `TransactionConflict` at that
//!   item's position), and a `PutItem`, `UpdateItem` or `DeleteItem` on one
//!   fails with `TransactionConflictException`. Reads are never blocked.
//! - **Per-partition throughput**: a token bucket per partition key (3,000
//!   RCU/s and 1,000 WCU/s, with a burst allowance); beyond it,
//!   `ProvisionedThroughputExceededException`.
//! - **Lambda cold starts**: each new concurrent instance of a function pays an
//!   init time once ([`Instances`]).
//!
//! [`proxy`] puts the first three in front of the embedded DynamoDB; the
//! emulator applies post latency and cold starts. docs/scale.md says what this
//! models and what it doesn't.

pub mod proxy;
pub mod rules;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand_distr::{Distribution, LogNormal};

use crate::clock::Clock;
use rules::{Charge, ItemId};

/// A latency distribution: log-normal with this median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median delay, in milliseconds (0 or less: no delay).
    pub median_ms: f64,
    /// The 99th-percentile delay, in milliseconds (taken as the median if below it).
    pub p99_ms: f64,
}

impl Latency {
    /// The z-score of the 99th percentile of a standard normal.
    const Z99: f64 = 2.326_347_874;

    /// No delay.
    pub const NONE: Latency = Latency {
        median_ms: 0.0,
        p99_ms: 0.0,
    };

    /// One draw.
    pub fn sample(&self) -> Duration {
        if self.median_ms <= 0.0 {
            return Duration::ZERO;
        }
        let sigma = (self.p99_ms.max(self.median_ms) / self.median_ms).ln() / Self::Z99;
        let ms = match LogNormal::new(self.median_ms.ln(), sigma) {
            Ok(d) => d.sample(&mut rand::rng()),
            Err(_) => self.median_ms,
        };
        Duration::from_secs_f64(ms.clamp(0.0, 10_000.0) / 1000.0)
    }
}

/// The simulation's knobs (`circle-local --aws-sim` and its `--sim-*` flags).
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Each DynamoDB request (a transaction draws twice: it prepares, then commits).
    pub dynamo_latency: Latency,
    /// Each `@connections` call.
    pub post_latency: Latency,
    /// Read capacity units per partition key per second.
    pub partition_rcu: f64,
    /// Write capacity units per partition key per second.
    pub partition_wcu: f64,
    /// How many seconds of unused capacity a partition may spend at once.
    pub burst_secs: f64,
    /// A new concurrent Lambda instance's init time.
    pub cold_start: Duration,
}

impl Default for SimConfig {
    /// DynamoDB's in-region figures (median 4 ms, p99 15 ms); `@connections`
    /// a little slower (median 6 ms, p99 25 ms); DynamoDB's per-partition
    /// limits with one second of burst; a 30 ms Rust cold start.
    fn default() -> Self {
        Self {
            dynamo_latency: Latency {
                median_ms: 4.0,
                p99_ms: 15.0,
            },
            post_latency: Latency {
                median_ms: 6.0,
                p99_ms: 25.0,
            },
            partition_rcu: 3000.0,
            partition_wcu: 1000.0,
            burst_secs: 1.0,
            cold_start: Duration::from_millis(30),
        }
    }
}

/// What the simulation did, for `/_local/metrics` (`aws_sim`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SimSnapshot {
    /// Whether the simulation is on (`false` in the default, empty snapshot).
    pub enabled: bool,
    /// Requests refused because a transaction in flight held one of their items.
    pub transaction_conflicts: u64,
    /// Requests refused as over a partition's throughput.
    pub throttles: u64,
    /// Lambda instances that paid the init time.
    pub cold_starts: u64,
}

#[derive(Debug)]
struct Bucket {
    read: f64,
    write: f64,
    at_ms: i64,
}

/// The simulation's state: held items, partition buckets, counters.
#[derive(Debug)]
pub struct AwsSim {
    /// The knobs it runs with.
    pub config: SimConfig,
    clock: Arc<dyn Clock>,
    holds: Mutex<HashMap<ItemId, u64>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    next_tx: AtomicU64,
    held: tokio::sync::watch::Sender<usize>,
    /// Transactions wait here, holding their items, before they commit: a
    /// test takes the write side to keep one in flight.
    commit_gate: tokio::sync::RwLock<()>,
    transaction_conflicts: AtomicU64,
    throttles: AtomicU64,
    cold_starts: AtomicU64,
}

/// Why the simulation refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The items at these positions are held by a transaction in flight.
    Conflict(Vec<usize>),
    /// A partition is over its throughput.
    Throttled,
}

impl AwsSim {
    /// A fresh simulation: nothing held, every bucket full, no counts.
    pub fn new(config: SimConfig, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            config,
            clock,
            holds: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            next_tx: AtomicU64::new(1),
            held: tokio::sync::watch::channel(0).0,
            commit_gate: tokio::sync::RwLock::new(()),
            transaction_conflicts: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            cold_starts: AtomicU64::new(0),
        })
    }

    /// The counts so far, for `/_local/metrics`.
    pub fn snapshot(&self) -> SimSnapshot {
        SimSnapshot {
            enabled: true,
            transaction_conflicts: self.transaction_conflicts.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
            cold_starts: self.cold_starts.load(Ordering::Relaxed),
        }
    }

    /// A full bucket: read and write units.
    fn capacity(&self) -> (f64, f64) {
        let burst = self.config.burst_secs.max(0.001);
        (
            self.config.partition_rcu * burst,
            self.config.partition_wcu * burst,
        )
    }

    /// Admits a request's charges, or refuses it when a partition's bucket
    /// can't cover them (nothing is charged then).
    pub fn admit(&self, charges: &[Charge]) -> Result<(), Refusal> {
        let now = self.clock.now_millis();
        let cfg = &self.config;
        let (cap_r, cap_w) = self.capacity();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut need: HashMap<&str, (f64, f64)> = HashMap::new();
        for c in charges {
            let e = need.entry(c.partition.as_str()).or_default();
            e.0 += c.read_units;
            e.1 += c.write_units;
        }
        for (partition, (r, w)) in &need {
            let b = refill(&mut buckets, partition, now, cfg, cap_r, cap_w);
            if (*r > 0.0 && b.read < r.min(cap_r)) || (*w > 0.0 && b.write < w.min(cap_w)) {
                self.throttles.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Throttled);
            }
        }
        for (partition, (r, w)) in need {
            if let Some(b) = buckets.get_mut(partition) {
                b.read -= r;
                b.write -= w;
            }
        }
        Ok(())
    }

    /// Charges a partition after the fact (a Query's consumed capacity beyond
    /// what was admitted); the bucket may go into debt.
    pub fn charge_after(&self, partition: &str, read_units: f64) {
        let now = self.clock.now_millis();
        let cfg = &self.config;
        let (cap_r, cap_w) = self.capacity();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        refill(&mut buckets, partition, now, cfg, cap_r, cap_w).read -= read_units;
    }

    /// Takes a transaction's items, or names the positions already held.
    pub fn hold(&self, items: &[ItemId]) -> Result<u64, Refusal> {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        let taken: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, id)| holds.contains_key(id))
            .map(|(i, _)| i)
            .collect();
        if !taken.is_empty() {
            self.transaction_conflicts.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Conflict(taken));
        }
        let tx = self.next_tx.fetch_add(1, Ordering::Relaxed);
        for id in items {
            holds.insert(id.clone(), tx);
        }
        self.held.send_replace(holds.len());
        Ok(tx)
    }

    /// Lets a transaction's items go.
    pub fn release(&self, tx: u64) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        holds.retain(|_, t| *t != tx);
        self.held.send_replace(holds.len());
    }

    /// Whether a single write may go ahead: not while a transaction holds its item.
    pub fn check_write(&self, items: &[ItemId]) -> Result<(), Refusal> {
        let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        if items.iter().any(|id| holds.contains_key(id)) {
            self.transaction_conflicts.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Conflict(vec![0]));
        }
        Ok(())
    }

    /// Waits until at least `n` items are held (for tests of conflicts).
    pub async fn held_at_least(&self, n: usize) {
        let mut rx = self.held.subscribe();
        let _ = rx.wait_for(|held| *held >= n).await;
    }

    /// Keeps every transaction that takes its items from now on in flight
    /// until the guard is dropped (for tests of conflicts).
    pub async fn pause_commits(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.commit_gate.write().await
    }

    pub(crate) async fn commit_turn(&self) {
        drop(self.commit_gate.read().await);
    }

    /// Counts a cold start (the emulator pays its init time).
    pub fn count_cold_start(&self) {
        self.cold_starts.fetch_add(1, Ordering::Relaxed);
    }
}

fn refill<'a>(
    buckets: &'a mut HashMap<String, Bucket>,
    partition: &str,
    now: i64,
    cfg: &SimConfig,
    cap_r: f64,
    cap_w: f64,
) -> &'a mut Bucket {
    let b = buckets.entry(partition.to_owned()).or_insert(Bucket {
        read: cap_r,
        write: cap_w,
        at_ms: now,
    });
    let secs = (now - b.at_ms).max(0) as f64 / 1000.0;
    b.read = (b.read + secs * cfg.partition_rcu).min(cap_r);
    b.write = (b.write + secs * cfg.partition_wcu).min(cap_w);
    b.at_ms = now;
    b
}

/// Warm Lambda instances per function: an invocation that finds none idle
/// starts a new one and pays the cold start once. Instances stay warm.
#[derive(Debug, Default)]
pub struct Instances {
    /// Per function: (instances, busy).
    pools: Mutex<HashMap<&'static str, (usize, usize)>>,
}

/// An instance taken for one invocation; given back on drop.
#[derive(Debug)]
pub struct InstanceLease<'a> {
    instances: &'a Instances,
    function: &'static str,
    /// Whether this invocation started a new instance.
    pub cold: bool,
}

impl Instances {
    /// Takes an idle instance of `function`, or starts one (`cold`).
    pub fn take(&self, function: &'static str) -> InstanceLease<'_> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        let (count, busy) = pools.entry(function).or_default();
        let cold = *busy >= *count;
        if cold {
            *count += 1;
        }
        *busy += 1;
        InstanceLease {
            instances: self,
            function,
            cold,
        }
    }
}

impl Drop for InstanceLease<'_> {
    fn drop(&mut self) {
        let mut pools = self
            .instances
            .pools
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, busy)) = pools.get_mut(self.function) {
            *busy = busy.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn charge(p: &str, w: f64) -> Charge {
        Charge {
            partition: p.into(),
            read_units: 0.0,
            write_units: w,
        }
    }

    #[test]
    fn a_partition_over_its_rate_is_refused_until_it_refills() {
        let clock = Arc::new(ManualClock::new(0));
        let sim = AwsSim::new(
            SimConfig {
                partition_wcu: 10.0,
                ..SimConfig::default()
            },
            clock.clone(),
        );
        for _ in 0..10 {
            assert_eq!(sim.admit(&[charge("t/a", 1.0)]), Ok(()));
        }
        assert_eq!(sim.admit(&[charge("t/a", 1.0)]), Err(Refusal::Throttled));
        assert_eq!(
            sim.admit(&[charge("t/b", 1.0)]),
            Ok(()),
            "another partition"
        );
        clock.advance(Duration::from_millis(200));
        assert_eq!(sim.admit(&[charge("t/a", 2.0)]), Ok(()));
        assert_eq!(sim.snapshot().throttles, 1);
    }

    #[test]
    fn held_items_refuse_other_transactions_and_writes_until_released() {
        let sim = AwsSim::new(SimConfig::default(), Arc::new(ManualClock::new(0)));
        let a = ItemId("t/a".into());
        let b = ItemId("t/b".into());
        let tx = sim.hold(std::slice::from_ref(&a)).expect("free");
        assert_eq!(
            sim.hold(&[b.clone(), a.clone()]),
            Err(Refusal::Conflict(vec![1]))
        );
        assert!(sim.check_write(std::slice::from_ref(&a)).is_err());
        assert!(sim.check_write(std::slice::from_ref(&b)).is_ok());
        sim.release(tx);
        assert!(sim.check_write(&[a]).is_ok());
        assert_eq!(sim.snapshot().transaction_conflicts, 2);
    }

    #[test]
    fn a_new_concurrent_instance_is_cold_once() {
        let pool = Instances::default();
        let first = pool.take("f");
        let second = pool.take("f");
        assert!(first.cold && second.cold);
        drop(first);
        assert!(!pool.take("f").cold, "an idle instance is reused");
        assert!(pool.take("g").cold, "each function has its own");
    }

    #[test]
    fn latency_draws_centre_on_the_median() {
        let l = Latency {
            median_ms: 4.0,
            p99_ms: 15.0,
        };
        let mut draws: Vec<f64> = (0..4000)
            .map(|_| l.sample().as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[2000];
        assert!((3.0..5.3).contains(&median), "median {median}");
        assert_eq!(Latency::NONE.sample(), Duration::ZERO);
    }
}
