//! Pure: the IR of one Gateway (plus certificates and parameters) -> the native ALB/NLB model,
//! with the AWS quotas checked first. Routes that do not fit are left out and reported as
//! [`RouteOverflow`]s (oldest routes keep their place); everything else is compiled.

mod alb;
mod limits;
mod nlb;

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{self, PortProtocol, RouteKey};
use portico_provider::{Desired, ListenerOverflow, RouteOverflow};

use alb::TargetGroupNames;

use crate::names::Namer;
use crate::native::*;
use crate::params::{AWSLoadBalancerParametersSpec, Limits, TargetType};

/// The native model and the routes left out of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    pub native: NativeGateway,
    pub overflows: Vec<RouteOverflow>,
    /// Listeners past the per-load-balancer quotas (lowest precedence first), left out.
    pub listener_overflows: Vec<ListenerOverflow>,
}

/// Compile one Gateway. Fails only when the parameters cannot be used at all.
pub fn compile(desired: &Desired, cluster: &str) -> Result<Compiled, String> {
    let params = AWSLoadBalancerParametersSpec::from_value(&desired.parameters)?;
    if params.target_type == TargetType::Instance {
        return Err("targetType Instance (NodePort targets) is not implemented yet; use Ip".into());
    }
    let (listener_overflows, admitted) = limits::admit(desired, &params);
    let desired = admitted.as_ref().unwrap_or(desired);
    let namer = Namer::new(cluster, &desired.ir.gateway);
    let limits = params.quotas.limits();
    let mut params = params;
    params.tags = extra_tags(&params.tags, desired.ir.infrastructure_labels.iter().chain(&desired.ir.infrastructure_annotations));
    let mut groups = Groups { namer: &namer, params: &params, ir: &desired.ir, specs: BTreeMap::new() };
    let mut listeners: BTreeMap<(Role, u16), Listener> = BTreeMap::new();
    let mut overflows = Vec::new();
    let mut nlb_served: BTreeMap<u16, nlb::Served> = BTreeMap::new();
    for port in &desired.ir.ports {
        let (role, listener) = match port.protocol {
            PortProtocol::Http | PortProtocol::Https => (Role::Alb, http_listener(port, &params, limits, &mut groups)),
            _ => match nlb::listener(port, &params, &mut groups) {
                Ok(Some(served)) => {
                    // An NLB has one listener per port: TCP and UDP share it as TCP_UDP.
                    let served = match nlb_served.remove(&port.port) {
                        None => served,
                        Some(first) => match nlb::tcp_udp(port.port, &first, &served, &mut groups) {
                            Ok(merged) => merged,
                            Err(overflow) => {
                                overflows.push(overflow);
                                first
                            }
                        },
                    };
                    let listener = served.listener.clone();
                    nlb_served.insert(port.port, served);
                    (Role::Nlb, listener)
                }
                Ok(None) => continue,
                Err(overflow) => {
                    overflows.push(overflow);
                    continue;
                }
            },
        };
        listeners.insert((role, port.port), listener);
    }
    overflows.extend(admit(&mut listeners, desired, limits));
    let certificates = certificates(desired, &namer, &params, &listeners)?;
    let used: BTreeSet<String> = listeners.values().flat_map(used_target_groups).collect();
    let target_groups: BTreeMap<String, TargetGroup> = groups.specs.into_iter().filter(|(name, _)| used.contains(name)).collect();
    let security_group = params.security_groups.ids.is_empty().then(|| security_group(&namer, &params, &listeners));
    let mut load_balancers = BTreeMap::new();
    for ((role, port), listener) in listeners {
        load_balancers.entry(role).or_insert_with(|| load_balancer(role, &namer, &params)).listeners.insert(port, listener);
    }
    let native = NativeGateway { gateway: Some(desired.ir.gateway.clone()), load_balancers, target_groups, certificates, security_group };
    Ok(Compiled { native, overflows, listener_overflows })
}

/// The parameters' tags plus the Gateway's `spec.infrastructure` labels, then annotations
/// (`GatewayInfrastructurePropagation`, `InfrastructureAnnotations`); the parameters' tags and
/// labels win a shared key; entries AWS would refuse as tags are left out (and reported by
/// [`untaggable`]).
fn extra_tags<'a>(params: &BTreeMap<String, String>, infrastructure: impl Iterator<Item = (&'a String, &'a String)>) -> BTreeMap<String, String> {
    let mut out = params.clone();
    for (key, value) in infrastructure.filter(|(k, v)| taggable(k, v)) {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
    out
}

