//! The provider-neutral intermediate representation of one Gateway's load balancer.
//!
//! Everything here is ordered deterministically (sorted vectors, `BTreeMap`s), so two translations
//! of the same input serialise identically, and the order of `routes` in a [`VirtualHost`] is the
//! evaluation order: "first match wins" on any platform gives the Gateway API's precedence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::capabilities::{ProviderKind, RouteKind};

/// A Kubernetes object reference `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Identifies a route of any kind: the one typed key translation, providers and the operator
/// pass between them (statuses, quota overflows, age ranks). Serialised as `Kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub kind: RouteKind,
    pub namespace: String,
    pub name: String,
}

impl RouteKey {
    pub fn new(kind: RouteKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        RouteKey { kind, namespace: namespace.into(), name: name.into() }
    }

    /// `Kind/namespace/name`, as printed in plans and messages.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

impl Serialize for RouteKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id())
    }
}

impl<'de> Deserialize<'de> for RouteKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut parts = text.splitn(3, '/');
        let (Some(kind), Some(namespace), Some(name)) = (parts.next().and_then(RouteKind::from_name), parts.next(), parts.next()) else {
            return Err(serde::de::Error::custom(format!("{text:?} is not Kind/namespace/name")));
        };
        Ok(RouteKey::new(kind, namespace, name))
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

impl Gateway {
    /// Where every route entry of every port came from (a route once per entry).
    pub fn route_sources(&self) -> impl Iterator<Item = &RouteSource> {
        self.ports.iter().flat_map(|p| {
            let http = p.virtual_hosts.iter().flat_map(|v| v.routes.iter().map(|r| &r.source));
            http.chain(p.tls_routes.iter().map(|r| &r.source)).chain(p.l4_routes.iter().map(|r| &r.source))
        })
    }
}

impl RouteSource {
    /// The route this entry came from.
    pub fn route(&self) -> RouteKey {
        RouteKey::new(self.kind, self.namespace.clone(), self.name.clone())
    }
}

/// One Gateway, ready for a provider to plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    pub gateway: ObjectRef,
    pub gateway_class: String,
    pub provider: ProviderKind,
    /// Provider parameters in effect: the Gateway's own `infrastructure.parametersRef` if set,
    /// else the GatewayClass's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ParametersRef>,
    /// Addresses requested in `spec.addresses` (validated for type and syntax).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requested_addresses: Vec<Address>,
    /// Labels and annotations from `spec.infrastructure`, to put on provider resources.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub infrastructure_labels: BTreeMap<String, String>,
    /// Annotations from `spec.infrastructure`, for platforms that carry them
    /// (`InfrastructureAnnotations`); empty elsewhere.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub infrastructure_annotations: BTreeMap<String, String>,
    /// The certificate Secret presented to backends reached over TLS (`spec.tls.backend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_client_certificate: Option<ObjectRef>,
    /// One entry per (port, protocol family) with at least one usable listener, sorted by port.
    pub ports: Vec<Port>,
    /// Every backend any route on this Gateway sends traffic to, keyed by [`BackendId`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub backends: BTreeMap<String, Backend>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParametersRef {
    pub group: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(rename = "type")]
    pub address_type: String,
    pub value: String,
}

/// How a port is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PortProtocol {
    /// Plain HTTP: routed by Host and request attributes.
    #[serde(rename = "HTTP")]
    Http,
    /// TLS terminated at the load balancer, then HTTP routing. TLS listeners in Terminate mode
    /// that share the port appear in `tlsRoutes` with `terminate: true`.
    #[serde(rename = "HTTPS")]
    Https,
    /// TLS only: routed by SNI (passthrough or terminate), no HTTP on this port.
    #[serde(rename = "TLS")]
    Tls,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// Everything served on one port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub port: u16,
    pub protocol: PortProtocol,
    /// Names of the Gateway listeners programmed on this port, sorted.
    pub listeners: Vec<String>,
    /// Certificates to present, by SNI hostname (`*` = default), for terminating listeners.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateBinding>,
    /// Client certificate validation on a terminating port (`spec.tls.frontend`, the port's
    /// `perPort` entry or the default): every TLS handshake on the port is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_validation: Option<ClientValidation>,
    /// HTTP routing, most specific hostname first: exact names, then wildcards from the longest
    /// suffix, then `*`. Empty for TLS/TCP/UDP ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_hosts: Vec<VirtualHost>,
    /// SNI routing for TLS listeners, most specific hostname first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_routes: Vec<SniRoute>,
    /// TCP/UDP forwarding: the one route the port's listener forwards to, the oldest attached
    /// (newer routes on the listener attach and are counted, but are not here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub l4_routes: Vec<L4Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateBinding {
    /// The listener hostname this certificate is for (`*` when the listener has none).
    pub hostname: String,
    pub listener: String,
    /// Secrets in the order the listener lists them.
    pub secrets: Vec<ObjectRef>,
}

