//! What a provider's platform can do. Translation reads this, so "this platform cannot do X"
//! becomes a precise condition on the route or listener that asks for X.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The API group of Portico's own resources (parameter CRDs) and of its controller names.
pub const PORTICO_GROUP: &str = "portico.dev";

/// The field of a class-level parameters object that lists the further fields a Gateway-level
/// `spec.infrastructure.parametersRef` may set (see [`Capabilities::gateway_parameters`]).
pub const GATEWAY_OVERRIDES_FIELD: &str = "gatewayOverrides";

macro_rules! named_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as the Gateway API (or Portico's docs) spell it.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn from_name(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum! {
    /// The platforms Portico drives; each has exactly one controllerName.
    pub enum ProviderKind {
        Aws => "aws",
        Gcp => "gcp",
        Haproxy => "haproxy",
        /// The in-memory platform of `portico_provider::memory`: for the operator's own tests,
        /// never registered in the `portico` binary.
        Memory => "memory",
    }
}

impl ProviderKind {
    /// `portico.dev/<provider>`: the GatewayClass `controllerName` this provider owns.
    pub fn controller_name(self) -> String {
        format!("{PORTICO_GROUP}/{}", self.name())
    }

    pub fn from_controller_name(controller: &str) -> Option<Self> {
        let provider = controller.strip_prefix(PORTICO_GROUP)?.strip_prefix('/')?;
        Self::from_name(provider)
    }
}

named_enum! {
    /// Listener protocols of the Gateway API core and extended channels.
    pub enum ListenerProtocol {
        Http => "HTTP",
        Https => "HTTPS",
        Tls => "TLS",
        Tcp => "TCP",
        Udp => "UDP",
    }
}

named_enum! {
    /// Route kinds Portico implements (all in group `gateway.networking.k8s.io`).
    pub enum RouteKind {
        Http => "HTTPRoute",
        Grpc => "GRPCRoute",
        Tls => "TLSRoute",
        Tcp => "TCPRoute",
        Udp => "UDPRoute",
    }
}

impl RouteKind {
    /// The resource's plural name in the API (`httproutes`).
    pub fn plural(self) -> String {
        format!("{}s", self.name().to_ascii_lowercase())
    }

    /// The route kinds a listener of this protocol can carry, before provider support is checked.
    pub fn for_protocol(protocol: ListenerProtocol) -> &'static [RouteKind] {
        match protocol {
            ListenerProtocol::Http | ListenerProtocol::Https => &[RouteKind::Http, RouteKind::Grpc],
            ListenerProtocol::Tls => &[RouteKind::Tls],
            ListenerProtocol::Tcp => &[RouteKind::Tcp],
            ListenerProtocol::Udp => &[RouteKind::Udp],
        }
    }
}

named_enum! {
    /// Gateway API feature names, as published in `GatewayClass.status.supportedFeatures`.
    pub enum Feature {
        Gateway => "Gateway",
        GatewayPort8080 => "GatewayPort8080",
        GatewayStaticAddresses => "GatewayStaticAddresses",
        GatewayHttpListenerIsolation => "GatewayHTTPListenerIsolation",
        GatewayInfrastructurePropagation => "GatewayInfrastructurePropagation",
        ReferenceGrant => "ReferenceGrant",
        HttpRoute => "HTTPRoute",
        HttpRouteQueryParamMatching => "HTTPRouteQueryParamMatching",
        HttpRouteMethodMatching => "HTTPRouteMethodMatching",
        HttpRouteResponseHeaderModification => "HTTPRouteResponseHeaderModification",
        HttpRouteBackendRequestHeaderModification => "HTTPRouteBackendRequestHeaderModification",
        HttpRoutePortRedirect => "HTTPRoutePortRedirect",
        HttpRouteSchemeRedirect => "HTTPRouteSchemeRedirect",
        HttpRoutePathRedirect => "HTTPRoutePathRedirect",
        HttpRoute303RedirectStatusCode => "HTTPRoute303RedirectStatusCode",
        HttpRoute307RedirectStatusCode => "HTTPRoute307RedirectStatusCode",
        HttpRoute308RedirectStatusCode => "HTTPRoute308RedirectStatusCode",
        HttpRouteHostRewrite => "HTTPRouteHostRewrite",
        HttpRoutePathRewrite => "HTTPRoutePathRewrite",
        HttpRouteRequestMirror => "HTTPRouteRequestMirror",
        HttpRouteRequestMultipleMirrors => "HTTPRouteRequestMultipleMirrors",
        HttpRouteRequestPercentageMirror => "HTTPRouteRequestPercentageMirror",
        HttpRouteRequestTimeout => "HTTPRouteRequestTimeout",
        HttpRouteBackendTimeout => "HTTPRouteBackendTimeout",
        HttpRouteParentRefPort => "HTTPRouteParentRefPort",
        HttpRouteDestinationPortMatching => "HTTPRouteDestinationPortMatching",
        HttpRouteNamedRouteRule => "HTTPRouteNamedRouteRule",
        HttpRouteRetry => "HTTPRouteRetry",
        HttpRouteCors => "HTTPRouteCORS",
        HttpRouteBackendProtocolH2c => "HTTPRouteBackendProtocolH2C",
        HttpRouteBackendProtocolWebSocket => "HTTPRouteBackendProtocolWebSocket",
        GatewayFrontendClientCertificateValidation => "GatewayFrontendClientCertificateValidation",
        GatewayFrontendClientCertificateValidationInsecureFallback => "GatewayFrontendClientCertificateValidationInsecureFallback",
        GatewayBackendClientCertificate => "GatewayBackendClientCertificate",
        ListenerSet => "ListenerSet",
        BackendTlsPolicy => "BackendTLSPolicy",
        BackendTlsPolicySanValidation => "BackendTLSPolicySANValidation",
        GrpcRoute => "GRPCRoute",
        GrpcRouteNamedRouteRule => "GRPCRouteNamedRouteRule",
        TlsRoute => "TLSRoute",
        TlsRouteModeTerminate => "TLSRouteModeTerminate",
        TlsRouteModeMixed => "TLSRouteModeMixed",
        TcpRoute => "TCPRoute",
        UdpRoute => "UDPRoute",
    }
}

