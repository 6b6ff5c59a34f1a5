//! The DynamoDB client the core talks through. Every request goes through here,
//! so each is counted (with its consumed capacity and the partitions it touched,
//! for the hot-partition figure), its error mapped, and its expression names
//! derived from the expression text (`#name` stands for attribute `name`).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ConsumedCapacity, Delete, KeysAndAttributes, Put,
    ReturnConsumedCapacity, TransactWriteItem, Update,
};

use crate::metrics::{DdbOp, Metrics};
use crate::tables::TableNames;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Storage failures, by what the caller should do about them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// A condition expression failed: someone else changed the item first.
    #[error("conditional check failed")]
    ConditionFailed,
    /// A transaction was cancelled; one reason code per item ("None" where it passed).
    #[error("transaction cancelled: {0:?}")]
    Cancelled(Vec<String>),
    /// DynamoDB throttled the request (over a partition's throughput).
    #[error("throttled by DynamoDB")]
    Throttled,
    /// An item was held by another transaction in flight (`TransactionConflict`).
    #[error("an item is held by a transaction in flight")]
    TransactionConflict,
    /// An item that does not have the shape the code writes.
    #[error("malformed item: {0}")]
    Corrupt(String),
    #[error("DynamoDB request failed: {0}")]
    Other(String),
}

impl StoreError {
    pub fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match err.code() {
            Some("ConditionalCheckFailedException") => Self::ConditionFailed,
            Some("TransactionConflictException") => Self::TransactionConflict,
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TransactionInProgressException",
            ) => Self::Throttled,
            _ => {
                Self::Other(aws_smithy_types::error::display::DisplayErrorContext(&err).to_string())
            }
        }
    }

    /// Lost a race (retry after re-reading) rather than failed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::ConditionFailed | Self::Cancelled(_))
    }

    /// Worth another try: a lost race or a busy moment.
    pub fn is_retryable(&self) -> bool {
        self.is_conflict() || matches!(self, Self::Throttled | Self::TransactionConflict)
    }

    /// Whether the item at `index` of a cancelled transaction failed its condition.
    pub fn item_failed(&self, index: usize) -> bool {
        match self {
            Self::Cancelled(reasons) => reasons
                .get(index)
                .is_some_and(|r| r == "ConditionalCheckFailed"),
            _ => false,
        }
    }
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Groups,
    Connections,
}

/// A Query: one partition of the table or of an index.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub table: Table,
    pub index: Option<&'static str>,
    /// The partition key attribute and value.
    pub pk: (&'static str, String),
    /// A sort key condition on `sk`: `>=`, `<`, or `begins_with`.
    pub sk: Option<SkCond>,
    pub limit: Option<i32>,
    pub consistent: bool,
    pub forward: bool,
    pub start: Option<Item>,
    /// Attributes to return (all when empty).
    pub projection: &'static [&'static str],
}

#[derive(Debug, Clone)]
pub enum SkCond {
    AtLeast(String),
    Below(String),
    BeginsWith(String),
}

impl QuerySpec {
    pub fn partition(table: Table, pk: &'static str, value: String) -> Self {
        Self {
            table,
            index: None,
            pk: (pk, value),
            sk: None,
            limit: None,
            consistent: true,
            forward: true,
            start: None,
            projection: &[],
        }
    }
}

/// One page of a Query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts, when there is one.
    pub next: Option<Item>,
}

/// The DynamoDB client plus table names and counters.
#[derive(Debug, Clone)]
pub struct Store {
    pub client: Client,
    pub tables: TableNames,
    pub metrics: Arc<Metrics>,
}

/// The `#name` aliases an expression uses, mapped to their attribute names.
pub fn names_in(expressions: &[&str]) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for expr in expressions {
        let bytes = expr.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'#' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_')
                {
                    end += 1;
                }
                if end > start {
                    let name = &expr[start..end];
                    map.insert(format!("#{name}"), name.to_owned());
                }
                i = end;
            } else {
                i += 1;
            }
        }
    }
    (!map.is_empty()).then_some(map)
}