/// How a terminating port validates client certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientValidation {
    pub mode: ClientValidationMode,
    /// The trust anchors: the usable CA bundles the validation references, in reference order
    /// (CA certificates are public, so they travel in the IR; a changed bundle changes the IR).
    pub ca_certificates: Vec<CaBundle>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientValidationMode {
    /// Only clients presenting a certificate that chains to a trusted CA get through.
    AllowValidOnly,
    /// Clients without a certificate, or with one that fails validation, get through too.
    AllowInsecureFallback,
}

/// One PEM CA bundle (one or more CERTIFICATE blocks) and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaBundle {
    /// The ConfigMap holding it under `ca.crt`.
    pub config_map: ObjectRef,
    pub pem: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualHost {
    /// Exact (`foo.example.com`), wildcard (`*.example.com`) or `*` for any host.
    pub hostname: String,
    /// The listener this virtual host belongs to.
    pub listener: String,
    /// Rules in evaluation order: the first whose match succeeds handles the request. A request
    /// that matches none of them gets a 404.
    pub routes: Vec<HttpRouteEntry>,
}

/// Where an IR entry came from, for status, metrics and debugging.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSource {
    pub kind: RouteKind,
    pub namespace: String,
    pub name: String,
    pub rule: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    pub r#match: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteEntry {
    pub source: RouteSource,
    #[serde(rename = "match")]
    pub matcher: HttpMatch,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpFilter>,
    /// Shared by every entry of the rule (one per match and hostname).
    #[serde(with = "shared")]
    pub action: std::sync::Arc<HttpAction>,
    // The rarely set parts are boxed: an entry exists per match and hostname (800,000 of them for
    // 100,000 routes of four matches on two listeners), and inline they tripled its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Box<Timeouts>>,
    /// The rule's `retry`: a failed backend attempt is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<Retry>>,
    /// The rule's `sessionPersistence`: a client keeps reaching the same endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<Box<SessionPersistence>>,
}

/// Cookie-based session persistence: the load balancer sets a cookie naming the endpoint it
/// chose, and sends later requests carrying it to that endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPersistence {
    pub cookie_name: String,
    /// The session ends this long after it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absolute_timeout_ms: Option<u64>,
    /// The session ends after this long without a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// A permanent cookie (`Max-Age` = the absolute timeout) instead of a browser-session one.
    pub permanent: bool,
}

/// When and how often a backend request is retried.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// Retries after the first attempt; `None`: the platform's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Response status codes that are retried (connection failures and backend timeouts are
    /// retried too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpMatch {
    pub path: PathMatch,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<ValueMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<ValueMatch>,
}

/// A path match. `Prefix` is segment-aware: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    RegularExpression(String),
}