named_enum! {
    /// Finer facts translation needs that have no Gateway API feature name.
    pub enum Fact {
        /// Core HTTPRoute request header modification (`RequestHeaderModifier`).
        RequestHeaderModification => "RequestHeaderModification",
        /// `path.type: RegularExpression` (implementation-specific in the spec).
        PathRegexMatch => "PathRegexMatch",
        /// `headers[].type: RegularExpression`.
        HeaderRegexMatch => "HeaderRegexMatch",
        /// `queryParams[].type: RegularExpression`.
        QueryParamRegexMatch => "QueryParamRegexMatch",
        /// Several weighted backends in one rule.
        WeightedBackends => "WeightedBackends",
        /// `URLRewrite` with `ReplaceFullPath` (some platforms only rewrite prefixes).
        FullPathRewrite => "FullPathRewrite",
        /// TLS listeners in Passthrough mode.
        TlsPassthrough => "TlsPassthrough",
        /// Several TLSRoutes on one TLS listener, chosen by SNI.
        SniRouting => "SniRouting",
        /// HTTPS and TLS listeners may share a port (split by SNI).
        HttpsAndTlsShareAPort => "HttpsAndTlsShareAPort",
        /// `spec.addresses` of type `Hostname`.
        HostnameAddresses => "HostnameAddresses",
        /// `spec.addresses` of type `portico.dev/named-address` (a reserved address by name).
        NamedAddresses => "NamedAddresses",
        /// Route rules' cookie-based `sessionPersistence` (experimental channel; no Gateway API
        /// feature name).
        SessionPersistence => "SessionPersistence",
        /// `sessionPersistence` of type `Header`.
        HeaderSessionPersistence => "HeaderSessionPersistence",
        /// `sessionPersistence` on a rule splitting traffic across several backends.
        SessionPersistenceAcrossBackends => "SessionPersistenceAcrossBackends",
        /// Gateway `spec.infrastructure.annotations` carried onto the platform's resources.
        InfrastructureAnnotations => "InfrastructureAnnotations",
        /// The CORS filter short of `HTTPRouteCORS`: origins exact or `*` alone (no `*.` label
        /// wildcard), no `*` in methods, headers or expose headers with `allowCredentials`, on
        /// rules that forward.
        CorsExactOrigins => "CorsExactOrigins",
        /// `retry` short of `HTTPRouteRetry`: retried status codes are classes (409; 502, 503 and
        /// 504; every 5xx) and their unions, connection failures are always retried.
        RetryCodeClasses => "RetryCodeClasses",
        /// `retry.backoff`: a minimum wait between retries.
        RetryBackoff => "RetryBackoff",
        /// `retry` with `timeouts.request`: every attempt ends at the request's deadline.
        RetryWithinRequestTimeout => "RetryWithinRequestTimeout",
    }
}

named_enum! {
    /// The regular-expression engine that runs a provider's `RegularExpression` matches.
    /// Translation accepts a regex only when it means the same there as Portico parsed it.
    pub enum RegexDialect {
        /// The subset every engine below agrees on; the default when a provider names none.
        Portable => "Portable",
        /// PCRE2 (HAProxy): no nested quantifiers (`a{2}{3}`), counts up to 65535.
        Pcre2 => "PCRE2",
        /// RE2 (Google Cloud URL maps): no look-around or back-references, counts up to 1000.
        Re2 => "RE2",
        /// AWS ALB rule conditions: RE2-like, no Unicode classes, 128 characters at most.
        Alb => "ALB",
    }
}

