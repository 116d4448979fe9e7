//! An in-memory platform (`portico.dev/memory`), like object_store's `InMemory`: it keeps what
//! each Gateway was programmed with and hands out stable documentation addresses
//! (192.0.2.0/24). The operator's own tests register it, which proves that a platform is one
//! descriptor plus one registration, and the shared provider suite runs against it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use portico_model::capabilities::{Capabilities, Feature, Limits, ListenerProtocol, ProviderKind};
use portico_model::ir::{Address, ObjectRef};
use serde::Serialize;

use crate::descriptor::{Connect, Descriptor};
use crate::{Applied, CallCounts, Check, Desired, DynProvider, Planner, Provider, ProviderError};

/// What the platform holds for one Gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Programmed {
    pub ir: serde_json::Value,
    pub parameters: serde_json::Value,
    pub address: String,
}

/// The change for one Gateway: what is there and what should be.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPlan {
    pub gateway: ObjectRef,
    pub current: Option<Programmed>,
    pub wanted: Option<Programmed>,
    #[serde(skip)]
    desired: Option<Desired>,
}

/// The platform's state, shared by every handle to it.
#[derive(Debug, Default)]
pub struct Platform {
    pub gateways: BTreeMap<ObjectRef, Programmed>,
    /// Every address ever handed out, by Gateway: a Gateway keeps its address across deletes.
    addresses: BTreeMap<ObjectRef, String>,
}

#[derive(Clone)]
pub struct MemoryProvider {
    planner: Arc<MemoryPlanner>,
    pub platform: Arc<Mutex<Platform>>,
    pub calls: Arc<CallCounts>,
}

pub struct MemoryPlanner {
    capabilities: Capabilities,
}

impl Planner for MemoryPlanner {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Any requested address outside 192.0.2.0/24 cannot be honoured.
    fn check(&self, desired: &Desired) -> Check {
        let refusal = desired
            .ir
            .requested_addresses
            .iter()
            .find(|a| !a.value.starts_with("192.0.2."))
            .map(|a| ProviderError::AddressNotUsable { address: a.value.clone(), message: "the memory platform only has 192.0.2.0/24".into() });
        Check { refusal, ..Check::default() }
    }

    fn plan_from_empty(&self, desired: &Desired) -> Option<serde_json::Value> {
        serde_json::to_value(programmed(desired, "192.0.2.1".into())).ok()
    }
}

/// What the memory platform can do: HTTP routing, nothing more.
pub fn capabilities() -> Capabilities {
    Capabilities {
        provider: ProviderKind::Memory,
        platform: "the in-memory test platform".into(),
        label: "memory".into(),
        parameters_kind: "MemoryParameters".into(),
        protocols: [ListenerProtocol::Http].into(),
        features: [Feature::Gateway, Feature::HttpRoute, Feature::ReferenceGrant].into(),
        facts: BTreeSet::new(),
        redirect_status_codes: [301, 302].into(),
        retry_status_codes: BTreeSet::new(),
        limits: Limits::default(),
        gateway_parameters: BTreeSet::new(),
        parameter_defaults: serde_json::Map::new(),
    }
}

fn programmed(desired: &Desired, address: String) -> Programmed {
    Programmed { ir: serde_json::to_value(&*desired.ir).unwrap_or_default(), parameters: desired.parameters.clone(), address }
}

impl Default for MemoryProvider {
    fn default() -> Self {
        MemoryProvider { planner: Arc::new(MemoryPlanner { capabilities: capabilities() }), platform: Arc::default(), calls: Arc::default() }
    }
}

impl MemoryProvider {
    /// The Gateways programmed now.
    pub fn gateways(&self) -> BTreeMap<ObjectRef, Programmed> {
        self.platform.lock().map(|p| p.gateways.clone()).unwrap_or_default()
    }

