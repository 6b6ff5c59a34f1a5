//! Placeholder until the local stack issue fills this crate.
fn main() {}
