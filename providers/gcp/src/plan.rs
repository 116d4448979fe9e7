//! Pure: the diff between the native model and what was observed, as ordered steps.
//!
//! Creates and changes run in creation order (a resource only refers to kinds created before
//! it; a NEG's endpoint changes follow the NEG), deletes last in reverse order. How a changed
//! resource is changed depends on its kind: replaced in place with its fingerprint (`update`:
//! URL maps, backend services, health checks, firewall rules; a patch could not remove fields),
//! patched (HTTPS proxies), `setUrlMap` (HTTP proxies), `setTarget` or delete and insert
//! (forwarding rules). Kinds GCP cannot change in place carry a content hash in their name
//! (certificates, TCP proxies), so a change is a new resource and the old one goes last.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::native::{Kind, Native, NetworkEndpoint, ResourceKey};

/// What exists on GCP for one Gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    /// Resources with this Gateway's names and our ownership record.
    pub resources: BTreeMap<ResourceKey, Value>,
    /// Resources with this Gateway's names that Portico does not own.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub foreign: BTreeSet<ResourceKey>,
    /// Endpoints of the NEGs we own.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<ResourceKey, BTreeSet<NetworkEndpoint>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Step {
    Insert {
        key: ResourceKey,
        body: Value,
    },
    /// Replace in place; the body carries the observed `fingerprint`.
    Update {
        key: ResourceKey,
        body: Value,
    },
    /// Change the fields given; the body carries the observed `fingerprint`.
    Patch {
        key: ResourceKey,
        body: Value,
    },
    SetUrlMap {
        key: ResourceKey,
        url_map: String,
    },
    SetTarget {
        key: ResourceKey,
        target: String,
    },
    /// Attach (or, with `None`, detach) a Cloud Armor policy.
    SetSecurityPolicy {
        key: ResourceKey,
        policy: Option<String>,
    },
    AttachEndpoints {
        key: ResourceKey,
        endpoints: Vec<NetworkEndpoint>,
    },
    DetachEndpoints {
        key: ResourceKey,
        endpoints: Vec<NetworkEndpoint>,
    },
    Delete {
        key: ResourceKey,
    },
}

impl Step {
    /// The Compute operation the step makes, e.g. `urlMaps.patch`.
    pub fn operation(&self) -> String {
        let verb = match self {
            Step::Insert { .. } => "insert",
            Step::Update { .. } => "update",
            Step::Patch { .. } => "patch",
            Step::SetUrlMap { .. } => "setUrlMap",
            Step::SetTarget { .. } => "setTarget",
            Step::SetSecurityPolicy { .. } => "setSecurityPolicy",
            Step::AttachEndpoints { .. } => "attachNetworkEndpoints",
            Step::DetachEndpoints { .. } => "detachNetworkEndpoints",
            Step::Delete { .. } => "delete",
        };
        format!("{}.{verb}", self.key().kind.collection())
    }

    /// The resource the step changes.
    pub fn key(&self) -> &ResourceKey {
        match self {
            Step::Insert { key, .. }
            | Step::Update { key, .. }
            | Step::Patch { key, .. }
            | Step::SetUrlMap { key, .. }
            | Step::SetTarget { key, .. }
            | Step::SetSecurityPolicy { key, .. }
            | Step::AttachEndpoints { key, .. }
            | Step::DetachEndpoints { key, .. }
            | Step::Delete { key } => key,
        }
    }
}

/// The plan's steps in waves that may run concurrently: consecutive steps of one operation
/// (e.g. every `backendServices.insert`) on distinct resources. No Compute resource refers to
/// another of its own kind, so a wave's steps are independent; the plan's order between waves
/// (what is referred to before what refers to it, deletes last) is kept.
#[cfg_attr(not(feature = "sdk"), allow(dead_code))]
pub fn waves(steps: &[Step]) -> Vec<&[Step]> {
    let mut waves = Vec::new();
    let mut start = 0;
    for end in 1..=steps.len() {
        let closes = end == steps.len() || {
            let next = &steps[end];
            next.operation() != steps[start].operation() || steps[start..end].iter().any(|s| s.key() == next.key())
        };
        if closes {
            waves.push(&steps[start..end]);
            start = end;
        }
    }
    waves
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub project: String,
    pub steps: Vec<Step>,
}

