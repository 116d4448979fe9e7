//! `portico plan --summary`: the same translation and checks as [`crate::document`], printed as
//! counts plus only the objects whose status reports a problem (a condition
//! [`Condition::is_problem`]). For inputs too large to read whole (100,000 routes print about
//! 700 MB in full): objects without a problem are never serialized.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use portico_model::load::Loaded;
use serde::Serialize;
use serde_json::{Value, json};

use crate::conditions::Condition;
use crate::document::{Planners, route_status_json, stamp};
use crate::status::{ParentStatusEntry, Statuses};
use crate::{CapabilitySet, translate};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// Objects that get a status from Portico, by kind.
    pub objects: BTreeMap<&'static str, usize>,
    /// How many of them report a problem (listed under `problems`).
    pub with_problems: usize,
    /// Each accepted Gateway's IR, counted.
    pub gateways: BTreeMap<String, GatewaySummary>,
    /// Every object whose status reports a problem: apiVersion, kind, namespace, name, status.
    pub problems: Vec<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySummary {
    pub provider: &'static str,
    pub ports: usize,
    pub virtual_hosts: usize,
    pub http_route_entries: usize,
    pub sni_routes: usize,
    pub l4_routes: usize,
    pub backends: usize,
}

/// Translate what was loaded (with each platform's checks, as `portico plan` does) and count.
pub fn summary(loaded: &Loaded, planners: &Planners, now: &str) -> PlanSummary {
    let capabilities = CapabilitySet::new(planners.values().map(|p| p.capabilities().clone()));
    let snapshot = &loaded.snapshot;
    let mut translation = translate(snapshot, &capabilities);
    crate::outcome::checked(snapshot, &capabilities, &mut translation, |d| planners.get(&d.ir.provider).map(|p| p.check(d)).unwrap_or_default());
    let statuses = &translation.statuses;
    let mut objects = BTreeMap::new();
    for (kind, count) in [
        ("GatewayClass", statuses.gateway_classes.len()),
        ("Gateway", statuses.gateways.len()),
        ("ListenerSet", statuses.listener_sets.len()),
        ("BackendTLSPolicy", statuses.backend_tls_policies.len()),
    ] {
        if count > 0 {
            objects.insert(kind, count);
        }
    }
    for key in statuses.routes.keys() {
        *objects.entry(key.kind.name()).or_default() += 1;
    }
    let problems = problems(statuses, &capabilities.controller_names().collect::<Vec<_>>(), now);
    let gateways = translation
        .gateways
        .iter()
        .map(|(key, ir)| {
            let summary = GatewaySummary {
                provider: ir.provider.name(),
                ports: ir.ports.len(),
                virtual_hosts: ir.ports.iter().map(|p| p.virtual_hosts.len()).sum(),
                http_route_entries: ir.ports.iter().flat_map(|p| &p.virtual_hosts).map(|v| v.routes.len()).sum(),
                sni_routes: ir.ports.iter().map(|p| p.tls_routes.len()).sum(),
                l4_routes: ir.ports.iter().map(|p| p.l4_routes.len()).sum(),
                backends: ir.backends.len(),
            };
            (key.to_string(), summary)
        })
        .collect();
    PlanSummary { objects, with_problems: problems.len(), gateways, problems }
}

fn any_problem<'c>(mut conditions: impl Iterator<Item = &'c Condition>) -> bool {
    conditions.any(Condition::is_problem)
}

/// A condition array in JSON (another shape of the same conditions) with a problem.
fn json_problem(conditions: Option<&Value>) -> bool {
    conditions
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| crate::conditions::is_problem(c["type"].as_str().unwrap_or_default(), c["status"].as_str().unwrap_or_default()))
}

fn entry(api_version: &str, kind: &str, key: &ObjectRef, status: Value) -> Value {
    json!({ "apiVersion": api_version, "kind": kind, "metadata": { "namespace": key.namespace, "name": key.name }, "status": status })
}

fn status_json<S: Serialize>(status: &S, now: &str) -> Value {
    stamp(serde_json::to_value(status).unwrap_or_default(), now)
}

fn problems(statuses: &Statuses, controllers: &[String], now: &str) -> Vec<Value> {
    let api = "gateway.networking.k8s.io/v1";
    let mut out = Vec::new();
    for (name, status) in &statuses.gateway_classes {
        if any_problem(status.conditions.iter()) {
            let mut class = entry(api, "GatewayClass", &ObjectRef::new("", name.as_str()), status_json(status, now));
            class["metadata"].as_object_mut().map(|m| m.remove("namespace"));
            out.push(class);
        }
    }
    for (key, status) in &statuses.gateways {
        if any_problem(status.conditions.iter().chain(status.listeners.iter().flat_map(|l| &l.conditions))) {
            out.push(entry(api, "Gateway", key, status_json(status, now)));
        }
    }
    for (key, status) in &statuses.listener_sets {
        if any_problem(status.conditions.iter().chain(status.listeners.iter().flat_map(|l| &l.conditions))) {
            out.push(entry(api, "ListenerSet", key, status_json(status, now)));
        }
    }
    for (key, status) in &statuses.backend_tls_policies {
        if status.ancestors.iter().filter(|a| crate::is_ours(a, controllers)).any(|a| json_problem(a.get("conditions"))) {
            out.push(entry(api, "BackendTLSPolicy", key, status_json(status, now)));
        }
    }
    for (key, status) in &statuses.routes {
        let ours = status.parents.iter().filter_map(|p| match p {
            ParentStatusEntry::Ours(ours) => Some(ours),
            ParentStatusEntry::Kept(_) => None,
        });
        if any_problem(ours.flat_map(|p| &p.conditions)) {
            out.push(entry(api, key.kind.name(), &ObjectRef::new(key.namespace.as_str(), key.name.as_str()), route_status_json(status, now)));
        }
    }
    out
}
