//! Mutating calls. Each is first planned against the store (validated, nothing changed), then
//! applied, unless an injected operation error says the operation failed.

use serde_json::{Map, Value, json};

use crate::collections::{self, SERVER_OWNED};
use crate::errors::ApiError;
use crate::ops::OperationTarget;
use crate::routes::Call;
use crate::store::{Key, Store, collect_strings, label_fingerprint, resolve_reference, same_fingerprint};
use crate::time::{now_unix, rfc3339};

/// What applying a plan does to the store.
#[derive(Debug, Clone)]
pub enum Change {
    Put(Value),
    Remove,
    PutWithEndpoints(Value, Vec<Value>),
}

/// A validated change, and what its operation reports.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: OperationTarget,
    pub change: Change,
}

/// The fields that identify a network endpoint.
const ENDPOINT_IDENTITY: &[&str] = &["ipAddress", "ipv6Address", "port", "instance", "fqdn"];

/// Validate a mutating call and work out its change.
pub fn plan(store: &mut Store, call: &Call, body: Value) -> Result<Plan, ApiError> {
    let key = call.key();
    match call.method.as_str() {
        "insert" => plan_insert(store, &key, body),
        "update" => {
            let stored = existing(store, &key)?;
            let fields = into_object(body)?;
            check_fingerprint(&key, &stored, &fields)?;
            finish(store, &key, "update", fields, Some(&stored))
        }
        "patch" => {
            let stored = existing(store, &key)?;
            let patch = into_object(body)?;
            check_fingerprint(&key, &stored, &patch)?;
            let mut merged = stored.clone();
            merge_patch(&mut merged, &Value::Object(patch));
            finish(store, &key, "patch", into_object(merged)?, Some(&stored))
        }
        "delete" => plan_delete(store, &key),
        verb => plan_verb(store, &key, verb, into_object(body)?),
    }
}

/// Carry out a plan.
pub fn apply(store: &mut Store, plan: &Plan) {
    let key = plan.target.key.clone();
    match &plan.change {
        Change::Put(resource) => store.put(key, resource.clone()),
        Change::Remove => {
            store.remove(&key);
        }
        Change::PutWithEndpoints(resource, endpoints) => {
            store.set_endpoints(key.clone(), endpoints.clone());
            store.put(key, resource.clone());
        }
    }
}

fn plan_insert(store: &mut Store, scope: &Key, body: Value) -> Result<Plan, ApiError> {
    let fields = into_object(body)?;
    let name = match fields.get("name") {
        None | Some(Value::Null) => return Err(ApiError::Invalid("Required field 'resource.name' not specified".into())),
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(ApiError::Invalid(format!("Invalid value for field 'resource.name': {other}"))),
    };
    if !collections::valid_name(&name) {
        return Err(ApiError::Invalid(format!("Invalid value for field 'resource.name': '{name}'. Names must match [a-z]([-a-z0-9]{{0,61}}[a-z0-9])?")));
    }
    let key = Key { name, ..scope.clone() };
    if store.get(&key).is_some() {
        return Err(ApiError::AlreadyExists(format!("The resource '{}' already exists", key.path())));
    }
    finish(store, &key, "insert", fields, None)
}

fn plan_delete(store: &Store, key: &Key) -> Result<Plan, ApiError> {
    let stored = existing(store, key)?;
    if let Some(referrer) = store.first_referrer(key) {
        return Err(ApiError::ResourceInUse(format!(
            "The {} resource '{}' is already being used by '{}'",
            collections::singular(&key.collection),
            key.path(),
            referrer.path()
        )));
    }
    let target = OperationTarget { key: key.clone(), operation_type: "delete".into(), target_id: id_of(&stored) };
    Ok(Plan { target, change: Change::Remove })
}

fn plan_verb(store: &mut Store, key: &Key, verb: &str, request: Map<String, Value>) -> Result<Plan, ApiError> {
    let endpoints_verb = matches!(verb, "attachNetworkEndpoints" | "detachNetworkEndpoints");
    if endpoints_verb && key.collection == "networkEndpointGroups" {
        return plan_endpoints(store, key, verb, &request);
    }
    if verb == "setLabels" {
        return plan_set_labels(store, key, &request);
    }
    let Some(setter_fields) = collections::setter_fields(&key.collection, verb) else {
        return Err(ApiError::Invalid(format!("Unknown custom method '{verb}' for {}: the Compute fake does not implement it.", key.collection)));
    };
    let stored = existing(store, key)?;
    let mut fields = into_object(stored.clone())?;
    for field in setter_fields {
        match request.get(*field) {
            Some(value) if !value.is_null() => fields.insert(field.to_string(), value.clone()),
            _ => fields.remove(*field),
        };
    }
    finish(store, key, verb, fields, Some(&stored))
}

