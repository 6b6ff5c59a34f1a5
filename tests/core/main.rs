//! The core suites, one test binary: the route handlers against the embedded
//! DynamoDB, in-process, with a hand-moved clock where time matters.
//!
//! - `pairing`: each pairing invariant, bad input, each action's DynamoDB cost,
//!   and property-based action sequences.
//! - `concurrency`: a thousand simultaneous joins into one circle, a mixed run
//!   across many, and the rules of the AWS simulation (`--aws-sim`).
//! - `groups`: the circle HTTP API, and the listing (`GET /groups`).
//! - `edge`: per-address limits (sockets, HTTP requests), and closing a
//!   connection that keeps going over its rate limit.
//! - `safety`: members, block and report, rate limits, the organiser.
//! - `meeting`: meeting new people at a bounded cost per join.
//! - `resume`: chats that survive a dropped connection, vanished waiters.
//! - `rounds`: timed rounds and prompts.
//!
//! Run one suite with a filter: `cargo test -p circle-tests --test core -- rounds::`.

mod concurrency;
mod edge;
mod groups;
mod meeting;
mod pairing;
mod resume;
mod rounds;
mod safety;
