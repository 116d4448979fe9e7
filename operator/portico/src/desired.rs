//! From a snapshot and its translation to what each provider is given ([`Desired`]), and the
//! provider's quota check folded back into route statuses. Shared by `portico run` and
//! `portico plan`, so both show the same conditions.

use std::collections::BTreeMap;

use portico_model::ir::{self, ObjectRef};
use portico_model::{ProviderKind, RouteKind, Snapshot};
use portico_provider::{Desired, RouteOverflow};
use portico_translate::status::{ParentStatusEntry, RouteKey, Statuses};
use portico_translate::{conditions, Translation};
use serde_json::Value;

/// The parameters object a Gateway's IR names: (`namespace/name` of the object, its spec).
pub fn parameters_of(snapshot: &Snapshot, ir: &ir::Gateway) -> (String, Value) {
    let Some(reference) = &ir.parameters else { return ("default".into(), Value::Null) };
    let found = snapshot.parameters.iter().find(|p| p.kind == reference.kind && p.name == reference.name && p.namespace == reference.namespace);
    (format!("{}/{}", reference.namespace.clone().unwrap_or_default(), reference.name), found.map_or(Value::Null, |p| p.spec.clone()))
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
            let secret = snapshot.secrets.iter().find(|s| s.metadata.namespace.as_deref() == Some(&secret_ref.namespace) && s.metadata.name.as_deref() == Some(&secret_ref.name));
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
    cloud_gateways(snapshot, translation, ProviderKind::Gcp, |desired| portico_gcp::compile::compile(desired, defaults).map(|c| c.overflows).unwrap_or_default())
}

fn cloud_gateways(snapshot: &Snapshot, translation: &mut Translation, provider: ProviderKind, overflows_of: impl Fn(&Desired) -> Vec<RouteOverflow>) -> BTreeMap<ObjectRef, Desired> {
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
