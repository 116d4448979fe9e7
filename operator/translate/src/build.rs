//! Assembling one Gateway's IR: rules compiled per route, placed under the listeners and
//! hostnames they bound to, then grouped by port and ordered by the Gateway API's precedence.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{
    self, Backend, BackendTarget, CertificateBinding, HttpAction, HttpFilter, HttpRouteEntry, L4Route, PathMatch, PortProtocol, RouteSource, SniRoute,
    VirtualHost, WeightedBackend,
};
use portico_model::{Capabilities, ListenerProtocol, RouteKind};

use crate::backends::ResolvedBackends;
use crate::gateway::GatewayState;
use crate::hostnames;
use crate::listeners::ListenerState;
use crate::routes::Route;
use crate::rules::{self, CompiledRule, RuleProblem};

/// A route's rules compiled for one provider.
pub struct CompiledRoute {
    pub valid_rules: usize,
    pub dropped: Vec<(usize, RuleProblem)>,
    pub http: Vec<(usize, CompiledRule)>,
    pub l4: Option<(usize, Vec<WeightedBackend>)>,
}

pub fn compile_route(route: &Route, resolved: &ResolvedBackends, caps: &Capabilities, has_host: bool) -> CompiledRoute {
    let mut out = CompiledRoute { valid_rules: 0, dropped: Vec::new(), http: Vec::new(), l4: None };
    let resolved = &*crate::backends::for_platform(route, resolved, caps);
    for (i, rule) in route.rules.iter().enumerate() {
        let result = match route.key.kind {
            RouteKind::Http | RouteKind::Grpc => match rules::compile_http_rule(i, rule, resolved, caps, has_host) {
                Ok(compiled) => {
                    out.http.push((i, compiled));
                    Ok(())
                }
                Err(problem) => {
                    if let Some(failed) = rules::compile_failed_rule(i, rule, caps, has_host, &problem) {
                        out.http.push((i, failed));
                    }
                    Err(problem)
                }
            },
            _ if i > 0 => Err(RuleProblem { incompatible: false, message: format!("spec.rules[{i}]: a {} forwards with its first rule only", route.key.kind) }),
            _ => rules::compile_l4_rule(i, rule, resolved, caps).map(|b| out.l4 = Some((i, b))),
        };
        match result {
            Ok(()) => out.valid_rules += 1,
            Err(problem) => out.dropped.push((i, problem)),
        }
    }
    out
}

/// The Gateway API's match precedence, as a sortable key (smaller sorts first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PrecedenceKey {
    /// GRPCRoute: characters in the matched service, then method (zero for HTTPRoutes, which
    /// never share a virtual host with GRPCRoutes).
    grpc_service: Reverse<usize>,
    grpc_method: Reverse<usize>,
    path_rank: u8,
    path_len: Reverse<usize>,
    method: Reverse<bool>,
    headers: Reverse<usize>,
    query: Reverse<usize>,
    /// The route's place in (creationTimestamp, namespace/name, kind) order.
    route_rank: usize,
    rule: usize,
    r#match: usize,
}

struct HttpDraft {
    listener: usize,
    hostname: String,
    key: PrecedenceKey,
    /// Boxed: drafts are sorted, and moving a pointer is cheaper than moving the entry.
    entry: Box<HttpRouteEntry>,
}

struct SniDraft {
    listener: usize,
    key: usize,
    route: SniRoute,
}

struct L4Draft {
    listener: usize,
    key: usize,
    route: L4Route,
}

/// Everything routes contribute to one Gateway, before ordering.
#[derive(Default)]
pub struct GatewayBuilder {
    http: Vec<HttpDraft>,
    sni: Vec<SniDraft>,
    l4: Vec<L4Draft>,
    backends: BTreeMap<String, Backend>,
}

fn source(route: &Route, rule: usize, r#match: usize) -> RouteSource {
    RouteSource {
        kind: route.key.kind,
        namespace: route.key.namespace.clone(),
        name: route.key.name.clone(),
        rule,
        rule_name: route.rules.get(rule).and_then(|r| r.name.clone()),
        r#match,
    }
}