// `named_enum!` derives no `Default`, so `#[default]` is not available on the variant.
#[allow(clippy::derivable_impls)]
impl Default for RegexDialect {
    fn default() -> Self {
        RegexDialect::Portable
    }
}

/// Numeric limits and syntax rules of the platform that are checked per route rule before
/// anything is sent to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Condition values one native rule may carry (host + path + method + each header and query
    /// match). AWS ALB: 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_condition_values_per_rule: Option<u32>,
    /// Weighted backends one native forward action may carry. AWS ALB: 5 target groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backends_per_rule: Option<u32>,
    /// The engine that runs `RegularExpression` matches.
    #[serde(default)]
    pub regex_dialect: RegexDialect,
}

/// A provider's declaration of what its platform supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub provider: ProviderKind,
    /// What the provider builds, for messages: "AWS Application/Network Load Balancer".
    pub platform: String,
    /// The platform's short name, for messages: "AWS".
    pub label: String,
    /// The kind of the provider's parameters CRD (group `portico.dev`).
    pub parameters_kind: String,
    pub protocols: BTreeSet<ListenerProtocol>,
    pub features: BTreeSet<Feature>,
    pub facts: BTreeSet<Fact>,
    /// Redirect status codes the platform can send (301 and 302 are core).
    pub redirect_status_codes: BTreeSet<u16>,
    /// Response status codes a rule's `retry.codes` may name (with `HTTPRouteRetry`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub retry_status_codes: BTreeSet<u16>,
    pub limits: Limits,
    /// Top-level fields of the provider's parameters kind that a Gateway-level
    /// `spec.infrastructure.parametersRef` may set on its own (they only tune that Gateway).
    /// Every other field is class-only: it may appear in a Gateway-level object only when the
    /// class's parameters list it in [`GATEWAY_OVERRIDES_FIELD`].
    pub gateway_parameters: BTreeSet<String>,
    /// The parameters kind's default value of each field (as an API server fills them in from
    /// the CRD schema): a Gateway-level object holding a default has not set that field.
    pub parameter_defaults: serde_json::Map<String, serde_json::Value>,
}

impl Capabilities {
    /// The platform as messages name it: `platform (controllerName)`.
    pub fn platform_name(&self) -> String {
        format!("{} ({})", self.platform, self.provider.controller_name())
    }

    pub fn supports(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    pub fn has(&self, fact: Fact) -> bool {
        self.facts.contains(&fact)
    }

    pub fn supports_protocol(&self, protocol: ListenerProtocol) -> bool {
        self.protocols.contains(&protocol)
    }

    /// Whether routes of this kind can be attached at all on this platform.
    pub fn supports_route_kind(&self, kind: RouteKind) -> bool {
        match kind {
            RouteKind::Http => self.supports(Feature::HttpRoute),
            RouteKind::Grpc => self.supports(Feature::GrpcRoute),
            RouteKind::Tls => self.supports(Feature::TlsRoute),
            RouteKind::Tcp => self.supports(Feature::TcpRoute),
            RouteKind::Udp => self.supports(Feature::UdpRoute),
        }
    }

    /// These capabilities on a cluster that does not serve `missing` (their CRDs are absent): the
    /// route kinds and every feature named after them (`TLSRoute`, `TLSRouteModeTerminate`, ...)
    /// are dropped, so listeners do not list them in `supportedKinds` and the GatewayClass does
    /// not claim them.
    pub fn without_route_kinds(&self, missing: &BTreeSet<RouteKind>) -> Capabilities {
        let mut out = self.clone();
        out.features.retain(|f| !missing.iter().any(|k| f.name().starts_with(k.name())));
        out
    }

    /// `GatewayClass.status.supportedFeatures`: sorted feature names.
    pub fn supported_feature_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.features.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_route_kinds_take_their_features_with_them() {
        let caps = Capabilities {
            provider: ProviderKind::Memory,
            platform: "test".into(),
            label: "test".into(),
            parameters_kind: "X".into(),
            protocols: BTreeSet::new(),
            features: [Feature::Gateway, Feature::HttpRoute, Feature::TlsRoute, Feature::TlsRouteModeTerminate, Feature::TcpRoute, Feature::GrpcRoute].into(),
            facts: BTreeSet::new(),
            redirect_status_codes: BTreeSet::new(),
            retry_status_codes: BTreeSet::new(),
            limits: Limits::default(),
            gateway_parameters: BTreeSet::new(),
            parameter_defaults: serde_json::Map::new(),
        };
        let reduced = caps.without_route_kinds(&[RouteKind::Tls, RouteKind::Tcp].into());
        assert_eq!(reduced.supported_feature_names(), ["GRPCRoute", "Gateway", "HTTPRoute"]);
        assert!(!reduced.supports_route_kind(RouteKind::Tls) && reduced.supports_route_kind(RouteKind::Grpc));
        assert_eq!(caps.without_route_kinds(&BTreeSet::new()).features, caps.features);
    }
}