/// What AWS accepts as a tag: key up to 128 and value up to 256 characters of letters, digits,
/// spaces and `_.:/=+-@`, the key not starting with `aws:`.
fn taggable(key: &str, value: &str) -> bool {
    let allowed = |text: &str| text.chars().all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c));
    key.len() <= 128 && value.len() <= 256 && allowed(key) && allowed(value) && !key.starts_with("aws:")
}

/// The Gateway's infrastructure labels and annotations AWS cannot carry as tags, one message each.
pub fn untaggable(ir: &ir::Gateway) -> Vec<String> {
    let fields = [("labels", &ir.infrastructure_labels), ("annotations", &ir.infrastructure_annotations)];
    let mut out = Vec::new();
    for (field, entries) in fields {
        for (key, _) in entries.iter().filter(|(k, v)| !taggable(k, v)) {
            out.push(format!(
                "spec.infrastructure.{field}[{key:?}]: not a valid AWS tag (key up to 128, value up to 256 characters of letters, digits, spaces and _.:/=+-@; no aws: prefix), so no resource carries it"
            ));
        }
    }
    out
}

fn http_listener(port: &ir::Port, params: &AWSLoadBalancerParametersSpec, limits: Limits, groups: &mut Groups<'_>) -> Listener {
    let max_values = limits.condition_values_per_rule as usize;
    let mut rules = Vec::new();
    for (i, vhost) in port.virtual_hosts.iter().enumerate() {
        rules.extend(alb::virtual_host_rules(vhost, max_values, groups));
        rules.extend(alb::isolation_rule(vhost, &port.virtual_hosts[i + 1..]));
    }
    let https = port.protocol == PortProtocol::Https;
    Listener {
        port: port.port,
        protocol: if https { "HTTPS" } else { "HTTP" }.into(),
        ssl_policy: https.then(|| params.ssl_policy()),
        certificates: if https { listener_certificates(port, params) } else { Vec::new() },
        default_action: Action::fixed(404, "no route matches"),
        rules,
    }
}

/// The default certificate first (the one for `*`, else the first binding), then the rest.
fn listener_certificates(port: &ir::Port, params: &AWSLoadBalancerParametersSpec) -> Vec<CertificateRef> {
    let mut bindings: Vec<&ir::CertificateBinding> = port.certificates.iter().collect();
    bindings.sort_by_key(|b| b.hostname != "*");
    let mut out: Vec<CertificateRef> = Vec::new();
    let refs = bindings.iter().flat_map(|b| b.secrets.iter().map(|s| CertificateRef::Secret(s.clone())));
    for reference in refs.chain(params.certificate_arns.iter().map(|a| CertificateRef::Arn(a.clone()))) {
        if !out.contains(&reference) {
            out.push(reference);
        }
    }
    out
}

fn used_target_groups(listener: &Listener) -> Vec<String> {
    let actions = std::iter::once(&listener.default_action).chain(listener.rules.iter().map(|r| &r.action));
    actions.flat_map(|a| a.target_groups().map(str::to_string).collect::<Vec<_>>()).collect()
}

/// Check quotas route by route, oldest first; drop the rules of routes that do not fit.
fn admit(listeners: &mut BTreeMap<(Role, u16), Listener>, desired: &Desired, limits: Limits) -> Vec<RouteOverflow> {
    let mut routes: BTreeSet<(usize, RouteKey)> = BTreeSet::new();
    for rule in listeners.values().flat_map(|l| &l.rules) {
        for route in &rule.routes {
            routes.insert((desired.rank(route), route.clone()));
        }
    }
    let mut rule_counts: BTreeMap<(Role, u16), usize> = listeners.iter().map(|(k, l)| (*k, l.rules.iter().filter(|r| r.routes.is_empty()).count())).collect();
    let mut groups: BTreeMap<Role, BTreeSet<String>> = BTreeMap::new();
    for ((role, _), listener) in listeners.iter().filter(|((r, _), _)| *r == Role::Nlb) {
        groups.entry(*role).or_default().extend(used_target_groups(listener));
    }
    let mut rejected: BTreeMap<RouteKey, String> = BTreeMap::new();
    for (_, route) in routes {
        match fits(listeners, &route, limits, &rule_counts, &groups) {
            Ok((counts, new_groups)) => {
                rule_counts = counts;
                groups = new_groups;
            }
            Err(message) => {
                rejected.insert(route, message);
            }
        }
    }
    for listener in listeners.values_mut() {
        listener.rules.retain(|r| !r.routes.iter().any(|route| rejected.contains_key(route)));
    }
    rejected.into_iter().map(|(route, message)| RouteOverflow { route, message }).collect()
}

