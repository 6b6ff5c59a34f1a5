//! The end-to-end suites, one test binary: the local stack (`circle-local`)
//! started in-process on a free port and driven over real WebSockets and HTTP.
//!
//! - `ws`: the local stack end to end, the group API and `@connections`.
//! - `fidelity`: the emulator as strict as API Gateway.
//! - `chaos`: kills, vanishes and resumes with concurrent frames.
//! - `part2`: moderation, the organiser, rate limits, resume and rounds.
//! - `hardening`: the embedded DynamoDB serves the stack only, the public URL,
//!   the data directory's modes.
//! - `lifecycle`: a replaced code, evicting on a new code, closing, the QR code.
//! - `insight`: an announcement to every connected member, the activity CSV.
//! - `labels`: a join with a label gets the partner's label in `match`.
//! - `recent`: feedback, keep in touch, reporting an earlier partner, paged reports.
//! - `everyone`: `sit_out` and `round_ending` over real sockets.
//! - `logs`: nothing personal is logged at trace (the stack in a child process).
//!
//! Run: `cargo test -p circle-tests --features e2e --test e2e` (a filter such as
//! `-- chaos::` runs one suite).

mod chaos;
mod everyone;
mod fidelity;
mod hardening;
mod insight;
mod labels;
mod lifecycle;
mod logs;
mod part2;
mod recent;
mod ws;
mod ws_support;
