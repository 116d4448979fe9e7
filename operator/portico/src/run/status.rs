//! Writing status: only when it changed (ignoring `lastTransitionTime`), through the status
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

/// Keep the current `lastTransitionTime` of conditions whose status did not change (the
/// translation did so for what it computed; provider conditions are merged here).
pub fn keep_times(desired: &mut Value, current: Option<&Value>) {
    let Some(current) = current else { return };
    match (desired, current) {
        (Value::Object(d), Value::Object(c)) => {
            if let (Some(Value::Array(dc)), Some(Value::Array(cc))) = (d.get_mut("conditions"), c.get("conditions")) {
                for condition in dc.iter_mut() {
                    let before = cc.iter().find(|x| x.get("type") == condition.get("type") && x.get("status") == condition.get("status"));
                    if let Some(time) = before.and_then(|b| b.get("lastTransitionTime")) {
                        condition["lastTransitionTime"] = time.clone();
                    }
                }
            }
            for (key, value) in d.iter_mut() {
                if key != "conditions" {
                    keep_times(value, c.get(key));
                }
            }
        }
        (Value::Array(d), Value::Array(c)) => {
            for (i, item) in d.iter_mut().enumerate() {
                let peer = item.get("name").and_then(|n| c.iter().find(|x| x.get("name") == Some(n))).or_else(|| c.get(i));
                keep_times(item, peer);
            }
        }
        _ => {}
    }
}

/// Patch `.status` of one object when it differs from `current`.
#[allow(clippy::too_many_arguments)]
pub async fn write(
    client: &Client,
    metrics: &Arc<Metrics>,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
    resource_version: Option<&str>,
    current: Option<&Value>,
    mut desired: Value,
) -> Result<bool, kube::Error> {
    keep_times(&mut desired, current);
    if same_status(current, &desired) {
        return Ok(false);
    }
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let patch = json!({"metadata": {"resourceVersion": resource_version}, "status": desired});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    metrics.status_write(&resource.kind);
    Ok(true)
}