fn plan_set_labels(store: &mut Store, key: &Key, request: &Map<String, Value>) -> Result<Plan, ApiError> {
    let stored = existing(store, key)?;
    let current = stored.get("labelFingerprint").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| label_fingerprint(stored.get("labels")));
    match request.get("labelFingerprint").and_then(Value::as_str) {
        None => return Err(ApiError::Invalid("Required field 'labelFingerprint' not specified".into())),
        Some(given) if !same_fingerprint(given, &current) => {
            return Err(ApiError::ConditionNotMet(format!("Invalid labelFingerprint: the labels of '{}' changed since they were read.", key.path())));
        }
        Some(_) => {}
    }
    let mut fields = into_object(stored.clone())?;
    fields.insert("labels".into(), request.get("labels").cloned().unwrap_or_else(|| json!({})));
    finish(store, key, "setLabels", fields, Some(&stored))
}

fn plan_endpoints(store: &mut Store, key: &Key, verb: &str, request: &Map<String, Value>) -> Result<Plan, ApiError> {
    let stored = existing(store, key)?;
    let given = match request.get("networkEndpoints") {
        Some(Value::Array(given)) if given.iter().all(Value::is_object) => given.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(ApiError::Invalid("Invalid value for field 'networkEndpoints': expected a list of objects".into())),
    };
    let mut endpoints = store.endpoints(key).to_vec();
    if verb == "attachNetworkEndpoints" {
        for endpoint in given {
            if !endpoints.iter().any(|present| same_endpoint(present, &endpoint)) {
                endpoints.push(endpoint);
            }
        }
    } else {
        endpoints.retain(|present| !given.iter().any(|request| endpoint_matches(request, present)));
    }
    let mut fields = into_object(stored.clone())?;
    shape(store, key, &mut fields, Some(&stored));
    fields.insert("size".into(), json!(endpoints.len()));
    let resource = Value::Object(fields);
    let target = OperationTarget { key: key.clone(), operation_type: verb.into(), target_id: id_of(&resource) };
    Ok(Plan { target, change: Change::PutWithEndpoints(resource, endpoints) })
}

fn same_endpoint(left: &Value, right: &Value) -> bool {
    ENDPOINT_IDENTITY.iter().all(|field| left.get(field) == right.get(field))
}

/// A detach request names an endpoint by the identity fields it gives.
fn endpoint_matches(request: &Value, present: &Value) -> bool {
    ENDPOINT_IDENTITY.iter().filter_map(|field| request.get(field).map(|value| (field, value))).all(|(field, value)| present.get(field) == Some(value))
}

/// Shape, validate and wrap a resource about to be stored.
fn finish(store: &mut Store, key: &Key, operation_type: &str, mut fields: Map<String, Value>, previous: Option<&Value>) -> Result<Plan, ApiError> {
    shape(store, key, &mut fields, previous);
    let resource = Value::Object(fields);
    validate(store, key, &resource)?;
    let target = OperationTarget { key: key.clone(), operation_type: operation_type.into(), target_id: id_of(&resource) };
    Ok(Plan { target, change: Change::Put(resource) })
}

/// Fill in everything the server owns: identity, defaults, allocated addresses, a new
/// fingerprint and the label fingerprint.
pub fn shape(store: &mut Store, key: &Key, fields: &mut Map<String, Value>, previous: Option<&Value>) {
    match previous.and_then(Value::as_object) {
        Some(previous) => {
            for field in SERVER_OWNED.iter().chain(collections::extra_server_owned(&key.collection)) {
                match previous.get(*field) {
                    Some(value) => fields.insert(field.to_string(), value.clone()),
                    None => fields.remove(*field),
                };
            }
        }
        None => set_identity(store, key, fields),
    }
    collections::fill_defaults(&key.collection, fields);
    collections::normalize(&key.collection, fields, &rfc3339(now_unix() + 90 * 86_400));
    if matches!(key.collection.as_str(), "addresses" | "forwardingRules") {
        assign_ip(store, key, fields);
    }
    fields.insert("fingerprint".into(), json!(store.next_fingerprint()));
    if fields.get("labels").and_then(Value::as_object).is_some_and(Map::is_empty) {
        fields.remove("labels");
    }
    if fields.contains_key("labels") || collections::always_labelled(&key.collection) {
        fields.insert("labelFingerprint".into(), json!(label_fingerprint(fields.get("labels"))));
    }
}

