//! Page-store benchmarks (written next).
fn main() {}
