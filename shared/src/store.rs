//! The DynamoDB client the core talks through: error mapping, request counting,
//! consumed-capacity accounting and small attribute helpers.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};
use std::collections::HashMap;
use std::sync::Arc;

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
    /// DynamoDB throttled the request.
    #[error("throttled by DynamoDB")]
    Throttled,
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
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TransactionConflictException"
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

/// The DynamoDB client plus table names and counters.
#[derive(Debug, Clone)]
pub struct Store {
    pub client: Client,
    pub tables: TableNames,
    pub metrics: Arc<Metrics>,
}

impl Store {
    pub fn new(client: Client, tables: TableNames, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            tables,
            metrics,
        }
    }

    /// Records one request and the capacity it consumed.
    pub fn count(&self, op: DdbOp, consumed: &[ConsumedCapacity]) {
        self.metrics.count_op(op);
        let units: f64 = consumed.iter().filter_map(|c| c.capacity_units()).sum();
        if op.is_read() {
            self.metrics.add_capacity(units, 0.0);
        } else {
            self.metrics.add_capacity(0.0, units);
        }
    }

    /// [`count`](Self::count) for single-item operations.
    pub fn count_one(&self, op: DdbOp, consumed: Option<&ConsumedCapacity>) {
        self.count(op, consumed.map(std::slice::from_ref).unwrap_or_default());
    }

    /// Counts a finished single-item request (with the capacity its output
    /// reports) and maps its error.
    pub fn settle<O, E, R>(
        &self,
        op: DdbOp,
        result: Result<O, SdkError<E, R>>,
        consumed: impl for<'a> FnOnce(&'a O) -> Option<&'a ConsumedCapacity>,
    ) -> Result<O, StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(out) => {
                self.count_one(op, consumed(&out));
                Ok(out)
            }
            Err(err) => {
                let err = StoreError::from_sdk(err);
                self.count_failed(op, &err);
                Err(err)
            }
        }
    }

    /// One item by key, counted; `consistent` asks for a strongly consistent read.
    pub async fn get_item(
        &self,
        table: &str,
        key: Item,
        consistent: bool,
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await;
        let mut out = self.settle(
            DdbOp::GetItem,
            result,
            aws_sdk_dynamodb::operation::get_item::GetItemOutput::consumed_capacity,
        )?;
        Ok(out.item.take())
    }

    /// Records a request that failed (it still cost a round trip).
    pub fn count_failed(&self, op: DdbOp, err: &StoreError) {
        self.metrics.count_op(op);
        if err.is_conflict() {
            self.metrics.count_conflict();
        }
    }

    /// Maps a TransactWriteItems failure, keeping the per-item cancellation reasons.
    pub fn transact_error<R: std::fmt::Debug>(
        err: SdkError<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
            R,
        >,
    ) -> StoreError {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
        if let Some(E::TransactionCanceledException(e)) = err.as_service_error() {
            let reasons: Vec<String> = e
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect();
            if reasons
                .iter()
                .any(|r| r == "ThrottlingError" || r == "ProvisionedThroughputExceeded")
            {
                return StoreError::Throttled;
            }
            return StoreError::Cancelled(reasons);
        }
        StoreError::from_sdk(err)
    }
}

/// Attribute constructors and readers.
pub mod attr {
    use super::{AttributeValue, Item, StoreError};

    pub fn s(v: impl Into<String>) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    pub fn n(v: i64) -> AttributeValue {
        AttributeValue::N(v.to_string())
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

    pub fn string_list(item: &Item, key: &str) -> Vec<String> {
        match item.get(key) {
            Some(AttributeValue::L(list)) => {
                list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
            }
            _ => Vec::new(),
        }
    }
}
