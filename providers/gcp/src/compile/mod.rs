//! Pure: the IR of one Gateway (plus certificates and parameters) -> the native Compute
//! resources. URL maps are checked against GCP's limits route by route, oldest route first;
//! routes that do not fit are left out and reported as [`RouteOverflow`]s.

mod backends;
pub mod urlmap;

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{self, PortProtocol, RouteKey};
use portico_provider::{Desired, ListenerOverflow, RouteOverflow};
use serde_json::{Value, json};

use crate::names::{Namer, fingerprint};
use crate::native::{Kind, Native, ResourceKey};
use crate::params::{BackendMode, GCPLoadBalancerParametersSpec, Limits, Scope};
use backends::Backends;
use urlmap::HostRules;

/// The `spec.addresses` type naming a reserved address (Gateway API custom types carry a domain).
pub const NAMED_ADDRESS_TYPE: &str = "portico.dev/named-address";

/// Google's health-check source ranges (also the global proxies' source ranges).
pub const HEALTH_CHECK_RANGES: [&str; 2] = ["35.191.0.0/16", "130.211.0.0/22"];

/// Operator-wide defaults the parameters may leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    pub cluster: String,
    pub project: Option<String>,
    pub region: Option<String>,
}

/// The native model, the routes left out, and what else the user should know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    pub native: Native,
    pub overflows: Vec<RouteOverflow>,
    /// Listeners whose certificates do not fit their target proxy (lowest precedence first),
    /// left out.
    pub listener_overflows: Vec<ListenerOverflow>,
    /// Serialized size of each port's URL map (bytes).
    pub url_map_bytes: BTreeMap<u16, usize>,
    pub warnings: Vec<String>,
}

/// Where resources of one Gateway live, and how they are named.
pub struct Context<'a> {
    pub namer: Namer,
    pub params: &'a GCPLoadBalancerParametersSpec,
    pub project: String,
    /// `global` or `regions/<region>`.
    pub location: String,
}

impl Context<'_> {
    pub fn key(&self, kind: Kind, text: &str) -> ResourceKey {
        let location = if kind == Kind::Firewall { "global" } else { self.location.as_str() };
        ResourceKey::new(kind, location, &self.namer.name(kind.code(), text))
    }

    pub fn link(&self, key: &ResourceKey) -> String {
        key.link(&self.project)
    }

    pub fn network(&self) -> String {
        let network = self.params.network.as_deref().unwrap_or("default");
        if network.contains('/') { network.into() } else { format!("projects/{}/global/networks/{network}", self.project) }
    }
}

/// Compile one Gateway. Fails only when the parameters cannot be used at all.
pub fn compile(desired: &Desired, defaults: &Defaults) -> Result<Compiled, String> {
    let params = GCPLoadBalancerParametersSpec::from_value(&desired.parameters)?;
    if params.backend_mode == BackendMode::InstanceGroups {
        return Err("backendMode InstanceGroups (NodePort backends) is not implemented yet; use NetworkEndpointGroups".into());
    }
    let project = params.project.clone().or_else(|| defaults.project.clone()).ok_or("no GCP project: set spec.project in the parameters or --gcp-project")?;
    let location = match params.scope {
        Scope::GlobalExternalManaged => "global".to_string(),
        _ => format!("regions/{}", params.region.clone().or_else(|| defaults.region.clone()).ok_or("a regional scope needs spec.region or --gcp-region")?),
    };
    if params.certificate_map.is_some() && params.scope.is_regional() {
        return Err("certificateMap is only supported with scope GlobalExternalManaged".into());
    }
    let (listener_overflows, admitted) = admit_certificates(desired, &params);
    let desired = admitted.as_ref().unwrap_or(desired);
    let mut params = params;
    params.labels = labels(&params.labels, &desired.ir.infrastructure_labels);
    let cx = Context { namer: Namer::new(&defaults.cluster, &desired.ir.gateway), params: &params, project, location };
    let mut out = Compiled { native: Native { project: cx.project.clone(), ..Native::default() }, listener_overflows, ..Compiled::default() };
    let backends = Backends::new(&cx, &desired.ir);
    let limits = params.quotas.limits();
    let address = address(&cx, desired, &mut out);
    for port in &desired.ir.ports {
        let proxy = match port.protocol {
            PortProtocol::Http | PortProtocol::Https => http_port(&cx, port, desired, limits, &backends, &mut out),
            PortProtocol::Tcp => tcp_port(&cx, port, &backends, &mut out),
            other => {
                out.warnings.push(format!("port {} ({other:?}) is not supported on GCP load balancers", port.port));
                continue;
            }
        };
        if let Some(proxy) = proxy {
            let rule = forwarding_rule(&cx, port.port, &address, &proxy);
            out.native.resources.insert(cx.key(Kind::ForwardingRule, &port.port.to_string()), rule);
        }
    }
    backends.finish(&mut out);
    if let Some(firewall) = firewall(&cx, &out.native) {
        out.native.resources.insert(cx.key(Kind::Firewall, "backends"), firewall);
    }
    Ok(out)
}

