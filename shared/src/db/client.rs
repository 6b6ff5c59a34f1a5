//! The DynamoDB client the core talks through, and its request builders
//! (`update_op`, `put_op`, `delete_op`, `check_op`). Every request goes through
//! here, so each is counted (with its consumed capacity and the partitions it
//! touched, for the hot-partition figure) and its error mapped; a write
//! refused with `TransactionConflict` is sent again a few times.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ConsumedCapacity, Delete, KeysAndAttributes, Put,
    ReturnConsumedCapacity, ReturnValue, Update,
};

use super::expr::{names_in, partition_of, used_values, values};
use super::metrics::{DdbOp, Metrics};
use super::{Item, StoreError, Table, TableNames};

/// The DynamoDB client plus table names and counters.
#[derive(Debug, Clone)]
pub struct Store {
    /// The SDK client.
    pub client: Client,
    /// The deployment's table names.
    pub tables: TableNames,
    /// Counters of every request.
    pub metrics: Arc<Metrics>,
}

impl Store {
    /// A store over `client` for these tables, counting into `metrics`.
    pub fn new(client: Client, tables: TableNames, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            tables,
            metrics,
        }
    }

    /// The deployed name of `table`.
    pub fn name(&self, table: Table) -> &str {
        match table {
            Table::Groups => &self.tables.groups,
            Table::Connections => &self.tables.connections,
        }
    }

    /// A conditional update (for a transaction, or [`Store::update`]).
    pub fn update_op(
        &self,
        table: Table,
        key: Item,
        update: &str,
        condition: Option<&str>,
        vals: Vec<(&str, AttributeValue)>,
    ) -> Update {
        Update::builder()
            .table_name(self.name(table))
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names_in(&[update, condition.unwrap_or("")]))
            .set_expression_attribute_values(used_values(&[update, condition.unwrap_or("")], vals))
            .build()
            .expect("table name, key and update expression are set")
    }

    /// A conditional put (for a transaction, or [`Store::put`]).
    pub fn put_op(
        &self,
        table: Table,
        item: Item,
        condition: Option<&str>,
        vals: Vec<(&str, AttributeValue)>,
    ) -> Put {
        Put::builder()
            .table_name(self.name(table))
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(condition.and_then(|c| names_in(&[c])))
            .set_expression_attribute_values(used_values(&[condition.unwrap_or("")], vals))
            .build()
            .expect("table name and item are set")
    }

    /// A conditional delete (for a transaction, or [`Store::delete`]).
    pub fn delete_op(
        &self,
        table: Table,
        key: Item,
        condition: Option<&str>,
        vals: Vec<(&str, AttributeValue)>,
    ) -> Delete {
        Delete::builder()
            .table_name(self.name(table))
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(condition.and_then(|c| names_in(&[c])))
            .set_expression_attribute_values(used_values(&[condition.unwrap_or("")], vals))
            .build()
            .expect("table name and key are set")
    }

    /// A condition check on an item a transaction doesn't change.
    pub fn check_op(
        &self,
        table: Table,
        key: Item,
        condition: &str,
        vals: Vec<(&str, AttributeValue)>,
    ) -> ConditionCheck {
        ConditionCheck::builder()
            .table_name(self.name(table))
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(names_in(&[condition]))
            .set_expression_attribute_values(used_values(&[condition], vals))
            .build()
            .expect("table name, key and condition are set")
    }

    /// Counts a refused request: a lost race, a transaction conflict, a throttle.
    pub(super) fn count_error(&self, err: &StoreError) {
        match err {
            StoreError::TransactionConflict => self.metrics.count_transaction_conflict(),
            StoreError::Throttled => self.metrics.count_throttled(),
            e if e.is_conflict() => self.metrics.count_conflict(),
            _ => {}
        }
    }

    pub(super) fn settle<O, E, R>(
        &self,
        op: DdbOp,
        partitions: &[String],
        result: Result<O, SdkError<E, R>>,
        consumed: impl FnOnce(&O) -> Vec<ConsumedCapacity>,
    ) -> Result<O, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.metrics.count_op(op);
        self.metrics.touch(partitions);
        match result {
            Ok(out) => {
                let units: f64 = consumed(&out)
                    .iter()
                    .filter_map(|c| c.capacity_units())
                    .sum();
                if op.is_read() {
                    self.metrics.add_capacity(units, 0.0);
                } else {
                    self.metrics.add_capacity(0.0, units);
                }
                Ok(out)
            }
            Err(err) => {
                let err = StoreError::from_sdk(err);
                self.count_error(&err);
                Err(err)
            }
        }
    }

    /// One item by key; `consistent` asks for a strongly consistent read.
    pub async fn get(
        &self,
        table: Table,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let partitions = [partition_of(&key)];
        let result = self
            .client
            .get_item()
            .table_name(self.name(table))
            .set_key(Some(key))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let mut out = self.settle(DdbOp::GetItem, &partitions, result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(out.item.take())
    }

    /// Several items in one request (up to 100 keys; both tables; each table read
    /// strongly consistently or not). Answers in the order asked. Keys DynamoDB
    /// leaves unprocessed are asked again (each retry counts as a request).
    pub async fn batch_get(
        &self,
        wanted: &[(Table, Item, bool)],
    ) -> Result<Vec<Option<Item>>, StoreError> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let id = |table: &str, key: &Item| -> (String, String) {
            let mut parts: Vec<String> = key
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_s().map(String::as_str).unwrap_or("")))
                .collect();
            parts.sort();
            (table.to_owned(), parts.join("&"))
        };
        let mut pending: HashMap<String, KeysAndAttributes> = HashMap::new();
        for (table, key, consistent) in wanted {
            let entry = pending
                .entry(self.name(*table).to_owned())
                .or_insert_with(|| {
                    KeysAndAttributes::builder()
                        .consistent_read(*consistent)
                        .set_keys(Some(Vec::new()))
                        .build()
                        .expect("keys are set")
                });
            let mut keys = entry.keys().to_vec();
            if !keys.contains(key) {
                keys.push(key.clone());
            }
            *entry = KeysAndAttributes::builder()
                .consistent_read(entry.consistent_read().unwrap_or(*consistent) || *consistent)
                .set_keys(Some(keys))
                .build()
                .expect("keys are set");
        }
        for _ in 0..8 {
            if pending.is_empty() {
                break;
            }
            let partitions: Vec<String> = pending
                .values()
                .flat_map(|k| k.keys().iter().map(partition_of))
                .collect();
            let result = self
                .client
                .batch_get_item()
                .set_request_items(Some(std::mem::take(&mut pending)))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let out = self.settle(DdbOp::BatchGetItem, &partitions, result, |o| {
                o.consumed_capacity().to_vec()
            })?;
            for (table, items) in out.responses().cloned().unwrap_or_default() {
                for item in items {
                    let key: Item = item
                        .iter()
                        .filter(|(k, _)| matches!(k.as_str(), "pk" | "sk" | "connection_id"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    found.insert(id(&table, &key), item);
                }
            }
            pending = out.unprocessed_keys().cloned().unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::Throttled);
        }
        Ok(wanted
            .iter()
            .map(|(table, key, _)| found.remove(&id(self.name(*table), key)))
            .collect())
    }

    /// One `UpdateItem`, sent again while a transaction in flight holds its item.
    pub async fn update(&self, op: Update) -> Result<(), StoreError> {
        retry_conflicts(|| self.update_once(op.clone(), ReturnValue::None))
            .await
            .map(drop)
    }

    /// [`Store::update`], answering with the new values of the attributes it changed.
    pub async fn update_returning(&self, op: Update) -> Result<Item, StoreError> {
        retry_conflicts(|| self.update_once(op.clone(), ReturnValue::UpdatedNew)).await
    }

    /// [`Store::update`], answering with the whole item as it is after it.
    pub async fn update_all_new(&self, op: Update) -> Result<Item, StoreError> {
        retry_conflicts(|| self.update_once(op.clone(), ReturnValue::AllNew)).await
    }

    async fn update_once(&self, op: Update, returning: ReturnValue) -> Result<Item, StoreError> {
        let partitions = [partition_of(op.key())];
        let result = self
            .client
            .update_item()
            .table_name(op.table_name())
            .set_key(Some(op.key().clone()))
            .update_expression(op.update_expression())
            .set_condition_expression(op.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(op.expression_attribute_names().cloned())
            .set_expression_attribute_values(op.expression_attribute_values().cloned())
            .return_values(returning)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = self.settle(DdbOp::UpdateItem, &partitions, result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// One `PutItem`, sent again while a transaction in flight holds its item.
    pub async fn put(&self, op: Put) -> Result<(), StoreError> {
        retry_conflicts(|| self.put_once(op.clone())).await
    }

    async fn put_once(&self, op: Put) -> Result<(), StoreError> {
        let partitions = [partition_of(op.item())];
        let result = self
            .client
            .put_item()
            .table_name(op.table_name())
            .set_item(Some(op.item().clone()))
            .set_condition_expression(op.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(op.expression_attribute_names().cloned())
            .set_expression_attribute_values(op.expression_attribute_values().cloned())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.settle(DdbOp::PutItem, &partitions, result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(())
    }

    /// One `DeleteItem`, sent again while a transaction in flight holds its item.
    pub async fn delete(&self, op: Delete) -> Result<(), StoreError> {
        retry_conflicts(|| self.delete_once(op.clone())).await
    }

    async fn delete_once(&self, op: Delete) -> Result<(), StoreError> {
        let partitions = [partition_of(op.key())];
        let result = self
            .client
            .delete_item()
            .table_name(op.table_name())
            .set_key(Some(op.key().clone()))
            .set_condition_expression(op.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(op.expression_attribute_names().cloned())
            .set_expression_attribute_values(op.expression_attribute_values().cloned())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.settle(DdbOp::DeleteItem, &partitions, result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(())
    }

    /// Deletes items unconditionally, 25 to a request.
    pub async fn delete_all(&self, table: Table, keys: Vec<Item>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(k.clone()))
                                .build()
                                .expect("key is set"),
                        )
                        .build()
                })
                .collect();
            for _ in 0..8 {
                if requests.is_empty() {
                    break;
                }
                let partitions: Vec<String> = requests
                    .iter()
                    .filter_map(|r| r.delete_request().map(|d| partition_of(d.key())))
                    .collect();
                let result = self
                    .client
                    .batch_write_item()
                    .request_items(self.name(table), std::mem::take(&mut requests))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                let out = self.settle(DdbOp::BatchWriteItem, &partitions, result, |o| {
                    o.consumed_capacity().to_vec()
                })?;
                requests = out
                    .unprocessed_items()
                    .and_then(|m| m.get(self.name(table)).cloned())
                    .unwrap_or_default();
            }
            if !requests.is_empty() {
                return Err(StoreError::Throttled);
            }
        }
        Ok(())
    }

    /// Every item of a table whose `sk` (groups) matches, for listings and tests.
    pub async fn scan(
        &self,
        table: Table,
        filter: Option<(&str, Vec<(&str, AttributeValue)>)>,
        max_items: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (expr, vals) = match &filter {
                Some((e, v)) => (Some((*e).to_owned()), values(v.clone())),
                None => (None, None),
            };
            let result = self
                .client
                .scan()
                .table_name(self.name(table))
                .set_filter_expression(expr.clone())
                .set_expression_attribute_names(expr.as_deref().and_then(|e| names_in(&[e])))
                .set_expression_attribute_values(vals)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await;
            let out = self.settle(DdbOp::Scan, &[], result, |o| {
                o.consumed_capacity().cloned().into_iter().collect()
            })?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) if items.len() < max_items => start = Some(k.clone()),
                _ => return Ok(items),
            }
        }
    }
}

/// How many times a write refused with `TransactionConflict` is sent.
const CONFLICT_ATTEMPTS: u32 = 4;

/// A write refused with `TransactionConflict` changed nothing, and the
/// transaction holding its item is over within milliseconds: it is sent
/// again after a short jittered pause (2, 4, 8 ms at most), as AWS advises,
/// and the caller sees the conflict only if it persists. Every refusal is
/// still counted.
pub(super) async fn retry_conflicts<T, F, Fut>(mut send: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match send().await {
            Err(StoreError::TransactionConflict) if attempt < CONFLICT_ATTEMPTS => {
                let ms = rand::Rng::random_range(&mut rand::rng(), 1..=(1u64 << attempt));
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