type Usage = (BTreeMap<(Role, u16), usize>, BTreeMap<Role, BTreeSet<String>>);

/// The usage after adding one route's rules, or which quota it would exceed.
fn fits(
    listeners: &BTreeMap<(Role, u16), Listener>,
    route: &RouteKey,
    limits: Limits,
    counts: &BTreeMap<(Role, u16), usize>,
    groups: &BTreeMap<Role, BTreeSet<String>>,
) -> Result<Usage, String> {
    let (mut counts, mut groups) = (counts.clone(), groups.clone());
    for ((role, port), listener) in listeners {
        for rule in listener.rules.iter().filter(|r| r.routes.iter().any(|x| x == route)) {
            let values: usize = rule.conditions.iter().map(Condition::value_count).sum();
            if values > limits.condition_values_per_rule as usize {
                return Err(format!(
                    "a rule needs {values} condition values; the quota is {} per rule (quotas.conditionValuesPerRule)",
                    limits.condition_values_per_rule
                ));
            }
            let per_action = rule.action.target_groups().count();
            if per_action > limits.target_groups_per_action as usize {
                return Err(format!(
                    "a rule forwards to {per_action} target groups; the quota is {} per action (quotas.targetGroupsPerAction)",
                    limits.target_groups_per_action
                ));
            }
            let count = counts.entry((*role, *port)).or_default();
            *count += 1;
            if *count > limits.rules_per_listener as usize {
                return Err(format!(
                    "listener {}:{port} already has {} rules, the quota (quotas.rulesPerListener)",
                    listener.protocol, limits.rules_per_listener
                ));
            }
            let on_lb: usize = counts.iter().filter(|((r, _), _)| r == role).map(|(_, c)| *c).sum();
            if on_lb > limits.rules_per_load_balancer as usize {
                return Err(format!(
                    "the {} load balancer already has {} rules, the quota (quotas.rulesPerLoadBalancer)",
                    role.aws_type(),
                    limits.rules_per_load_balancer
                ));
            }
            let used = groups.entry(*role).or_default();
            used.extend(rule.action.target_groups().map(str::to_string));
            if used.len() > limits.target_groups_per_load_balancer as usize {
                return Err(format!(
                    "the {} would need {} target groups; the quota is {} (quotas.targetGroupsPerLoadBalancer)",
                    role.aws_type(),
                    used.len(),
                    limits.target_groups_per_load_balancer
                ));
            }
        }
    }
    Ok((counts, groups))
}

fn certificates(
    desired: &Desired,
    namer: &Namer,
    params: &AWSLoadBalancerParametersSpec,
    listeners: &BTreeMap<(Role, u16), Listener>,
) -> Result<BTreeMap<ir::ObjectRef, Certificate>, String> {
    let mut out = BTreeMap::new();
    for listener in listeners.values() {
        let limit = params.quotas.limits().certificates_per_listener as usize;
        if listener.certificates.len() > limit {
            return Err(format!(
                "listener {}:{} needs {} certificates; the quota is {limit} (quotas.certificatesPerListener)",
                listener.protocol,
                listener.port,
                listener.certificates.len()
            ));
        }
        for reference in &listener.certificates {
            let CertificateRef::Secret(secret) = reference else { continue };
            let Some(pem) = desired.certificates.get(secret) else { continue };
            let tags = namer.tags(&format!("certificate/{secret}"), &params.tags);
            out.insert(secret.clone(), Certificate { secret: secret.clone(), fingerprint: crate::names::fingerprint(pem), tags });
        }
    }
    Ok(out)
}

fn security_group(namer: &Namer, params: &AWSLoadBalancerParametersSpec, listeners: &BTreeMap<(Role, u16), Listener>) -> SecurityGroup {
    let ranges = if params.security_groups.source_ranges.is_empty() { vec!["0.0.0.0/0".to_string()] } else { params.security_groups.source_ranges.clone() };
    let mut ingress = BTreeSet::new();
    for listener in listeners.values() {
        let protocols: &[&str] = match listener.protocol.as_str() {
            "UDP" => &["udp"],
            "TCP_UDP" => &["tcp", "udp"],
            _ => &["tcp"],
        };
        for (protocol, range) in protocols.iter().flat_map(|p| ranges.iter().map(move |r| (p, r))) {
            ingress.insert((protocol.to_string(), listener.port, range.clone()));
        }
    }
    SecurityGroup { name: namer.security_group(), ingress, tags: namer.tags("security-group", &params.tags) }
}

