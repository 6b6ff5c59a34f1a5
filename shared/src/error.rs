//! What an action can end in besides success, and how each maps onto the
//! protocol's error codes.

use crate::db::StoreError;
use crate::gateway::GatewayError;
use crate::protocol::{ErrorCode, ProtocolError};

/// Why a WebSocket action did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The frame could not be understood.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// No live circle has that access code.
    #[error("no circle with that access code")]
    CircleNotFound,
    /// The circle has expired.
    #[error("this circle has expired")]
    CircleExpired,
    /// The code was replaced by a new one (its tombstone says so).
    #[error("the organiser changed this circle's code; ask them for the new one")]
    CodeChanged,
    /// The circle of this code was closed by its organiser.
    #[error("the organiser closed this circle")]
    CircleClosed,
    /// In a room the action can't be taken from (e.g. `join_group` for another circle).
    #[error("you are already in a room; leave it first")]
    AlreadyInRoom,
    /// The frame names a room this connection is not in.
    #[error("you are not in that room")]
    NotInRoom,
    /// A relayed `message` would be over the gateway's frame limit.
    #[error("the message is larger than {limit} bytes once relayed")]
    PayloadTooLarge {
        /// The limit, in bytes (`Settings::max_frame_bytes`).
        limit: usize,
    },
    /// The store kept refusing (lost races, throttles) past the attempts or the time allowed;
    /// sent as `rate_limited`.
    #[error("too much going on right now; try again")]
    Busy,
    /// This connection is over its rate limit, or marked throttled.
    #[error("slow down: too many requests from this connection")]
    RateLimited,
    /// The organiser removed this member from the circle.
    #[error("you were removed from this circle by its organiser")]
    Removed,
    /// The partner's socket dropped and their seat is held; the message was not relayed.
    #[error("your partner's connection dropped; they may be back in a moment")]
    PartnerAway,
    /// No record for this connection (it expired, or `$connect` never stored it).
    #[error("this connection is not known; reconnect")]
    UnknownConnection,
    /// The store failed.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    /// `@connections` failed.
    #[error("gateway error: {0}")]
    Gateway(#[from] GatewayError),
}

impl ActionError {
    /// The protocol's error code for it; a busy store and throttles are `rate_limited`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Protocol(_) | Self::AlreadyInRoom | Self::UnknownConnection => {
                ErrorCode::BadRequest
            }
            Self::CircleNotFound => ErrorCode::GroupNotFound,
            Self::CircleExpired => ErrorCode::GroupExpired,
            Self::CodeChanged => ErrorCode::CodeChanged,
            Self::CircleClosed => ErrorCode::CircleClosed,
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
