//! The kinds the server serves: a fixed set of built-in ones, plus every kind a
//! CustomResourceDefinition declares (served as soon as the CRD is created).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One served resource (group + plural), with everything discovery and validation need.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    /// Served versions; the first is the storage (and preferred) version.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub status_subresource: bool,
    pub short_names: Vec<String>,
    /// OpenAPI v3 schema per version (custom resources only).
    pub schemas: BTreeMap<String, Value>,
    /// Built in (cannot be removed by deleting a CRD).
    pub builtin: bool,
}

pub type TypeKey = (String, String);

impl ResourceType {
    pub fn key(&self) -> TypeKey {
        (self.group.clone(), self.plural.clone())
    }

    pub fn storage_version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() { version.to_string() } else { format!("{}/{version}", self.group) }
    }

    /// The resource name in messages: `services`, `gateways.gateway.networking.k8s.io`.
    pub fn display(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, status: bool, short: &[&str]) -> Self {
        ResourceType {
            group: group.into(),
            versions: vec![version.into()],
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced,
            status_subresource: status,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            schemas: BTreeMap::new(),
            builtin: true,
        }
    }

    /// The CRD's kind from its spec, or a message saying what is wrong with it.
    pub fn from_crd(crd: &Value) -> Result<Self, String> {
        let spec = crd.get("spec").ok_or("spec is required")?;
        let text = |pointer: &str| spec.pointer(pointer).and_then(Value::as_str).map(str::to_string);
        let group = text("/group").ok_or("spec.group is required")?;
        let kind = text("/names/kind").ok_or("spec.names.kind is required")?;
        let plural = text("/names/plural").ok_or("spec.names.plural is required")?;
        let singular = text("/names/singular").unwrap_or_else(|| kind.to_ascii_lowercase());
        let scope = text("/scope").unwrap_or_else(|| "Namespaced".into());
        let mut served: Vec<(bool, String, Value, bool)> = Vec::new();
        for v in spec.get("versions").and_then(Value::as_array).into_iter().flatten() {
            let name = v.get("name").and_then(Value::as_str).ok_or("spec.versions[].name is required")?;
            if v.get("served").and_then(Value::as_bool) == Some(false) {
                continue;
            }
            let storage = v.get("storage").and_then(Value::as_bool).unwrap_or(false);
            let schema = v.pointer("/schema/openAPIV3Schema").cloned().unwrap_or(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
            let status = v.pointer("/subresources/status").is_some();
            served.push((storage, name.to_string(), schema, status));
        }
        if served.is_empty() {
            return Err("spec.versions must serve at least one version".into());
        }
        served.sort_by_key(|(storage, _, _, _)| !*storage);
        let short_names = spec
            .pointer("/names/shortNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Ok(ResourceType {
            group,
            versions: served.iter().map(|(_, name, _, _)| name.clone()).collect(),
            kind,
            plural,
            singular,
            namespaced: scope == "Namespaced",
            status_subresource: served.iter().any(|(_, _, _, status)| *status),
            short_names,
            schemas: served.into_iter().map(|(_, name, schema, _)| (name, schema)).collect(),
            builtin: false,
        })
    }
}

/// The built-in kinds.
pub fn builtin_types() -> Vec<ResourceType> {
    vec![
        ResourceType::builtin("", "v1", "Namespace", "namespaces", false, true, &["ns"]),
        ResourceType::builtin("", "v1", "Service", "services", true, true, &["svc"]),
        ResourceType::builtin("", "v1", "Secret", "secrets", true, false, &[]),
        ResourceType::builtin("", "v1", "ConfigMap", "configmaps", true, false, &["cm"]),
        ResourceType::builtin("", "v1", "Event", "events", true, false, &["ev"]),
        ResourceType::builtin("", "v1", "Pod", "pods", true, true, &["po"]),
        ResourceType::builtin("", "v1", "ServiceAccount", "serviceaccounts", true, false, &["sa"]),
        ResourceType::builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, true, &["pdb"]),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", true, false, &[]),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, false, &[]),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, false, &[]),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, false, &[]),
        ResourceType::builtin("apps", "v1", "Deployment", "deployments", true, true, &["deploy"]),
        ResourceType::builtin("events.k8s.io", "v1", "Event", "events", true, false, &["ev"]),
        ResourceType::builtin("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, false, &[]),
        ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", true, false, &[]),
        // Create-only: answered from RBAC, never stored (`kubectl auth can-i`).
        ResourceType::builtin("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false, false, &[]),
        ResourceType::builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, true, &["crd", "crds"]),
    ]
}
