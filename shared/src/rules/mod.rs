//! Pure rules: no store, no `App`, no SDK; each unit-tested alone.
//!
//! - `matching`: who may be paired (`compatible`) and in what order (`rank`).
//! - `schedule`: whom to pair in a round.

pub mod matching;
pub mod schedule;
