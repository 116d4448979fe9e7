#![forbid(unsafe_code)]
//! The `portico` binary's registry: the platforms this build offers. A new platform is one
//! line here (plus its crate and its `ProviderKind` variant).

use portico::Registry;

/// Every platform compiled into this build (`--no-default-features`: HAProxy only).
pub fn registry() -> Registry {
    Registry::new([
        &portico_haproxy::DESCRIPTOR,
        #[cfg(feature = "aws")]
        &portico_aws::DESCRIPTOR,
        #[cfg(feature = "gcp")]
        &portico_gcp::DESCRIPTOR,
    ])
}
