#![forbid(unsafe_code)]
//! The GCP provider (`portico.dev/gcp`): Google Cloud Application Load Balancers (and proxy
//! Network Load Balancers for TCP) through the Compute Engine API.
//!
//! `observe` lists what exists by the Gateway's name prefix in every scope (ownership proven by
//! the description), `plan` compiles the IR into native resources (URL maps checked against
//! GCP's limits first) and diffs them, `apply` runs the steps in dependency order, waiting for
//! each operation. See `docs/gcp.md`.

pub mod compile;
pub mod names;
pub mod native;
pub mod params;
pub mod permissions;
pub mod plan;
pub mod sdk;

use std::collections::BTreeMap;
use std::sync::Mutex;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind, RegexDialect};
use portico_model::ir::ObjectRef;
use portico_provider::{Applied, Desired, Provider, ProviderError, RouteOverflow};
use serde::Serialize;

pub use compile::Defaults;
/// The client crate, for tests that inspect GCP directly.
pub use google_cloud_compute_v1;
pub use sdk::apply::AddressSource;
pub use sdk::{CallCounts, Clients, Settings};

/// The native plan of one Gateway: the steps, the routes that did not fit, or why the
/// parameters cannot be used.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcpPlan {
    pub gateway: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A requested address GCP cannot honour: (address, why). Nothing is applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_error: Option<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overflows: Vec<RouteOverflow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Serialized size of each port's URL map, in bytes (GCP's limit is about 1 MB).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub url_map_bytes: BTreeMap<u16, usize>,
    #[serde(flatten)]
    pub plan: plan::Plan,
    #[serde(skip)]
    pems: BTreeMap<String, Vec<u8>>,
    #[serde(skip)]
    address: AddressSource,
}

impl GcpPlan {
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.address_error.is_none() && self.plan.steps.is_empty()
    }
}

/// Pure: the plan for `desired` against `observed` (`desired: None` removes everything).
pub fn plan_for(defaults: &Defaults, gateway: &ObjectRef, desired: Option<&Desired>, observed: &plan::Observed) -> GcpPlan {
    let mut out = GcpPlan { gateway: Some(gateway.clone()), ..GcpPlan::default() };
    let Some(desired) = desired else {
        out.plan = plan::plan(None, observed);
        return out;
    };
    let compiled = match compile::compile(desired, defaults) {
        Ok(compiled) => compiled,
        Err(message) => {
            out.error = Some(message);
            return out;
        }
    };
    if let Some(refusal) = address_refusal(&desired.ir.requested_addresses) {
        out.address_error = Some(refusal);
        return out;
    }
    if let Some(key) = compiled.native.resources.keys().find(|k| observed.foreign.contains(*k)) {
        out.error = Some(format!("{key} exists but is not owned by Portico (no ownership record in its description); refusing to touch it"));
        return out;
    }
    out.plan = plan::plan(Some(&compiled.native), observed);
    out.address = address_source(&compiled.native, desired);
    for (name, secret) in &compiled.native.certificate_sources {
        if let Some(pem) = desired.certificates.get(secret) {
            out.pems.insert(name.clone(), pem.clone());
        }
    }
    out.overflows = compiled.overflows;
    out.warnings = compiled.warnings;
    out.url_map_bytes = compiled.url_map_bytes;
    out
}

/// A GCP load balancer's forwarding rules share one address: every requested entry is honoured
/// or refused, so asking for more than one refuses the request (not only the first after sorting).
pub fn address_refusal(requested: &[portico_model::ir::Address]) -> Option<(String, String)> {
    if requested.len() < 2 {
        return None;
    }
    let all: Vec<&str> = requested.iter().map(|a| if a.value.is_empty() { "(any)" } else { a.value.as_str() }).collect();
    Some((all[1].to_string(), format!("a GCP load balancer serves a Gateway on one address, but spec.addresses asks for {} ({})", all.len(), all.join(", "))))
}

fn address_source(native: &native::Native, desired: &Desired) -> AddressSource {
    if let Some(key) = native.resources.keys().find(|k| k.kind == native::Kind::Address) {
        return AddressSource::Resource(key.clone());
    }
    let Some(requested) = desired.ir.requested_addresses.first().filter(|a| !a.value.is_empty()) else { return AddressSource::None };
    let rule = native.resources.iter().find(|(k, _)| k.kind == native::Kind::ForwardingRule);
    match (requested.address_type.as_str(), rule) {
        (compile::NAMED_ADDRESS_TYPE, Some((key, _))) => {
            AddressSource::Resource(native::ResourceKey::new(native::Kind::Address, &key.location, &requested.value))
        }
        (compile::NAMED_ADDRESS_TYPE, None) => AddressSource::None,
        _ => AddressSource::Literal(requested.value.clone()),
    }
}

/// Google Cloud load balancers through the Compute API.
pub struct GcpProvider {
    clients: Clients,
    defaults: Defaults,
    capabilities: Capabilities,
    /// The project each Gateway was last planned in (parameters may name another than the
    /// default); observe and delete look there.
    projects: Mutex<BTreeMap<ObjectRef, String>>,
    /// Crash tests: stop the next apply after this many steps.
    pub interrupt_after: Mutex<Option<usize>>,
}

