#![forbid(unsafe_code)]
//! The `portico` binary's library: everything its subcommands do, callable from tests.

pub mod matrix;
pub mod plan;

use portico_translate::CapabilitySet;

/// The capabilities of every provider this build of Portico carries.
pub fn all_capabilities() -> CapabilitySet {
    CapabilitySet::new([portico_aws::capabilities(), portico_gcp::capabilities(), portico_haproxy::capabilities()])
}
