#![forbid(unsafe_code)]
//! The contract every load-balancer platform implements, in two forms:
//!
//! - [`Provider`], typed: `observe` (find what exists, by ownership tags/names) -> `plan` (a pure
//!   diff between the IR and what was observed) -> `apply` (idempotent, ordered changes; returns
//!   the addresses); `delete` removes everything the provider owns for a Gateway. Only
//!   `observe`, `apply` and `delete` do I/O. The shared suite ([`conformance`]) and the
//!   fault-injecting wrapper ([`faulty::Faulty`]) are written against it.
//! - [`DynProvider`], its trait-object form (every `Provider` is one), which the operator holds
//!   in a map by [`ProviderKind`] and never branches on.
//!
//! The pure part of a platform (capabilities, quota and address checks, the native plan from
//! nothing) is a [`Planner`]; `portico plan` uses planners alone, with no client. Each provider
//! crate exports a [`Descriptor`]: its kind, capabilities, parameters CRD, command-line flags and
//! constructor.

pub mod admission;
pub mod calls;
pub mod conformance;
pub mod descriptor;
pub mod dynamic;
pub mod faulty;
pub mod memory;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

pub use calls::CallCounts;
pub use descriptor::{Connect, Context, Descriptor, OnCall, Registered, no_permissions};
pub use dynamic::{BoxFuture, DynProvider};
use portico_model::ir::{self, Address, ObjectRef, RouteKey};
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
    /// Shared with the translation it came from (and with the operator's record of what was
    /// programmed): one copy of each Gateway's IR, however many holders.
    #[serde(serialize_with = "serialize_shared")]
    pub ir: Arc<ir::Gateway>,
    /// PEM (certificate chain then private key) per Secret named in the IR's certificate bindings.
    #[serde(skip)]
    pub certificates: BTreeMap<ObjectRef, Vec<u8>>,
    /// The spec of the parameters object in effect (`null` when none).
    pub parameters: serde_json::Value,
    /// Which provider instance the Gateway belongs to: `namespace/name` of the parameters object
    /// that decides it (`default` when none). Platforms that share one process or appliance
    /// between Gateways (HAProxy) program each instance's Gateways together.
    #[serde(skip)]
    pub instance: String,
    /// Addresses the Gateway reports now: providers keep them stable across restarts.
    pub current_addresses: Vec<Address>,
    /// Route age order (rank, oldest first), computed once by translation: when a platform quota
    /// cannot fit every route, the oldest routes keep their place.
    #[serde(skip)]
    pub route_ranks: BTreeMap<RouteKey, usize>,
    /// Listener precedence (IR listener name -> rank): the Gateway's own listeners first, then
    /// ListenerSets' oldest first. When a platform limit cannot fit every listener, the
    /// highest-precedence ones keep their place ([`admission`]).
    #[serde(skip)]
    pub listener_ranks: BTreeMap<String, usize>,
}

impl Desired {
    /// A Gateway's desired state with no certificates, parameters or history (tests, fuzzing).
    pub fn bare(ir: ir::Gateway) -> Desired {
        Desired {
            ir: Arc::new(ir),
            certificates: BTreeMap::new(),
            parameters: serde_json::Value::Null,
            instance: "default".into(),
            current_addresses: Vec::new(),
            route_ranks: BTreeMap::new(),
            listener_ranks: BTreeMap::new(),
        }
    }

    /// The rank of a route (routes translation did not rank sort last).
    pub fn rank(&self, route: &RouteKey) -> usize {
        self.route_ranks.get(route).copied().unwrap_or(usize::MAX)
    }

    /// The precedence of an IR listener (listeners translation did not rank sort last).
    pub fn listener_rank(&self, listener: &str) -> usize {
        self.listener_ranks.get(listener).copied().unwrap_or(usize::MAX)
    }
}

/// Serialize a shared IR as the IR itself (serde's `rc` feature is not enabled: enabling it would
/// rebuild every crate that depends on serde).
fn serialize_shared<S: serde::Serializer>(ir: &Arc<ir::Gateway>, serializer: S) -> Result<S::Ok, S::Error> {
    ir.as_ref().serialize(serializer)
}

/// A route the platform's quotas leave out on one Gateway; it gets `Accepted=False`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteOverflow {
    pub route: RouteKey,
    /// Names the quota, e.g. "rules per listener (100) on listener HTTP:80 are used up".
    pub message: String,
}

