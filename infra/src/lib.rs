//! Placeholder until the local stack issue fills this crate.
