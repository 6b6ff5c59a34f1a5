//! Circle's core: the protocol, circles, connections and race-free pairing on
//! DynamoDB, the `@connections` gateway client, and the route handlers that both
//! the Lambdas (`circle-functions`) and the local stack (`circle-local`) run.
//! The design, the protocol and the invariants are in `docs/design.md`.
//!
//! # Layout
//!
//! Layers from the bottom up; a module imports only from its own layer or the
//! ones below (`infra/scripts/check-modules.py` checks there are no import
//! cycles).
//!
//! | layer | modules | what |
//! |---|---|---|
//! | leaves | [`clock`], [`code`], [`secrets`], [`prompts`], [`protocol`], [`timers`], [`headers`], [`logs`] | time, access codes, keyed hashes, icebreakers, the wire format, what a timer is, the page's security headers, the dependencies' logs kept quiet |
//! | storage | [`db`] | items, `StoreError`, the client, transactions with named slots, keys (and the glossary of short attribute names), tables, metrics |
//! | records | [`model`] | the records and their item shapes |
//! | rules | [`rules`] | pure: who may be paired and in what order; whom to pair in a round |
//! | context | [`gateway`], [`ratelimit`], [`app`], [`error`], [`edge`] | `@connections`, rate limits, the `App` every handler gets, `ActionError`, per-address limits counted in DynamoDB |
//! | domain | [`circle`], [`presence`], [`activity`], [`pairing`], [`rounds`], [`organizer`] | circles in the store, who is connected, counts over time (joins, chats, feedback; never who), the pairing actions, rounds, the organiser |
//! | routes | [`handlers`] | WebSocket routes, HTTP routes, firing timers |
//! | local only | `embedded`, `aws_sim` (feature `embedded`) | dynoxide in-process, and AWS's behaviour simulated in front of it |
//!
//! # One `join_group`, socket to DynamoDB
//!
//! 1. The frame arrives on the `join_group` route (`functions/src/bin/ws-join-group.rs`
//!    on AWS; `infra/src/socket.rs` locally) and goes to [`handlers::ws`], which
//!    parses it with [`protocol`] and calls [`pairing::join`].
//! 2. `pairing/join.rs` checks the rate limit (`pairing/ops.rs`, [`ratelimit`]),
//!    reads the circle, the connection and the member in one `BatchGetItem`
//!    ([`db`]`::Store::batch_get`), works out the joiner (`pairing/member.rs`)
//!    and where it was (`pairing/prior.rs`), and hands over to `pairing/seek.rs`.
//! 3. `pairing/seek.rs` reads a page of the lobby (`pairing/lobby.rs`, ranked
//!    by [`rules::matching`]) and claims the best waiter, or enqueues the
//!    joiner (`pairing/claim.rs`): one `TransactWriteItems` each, its items
//!    pushed into a [`db::Tx`] under names and its failures read by slot.
//!    A crowd is handed to `pairing/matchmaker.rs`.
//! 4. After a pairing commits, `pairing/claim.rs` tells the waiter first (and
//!    undoes the pairing if its socket is gone), then the joiner
//!    (`join_room`, built by `pairing/room.rs`), through [`gateway`]; the
//!    counters are added after the commit (`pairing/room.rs`, `add_stats`). A
//!    joiner who waits gets `waiting`, and a few long waiters get a new count
//!    (`pairing/notices.rs`).
//! 5. An error on the way is an [`ActionError`] ([`error`]), sent back as the
//!    protocol's `error` frame by [`handlers::ws`].

#![warn(missing_docs)]

pub mod activity;
pub mod app;
#[cfg(feature = "embedded")]
pub mod aws_sim;
pub mod circle;
pub mod clock;
pub mod code;
pub mod db;
pub mod edge;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod gateway;
pub mod handlers;
pub mod headers;
pub mod logs;

pub mod model;
pub mod organizer;
pub mod pairing;
pub mod presence;
pub mod prompts;
pub mod protocol;
pub mod ratelimit;
pub mod rounds;
pub mod rules;
pub mod sdk;
pub mod secrets;

pub mod timers;

pub use app::{App, Settings};
pub use db::TableNames;
pub use error::ActionError;
pub use gateway::{ApiGatewayManagement, Gateway, GatewayError};
pub use ratelimit::RateLimits;
