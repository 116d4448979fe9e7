//! From a snapshot and its translation to what each provider is given ([`Desired`]): the
//! parameters in effect, certificate material, the addresses reported now and the route ranks.
//! Pure, shared by `portico run` and `portico plan`.

use std::collections::BTreeMap;

use portico_model::Snapshot;
use portico_model::ir::{self, ObjectRef};
use portico_provider::Desired;
use serde_json::Value;

use crate::{CapabilitySet, Translation};

/// The parameters in effect for a Gateway: (`namespace/name` of the object that decides which
/// provider instance it belongs to, the spec). A Gateway-level object is laid over its class's:
/// each field it sets replaces the class's (translation has already refused fields the class
/// does not let Gateways set; see [`crate::privilege`]). Objects such as `tags` or
/// `healthCheck` are merged key by key; values equal to the kind's defaults are ignored.
pub fn parameters_of(snapshot: &Snapshot, capabilities: &CapabilitySet, ir: &ir::Gateway) -> (String, Value) {
    let Some(reference) = &ir.parameters else { return ("default".into(), Value::Null) };
    let find = |kind: &str, namespace: Option<&str>, name: &str| {
        snapshot.parameters.iter().find(|p| p.kind == kind && p.name == name && p.namespace.as_deref() == namespace).map(|p| p.spec.clone())
    };
    let own = find(&reference.kind, reference.namespace.as_deref(), &reference.name).unwrap_or(Value::Null);
    let group = format!("{}/{}", reference.namespace.clone().unwrap_or_default(), reference.name);
    let class = snapshot.gateway_classes.iter().find(|c| c.metadata.name.as_deref() == Some(ir.gateway_class.as_str()));
    let Some(class_ref) = class.and_then(|c| c.spec.parameters_ref.as_ref()) else { return (group, own) };
    let is_class_object = class_ref.kind == reference.kind && class_ref.name == reference.name && class_ref.namespace == reference.namespace;
    if is_class_object {
        return (group, own);
    }
    let mut merged = match find(&class_ref.kind, class_ref.namespace.as_deref(), &class_ref.name) {
        Some(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let Some(caps) = capabilities.get(ir.provider) else { return (group, own) };
    for (field, value) in own.as_object().into_iter().flatten() {
        if field != portico_model::capabilities::GATEWAY_OVERRIDES_FIELD && crate::privilege::is_set(caps, field, value) {
            lay_over(merged.entry(field.clone()).or_insert(Value::Null), value);
        }
    }
    (group, Value::Object(merged))
}

/// Objects are merged key by key (the Gateway's value wins); anything else is replaced.
fn lay_over(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                lay_over(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, over) => *base = over.clone(),
    }
}

/// Everything a provider needs for one translated Gateway.
pub fn desired_for(snapshot: &Snapshot, capabilities: &CapabilitySet, translation: &Translation, key: &ObjectRef, ir: &std::sync::Arc<ir::Gateway>) -> Desired {
    let (instance, parameters) = parameters_of(snapshot, capabilities, ir);
    Desired {
        ir: std::sync::Arc::clone(ir),
        certificates: certificates_for(snapshot, ir),
        parameters,
        instance,
        current_addresses: current_addresses(snapshot, key),
        route_ranks: route_ranks_of(translation, ir),
        listener_ranks: translation.listener_ranks.get(key).cloned().unwrap_or_default(),
    }
}

/// The ranks of the routes this Gateway's IR holds (not every route's: a Desired per Gateway
/// carrying all of them made `portico plan` of 100 Gateways x 1,000 routes hold 100 x 100,000).
fn route_ranks_of(translation: &Translation, ir: &ir::Gateway) -> BTreeMap<portico_model::ir::RouteKey, usize> {
    let mut ranks = BTreeMap::new();
    for source in ir.route_sources() {
        let key = source.route();
        if !ranks.contains_key(&key)
            && let Some(rank) = translation.route_ranks.get(&key)
        {
            ranks.insert(key, *rank);
        }
    }
    ranks
}

/// PEM bundles (certificate then key) for every Secret the IR's certificate bindings name, and
/// the client certificate presented to backends.
pub fn certificates_for(snapshot: &Snapshot, ir: &ir::Gateway) -> BTreeMap<ObjectRef, Vec<u8>> {
    let mut out = BTreeMap::new();
    let bound = ir.ports.iter().flat_map(|p| &p.certificates).flat_map(|b| &b.secrets);
    for secret_ref in bound.chain(&ir.backend_client_certificate) {
        let secret = snapshot
            .secrets
            .iter()
            .find(|s| s.metadata.namespace.as_deref() == Some(&secret_ref.namespace) && s.metadata.name.as_deref() == Some(&secret_ref.name));
        let Some(data) = secret.and_then(|s| s.data.as_ref()) else { continue };
        let mut pem = data.get("tls.crt").map(|b| b.0.clone()).unwrap_or_default();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend(data.get("tls.key").map(|b| b.0.clone()).unwrap_or_default());
        out.insert(secret_ref.clone(), pem);
    }
    out
}

/// The addresses a Gateway's status reports now.
pub fn current_addresses(snapshot: &Snapshot, key: &ObjectRef) -> Vec<ir::Address> {
    let gateway = snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name));
    gateway
        .and_then(|g| g.status.as_ref())
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .map(|a| ir::Address { address_type: a.r#type.clone().unwrap_or_else(|| "IPAddress".into()), value: a.value.clone() })
        .collect()
}
