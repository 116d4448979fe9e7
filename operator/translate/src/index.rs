//! Lookups over a snapshot, built once per translation, plus the two cross-cutting checks every
//! part of translation uses: ReferenceGrants and label selectors.

use std::collections::{BTreeMap, HashMap};

use gateway_api::experimental::referencegrants::ReferenceGrant;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use portico_model::{ParametersObject, Snapshot};

pub struct Index<'a> {
    namespaces: HashMap<&'a str, &'a BTreeMap<String, String>>,
    /// By namespace, then name.
    services: HashMap<&'a str, HashMap<&'a str, &'a Service>>,
    secrets: HashMap<&'a str, HashMap<&'a str, &'a Secret>>,
    config_maps: HashMap<&'a str, HashMap<&'a str, &'a ConfigMap>>,
    /// EndpointSlices by namespace, then service name (the `kubernetes.io/service-name` label).
    slices: HashMap<&'a str, HashMap<&'a str, Vec<&'a EndpointSlice>>>,
    grants: HashMap<&'a str, Vec<&'a ReferenceGrant>>,
    parameters: &'a [ParametersObject],
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (&str, &str) {
    (meta.namespace.as_deref().unwrap_or("default"), meta.name.as_deref().unwrap_or(""))
}

impl<'a> Index<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut slices: HashMap<&str, HashMap<&str, Vec<&EndpointSlice>>> = HashMap::new();
        for slice in &snapshot.endpoint_slices {
            let service = slice.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name"));
            if let Some(service) = service {
                slices.entry(ns_name(&slice.metadata).0).or_default().entry(service.as_str()).or_default().push(slice);
            }
        }
        for list in slices.values_mut().flat_map(|m| m.values_mut()) {
            list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        }
        let mut services: HashMap<&str, HashMap<&str, &Service>> = HashMap::new();
        for service in &snapshot.services {
            let (ns, name) = ns_name(&service.metadata);
            services.entry(ns).or_default().insert(name, service);
        }
        let mut secrets: HashMap<&str, HashMap<&str, &Secret>> = HashMap::new();
        // Only `kubernetes.io/tls` Secrets are certificates (the operator caches no other type).
        for secret in snapshot.secrets.iter().filter(|s| s.type_.as_deref() == Some(portico_model::snapshot::TLS_SECRET_TYPE)) {
            let (ns, name) = ns_name(&secret.metadata);
            secrets.entry(ns).or_default().insert(name, secret);
        }
        let mut config_maps: HashMap<&str, HashMap<&str, &ConfigMap>> = HashMap::new();
        for map in &snapshot.config_maps {
            let (ns, name) = ns_name(&map.metadata);
            config_maps.entry(ns).or_default().insert(name, map);
        }
        let mut grants: HashMap<&str, Vec<&ReferenceGrant>> = HashMap::new();
        for grant in &snapshot.reference_grants {
            grants.entry(ns_name(&grant.metadata).0).or_default().push(grant);
        }
        Index {
            namespaces: snapshot
                .namespaces
                .iter()
                .map(|n| (n.metadata.name.as_deref().unwrap_or(""), n.metadata.labels.as_ref().unwrap_or(&NO_LABELS)))
                .collect(),
            services,
            secrets,
            config_maps,
            slices,
            grants,
            parameters: &snapshot.parameters,
        }
    }

    /// Labels of a namespace. A namespace missing from the snapshot has none, except the
    /// well-known `kubernetes.io/metadata.name` label every namespace carries.
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(namespace).map(|l| (*l).clone()).unwrap_or_default();
        labels.entry("kubernetes.io/metadata.name".into()).or_insert_with(|| namespace.to_string());
        labels
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        self.services.get(namespace).and_then(|m| m.get(name)).copied()
    }

    pub fn secret(&self, namespace: &str, name: &str) -> Option<&'a Secret> {
        self.secrets.get(namespace).and_then(|m| m.get(name)).copied()
    }

    pub fn config_map(&self, namespace: &str, name: &str) -> Option<&'a ConfigMap> {
        self.config_maps.get(namespace).and_then(|m| m.get(name)).copied()
    }

    pub fn endpoint_slices(&self, namespace: &str, service: &str) -> &[&'a EndpointSlice] {
        self.slices.get(namespace).and_then(|m| m.get(service)).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn parameters(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&'a ParametersObject> {
        self.parameters.iter().find(|p| p.kind == kind && p.name == name && p.namespace.as_deref() == namespace)
    }

    /// Does a ReferenceGrant in `to_namespace` allow `from` (group, kind, namespace) to refer to
    /// `to` (group, kind, name)?
    pub fn grant_allows(&self, from: (&str, &str, &str), to_namespace: &str, to: (&str, &str, &str)) -> bool {
        let Some(grants) = self.grants.get(to_namespace) else { return false };
        grants.iter().any(|grant| {
            let from_ok = grant.spec.from.iter().any(|f| f.group == from.0 && f.kind == from.1 && f.namespace == from.2);
            let to_ok = grant.spec.to.iter().any(|t| t.group == to.0 && t.kind == to.1 && t.name.as_deref().is_none_or(|n| n == to.2));
            from_ok && to_ok
        })
    }
}

/// A [`Selector`] viewing an `Option<&...Selector>` of any of the generated Gateway API types
/// (each kind has its own type for the same `metav1.LabelSelector` fields).
macro_rules! selector_view {
    ($selector:expr) => {{
        let selector = $selector;
        $crate::index::Selector {
            match_labels: selector.and_then(|s| s.match_labels.as_ref()),
            expressions: selector
                .and_then(|s| s.match_expressions.as_ref())
                .into_iter()
                .flatten()
                .map(|e| (e.key.as_str(), e.operator.as_str(), e.values.as_deref().unwrap_or(&[])))
                .collect(),
        }
    }};
}
pub(crate) use selector_view;

/// A `metav1.LabelSelector` in the shape the Gateway API types carry it.
pub struct Selector<'s> {
    pub match_labels: Option<&'s BTreeMap<String, String>>,
    pub expressions: Vec<(&'s str, &'s str, &'s [String])>,
}

impl Selector<'_> {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_ok = self.match_labels.into_iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
        labels_ok
            && self.expressions.iter().all(|(key, operator, values)| {
                let value = labels.get(*key);
                match *operator {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}
