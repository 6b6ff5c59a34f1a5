//! The timer function: fires Circle's due timers (a held seat running out, a
//! round ending) from the SQS delay queue.

// The Lambda runtime's service layers around a pairing handler make a deep future type.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    circle_functions::timer_function::run().await
}