fn values(vals: Vec<(&str, AttributeValue)>) -> Option<HashMap<String, AttributeValue>> {
    (!vals.is_empty()).then(|| vals.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Whether `expr` uses the placeholder `token` (`:a` is not in `:ab`).
fn mentions(expr: &str, token: &str) -> bool {
    expr.match_indices(token).any(|(i, _)| {
        !expr[i + token.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The values the expressions use (DynamoDB refuses unused ones), so callers
/// can pass a superset for expressions that vary.
fn used_values(
    expressions: &[&str],
    vals: Vec<(&str, AttributeValue)>,
) -> Option<HashMap<String, AttributeValue>> {
    values(
        vals.into_iter()
            .filter(|(k, _)| expressions.iter().any(|e| mentions(e, k)))
            .collect(),
    )
}

/// The partition key value of an item key, for the hot-partition figure.
fn partition_of(key: &Item) -> String {
    key.get("pk")
        .or_else(|| key.get("connection_id"))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

impl Store {
    pub fn new(client: Client, tables: TableNames, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            tables,
            metrics,
        }
    }

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
    fn count_error(&self, err: &StoreError) {
        match err {
            StoreError::TransactionConflict => self.metrics.count_transaction_conflict(),
            StoreError::Throttled => self.metrics.count_throttled(),
            e if e.is_conflict() => self.metrics.count_conflict(),
            _ => {}
        }
    }

    fn settle<O, E, R>(
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

    /// One page of a Query.
    pub async fn query(&self, q: QuerySpec) -> Result<Page, StoreError> {
        let mut cond = format!("#{} = :pk", q.pk.0);
        let mut vals = vec![(":pk", AttributeValue::S(q.pk.1.clone()))];
        if let Some(sk) = &q.sk {
            let (c, v) = match sk {
                SkCond::AtLeast(v) => ("#sk >= :sk", v),
                SkCond::Below(v) => ("#sk < :sk", v),
                SkCond::BeginsWith(v) => ("begins_with(#sk, :sk)", v),
            };
            cond.push_str(" AND ");
            cond.push_str(c);
            vals.push((":sk", AttributeValue::S(v.clone())));
        }
        let projection = (!q.projection.is_empty()).then(|| {
            q.projection
                .iter()
                .map(|a| format!("#{a}"))
                .collect::<Vec<_>>()
                .join(", ")
        });
        let partition = match q.index {
            Some(index) => format!("{index}/{}", q.pk.1),
            None => q.pk.1.clone(),
        };
        let result = self
            .client
            .query()
            .table_name(self.name(q.table))
            .set_index_name(q.index.map(str::to_owned))
            .key_condition_expression(&cond)
            .set_projection_expression(projection.clone())
            .set_expression_attribute_names(names_in(&[&cond, projection.as_deref().unwrap_or("")]))
            .set_expression_attribute_values(values(vals))
            .consistent_read(q.consistent && q.index.is_none())
            .scan_index_forward(q.forward)
            .set_limit(q.limit)
            .set_exclusive_start_key(q.start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = self.settle(DdbOp::Query, &[partition], result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(Page {
            items: out.items().to_vec(),
            next: out.last_evaluated_key().cloned(),
        })
    }

    /// Every page of a Query, up to `max_items`.
    pub async fn query_all(
        &self,
        mut q: QuerySpec,
        max_items: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        loop {
            let page = self.query(q.clone()).await?;
            items.extend(page.items);
            match page.next {
                Some(next) if items.len() < max_items => q.start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// One `UpdateItem`, sent again while a transaction in flight holds its item.
    pub async fn update(&self, op: Update) -> Result<(), StoreError> {
        retry_conflicts(|| self.update_once(op.clone())).await
    }

    async fn update_once(&self, op: Update) -> Result<(), StoreError> {
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
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.settle(DdbOp::UpdateItem, &partitions, result, |o| {
            o.consumed_capacity().cloned().into_iter().collect()
        })?;
        Ok(())
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

    /// One `TransactWriteItems`; a cancellation keeps its per-item reasons.
    /// Sent again while another transaction in flight holds one of its items.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        retry_conflicts(|| self.transact_once(items.clone())).await
    }

    async fn transact_once(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let partitions: Vec<String> = items
            .iter()
            .filter_map(|i| {
                i.put()
                    .map(|p| partition_of(p.item()))
                    .or_else(|| i.update().map(|u| partition_of(u.key())))
                    .or_else(|| i.delete().map(|d| partition_of(d.key())))
                    .or_else(|| i.condition_check().map(|c| partition_of(c.key())))
            })
            .collect();
        self.metrics.count_op(DdbOp::TransactWriteItems);
        self.metrics.touch(&partitions);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                let units: f64 = out
                    .consumed_capacity()
                    .iter()
                    .filter_map(|c| c.capacity_units())
                    .sum();
                self.metrics.add_capacity(0.0, units);
                Ok(())
            }
            Err(err) => {
                let err = transact_error(err);
                self.count_error(&err);
                Err(err)
            }
        }
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
async fn retry_conflicts<F, Fut>(mut send: F) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
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

/// Maps a TransactWriteItems failure, keeping the per-item cancellation reasons.
fn transact_error<R: std::fmt::Debug>(
    err: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> StoreError {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    if let Some(E::TransactionCanceledException(e)) = err.as_service_error() {
        let reasons: Vec<String> = e
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().unwrap_or("None").to_owned())
            .collect();
        // A failed condition is news about the items; a conflict or a throttle
        // only says to try again.
        let any = |codes: &[&str]| reasons.iter().any(|r| codes.contains(&r.as_str()));
        if !any(&["ConditionalCheckFailed"]) {
            if any(&["TransactionConflict"]) {
                return StoreError::TransactionConflict;
            }
            if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
                return StoreError::Throttled;
            }
        }
        return StoreError::Cancelled(reasons);
    }
    StoreError::from_sdk(err)
}

pub fn tx_put(p: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(p).build()
}

pub fn tx_update(u: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(u).build()
}

pub fn tx_delete(d: Delete) -> TransactWriteItem {
    TransactWriteItem::builder().delete(d).build()
}

pub fn tx_check(c: ConditionCheck) -> TransactWriteItem {
    TransactWriteItem::builder().condition_check(c).build()
}

/// Attribute constructors and readers.
pub mod attr {
    use std::collections::BTreeSet;

    use super::{AttributeValue, Item, StoreError};

    pub fn s(v: impl Into<String>) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    pub fn n(v: i64) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }

    pub fn b(v: bool) -> AttributeValue {
        AttributeValue::Bool(v)
    }

    /// A string set (DynamoDB refuses empty sets; callers never pass one).
    pub fn ss(v: impl IntoIterator<Item = String>) -> AttributeValue {
        AttributeValue::Ss(v.into_iter().collect())
    }

    pub fn strings(v: impl IntoIterator<Item = String>) -> AttributeValue {
        AttributeValue::L(v.into_iter().map(AttributeValue::S).collect())
    }

    pub fn opt_s(item: &Item, key: &str) -> Option<String> {
        match item.get(key) {
            Some(AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn req_s(item: &Item, key: &str) -> Result<String, StoreError> {
        opt_s(item, key)
            .ok_or_else(|| StoreError::Corrupt(format!("missing string attribute {key}")))
    }

    pub fn opt_n(item: &Item, key: &str) -> Option<i64> {
        match item.get(key) {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn req_n(item: &Item, key: &str) -> Result<i64, StoreError> {
        opt_n(item, key)
            .ok_or_else(|| StoreError::Corrupt(format!("missing number attribute {key}")))
    }

    pub fn opt_b(item: &Item, key: &str) -> Option<bool> {
        match item.get(key) {
            Some(AttributeValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn string_list(item: &Item, key: &str) -> Vec<String> {
        match item.get(key) {
            Some(AttributeValue::L(list)) => {
                list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
            }
            _ => Vec::new(),
        }
    }

    pub fn string_set(item: &Item, key: &str) -> BTreeSet<String> {
        match item.get(key) {
            Some(AttributeValue::Ss(set)) => set.iter().cloned().collect(),
            _ => BTreeSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_expressions() {
        let names = names_in(&["SET #pid = :p, #st = :s", "#room_id = :r"]).expect("some");
        assert_eq!(names.len(), 3);
        assert_eq!(names["#room_id"], "room_id");
        assert!(names_in(&["a = :b"]).is_none());
        let used = used_values(
            &["SET #a = :a"],
            vec![
                (":a", AttributeValue::N("1".into())),
                (":ab", AttributeValue::N("2".into())),
            ],
        )
        .expect("some");
        assert_eq!(used.len(), 1);
    }
}