fn load_balancer(role: Role, namer: &Namer, params: &AWSLoadBalancerParametersSpec) -> LoadBalancer {
    let mut subnets = params.subnets.ids.clone();
    subnets.sort();
    let security_groups = if params.security_groups.ids.is_empty() { vec![MANAGED_SECURITY_GROUP.to_string()] } else { params.security_groups.ids.clone() };
    LoadBalancer {
        name: namer.load_balancer(role),
        scheme: params.scheme.as_aws().into(),
        ip_address_type: match params.ip_address_type {
            crate::params::IpAddressType::Ipv4 => "ipv4".into(),
            crate::params::IpAddressType::Dualstack => "dualstack".into(),
        },
        subnets,
        security_groups,
        attributes: match role {
            Role::Alb => params.alb_attributes.clone(),
            Role::Nlb => params.nlb_attributes.clone(),
        },
        tags: namer.tags(role.aws_type(), &params.tags),
        listeners: BTreeMap::new(),
    }
}

/// Target group names and specs, created as rules ask for them.
pub(crate) struct Groups<'a> {
    namer: &'a Namer,
    params: &'a AWSLoadBalancerParametersSpec,
    ir: &'a ir::Gateway,
    specs: BTreeMap<String, TargetGroup>,
}

impl Groups<'_> {
    fn group(&mut self, role: Role, backend_id: &str, protocol: &str) -> Option<String> {
        let backend = self.ir.backends.get(backend_id)?;
        let version = (role == Role::Alb).then(|| if backend.protocol == ir::BackendProtocol::H2c { "GRPC" } else { "HTTP1" }.to_string());
        let what = format!("{}:{backend_id}:{protocol}:{}", role.aws_type(), version.as_deref().unwrap_or(""));
        let name = self.namer.target_group(&what, &backend.service.name, backend.port);
        if !self.specs.contains_key(&name) {
            let targets = backend.endpoints.iter().filter(|e| e.address.parse::<std::net::Ipv4Addr>().is_ok()).map(|e| (e.address.clone(), e.port)).collect();
            let spec = TargetGroup {
                name: name.clone(),
                role,
                protocol: protocol.into(),
                health_check: health_check(self.params, role, version.as_deref()),
                protocol_version: version,
                port: backend.port,
                target_type: "ip".into(),
                targets,
                tags: self.namer.tags(&format!("target-group/{}/{backend_id}", role.aws_type()), &self.params.tags),
            };
            self.specs.insert(name.clone(), spec);
        }
        Some(name)
    }
}

impl TargetGroupNames for Groups<'_> {
    fn for_backend(&mut self, backend_id: &str) -> Option<String> {
        self.group(Role::Alb, backend_id, "HTTP")
    }

    fn unavailable(&mut self) -> String {
        let name = self.namer.target_group("unavailable", "unavailable", 80);
        if !self.specs.contains_key(&name) {
            let spec = TargetGroup {
                name: name.clone(),
                role: Role::Alb,
                protocol: "HTTP".into(),
                protocol_version: Some("HTTP1".into()),
                port: 80,
                target_type: "ip".into(),
                health_check: health_check(self.params, Role::Alb, Some("HTTP1")),
                targets: BTreeSet::new(),
                tags: self.namer.tags("target-group/unavailable", &self.params.tags),
            };
            self.specs.insert(name.clone(), spec);
        }
        name
    }
}

/// The health check of a target group: the parameters' settings over defaults that work for any
/// app accepting connections on the traffic port (HTTP `/` answering 200-399 for ALB; gRPC's
/// health path for gRPC groups; TCP for NLB).
fn health_check(params: &AWSLoadBalancerParametersSpec, role: Role, version: Option<&str>) -> HealthCheckSpec {
    let hc = &params.health_check;
    let grpc = version == Some("GRPC");
    let protocol = hc.protocol.clone().unwrap_or_else(|| if role == Role::Alb { "HTTP" } else { "TCP" }.into());
    let http = protocol != "TCP";
    let default_path = if grpc { "/AWS.ALB/healthcheck" } else { "/" };
    let default_codes = if grpc { "0-99" } else { "200-399" };
    HealthCheckSpec {
        path: http.then(|| hc.path.clone().unwrap_or_else(|| default_path.into())),
        success_codes: http.then(|| hc.success_codes.clone().unwrap_or_else(|| default_codes.into())),
        protocol,
        port: hc.port.clone().unwrap_or_else(|| "traffic-port".into()),
        interval_seconds: hc.interval_seconds.unwrap_or(if role == Role::Alb { 15 } else { 10 }),
        timeout_seconds: hc.timeout_seconds.unwrap_or(5),
        healthy_threshold: hc.healthy_threshold.unwrap_or(2),
        unhealthy_threshold: hc.unhealthy_threshold.unwrap_or(2),
    }
}
