//! The timer function: takes a batch of due timers from the SQS queue and
//! fires them through the core, up to [`MAX_IN_FLIGHT`] at once; those that
//! fail go back to the queue.

use std::future::Future;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use circle_shared::timers::Timer;
use circle_shared::{ActionError, App};
use futures_util::StreamExt;
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// Timers of one batch fired at once. Each is independent (a held seat, a
/// round of one circle), so a batch takes about as long as its slowest timer
/// instead of the sum of all: several big circles' round ends fit the
/// function's timeout. Bounded, so a batch of many round ends doesn't open
/// hundreds of DynamoDB and `@connections` requests at once.
pub const MAX_IN_FLIGHT: usize = 4;

/// Fires the due timers of a batch concurrently; those that fail go back to
/// the queue (partial batch response) to be tried again.
pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    handle_with(event, MAX_IN_FLIGHT, |timer| async move {
        circle_shared::handlers::timer::fire(app, &timer).await
    })
    .await
}

/// [`handle`] with the way to fire a timer and the bound given: at most
/// `in_flight` timers run at once. A message that fails is reported by its id;
/// a message that is no timer is dropped (it would fail forever).
pub async fn handle_with<F, Fut>(event: SqsEvent, in_flight: usize, fire: F) -> SqsBatchResponse
where
    F: Fn(Timer) -> Fut,
    Fut: Future<Output = Result<(), ActionError>>,
{
    let fire = &fire;
    let failures: Vec<BatchItemFailure> = futures_util::stream::iter(event.records)
        .map(|record| async move { fire_one(record, fire).await })
        .buffer_unordered(in_flight.max(1))
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Fires one message's timer; its failure, if it should be retried.
async fn fire_one<F, Fut>(record: SqsMessage, fire: &F) -> Option<BatchItemFailure>
where
    F: Fn(Timer) -> Fut,
    Fut: Future<Output = Result<(), ActionError>>,
{
    let id = record.message_id.unwrap_or_default();
    let timer: Timer = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(t)) => t,
        other => {
            // Not ours to retry: a malformed message would fail forever.
            tracing::error!(message_id = %id, ?other, "dropping a message that is no timer");
            return None;
        }
    };
    match fire(timer.clone()).await {
        Ok(()) => None,
        Err(err) => {
            tracing::warn!(message_id = %id, error = %err, ?timer, "timer failed; it will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            Some(failure)
        }
    }
}

/// Runs the timer function.
pub async fn run() -> Result<(), Error> {
    crate::logging::init();
    // Round ends pair people, which hashes their resume tokens.
    let base = crate::aws::Base::from_env().with_hash_key().await?;
    let function = crate::websocket::WsFunction::with_base_and_timers(base);
    let app = function
        .app()
        .ok_or("CONNECTIONS_ENDPOINT must be set for the timer function")?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let work = handle(app, event.payload);
        let id = &event.context.request_id;
        let timer = crate::TIMER_BINARY;
        Ok::<_, Error>(crate::emf::observed(app, timer, id, false, work).await)
    }))
    .await
}