    fn address_for(platform: &mut Platform, gateway: &ObjectRef, desired: &Desired) -> Result<String, ProviderError> {
        if let Some(requested) = desired.ir.requested_addresses.first() {
            return Ok(requested.value.clone());
        }
        if let Some(address) = platform.addresses.get(gateway) {
            return Ok(address.clone());
        }
        let used: BTreeSet<&String> = platform.addresses.values().collect();
        let free = (1..=254).map(|n| format!("192.0.2.{n}")).find(|a| !used.contains(a));
        let address =
            free.ok_or_else(|| ProviderError::Rejected { platform: "memory".into(), operation: "allocate".into(), message: "192.0.2.0/24 is used up".into() })?;
        platform.addresses.insert(gateway.clone(), address.clone());
        Ok(address)
    }
}

impl Provider for MemoryProvider {
    /// The Gateway and what the platform holds for it.
    type Observed = (ObjectRef, Option<Programmed>);
    type Plan = MemoryPlan;

    fn planner(&self) -> &dyn Planner {
        self.planner.as_ref()
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        self.calls.record("memory.get");
        Ok((gateway.clone(), self.platform.lock().ok().and_then(|p| p.gateways.get(gateway).cloned())))
    }

    fn plan(&self, desired: Option<&Desired>, (gateway, current): &Self::Observed) -> Self::Plan {
        let address = current.as_ref().map(|o| o.address.clone()).unwrap_or_default();
        let wanted = desired.map(|d| programmed(d, d.ir.requested_addresses.first().map_or(address, |a| a.value.clone())));
        MemoryPlan { gateway: gateway.clone(), current: current.clone(), wanted, desired: desired.cloned() }
    }

    fn plan_is_empty(&self, plan: &Self::Plan) -> bool {
        plan.current == plan.wanted
    }

    async fn apply(&self, plan: &Self::Plan) -> Result<Applied, ProviderError> {
        let Some(wanted) = &plan.wanted else {
            self.calls.record("memory.delete");
            self.platform.lock().map_err(|_| poisoned())?.gateways.remove(&plan.gateway);
            return Ok(Applied { addresses: Vec::new(), ready: true, rejected_routes: Vec::new() });
        };
        if self.plan_is_empty(plan) {
            let address = Address { address_type: "IPAddress".into(), value: wanted.address.clone() };
            return Ok(Applied { addresses: vec![address], ready: true, rejected_routes: Vec::new() });
        }
        self.calls.record("memory.put");
        let mut platform = self.platform.lock().map_err(|_| poisoned())?;
        let Some(desired) = &plan.desired else { return Err(poisoned()) };
        let address = Self::address_for(&mut platform, &plan.gateway, desired)?;
        platform.gateways.insert(plan.gateway.clone(), Programmed { address: address.clone(), ..wanted.clone() });
        Ok(Applied { addresses: vec![Address { address_type: "IPAddress".into(), value: address }], ready: true, rejected_routes: Vec::new() })
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        self.calls.record("memory.delete");
        self.platform.lock().map_err(|_| poisoned())?.gateways.remove(gateway);
        Ok(())
    }
}

fn poisoned() -> ProviderError {
    ProviderError::Transient { platform: "memory".into(), operation: "lock".into(), message: "the platform's state is poisoned".into() }
}

fn parameters_crd() -> CustomResourceDefinition {
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "memoryparameters.portico.dev"},
        "spec": {
            "group": "portico.dev",
            "names": {"kind": "MemoryParameters", "plural": "memoryparameters", "singular": "memoryparameters", "listKind": "MemoryParametersList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }}}]
        }
    });
    serde_json::from_value(crd).unwrap_or_default()
}

fn connect(_: &clap::ArgMatches) -> Result<Connect, String> {
    Ok(Box::new(|_| Box::pin(async { Ok(Arc::new(MemoryProvider::default()) as Arc<dyn DynProvider>) })))
}

fn planner(_cluster: &str) -> Box<dyn Planner> {
    Box::new(MemoryPlanner { capabilities: capabilities() })
}

/// The memory platform's descriptor (no flags; tests usually register a handle they keep,
/// with [`crate::Registered::started`]).
pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: ProviderKind::Memory,
    capabilities,
    parameters_crd,
    uses_cluster_name: false,
    args: |command| command,
    configure: connect,
    planner,
    permissions: crate::no_permissions,
};
