#![forbid(unsafe_code)]
//! The GCP provider (`portico.dev/gcp`): Google Cloud Application Load Balancers (and proxy
//! Network Load Balancers for TCP) through the Compute Engine API.
//!
//! `observe` lists what exists by the Gateway's name prefix in every scope (ownership proven by
//! the description), `plan` compiles the IR into native resources (URL maps checked against
//! GCP's limits first) and diffs them, `apply` runs the steps in dependency order, waiting for
//! each operation. See `docs/gcp.md`.

pub(crate) mod compile;
pub(crate) mod names;
pub(crate) mod native;
pub mod params;
pub mod permissions;
pub(crate) mod plan;
#[cfg(feature = "sdk")]
mod provider;
#[cfg(feature = "sdk")]
pub(crate) mod sdk;

use std::collections::BTreeMap;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind, RegexDialect};
use portico_model::ir::ObjectRef;
use portico_provider::{Check, Connect, Descriptor, Desired, Planner, ProviderError, RouteOverflow};
use serde::Serialize;

pub use compile::{Defaults, compile};
/// The client crate, for tests that inspect GCP directly.
#[cfg(feature = "sdk")]
pub use google_cloud_compute_v1;
pub use plan::AddressSource;
#[cfg(feature = "sdk")]
pub use provider::GcpProvider;
#[cfg(feature = "sdk")]
pub use sdk::{CallCounts, Clients, Settings};
/// Resource names and plan steps (what `portico plan` prints).
pub use {names::Namer, plan::Step};

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

/// The pure part: GCP's capabilities, its URL-map limit and address checks, and plans.
pub struct GcpPlanner {
    pub(crate) defaults: Defaults,
    capabilities: Capabilities,
}

/// The project and region `portico plan` shows when the parameters name none.
pub const PLAN_PROJECT: &str = "example-project";
pub const PLAN_REGION: &str = "us-central1";

impl GcpPlanner {
    pub fn new(defaults: Defaults) -> GcpPlanner {
        GcpPlanner { defaults, capabilities: capabilities() }
    }
}

impl Planner for GcpPlanner {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Listeners whose certificates do not fit their target proxy, routes that do not fit the
    /// URL map's limits, and more than one requested address.
    fn check(&self, desired: &Desired) -> Check {
        let (overflows, listener_overflows) = compile::compile(desired, &self.defaults).map(|c| (c.overflows, c.listener_overflows)).unwrap_or_default();
        let refusal = address_refusal(&desired.ir.requested_addresses).map(|(address, message)| ProviderError::AddressNotUsable { address, message });
        Check { overflows, listener_overflows, refusal, left_out: Vec::new() }
    }

    fn plan_from_empty(&self, desired: &Desired) -> Option<serde_json::Value> {
        serde_json::to_value(plan_for(&self.defaults, &desired.ir.gateway, Some(desired), &plan::Observed::default())).ok()
    }
}

/// What Google Cloud Application (and TCP proxy) Load Balancers can express.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Gcp,
        platform: "Google Cloud Load Balancing".into(),
        label: "GCP".into(),
        parameters_kind: "GCPLoadBalancerParameters".into(),
        // No SNI routing (TLS passthrough) and no UDP on proxy load balancers.
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tcp].into(),
        features: [
            Gateway,
            GatewayPort8080,
            ListenerSet,
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
            HttpRouteNamedRouteRule,
            HttpRouteBackendProtocolH2c,
            GrpcRoute,
            GrpcRouteNamedRouteRule,
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
            // CORS and retry, short of the features (which upstream's tests define with wildcard
            // origins and single 5xx codes): exact origins, retry codes as GCP's classes; the
            // route timeout covers every retry.
            Fact::CorsExactOrigins,
            Fact::RetryCodeClasses,
            Fact::RetryWithinRequestTimeout,
        ]
        .into(),
        redirect_status_codes: [301, 302, 303, 307, 308].into(),
        retry_status_codes: Default::default(),
        limits: Limits { regex_dialect: RegexDialect::Re2, ..Limits::default() },
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::GCPLoadBalancerParametersSpec::default())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
    }
}

/// `portico run`'s GCP flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GcpArgs {
    /// Default GCP project of `portico.dev/gcp` Gateways (parameters may name another).
    #[arg(long, env = "PORTICO_GCP_PROJECT")]
    pub gcp_project: Option<String>,
    /// Default region of regional GCP scopes.
    #[arg(long, env = "PORTICO_GCP_REGION")]
    pub gcp_region: Option<String>,
    /// Another Compute API endpoint (a proxy or a local fake); default: Google's.
    #[arg(long, env = "PORTICO_GCP_ENDPOINT")]
    pub gcp_endpoint: Option<String>,
    /// Send no Google credentials (only for a local fake of the Compute API).
    #[arg(long, env = "PORTICO_GCP_ANONYMOUS")]
    pub gcp_anonymous: bool,
    /// Changes of one kind sent to GCP at once (each waits for its operation); 1 applies every
    /// step one after another.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), env = "PORTICO_GCP_CONCURRENT_CALLS")]
    pub gcp_concurrent_calls: u16,
}

/// The GCP platform, for the operator's registry.
pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: ProviderKind::Gcp,
    capabilities,
    parameters_crd,
    uses_cluster_name: true,
    args: <GcpArgs as clap::Args>::augment_args,
    configure,
    planner: |cluster| {
        Box::new(GcpPlanner::new(Defaults { cluster: cluster.to_string(), project: Some(PLAN_PROJECT.into()), region: Some(PLAN_REGION.into()) }))
    },
    permissions: |cluster| Some(permissions::custom_role_yaml(cluster)),
};

#[cfg(feature = "sdk")]
fn configure(matches: &clap::ArgMatches) -> Result<Connect, String> {
    <GcpArgs as clap::FromArgMatches>::from_arg_matches(matches).map(GcpArgs::connect).map_err(|e| e.to_string())
}

#[cfg(not(feature = "sdk"))]
fn configure(_: &clap::ArgMatches) -> Result<Connect, String> {
    Err("this build of portico-gcp has no Google Cloud client (feature `sdk`)".into())
}

fn parameters_crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    <params::GCPLoadBalancerParameters as kube::CustomResourceExt>::crd()
}
