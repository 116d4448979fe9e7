//! The per-load-balancer limits a Gateway's listeners must fit (ALB and NLB listeners, ALB and
//! NLB certificates per listener), applied in listener precedence so that a ListenerSet can
//! never push the Gateway past one: the listeners that do not fit are left out and reported.

use std::collections::BTreeSet;

use portico_model::ir::PortProtocol;
use portico_provider::admission::{admit_certificates, admit_certificates_across, admit_ports, admitted};
use portico_provider::{Desired, ListenerOverflow};

use crate::params::AWSLoadBalancerParametersSpec;

/// The load balancer each port family goes to.
const FAMILIES: [(&str, fn(PortProtocol) -> bool); 2] =
    [("ALB", |p| matches!(p, PortProtocol::Http | PortProtocol::Https)), ("NLB", |p| matches!(p, PortProtocol::Tls | PortProtocol::Tcp | PortProtocol::Udp))];

/// The listeners that do not fit, and the desired state without them (`None`: all fit).
pub fn admit(desired: &Desired, params: &AWSLoadBalancerParametersSpec) -> (Vec<ListenerOverflow>, Option<Desired>) {
    let limits = params.quotas.limits();
    // Certificates first: a port whose listeners all lose their certificates takes no listener.
    // Certificates the parameters add to every terminating listener use the same quota.
    let fixed = params.certificate_arns.len();
    let budget = (limits.certificates_per_listener as usize).saturating_sub(fixed);
    let mut out = Vec::new();
    for port in desired.ir.ports.iter().filter(|p| !p.certificates.is_empty()) {
        out.extend(admit_certificates(port, budget, desired, |_| {
            format!(
                "its certificates do not fit on port {}: the quota of {} certificates per listener (quotas.certificatesPerListener, {fixed} of them from certificateArns) is used by listeners of higher precedence",
                port.port, limits.certificates_per_listener
            )
        }));
    }
    let per_lb_certificates = limits.certificates_per_load_balancer as usize;
    for (family, serves) in FAMILIES {
        let lost: BTreeSet<String> = out.iter().map(|o| o.listener.clone()).collect();
        let ports = desired.ir.ports.iter().filter(|p| serves(p.protocol) && !p.certificates.is_empty());
        let over = admit_certificates_across(ports, per_lb_certificates, fixed, desired, |port| {
            format!(
                "its certificates do not fit on port {}: the quota of {per_lb_certificates} certificates per {family} (each listener's default excluded; quotas.certificatesPerLoadBalancer) is used by listeners of higher precedence",
                port.port
            )
        });
        out.extend(over.into_iter().filter(|o| !lost.contains(&o.listener)));
    }
    let lost: BTreeSet<String> = out.iter().map(|o| o.listener.clone()).collect();
    let per_lb = limits.listeners_per_load_balancer as usize;
    let families: [(&str, fn(PortProtocol) -> bool); 2] = [
        ("ALB", |p| matches!(p, PortProtocol::Http | PortProtocol::Https)),
        ("NLB", |p| matches!(p, PortProtocol::Tls | PortProtocol::Tcp | PortProtocol::Udp)),
    ];
    for (family, serves) in families {
        let ports = desired.ir.ports.iter().filter(|p| serves(p.protocol) && p.listeners.iter().any(|l| !lost.contains(l)));
        let full = admit_ports(ports, per_lb, desired, |port| {
            format!(
                "port {} needs one more {family} listener and the quota of {per_lb} listeners per load balancer (quotas.listenersPerLoadBalancer) is used by listeners of higher precedence",
                port.port
            )
        });
        out.extend(full.into_iter().filter(|o| !lost.contains(&o.listener)));
    }
    let admitted = admitted(desired, &out);
    (out, admitted)
}
