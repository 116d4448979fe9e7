//! The document `portico plan` prints and the golden cases snapshot: every owned object with
//! the status the operator would write, and each Gateway's IR with its platform's native plan
//! from nothing. Pure: the caller hands in the platforms' [`Planner`]s and the time to stamp.

use std::collections::BTreeMap;

use portico_model::ProviderKind;
use portico_model::ir::ObjectRef;
use portico_model::load::Loaded;
use portico_provider::{Applied, Planner, ProviderError};
use serde::Serialize;
use serde_json::{Value, json};

use crate::status::{ParentStatusEntry, RouteKey};
use crate::{CapabilitySet, Translation, translate};

/// The cluster name native plans are computed for (the operator's default `--cluster-name`).
pub const PLAN_CLUSTER: &str = "default";

/// The platforms a document is computed for: each one's pure part, by kind.
pub type Planners = BTreeMap<ProviderKind, Box<dyn Planner>>;

/// Programming outcomes to fold in, per Gateway (what the operator holds after programming).
pub type Outcomes = BTreeMap<ObjectRef, Result<Applied, ProviderError>>;

/// How much of each object to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectDetail {
    /// The whole object with its new status (what `portico plan` prints).
    Full,
    /// Only apiVersion, kind, namespace, name and status (what golden tests snapshot).
    StatusOnly,
}

#[derive(Debug, Serialize)]
pub struct PlanDocument {
    pub objects: Vec<Value>,
    pub gateways: BTreeMap<String, Value>,
}

/// Translate what was loaded and build the printed document: every owned object with the
/// status the operator would write (after each platform's pure checks), and each Gateway's IR
/// with its platform's native plan from nothing. Conditions with no `lastTransitionTime` get
/// `now` (the status writer does the same).
pub fn document(loaded: &Loaded, planners: &Planners, now: &str, detail: ObjectDetail) -> PlanDocument {
    document_with_outcomes(loaded, planners, &Outcomes::new(), now, detail)
}

/// [`document`], with programming outcomes folded into the statuses as the operator folds
/// them after programming ([`crate::outcome::fold_all`]).
pub fn document_with_outcomes(loaded: &Loaded, planners: &Planners, outcomes: &Outcomes, now: &str, detail: ObjectDetail) -> PlanDocument {
    let capabilities = CapabilitySet::new(planners.values().map(|p| p.capabilities().clone()));
    let snapshot = &loaded.snapshot;
    let mut translation = translate(snapshot, &capabilities);
    let desired = crate::outcome::checked(snapshot, &capabilities, &mut translation, |d| planners.get(&d.ir.provider).map(|p| p.check(d)).unwrap_or_default());
    let programmed: Vec<_> = outcomes.iter().filter_map(|(key, result)| Some((key, translation.gateways.get(key)?.provider, result))).collect();
    crate::outcome::fold_all(snapshot, &capabilities, &mut translation, programmed);
    let mut objects = Vec::new();
    collect_objects(loaded, &translation, now, detail, &mut objects);
    let gateways = translation
        .gateways
        .iter()
        .map(|(key, ir)| {
            let native = desired.get(key).and_then(|d| planners.get(&ir.provider)?.plan_from_empty(d));
            let entry = match native {
                Some(native) => json!({ "ir": &**ir, "native": { "provider": ir.provider.name(), "fromEmpty": native } }),
                None => json!({ "ir": &**ir }),
            };
            (key.to_string(), entry)
        })
        .collect();
    PlanDocument { objects, gateways }
}

fn collect_objects(loaded: &Loaded, translation: &Translation, now: &str, detail: ObjectDetail, out: &mut Vec<Value>) {
    let s = &loaded.snapshot;
    let statuses = &translation.statuses;
    let mut classes: Vec<_> = s.gateway_classes.iter().filter(|c| statuses.gateway_classes.contains_key(name_of(&c.metadata))).collect();
    classes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for class in classes {
        let status = &statuses.gateway_classes[name_of(&class.metadata)];
        out.push(with_status(class, status, now, detail));
    }
    let mut gateways: Vec<_> =
        s.gateways.iter().filter_map(|g| statuses.gateways.get(&object_ref(&g.metadata)).map(|st| (object_ref(&g.metadata), g, st))).collect();
    gateways.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, gateway, status) in gateways {
        out.push(with_status(gateway, status, now, detail));
    }
    let mut sets: Vec<_> =
        s.listener_sets.iter().filter_map(|l| statuses.listener_sets.get(&object_ref(&l.metadata)).map(|st| (object_ref(&l.metadata), l, st))).collect();
    sets.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, set, status) in sets {
        out.push(with_status(set, status, now, detail));
    }
    let mut policies: Vec<_> = s
        .backend_tls_policies
        .iter()
        .filter_map(|p| statuses.backend_tls_policies.get(&object_ref(&p.metadata)).map(|st| (object_ref(&p.metadata), p, st)))
        .collect();
    policies.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, policy, status) in policies {
        out.push(with_status(policy, status, now, detail));
    }
    let mut routes: Vec<(RouteKey, Value)> = Vec::new();
    for route in s.routes() {
        if let Some(status) = statuses.routes.get(&route.key) {
            routes.push((route.key.clone(), finish(route.object, route_status_json(status, now), detail)));
        }
    }
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(routes.into_iter().map(|(_, v)| v));
}

/// A route's `.status` as written: our entries stamped, other controllers' entries as they were.
pub fn route_status_json(status: &crate::status::RouteStatus, now: &str) -> Value {
    let parents: Vec<Value> = status
        .parents
        .iter()
        .map(|p| match p {
            ParentStatusEntry::Ours(ours) => stamp(serde_json::to_value(ours).unwrap_or_default(), now),
            ParentStatusEntry::Kept(kept) => kept.clone(),
        })
        .collect();
    json!({ "parents": parents })
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn object_ref(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectRef {
    ObjectRef::new(meta.namespace.as_deref().unwrap_or("default"), name_of(meta))
}

fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn with_status<T: Serialize, S: Serialize>(object: &T, status: &S, now: &str, detail: ObjectDetail) -> Value {
    finish(to_value(object), stamp(to_value(status), now), detail)
}

/// The object with `status` in place, whole or reduced to what golden tests snapshot.
fn finish(mut object: Value, status: Value, detail: ObjectDetail) -> Value {
    object["status"] = status;
    match detail {
        ObjectDetail::Full => object,
        ObjectDetail::StatusOnly => json!({
            "apiVersion": object["apiVersion"],
            "kind": object["kind"],
            "metadata": {
                "namespace": object["metadata"].get("namespace").cloned().unwrap_or(Value::Null),
                "name": object["metadata"]["name"],
            },
            "status": object["status"],
        }),
    }
}

/// Fill every condition's missing `lastTransitionTime` (anywhere in `value`) with `now`.
pub fn stamp(mut value: Value, now: &str) -> Value {
    fn walk(value: &mut Value, now: &str) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(conditions)) = map.get_mut("conditions") {
                    for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
                        condition.entry("lastTransitionTime").or_insert_with(|| Value::String(now.to_string()));
                    }
                }
                map.values_mut().for_each(|v| walk(v, now));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, now)),
            _ => {}
        }
    }
    walk(&mut value, now);
    value
}
