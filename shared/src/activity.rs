//! Activity over a circle's life, as counts only: joins, chats and one-tap
//! feedback per 5-minute bucket, and feedback per round. Nothing here says who
//! joined, met or rated whom.
//!
//! Each count is one `UpdateItem` with `ADD` on the circle's bucket for the
//! current 5-minute window (`A#{cid}` / `B#{start}`), and for feedback in a
//! round also on the round's item (`A#{cid}` / `R#{round}`). It runs after the
//! action it counts has committed and never inside a pairing transaction: no
//! transaction ever touches these items, so an `ADD` never meets a
//! `TransactionConflict`, and two `ADD`s never conflict with each other. A
//! burst can still go over one partition's throughput: a throttled tally is
//! retried with a short backoff a few times, then dropped and counted
//! (`tallies_lost` in the metrics); the user's action never fails for it.
//!
//! Every item carries the circle's `expires_at`, so it dies with the circle;
//! closing the circle deletes the `A#{cid}` partition with the rest.
//! The organiser reads the whole partition with one Query ([`read`]).

use std::time::Duration;

use rand::Rng;

use crate::app::App;
use crate::db::attr::{n, opt_n, opt_s};
use crate::db::{Item, QuerySpec, StoreError, Table, keys};
use crate::model::Circle;

/// The width of a bucket: 5 minutes, in seconds.
pub const BUCKET_SECS: i64 = 300;
/// Attempts at one tally before it is dropped (and counted as lost).
const ATTEMPTS: u32 = 6;
/// A circle's activity partition holds at most this many items (buckets over
/// 3 days are 864, plus one per round); a read stops there.
const MAX_ITEMS: usize = 4_000;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// Someone joined the circle (a successful `join_group`).
    Join,
    /// A room was made (lobby pairing or round).
    Chat,
    /// A `feedback` with `good`.
    Good,
    /// A `feedback` with `meh`.
    Meh,
}

impl Tally {
    /// The short attribute counted on a bucket (see the glossary in [`keys`]).
    fn attribute(self) -> &'static str {
        match self {
            Self::Join => "j",
            Self::Chat => "ch",
            Self::Good => "g",
            Self::Meh => "mh",
        }
    }

    fn is_feedback(self) -> bool {
        matches!(self, Self::Good | Self::Meh)
    }
}

/// The start (epoch seconds) of the bucket holding `secs`.
pub fn bucket_start(secs: i64) -> i64 {
    secs.div_euclid(BUCKET_SECS) * BUCKET_SECS
}

/// Counts one `what` for the circle `circle_id` now, reading the circle's
/// expiry from its pointer first (one eventually consistent read). A circle
/// that is gone (closed or expired) counts nothing. Callers that hold the
/// circle's `expires_at` use [`tally_until`] and save the read. Never fails the
/// caller's action: a store error is logged and returned for the caller to
/// ignore.
pub async fn tally(
    app: &App,
    circle_id: &str,
    round: Option<u32>,
    what: Tally,
) -> Result<(), StoreError> {
    let pointer = app
        .store
        .get(Table::Groups, keys::pointer(circle_id), false)
        .await;
    let expires_at = match pointer {
        Ok(Some(item)) => opt_n(&item, "expires_at"),
        Ok(None) => None,
        Err(err) => {
            app.metrics.count_tally_lost();
            tracing::warn!(error = %err, "an activity count was dropped");
            return Err(err);
        }
    };
    match expires_at {
        Some(exp) if exp > app.now_secs() => tally_until(app, circle_id, exp, round, what).await,
        _ => Ok(()),
    }
}

/// Counts one `what` for a circle that expires at `expires_at` (epoch
/// seconds): one `UpdateItem` on the current bucket, and one on the round's
/// item for feedback in a round. Retried on throttling; a tally that still
/// cannot be written is dropped, counted and logged.
pub async fn tally_until(
    app: &App,
    circle_id: &str,
    expires_at: i64,
    round: Option<u32>,
    what: Tally,
) -> Result<(), StoreError> {
    let bucket = keys::activity_bucket(circle_id, bucket_start(app.now_secs()));
    match round.filter(|r| *r > 0 && what.is_feedback()) {
        Some(r) => {
            let round_key = keys::activity_round(circle_id, r);
            let (a, b) = tokio::join!(
                add(app, bucket, expires_at, what, 1),
                add(app, round_key, expires_at, what, 1)
            );
            a.and(b)
        }
        None => add(app, bucket, expires_at, what, 1).await,
    }
}

/// Counts `chats` rooms just made in `circle` (none: nothing is written): one
/// `UpdateItem` on the current bucket, after the pairing committed.
pub async fn count_chats(app: &App, circle: &Circle, chats: i64) {
    if chats > 0 {
        let key = keys::activity_bucket(&circle.cid, bucket_start(app.now_secs()));
        let _ = add(app, key, circle.expires_at, Tally::Chat, chats).await;
    }
}

