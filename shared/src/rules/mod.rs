//! Pure rules: no store, no `App`, no SDK; each unit-tested alone.
//!
//! - `matching`: who may be paired (`compatible`) and in what order (`rank`).
//! - `schedule`: whom to pair in a round.
//! - `waiting`: why a waiter waits although others are present.

pub mod matching;
pub mod schedule;
pub mod waiting;
