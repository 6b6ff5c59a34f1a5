//! Server-side timers: a seat held for resume runs out, a round is about to
//! end, a round ends. A leaf:
//! what a timer is and the small trait that schedules one. In process on the
//! local stack (`handlers::timer::LocalTimers`, a tokio task), an SQS delay
//! queue feeding a small function on AWS (in `circle-functions`), never a
//! sleeping Lambda. `handlers::timer::fire` is what runs when one is due, in
//! either world; `App::schedule` schedules one.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Something to do at `due_ms` (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timer {
    /// The seat `pid` of `room`, held since `conn` dropped, runs out.
    ResumeExpiry {
        /// The room id.
        room: String,
        /// The held seat's participant id.
        pid: String,
        /// The connection that dropped.
        conn: String,
        /// When it runs out (epoch ms).
        due_ms: i64,
    },
    /// Round `round` of circle `cid` ends.
    RoundEnd {
        /// The circle's stable id.
        cid: String,
        /// The round that ends.
        round: u32,
        /// When the round ends (epoch ms).
        due_ms: i64,
    },
    /// Round `round` of circle `cid` ends in a round-minute: the members of
    /// its rooms hear `round_ending`.
    RoundEnding {
        /// The circle's stable id.
        cid: String,
        /// The round about to end.
        round: u32,
        /// When to warn (epoch ms): a round-minute before the round's end.
        due_ms: i64,
    },
    /// The keep-in-touch lines of `room` in circle `cid` written 10 minutes
    /// before `due_ms` (or earlier) are forgotten: deleted, not left to TTL.
    ForgetContacts {
        /// The circle's stable id.
        cid: String,
        /// The room whose lines they are.
        room: String,
        /// Ten minutes after the line that scheduled it (epoch ms).
        due_ms: i64,
    },
    /// Circle `cid` reaches its end: everyone still connected is told
    /// (`circle_ended`, `expired`) and closed. SQS delays stop at 15 minutes,
    /// so this one arrives early many times and is put back until due.
    CircleEnd {
        /// The circle's stable id.
        cid: String,
        /// The circle's end (epoch ms).
        due_ms: i64,
    },
}

impl Timer {
    /// When it is due (epoch ms).
    pub fn due_ms(&self) -> i64 {
        match self {
            Timer::ResumeExpiry { due_ms, .. }
            | Timer::RoundEnd { due_ms, .. }
            | Timer::RoundEnding { due_ms, .. }
            | Timer::ForgetContacts { due_ms, .. }
            | Timer::CircleEnd { due_ms, .. } => *due_ms,
        }
    }
}

/// Why a timer could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The app has no queue ([`NoTimers`]).
    #[error("no timer queue is configured")]
    Unavailable,
    /// The queue refused it or could not be reached; the text says why.
    #[error("scheduling failed: {0}")]
    Failed(String),
}

/// Schedules timers.
#[async_trait]
pub trait TimerQueue: Send + Sync {
    /// Arranges for `timer` to fire at its due time (or soon after).
    async fn schedule(&self, timer: Timer) -> Result<(), TimerError>;
}

/// For an app that never schedules (e.g. a tool); scheduling is an error.
#[derive(Debug)]
pub struct NoTimers;

#[async_trait]
impl TimerQueue for NoTimers {
    async fn schedule(&self, _: Timer) -> Result<(), TimerError> {
        Err(TimerError::Unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_serialize_for_a_queue() {
        let t = Timer::RoundEnd {
            cid: "c".into(),
            round: 2,
            due_ms: 5,
        };
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(
            json,
            r#"{"kind":"round_end","cid":"c","round":2,"due_ms":5}"#
        );
        assert_eq!(serde_json::from_str::<Timer>(&json).expect("parses"), t);
    }
}
