//! Firing timers: what runs when a timer is due (a held seat runs out, a round
//! ends), and the in-process timer queue of the local stack. Above pairing and
//! rounds, so the timer queue itself (`crate::timers`) stays a leaf.

use std::sync::Arc;

use async_trait::async_trait;

use crate::app::App;
use crate::error::ActionError;
use crate::timers::{Timer, TimerError, TimerQueue};

/// Does what a due timer stands for.
pub async fn fire(app: &App, timer: &Timer) -> Result<(), ActionError> {
    match timer {
        Timer::ResumeExpiry {
            room, pid, conn, ..
        } => crate::pairing::expire_hold(app, room, pid, conn).await,
        Timer::RoundEnd { cid, round, .. } => crate::rounds::round_ended(app, cid, *round).await,
        Timer::RoundEnding { cid, round, .. } => {
            crate::rounds::round_ending(app, cid, *round).await
        }
        Timer::ForgetContacts { cid, room, due_ms } => {
            crate::pairing::forget_contacts(app, cid, room, *due_ms).await
        }
        Timer::CircleEnd { cid, due_ms } => {
            crate::organizer::lifecycle::circle_end(app, cid, *due_ms).await
        }
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