/// A listener a platform limit leaves out of one Gateway (the lowest-precedence ones first); it
/// gets `Accepted=False` with reason `PortUnavailable` and is not programmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerOverflow {
    /// The IR listener name (`name`, or `namespace/listenerset/name` for a ListenerSet's).
    pub listener: String,
    /// Names the limit, e.g. "ALB listeners per load balancer (50) are used up".
    pub message: String,
}

/// Errors know whether retrying can help and which Gateway condition reason they map to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// What a platform's pure checks say about one Gateway before anything is programmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Routes that do not fit the platform's quotas: left out, `Accepted=False` on this Gateway.
    pub overflows: Vec<RouteOverflow>,
    /// Listeners that do not fit the platform's per-load-balancer limits: left out,
    /// `Accepted=False` (`PortUnavailable`).
    pub listener_overflows: Vec<ListenerOverflow>,
    /// Why the Gateway cannot be programmed at all (e.g. an address the platform cannot honour):
    /// it is not programmed and gets `Programmed=False` with the error's reason.
    pub refusal: Option<ProviderError>,
    /// Gateway fields the platform leaves out of what it programs, each naming the field and why
    /// (e.g. a label AWS cannot take as a tag): added to the Gateway's `Accepted` message
    /// ("accepted without: ..."), never silently dropped.
    pub left_out: Vec<String>,
}

/// The pure part of a platform: no I/O, no clock. `portico plan` and `portico run` both use it,
/// so they show the same conditions.
pub trait Planner: Send + Sync {
    fn capabilities(&self) -> &Capabilities;

    /// Quota and address checks for one Gateway.
    fn check(&self, _desired: &Desired) -> Check {
        Check::default()
    }

    /// The native changes that would create this Gateway from nothing, for `portico plan` and
    /// golden tests (`None`: the platform has no printable plan).
    fn plan_from_empty(&self, _desired: &Desired) -> Option<serde_json::Value> {
        None
    }
}

/// One load-balancer platform, typed.
pub trait Provider: Send + Sync {
    /// What exists on the platform for one Gateway.
    type Observed: Send + Sync;
    /// The native changes for one Gateway; serialisable so `portico plan` can print it.
    type Plan: Serialize + Send + Sync;

    /// The platform's pure part.
    fn planner(&self) -> &dyn Planner;

    /// Bookkeeping before observing (no I/O): e.g. where the parameters say a Gateway lives, so
    /// that observing and deleting look there even after a restart.
    fn prepare(&self, _desired: &Desired) {}

    fn observe(&self, gateway: &ObjectRef) -> impl Future<Output = Result<Self::Observed, ProviderError>> + Send;

    /// Pure: the changes that turn `observed` into `desired` (`None`: remove everything).
    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> Self::Plan;

    /// Whether applying the plan would change nothing (and make no mutating call).
    fn plan_is_empty(&self, plan: &Self::Plan) -> bool;

    fn apply(&self, plan: &Self::Plan) -> impl Future<Output = Result<Applied, ProviderError>> + Send;

    fn delete(&self, gateway: &ObjectRef) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Program this platform's Gateways: `desired` holds every one it serves now, `changed` the
    /// ones whose desired state changed (all of them on a drift tick). Returns a result for each
    /// Gateway it programmed. The default observes, plans and applies each changed Gateway in
    /// turn; platforms whose Gateways share one configuration (HAProxy) write it once.
    fn apply_all(
        &self,
        desired: &BTreeMap<ObjectRef, Desired>,
        changed: &BTreeSet<ObjectRef>,
    ) -> impl Future<Output = BTreeMap<ObjectRef, Result<Applied, ProviderError>>> + Send {
        async move {
            let mut out = BTreeMap::new();
            for (key, gateway) in desired.iter().filter(|(k, _)| changed.contains(*k)) {
                out.insert(key.clone(), self.apply_one(key, gateway).await);
            }
            out
        }
    }

    /// Observe, plan and apply one Gateway.
    fn apply_one(&self, key: &ObjectRef, desired: &Desired) -> impl Future<Output = Result<Applied, ProviderError>> + Send {
        async move {
            let observed = self.observe(key).await?;
            let plan = self.plan(Some(desired), &observed);
            self.apply(&plan).await
        }
    }
}
