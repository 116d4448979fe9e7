#![forbid(unsafe_code)]
//! No code: see Cargo.toml.