/// Steps that turn `observed` into `native` (`None`: delete everything observed).
pub fn plan(native: Option<&Native>, observed: &Observed) -> Plan {
    let empty = Native::default();
    let native = native.unwrap_or(&empty);
    let mut steps = Vec::new();
    for (key, body) in &native.resources {
        let current = observed.resources.get(key);
        match current {
            None => steps.push(Step::Insert { key: key.clone(), body: body.clone() }),
            Some(current) if !contains(current, &comparable(key, body)) => steps.extend(change(key, body, current)),
            Some(_) => {}
        }
        if key.kind == Kind::BackendService {
            let have = current.and_then(|c| c["securityPolicy"].as_str()).map(str::to_string);
            let want = native.security_policies.get(key).cloned();
            if !links_equal(have.as_deref(), want.as_deref()) {
                steps.push(Step::SetSecurityPolicy { key: key.clone(), policy: want });
            }
        }
        if key.kind == Kind::NetworkEndpointGroup {
            steps.extend(endpoint_steps(key, native.endpoints.get(key), observed.endpoints.get(key)));
        }
    }
    // Each kind's resource writes before its follow-ups (endpoint attaches, then detaches, then
    // security policies): every follow-up still comes after the write of its own resource (and a
    // NEG's attaches before its detaches, as before), and each forms one run that `waves`
    // applies concurrently.
    steps.sort_by_key(|step| {
        let phase = match step {
            Step::AttachEndpoints { .. } => 1,
            Step::DetachEndpoints { .. } => 2,
            Step::SetSecurityPolicy { .. } => 3,
            _ => 0,
        };
        (step.key().kind, phase)
    });
    let mut gone: Vec<&ResourceKey> = observed.resources.keys().filter(|k| !native.resources.contains_key(k)).collect();
    gone.sort_by(|a, b| b.kind.cmp(&a.kind).then(a.cmp(b)));
    steps.extend(gone.into_iter().map(|key| Step::Delete { key: key.clone() }));
    Plan { project: native.project.clone(), steps }
}

/// The part of a desired body GCP reports back as written. A forwarding rule's `IPAddress`
/// given as an address link comes back as the IP itself (the description names the address, so
/// a different address is still seen); labels are only set when a resource is created.
fn comparable(key: &ResourceKey, body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("labels");
        if key.kind == Kind::ForwardingRule && object.get("IPAddress").and_then(Value::as_str).is_some_and(|a| a.starts_with("projects/")) {
            object.remove("IPAddress");
        }
    }
    body
}

fn links_equal(have: Option<&str>, want: Option<&str>) -> bool {
    match (have, want) {
        (Some(have), Some(want)) => contains(&Value::String(have.into()), &Value::String(want.into())),
        (None, None) => true,
        _ => false,
    }
}

/// How a changed resource is changed, by kind.
fn change(key: &ResourceKey, desired: &Value, current: &Value) -> Vec<Step> {
    match key.kind {
        Kind::TargetHttpProxy => vec![Step::SetUrlMap { key: key.clone(), url_map: desired["urlMap"].as_str().unwrap_or_default().to_string() }],
        Kind::ForwardingRule => {
            let mut same_but_target = comparable(key, desired);
            same_but_target["target"] = current["target"].clone();
            match desired["target"].as_str() {
                Some(target) if contains(current, &same_but_target) => vec![Step::SetTarget { key: key.clone(), target: target.into() }],
                _ => vec![Step::Delete { key: key.clone() }, Step::Insert { key: key.clone(), body: desired.clone() }],
            }
        }
        kind if kind.updatable() => {
            let mut body = desired.clone();
            if let Some(fingerprint) = current.get("fingerprint") {
                body["fingerprint"] = fingerprint.clone();
            }
            match kind {
                Kind::TargetHttpsProxy => vec![Step::Patch { key: key.clone(), body }],
                _ => vec![Step::Update { key: key.clone(), body }],
            }
        }
        // Created once: their names carry what would change them (certificates, TCP proxies)
        // or they have nothing Portico changes later (addresses, NEGs).
        _ => Vec::new(),
    }
}

fn endpoint_steps(key: &ResourceKey, desired: Option<&BTreeSet<NetworkEndpoint>>, current: Option<&BTreeSet<NetworkEndpoint>>) -> Vec<Step> {
    let empty = BTreeSet::new();
    let (desired, current) = (desired.unwrap_or(&empty), current.unwrap_or(&empty));
    let mut steps = Vec::new();
    // GCP takes at most 500 endpoints per attach/detach call.
    for chunk in desired.difference(current).cloned().collect::<Vec<_>>().chunks(500) {
        steps.push(Step::AttachEndpoints { key: key.clone(), endpoints: chunk.to_vec() });
    }
    for chunk in current.difference(desired).cloned().collect::<Vec<_>>().chunks(500) {
        steps.push(Step::DetachEndpoints { key: key.clone(), endpoints: chunk.to_vec() });
    }
    steps
}

/// Whether `current` (as GCP returns it) already has everything `desired` sets. GCP adds
/// fields, returns full URLs for the `projects/...` links Portico writes, and omits empty
/// lists; numbers compare by value.
pub fn contains(current: &Value, desired: &Value) -> bool {
    match (current, desired) {
        (_, Value::Array(d)) if d.is_empty() => current.is_null() || current.as_array().is_some_and(Vec::is_empty),
        (_, Value::Object(d)) if d.is_empty() => current.is_null() || current.as_object().is_some_and(|c| c.is_empty()),
        (Value::Object(c), Value::Object(d)) => {
            d.iter().filter(|(k, _)| k.as_str() != "fingerprint").all(|(k, v)| contains(c.get(k).unwrap_or(&Value::Null), v))
        }
        (Value::Array(c), Value::Array(d)) => c.len() == d.len() && c.iter().zip(d).all(|(c, d)| contains(c, d)),
        (Value::String(c), Value::String(d)) => c == d || (d.starts_with("projects/") && c.ends_with(&format!("/{d}"))) || numbers_equal(current, desired),
        (Value::Number(_), _) | (_, Value::Number(_)) => numbers_equal(current, desired),
        _ => current == desired,
    }
}

