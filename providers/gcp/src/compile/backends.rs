//! Backend services, health checks and NEGs for the Service ports the routes use.

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{self, BackendProtocol};
use serde_json::{Value, json};

use super::urlmap::BackendLinks;
use super::{Compiled, Context};
use crate::native::{Kind, NetworkEndpoint, ResourceKey};
use crate::params::HealthCheck;

/// Backend service links of one Gateway; the resources are made at the end, only for the
/// backends something refers to.
pub struct Backends<'a> {
    cx: &'a Context<'a>,
    ir: &'a ir::Gateway,
}

impl BackendLinks for Backends<'_> {
    fn backend(&self, id: &str) -> Option<String> {
        self.backend_of(id)
    }

    fn sink(&self) -> String {
        self.cx.link(&self.cx.key(Kind::BackendService, "sink"))
    }
}

impl<'a> Backends<'a> {
    pub fn new(cx: &'a Context<'a>, ir: &'a ir::Gateway) -> Backends<'a> {
        Backends { cx, ir }
    }

    /// The backend service link of a programmable IR backend.
    pub fn backend_of(&self, id: &str) -> Option<String> {
        let backend = self.ir.backends.get(id)?;
        if backend.external_name.is_some() || backend.protocol == BackendProtocol::Udp {
            return None;
        }
        Some(self.cx.link(&self.cx.key(Kind::BackendService, id)))
    }

    /// Create the backend services (with health checks and NEGs) that bodies refer to.
    pub fn finish(&self, out: &mut Compiled) {
        let mut referenced = BTreeSet::new();
        for body in out.native.resources.values() {
            collect_strings(body, &mut referenced);
        }
        if referenced.contains(&self.sink()) {
            let key = self.cx.key(Kind::BackendService, "sink");
            let body = json!({
                "name": key.name,
                "description": self.cx.namer.description("No backends: answers unmatched and invalid traffic with an injected 404/500."),
                "protocol": "HTTP",
                "loadBalancingScheme": self.cx.params.scope.load_balancing_scheme(),
            });
            out.native.resources.insert(key, body);
        }
        for (id, backend) in &self.ir.backends {
            if self.backend_of(id).is_some_and(|link| referenced.contains(&link)) {
                self.backend_service(id, backend, out);
            }
        }
        for backend in self.ir.backends.values().filter(|b| b.external_name.is_some()) {
            out.warnings.push(format!(
                "Service {}/{} is of type ExternalName: GCP NEGs cannot reach it; its share gets the sink",
                backend.service.namespace, backend.service.name
            ));
        }
    }

    fn backend_service(&self, id: &str, backend: &ir::Backend, out: &mut Compiled) {
        let cx = self.cx;
        let service = format!("{}/{}", backend.service.namespace, backend.service.name);
        let check_key = cx.key(Kind::HealthCheck, id);
        let check = health_check(
            &check_key.name,
            &cx.namer.description(&format!("Health of {service} port {}.", backend.port)),
            cx.params.health_check_for(&service, backend.port),
        );
        let negs = self.negs(id, backend, out);
        let tcp = backend.protocol == BackendProtocol::Tcp;
        let groups: Vec<Value> = negs
            .iter()
            .map(|neg| match tcp {
                true => json!({ "group": cx.link(neg), "balancingMode": "CONNECTION", "maxConnectionsPerEndpoint": 1_000_000 }),
                false => json!({ "group": cx.link(neg), "balancingMode": "RATE", "maxRatePerEndpoint": 1_000_000.0 }),
            })
            .collect();
        let protocol = match backend.protocol {
            BackendProtocol::H2c => "H2C",
            BackendProtocol::Tcp => "TCP",
            _ => "HTTP",
        };
        let key = cx.key(Kind::BackendService, id);
        let body = json!({
            "name": key.name,
            "description": cx.namer.description(&format!("Service {service} port {}.", backend.port)),
            "protocol": protocol,
            "loadBalancingScheme": cx.params.scope.load_balancing_scheme(),
            "healthChecks": [cx.link(&check_key)],
            "backends": groups,
        });
        if let Some(policy) = &cx.params.security_policy {
            out.native.security_policies.insert(key.clone(), format!("projects/{}/{}/securityPolicies/{policy}", cx.project, cx.location));
        }
        out.native.resources.insert(check_key, check);
        out.native.resources.insert(key, body);
    }

    /// One standalone zonal NEG per zone the Service's ready endpoints are in.
    fn negs(&self, id: &str, backend: &ir::Backend, out: &mut Compiled) -> Vec<ResourceKey> {
        let cx = self.cx;
        let mut by_zone: BTreeMap<String, BTreeSet<NetworkEndpoint>> = BTreeMap::new();
        for endpoint in &backend.endpoints {
            let zone = endpoint.zone.clone().or_else(|| cx.params.default_zone.clone());
            let (Some(zone), Some(node)) = (zone, endpoint.node.clone()) else {
                out.warnings.push(format!(
                    "endpoint {}:{} of {}/{} has no zone or node name: left out",
                    endpoint.address, endpoint.port, backend.service.namespace, backend.service.name
                ));
                continue;
            };
            by_zone.entry(zone).or_default().insert(NetworkEndpoint { ip_address: endpoint.address.clone(), port: endpoint.port, instance: node });
        }
        let name = cx.namer.name(Kind::NetworkEndpointGroup.code(), id);
        let mut keys = Vec::new();
        for (zone, endpoints) in by_zone {
            let key = ResourceKey::new(Kind::NetworkEndpointGroup, &format!("zones/{zone}"), &name);
            let mut body = json!({
                "name": name,
                "description": cx.namer.description(&format!("Endpoints of {}/{} port {} in {zone}.", backend.service.namespace, backend.service.name, backend.port)),
                "networkEndpointType": "GCE_VM_IP_PORT",
                "network": cx.network(),
                "defaultPort": backend.port,
            });
            if let Some(subnetwork) = &cx.params.subnetwork {
                body["subnetwork"] = json!(format!("projects/{}/regions/{}/subnetworks/{subnetwork}", cx.project, region_of(&zone)));
            }
            out.native.resources.insert(key.clone(), body);
            out.native.endpoints.insert(key.clone(), endpoints);
            keys.push(key);
        }
        keys
    }
}

/// `europe-west1-b` -> `europe-west1`.
fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-').map_or(zone, |(region, _)| region)
}

