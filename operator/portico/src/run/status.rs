//! Writing status: only when it changed (ignoring `lastTransitionTime`, which translation carries
//! over for conditions whose status did not change: the one place timestamps are kept), through the status
//! subresource, guarded by the object's resourceVersion so a concurrent write is retried on the
//! next pass instead of being overwritten.

use std::sync::Arc;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::metrics::Metrics;

/// The same, apart from condition timestamps.
pub fn same_status(current: Option<&Value>, desired: &Value) -> bool {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(map.iter().filter(|(k, _)| *k != "lastTransitionTime").map(|(k, v)| (k.clone(), strip(v))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    current.is_some_and(|c| strip(c) == strip(desired))
}

/// Patch `.status` of one object when it differs from `current`.
#[allow(clippy::too_many_arguments)]
pub async fn write(
    client: &Client,
    metrics: &Arc<Metrics>,
    changes: &super::stores::Changes,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    resource_version: Option<&str>,
    current: Option<&Value>,
    desired: Value,
) -> Result<bool, kube::Error> {
    if same_status(current, &desired) {
        return Ok(false);
    }
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let patch = json!({"metadata": {"resourceVersion": resource_version}, "status": desired});
    changes.writing(&resource.kind, namespace, name, &patch["status"]);
    let written = api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await;
    changes.written(&resource.kind, namespace, name, written.as_ref().ok().and_then(|o| o.metadata.resource_version.as_deref()));
    written?;
    metrics.status_write(&resource.kind);
    Ok(true)
}
