//! The EndpointSlice controller, as kube-controller-manager runs it for Services with selectors.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use super::{SLICE_MANAGER, World, key, selects};

const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// The slice ports a Pod resolves for a Service, in Service port order (its "port signature").
fn pod_ports(service_ports: &[ServicePort], pod: &Pod) -> Vec<Value> {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    let mut out = Vec::new();
    for port in service_ports {
        let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
        let number = match &port.target_port {
            None => Some(port.port),
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(name)) => containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                .map(|p| p.container_port),
        };
        let Some(number) = number else { continue };
        let mut entry = json!({"name": port.name.clone().unwrap_or_default(), "port": number, "protocol": protocol});
        if let Some(app) = &port.app_protocol {
            entry["appProtocol"] = json!(app);
        }
        out.push(entry);
    }
    out
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The endpoint for one Pod, with the controller's conditions: `serving` is the Pod's
/// readiness, `terminating` its deletion, and `ready` is never true while terminating (unless
/// the Service publishes not-ready addresses).
fn endpoint(service: &Service, pod: &Pod, ip: &str) -> Value {
    let publish = service.spec.as_ref().and_then(|s| s.publish_not_ready_addresses).unwrap_or(false);
    let serving = pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = publish || (serving && !terminating);
    let mut e = json!({
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {"kind": "Pod", "namespace": pod.namespace(), "name": pod.name_any(), "uid": pod.metadata.uid},
    });
    if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
        e["nodeName"] = json!(node);
    }
    e
}

/// Pods the controller lists for a Service: selected, with an IP, not in a terminal phase.
fn members<'a>(world: &'a World, service: &Service, selector: &BTreeMap<String, String>) -> Vec<(&'a Pod, String)> {
    let mut pods: Vec<(&Pod, String)> = world
        .pods
        .iter()
        .filter(|p| p.namespace() == service.namespace() && selects(selector, p.metadata.labels.as_ref()))
        .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
        .filter_map(|p| Some((p, p.status.as_ref()?.pod_ip.clone()?)))
        .collect();
    pods.sort_by_key(|a| a.0.name_any());
    pods
}

/// The desired slices of one Service: (ports, endpoints), at most 100 endpoints each.
fn desired(world: &World, service: &Service) -> Option<Vec<(Value, Vec<Value>)>> {
    let spec = service.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
    let ports = spec.ports.clone().unwrap_or_default();
    let mut by_ports: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for (pod, ip) in members(world, service, selector) {
        let signature = Value::Array(pod_ports(&ports, pod));
        let entry = by_ports.entry(signature.to_string()).or_insert_with(|| (signature, Vec::new()));
        entry.1.push(endpoint(service, pod, &ip));
    }
    let mut out = Vec::new();
    for (ports, endpoints) in by_ports.into_values() {
        for chunk in endpoints.chunks(MAX_ENDPOINTS_PER_SLICE) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    if out.is_empty() {
        // The controller keeps one placeholder slice, without ports, for a Service that
        // selects no Pod.
        out.push((json!([]), Vec::new()));
    }
    Some(out)
}

fn labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.labels().clone();
    labels.insert("kubernetes.io/service-name".into(), service.name_any());
    labels.insert("endpointslice.kubernetes.io/managed-by".into(), SLICE_MANAGER.into());
    labels
}

fn body(service: &Service, ports: &Value, endpoints: &[Value], existing: Option<&EndpointSlice>) -> Value {
    let mut metadata = json!({
        "namespace": service.namespace(),
        "labels": labels(service),
        "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": service.name_any(), "uid": service.metadata.uid, "controller": true, "blockOwnerDeletion": true}],
    });
    match existing {
        Some(slice) => {
            metadata["name"] = json!(slice.name_any());
            metadata["resourceVersion"] = json!(slice.metadata.resource_version);
        }
        None => metadata["generateName"] = json!(format!("{}-", service.name_any())),
    }
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": metadata, "addressType": "IPv4", "ports": ports, "endpoints": endpoints})
}

/// Does an existing slice already say exactly this?
fn same(slice: &EndpointSlice, service: &Service, ports: &Value, endpoints: &[Value]) -> bool {
    let current = serde_json::to_value(slice).unwrap_or(Value::Null);
    let current_endpoints = current.get("endpoints").cloned().unwrap_or(json!([]));
    current.get("ports").unwrap_or(&json!([])) == ports && current_endpoints == Value::Array(endpoints.to_vec()) && slice.labels() == &labels(service)
}

/// Write every Service's slices; returns whether anything was written.
pub(crate) async fn reconcile(client: &Client, world: &World) -> bool {
    let mut changed = false;
    for service in &world.services {
        match reconcile_service(client, world, service).await {
            Ok(c) => changed |= c,
            Err(error) => eprintln!("sandbox cluster: EndpointSlices of {}: {error}", key(&service.metadata)),
        }
    }
    changed
}

async fn reconcile_service(client: &Client, world: &World, service: &Service) -> Result<bool, kube::Error> {
    let Some(wanted) = desired(world, service) else { return Ok(false) };
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &service.namespace().unwrap_or_default());
    let mut existing: Vec<&EndpointSlice> = world
        .slices
        .iter()
        .filter(|s| s.namespace() == service.namespace())
        .filter(|s| s.labels().get("kubernetes.io/service-name") == Some(&service.name_any()))
        .filter(|s| s.labels().get("endpointslice.kubernetes.io/managed-by").map(String::as_str) == Some(SLICE_MANAGER))
        .collect();
    existing.sort_by_key(|a| a.name_any());
    let mut changed = false;
    let mut unused: Vec<&EndpointSlice> = existing.clone();
    for (ports, endpoints) in &wanted {
        // Reuse a slice with the same ports first (an in-place update), else any spare one.
        let position =
            unused.iter().position(|s| serde_json::to_value(&s.ports).ok().as_ref() == Some(ports)).or(if unused.is_empty() { None } else { Some(0) });
        let reuse = position.map(|i| unused.remove(i));
        match reuse {
            Some(slice) if same(slice, service, ports, endpoints) => {}
            Some(slice) => {
                let object: EndpointSlice = serde_json::from_value(body(service, ports, endpoints, Some(slice))).map_err(kube::Error::SerdeError)?;
                api.replace(&slice.name_any(), &PostParams::default(), &object).await?;
                changed = true;
            }
            None => {
                let object: EndpointSlice = serde_json::from_value(body(service, ports, endpoints, None)).map_err(kube::Error::SerdeError)?;
                api.create(&PostParams::default(), &object).await?;
                changed = true;
            }
        }
    }
    for slice in unused {
        api.delete(&slice.name_any(), &DeleteParams::default()).await?;
        changed = true;
    }
    Ok(changed)
}
