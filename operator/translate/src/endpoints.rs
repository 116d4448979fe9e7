//! The endpoints behind one Service port, read from EndpointSlices the way Kubernetes' own
//! consumers (kube-proxy) read them.
//!
//! - A slice port belongs to a Service port when their names are equal, an absent name and the
//!   empty name being the same (the EndpointSlice controller writes `name: ""` for an unnamed
//!   Service port), and their protocols are equal (absent means TCP). The slice port's number is
//!   the resolved target port (a named `targetPort` is resolved per Pod by the controller, so
//!   Pods with different numbers land in different slices). A slice port without a number does
//!   not say where to connect and is skipped.
//! - Only slices of the Service's primary IP family are used (`spec.ipFamilies[0]`, IPv4 when
//!   unset), so a dual-stack Service does not list each Pod twice; `FQDN` slices are deprecated
//!   and ignored, as kube-proxy does.
//! - Endpoints that are `ready` (absent means ready) are used. When none is, endpoints that are
//!   still `serving` while `terminating` are used instead, so a rollout that briefly leaves only
//!   terminating Pods keeps answering (kube-proxy's fallback, KEP-1669).
//! - Only the first address of an endpoint has a meaning (the API defines no semantics for more).
//! - The same endpoint can be in two slices while the controller moves it: duplicates are one.

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint as SliceEndpoint, EndpointPort, EndpointSlice};
use portico_model::ir::Endpoint;

use crate::index::Index;

/// Ready (or, failing that, serving-terminating) endpoints for one Service port, sorted.
pub fn for_service_port(service: &Service, port: &ServicePort, index: &Index<'_>) -> Vec<Endpoint> {
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or("");
    let family = primary_family(service);
    let mut ready = Vec::new();
    let mut terminating = Vec::new();
    for slice in index.endpoint_slices(namespace, name) {
        if slice.address_type != family {
            continue;
        }
        let Some(number) = slice_port_for(slice, port) else { continue };
        for endpoint in &slice.endpoints {
            let Some(address) = endpoint.addresses.first() else { continue };
            let entry = Endpoint { address: address.clone(), port: number, zone: endpoint.zone.clone(), node: endpoint.node_name.clone() };
            match state(endpoint) {
                State::Ready => ready.push(entry),
                State::ServingTerminating => terminating.push(entry),
                State::Unusable => {}
            }
        }
    }
    let mut out = if ready.is_empty() { terminating } else { ready };
    out.sort();
    out.dedup_by(|later, kept| {
        let same = later.address == kept.address && later.port == kept.port;
        if same {
            kept.zone = kept.zone.take().or(later.zone.take());
            kept.node = kept.node.take().or(later.node.take());
        }
        same
    });
    out
}

/// `IPv4` unless the Service says its first family is `IPv6`.
fn primary_family(service: &Service) -> &'static str {
    let first = service.spec.as_ref().and_then(|s| s.ip_families.as_ref()).and_then(|f| f.first());
    match first.map(String::as_str) {
        Some("IPv6") => "IPv6",
        _ => "IPv4",
    }
}

/// The port number this slice gives for the Service port, if the slice carries that port.
fn slice_port_for(slice: &EndpointSlice, port: &ServicePort) -> Option<u16> {
    let wanted_name = port.name.as_deref().unwrap_or("");
    let wanted_protocol = port.protocol.as_deref().unwrap_or("TCP");
    slice
        .ports
        .iter()
        .flatten()
        .find(|p: &&EndpointPort| p.name.as_deref().unwrap_or("") == wanted_name && p.protocol.as_deref().unwrap_or("TCP") == wanted_protocol)
        .and_then(|p| p.port)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n != 0)
}

enum State {
    Ready,
    ServingTerminating,
    Unusable,
}

fn state(endpoint: &SliceEndpoint) -> State {
    let conditions = endpoint.conditions.as_ref();
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
    // `serving` defaults to `ready` when absent (the API's own rule).
    let serving = conditions.and_then(|c| c.serving).unwrap_or(ready);
    if ready {
        State::Ready
    } else if serving && terminating {
        State::ServingTerminating
    } else {
        State::Unusable
    }
}
