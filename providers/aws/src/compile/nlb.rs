//! IR TLS/TCP/UDP ports -> NLB listeners. An NLB listener forwards to one target group, so the
//! first route on the port is served (translation already reports the others), and a route that
//! splits traffic across several backends does not fit.

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

/// The listener for a TLS/TCP/UDP port; `Ok(None)` when no route with a usable backend is attached.
pub(super) fn listener(port: &ir::Port, params: &AWSLoadBalancerParametersSpec, groups: &mut Groups<'_>) -> Result<Option<Listener>, RouteOverflow> {
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
    Ok(Some(Listener {
        port: port.port,
        protocol: protocol.into(),
        ssl_policy: terminate.then(|| params.ssl_policy()),
        certificates,
        default_action: Action::Forward { target_groups: vec![(group, 1)] },
        rules: Vec::new(),
    }))
}

fn certificates(port: &ir::Port, params: &AWSLoadBalancerParametersSpec) -> Vec<CertificateRef> {
    let mut out: Vec<CertificateRef> = port.certificates.iter().flat_map(|b| b.secrets.iter().map(|s| CertificateRef::Secret(s.clone()))).collect();
    out.extend(params.certificate_arns.iter().map(|a| CertificateRef::Arn(a.clone())));
    out.dedup();
    out
}