impl GcpProvider {
    pub async fn connect(settings: &Settings) -> Result<GcpProvider, String> {
        Ok(GcpProvider::with_clients(Clients::connect(settings).await?, settings))
    }

    pub fn with_clients(clients: Clients, settings: &Settings) -> GcpProvider {
        let defaults = Defaults { cluster: settings.cluster.clone(), project: settings.project.clone(), region: settings.region.clone() };
        GcpProvider { clients, defaults, capabilities: capabilities(), projects: Mutex::new(BTreeMap::new()), interrupt_after: Mutex::new(None) }
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    fn project_of(&self, gateway: &ObjectRef) -> Option<String> {
        let remembered = self.projects.lock().ok().and_then(|p| p.get(gateway).cloned());
        remembered.or_else(|| self.defaults.project.clone())
    }
}

impl Provider for GcpProvider {
    type Observed = (ObjectRef, String, plan::Observed);
    type Plan = GcpPlan;

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Remember the project the parameters name, so observe and delete look there.
    fn prepare(&self, desired: &Desired) {
        let named = params::GCPLoadBalancerParametersSpec::from_value(&desired.parameters).ok().and_then(|p| p.project);
        if let (Some(project), Ok(mut projects)) = (named.or_else(|| self.defaults.project.clone()), self.projects.lock()) {
            projects.insert(desired.ir.gateway.clone(), project);
        }
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        let Some(project) = self.project_of(gateway) else {
            return Err(ProviderError::Rejected {
                platform: "GCP".into(),
                operation: "observe".into(),
                message: "no GCP project: set --gcp-project or spec.project".into(),
            });
        };
        let namer = names::Namer::new(&self.defaults.cluster, gateway);
        let observed = sdk::observe::observe(&self.clients, &project, &namer).await?;
        Ok((gateway.clone(), project, observed))
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> GcpPlan {
        let mut plan = plan_for(&self.defaults, &observed.0, desired, &observed.2);
        // Removal, or a plan that could not be compiled: the project it was observed in.
        if plan.plan.project.is_empty() {
            plan.plan.project = observed.1.clone();
        }
        // A compiled plan's project is the one its parameters name: remember it.
        if let (Some(desired), None) = (desired, &plan.error) {
            self.prepare(desired);
        }
        plan
    }

    fn plan_is_empty(&self, plan: &GcpPlan) -> bool {
        plan.is_empty()
    }

    async fn apply(&self, plan: &GcpPlan) -> Result<Applied, ProviderError> {
        if let Some(message) = &plan.error {
            return Err(ProviderError::Rejected { platform: "GCP".into(), operation: "plan".into(), message: message.clone() });
        }
        if let Some((address, message)) = &plan.address_error {
            return Err(ProviderError::AddressNotUsable { address: address.clone(), message: message.clone() });
        }
        let stop_after = self.interrupt_after.lock().ok().and_then(|mut i| i.take());
        let inputs = sdk::apply::Inputs { plan: &plan.plan, pems: &plan.pems, address: &plan.address, stop_after };
        sdk::apply::apply(&self.clients, inputs).await
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        let observed = self.observe(gateway).await?;
        let plan = self.plan(None, &observed);
        self.apply(&plan).await.map(|_| ())
    }

    fn overflows(&self, desired: &Desired) -> Vec<RouteOverflow> {
        compile::compile(desired, &self.defaults).map(|c| c.overflows).unwrap_or_default()
    }
}

/// What Google Cloud Application (and TCP proxy) Load Balancers can express.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Gcp,
        platform: "Google Cloud Load Balancing".into(),
        // No SNI routing (TLS passthrough) and no UDP on proxy load balancers.
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tcp].into(),
        features: [
            Gateway,
            GatewayPort8080,
            GatewayStaticAddresses,
            GatewayHttpListenerIsolation,
            GatewayInfrastructurePropagation,
            ReferenceGrant,
            HttpRoute,
            HttpRouteQueryParamMatching,
            // URL maps have no method condition; it is expressed as a `:method` header match.
            HttpRouteMethodMatching,
            HttpRouteResponseHeaderModification,
            HttpRouteBackendRequestHeaderModification,
            HttpRoutePathRedirect,
            HttpRoute303RedirectStatusCode,
            HttpRoute307RedirectStatusCode,
            HttpRoute308RedirectStatusCode,
            HttpRouteHostRewrite,
            HttpRoutePathRewrite,
            HttpRouteRequestMirror,
            HttpRouteRequestPercentageMirror,
            HttpRouteRequestTimeout,
            HttpRouteParentRefPort,
            HttpRouteDestinationPortMatching,
            GrpcRoute,
            TcpRoute,
        ]
        .into(),
        // URL map redirects cannot change the port, and only `httpsRedirect` changes the scheme
        // (to https only), so scheme and port redirects are not claimed. Rewrites replace
        // prefixes only; the backend timeout is per backend service, not per route.
        facts: [
            Fact::RequestHeaderModification,
            Fact::PathRegexMatch,
            Fact::HeaderRegexMatch,
            Fact::QueryParamRegexMatch,
            Fact::WeightedBackends,
            Fact::NamedAddresses,
        ]
        .into(),
        redirect_status_codes: [301, 302, 303, 307, 308].into(),
        limits: Limits { regex_dialect: RegexDialect::Re2, ..Limits::default() },
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::GCPLoadBalancerParametersSpec::default())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
    }
}