impl GatewayBuilder {
    /// Place a route's compiled rules under one listener, for each hostname it serves there.
    pub fn place(
        &mut self,
        route: &Route,
        listener: usize,
        state: &ListenerState<'_>,
        hostnames: &[String],
        compiled: &CompiledRoute,
        resolved: &ResolvedBackends,
    ) {
        let route_key = route.rank;
        for (rule_index, rule) in &compiled.http {
            self.keep_backends(rule.backend_ids(), resolved);
            for (m, matcher) in rule.matches.iter().enumerate() {
                let entry = HttpRouteEntry {
                    source: source(route, *rule_index, m),
                    matcher: matcher.clone(),
                    filters: rule.filters.clone(),
                    action: rule.action.clone(),
                    timeouts: rule.timeouts.clone().map(Box::new),
                    retry: rule.retry.clone().map(Box::new),
                    session_persistence: rule.session_persistence.clone().map(Box::new),
                };
                let key = precedence_key(route, *rule_index, m, matcher, rule.grpc_lengths.get(m).copied().flatten());
                // Each hostname gets its copy; the last takes the original.
                if let Some((last, others)) = hostnames.split_last() {
                    for hostname in others {
                        self.http.push(HttpDraft { listener, hostname: hostname.clone(), key: key.clone(), entry: Box::new(entry.clone()) });
                    }
                    self.http.push(HttpDraft { listener, hostname: last.clone(), key, entry: Box::new(entry) });
                }
            }
        }
        let Some((rule_index, backends)) = &compiled.l4 else { return };
        self.keep_backends(backends.iter().filter_map(target_id).collect(), resolved);
        let source = source(route, *rule_index, 0);
        if route.key.kind == RouteKind::Tls {
            for hostname in hostnames {
                let route = SniRoute {
                    hostname: hostname.clone(),
                    listener: state.ir_name.clone(),
                    terminate: state.terminates_tls,
                    source: source.clone(),
                    backends: backends.clone(),
                };
                self.sni.push(SniDraft { listener, key: route_key, route });
            }
        } else {
            let route = L4Route { listener: state.ir_name.clone(), source, backends: backends.clone() };
            self.l4.push(L4Draft { listener, key: route_key, route });
        }
    }

    fn keep_backends(&mut self, ids: Vec<String>, resolved: &ResolvedBackends) {
        for id in ids {
            if let Some(backend) = resolved.backends.get(&id) {
                self.backends.entry(id).or_insert_with(|| backend.clone());
            }
        }
    }

    /// Order everything and produce the Gateway's IR.
    pub fn assemble(mut self, gw: &GatewayState<'_>) -> ir::Gateway {
        self.http.sort_by(|a, b| a.key.cmp(&b.key));
        self.l4.sort_by_key(|a| a.key);
        let mut ports: BTreeMap<(u16, PortProtocol), ir::Port> = BTreeMap::new();
        for (i, l) in gw.listeners.iter().enumerate().filter(|(_, l)| l.programmable()) {
            let protocol = port_protocol(gw, l);
            let port = ports.entry((l.port, protocol)).or_insert_with(|| ir::Port {
                port: l.port,
                protocol,
                listeners: Vec::new(),
                certificates: Vec::new(),
                client_validation: None,
                virtual_hosts: Vec::new(),
                tls_routes: Vec::new(),
                l4_routes: Vec::new(),
            });
            port.listeners.push(l.ir_name.clone());
            // Validation is per port, so every HTTPS listener on the port carries the same one.
            if l.client_validation.is_some() {
                port.client_validation.clone_from(&l.client_validation);
            }
            if l.terminates_tls {
                let hostname = l.hostname.clone().unwrap_or_else(|| "*".into());
                port.certificates.push(CertificateBinding { hostname, listener: l.ir_name.clone(), secrets: l.certificates.clone() });
            }
            port.l4_routes.extend(self.l4.iter().filter(|d| d.listener == i).map(|d| d.route.clone()));
        }
        let mut by_listener: BTreeMap<usize, Vec<HttpDraft>> = BTreeMap::new();
        for draft in std::mem::take(&mut self.http) {
            by_listener.entry(draft.listener).or_default().push(draft);
        }
        for port in ports.values_mut() {
            port.listeners.sort();
            port.certificates.sort();
            port.virtual_hosts = virtual_hosts(gw, port, &mut by_listener);
            port.tls_routes = sni_routes(gw, port, &self.sni);
        }
        let used = used_backends(ports.values());
        self.backends.retain(|id, _| used.contains(id));
        ir::Gateway {
            gateway: gw.key.clone(),
            gateway_class: gw.class.clone(),
            provider: gw.caps.provider,
            parameters: gw.parameters.clone(),
            requested_addresses: gw.addresses.clone(),
            infrastructure_labels: gw.labels.clone(),
            infrastructure_annotations: gw.annotations.clone(),
            backend_client_certificate: gw.backend_client_certificate.as_ref().and_then(|c| c.as_ref().ok()).cloned(),
            ports: ports.into_values().collect(),
            backends: self.backends,
        }
    }
}

