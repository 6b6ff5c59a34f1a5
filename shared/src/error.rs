//! What an action can end in besides success, and how each maps onto the
//! protocol's error codes.

use crate::db::StoreError;
use crate::gateway::GatewayError;
use crate::protocol::{ErrorCode, ProtocolError};

/// Why a WebSocket action did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("no circle with that access code")]
    CircleNotFound,
    #[error("this circle has expired")]
    CircleExpired,
    #[error("you are already in a room; leave it first")]
    AlreadyInRoom,
    #[error("you are not in that room")]
    NotInRoom,
    #[error("the message is larger than {limit} bytes once relayed")]
    PayloadTooLarge { limit: usize },
    #[error("too much going on right now; try again")]
    Busy,
    #[error("slow down: too many requests from this connection")]
    RateLimited,
    #[error("you were removed from this circle by its organiser")]
    Removed,
    #[error("your partner's connection dropped; they may be back in a moment")]
    PartnerAway,
    #[error("this connection is not known; reconnect")]
    UnknownConnection,
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("gateway error: {0}")]
    Gateway(#[from] GatewayError),
}

impl ActionError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Protocol(_) | Self::AlreadyInRoom | Self::UnknownConnection => {
                ErrorCode::BadRequest
            }
            Self::CircleNotFound => ErrorCode::GroupNotFound,
            Self::CircleExpired => ErrorCode::GroupExpired,
            Self::NotInRoom => ErrorCode::NotInRoom,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::Removed => ErrorCode::Removed,
            Self::PartnerAway => ErrorCode::PartnerAway,
            Self::Busy
            | Self::RateLimited
            | Self::Store(StoreError::Throttled | StoreError::TransactionConflict)
            | Self::Gateway(GatewayError::Throttled) => ErrorCode::RateLimited,
            Self::Store(_) | Self::Gateway(_) => ErrorCode::Internal,
        }
    }

    /// The client's mistake (or a busy moment), as opposed to our failure.
    pub fn is_client_error(&self) -> bool {
        self.code() != ErrorCode::Internal
    }

    /// The text for the `error` event; internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self.code() {
            ErrorCode::Internal => "something went wrong on our side; try again".to_owned(),
            _ => self.to_string(),
        }
    }
}
