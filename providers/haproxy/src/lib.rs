#![forbid(unsafe_code)]
//! The HAProxy provider (`portico.dev/haproxy`): an HAProxy managed by Portico or an external
//! appliance. For now it declares what HAProxy can do: all of HTTP routing, TLS termination and
//! SNI passthrough, and TCP; not UDP and not request mirroring.

pub(crate) mod addresses;
pub(crate) mod check;
pub(crate) mod files;
pub(crate) mod isolate;
pub(crate) mod master;
pub mod params;
pub mod provider;
pub(crate) mod render;
pub(crate) mod runtime;
pub(crate) mod runtime_api;

use std::sync::Arc;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind};
use portico_provider::{Connect, Descriptor, DynProvider, Planner};

pub use provider::{HaproxyPlanner, HaproxyProvider};
/// The configuration renderer (the HAProxy provider's native plan), for `portico plan` and tests.
pub use render::{GatewayInput, RenderCache, RenderSettings, Rendered, backend_name, render, render_cached, rule_numbers};

/// The HAProxy platform, for the operator's registry. It takes no flags of its own: instances
/// are described by HAProxyParameters objects, local files live under `--state-dir`.
pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: ProviderKind::Haproxy,
    capabilities,
    parameters_crd,
    uses_cluster_name: false,
    args: |command| command,
    configure,
    planner,
    permissions: portico_provider::no_permissions,
};

fn parameters_crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    <params::HAProxyParameters as kube::CustomResourceExt>::crd()
}

fn configure(_: &clap::ArgMatches) -> Result<Connect, String> {
    Ok(Box::new(|context| Box::pin(async move { Ok(Arc::new(HaproxyProvider::new(context.state_dir)) as Arc<dyn DynProvider>) })))
}

fn planner(_cluster: &str) -> Box<dyn Planner> {
    Box::new(HaproxyPlanner::default())
}

pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Haproxy,
        platform: "HAProxy".into(),
        label: "HAProxy".into(),
        parameters_kind: "HAProxyParameters".into(),
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tls, ListenerProtocol::Tcp].into(),
        features: [
            Gateway,
            GatewayPort8080,
            ListenerSet,
            BackendTlsPolicy,
            GatewayBackendClientCertificate,
            GatewayStaticAddresses,
            GatewayHttpListenerIsolation,
            ReferenceGrant,
            HttpRoute,
            HttpRouteQueryParamMatching,
            HttpRouteMethodMatching,
            HttpRouteResponseHeaderModification,
            HttpRouteBackendRequestHeaderModification,
            HttpRoutePortRedirect,
            HttpRouteSchemeRedirect,
            HttpRoutePathRedirect,
            HttpRoute303RedirectStatusCode,
            HttpRoute307RedirectStatusCode,
            HttpRoute308RedirectStatusCode,
            HttpRouteHostRewrite,
            HttpRoutePathRewrite,
            HttpRouteRequestTimeout,
            HttpRouteBackendTimeout,
            HttpRouteParentRefPort,
            HttpRouteDestinationPortMatching,
            HttpRouteNamedRouteRule,
            HttpRouteCors,
            HttpRouteRetry,
            HttpRouteBackendProtocolH2c,
            // A `kubernetes.io/ws` backend is HTTP/1.1; HAProxy passes the upgrade through.
            HttpRouteBackendProtocolWebSocket,
            GatewayFrontendClientCertificateValidation,
            GatewayFrontendClientCertificateValidationInsecureFallback,
            GrpcRoute,
            GrpcRouteNamedRouteRule,
            TlsRoute,
            TlsRouteModeTerminate,
            TcpRoute,
        ]
        .into(),
        facts: [
            Fact::RequestHeaderModification,
            Fact::PathRegexMatch,
            Fact::HeaderRegexMatch,
            Fact::QueryParamRegexMatch,
            Fact::WeightedBackends,
            Fact::FullPathRewrite,
            Fact::TlsPassthrough,
            Fact::SniRouting,
            Fact::HttpsAndTlsShareAPort,
            Fact::SessionPersistence,
        ]
        .into(),
        redirect_status_codes: [301, 302, 303, 307, 308].into(),
        // HAProxy's `retry-on` status keywords.
        retry_status_codes: [401, 403, 404, 408, 425, 500, 501, 502, 503, 504].into(),
        limits: Limits::default(),
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::HAProxyParametersSpec::default()).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default(),
    }
}