/// The parameters' labels plus the Gateway's `spec.infrastructure` labels and annotations
/// (`GatewayInfrastructurePropagation`); entries GCP would refuse as labels are left out.
fn labels(params: &BTreeMap<String, String>, infrastructure: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let allowed = |text: &str| text.len() <= 63 && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    let mut out = params.clone();
    for (key, value) in infrastructure {
        if allowed(key) && allowed(value) && key.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    out
}

/// The forwarding rules' address: a named reserved address, a literal IP, or one reserved here.
fn address(cx: &Context<'_>, desired: &Desired, out: &mut Compiled) -> String {
    if let Some(requested) = desired.ir.requested_addresses.first().filter(|a| !a.value.is_empty()) {
        return match requested.address_type.as_str() {
            NAMED_ADDRESS_TYPE => format!("projects/{}/{}/addresses/{}", cx.project, cx.location, requested.value),
            _ => requested.value.clone(),
        };
    }
    let key = cx.key(Kind::Address, "gateway");
    let mut body = json!({ "name": key.name, "description": cx.namer.description("The Gateway's address."), "labels": cx.namer.labels(&cx.params.labels) });
    match cx.params.scope {
        Scope::GlobalExternalManaged => body["ipVersion"] = json!("IPV4"),
        Scope::RegionalExternalManaged => {
            body["addressType"] = json!("EXTERNAL");
            body["networkTier"] = json!("STANDARD");
        }
        Scope::RegionalInternalManaged => {
            body["addressType"] = json!("INTERNAL");
            body["purpose"] = json!("SHARED_LOADBALANCER_VIP");
            if let Some(subnetwork) = &cx.params.subnetwork {
                body["subnetwork"] = json!(format!("projects/{}/{}/subnetworks/{subnetwork}", cx.project, cx.location));
            }
        }
    }
    let link = cx.link(&key);
    out.native.resources.insert(key, body);
    link
}

fn forwarding_rule(cx: &Context<'_>, port: u16, address: &str, proxy: &str) -> Value {
    let name = cx.namer.name(Kind::ForwardingRule.code(), &port.to_string());
    let mut rule = json!({
        "name": name,
        // The address is named here too: GCP reports `IPAddress` as the IP, so a different
        // address must show up as a different description.
        "description": cx.namer.description(&format!("Gateway port {port} at {address}.")),
        "IPAddress": address,
        "IPProtocol": "TCP",
        // GCP reports single ports as a range (`443-443`); writing it that way keeps diffs empty.
        "portRange": format!("{port}-{port}"),
        "target": proxy,
        "loadBalancingScheme": cx.params.scope.load_balancing_scheme(),
        "labels": cx.namer.labels(&cx.params.labels),
    });
    if cx.params.scope.is_regional() {
        rule["network"] = json!(cx.network());
        if cx.params.scope == Scope::RegionalExternalManaged {
            rule["networkTier"] = json!("STANDARD");
        }
    }
    if let (Scope::RegionalInternalManaged, Some(subnetwork)) = (cx.params.scope, &cx.params.subnetwork) {
        rule["subnetwork"] = json!(format!("projects/{}/{}/subnetworks/{subnetwork}", cx.project, cx.location));
    }
    rule
}

/// URL map + target HTTP(S) proxy of one port; returns the proxy's link.
fn http_port(cx: &Context<'_>, port: &ir::Port, desired: &Desired, limits: Limits, backends: &Backends<'_>, out: &mut Compiled) -> Option<String> {
    let hosts = urlmap::host_rules(port, backends);
    let map_key = cx.key(Kind::UrlMap, &port.port.to_string());
    let description = cx.namer.description(&format!("Routes of Gateway port {}.", port.port));
    let (admitted, overflows) = admit(hosts, desired, limits, port.port, |h| urlmap::url_map(&map_key.name, &description, h, backends));
    out.overflows.extend(overflows);
    let map = urlmap::url_map(&map_key.name, &description, &admitted, backends);
    out.url_map_bytes.insert(port.port, serde_json::to_vec(&map).map_or(0, |b| b.len()));
    let map_link = cx.link(&map_key);
    out.native.resources.insert(map_key, map);
    let https = port.protocol == PortProtocol::Https;
    let kind = if https { Kind::TargetHttpsProxy } else { Kind::TargetHttpProxy };
    let key = cx.key(kind, &port.port.to_string());
    let mut proxy = json!({ "name": key.name, "description": cx.namer.description(&format!("Gateway port {}.", port.port)), "urlMap": map_link });
    if https {
        https_settings(cx, port, desired, &mut proxy, out);
    }
    let link = cx.link(&key);
    out.native.resources.insert(key, proxy);
    Some(link)
}

/// A target HTTPS proxy takes a limited number of SSL certificates (without a certificate map):
/// listeners are admitted in precedence order while their certificates fit, so a ListenerSet
/// cannot push the Gateway past the limit; the others are left out and reported.
fn admit_certificates(desired: &Desired, params: &GCPLoadBalancerParametersSpec) -> (Vec<ListenerOverflow>, Option<Desired>) {
    if params.certificate_map.is_some() {
        return (Vec::new(), None);
    }
    let limit = params.quotas.limits().ssl_certificates_per_target_proxy as usize;
    let mut out = Vec::new();
    for port in desired.ir.ports.iter().filter(|p| p.protocol == PortProtocol::Https) {
        out.extend(portico_provider::admission::admit_certificates(port, limit, desired, |limit| {
            format!(
                "its certificates do not fit on port {}: a target HTTPS proxy takes {limit} SSL certificates (quotas.sslCertificatesPerTargetProxy; or use a certificateMap) and listeners of higher precedence use them",
                port.port
            )
        }));
    }
    let admitted = portico_provider::admission::admitted(desired, &out);
    (out, admitted)
}

fn https_settings(cx: &Context<'_>, port: &ir::Port, desired: &Desired, proxy: &mut Value, out: &mut Compiled) {
    if let Some(policy) = &cx.params.ssl_policy {
        proxy["sslPolicy"] = json!(format!("projects/{}/{}/sslPolicies/{policy}", cx.project, cx.location));
    }
    if let Some(map) = &cx.params.certificate_map {
        proxy["certificateMap"] = json!(format!("//certificatemanager.googleapis.com/projects/{}/locations/global/certificateMaps/{map}", cx.project));
        return;
    }
    let mut bindings: Vec<&ir::CertificateBinding> = port.certificates.iter().collect();
    bindings.sort_by_key(|b| b.hostname != "*");
    let mut links: Vec<String> = Vec::new();
    for secret in bindings.iter().flat_map(|b| &b.secrets) {
        let Some(pem) = desired.certificates.get(secret) else { continue };
        let key = cx.key(Kind::SslCertificate, &format!("{} {}/{}", fingerprint(pem), secret.namespace, secret.name));
        let link = cx.link(&key);
        if links.contains(&link) {
            continue;
        }
        links.push(link);
        let body = json!({ "name": key.name, "description": cx.namer.description(&format!("From Secret {}/{}.", secret.namespace, secret.name)) });
        out.native.certificate_sources.insert(key.name.clone(), secret.clone());
        out.native.resources.insert(key, body);
    }
    proxy["sslCertificates"] = json!(links);
}

/// Keep routes oldest first while the URL map stays within the limits. Each route's rule count
/// per host and its size are measured once, so admission is linear in the number of rules.
fn admit(hosts: Vec<HostRules>, desired: &Desired, limits: Limits, port: u16, render: impl Fn(&[HostRules]) -> Value) -> (Vec<HostRules>, Vec<RouteOverflow>) {
    // route -> (rules per host, bytes)
    let mut cost: BTreeMap<&RouteKey, (Vec<usize>, usize)> = BTreeMap::new();
    for (i, host) in hosts.iter().enumerate() {
        for rules in &host.routes {
            let entry = cost.entry(&rules.route).or_insert_with(|| (vec![0; hosts.len()], 0));
            entry.0[i] += rules.rules.len();
            entry.1 += serde_json::to_vec(&rules.rules).map_or(0, |b| b.len()) + 16 * rules.rules.len();
        }
    }
    let mut order: Vec<(usize, &RouteKey)> = cost.keys().map(|route| (desired.rank(route), *route)).collect();
    order.sort();
    let empty: Vec<HostRules> = hosts.iter().map(|h| HostRules { routes: Vec::new(), ..h.clone() }).collect();
    let mut bytes = serde_json::to_vec(&render(&empty)).map_or(0, |b| b.len());
    let mut used = vec![0usize; hosts.len()];
    let mut admitted: BTreeSet<&RouteKey> = BTreeSet::new();
    let mut overflows = Vec::new();
    let limit = limits.route_rules_per_path_matcher as usize;
    for (_, route) in order {
        let (per_host, size) = &cost[route];
        let full = (0..hosts.len()).find(|&i| used[i] + per_host[i] > limit);
        let message = if let Some(i) = full {
            Some(format!("route rules per path matcher ({limit}) for host {} on port {port} are used up (quotas.routeRulesPerPathMatcher)", hosts[i].hostname))
        } else if bytes + size > limits.url_map_bytes as usize {
            Some(format!("the URL map of port {port} would exceed {} bytes (quotas.urlMapBytes)", limits.url_map_bytes))
        } else {
            None
        };
        match message {
            Some(message) => overflows.push(RouteOverflow { route: route.clone(), message }),
            None => {
                bytes += size;
                used.iter_mut().zip(per_host).for_each(|(u, n)| *u += n);
                admitted.insert(route);
            }
        }
    }
    // Admitted routes keep the IR's order (admission runs oldest first, precedence is the IR's).
    let kept =
        hosts.iter().map(|host| HostRules { routes: host.routes.iter().filter(|r| admitted.contains(&r.route)).cloned().collect(), ..host.clone() }).collect();
    (kept, overflows)
}

/// Target TCP proxy of a TCP port: the first attached route's backend. A route splitting traffic
/// across several backends does not fit one proxy: it is refused (an overflow), never cut to one.
fn tcp_port(cx: &Context<'_>, port: &ir::Port, backends: &Backends<'_>, out: &mut Compiled) -> Option<String> {
    let route = port.l4_routes.first()?;
    let live = route.backends.iter().filter(|b| b.weight > 0).count();
    if live > 1 {
        let message = format!("a TCP proxy forwards to one backend service; port {} cannot split traffic across {live} backends", port.port);
        out.overflows.push(RouteOverflow { route: route.source.route(), message });
        return None;
    }
    let id = route.backends.iter().find_map(|b| match &b.target {
        ir::BackendTarget::Backend { id } if b.weight > 0 => Some(id.clone()),
        _ => None,
    });
    let Some((id, service)) = id.and_then(|id| backends.backend_of(&id).map(|link| (id, link))) else {
        out.warnings.push(format!("TCP port {}: no usable backend, nothing is programmed", port.port));
        return None;
    };
    // TCP proxies cannot change their backend service in every scope: the backend is part of
    // the name, so a new backend is a new proxy (and the forwarding rule is replaced).
    let key = cx.key(Kind::TargetTcpProxy, &format!("{} {id}", port.port));
    let proxy =
        json!({ "name": key.name, "description": cx.namer.description(&format!("Gateway port {}.", port.port)), "service": service, "proxyHeader": "NONE" });
    let link = cx.link(&key);
    out.native.resources.insert(key, proxy);
    Some(link)
}

/// One rule letting Google's health checkers and proxies reach the endpoints' ports, scoped to
/// the configured targets (none configured: no rule).
fn firewall(cx: &Context<'_>, native: &Native) -> Option<Value> {
    let targets = &cx.params.firewall_targets;
    if targets.is_empty() {
        return None;
    }
    let mut ports: BTreeSet<u16> = native.endpoints.values().flatten().map(|e| e.port).collect();
    if !ports.is_empty() {
        let params = cx.params;
        ports.extend(params.default_health_check.port.iter().chain(params.service_health_checks.iter().filter_map(|c| c.check.port.as_ref())));
    }
    if ports.is_empty() {
        return None;
    }
    let mut ranges: Vec<String> = HEALTH_CHECK_RANGES.iter().map(|r| r.to_string()).collect();
    ranges.extend(cx.params.proxy_subnet_ranges.iter().cloned());
    let mut rule = json!({
        "name": cx.namer.name(Kind::Firewall.code(), "backends"),
        "description": cx.namer.description("Lets Google's health checks and proxies reach the Gateway's endpoints."),
        "network": cx.network(),
        "direction": "INGRESS",
        "priority": 1000,
        "sourceRanges": ranges,
        "allowed": [{ "IPProtocol": "tcp", "ports": ports.iter().map(|p| p.to_string()).collect::<Vec<_>>() }],
    });
    if !targets.network_tags.is_empty() {
        rule["targetTags"] = json!(targets.network_tags);
    } else {
        rule["targetServiceAccounts"] = json!(targets.service_accounts);
    }
    Some(rule)
}
