//! Circle's core: the protocol, groups, connections and race-free pairing on
//! DynamoDB, the `@connections` gateway client, and the route handlers that both
//! the Lambdas and the local stack run.

pub mod app;
#[cfg(feature = "embedded")]
pub mod aws_sim;
pub mod circles;
pub mod clock;
pub mod code;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod gateway;
pub mod groups;
pub mod handlers;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod organizer;
pub mod pairing;
pub mod presence;
pub mod prompts;
pub mod protocol;
pub mod ratelimit;
pub mod rounds;
pub mod sdk;
pub mod secrets;
pub mod store;
pub mod tables;
pub mod timers;

pub use app::{App, RateLimits, Settings};
pub use error::ActionError;
pub use gateway::{ApiGatewayManagement, Gateway, GatewayError};
pub use tables::TableNames;
