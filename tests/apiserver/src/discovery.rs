//! Legacy discovery documents: enough for kubectl and kube-rs to find every served kind.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::resources::ResourceType;

const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "35", "gitVersion": "v1.35.0-portico", "gitCommit": "portico-apiserver",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "none", "compiler": "rust",
        "platform": "linux/amd64"
    })
}

pub fn core_versions(address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]})
}

fn groups<'a>(types: impl Iterator<Item = &'a ResourceType>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rt in types.filter(|t| !t.group.is_empty()) {
        let versions = out.entry(rt.group.clone()).or_default();
        for v in &rt.versions {
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
    }
    out
}

fn group_document(name: &str, versions: &[String]) -> Value {
    let entries: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": entries, "preferredVersion": entries.first().cloned().unwrap_or(Value::Null)})
}

pub fn group_list<'a>(types: impl Iterator<Item = &'a ResourceType>) -> Value {
    let groups: Vec<Value> = groups(types).iter().map(|(name, versions)| group_document(name, versions)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group<'a>(types: impl Iterator<Item = &'a ResourceType>, name: &str) -> Option<Value> {
    let groups = groups(types);
    let versions = groups.get(name)?;
    let mut doc = group_document(name, versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `APIResourceList` for one group/version, with `/status` subresources listed.
pub fn resource_list<'a>(types: impl Iterator<Item = &'a ResourceType>, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in types.filter(|t| t.group == group && t.versions.iter().any(|v| v == version)) {
        resources.push(json!({
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
            "verbs": if rt.kind.ends_with("Review") { &["create"][..] } else { VERBS }, "shortNames": rt.short_names,
            "categories": if rt.group.contains("gateway.networking.k8s.io") { json!(["gateway-api"]) } else { json!([]) },
        }));
        if rt.status_subresource {
            resources.push(json!({"name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]}));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

/// `/openapi/v3`: one entry per served group/version.
pub fn openapi_index<'a>(types: impl Iterator<Item = &'a ResourceType>) -> Value {
    let mut paths = serde_json::Map::new();
    for rt in types {
        for v in &rt.versions {
            let key = if rt.group.is_empty() { format!("api/{v}") } else { format!("apis/{}/{v}", rt.group) };
            paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=portico")}));
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<group-version>`: the operations of each kind (kubectl sees the server validates
/// fields itself: `fieldValidation` on PATCH) and the kinds' schemas (`kubectl explain`).
pub fn openapi_group_version<'a>(types: impl Iterator<Item = &'a ResourceType>, group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    let types: Vec<&ResourceType> = types.collect();
    for rt in types.iter().filter(|t| t.group == group && t.versions.iter().any(|v| v == version)) {
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let item = if rt.namespaced { format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural) } else { format!("{prefix}/{}/{{name}}", rt.plural) };
        let gvk = json!({"group": group, "version": version, "kind": rt.kind});
        let parameters = json!([
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}},
        ]);
        let operation = |action: &str| json!({"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": action, "parameters": parameters, "responses": {"200": {"description": "OK"}}});
        paths.insert(item, json!({"get": operation("get"), "put": operation("put"), "patch": operation("patch"), "delete": operation("delete")}));
    }
    if paths.is_empty() {
        return None;
    }
    let schemas = crate::openapi::schemas(types.into_iter(), group, version);
    Some(json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.35.0"}, "paths": paths, "components": {"schemas": schemas}}))
}