fn port_protocol(gw: &GatewayState<'_>, l: &ListenerState<'_>) -> PortProtocol {
    match l.protocol {
        Some(ListenerProtocol::Http) => PortProtocol::Http,
        Some(ListenerProtocol::Https) => PortProtocol::Https,
        Some(ListenerProtocol::Tls) => {
            let shares_with_https = gw.listeners.iter().any(|o| o.port == l.port && o.programmable() && o.protocol == Some(ListenerProtocol::Https));
            if shares_with_https { PortProtocol::Https } else { PortProtocol::Tls }
        }
        Some(ListenerProtocol::Tcp) | None => PortProtocol::Tcp,
        Some(ListenerProtocol::Udp) => PortProtocol::Udp,
    }
}

/// The listeners of `port` that routes can attach to, with their indices.
fn listeners_on<'g, 'a>(gw: &'g GatewayState<'a>, port: &ir::Port) -> Vec<(usize, &'g ListenerState<'a>)> {
    gw.listeners.iter().enumerate().filter(|(_, l)| l.attachable() && port.listeners.contains(&l.ir_name)).collect()
}

fn listener_host(gw: &GatewayState<'_>, i: usize) -> String {
    gw.listeners[i].hostname.clone().unwrap_or_else(|| "*".into())
}

/// Listener isolation: `hostname` served through `listener` belongs to a more specific listener
/// on the same port when one matches it, so this copy is never used.
fn shadowed(gw: &GatewayState<'_>, on_port: &[(usize, &ListenerState<'_>)], hostname: &str, listener: usize) -> bool {
    let mine = hostnames::specificity(&listener_host(gw, listener));
    on_port.iter().any(|(j, other)| {
        *j != listener && other.hostname.as_deref().is_some_and(|h| hostnames::matches(h, hostname)) && hostnames::specificity(&listener_host(gw, *j)) > mine
    })
}

/// Most specific hostname first; for one hostname, the most specific listener first.
fn by_host_then_listener(gw: &GatewayState<'_>, a: (&str, usize), b: (&str, usize)) -> std::cmp::Ordering {
    hostnames::precedence(a.0, b.0)
        .then_with(|| hostnames::specificity(&listener_host(gw, b.1)).cmp(&hostnames::specificity(&listener_host(gw, a.1))))
        .then_with(|| gw.listeners[a.1].ir_name.cmp(&gw.listeners[b.1].ir_name))
}

/// Virtual hosts of one port: one per hostname, most specific first, owned by the most specific
/// listener that serves it (listener isolation drops the other listeners' copies).
fn virtual_hosts(gw: &GatewayState<'_>, port: &ir::Port, drafts: &mut BTreeMap<usize, Vec<HttpDraft>>) -> Vec<VirtualHost> {
    let on_port = listeners_on(gw, port);
    let mut hosts: std::collections::HashMap<(String, usize), Vec<HttpRouteEntry>> = std::collections::HashMap::new();
    for (listener, _) in &on_port {
        // Drafts arrive sorted by precedence, so each virtual host's routes stay in order.
        for draft in drafts.remove(listener).unwrap_or_default() {
            hosts.entry((draft.hostname, draft.listener)).or_default().push(*draft.entry);
        }
    }
    let mut out: Vec<(String, usize, Vec<HttpRouteEntry>)> = hosts
        .into_iter()
        .filter(|((hostname, listener), _)| !shadowed(gw, &on_port, hostname, *listener))
        .map(|((hostname, listener), routes)| (hostname, listener, routes))
        .collect();
    isolate_empty_listeners(&on_port, &mut out);
    out.sort_by(|a, b| by_host_then_listener(gw, (&a.0, a.1), (&b.0, b.1)));
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|(hostname, _, _)| seen.insert(hostname.clone()))
        .map(|(hostname, listener, routes)| VirtualHost { hostname, listener: gw.listeners[listener].ir_name.clone(), routes })
        .collect()
}

