//! Per-connection rate limits without a write per message.
//!
//! Each process keeps a token bucket per connection and action kind. A request
//! the bucket refuses is refused at once, and the refusing invocation marks the
//! connection's record `throttled_until` (one conditional write per throttle
//! period, so writes happen only while a client is over its allowance). Every
//! invocation, in any process, reads that mark on the read it makes anyway and
//! refuses until it passes: so the limit holds across Lambda instances once any
//! one of them sees the burst. (A client whose messages are spread evenly over k
//! warm instances can get up to k times the allowance before one trips; a fast
//! sender's messages land on one or two.)

use std::collections::HashMap;
use std::sync::Mutex;

/// Per-connection and per-address limits (`docs/design.md` Part 2, "Rate limits").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// `message`: sustained per second, per connection.
    pub message_per_sec: f64,
    /// `message`: burst, per connection.
    pub message_burst: f64,
    /// `join_group`, `block`, `report`, `feedback`, `keep_in_touch`: each,
    /// sustained per second, per connection.
    pub action_per_sec: f64,
    /// `join_group`, `block`, `report`, `feedback`, `keep_in_touch`: each,
    /// burst, per connection.
    pub action_burst: f64,
    /// `POST /groups` per source address per hour.
    pub creates_per_hour: u32,
    /// HTTP API requests (`/groups…`, `/organizer`) per source address per
    /// minute, counted in DynamoDB (the `edge` module); 0: no limit.
    pub requests_per_minute: u32,
    /// WebSockets open at once from one source address (`$connect` refuses
    /// more), counted in DynamoDB (the `edge` module); 0: no cap.
    pub max_sockets_per_address: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            message_per_sec: 10.0,
            message_burst: 20.0,
            action_per_sec: 1.0,
            action_burst: 2.0,
            creates_per_hour: 20,
            requests_per_minute: 300,
            max_sockets_per_address: 50,
        }
    }
}

impl RateLimits {
    /// Every limit multiplied by `factor` (a benchmark's own stack may raise them).
    pub fn scaled(self, factor: f64) -> Self {
        let factor = factor.max(0.0);
        Self {
            message_per_sec: self.message_per_sec * factor,
            message_burst: self.message_burst * factor,
            action_per_sec: self.action_per_sec * factor,
            action_burst: self.action_burst * factor,
            creates_per_hour: scale(self.creates_per_hour, factor),
            requests_per_minute: scale(self.requests_per_minute, factor),
            max_sockets_per_address: scale(self.max_sockets_per_address, factor),
        }
    }
}

/// A whole-number limit times `factor` (0 stays 0: no limit).
fn scale(limit: u32, factor: f64) -> u32 {
    (f64::from(limit) * factor).min(f64::from(u32::MAX)) as u32
}

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `message` frames.
    Message,
    /// `join_group` (and `resume`).
    Join,
    /// `block`.
    Block,
    /// `report`.
    Report,
    /// `feedback`.
    Feedback,
    /// `keep_in_touch`.
    KeepInTouch,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Buckets by connection and kind, in this process.
#[derive(Debug)]
pub struct Limiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(String, Kind), Bucket>>,
    /// Until when this process has marked a connection throttled (epoch ms).
    marked: Mutex<HashMap<String, i64>>,
}

/// How long a throttled connection is refused once marked.
pub const THROTTLE_MS: i64 = 1000;

/// Buckets idle this long are full again and can be forgotten.
const FORGET_AFTER_MS: i64 = 60_000;
/// Forgetting runs when this many buckets are kept.
const PRUNE_AT: usize = 20_000;

impl Limiter {
    /// No buckets yet: every connection starts with a full burst.
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
            marked: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this refusal should write the throttle mark: once per throttle
    /// period per process, not once per refused request.
    pub fn should_mark(&self, conn: &str, now_ms: i64) -> bool {
        let mut marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        if marked.len() >= PRUNE_AT {
            marked.retain(|_, until| *until > now_ms);
        }
        match marked.get(conn) {
            Some(until) if *until > now_ms => false,
            _ => {
                marked.insert(conn.to_owned(), now_ms + THROTTLE_MS);
                true
            }
        }
    }

    fn rate(&self, kind: Kind) -> (f64, f64) {
        match kind {
            Kind::Message => (self.limits.message_per_sec, self.limits.message_burst),
            Kind::Join | Kind::Block | Kind::Report | Kind::Feedback | Kind::KeepInTouch => {
                (self.limits.action_per_sec, self.limits.action_burst)
            }
        }
    }

    /// Takes a token; `false` when the connection is over its allowance.
    pub fn allow(&self, conn: &str, kind: Kind, now_ms: i64) -> bool {
        let (per_sec, burst) = self.rate(kind);
        // A poisoned lock only means a panic elsewhere mid-update; the buckets stay usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| now_ms - b.at_ms < FORGET_AFTER_MS);
        }
        let bucket = buckets.entry((conn.to_owned(), kind)).or_insert(Bucket {
            tokens: burst,
            at_ms: now_ms,
        });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(burst);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets a connection (it is gone).
    pub fn forget(&self, conn: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.retain(|(c, _), _| c != conn);
        drop(buckets);
        let mut marked = self.marked.lock().unwrap_or_else(|p| p.into_inner());
        marked.remove(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = Limiter::new(RateLimits::default());
        let allowed = (0..100).filter(|_| l.allow("c", Kind::Message, 0)).count();
        assert_eq!(allowed, 20);
        // One second later, ten more.
        let allowed = (0..100)
            .filter(|_| l.allow("c", Kind::Message, 1000))
            .count();
        assert_eq!(allowed, 10);
        // Other connections and kinds have their own buckets.
        assert!(l.allow("d", Kind::Message, 1000));
        assert!(l.allow("c", Kind::Join, 1000));
        assert!(l.allow("c", Kind::Join, 1000));
        assert!(!l.allow("c", Kind::Join, 1000));
        assert!(l.allow("c", Kind::Join, 2000));
    }
}
