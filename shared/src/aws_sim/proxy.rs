//! The simulation's step in front of the embedded DynamoDB: each request the
//! store's endpoint (`embedded/front.rs`) admits is delayed and charged
//! against its partitions' throughput, and transactions hold their items
//! ([`super::AwsSim`]), before it runs on dynoxide. Refusals are answered in
//! DynamoDB's own JSON error shapes, so the SDK and the core see what they
//! would on AWS.

use serde_json::{Value, json};

use super::rules::{self, Touch};
use super::{AwsSim, Refusal};
use crate::embedded::dispatch::Reply;

const ERROR_PREFIX: &str = "com.amazonaws.dynamodb.v20120810#";

fn error(kind: &str, message: &str, extra: Option<(&str, Value)>) -> Reply {
    let mut body = json!({"__type": format!("{ERROR_PREFIX}{kind}"), "message": message});
    if let Some((k, v)) = extra {
        body[k] = v;
    }
    Reply {
        status: 400,
        body: body.to_string(),
    }
}

fn throttled() -> Reply {
    error(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. \
         Consider increasing your provisioning level with the UpdateTable API.",
        None,
    )
}

/// `TransactionCanceledException` with `code` at `positions`, `None` elsewhere.
fn cancelled(items: usize, positions: &[usize], code: &str) -> Reply {
    let reasons: Vec<Value> = (0..items)
        .map(|i| {
            if positions.contains(&i) {
                json!({"Code": code, "Message": "Transaction is ongoing for the item"})
            } else {
                json!({"Code": "None"})
            }
        })
        .collect();
    let list: Vec<&str> = (0..items)
        .map(|i| if positions.contains(&i) { code } else { "None" })
        .collect();
    error(
        "TransactionCanceledException",
        &format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            list.join(", ")
        ),
        Some(("CancellationReasons", Value::Array(reasons))),
    )
}

/// Runs operation `op` (its JSON `body`) through the simulation; `run`
/// executes it on the store when it is admitted.
pub(crate) async fn simulate(
    sim: &AwsSim,
    op: &str,
    body: &[u8],
    run: impl FnOnce() -> Reply,
) -> Reply {
    let touch = serde_json::from_slice::<Value>(body)
        .map(|v| rules::touch(op, &v))
        .unwrap_or_default();
    tokio::time::sleep(sim.config.dynamo_latency.sample()).await;
    if sim.admit(&touch.charges).is_err() {
        return if op == "TransactWriteItems" {
            let all: Vec<usize> = (0..touch.writes.len()).collect();
            cancelled(touch.writes.len(), &all, "ThrottlingError")
        } else {
            throttled()
        };
    }
    match op {
        "TransactWriteItems" => match sim.hold(&touch.writes) {
            Err(Refusal::Conflict(at)) => cancelled(touch.writes.len(), &at, "TransactionConflict"),
            Err(Refusal::Throttled) => throttled(),
            Ok(tx) => {
                // In flight: prepared, then committed, holding its items throughout.
                tokio::time::sleep(sim.config.dynamo_latency.sample()).await;
                sim.commit_turn().await;
                let reply = charged(sim, &touch, run());
                sim.release(tx);
                reply
            }
        },
        "PutItem" | "UpdateItem" | "DeleteItem" => match sim.check_write(&touch.writes) {
            Err(_) => error(
                "TransactionConflictException",
                "Transaction is ongoing for the item",
                None,
            ),
            Ok(()) => charged(sim, &touch, run()),
        },
        _ => charged(sim, &touch, run()),
    }
}

/// A query is charged what it read beyond what it was admitted with.
fn charged(sim: &AwsSim, touch: &Touch, reply: Reply) -> Reply {
    if let Some(partition) = &touch.query_partition
        && reply.status == 200
        && let Ok(v) = serde_json::from_str::<Value>(&reply.body)
    {
        sim.charge_after(
            partition,
            rules::consumed_units(&v) - rules::QUERY_ADMIT_UNITS,
        );
    }
    reply
}
