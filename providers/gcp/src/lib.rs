#![forbid(unsafe_code)]
//! The GCP provider (`portico.dev/gcp`): Cloud Load Balancing URL maps, target proxies and
//! forwarding rules. For now it declares what those platforms can do.

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind};

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
        limits: Limits::default(),
    }
}
