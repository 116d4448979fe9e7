//! Backend references: kind, ReferenceGrant, Service and port checks, and the endpoints behind
//! each Service port. Resolved once per route; every parent reuses the result.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;
use portico_model::ir::{Backend, BackendProtocol, BackendTarget, HttpAction, ObjectRef, WeightedBackend};
use portico_model::{Capabilities, Feature, GATEWAY_GROUP, RouteKind};

use crate::conditions::reason;
use crate::index::Index;
use crate::routes::{BackendRefSpec, FilterSpec, Route};

/// A reference that could not be resolved: (reason, message).
pub type RefProblem = (&'static str, String);

#[derive(Clone)]
pub struct ResolvedBackends {
    /// Per rule, per backendRef (same indices as the spec), the weighted target.
    pub rules: Vec<Vec<WeightedBackend>>,
    /// Per rule, per filter index: the mirror backend id when the filter is a resolvable mirror.
    pub mirrors: Vec<BTreeMap<usize, String>>,
    pub backends: BTreeMap<String, Backend>,
    pub problems: Vec<RefProblem>,
    /// Every Service the route references (resolved or not), for BackendTLSPolicy ancestors.
    pub services: std::collections::BTreeSet<ObjectRef>,
}

/// Service ports already resolved in this translation, by (namespace, name, port, route kind):
/// many routes share a few Services, and their endpoints are the same for all of them. The
/// BackendTLSPolicies decide how each port is reached.
pub struct BackendCache<'p> {
    resolved: std::collections::HashMap<(String, String, i32, RouteKind), Result<Backend, RefProblem>>,
    policies: &'p crate::backend_tls::Policies<'p>,
}

impl<'p> BackendCache<'p> {
    pub fn new(policies: &'p crate::backend_tls::Policies<'p>) -> Self {
        BackendCache { resolved: Default::default(), policies }
    }
}

pub fn resolve_route(route: &Route, index: &Index<'_>, cache: &mut BackendCache<'_>) -> ResolvedBackends {
    let mut out = ResolvedBackends { rules: Vec::new(), mirrors: Vec::new(), backends: BTreeMap::new(), problems: Vec::new(), services: Default::default() };
    for (r, rule) in route.rules.iter().enumerate() {
        let mut targets = Vec::with_capacity(rule.backends.len());
        for (b, backend) in rule.backends.iter().enumerate() {
            let field = format!("spec.rules[{r}].backendRefs[{b}]");
            let target = resolve_into(route, backend, &field, index, cache, &mut out);
            targets.push(WeightedBackend { weight: u32::try_from(backend.weight).unwrap_or(0), target, filters: Vec::new() });
        }
        let mut mirrors = BTreeMap::new();
        for (f, filter) in rule.filters.iter().enumerate() {
            if let FilterSpec::RequestMirror(mirror) = filter {
                let field = format!("spec.rules[{r}].filters[{f}].requestMirror.backendRef");
                if let BackendTarget::Backend { id } = resolve_into(route, &mirror.backend, &field, index, cache, &mut out) {
                    mirrors.insert(f, id);
                }
            }
        }
        out.rules.push(targets);
        out.mirrors.push(mirrors);
    }
    out
}

fn resolve_into(
    route: &Route,
    backend: &BackendRefSpec,
    field: &str,
    index: &Index<'_>,
    cache: &mut BackendCache<'_>,
    out: &mut ResolvedBackends,
) -> BackendTarget {
    if backend.group.is_empty() && backend.kind == "Service" {
        out.services.insert(ObjectRef::new(backend.namespace.as_deref().unwrap_or(&route.key.namespace), &backend.name));
    }
    match resolve(route, backend, index, cache) {
        Ok(resolved) => {
            let id = Backend::id_for(&resolved.service, resolved.port, resolved.protocol);
            out.backends.entry(id.clone()).or_insert(resolved);
            BackendTarget::Backend { id }
        }
        Err((reason, message)) => {
            let message = format!("{field}: {message}");
            out.problems.push((reason, message.clone()));
            BackendTarget::Invalid { reason: message }
        }
    }
}

fn resolve(route: &Route, backend: &BackendRefSpec, index: &Index<'_>, cache: &mut BackendCache<'_>) -> Result<Backend, RefProblem> {
    if !backend.group.is_empty() || backend.kind != "Service" {
        let group = if backend.group.is_empty() { "core" } else { &backend.group };
        return Err((reason::INVALID_KIND, format!("{group}/{} is not a supported backend kind (use a Service)", backend.kind)));
    }
    let namespace = backend.namespace.as_deref().unwrap_or(&route.key.namespace);
    let route_kind = route.key.kind.name();
    if namespace != route.key.namespace && !index.grant_allows((GATEWAY_GROUP, route_kind, &route.key.namespace), namespace, ("", "Service", &backend.name)) {
        let message = format!(
            "Service {namespace}/{} is in another namespace and no ReferenceGrant there allows {route_kind}s from {}",
            backend.name, route.key.namespace
        );
        return Err((reason::REF_NOT_PERMITTED, message));
    }
    let key = (namespace.to_string(), backend.name.clone(), backend.port.unwrap_or(-1), route.key.kind);
    let policies = cache.policies;
    cache.resolved.entry(key).or_insert_with(|| resolve_service(route.key.kind, namespace, backend, index, policies)).clone()
}