async fn add(
    app: &App,
    key: Item,
    expires_at: i64,
    what: Tally,
    count: i64,
) -> Result<(), StoreError> {
    let update = format!("ADD #{} :one SET #expires_at = :exp", what.attribute());
    let mut last = StoreError::Throttled;
    for attempt in 1..=ATTEMPTS {
        let op = app.store.update_op(
            Table::Groups,
            key.clone(),
            &update,
            None,
            vec![(":one", n(count)), (":exp", n(expires_at))],
        );
        match app.store.update(op).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_retryable() && attempt < ATTEMPTS => {
                app.metrics.count_retry();
                let cap_ms = 8u64.saturating_mul(1 << attempt.min(6)).min(400);
                let ms = rand::rng().random_range(cap_ms / 2..=cap_ms);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                last = err;
            }
            Err(err) => {
                last = err;
                break;
            }
        }
    }
    app.metrics.count_tally_lost();
    tracing::warn!(error = %last, "an activity count was dropped");
    Err(last)
}

/// One 5-minute bucket's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    /// The bucket's start, epoch seconds.
    #[serde(skip)]
    pub start: i64,
    /// Successful joins.
    pub joins: u64,
    /// Rooms made.
    pub chats: u64,
    /// `good` ratings.
    pub good: u64,
    /// `meh` ratings.
    pub meh: u64,
}

/// One round's feedback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoundFeedback {
    /// The round's number.
    pub round: u32,
    /// `good` ratings.
    pub good: u64,
    /// `meh` ratings.
    pub meh: u64,
}

/// A circle's activity as stored: its buckets (oldest first, only those with
/// a count) and its rounds' feedback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Buckets with at least one count, oldest first.
    pub buckets: Vec<Bucket>,
    /// Feedback per round, lowest round first.
    pub rounds: Vec<RoundFeedback>,
}

impl Activity {
    /// The feedback over the whole circle: (good, meh).
    pub fn feedback(&self) -> (u64, u64) {
        self.buckets
            .iter()
            .fold((0, 0), |(g, m), b| (g + b.good, m + b.meh))
    }

    /// Every bucket from the first to `last_start` (the current one), with
    /// empty buckets filled in, so a chart's time axis is even. Bounded by the
    /// circle's life (at most 3 days: 864 buckets).
    pub fn filled(&self, from: i64, last_start: i64) -> Vec<Bucket> {
        let first = self.buckets.first().map_or(from, |b| b.start.min(from));
        let first = bucket_start(first);
        let last = bucket_start(last_start).max(first);
        let count = usize::try_from((last - first) / BUCKET_SECS + 1)
            .unwrap_or(1)
            .min(MAX_ITEMS);
        let mut out: Vec<Bucket> = (0..count)
            .map(|i| Bucket {
                start: first + BUCKET_SECS * i as i64,
                ..Bucket::default()
            })
            .collect();
        for b in &self.buckets {
            if let Ok(i) = usize::try_from((b.start - first) / BUCKET_SECS)
                && let Some(slot) = out.get_mut(i)
            {
                *slot = *b;
            }
        }
        out
    }
}

/// A circle's activity: one Query of its `A#{cid}` partition.
pub async fn read(app: &App, circle_id: &str) -> Result<Activity, StoreError> {
    let q = QuerySpec::partition(Table::Groups, "pk", keys::activity_pk(circle_id));
    let items = app.store.query_all(q, MAX_ITEMS).await?;
    let mut out = Activity::default();
    let count = |item: &Item, a: &str| {
        opt_n(item, a)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    };
    for item in &items {
        let sk = opt_s(item, "sk").unwrap_or_default();
        if let Some(start) = sk
            .strip_prefix(keys::BUCKET_PREFIX)
            .and_then(|v| v.parse().ok())
        {
            out.buckets.push(Bucket {
                start,
                joins: count(item, "j"),
                chats: count(item, "ch"),
                good: count(item, "g"),
                meh: count(item, "mh"),
            });
        } else if let Some(round) = sk
            .strip_prefix(keys::ROUND_PREFIX)
            .and_then(|v| v.parse().ok())
        {
            out.rounds.push(RoundFeedback {
                round,
                good: count(item, "g"),
                meh: count(item, "mh"),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_five_minutes() {
        assert_eq!(bucket_start(0), 0);
        assert_eq!(bucket_start(299), 0);
        assert_eq!(bucket_start(300), 300);
        assert_eq!(bucket_start(1_700_000_123), 1_700_000_100);
    }

    #[test]
    fn filled_spans_every_bucket() {
        let a = Activity {
            buckets: vec![Bucket {
                start: 600,
                joins: 2,
                ..Bucket::default()
            }],
            rounds: vec![],
        };
        let f = a.filled(300, 1_000);
        assert_eq!(
            f.iter().map(|b| b.start).collect::<Vec<_>>(),
            [300, 600, 900]
        );
        assert_eq!(f[1].joins, 2);
    }
}
