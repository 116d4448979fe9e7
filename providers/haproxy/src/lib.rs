#![forbid(unsafe_code)]
//! The HAProxy provider (`portico.dev/haproxy`): an HAProxy managed by Portico or an external
//! appliance. For now it declares what HAProxy can do: all of HTTP routing, TLS termination and
//! SNI passthrough, and TCP; not UDP and not request mirroring.

pub mod addresses;
pub mod check;
pub mod files;
pub mod isolate;
pub mod master;
pub mod params;
pub mod render;
pub mod runtime;
pub mod runtime_api;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind};

pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Haproxy,
        platform: "HAProxy".into(),
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tls, ListenerProtocol::Tcp].into(),
        features: [
            Gateway,
            GatewayPort8080,
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
            GrpcRoute,
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
        ]
        .into(),
        redirect_status_codes: [301, 302, 303, 307, 308].into(),
        limits: Limits::default(),
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::HAProxyParametersSpec::default()).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default(),
    }
}
