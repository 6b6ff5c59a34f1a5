//! What the embedded DynamoDB (dynoxide behind the real SDK client over loopback
//! HTTP, as the stack uses it) sustains alone, per operation: the ceiling the
//! stack's own request rate is held against.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TransactWriteItem, Update,
};
use circle_shared::embedded::EmbeddedDynamo;
use futures_util::future::join_all;
use serde::Serialize;

use crate::error::BenchError;
use crate::stats::{Samples, Summary};

const TABLE: &str = "bench";
/// Items per worker partition (a busy group's lobby).
const ITEMS: usize = 20;
/// No single measurement runs more requests than this.
const MAX_REQUESTS: u64 = 500_000;

#[derive(Debug, Clone, Serialize)]
pub struct DynamoConfig {
    pub secs_per_op: f64,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpRate {
    pub op: &'static str,
    pub requests: u64,
    pub secs: f64,
    pub per_sec: f64,
    pub errors: u64,
    pub latency: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct DynamoReport {
    pub config: DynamoConfig,
    pub ops: Vec<OpRate>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    GetItem,
    Query,
    PutItem,
    UpdateItem,
    TransactWrite3,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::GetItem => "GetItem (consistent)",
            Op::Query => "Query (consistent, 20 items)",
            Op::PutItem => "PutItem",
            Op::UpdateItem => "UpdateItem (conditional)",
            Op::TransactWrite3 => "TransactWriteItems (3 updates)",
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn dyn_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Dynamo(e.to_string())
}

pub async fn run(cfg: &DynamoConfig, deadline: Instant) -> Result<DynamoReport, BenchError> {
    let dynamo = EmbeddedDynamo::memory().await.map_err(dyn_err)?;
    let client = dynamo.client();
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(dyn_err)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .map_err(dyn_err)?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(dyn_err)?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(dyn_err)?,
        )
        .send()
        .await
        .map_err(|e| dyn_err(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    let workers = cfg.concurrency.max(1);
    for w in 0..workers {
        for k in 0..ITEMS {
            client
                .put_item()
                .table_name(TABLE)
                .item("pk", s(format!("p{w}")))
                .item("sk", s(format!("i{k}")))
                .item("state", s("waiting"))
                .item("name", s("someone"))
                .send()
                .await
                .map_err(|e| dyn_err(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        }
    }
    let mut ops = Vec::new();
    for op in [
        Op::GetItem,
        Op::Query,
        Op::PutItem,
        Op::UpdateItem,
        Op::TransactWrite3,
    ] {
        if Instant::now() >= deadline {
            break;
        }
        let until = (Instant::now() + Duration::from_secs_f64(cfg.secs_per_op)).min(deadline);
        let began = Instant::now();
        let results = join_all(
            (0..workers)
                .map(|w| worker(client.clone(), op, w, until, MAX_REQUESTS / workers as u64)),
        )
        .await;
        let secs = began.elapsed().as_secs_f64();
        let mut latency = Samples::default();
        let mut errors = 0;
        for (samples, errs) in results {
            for us in samples {
                latency.push_micros(us);
            }
            errors += errs;
        }
        let requests = latency.len() as u64 + errors;
        let rate = OpRate {
            op: op.name(),
            requests,
            secs,
            per_sec: requests as f64 / secs.max(1e-9),
            errors,
            latency: latency.summary(),
        };
        tracing::info!(op = rate.op, per_sec = rate.per_sec as u64, "measured");
        ops.push(rate);
    }
    dynamo.shutdown().await;
    Ok(DynamoReport {
        config: cfg.clone(),
        ops,
    })
}

/// One worker's loop: its latencies (µs) and its error count.
async fn worker(client: Client, op: Op, w: usize, until: Instant, cap: u64) -> (Vec<u64>, u64) {
    let pk = format!("p{w}");
    let mut lat = Vec::new();
    let mut errors = 0u64;
    let mut n = 0u64;
    while Instant::now() < until && n < cap {
        let k = (n as usize) % ITEMS;
        let t = Instant::now();
        let ok = match op {
            Op::GetItem => client
                .get_item()
                .table_name(TABLE)
                .key("pk", s(&pk))
                .key("sk", s(format!("i{k}")))
                .consistent_read(true)
                .send()
                .await
                .is_ok(),
            Op::Query => client
                .query()
                .table_name(TABLE)
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(&pk))
                .consistent_read(true)
                .send()
                .await
                .is_ok(),
            Op::PutItem => client
                .put_item()
                .table_name(TABLE)
                .item("pk", s(format!("put{w}")))
                .item("sk", s(format!("n{n}")))
                .item("state", s("idle"))
                .send()
                .await
                .is_ok(),
            Op::UpdateItem => client
                .update_item()
                .table_name(TABLE)
                .key("pk", s(&pk))
                .key("sk", s(format!("i{k}")))
                .update_expression("SET #st = :s")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":s", s(format!("paired{n}")))
                .send()
                .await
                .is_ok(),
            Op::TransactWrite3 => {
                let items: Vec<TransactWriteItem> = (0..3)
                    .map(|j| {
                        let update = Update::builder()
                            .table_name(TABLE)
                            .key("pk", s(&pk))
                            .key("sk", s(format!("i{}", (k + j) % ITEMS)))
                            .update_expression("SET #st = :s")
                            .condition_expression("attribute_exists(pk)")
                            .expression_attribute_names("#st", "state")
                            .expression_attribute_values(":s", s(format!("paired{n}")))
                            .build()
                            .expect("table name, key and update expression are set");
                        TransactWriteItem::builder().update(update).build()
                    })
                    .collect();
                client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await
                    .is_ok()
            }
        };
        if ok {
            lat.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        } else {
            errors += 1;
        }
        n += 1;
    }
    (lat, errors)
}

pub fn print(r: &DynamoReport) {
    println!(
        "\n== embedded DynamoDB alone (dynoxide via the SDK over loopback), {} concurrent ==",
        r.config.concurrency
    );
    println!(
        "{:<32} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "operation", "req/s", "p50 ms", "p99 ms", "requests", "errors"
    );
    for o in &r.ops {
        println!(
            "{:<32} {:>9.0} {:>9.2} {:>9.2} {:>9} {:>7}",
            o.op, o.per_sec, o.latency.p50_ms, o.latency.p99_ms, o.requests, o.errors
        );
    }
}