/// GCP's JSON writes 64-bit integers as strings.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    matches!((number(a), number(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observed_bodies_with_more_fields_and_full_urls_contain_the_desired_one() {
        let desired = json!({ "name": "a", "urlMap": "projects/p/global/urlMaps/m", "hostRules": [], "port": 80, "weight": 1000 });
        let current = json!({ "name": "a", "urlMap": "https://compute.googleapis.com/compute/v1/projects/p/global/urlMaps/m", "id": "1", "port": "80", "weight": 1000.0 });
        assert!(contains(&current, &desired));
        assert!(!contains(&json!({ "name": "a", "hostRules": [{ "hosts": ["x"] }] }), &json!({ "name": "a", "hostRules": [] })));
        assert!(!contains(&json!({ "rules": [1, 2] }), &json!({ "rules": [1] })));
    }

    #[test]
    fn unchanged_is_empty_changes_follow_the_kind_and_deletes_come_last_in_reverse() {
        let key = |kind, name: &str| ResourceKey::new(kind, "global", name);
        let mut native = Native { project: "p".into(), ..Native::default() };
        native.resources.insert(key(Kind::UrlMap, "um"), json!({ "name": "um", "defaultService": "x" }));
        native.resources.insert(key(Kind::TargetHttpProxy, "thp"), json!({ "name": "thp", "urlMap": "projects/p/global/urlMaps/um" }));
        let mut observed = Observed::default();
        observed.resources.insert(key(Kind::UrlMap, "um"), json!({ "name": "um", "defaultService": "y", "fingerprint": "f1" }));
        observed.resources.insert(key(Kind::TargetHttpProxy, "thp"), json!({ "name": "thp", "urlMap": "projects/p/global/urlMaps/old" }));
        observed.resources.insert(key(Kind::BackendService, "bs"), json!({ "name": "bs" }));
        observed.resources.insert(key(Kind::ForwardingRule, "fr"), json!({ "name": "fr" }));
        let steps = plan(Some(&native), &observed).steps;
        let operations: Vec<String> = steps.iter().map(Step::operation).collect();
        assert_eq!(operations, ["urlMaps.update", "targetHttpProxies.setUrlMap", "forwardingRules.delete", "backendServices.delete"]);
        assert!(matches!(&steps[0], Step::Update { body, .. } if body["fingerprint"] == "f1"));
        let mut applied = observed.clone();
        applied.resources = native.resources.clone();
        assert!(plan(Some(&native), &applied).steps.is_empty());
    }

    #[test]
    fn waves_group_one_operation_on_distinct_resources_and_keep_the_order() {
        let key = |kind, name: &str| ResourceKey::new(kind, "global", name);
        let insert = |kind, name: &str| Step::Insert { key: key(kind, name), body: json!({ "name": name }) };
        let attach = |name: &str| Step::AttachEndpoints { key: key(Kind::NetworkEndpointGroup, name), endpoints: Vec::new() };
        let steps = vec![
            insert(Kind::HealthCheck, "hc"),
            insert(Kind::BackendService, "a"),
            insert(Kind::BackendService, "b"),
            attach("n1"),
            attach("n2"),
            attach("n1"),
            insert(Kind::UrlMap, "um"),
            Step::Delete { key: key(Kind::BackendService, "old") },
        ];
        let shape: Vec<Vec<String>> = waves(&steps).iter().map(|w| w.iter().map(|s| format!("{} {}", s.operation(), s.key().name)).collect()).collect();
        let expected: Vec<Vec<&str>> = vec![
            vec!["healthChecks.insert hc"],
            vec!["backendServices.insert a", "backendServices.insert b"],
            vec!["networkEndpointGroups.attachNetworkEndpoints n1", "networkEndpointGroups.attachNetworkEndpoints n2"],
            vec!["networkEndpointGroups.attachNetworkEndpoints n1"],
            vec!["urlMaps.insert um"],
            vec!["backendServices.delete old"],
        ];
        assert_eq!(shape, expected, "two changes of one resource never run at once");
        assert_eq!(waves(&steps).iter().map(|w| w.len()).sum::<usize>(), steps.len());
        assert!(waves(&[]).is_empty());
    }
}

/// Where the Gateway's address comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AddressSource {
    /// A reserved address resource (ours or named by the Gateway): read its IP.
    Resource(ResourceKey),
    /// A literal IP from `spec.addresses`.
    Literal(String),
    /// Nothing is exposed (no listener could be programmed).
    #[default]
    None,
}
