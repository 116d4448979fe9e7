//! From a snapshot and its translation to what each provider is given ([`Desired`]), and the
//! provider's quota check folded back into route statuses. Shared by `portico run` and
//! `portico plan`, so both show the same conditions.

use std::collections::BTreeMap;

use portico_model::ir::{self, ObjectRef};
use portico_model::{ProviderKind, RouteKind, Snapshot};
use portico_provider::{Desired, RouteOverflow};
use portico_translate::status::{ParentStatusEntry, RouteKey, Statuses};
use portico_translate::{Translation, conditions};
use serde_json::Value;

/// The parameters in effect for a Gateway: (`namespace/name` of the object that decides which
/// provider instance it belongs to, the spec). A Gateway-level object is laid over its class's:
/// each field it sets replaces the class's (translation has already refused fields the
/// class does not let Gateways set; see `portico_translate::privilege`). Objects such as `tags`
/// or `healthCheck` are merged key by key; values equal to the kind's defaults are ignored.
pub fn parameters_of(snapshot: &Snapshot, ir: &ir::Gateway) -> (String, Value) {
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
    let capabilities = crate::all_capabilities();
    let Some(caps) = capabilities.get(ir.provider) else { return (group, own) };
    for (field, value) in own.as_object().into_iter().flatten() {
        if field != portico_model::capabilities::GATEWAY_OVERRIDES_FIELD && portico_translate::privilege::is_set(caps, field, value) {
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

/// Everything a provider needs for one Gateway.
pub fn desired_for(snapshot: &Snapshot, key: &ObjectRef, ir: &ir::Gateway, ranks: &BTreeMap<String, usize>) -> Desired {
    Desired {
        ir: ir.clone(),
        certificates: certificates_for(snapshot, ir),
        parameters: parameters_of(snapshot, ir).1,
        current_addresses: current_addresses(snapshot, key),
        route_ranks: ranks.clone(),
    }
}

/// Routes by age (`Kind/namespace/name` -> rank, oldest first; ties by namespace/name).
pub fn route_ranks(snapshot: &Snapshot) -> BTreeMap<String, usize> {
    type Meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let mut all: Vec<(Option<String>, String, String, String)> = Vec::new();
    let mut add = |kind: RouteKind, meta: &Meta| {
        let created = meta.creation_timestamp.as_ref().map(|t| t.0.to_string());
        all.push((created, meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default(), kind.name().to_string()));
    };
    snapshot.http_routes.iter().for_each(|r| add(RouteKind::Http, &r.metadata));
    snapshot.grpc_routes.iter().for_each(|r| add(RouteKind::Grpc, &r.metadata));
    snapshot.tls_routes.iter().for_each(|r| add(RouteKind::Tls, &r.metadata));
    snapshot.tcp_routes.iter().for_each(|r| add(RouteKind::Tcp, &r.metadata));
    snapshot.udp_routes.iter().for_each(|r| add(RouteKind::Udp, &r.metadata));
    all.sort();
    all.into_iter().enumerate().map(|(rank, (_, ns, name, kind))| (format!("{kind}/{ns}/{name}"), rank)).collect()
}

/// PEM bundles (certificate then key) for every Secret the IR's certificate bindings name.
pub fn certificates_for(snapshot: &Snapshot, ir: &ir::Gateway) -> BTreeMap<ObjectRef, Vec<u8>> {
    let mut out = BTreeMap::new();
    for binding in ir.ports.iter().flat_map(|p| &p.certificates) {
        for secret_ref in &binding.secrets {
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
    }
    out
}

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

/// The AWS Gateways' desired states, after their quota check: routes that do not fit get
/// `Accepted=False` (reason UnsupportedValue, the message naming the quota) on that Gateway.
pub fn aws_gateways(snapshot: &Snapshot, translation: &mut Translation, cluster: &str) -> BTreeMap<ObjectRef, Desired> {
    cloud_gateways(snapshot, translation, ProviderKind::Aws, |desired| portico_aws::compile::compile(desired, cluster).map(|c| c.overflows).unwrap_or_default())
}

/// The GCP Gateways' desired states, after their URL-map limit check (as for AWS).
pub fn gcp_gateways(snapshot: &Snapshot, translation: &mut Translation, defaults: &portico_gcp::Defaults) -> BTreeMap<ObjectRef, Desired> {
    cloud_gateways(snapshot, translation, ProviderKind::Gcp, |desired| {
        portico_gcp::compile::compile(desired, defaults).map(|c| c.overflows).unwrap_or_default()
    })
}

fn cloud_gateways(
    snapshot: &Snapshot,
    translation: &mut Translation,
    provider: ProviderKind,
    overflows_of: impl Fn(&Desired) -> Vec<RouteOverflow>,
) -> BTreeMap<ObjectRef, Desired> {
    let ranks = route_ranks(snapshot);
    let mut out = BTreeMap::new();
    for (key, ir) in &translation.gateways {
        if ir.provider != provider {
            continue;
        }
        let desired = desired_for(snapshot, key, ir, &ranks);
        let platform = if provider == ProviderKind::Aws { "AWS" } else { "GCP" };
        reject_overflows(&mut translation.statuses, key, platform, &overflows_of(&desired));
        // The same refusal GCP's apply reports, so `portico plan` shows it too.
        if let Some((address, message)) = (provider == ProviderKind::Gcp).then(|| portico_gcp::address_refusal(&ir.requested_addresses)).flatten() {
            let error = portico_provider::ProviderError::AddressNotUsable { address, message };
            address_not_usable(&mut translation.statuses, key, error.to_string());
        }
        out.insert(key.clone(), desired);
    }
    out
}

/// HAProxy Gateways whose `spec.addresses` the instance cannot honour (outside its pool, more
/// than one address): `Programmed=False/AddressNotUsable`, and no IR, so nothing is bound for
/// them. Pure (the pool is in the parameters), so `portico plan` and `portico run` agree.
pub fn refuse_haproxy_addresses(snapshot: &Snapshot, translation: &mut Translation) {
    let mut refused = Vec::new();
    for (key, ir) in &translation.gateways {
        if ir.provider != ProviderKind::Haproxy || ir.requested_addresses.is_empty() {
            continue;
        }
        let spec: portico_haproxy::params::HAProxyParametersSpec = serde_json::from_value(parameters_of(snapshot, ir).1).unwrap_or_default();
        let Ok(pool) = portico_haproxy::params::expand_pool(&spec.address_pool) else { continue };
        if let Err(error) = portico_haproxy::addresses::check_requested(&pool, &spec.address_pool, &ir.requested_addresses) {
            refused.push((key.clone(), error.to_string()));
        }
    }
    for (key, message) in refused {
        translation.gateways.remove(&key);
        address_not_usable(&mut translation.statuses, &key, message);
    }
}

/// `Programmed=False/AddressNotUsable` on a Gateway's translated status.
fn address_not_usable(statuses: &mut Statuses, key: &ObjectRef, message: String) {
    let Some(status) = statuses.gateways.get_mut(key) else { return };
    let generation = status.conditions.first().map_or(1, |c| c.observed_generation);
    status.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
    status.conditions.push(conditions::gateway_address_not_usable(generation, message));
    status.listeners_not_programmed("The Gateway's address is not usable");
}

/// Replace our `Accepted` condition for `gateway` on each overflowing route.
pub fn reject_overflows(statuses: &mut Statuses, gateway: &ObjectRef, platform: &str, overflows: &[RouteOverflow]) {
    for overflow in overflows {
        let mut parts = overflow.route.splitn(3, '/');
        let (Some(kind), Some(namespace), Some(name)) = (parts.next().and_then(RouteKind::from_name), parts.next(), parts.next()) else { continue };
        let key = RouteKey { kind, namespace: namespace.into(), name: name.into() };
        let Some(status) = statuses.routes.get_mut(&key) else { continue };
        for parent in status.parents.iter_mut() {
            let ParentStatusEntry::Ours(parent) = parent else { continue };
            if parent.parent_ref.kind != "Gateway" || parent.parent_ref.namespace != gateway.namespace || parent.parent_ref.name != gateway.name {
                continue;
            }
            for condition in parent.conditions.iter_mut().filter(|c| c.condition_type == conditions::ACCEPTED) {
                let message = format!("not programmed on {platform}: {}", overflow.message);
                *condition = conditions::unsupported_value(condition.observed_generation, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every field a provider lets Gateways set on their own exists in its parameters CRD.
    #[test]
    fn gateway_tunable_fields_exist() {
        use kube::CustomResourceExt as _;
        let crds = [
            (portico_aws::params::AWSLoadBalancerParameters::crd(), portico_aws::capabilities()),
            (portico_gcp::params::GCPLoadBalancerParameters::crd(), portico_gcp::capabilities()),
            (portico_haproxy::params::HAProxyParameters::crd(), portico_haproxy::capabilities()),
        ];
        for (crd, caps) in crds {
            let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
            let fields = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
            for field in caps.gateway_parameters.iter().map(String::as_str).chain([portico_model::capabilities::GATEWAY_OVERRIDES_FIELD]) {
                assert!(fields.get(field).is_some(), "{field} is not a field of {}", crd.spec.names.kind);
            }
        }
    }
}