/// Listener isolation holds for a listener without a route for its own hostname too: that
/// hostname gets an empty virtual host (404) whenever a less specific listener on the port would
/// otherwise answer it with its own routes.
fn isolate_empty_listeners(on_port: &[(usize, &ListenerState<'_>)], hosts: &mut Vec<(String, usize, Vec<HttpRouteEntry>)>) {
    let http = |l: &ListenerState<'_>| matches!(l.protocol, Some(ListenerProtocol::Http | ListenerProtocol::Https));
    for (i, listener) in on_port.iter().filter(|(_, l)| http(l)) {
        let Some(hostname) = listener.hostname.as_deref() else { continue };
        let covered = on_port
            .iter()
            .any(|(j, other)| j != i && http(other) && other.hostname.as_deref().is_none_or(|h| h != hostname && hostnames::matches(h, hostname)));
        if covered && !hosts.iter().any(|(h, _, _)| h == hostname) {
            hosts.push((hostname.to_string(), *i, Vec::new()));
        }
    }
}

/// SNI routes of one port, with the same isolation and ordering as virtual hosts; for one
/// hostname only the first (most specific listener, then oldest route) can ever match.
fn sni_routes(gw: &GatewayState<'_>, port: &ir::Port, drafts: &[SniDraft]) -> Vec<SniRoute> {
    let on_port = listeners_on(gw, port);
    let mut routes: Vec<&SniDraft> =
        drafts.iter().filter(|d| on_port.iter().any(|(i, _)| *i == d.listener) && !shadowed(gw, &on_port, &d.route.hostname, d.listener)).collect();
    routes.sort_by(|a, b| by_host_then_listener(gw, (&a.route.hostname, a.listener), (&b.route.hostname, b.listener)).then_with(|| a.key.cmp(&b.key)));
    let mut seen = BTreeSet::new();
    routes.into_iter().filter(|d| seen.insert(d.route.hostname.clone())).map(|d| d.route.clone()).collect()
}

fn precedence_key(route: &Route, rule: usize, r#match: usize, m: &ir::HttpMatch, grpc: Option<(usize, usize)>) -> PrecedenceKey {
    let (path_rank, path_len) = match (&m.path, grpc) {
        // gRPC ranks by service and method characters only; its path form does not count.
        (_, Some(_)) => (0, 0),
        (PathMatch::Exact(p), None) => (0, p.len()),
        (PathMatch::RegularExpression(p), None) => (1, p.len()),
        (PathMatch::Prefix(p), None) => (2, p.len()),
    };
    let (service, method) = grpc.unwrap_or((0, 0));
    PrecedenceKey {
        grpc_service: Reverse(service),
        grpc_method: Reverse(method),
        path_rank,
        path_len: Reverse(path_len),
        method: Reverse(m.method.is_some()),
        headers: Reverse(m.headers.len()),
        query: Reverse(m.query_params.len()),
        route_rank: route.rank,
        rule,
        r#match,
    }
}

fn used_backends<'p>(ports: impl Iterator<Item = &'p ir::Port>) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for port in ports {
        for vhost in &port.virtual_hosts {
            for entry in &vhost.routes {
                if let HttpAction::Forward { backends } = &*entry.action {
                    used.extend(backends.iter().filter_map(target_id));
                }
                for filter in &entry.filters {
                    if let HttpFilter::RequestMirror(m) = filter {
                        used.insert(m.backend.clone());
                    }
                }
            }
        }
        for r in &port.tls_routes {
            used.extend(r.backends.iter().filter_map(target_id));
        }
        for r in &port.l4_routes {
            used.extend(r.backends.iter().filter_map(target_id));
        }
    }
    used
}

fn target_id(target: &WeightedBackend) -> Option<String> {
    match &target.target {
        BackendTarget::Backend { id } => Some(id.clone()),
        BackendTarget::Invalid { .. } => None,
    }
}

impl CompiledRule {
    /// Every backend id the rule sends traffic (or mirrored traffic) to.
    fn backend_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = match &*self.action {
            HttpAction::Forward { backends } => backends.iter().filter_map(target_id).collect(),
            _ => Vec::new(),
        };
        ids.extend(self.filters.iter().filter_map(|f| match f {
            HttpFilter::RequestMirror(m) => Some(m.backend.clone()),
            _ => None,
        }));
        ids
    }
}
