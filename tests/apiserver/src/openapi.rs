//! The `components.schemas` of `/openapi/v3/<group-version>` documents, for `kubectl explain`:
//! built-in kinds from `k8s-openapi`'s schemas (the Kubernetes release's own), custom resources
//! from their CRD's `openAPIV3Schema`. Each kind's schema carries `x-kubernetes-group-version-kind`,
//! which kubectl looks kinds up by.

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The built-in kind's schema, by its definition name (`io.k8s.api.core.v1.Service`).
fn builtin(generator: &mut SchemaGenerator, group: &str, kind: &str) -> Option<String> {
    use k8s_openapi::api::{apps, coordination, core, discovery, events, policy, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    Some(match (group, kind) {
        ("", "Namespace") => add::<core::v1::Namespace>(generator),
        ("", "Service") => add::<core::v1::Service>(generator),
        ("", "Secret") => add::<core::v1::Secret>(generator),
        ("", "ConfigMap") => add::<core::v1::ConfigMap>(generator),
        ("", "Event") => add::<core::v1::Event>(generator),
        ("", "Pod") => add::<core::v1::Pod>(generator),
        ("", "ServiceAccount") => add::<core::v1::ServiceAccount>(generator),
        ("policy", "PodDisruptionBudget") => add::<policy::v1::PodDisruptionBudget>(generator),
        ("rbac.authorization.k8s.io", "Role") => add::<rbac::v1::Role>(generator),
        ("rbac.authorization.k8s.io", "RoleBinding") => add::<rbac::v1::RoleBinding>(generator),
        ("rbac.authorization.k8s.io", "ClusterRole") => add::<rbac::v1::ClusterRole>(generator),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => add::<rbac::v1::ClusterRoleBinding>(generator),
        ("apps", "Deployment") => add::<apps::v1::Deployment>(generator),
        ("events.k8s.io", "Event") => add::<events::v1::Event>(generator),
        ("discovery.k8s.io", "EndpointSlice") => add::<discovery::v1::EndpointSlice>(generator),
        ("coordination.k8s.io", "Lease") => add::<coordination::v1::Lease>(generator),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => add::<apiextensions::CustomResourceDefinition>(generator),
        _ => return None,
    })
}

/// Every schema the kinds of `group`/`version` need, by definition name.
pub fn schemas<'a>(types: impl Iterator<Item = &'a ResourceType>, group: &str, version: &str) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut roots = Vec::new();
    let mut custom = Map::new();
    for rt in types.filter(|t| t.group == group && t.versions.iter().any(|v| v == version)) {
        let gvk = json!([{"group": group, "version": version, "kind": rt.kind}]);
        if let Some(name) = if rt.builtin { builtin(&mut generator, group, &rt.kind) } else { None } {
            roots.push((name, gvk));
        } else if let Some(schema) = rt.schemas.get(version) {
            let mut schema = schema.clone();
            schema["x-kubernetes-group-version-kind"] = gvk;
            let reversed: String = group.split('.').rev().collect::<Vec<_>>().join(".");
            custom.insert(format!("{reversed}.{version}.{}", rt.kind), schema);
        }
    }
    let mut definitions: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    for (name, gvk) in roots {
        if let Some(schema) = definitions.get_mut(&name).and_then(Value::as_object_mut) {
            schema.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
    }
    definitions.extend(custom);
    definitions
}
