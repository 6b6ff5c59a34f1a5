//! Placeholder until the Lambda issue fills this crate.
