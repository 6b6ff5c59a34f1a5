//! Circle's timers on AWS: an SQS queue with per-message delays (up to 15
//! minutes; a longer wait arrives early and is re-queued by the timer function)
//! feeding the `timer` function, which fires each due timer through the core.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use circle_shared::App;
use circle_shared::timers::{Timer, TimerError, TimerQueue};
use lambda_runtime::{Error, LambdaEvent, service_fn};

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

/// Fires each due timer in a batch; those that fail go back to the queue
/// (partial batch response) to be tried again.
pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let timer: Timer = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(t)) => t,
            other => {
                // Not ours to retry: a malformed message would fail forever.
                tracing::error!(message_id = %id, ?other, "dropping a message that is no timer");
                continue;
            }
        };
        if let Err(err) = circle_shared::timers::fire(app, &timer).await {
            tracing::warn!(message_id = %id, error = %err, ?timer, "timer failed; it will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Runs the timer function.
pub async fn run() -> Result<(), Error> {
    crate::logging::init();
    let function = crate::websocket::WsFunction::from_env_with_timers();
    let app = function
        .app()
        .ok_or("CONNECTIONS_ENDPOINT must be set for the timer function")?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle(app, event.payload).await)
    }))
    .await
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
