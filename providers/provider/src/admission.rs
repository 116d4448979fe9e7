//! Listener admission against a platform's per-load-balancer limits, shared by the providers.
//!
//! A Gateway's listeners come from its own spec and from ListenerSets that other namespaces may
//! write. A platform limit (listeners per load balancer, certificates per listener) must never let
//! a lower-precedence listener break the Gateway: listeners are admitted in the spec's precedence
//! order (the Gateway's own first, then ListenerSets oldest first, [`Desired::listener_rank`]),
//! and those past a limit are reported as [`ListenerOverflow`]s. Translation then gives them
//! `Accepted=False` (`PortUnavailable`) and leaves them out, and [`without_listeners`] lets a
//! provider leave them out of what it programs even before that.

use std::collections::BTreeSet;
use std::sync::Arc;

use portico_model::ir::{self, ObjectRef};

use crate::{Desired, ListenerOverflow};

/// The precedence of a port: that of its highest-precedence listener.
pub fn port_rank(port: &ir::Port, desired: &Desired) -> usize {
    port.listeners.iter().map(|l| desired.listener_rank(l)).min().unwrap_or(usize::MAX)
}

/// Keep at most `limit` of `ports` (in precedence order); every listener of the others
/// overflows with `why(port)`.
pub fn admit_ports<'a>(
    ports: impl IntoIterator<Item = &'a ir::Port>,
    limit: usize,
    desired: &Desired,
    why: impl Fn(&ir::Port) -> String,
) -> Vec<ListenerOverflow> {
    let mut ports: Vec<&ir::Port> = ports.into_iter().collect();
    ports.sort_by_key(|p| (port_rank(p, desired), p.port));
    let mut distinct: Vec<u16> = Vec::new();
    let mut out = Vec::new();
    for port in ports {
        // TCP and UDP on one port are one native listener.
        if distinct.contains(&port.port) {
            continue;
        }
        if distinct.len() < limit {
            distinct.push(port.port);
            continue;
        }
        let message = why(port);
        out.extend(port.listeners.iter().map(|l| ListenerOverflow { listener: l.clone(), message: message.clone() }));
    }
    out
}

/// On one terminating port, admit listeners in precedence order while the distinct certificate
/// Secrets they need stay within `limit`; a listener whose certificates would pass it overflows
/// with `why`.
pub fn admit_certificates(port: &ir::Port, limit: usize, desired: &Desired, why: impl Fn(usize) -> String) -> Vec<ListenerOverflow> {
    let mut listeners: Vec<&String> = port.listeners.iter().collect();
    listeners.sort_by_key(|l| (desired.listener_rank(l), l.as_str()));
    let mut counted: BTreeSet<&ObjectRef> = BTreeSet::new();
    let mut out = Vec::new();
    for listener in listeners {
        let needs: BTreeSet<&ObjectRef> =
            port.certificates.iter().filter(|b| &b.listener == listener).flat_map(|b| &b.secrets).filter(|s| !counted.contains(s)).collect();
        if counted.len() + needs.len() > limit {
            out.push(ListenerOverflow { listener: listener.clone(), message: why(limit) });
        } else {
            counted.extend(needs);
        }
    }
    out
}

/// Across the terminating `ports` of one load balancer, admit listeners in precedence order while
/// the certificates they add, each port's first one (its default) excluded, stay within `limit`
/// (`fixed`: certificates every port carries anyway, e.g. from the platform's parameters); a
/// listener that would pass it overflows with `why(port)`.
pub fn admit_certificates_across<'a>(
    ports: impl IntoIterator<Item = &'a ir::Port>,
    limit: usize,
    fixed: usize,
    desired: &Desired,
    why: impl Fn(&ir::Port) -> String,
) -> Vec<ListenerOverflow> {
    let ports: Vec<&ir::Port> = ports.into_iter().collect();
    let mut listeners: Vec<(usize, &String, &ir::Port)> =
        ports.iter().flat_map(|p| p.listeners.iter().map(move |l| (desired.listener_rank(l), l, *p))).collect();
    listeners.sort_by_key(|(rank, l, p)| (*rank, p.port, l.as_str()));
    let mut counted: std::collections::BTreeMap<u16, BTreeSet<&ObjectRef>> = std::collections::BTreeMap::new();
    let mut used = 0;
    let mut out = Vec::new();
    for (_, listener, port) in listeners {
        let on_port = counted.entry(port.port).or_default();
        let needs: BTreeSet<&ObjectRef> =
            port.certificates.iter().filter(|b| &b.listener == listener).flat_map(|b| &b.secrets).filter(|s| !on_port.contains(s)).collect();
        if needs.is_empty() {
            continue;
        }
        // A port's first certificate is its default and does not count; the fixed ones come with
        // the port's first listener.
        let cost = if on_port.is_empty() { needs.len() + fixed - 1 } else { needs.len() };
        if used + cost > limit {
            out.push(ListenerOverflow { listener: listener.clone(), message: why(port) });
        } else {
            used += cost;
            on_port.extend(needs);
        }
    }
    out
}

/// The desired state without the listeners that overflow (`None` when none does), for a
/// provider to program exactly what its check admitted.
pub fn admitted(desired: &Desired, overflows: &[ListenerOverflow]) -> Option<Desired> {
    if overflows.is_empty() {
        return None;
    }
    let dropped: BTreeSet<&str> = overflows.iter().map(|o| o.listener.as_str()).collect();
    let mut admitted = desired.clone();
    admitted.ir = Arc::new(without_listeners(&desired.ir, &dropped));
    Some(admitted)
}

