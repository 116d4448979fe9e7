//! `portico plan`: load objects from files, translate them exactly as the operator does, and
//! print every owned object with its computed status plus each Gateway's IR.

use std::collections::BTreeMap;

use portico_model::load::Loaded;
use portico_translate::status::{ParentStatusEntry, RouteKey};
use portico_translate::{CapabilitySet, Translation, translate};
use serde::Serialize;
use serde_json::{Value, json};

/// The cluster name native plans are computed for (the operator's default `--cluster-name`).
pub const PLAN_CLUSTER: &str = "default";
/// The GCP project and region `portico plan` shows when the parameters name none.
pub const PLAN_GCP_PROJECT: &str = "example-project";
pub const PLAN_GCP_REGION: &str = "us-central1";

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

/// Translate what was loaded and build the printed document. Conditions with no
/// `lastTransitionTime` get `now` (the status writer does the same).
pub fn document(loaded: &Loaded, capabilities: &CapabilitySet, now: &str, detail: ObjectDetail) -> PlanDocument {
    let mut translation = translate(&loaded.snapshot, capabilities);
    crate::desired::refuse_haproxy_addresses(&loaded.snapshot, &mut translation);
    let aws = match capabilities.get(portico_model::ProviderKind::Aws) {
        Some(_) => crate::desired::aws_gateways(&loaded.snapshot, &mut translation, PLAN_CLUSTER),
        None => BTreeMap::new(),
    };
    let gcp_defaults = portico_gcp::Defaults { cluster: PLAN_CLUSTER.into(), project: Some(PLAN_GCP_PROJECT.into()), region: Some(PLAN_GCP_REGION.into()) };
    let gcp = match capabilities.get(portico_model::ProviderKind::Gcp) {
        Some(_) => crate::desired::gcp_gateways(&loaded.snapshot, &mut translation, &gcp_defaults),
        None => BTreeMap::new(),
    };
    let mut objects = Vec::new();
    collect_objects(loaded, &translation, now, detail, &mut objects);
    let empty = portico_aws::observed::Observed::default();
    let gcp_empty = portico_gcp::plan::Observed::default();
    let gateways = translation
        .gateways
        .iter()
        .map(|(key, ir)| {
            let aws_native =
                aws.get(key).map(|desired| json!({ "provider": "aws", "fromEmpty": portico_aws::plan_for(PLAN_CLUSTER, key, Some(desired), &empty) }));
            let gcp_native =
                gcp.get(key).map(|desired| json!({ "provider": "gcp", "fromEmpty": portico_gcp::plan_for(&gcp_defaults, key, Some(desired), &gcp_empty) }));
            let entry = match aws_native.or(gcp_native) {
                Some(native) => json!({ "ir": ir, "native": native }),
                None => json!({ "ir": ir }),
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
    let mut routes: Vec<(RouteKey, Value)> = Vec::new();
    let mut add = |kind: portico_model::RouteKind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, object: Value| {
        let key = RouteKey { kind, namespace: object_ref(meta).namespace, name: name_of(meta).to_string() };
        if let Some(status) = statuses.routes.get(&key) {
            routes.push((key, finish(object, route_status_json(status, now), detail)));
        }
    };
    use portico_model::RouteKind::*;
    for r in &s.http_routes {
        add(Http, &r.metadata, to_value(r));
    }
    for r in &s.grpc_routes {
        add(Grpc, &r.metadata, to_value(r));
    }
    for r in &s.tls_routes {
        add(Tls, &r.metadata, to_value(r));
    }
    for r in &s.tcp_routes {
        add(Tcp, &r.metadata, to_value(r));
    }
    for r in &s.udp_routes {
        add(Udp, &r.metadata, to_value(r));
    }
    routes.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(routes.into_iter().map(|(_, v)| v));
}

/// A route's `.status` as written: our entries stamped, other controllers' entries as they were.
pub fn route_status_json(status: &portico_translate::status::RouteStatus, now: &str) -> Value {
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

fn object_ref(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> portico_model::ir::ObjectRef {
    portico_model::ir::ObjectRef::new(meta.namespace.as_deref().unwrap_or("default"), name_of(meta))
}

fn to_value<T: Serialize>(object: &T) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn with_status<T: Serialize, S: Serialize>(object: &T, status: &S, now: &str, detail: ObjectDetail) -> Value {
    finish(to_value(object), stamp(to_value(status), now), detail)
}

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

/// The current UTC time as RFC 3339 with seconds precision, as Kubernetes writes condition times.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