impl Default for PathMatch {
    fn default() -> Self {
        PathMatch::Prefix("/".into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueMatch {
    /// Header names are lower-cased (they are case-insensitive); query names are kept as written.
    pub name: String,
    #[serde(rename = "type")]
    pub match_type: ValueMatchType,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ValueMatchType {
    Exact,
    RegularExpression,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum HttpFilter {
    RequestHeaderModifier(HeaderModifier),
    ResponseHeaderModifier(HeaderModifier),
    #[serde(rename = "URLRewrite")]
    UrlRewrite(UrlRewrite),
    RequestMirror(RequestMirror),
    #[serde(rename = "CORS")]
    Cors(Cors),
}

/// The `CORS` filter, carried out by the load balancer: a preflight request (`OPTIONS` with
/// `Origin` and `Access-Control-Request-Method`) is answered there, without reaching a backend;
/// other requests from an allowed origin get the CORS response headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cors {
    /// `scheme://host[:port]` with an optional leading `*` label wildcard in the host, or `*`
    /// alone for any origin.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    /// Methods, or `*` alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    /// Request header names, or `*` alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    /// Response header names, or `*` alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age_seconds: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderModifier {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<Header>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Header>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRewrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum PathRewrite {
    /// Replace the whole path.
    ReplaceFullPath(String),
    /// Replace the matched prefix (the entry's path match is always a `Prefix`).
    ReplacePrefixMatch(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMirror {
    pub backend: String,
    /// Share of requests mirrored, as numerator/denominator (100/100 when unspecified).
    pub numerator: u32,
    pub denominator: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum HttpAction {
    /// Send to the backends by weight. Backends that could not be resolved stay in the list as
    /// `Invalid` with their weight, so that exactly their share of traffic gets a 500.
    Forward {
        backends: Vec<WeightedBackend>,
    },
    Redirect(Box<Redirect>),
    /// A fixed response: 500 for a rule with no usable backend, for example.
    FixedResponse {
        status: u16,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedBackend {
    pub weight: u32,
    pub target: BackendTarget,
    /// Filters that apply only when this backend is chosen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum BackendTarget {
    /// A key into [`Gateway::backends`].
    Backend { id: String },
    /// The reference could not be resolved: this share of traffic gets a 500.
    Invalid { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub status_code: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    /// Whole-request timeout in milliseconds (`0` disables it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_ms: Option<u64>,
    /// Per backend attempt, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_request_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SniRoute {
    /// SNI hostname: exact, wildcard or `*`.
    pub hostname: String,
    pub listener: String,
    /// True when the load balancer terminates TLS (listener mode Terminate), false for passthrough.
    pub terminate: bool,
    pub source: RouteSource,
    pub backends: Vec<WeightedBackend>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L4Route {
    pub listener: String,
    pub source: RouteSource,
    pub backends: Vec<WeightedBackend>,
}

/// The protocol Portico speaks to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BackendProtocol {
    #[serde(rename = "HTTP")]
    Http,
    /// HTTP/2 without TLS (gRPC, or `appProtocol: kubernetes.io/h2c`).
    #[serde(rename = "H2C")]
    H2c,
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// A Service port and the endpoints behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    pub service: ObjectRef,
    pub port: u16,
    pub protocol: BackendProtocol,
    /// For `type: ExternalName` Services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_name: Option<String>,
    /// Ready endpoints from the Service's EndpointSlices, sorted.
    pub endpoints: Vec<Endpoint>,
    /// TLS towards the endpoints, from the BackendTLSPolicy that applies to this Service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<BackendTls>,
}

/// TLS origination to a backend, verified as a BackendTLSPolicy asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendTls {
    /// The policy it comes from.
    pub policy: ObjectRef,
    /// Sent as SNI; the certificate must be valid for it unless `subjectAltNames` are given.
    pub hostname: String,
    /// The trust anchors: CA bundles from ConfigMaps, or the system's (`wellKnownCACertificates:
    /// System`) when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certificates: Vec<CaBundle>,
    /// When set, the certificate must carry one of these instead of `hostname`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<SubjectAltName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "value")]
pub enum SubjectAltName {
    Hostname(String),
    Uri(String),
}

impl Backend {
    /// The id under which a Service port is stored in [`Gateway::backends`].
    pub fn id_for(service: &ObjectRef, port: u16, protocol: BackendProtocol) -> String {
        let suffix = match protocol {
            BackendProtocol::H2c => "-h2c",
            BackendProtocol::Udp => "-udp",
            _ => "",
        };
        format!("{}/{}:{}{}", service.namespace, service.name, port, suffix)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Serde for a value shared between IR entries, written and read as the value itself (serde's
/// `rc` feature stays off: enabling it would rebuild every crate that depends on serde).
mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &Arc<T>, serializer: S) -> Result<S::Ok, S::Error> {
        value.as_ref().serialize(serializer)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<Arc<T>, D::Error> {
        T::deserialize(deserializer).map(Arc::new)
    }
}
