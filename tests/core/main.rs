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
//! - `recent`: the last five rooms: block and report an earlier partner; paged
//!   reports and counts per member. `aftercare`: feedback and keep in touch.
//! - `insight`: activity counts (joins, chats, feedback) that link no rating
//!   to anyone, the organiser's view and CSV, announcements, their costs.
//! - `labels`: labels on a circle and a join, ranking by label, the share
//!   of chats across labels, what labels cost.
//! - `lifecycle`: tombstones of replaced codes and closed circles, `circle_ended`,
//!   evicting on a new code, the organiser's roster, names, rotating resume tokens.
//! - `meeting`: meeting new people at a bounded cost per join.
//! - `resume`: chats that survive a dropped connection, vanished waiters.
//! - `rounds`: timed rounds and prompts.
//! - `everyone`: rounds that include idle members, `sit_out`, `round_ending`,
//!   the same lobby count for every waiter and why they wait.
//!
//! Run one suite with a filter: `cargo test -p circle-tests --test core -- rounds::`.

mod aftercare;
mod concurrency;
mod edge;
mod everyone;
mod groups;
mod insight;
mod labels;
mod lifecycle;
mod meeting;
mod pairing;
mod recent;
mod resume;
mod rounds;
mod safety;