/// A health check body; the default is a TCP connect on the serving port.
pub fn health_check(name: &str, description: &str, check: &HealthCheck) -> Value {
    let protocol = check.protocol.clone().unwrap_or_else(|| "TCP".into()).to_ascii_uppercase();
    let mut details = match check.port {
        Some(port) => json!({ "port": port, "portSpecification": "USE_FIXED_PORT" }),
        None => json!({ "portSpecification": "USE_SERVING_PORT" }),
    };
    if matches!(protocol.as_str(), "HTTP" | "HTTPS" | "HTTP2") {
        details["requestPath"] = json!(check.request_path.clone().unwrap_or_else(|| "/".into()));
    }
    let field = match protocol.as_str() {
        "HTTP" => "httpHealthCheck",
        "HTTPS" => "httpsHealthCheck",
        "HTTP2" => "http2HealthCheck",
        "GRPC" => "grpcHealthCheck",
        _ => "tcpHealthCheck",
    };
    let kind = if field == "tcpHealthCheck" { "TCP" } else { protocol.as_str() };
    let mut body = json!({ "name": name, "description": description, "type": kind });
    body[field] = details;
    let numbers = [
        ("checkIntervalSec", check.check_interval_sec),
        ("timeoutSec", check.timeout_sec),
        ("healthyThreshold", check.healthy_threshold),
        ("unhealthyThreshold", check.unhealthy_threshold),
    ];
    for (field, value) in numbers {
        if let Some(value) = value {
            body[field] = json!(value);
        }
    }
    body
}

fn collect_strings(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
