//! Server-side timers: a seat held for resume runs out, a round ends. Scheduling
//! is a small trait: in process on the local stack ([`LocalTimers`], a tokio
//! task), an SQS delay queue feeding a small function on AWS (in
//! `circle-functions`), never a sleeping Lambda. [`fire`] is what runs when one
//! is due, in either world; a timer that finds its work already done does nothing.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::ActionError;

/// Something to do at `due_ms` (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Timer {
    /// The seat `pid` of `room`, held since `conn` dropped, runs out.
    ResumeExpiry {
        room: String,
        pid: String,
        conn: String,
        due_ms: i64,
    },
    /// Round `round` of circle `cid` ends.
    RoundEnd {
        cid: String,
        round: u32,
        due_ms: i64,
    },
}

impl Timer {
    pub fn due_ms(&self) -> i64 {
        match self {
            Timer::ResumeExpiry { due_ms, .. } | Timer::RoundEnd { due_ms, .. } => *due_ms,
        }
    }
}

/// Why a timer could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    #[error("no timer queue is configured")]
    Unavailable,
    #[error("scheduling failed: {0}")]
    Failed(String),
}

/// Schedules timers.
#[async_trait]
pub trait TimerQueue: Send + Sync {
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

/// Schedules through the app's queue, counting it; a failure is logged (the
/// records it guards still expire, and a partner's next message ends a room
/// whose hold ran out).
pub async fn schedule(app: &App, timer: Timer) {
    app.metrics.count_timer();
    if let Err(err) = app.timers.schedule(timer.clone()).await {
        tracing::error!(error = %err, ?timer, "could not schedule a timer");
    }
}

/// Does what a due timer stands for.
pub async fn fire(app: &App, timer: &Timer) -> Result<(), ActionError> {
    match timer {
        Timer::ResumeExpiry {
            room, pid, conn, ..
        } => crate::pairing::expire_hold(app, room, pid, conn).await,
        Timer::RoundEnd { cid, round, .. } => crate::rounds::round_ended(app, cid, *round).await,
    }
}

/// Timers in this process: a task sleeps until each is due, then fires it.
/// Pending timers are lost when the process stops (the records they guard
/// still expire by TTL).
pub struct LocalTimers {
    tx: tokio::sync::mpsc::UnboundedSender<Timer>,
}

impl LocalTimers {
    /// Gives `app` an in-process timer queue; timers fire against that app.
    pub fn install(app: App) -> (App, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Timer>();
        let app = app.with_timers(Arc::new(LocalTimers { tx }));
        let runner = app.clone();
        let task = tokio::spawn(async move {
            while let Some(timer) = rx.recv().await {
                let app = runner.clone();
                tokio::spawn(async move {
                    let wait = (timer.due_ms() - app.now_ms()).max(0);
                    tokio::time::sleep(std::time::Duration::from_millis(
                        u64::try_from(wait).unwrap_or(0),
                    ))
                    .await;
                    if let Err(err) = fire(&app, &timer).await {
                        tracing::warn!(error = %err, ?timer, "timer failed");
                    }
                });
            }
        });
        (app, task)
    }
}

#[async_trait]
impl TimerQueue for LocalTimers {
    async fn schedule(&self, timer: Timer) -> Result<(), TimerError> {
        self.tx
            .send(timer)
            .map_err(|_| TimerError::Failed("the timer task has stopped".into()))
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
