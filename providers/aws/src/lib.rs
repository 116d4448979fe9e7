#![forbid(unsafe_code)]
//! The AWS provider (`portico.dev/aws`): HTTP/HTTPS listeners on an Application Load Balancer,
//! TCP/UDP/TLS listeners on a Network Load Balancer. For now it declares what those platforms
//! can do; translation turns everything else into precise route and listener conditions.

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind};

/// What ALB and NLB can express.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Aws,
        platform: "AWS Application/Network Load Balancer".into(),
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tls, ListenerProtocol::Tcp, ListenerProtocol::Udp]
            .into(),
        features: [
            Gateway,
            GatewayPort8080,
            GatewayHttpListenerIsolation,
            GatewayInfrastructurePropagation,
            ReferenceGrant,
            HttpRoute,
            HttpRouteQueryParamMatching,
            HttpRouteMethodMatching,
            HttpRoutePortRedirect,
            HttpRouteSchemeRedirect,
            HttpRoutePathRedirect,
            HttpRouteHostRewrite,
            HttpRoutePathRewrite,
            HttpRouteParentRefPort,
            HttpRouteDestinationPortMatching,
            GrpcRoute,
            TlsRoute,
            TcpRoute,
            UdpRoute,
        ]
        .into(),
        // ALB cannot add or set arbitrary request/response headers, mirror requests or apply
        // per-rule timeouts; query-string conditions take wildcards, not regular expressions;
        // an NLB listener forwards to one target group, so TLS listeners cannot split by SNI.
        facts: [Fact::PathRegexMatch, Fact::HeaderRegexMatch, Fact::WeightedBackends, Fact::FullPathRewrite, Fact::TlsPassthrough, Fact::TlsTerminate]
            .into(),
        redirect_status_codes: [301, 302].into(),
        limits: Limits { max_condition_values_per_rule: Some(5), max_backends_per_rule: Some(5) },
    }
}
