//! Transactions with named slots: each item is pushed under a label and gives
//! back its [`Slot`], and a cancellation is read by slot
//! (`err.failed(waiter_entry)`), never by a bare position.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};

use super::client::retry_conflicts;
use super::expr::partition_of;
use super::metrics::DdbOp;
use super::{Store, StoreError};

/// One item's place in a [`Tx`]: what [`StoreError::failed`] is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

impl Slot {
    /// The item's position in the request (the cancellation reasons' order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// A `TransactWriteItems` being built: its items in order, each with a label
/// saying what it is (for readers and traces, never sent).
#[derive(Debug, Clone, Default)]
pub struct Tx {
    items: Vec<TransactWriteItem>,
    labels: Vec<&'static str>,
}

impl Tx {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, label: &'static str, item: TransactWriteItem) -> Slot {
        self.items.push(item);
        self.labels.push(label);
        Slot(self.items.len() - 1)
    }

    /// Adds a conditional update.
    pub fn update(&mut self, label: &'static str, op: Update) -> Slot {
        self.push(label, TransactWriteItem::builder().update(op).build())
    }

    /// Adds a conditional put.
    pub fn put(&mut self, label: &'static str, op: Put) -> Slot {
        self.push(label, TransactWriteItem::builder().put(op).build())
    }

    /// Adds a conditional delete.
    pub fn delete(&mut self, label: &'static str, op: Delete) -> Slot {
        self.push(label, TransactWriteItem::builder().delete(op).build())
    }

    /// Adds a condition check on an item the transaction doesn't change.
    pub fn check(&mut self, label: &'static str, op: ConditionCheck) -> Slot {
        self.push(
            label,
            TransactWriteItem::builder().condition_check(op).build(),
        )
    }

    /// How many items it has.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The label of `slot`.
    pub fn label(&self, slot: Slot) -> &'static str {
        self.labels[slot.0]
    }
}

impl Store {
    /// One `TransactWriteItems`; a cancellation keeps its per-item reasons,
    /// read back with [`StoreError::failed`] and the transaction's slots.
    /// Sent again while another transaction in flight holds one of its items.
    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        if let Some(label) = tx.labels.first() {
            tracing::trace!(first = label, items = tx.items.len(), "transaction");
        }
        retry_conflicts(|| self.transact_once(tx.items.clone())).await
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
}

impl StoreError {
    /// Whether the item in `slot` of a cancelled transaction failed its condition.
    pub fn failed(&self, slot: Slot) -> bool {
        match self {
            Self::Cancelled(reasons) => reasons
                .get(slot.index())
                .is_some_and(|r| r == "ConditionalCheckFailed"),
            _ => false,
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
