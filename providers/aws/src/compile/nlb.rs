//! IR TLS/TCP/UDP ports -> NLB listeners. An NLB listener forwards to one target group, so the
//! first route on the port is served (translation already reports the others), and a route that
//! splits traffic across several backends does not fit. An NLB has one listener per port: a TCP
//! and a UDP port with the same number become one `TCP_UDP` listener when both forward to the same
//! Service port; otherwise the second is refused (never one silently replacing the other).

use portico_model::ir::{self, PortProtocol};
use portico_provider::RouteOverflow;

use super::Groups;
use crate::native::{Action, CertificateRef, Listener, Role};
use crate::params::AWSLoadBalancerParametersSpec;

/// The route served on the port: (source, backends, terminate TLS).
fn served(port: &ir::Port) -> Option<(&ir::RouteSource, &[ir::WeightedBackend], bool)> {
    match port.protocol {
        PortProtocol::Tls => port.tls_routes.first().map(|r| (&r.source, r.backends.as_slice(), r.terminate)),
        _ => port.l4_routes.first().map(|r| (&r.source, r.backends.as_slice(), false)),
    }
}

/// An NLB listener and what it serves.
#[derive(Clone)]
pub(super) struct Served {
    pub(super) listener: Listener,
    pub(super) backend_id: String,
    pub(super) source: ir::RouteSource,
}

/// The listener for a TLS/TCP/UDP port; `Ok(None)` when no route with a usable backend is attached.
pub(super) fn listener(port: &ir::Port, params: &AWSLoadBalancerParametersSpec, groups: &mut Groups<'_>) -> Result<Option<Served>, RouteOverflow> {
    let Some((source, backends, terminate)) = served(port) else { return Ok(None) };
    let live: Vec<&str> = backends
        .iter()
        .filter(|b| b.weight > 0)
        .filter_map(|b| match &b.target {
            ir::BackendTarget::Backend { id } => Some(id.as_str()),
            ir::BackendTarget::Invalid { .. } => None,
        })
        .collect();
    if backends.iter().filter(|b| b.weight > 0).count() > 1 {
        let route = source.route();
        let message = format!("an NLB listener forwards to one target group; port {} cannot split traffic across {} backends", port.port, backends.len());
        return Err(RouteOverflow { route, message });
    }
    let Some(backend_id) = live.first() else { return Ok(None) };
    let (protocol, group_protocol) = match port.protocol {
        PortProtocol::Udp => ("UDP", "UDP"),
        PortProtocol::Tls if terminate => ("TLS", "TCP"),
        _ => ("TCP", "TCP"),
    };
    let Some(group) = groups.group(Role::Nlb, backend_id, group_protocol) else { return Ok(None) };
    let certificates = if terminate { certificates(port, params) } else { Vec::new() };
    let listener = Listener {
        port: port.port,
        protocol: protocol.into(),
        ssl_policy: terminate.then(|| params.ssl_policy()),
        certificates,
        default_action: Action::Forward { target_groups: vec![(group, 1)] },
        rules: Vec::new(),
    };
    Ok(Some(Served { listener, backend_id: backend_id.to_string(), source: source.clone() }))
}

/// Two NLB listeners on one port (`first` sorts first: TLS or TCP before UDP): one `TCP_UDP`
/// listener when they are TCP and UDP to the same Service port, else `second`'s route is refused.
pub(super) fn tcp_udp(port: u16, first: &Served, second: &Served, groups: &mut Groups<'_>) -> Result<Served, RouteOverflow> {
    // The same Service port, and the same target addresses and ports (one target group serves both).
    let target = |s: &Served| {
        let backend = groups.ir.backends.get(&s.backend_id)?;
        Some((backend.service.clone(), backend.port, backend.endpoints.iter().map(|e| (e.address.clone(), e.port)).collect::<Vec<_>>()))
    };
    let (a, b) = (target(first), target(second));
    let protocols = (first.listener.protocol.as_str(), second.listener.protocol.as_str());
    let refuse = |why: String| RouteOverflow { route: second.source.route(), message: format!("port {port}: an NLB has one listener per port; {why}") };
    if protocols != ("TCP", "UDP") {
        return Err(refuse(format!("{} and {} cannot share it", protocols.0, protocols.1)));
    }
    if a.is_none() || a != b {
        let name = |t: &Option<(ir::ObjectRef, u16, Vec<(String, u16)>)>| t.as_ref().map(|(s, p, _)| format!("Service {s} port {p}")).unwrap_or_default();
        let why = if a.as_ref().map(|t| (&t.0, t.1)) == b.as_ref().map(|t| (&t.0, t.1)) {
            "the Service's TCP and UDP endpoints differ (a TCP_UDP target group sends both to the same address and port)".to_string()
        } else {
            format!("the TCP route forwards to {} and this UDP route to {}", name(&a), name(&b))
        };
        return Err(refuse(format!("TCP and UDP share it only as one TCP_UDP listener to one target group: {why}")));
    }
    let Some(group) = groups.group(Role::Nlb, &first.backend_id, "TCP_UDP") else {
        return Err(refuse("the backend has no target group".into()));
    };
    let mut merged = first.clone();
    merged.listener.protocol = "TCP_UDP".into();
    merged.listener.default_action = Action::Forward { target_groups: vec![(group, 1)] };
    Ok(merged)
}

fn certificates(port: &ir::Port, params: &AWSLoadBalancerParametersSpec) -> Vec<CertificateRef> {
    let mut out: Vec<CertificateRef> = Vec::new();
    let refs = port.certificates.iter().flat_map(|b| b.secrets.iter().map(|s| CertificateRef::Secret(s.clone())));
    for reference in refs.chain(params.certificate_arns.iter().map(|a| CertificateRef::Arn(a.clone()))) {
        if !out.contains(&reference) {
            out.push(reference);
        }
    }
    out
}
