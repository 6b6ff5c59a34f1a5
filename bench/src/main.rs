//! Placeholder until the benchmark issue fills this crate.
fn main() {}