/// The Service port behind a permitted reference, with its ready endpoints.
fn resolve_service(
    kind: RouteKind,
    namespace: &str,
    backend: &BackendRefSpec,
    index: &Index<'_>,
    policies: &crate::backend_tls::Policies<'_>,
) -> Result<Backend, RefProblem> {
    let Some(service) = index.service(namespace, &backend.name) else {
        return Err((reason::BACKEND_NOT_FOUND, format!("Service {namespace}/{} not found", backend.name)));
    };
    let Some(port) = backend.port else {
        return Err((reason::BACKEND_NOT_FOUND, format!("port is required for Service {namespace}/{}", backend.name)));
    };
    let service_port = service.spec.as_ref().and_then(|s| s.ports.as_ref()).into_iter().flatten().find(|p| p.port == port);
    let Some(service_port) = service_port else {
        return Err((reason::BACKEND_NOT_FOUND, format!("Service {namespace}/{} has no port {port}", backend.name)));
    };
    let service_ref = ObjectRef::new(namespace, &backend.name);
    // A BackendTLSPolicy covers what the Gateway forwards as HTTP (HTTPRoute, GRPCRoute); TLS,
    // TCP and UDP routes relay the client's bytes (a passthrough TLSRoute its own TLS).
    let covered = matches!(kind, RouteKind::Http | RouteKind::Grpc);
    let policy = policies.for_port(namespace, &backend.name, service_port.name.as_deref()).filter(|_| covered);
    let tls = match policy.map(|p| (&p.key, &p.tls)) {
        None => None,
        Some((_, Ok(tls))) => Some(tls.clone()),
        Some((policy, Err((_, why)))) => {
            let message =
                format!("Service {namespace}/{} port {port}: BackendTLSPolicy {policy} cannot be used ({why}), so the backend is not reached", backend.name);
            return Err((reason::INVALID_BACKEND_TLS_POLICY, message));
        }
    };
    let protocol = backend_protocol(kind, service_port);
    let external_name = service.spec.as_ref().filter(|s| s.type_.as_deref() == Some("ExternalName")).and_then(|s| s.external_name.clone());
    Ok(Backend {
        endpoints: crate::endpoints::for_service_port(service, service_port, index),
        service: service_ref,
        port: u16::try_from(port).unwrap_or(0),
        protocol,
        external_name,
        tls,
    })
}

/// Why the platform cannot reach a resolved backend as it must, if it cannot: (reason, message).
/// A BackendTLSPolicy it cannot honour (`InvalidBackendTLSPolicy`), or an HTTPRoute backend on a
/// `kubernetes.io/h2c` Service port without `HTTPRouteBackendProtocolH2C` (`UnsupportedProtocol`,
/// the spec's reason; GRPCRoute backends are always HTTP/2).
fn unspoken(kind: RouteKind, backend: &Backend, caps: &Capabilities) -> Option<RefProblem> {
    let at = format!("Service {}:{}", backend.service, backend.port);
    if let Some(why) = backend.tls.as_ref().and_then(|tls| crate::backend_tls::unsupported(tls, caps)) {
        return Some((reason::INVALID_BACKEND_TLS_POLICY, format!("{at}: {why}, so the backend is not reached")));
    }
    let h2c = kind == RouteKind::Http && backend.protocol == BackendProtocol::H2c && !caps.supports(Feature::HttpRouteBackendProtocolH2c);
    h2c.then(|| (reason::UNSUPPORTED_PROTOCOL, format!("{at}: appProtocol kubernetes.io/h2c is not supported by {}", caps.platform_name())))
}

/// The problems of the route's backends on one platform (see [`unspoken`]); their share of
/// traffic answers 500.
pub fn protocol_problems(route: &Route, resolved: &ResolvedBackends, caps: &Capabilities) -> Vec<RefProblem> {
    resolved.backends.values().filter_map(|b| unspoken(route.key.kind, b, caps)).collect()
}

/// The route's resolved backends as one platform can use them: targets it cannot reach as it must
/// become `Invalid` (their share answers 500). Borrowed unchanged when it reaches them all.
pub fn for_platform<'r>(route: &Route, resolved: &'r ResolvedBackends, caps: &Capabilities) -> std::borrow::Cow<'r, ResolvedBackends> {
    let problem = |id: &str| resolved.backends.get(id).and_then(|b| unspoken(route.key.kind, b, caps));
    if !resolved.backends.keys().any(|id| problem(id).is_some()) {
        return std::borrow::Cow::Borrowed(resolved);
    }
    let mut adjusted = resolved.clone();
    for target in adjusted.rules.iter_mut().flatten() {
        if let BackendTarget::Backend { id } = &target.target
            && let Some((_, message)) = problem(id)
        {
            target.target = BackendTarget::Invalid { reason: message };
        }
    }
    std::borrow::Cow::Owned(adjusted)
}

fn backend_protocol(kind: RouteKind, port: &ServicePort) -> BackendProtocol {
    match kind {
        RouteKind::Grpc => BackendProtocol::H2c,
        RouteKind::Http if port.app_protocol.as_deref() == Some("kubernetes.io/h2c") => BackendProtocol::H2c,
        RouteKind::Http => BackendProtocol::Http,
        RouteKind::Tls | RouteKind::Tcp => BackendProtocol::Tcp,
        RouteKind::Udp => BackendProtocol::Udp,
    }
}

/// What a rule does with its backends: forward by weight, or a 500 that says why not.
pub fn forward_action(targets: &[WeightedBackend]) -> HttpAction {
    let internal_error = |reason: String| HttpAction::FixedResponse { status: 500, reason };
    if targets.is_empty() {
        return internal_error("rule has no backendRefs".into());
    }
    let live: Vec<WeightedBackend> = targets.iter().filter(|t| t.weight > 0).cloned().collect();
    if live.is_empty() {
        return internal_error("every backendRef has weight 0".into());
    }
    if live.iter().all(|t| matches!(t.target, BackendTarget::Invalid { .. })) {
        return internal_error("no backendRef could be resolved".into());
    }
    HttpAction::Forward { backends: live }
}
