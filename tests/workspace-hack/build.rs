//! Present so the host-side feature unification above applies; does nothing.
fn main() {}
