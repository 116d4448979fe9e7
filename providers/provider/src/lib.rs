#![forbid(unsafe_code)]
//! The contract every load-balancer platform implements.
//!
//! The flow for one Gateway is `observe` (find what exists, by ownership tags/names) ->
//! `plan` (a pure diff between the IR and what was observed) -> `apply` (idempotent, ordered
//! changes; returns the addresses). `delete` removes everything the provider owns for a Gateway.
//! Only `observe`, `apply` and `delete` do I/O.

pub mod calls;
pub mod conformance;
pub mod faulty;

use std::collections::BTreeMap;

pub use calls::CallCounts;
use portico_model::ir::{self, Address, ObjectRef};
pub use portico_model::{Capabilities, Fact, Feature, ListenerProtocol, ProviderKind};
use serde::Serialize;

/// What a provider reports after applying a Gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub addresses: Vec<Address>,
    /// False while the platform is still bringing the load balancer up (e.g. an ALB
    /// "provisioning"); the operator re-checks soon after.
    pub ready: bool,
    /// Routes the platform refused and that were left out of this Gateway while the rest was
    /// programmed; each gets `Accepted=False` on this Gateway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_routes: Vec<RouteOverflow>,
}

/// Everything a provider needs to program one Gateway: the IR, the certificate material the IR
/// refers to (never printed), and the provider parameters in effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    pub ir: ir::Gateway,
    /// PEM (certificate chain then private key) per Secret named in the IR's certificate bindings.
    #[serde(skip)]
    pub certificates: BTreeMap<ObjectRef, Vec<u8>>,
    /// The spec of the parameters object in effect (`null` when none).
    pub parameters: serde_json::Value,
    /// Addresses the Gateway reports now: providers keep them stable across restarts.
    pub current_addresses: Vec<Address>,
    /// Route age order (`Kind/namespace/name` -> rank, oldest first): when a platform quota
    /// cannot fit every route, the oldest routes keep their place.
    #[serde(skip)]
    pub route_ranks: BTreeMap<String, usize>,
}

/// A route the platform's quotas leave out on one Gateway; it gets `Accepted=False`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteOverflow {
    /// `Kind/namespace/name`.
    pub route: String,
    /// Names the quota, e.g. "rules per listener (100) on listener HTTP:80 are used up".
    pub message: String,
}

/// Errors know whether retrying can help and which Gateway condition reason they map to.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The platform throttled us; retry with backoff.
    #[error("{operation} was throttled by {platform}: {message}")]
    Throttled { platform: String, operation: String, message: String },
    /// A transient platform or network failure (5xx, timeout); retry with backoff.
    #[error("{operation} failed on {platform}: {message}")]
    Transient { platform: String, operation: String, message: String },
    /// The platform refused the request as invalid; retrying the same input will not help.
    #[error("{operation} was rejected by {platform}: {message}")]
    Rejected { platform: String, operation: String, message: String },
    /// A requested address cannot be used (outside the pool, already taken, ...).
    #[error("address {address} is not usable: {message}")]
    AddressNotUsable { address: String, message: String },
    /// A resource with our name exists but is not owned by this Portico installation.
    #[error("{resource} exists but is not owned by Portico; refusing to touch it")]
    NotOwned { resource: String },
}

impl ProviderError {
    pub fn retryable(&self) -> bool {
        matches!(self, ProviderError::Throttled { .. } | ProviderError::Transient { .. })
    }

    /// The reason for the Gateway's `Programmed=False` condition.
    pub fn condition_reason(&self) -> &'static str {
        match self {
            ProviderError::AddressNotUsable { .. } => "AddressNotUsable",
            ProviderError::Throttled { .. } | ProviderError::Transient { .. } => "Pending",
            ProviderError::Rejected { .. } | ProviderError::NotOwned { .. } => "Invalid",
        }
    }
}

/// One load-balancer platform.
#[allow(async_fn_in_trait)]
pub trait Provider {
    /// What exists on the platform for one Gateway.
    type Observed;
    /// The native changes for one Gateway; serialisable so `portico plan` can print it.
    type Plan: Serialize;

    fn capabilities(&self) -> &Capabilities;

    /// Pure: routes that do not fit the platform's quotas on this Gateway. They are left out of
    /// what is programmed, and translation's status for them becomes `Accepted=False`.
    fn overflows(&self, _desired: &Desired) -> Vec<RouteOverflow> {
        Vec::new()
    }

    /// Bookkeeping before observing (no I/O): e.g. where the parameters say a Gateway lives, so
    /// that observing and deleting look there even after a restart.
    fn prepare(&self, _desired: &Desired) {}

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError>;

    /// Pure: the changes that turn `observed` into `desired` (`None`: remove everything).
    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> Self::Plan;

    /// Whether applying the plan would change nothing (and make no mutating call).
    fn plan_is_empty(&self, plan: &Self::Plan) -> bool;

    async fn apply(&self, plan: &Self::Plan) -> Result<Applied, ProviderError>;

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError>;

    /// Program several Gateways at once. Platforms that share one configuration between
    /// Gateways (HAProxy) override this to write it once; the default goes one by one.
    async fn apply_all(&self, desired: &BTreeMap<ObjectRef, Desired>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        let mut out = BTreeMap::new();
        for (key, gateway) in desired {
            let result = match self.observe(key).await {
                Ok(observed) => {
                    let plan = self.plan(Some(gateway), &observed);
                    self.apply(&plan).await
                }
                Err(error) => Err(error),
            };
            out.insert(key.clone(), result);
        }
        out
    }
}
