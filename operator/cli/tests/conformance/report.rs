//! Upstream's conformance tests (Gateway API v1.6.1: ShortName and the features each needs, facts
//! read from upstream's test definitions), the profiles they belong to, and the report in
//! upstream's `ConformanceReport` format.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

pub const GATEWAY_API_VERSION: &str = "v1.6.1";

/// `(ShortName, features)` of every upstream test of the HTTP, TLS and gRPC profiles.
pub const UPSTREAM: &[(&str, &[&str])] = &[
    ("BackendTLSPolicy", &["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
    ("BackendTLSPolicyConflictResolution", &["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
    ("BackendTLSPolicyInvalidCACertificateRef", &["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
    ("BackendTLSPolicyInvalidKind", &["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
    ("BackendTLSPolicyObservedGenerationBump", &["Gateway", "HTTPRoute", "BackendTLSPolicy"]),
    ("BackendTLSPolicySANValidation", &["Gateway", "HTTPRoute", "BackendTLSPolicy", "BackendTLSPolicySANValidation"]),
    ("GRPCExactMethodMatching", &["Gateway", "GRPCRoute"]),
    ("GRPCRouteHeaderMatching", &["Gateway", "GRPCRoute"]),
    ("GRPCRouteListenerHostnameMatching", &["Gateway", "GRPCRoute"]),
    ("GRPCRouteNamedRule", &["Gateway", "GRPCRoute", "GRPCRouteNamedRouteRule"]),
    ("GRPCRouteWeight", &["Gateway", "GRPCRoute"]),
    ("GatewayClassObservedGenerationBump", &["Gateway"]),
    ("GatewayFrontendClientCertificateValidation", &["Gateway", "HTTPRoute", "GatewayFrontendClientCertificateValidation"]),
    (
        "GatewayFrontendClientCertificateValidationInsecureFallback",
        &["Gateway", "HTTPRoute", "GatewayFrontendClientCertificateValidation", "GatewayFrontendClientCertificateValidationInsecureFallback"],
    ),
    ("GatewayFrontendInvalidDefaultClientCertificateValidation", &["Gateway", "HTTPRoute", "GatewayFrontendClientCertificateValidation"]),
    ("GatewayHTTPListenerIsolation", &["Gateway", "GatewayHTTPListenerIsolation", "HTTPRoute"]),
    ("GatewayInfrastructure", &["Gateway", "GatewayInfrastructurePropagation"]),
    ("GatewayInvalidFrontendClientCertificateValidation", &["Gateway", "HTTPRoute", "ReferenceGrant", "GatewayFrontendClientCertificateValidation"]),
    ("GatewayInvalidParametersRef", &["Gateway"]),
    ("GatewayInvalidRouteKind", &["Gateway"]),
    ("GatewayInvalidTLSBackendConfiguration", &["Gateway", "GatewayBackendClientCertificate", "HTTPRoute", "BackendTLSPolicy"]),
    ("GatewayInvalidTLSConfiguration", &["Gateway"]),
    ("GatewayListenerUnsupportedProtocol", &["Gateway"]),
    ("GatewayModifyListeners", &["Gateway"]),
    ("GatewayObservedGenerationBump", &["Gateway"]),
    ("GatewayOptionalAddressValue", &["Gateway", "GatewayAddressEmpty"]),
    ("GatewaySecretInvalidReferenceGrant", &["Gateway", "ReferenceGrant"]),
    ("GatewaySecretMissingReferenceGrant", &["Gateway", "ReferenceGrant"]),
    ("GatewaySecretReferenceGrantAllInNamespace", &["Gateway", "ReferenceGrant"]),
    ("GatewaySecretReferenceGrantSpecific", &["Gateway", "ReferenceGrant"]),
    ("GatewayStaticAddresses", &["Gateway", "GatewayStaticAddresses"]),
    ("GatewayTLSBackendClientCertificate", &["Gateway", "GatewayBackendClientCertificate", "HTTPRoute", "BackendTLSPolicy"]),
    ("GatewayWithAttachedRoutes", &["Gateway", "HTTPRoute"]),
    ("GatewayWithAttachedRoutesWithPort8080", &["Gateway", "GatewayPort8080", "HTTPRoute"]),
    ("HTTPRoute303Redirect", &["Gateway", "HTTPRoute", "HTTPRoute303RedirectStatusCode"]),
    ("HTTPRoute307Redirect", &["Gateway", "HTTPRoute", "HTTPRoute307RedirectStatusCode"]),
    ("HTTPRoute308Redirect", &["Gateway", "HTTPRoute", "HTTPRoute308RedirectStatusCode"]),
    ("HTTPRouteBackendProtocolH2C", &["Gateway", "HTTPRoute", "HTTPRouteBackendProtocolH2C"]),
    ("HTTPRouteBackendProtocolWebSocket", &["Gateway", "HTTPRoute", "HTTPRouteBackendProtocolWebSocket"]),
    ("HTTPRouteBackendRequestHeaderModifier", &["Gateway", "HTTPRoute", "HTTPRouteBackendRequestHeaderModification"]),
    ("HTTPRouteCORS", &["Gateway", "HTTPRoute", "HTTPRouteCORS"]),
    ("HTTPRouteCrossNamespace", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteDisallowedKind", &["Gateway", "HTTPRoute", "TLSRoute"]),
    ("HTTPRouteExactPathMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteHTTPSListener", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteHTTPSListenerDetectMisdirectedRequests", &["Gateway", "GatewayHTTPSListenerDetectMisdirectedRequests", "HTTPRoute"]),
    ("HTTPRouteHeaderMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteHostnameIntersection", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteInvalidBackendRefUnknownKind", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteInvalidCrossNamespaceBackendRef", &["Gateway", "HTTPRoute", "ReferenceGrant"]),
    ("HTTPRouteInvalidCrossNamespaceParentRef", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteInvalidNonExistentBackendRef", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteInvalidParentRefNotMatchingListenerPort", &["Gateway", "HTTPRoute", "HTTPRouteDestinationPortMatching"]),
    ("HTTPRouteInvalidParentRefNotMatchingSectionName", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteInvalidParentRefSectionNameNotMatchingPort", &["Gateway", "HTTPRoute", "HTTPRouteParentRefPort"]),
    ("HTTPRouteInvalidReferenceGrant", &["Gateway", "HTTPRoute", "ReferenceGrant"]),
    ("HTTPRouteListenerHostnameMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteListenerPortMatching", &["Gateway", "HTTPRoute", "HTTPRouteParentRefPort"]),
    ("HTTPRouteMatching", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteMatchingAcrossRoutes", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteMethodMatching", &["Gateway", "HTTPRoute", "HTTPRouteMethodMatching"]),
    ("HTTPRouteMultipleGateways", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteNamedRule", &["Gateway", "HTTPRoute", "HTTPRouteNamedRouteRule"]),
    ("HTTPRouteNoBackendRefs", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteObservedGenerationBump", &["Gateway", "HTTPRoute"]),
    ("HTTPRoutePartiallyInvalidViaInvalidReferenceGrant", &["Gateway", "HTTPRoute", "ReferenceGrant"]),
    ("HTTPRoutePathMatchOrder", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteQueryParamMatching", &["Gateway", "HTTPRoute", "HTTPRouteQueryParamMatching"]),
    ("HTTPRouteRedirectHostAndStatus", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteRedirectPath", &["Gateway", "HTTPRoute", "HTTPRoutePathRedirect"]),
    ("HTTPRouteRedirectPort", &["Gateway", "HTTPRoute", "HTTPRoutePortRedirect"]),
    ("HTTPRouteRedirectPortAndScheme", &["Gateway", "HTTPRoute", "HTTPRoutePortRedirect", "GatewayPort8080"]),
    ("HTTPRouteRedirectScheme", &["Gateway", "HTTPRoute", "HTTPRouteSchemeRedirect"]),
    ("HTTPRouteReferenceGrant", &["Gateway", "HTTPRoute", "ReferenceGrant"]),
    ("HTTPRouteRequestHeaderModifier", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteRequestHeaderModifierBackendWeights", &["Gateway", "HTTPRouteBackendRequestHeaderModification", "HTTPRoute"]),
    ("HTTPRouteRequestMirror", &["Gateway", "HTTPRoute", "HTTPRouteRequestMirror"]),
    ("HTTPRouteRequestMultipleMirrors", &["Gateway", "HTTPRoute", "HTTPRouteRequestMirror", "HTTPRouteRequestMultipleMirrors"]),
    ("HTTPRouteRequestPercentageMirror", &["Gateway", "HTTPRoute", "HTTPRouteRequestPercentageMirror"]),
    ("HTTPRouteResponseHeaderModifier", &["Gateway", "HTTPRoute", "HTTPRouteResponseHeaderModification"]),
    ("HTTPRouteRetry", &["Gateway", "HTTPRoute", "HTTPRouteRetry"]),
    ("HTTPRouteRewriteHost", &["Gateway", "HTTPRoute", "HTTPRouteHostRewrite"]),
    ("HTTPRouteRewritePath", &["Gateway", "HTTPRoute", "HTTPRoutePathRewrite"]),
    ("HTTPRouteServiceTypes", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteSimpleSameNamespace", &["Gateway", "HTTPRoute"]),
    ("HTTPRouteTimeoutBackendRequest", &["Gateway", "HTTPRoute", "HTTPRouteBackendTimeout"]),
    ("HTTPRouteTimeoutRequest", &["Gateway", "HTTPRoute", "HTTPRouteRequestTimeout"]),
    ("HTTPRouteWeight", &["Gateway", "HTTPRoute"]),
    ("ListenerSetAllowedNamespaceNone", &["Gateway", "ListenerSet"]),
    ("ListenerSetAllowedNamespaceSame", &["Gateway", "ListenerSet"]),
    ("ListenerSetAllowedNamespaceSelector", &["Gateway", "ListenerSet"]),
    ("ListenerSetAllowedRoutesNamespaces", &["Gateway", "ListenerSet", "HTTPRoute", "ReferenceGrant"]),
    ("ListenerSetAllowedRoutesSupportedKinds", &["Gateway", "ListenerSet", "TLSRoute"]),
    ("ListenerSetDefaultNotAllowed", &["Gateway", "ListenerSet"]),
    ("ListenerSetDualParentRefIndependence", &["Gateway", "ListenerSet", "HTTPRoute"]),
    ("ListenerSetGatewayParentSectionNameNotFound", &["Gateway", "ListenerSet", "HTTPRoute"]),
    ("ListenerSetHTTPRouting", &["Gateway", "ListenerSet", "HTTPRoute"]),
    ("ListenerSetHostnameConflict", &["Gateway", "ListenerSet"]),
    ("ListenerSetProtocolConflict", &["Gateway", "ListenerSet"]),
    ("ListenerSetReferenceGrant", &["Gateway", "ListenerSet", "ReferenceGrant"]),
    ("ListenerSetRouteStatusScopedToParentRef", &["Gateway", "ListenerSet", "HTTPRoute"]),
    ("TLSRouteHostnameIntersection", &["Gateway", "TLSRoute"]),
    ("TLSRouteInvalidBackendRefNonexistent", &["Gateway", "TLSRoute"]),
    ("TLSRouteInvalidBackendRefUnknownKind", &["Gateway", "TLSRoute"]),
    ("TLSRouteInvalidNoMatchingListener", &["Gateway", "TLSRoute"]),
    ("TLSRouteInvalidNoMatchingListenerHostname", &["Gateway", "TLSRoute"]),
    ("TLSRouteInvalidReferenceGrant", &["Gateway", "TLSRoute", "ReferenceGrant"]),
    ("TLSRouteListenerMixedTerminationNotSupported", &["Gateway", "TLSRoute", "TLSRouteModeTerminate"]),
    ("TLSRouteListenerPassthroughSupportedKinds", &["Gateway", "TLSRoute"]),
    ("TLSRouteListenerTerminateNotSupported", &["Gateway", "TLSRoute"]),
    ("TLSRouteListenerTerminateSupportedKinds", &["Gateway", "TLSRoute", "TLSRouteModeTerminate"]),
    ("TLSRouteMixedTerminationSameNamespace", &["Gateway", "TLSRoute", "TLSRouteModeTerminate", "TLSRouteModeMixed"]),
    ("TLSRouteSimpleSameNamespace", &["Gateway", "TLSRoute"]),
    ("TLSRouteTerminateSimpleSameNamespace", &["Gateway", "TLSRoute", "TLSRouteModeTerminate"]),
];

/// Upstream's provisional tests (of these profiles): counted like the others, and listed in
/// `succeededProvisionalTests` when they pass.
const PROVISIONAL: &[&str] = &[
    "GRPCRouteNamedRule",
    "GatewayInfrastructure",
    "GatewayOptionalAddressValue",
    "HTTPRoute303Redirect",
    "HTTPRoute307Redirect",
    "HTTPRoute308Redirect",
    "HTTPRouteNamedRule",
    "HTTPRouteRequestPercentageMirror",
    "TLSRouteMixedTerminationSameNamespace",
    "TLSRouteTerminateSimpleSameNamespace",
];

const GATEWAY_EXTENDED: &[&str] = &[
    "GatewayPort8080",
    "GatewayStaticAddresses",
    "GatewayHTTPListenerIsolation",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "GatewayInfrastructurePropagation",
    "GatewayAddressEmpty",
    "GatewayBackendClientCertificate",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
    "ListenerSet",
];
const HTTP_EXTENDED: &[&str] = &[
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteMethodMatching",
    "HTTPRouteResponseHeaderModification",
    "HTTPRoutePortRedirect",
    "HTTPRouteSchemeRedirect",
    "HTTPRoutePathRedirect",
    "HTTPRouteHostRewrite",
    "HTTPRoutePathRewrite",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteBackendTimeout",
    "HTTPRouteParentRefPort",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteCORS",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
];

pub struct Profile {
    pub name: &'static str,
    pub core: &'static [&'static str],
    pub extended: Vec<&'static str>,
}

pub fn profiles() -> Vec<Profile> {
    let with = |own: &[&'static str]| GATEWAY_EXTENDED.iter().chain(own).copied().collect::<Vec<_>>();
    vec![
        Profile { name: "GATEWAY-HTTP", core: &["Gateway", "HTTPRoute", "ReferenceGrant"], extended: with(HTTP_EXTENDED) },
        Profile { name: "GATEWAY-TLS", core: &["Gateway", "TLSRoute", "ReferenceGrant"], extended: with(&["TLSRouteModeTerminate", "TLSRouteModeMixed"]) },
        Profile { name: "GATEWAY-GRPC", core: &["Gateway", "GRPCRoute", "ReferenceGrant"], extended: with(&["GRPCRouteNamedRouteRule"]) },
    ]
}

/// What happened to one scenario.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed,
    Failed(String),
}

/// The core features of every profile (a test needing only these is a core test).
const ALL_CORE: &[&str] = &["Gateway", "ReferenceGrant", "HTTPRoute", "TLSRoute", "GRPCRoute", "TCPRoute", "UDPRoute"];

/// Upstream tests that belong to a profile: every feature is the profile's or another profile's
/// core feature, and the test is about the profile's route kind (or about Gateways only). A test
/// is core when it needs core features only. So HTTPRouteDisallowedKind (Gateway, HTTPRoute,
/// TLSRoute) is a core test of both GATEWAY-HTTP and GATEWAY-TLS.
fn tests_of<'a>(profile: &'a Profile) -> impl Iterator<Item = (&'static str, &'static [&'static str], bool)> + 'a {
    let kind = profile.core.iter().find(|f| f.ends_with("Route")).copied().unwrap_or_default();
    UPSTREAM.iter().filter_map(move |(name, features)| {
        let known = features.iter().all(|f| ALL_CORE.contains(f) || profile.extended.contains(f));
        let about = features.contains(&kind)
            || features.iter().all(|f| !f.ends_with("Route") && !f.starts_with("HTTPRoute") && !f.starts_with("GRPCRoute") && !f.starts_with("TLSRoute"));
        let core = features.iter().all(|f| ALL_CORE.contains(f));
        (known && about).then_some((*name, *features, core))
    })
}

/// The claimed profiles' tests that must run (every feature supported), with whether each is core.
/// Tests upstream runs only for implementations that do NOT claim a feature (they check the
/// refusal), with that feature.
const UNLESS_CLAIMED: &[(&str, &str)] =
    &[("TLSRouteListenerTerminateNotSupported", "TLSRouteModeTerminate"), ("TLSRouteListenerMixedTerminationNotSupported", "TLSRouteModeMixed")];

/// Upstream does not run this test where the class claims the feature it checks the refusal of.
fn excluded(name: &str, claimed: &BTreeSet<String>) -> bool {
    UNLESS_CLAIMED.iter().any(|(test, feature)| *test == name && claimed.contains(*feature))
}

pub fn required(claimed: &BTreeSet<String>) -> Vec<(&'static str, &'static str, bool)> {
    let mut out = Vec::new();
    for profile in profiles() {
        if !profile.core.iter().all(|f| claimed.contains(*f)) {
            continue;
        }
        for (name, features, core) in tests_of(&profile) {
            if features.iter().all(|f| claimed.contains(*f)) && !excluded(name, claimed) {
                out.push((profile.name, name, core));
            }
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<String>,
}

impl Tally {
    fn result(&self) -> &'static str {
        if !self.failed.is_empty() {
            "failure"
        } else if !self.skipped.is_empty() {
            "partial"
        } else {
            "success"
        }
    }

    fn to_value(&self) -> Value {
        let mut out = json!({"result": self.result(), "statistics": {"Failed": self.failed.len(), "Passed": self.passed, "Skipped": self.skipped.len()}});
        if !self.failed.is_empty() {
            out["failedTests"] = json!(self.failed);
        }
        if !self.skipped.is_empty() {
            out["skippedTests"] = json!(self.skipped);
        }
        out
    }
}

/// The report: one profile entry per profile whose core features the class claims.
pub fn report(claimed: &BTreeSet<String>, outcomes: &BTreeMap<&'static str, Outcome>, notes: &BTreeMap<&'static str, String>) -> Value {
    let mut entries = Vec::new();
    for profile in profiles() {
        if !profile.core.iter().all(|f| claimed.contains(*f)) {
            continue;
        }
        let (mut core, mut extended) = (Tally::default(), Tally::default());
        for (name, features, is_core) in tests_of(&profile) {
            if !features.iter().all(|f| claimed.contains(*f)) || excluded(name, claimed) {
                continue;
            }
            let tally = if is_core { &mut core } else { &mut extended };
            match outcomes.get(name) {
                Some(Outcome::Passed) => tally.passed += 1,
                Some(Outcome::Failed(_)) => tally.failed.push(name.to_string()),
                None => tally.skipped.push(name.to_string()),
            }
        }
        let mut extended_value = extended.to_value();
        let supported: Vec<&str> = profile.extended.iter().filter(|f| claimed.contains(**f)).copied().collect();
        let unsupported: Vec<&str> = profile.extended.iter().filter(|f| !claimed.contains(**f)).copied().collect();
        extended_value["supportedFeatures"] = json!(sorted(supported));
        extended_value["unsupportedFeatures"] = json!(sorted(unsupported));
        let summary = format!("Core tests {}. Extended tests {}.", wording(core.result()), wording(extended.result()));
        entries.push(json!({"name": profile.name, "core": core.to_value(), "extended": extended_value, "summary": summary}));
    }
    let failures: BTreeMap<&str, &str> = outcomes
        .iter()
        .filter_map(|(n, o)| match o {
            Outcome::Failed(why) => Some((*n, why.as_str())),
            Outcome::Passed => None,
        })
        .collect();
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "ConformanceReport",
        "date": date(),
        "gatewayAPIChannel": "standard",
        "gatewayAPIVersion": GATEWAY_API_VERSION,
        "implementation": {"organization": "portico", "project": "portico", "url": "unpublished", "version": env!("CARGO_PKG_VERSION"), "contact": ["portico maintainers"]},
        "mode": "default",
        "profiles": entries,
        "succeededProvisionalTests": outcomes.iter().filter(|(n, o)| PROVISIONAL.contains(n) && matches!(o, Outcome::Passed)).map(|(n, _)| *n).collect::<Vec<_>>(),
        "portico.dev/notes": {"engine": "Portico's own scenarios (operator/cli/tests/conformance), not upstream's suite; see docs/conformance/README.md", "failures": failures, "skipped": notes},
    })
}

fn wording(result: &str) -> &'static str {
    match result {
        "success" => "succeeded",
        "partial" => "partially succeeded with skipped tests",
        _ => "failed",
    }
}

fn sorted(mut list: Vec<&str>) -> Vec<&str> {
    list.sort_unstable();
    list
}

/// Today's date (UTC, RFC 3339) without a date crate.
fn date() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T00:00:00Z")
}
