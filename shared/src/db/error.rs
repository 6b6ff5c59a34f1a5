//! `StoreError`: every storage failure, classified by what the caller does
//! next (re-read and retry, back off, or fail), and the reasons a cancelled
//! transaction gives per item.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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
    /// Any other failure of the request (network, validation, service).
    #[error("DynamoDB request failed: {0}")]
    Other(String),
}

impl StoreError {
    /// Maps an SDK error by its AWS error code.
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
}
