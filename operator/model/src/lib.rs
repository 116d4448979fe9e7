#![forbid(unsafe_code)]
//! Portico's data model: the inputs translation reads ([`snapshot::Snapshot`], loaded from YAML
//! by [`load`]), what each provider declares it can do ([`capabilities`]), and the
//! provider-neutral IR translation produces ([`ir`]).

pub mod capabilities;
pub mod crds;
pub mod ir;
pub mod l4routes;
pub mod load;
pub mod snapshot;

pub use capabilities::{Capabilities, Fact, Feature, ListenerProtocol, ProviderKind, RegexDialect, RouteKind};
pub use ir::{ObjectRef, RouteKey};
pub use snapshot::{ParametersObject, Snapshot};

/// The Gateway API group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