fn set_identity(store: &mut Store, key: &Key, fields: &mut Map<String, Value>) {
    fields.insert("kind".into(), json!(collections::kind(&key.collection)));
    fields.insert("id".into(), json!(store.next_id()));
    fields.insert("name".into(), json!(key.name));
    fields.insert("selfLink".into(), json!(key.self_link(&store.base)));
    fields.insert("creationTimestamp".into(), json!(rfc3339(now_unix())));
    let location_url = crate::store::location_link(&store.base, &key.project, &key.location);
    fields.remove("region");
    fields.remove("zone");
    if key.location.starts_with("regions/") {
        fields.insert("region".into(), json!(location_url));
    } else if key.location.starts_with("zones/") {
        fields.insert("zone".into(), json!(location_url));
    }
}

/// Give an address or forwarding rule an IP: the one of a named address resource, or a new one.
fn assign_ip(store: &mut Store, key: &Key, fields: &mut Map<String, Value>) {
    let field = if key.collection == "addresses" { "address" } else { "IPAddress" };
    if let Some(given) = fields.get(field).and_then(Value::as_str) {
        let named_address = resolve_reference(given, &key.project)
            .filter(|address| address.collection == "addresses")
            .and_then(|address| store.get(&address))
            .and_then(|address| address.get("address"))
            .cloned();
        if let Some(ip) = named_address {
            fields.insert(field.into(), ip);
        }
        return;
    }
    let text_of = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let internal = if key.collection == "addresses" { text_of("addressType") == "INTERNAL" } else { text_of("loadBalancingScheme").starts_with("INTERNAL") };
    let ipv6 = text_of("ipVersion") == "IPV6";
    let number = store.next_number();
    fields.insert(field.into(), json!(collections::allocate_ip(number, &key.location, internal, ipv6)));
}

/// References to load-balancing resources must resolve; URL maps have their own checks.
fn validate(store: &Store, key: &Key, resource: &Value) -> Result<(), ApiError> {
    let mut strings = Vec::new();
    collect_strings(resource, &mut strings);
    for text in strings {
        if let Some(target) = resolve_reference(text, &key.project)
            && target != *key
            && collections::references_checked(&target.collection)
            && store.get(&target).is_none()
        {
            return Err(ApiError::NotFound(format!("The resource '{}' was not found", target.path())));
        }
    }
    if key.collection == "urlMaps" {
        collections::check_url_map(resource)?;
        crate::checks::check_route_actions(resource)?;
    }
    if key.collection == "targetHttpsProxies" {
        crate::checks::check_target_https_proxy(resource)?;
    }
    Ok(())
}

fn check_fingerprint(key: &Key, stored: &Value, request: &Map<String, Value>) -> Result<(), ApiError> {
    let current = stored.get("fingerprint").and_then(Value::as_str).unwrap_or_default();
    match request.get("fingerprint").and_then(Value::as_str) {
        Some(given) if !same_fingerprint(given, current) => {
            Err(ApiError::ConditionNotMet(format!("Invalid fingerprint: '{}' changed since it was read.", key.path())))
        }
        None if collections::fingerprint_required(&key.collection) => {
            Err(ApiError::ConditionNotMet(format!("Invalid fingerprint: modifying '{}' requires its current fingerprint.", key.path())))
        }
        _ => Ok(()),
    }
}

fn existing(store: &Store, key: &Key) -> Result<Value, ApiError> {
    store.get(key).cloned().ok_or_else(|| ApiError::NotFound(format!("The resource '{}' was not found", key.path())))
}

fn into_object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(ApiError::Invalid(format!("Invalid JSON payload received: expected an object, got {other}"))),
    }
}

fn id_of(resource: &Value) -> Option<String> {
    resource.get("id").and_then(Value::as_str).map(str::to_string)
}

/// JSON merge patch (RFC 7386), the semantics of the Compute API's PATCH.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(fields) = target {
        for (field, value) in patch_fields {
            if value.is_null() {
                fields.remove(field);
            } else {
                merge_patch(fields.entry(field.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_replaces_given_fields_and_keeps_the_rest() {
        let mut resource = json!({"a": 1, "nested": {"x": 1, "y": 2}, "list": [1, 2], "gone": true});
        merge_patch(&mut resource, &json!({"nested": {"y": 3}, "list": [3], "gone": null, "new": "n"}));
        assert_eq!(resource, json!({"a": 1, "nested": {"x": 1, "y": 3}, "list": [3], "new": "n"}));
    }

    #[test]
    fn detach_matches_on_the_fields_given() {
        let present = json!({"ipAddress": "10.0.0.1", "port": 80, "instance": "vm"});
        assert!(endpoint_matches(&json!({"ipAddress": "10.0.0.1", "port": 80}), &present));
        assert!(!endpoint_matches(&json!({"ipAddress": "10.0.0.1", "port": 81}), &present));
        assert!(!same_endpoint(&json!({"ipAddress": "10.0.0.1", "port": 80}), &present));
    }
}
