//! Invoking a route the way API Gateway invokes its Lambda: the event JSON is
//! deserialized into the typed request, the handler runs on its own task (a
//! panic is an integration failure, not a crash) and is cut off at its
//! function's timeout from `template.yaml`, as Lambda would, and the 29 s
//! integration timeout covers the whole. The handler is the very function the
//! Lambdas call.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use circle_shared::App;
use circle_shared::aws_sim::{AwsSim, Instances};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The function a route invokes (each route has its own in `template.yaml`).
fn function_of(route_key: &str) -> &'static str {
    circle_shared::handlers::ws::ROUTES
        .iter()
        .find(|r| **r == route_key)
        .copied()
        .unwrap_or("$default")
}

/// Why an invocation produced no response.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the event does not deserialize: {0}")]
    Event(#[from] serde_json::Error),
    #[error("the handler panicked")]
    Panicked,
    #[error("the integration timed out")]
    TimedOut,
    #[error("the function ran past its timeout and was stopped")]
    CutOff,
}

impl InvokeError {
    /// The frame API Gateway sends a client when its message's integration fails.
    pub fn client_frame(&self, connection_id: &str, request_id: &str) -> String {
        let message = match self {
            InvokeError::TimedOut => "Endpoint request timed out",
            // A Lambda that times out is a failed integration to API Gateway.
            InvokeError::Event(_) | InvokeError::Panicked | InvokeError::CutOff => {
                "Internal server error"
            }
        };
        json!({"message": message, "connectionId": connection_id, "requestId": request_id})
            .to_string()
    }
}

/// One invocation's outcome, with the `requestId` API Gateway gave it.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub route_key: String,
    pub result: Result<ApiGatewayProxyResponse, InvokeError>,
}

/// The functions' capacity: how many handlers may run at once (a Lambda
/// concurrency limit) and, with `--aws-sim`, their warm instances, so a new
/// concurrent instance pays its cold start once.
#[derive(Debug)]
pub struct Lambdas {
    pub slots: Semaphore,
    pub cold: Option<(Arc<AwsSim>, Instances)>,
}

impl Lambdas {
    pub fn new(concurrency: usize, sim: Option<Arc<AwsSim>>) -> Self {
        Self {
            slots: Semaphore::new(concurrency.max(1)),
            cold: sim.map(|s| (s, Instances::default())),
        }
    }
}

/// Runs `circle_shared::handlers::ws::handle` on `event` once one of the
/// function slots is free (paying a cold start where `--aws-sim` says so). The handler is stopped at its function's timeout (from
/// `template.yaml`, or `cut_off` for its route), as Lambda stops a function;
/// the integration `timeout` covers the wait and the run.
pub async fn invoke(
    app: &App,
    lambdas: &Arc<Lambdas>,
    event: Value,
    timeout: Duration,
    cut_off: Option<(&'static str, Duration)>,
) -> Invocation {
    let request_id = event["requestContext"]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let route_key = event["requestContext"]["routeKey"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let request = match crate::event::to_request(event) {
        Ok(r) => r,
        Err(err) => {
            return Invocation {
                request_id,
                route_key,
                result: Err(err.into()),
            };
        }
    };
    let app = app.clone();
    let lambdas = Arc::clone(lambdas);
    let function = function_of(&route_key);
    let cut_off = match cut_off {
        Some((route, d)) if route == route_key => d,
        _ => circle_shared::handlers::timeouts::route_timeout(&route_key),
    };
    let run = async move {
        // The semaphore is never closed, so a permit always comes.
        let permit = lambdas
            .slots
            .acquire()
            .await
            .map_err(|_| InvokeError::Panicked)?;
        // Lambda's init runs before the handler and outside its timeout.
        let _instance = match &lambdas.cold {
            Some((sim, instances)) => {
                let lease = instances.take(function);
                if lease.cold {
                    sim.count_cold_start();
                    tokio::time::sleep(sim.config.cold_start).await;
                }
                Some(lease)
            }
            None => None,
        };
        let began = tokio::time::Instant::now();
        let mut task =
            tokio::spawn(async move { circle_shared::handlers::ws::handle(&app, request).await });
        let result = match tokio::time::timeout(cut_off, &mut task).await {
            // Done, but after its deadline (the timer fired late on a busy
            // machine): Lambda would have stopped it, so it was cut off.
            Ok(_) if began.elapsed() > cut_off => Err(InvokeError::CutOff),
            Ok(done) => done.map_err(|_| InvokeError::Panicked),
            Err(_) => {
                // Lambda stops the function: nothing after this point runs.
                task.abort();
                Err(InvokeError::CutOff)
            }
        };
        drop(permit);
        result
    };
    let result = match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(InvokeError::TimedOut),
    };
    if let Err(err) = &result {
        tracing::error!(route = %route_key, request_id = %request_id, error = %err, "integration failed");
    }
    Invocation {
        request_id,
        route_key,
        result,
    }
}
