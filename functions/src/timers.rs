//! Circle's timer queue on AWS: an SQS queue with per-message delays (up to 15
//! minutes; a longer wait arrives early and is re-queued by the timer function)
//! feeding the `timer` function (`timer_function.rs`), which fires each due
//! timer through the core.

use async_trait::async_trait;
use circle_shared::timers::{Timer, TimerError, TimerQueue};

use crate::aws::{Base, env_var};

/// The environment variable naming the queue.
pub const TIMER_QUEUE_URL: &str = "TIMER_QUEUE_URL";
/// SQS's longest message delay.
const MAX_DELAY_SECS: i64 = 900;

/// Schedules timers as delayed SQS messages.
#[derive(Debug, Clone)]
pub struct SqsTimers {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    clock: std::sync::Arc<dyn circle_shared::clock::Clock>,
}

impl SqsTimers {
    pub fn new(base: &Base, queue_url: String) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(&base.sdk_config),
            queue_url,
            clock: std::sync::Arc::new(circle_shared::clock::SystemClock),
        }
    }

    /// From `TIMER_QUEUE_URL`, if set.
    pub fn from_env(base: &Base) -> Option<Self> {
        env_var(TIMER_QUEUE_URL).map(|url| Self::new(base, url))
    }
}

/// Whole seconds to wait for `due_ms`, as SQS takes them (rounded up, so a
/// timer never fires early by rounding; capped at SQS's maximum).
pub fn delay_secs(due_ms: i64, now_ms: i64) -> i32 {
    let ms = (due_ms - now_ms).max(0);
    i32::try_from(((ms + 999) / 1000).min(MAX_DELAY_SECS)).unwrap_or(0)
}

#[async_trait]
impl TimerQueue for SqsTimers {
    async fn schedule(&self, timer: Timer) -> Result<(), TimerError> {
        let body = serde_json::to_string(&timer).expect("timers serialize to JSON");
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_secs(timer.due_ms(), self.clock.now_millis()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                TimerError::Failed(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stop_at_sqs_maximum() {
        assert_eq!(delay_secs(1_000, 1_000), 0);
        assert_eq!(delay_secs(1_001, 1_000), 1);
        assert_eq!(delay_secs(31_000, 1_000), 30);
        assert_eq!(delay_secs(0, 1_000), 0);
        assert_eq!(delay_secs(3_600_000, 0), 900);
    }
}
