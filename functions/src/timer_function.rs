//! The timer function: takes a batch of due timers from the SQS queue and
//! fires each through the core; those that fail go back to the queue.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use circle_shared::App;
use circle_shared::timers::Timer;
use lambda_runtime::{Error, LambdaEvent, service_fn};

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
        if let Err(err) = circle_shared::handlers::timer::fire(app, &timer).await {
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