/// The Gateway without `dropped` listeners: their virtual hosts, SNI and L4 routes and
/// certificate bindings go, and a port left with no listener goes too.
pub fn without_listeners(gateway: &ir::Gateway, dropped: &BTreeSet<&str>) -> ir::Gateway {
    let mut out = gateway.clone();
    let kept = |name: &String| !dropped.contains(name.as_str());
    for port in &mut out.ports {
        port.listeners.retain(kept);
        port.virtual_hosts.retain(|v| kept(&v.listener));
        port.tls_routes.retain(|r| kept(&r.listener));
        port.l4_routes.retain(|r| kept(&r.listener));
        port.certificates.retain(|b| kept(&b.listener));
    }
    out.ports.retain(|p| !p.listeners.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(number: u16, listeners: &[&str]) -> ir::Port {
        ir::Port {
            port: number,
            protocol: ir::PortProtocol::Https,
            listeners: listeners.iter().map(|l| l.to_string()).collect(),
            certificates: Vec::new(),
            client_validation: None,
            virtual_hosts: Vec::new(),
            tls_routes: Vec::new(),
            l4_routes: Vec::new(),
        }
    }

    fn desired(ranks: &[&str]) -> Desired {
        let ir = ir::Gateway {
            gateway: ObjectRef::new("default", "gw"),
            gateway_class: "c".into(),
            provider: crate::ProviderKind::Haproxy,
            parameters: None,
            requested_addresses: Vec::new(),
            infrastructure_labels: Default::default(),
            infrastructure_annotations: Default::default(),
            backend_client_certificate: None,
            ports: Vec::new(),
            backends: Default::default(),
        };
        let mut desired = Desired::bare(ir);
        desired.listener_ranks = ranks.iter().enumerate().map(|(i, l)| (l.to_string(), i)).collect();
        desired
    }

    #[test]
    fn ports_past_the_limit_overflow_in_precedence_order_not_port_order() {
        let d = desired(&["own", "ns/old/a", "ns/new/b"]);
        let ports = [port(80, &["ns/new/b"]), port(443, &["own"]), port(8080, &["ns/old/a"])];
        let out = admit_ports(&ports, 2, &d, |p| format!("no room for {}", p.port));
        assert_eq!(out, vec![ListenerOverflow { listener: "ns/new/b".into(), message: "no room for 80".into() }]);
    }

    #[test]
    fn a_second_protocol_on_an_admitted_port_takes_no_room() {
        let d = desired(&["tcp", "udp", "other"]);
        let mut udp = port(53, &["udp"]);
        udp.protocol = ir::PortProtocol::Udp;
        let ports = [port(53, &["tcp"]), udp, port(54, &["other"])];
        let out = admit_ports(&ports, 1, &d, |_| "full".into());
        assert_eq!(out.iter().map(|o| o.listener.as_str()).collect::<Vec<_>>(), ["other"]);
    }

    #[test]
    fn certificates_are_counted_once_and_the_lowest_precedence_listener_overflows() {
        let d = desired(&["own", "ns/a/one", "ns/b/two"]);
        let mut p = port(443, &["ns/a/one", "ns/b/two", "own"]);
        let binding = |listener: &str, secrets: &[&str]| ir::CertificateBinding {
            hostname: listener.into(),
            listener: listener.into(),
            secrets: secrets.iter().map(|s| ObjectRef::new("ns", *s)).collect(),
        };
        p.certificates = vec![binding("own", &["shared"]), binding("ns/a/one", &["shared", "a"]), binding("ns/b/two", &["b"])];
        let out = admit_certificates(&p, 2, &d, |limit| format!("limit {limit}"));
        assert_eq!(out, vec![ListenerOverflow { listener: "ns/b/two".into(), message: "limit 2".into() }]);
    }

    #[test]
    fn certificates_across_ports_count_all_but_each_ports_default() {
        let d = desired(&["own", "ns/a/one", "ns/b/two"]);
        let binding = |listener: &str, secret: &str| ir::CertificateBinding {
            hostname: listener.into(),
            listener: listener.into(),
            secrets: vec![ObjectRef::new("ns", secret)],
        };
        let mut first = port(443, &["own", "ns/b/two"]);
        first.certificates = vec![binding("own", "x"), binding("ns/b/two", "y")];
        let mut second = port(8443, &["ns/a/one"]);
        second.certificates = vec![binding("ns/a/one", "z")];
        // x and z are their ports' defaults; y is the one certificate counted.
        assert!(admit_certificates_across([&first, &second], 1, 0, &d, |_| "full".into()).is_empty());
        let out = admit_certificates_across([&first, &second], 0, 0, &d, |_| "full".into());
        assert_eq!(out.iter().map(|o| o.listener.as_str()).collect::<Vec<_>>(), ["ns/b/two"]);
    }

    #[test]
    fn dropped_listeners_leave_with_what_they_carried() {
        let mut gateway = (*desired(&[]).ir).clone();
        let mut shared = port(443, &["keep", "drop"]);
        shared.certificates = vec![ir::CertificateBinding { hostname: "*".into(), listener: "drop".into(), secrets: Vec::new() }];
        gateway.ports = vec![shared, port(8443, &["drop"])];
        let out = without_listeners(&gateway, &BTreeSet::from(["drop"]));
        assert_eq!(out.ports.len(), 1);
        assert_eq!(out.ports[0].listeners, ["keep"]);
        assert!(out.ports[0].certificates.is_empty());
    }
}
