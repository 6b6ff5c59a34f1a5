//! The end-to-end suites, one test binary: the local stack (`circle-local`)
//! started in-process on a free port and driven over real WebSockets and HTTP.
//!
//! - `ws`: the local stack end to end, the group API and `@connections`.
//! - `fidelity`: the emulator as strict as API Gateway.
//! - `chaos`: kills, vanishes and resumes with concurrent frames.
//! - `part2`: moderation, the organiser, rate limits, resume and rounds.
//! - `hardening`: the embedded DynamoDB serves the stack only, the public URL,
//!   the data directory's modes.
//! - `logs`: nothing personal is logged at trace (the stack in a child process).
//!
//! Run: `cargo test -p circle-tests --features e2e --test e2e` (a filter such as
//! `-- chaos::` runs one suite).

mod chaos;
mod fidelity;
mod hardening;
mod logs;
mod part2;
mod ws;
mod ws_support;
