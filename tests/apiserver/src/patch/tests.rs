//! Unit tests of the patch types and server-side apply.
use super::*;
use serde_json::json;

const T0: &str = "2024-01-01T00:00:00Z";
const T1: &str = "2024-01-02T00:00:00Z";

/// A test that a strategic merge patch of `live` gives `expected` for `kind`.
macro_rules! smp_case {
    ($name:ident, $kind:literal, $live:tt, $patch:tt, $expected:tt) => {
        #[test]
        fn $name() {
            let mut target = json!($live);
            strategic_merge_patch($kind, &mut target, &json!($patch)).expect("valid patch");
            assert_eq!(target, json!($expected));
        }
    };
}

fn is_invalid<T>(result: Result<T, PatchError>) -> bool {
    matches!(result, Err(PatchError::Invalid(_)))
}

fn deployment(replicas: i64, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n", "labels": labels},
           "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}})
}

/// Apply at T1 a deployment with these replicas and labels.
fn apply(live: &Value, replicas: i64, labels: Value, manager: &str, force: bool) -> Result<Value, PatchError> {
    server_side_apply(Some(live), &deployment(replicas, labels), manager, force, T1)
}

fn create(manager: &str, labels: Value) -> Value {
    server_side_apply(None, &deployment(1, labels), manager, false, T0).expect("create")
}

/// The FieldsV1 of the entry for (manager, operation), if any.
fn owned(object: &Value, manager: &str, operation: &str) -> Option<Value> {
    let entry = read_entries(object).into_iter().find(|entry| entry.is(manager, operation));
    entry.map(|entry| paths_to_fields(&entry.fields))
}

fn conflict(path: &str, manager: &str) -> Result<Value, PatchError> {
    Err(PatchError::Conflict(vec![(path.to_string(), manager.to_string())]))
}

#[test]
fn merge_patch_null_deletes_and_merges_maps() {
    let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]});
    merge_patch(&mut target, &json!({"a": null, "b": {"c": null, "e": 4}, "l": [3]}));
    assert_eq!(target, json!({"b": {"d": 3, "e": 4}, "l": [3]}));
}

#[test]
fn json_patch_add_replace_remove() {
    let mut target = json!({"spec": {"replicas": 1, "paused": true}});
    let ops = json!([{"op": "add", "path": "/spec/x", "value": 2}, {"op": "replace", "path": "/spec/replicas", "value": 3},
                     {"op": "remove", "path": "/spec/paused"}]);
    json_patch(&mut target, &ops).expect("valid patch");
    assert_eq!(target, json!({"spec": {"replicas": 3, "x": 2}}));
}

#[test]
fn json_patch_failed_test_is_invalid_and_leaves_target() {
    let mut target = json!({"a": 1});
    let ops = json!([{"op": "replace", "path": "/a", "value": 5}, {"op": "test", "path": "/a", "value": 1}]);
    assert!(is_invalid(json_patch(&mut target, &ops)));
    assert_eq!(target, json!({"a": 1}));
    assert!(is_invalid(json_patch(&mut target, &json!({"op": "add"}))));
    assert!(is_invalid(json_patch(&mut target, &json!([{"op": "bogus"}]))));
}

smp_case!(smp_merges_service_ports_by_port_keeping_live_order, "Service",
    {"spec": {"ports": [{"port": 443, "name": "https"}, {"port": 80, "name": "http"}]}},
    {"spec": {"ports": [{"port": 80, "name": "web"}, {"port": 8080}]}},
    {"spec": {"ports": [{"port": 443, "name": "https"}, {"port": 80, "name": "web"}, {"port": 8080}]}});

smp_case!(smp_patch_delete_removes_a_port, "Service",
    {"spec": {"ports": [{"port": 443}, {"port": 80}]}},
    {"spec": {"ports": [{"port": 443, "$patch": "delete"}]}},
    {"spec": {"ports": [{"port": 80}]}});

smp_case!(smp_set_element_order_reorders_and_is_not_stored, "Service",
    {"spec": {"ports": [{"port": 443}, {"port": 80}, {"port": 9}], "x": [1]}},
    {"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}], "ports": [{"port": 80, "name": "h"}],
              "$setElementOrder/x": [{"bad": 1}]}},
    {"spec": {"ports": [{"port": 80, "name": "h"}, {"port": 443}, {"port": 9}], "x": [1]}});

smp_case!(smp_retain_keys_keeps_listed_keys_only, "Deployment",
    {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
    {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
    {"spec": {"strategy": {"type": "Recreate"}}});

smp_case!(smp_finalizers_union_and_delete_from_primitive_list, "ConfigMap",
    {"metadata": {"finalizers": ["a", "b"]}},
    {"metadata": {"finalizers": ["b", "c", "d"], "$deleteFromPrimitiveList/finalizers": ["a", "z"]}},
    {"metadata": {"finalizers": ["b", "c", "d"]}});

smp_case!(smp_namespace_spec_finalizers_union, "Namespace",
    {"spec": {"finalizers": ["kubernetes"]}}, {"spec": {"finalizers": ["x", "kubernetes"]}},
    {"spec": {"finalizers": ["kubernetes", "x"]}});

smp_case!(smp_merges_conditions_by_type, "Gateway",
    {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Synced", "status": "True"}]}},
    {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ok"}, {"type": "New"}]}},
    {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ok"}, {"type": "Synced", "status": "True"},
                               {"type": "New"}]}});

smp_case!(smp_merges_deployment_containers_env_and_ports, "Deployment",
    {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}], "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "2"}]}}}},
    {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "env": [{"name": "Y", "value": "2"}], "ports": [{"containerPort": 80, "name": "http"}]}]}}}},
    {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
         "ports": [{"containerPort": 80, "name": "http"}]},
        {"name": "b", "image": "2"}]}}}});

smp_case!(smp_replace_and_delete_directives, "Service",
    {"spec": {"selector": {"a": "1", "b": "2"}, "ports": [{"port": 1}], "x": [1, 2], "m": {"k": 1}, "t": 1}},
    {"spec": {"selector": {"$patch": "replace", "c": "3"}, "ports": [{"$patch": "replace"}, {"port": 2}], "x": [3],
              "m": {"$patch": "delete"}, "t": null}},
    {"spec": {"selector": {"c": "3"}, "ports": [{"port": 2}], "x": [3]}});

smp_case!(smp_endpoint_slice_lists_replace_and_new_maps_drop_directives, "EndpointSlice",
    {"endpoints": [{"addresses": ["1.1.1.1"]}], "ports": [{"port": 1}]},
    {"ports": [{"port": 2}], "extra": {"$retainKeys": ["k"], "k": {"$patch": "merge", "v": null, "w": 1}}},
    {"endpoints": [{"addresses": ["1.1.1.1"]}], "ports": [{"port": 2}], "extra": {"k": {"w": 1}}});

#[test]
fn smp_rejects_bad_patches_without_touching_target() {
    let mut live = json!({"spec": {"ports": [{"port": 1}]}});
    let before = live.clone();
    assert!(is_invalid(strategic_merge_patch("Service", &mut live, &json!({"spec": {"ports": [{"name": "x"}]}}))));
    assert!(is_invalid(strategic_merge_patch("Service", &mut live, &json!([1]))));
    assert!(is_invalid(strategic_merge_patch("Service", &mut live, &json!({"spec": {"$retainKeys": "x"}}))));
    assert!(is_invalid(strategic_merge_patch("Service", &mut live, &json!({"spec": {"$patch": "bogus"}}))));
    assert_eq!(live, before);
}

#[test]
fn ssa_create_records_the_applied_fields() {
    let created = create("mgr", json!({"app": "x"}));
    let entry = &created["metadata"]["managedFields"][0];
    let expected = json!({"manager": "mgr", "operation": "Apply", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}}});
    assert_eq!(entry, &expected);
    assert_eq!(created["spec"]["replicas"], 1);
}

#[test]
fn ssa_reapplying_identical_config_changes_only_time() {
    let first = create("mgr", json!({"app": "x"}));
    let mut second = apply(&first, 1, json!({"app": "x"}), "mgr", false).expect("re-apply");
    assert_eq!(second["metadata"]["managedFields"][0]["time"], T1);
    second["metadata"]["managedFields"][0]["time"] = json!(T0);
    assert_eq!(second, first);
}

#[test]
fn ssa_removing_a_field_from_the_config_removes_it() {
    let first = create("mgr", json!({"app": "x", "tier": "web"}));
    let second = apply(&first, 1, json!({"app": "x"}), "mgr", false).expect("apply");
    assert_eq!(second["metadata"]["labels"], json!({"app": "x"}));
    let third = apply(&second, 1, json!({}), "mgr", false).expect("apply");
    assert_eq!(third["metadata"]["labels"], json!({}));
    let fourth = server_side_apply(Some(&third), &json!({"spec": {"replicas": 1}}), "mgr", false, T1).expect("apply");
    assert_eq!(fourth["metadata"].get("labels"), None);
    assert_eq!(fourth["spec"], json!({"replicas": 1}));
    assert_eq!(fourth["metadata"]["name"], "d");
}

#[test]
fn ssa_conflicts_with_another_manager_and_force_takes_ownership() {
    let first = create("one", json!({"app": "x"}));
    assert_eq!(apply(&first, 3, json!({"app": "x"}), "two", false), conflict(".spec.replicas", "one"));
    let forced = apply(&first, 3, json!({"app": "x"}), "two", true).expect("force");
    assert_eq!(forced["spec"]["replicas"], 3);
    let one = owned(&forced, "one", "Apply").expect("one keeps shared fields");
    assert_eq!(one["f:spec"].get("f:replicas"), None);
    assert_eq!(one["f:metadata"]["f:labels"]["f:app"], json!({}));
    assert_eq!(owned(&forced, "two", "Apply").expect("two")["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn ssa_same_value_is_shared_and_kept_while_another_manager_owns_it() {
    let first = create("one", json!({"app": "x"}));
    let second = apply(&first, 1, json!({"app": "x", "b": "y"}), "two", false).expect("shared");
    assert_eq!(second["metadata"]["labels"], json!({"app": "x", "b": "y"}));
    assert_eq!(owned(&second, "one", "Apply"), owned(&first, "one", "Apply"));
    let third = apply(&second, 1, json!({}), "one", false).expect("apply");
    assert_eq!(third["metadata"]["labels"], json!({"app": "x", "b": "y"}));
    assert!(is_invalid(server_side_apply(None, &json!([1]), "m", false, T0)));
}

#[test]
fn record_update_then_apply_by_another_manager_conflicts() {
    let mut created = deployment(1, json!({"app": "x"}));
    record_update(None, &mut created, "kubectl-create", T0);
    assert_eq!(owned(&created, "kubectl-create", "Update").expect("entry")["f:spec"]["f:replicas"], json!({}));
    assert_eq!(apply(&created, 2, json!({"app": "x"}), "ssa", false), conflict(".spec.replicas", "kubectl-create"));
}

#[test]
fn record_update_moves_changed_fields_and_drops_empty_entries() {
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let live = server_side_apply(None, &applied, "ssa", false, T0).expect("create");
    let mut after = live.clone();
    after["data"] = json!({"a": "2", "b": "3"});
    record_update(Some(&live), &mut after, "editor", T1);
    let entries = after["metadata"]["managedFields"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
    assert_eq!(entries[0]["time"], T1);
    let mut unchanged = after.clone();
    record_update(Some(&after), &mut unchanged, "other", T1);
    assert_eq!(unchanged, after);
}

#[test]
fn managed_fields_never_contain_untracked_fields() {
    let mut applied = deployment(1, json!({"app": "x"}));
    applied["metadata"]["uid"] = json!("u");
    applied["metadata"]["resourceVersion"] = json!("5");
    applied["status"] = json!({"replicas": 1});
    let created = server_side_apply(None, &applied, "mgr", false, T0).expect("create");
    let mut updated = created.clone();
    updated["metadata"]["generation"] = json!(2);
    updated["metadata"]["creationTimestamp"] = json!(T0);
    updated["status"]["replicas"] = json!(2);
    record_update(Some(&created), &mut updated, "ctl", T1);
    let text = updated["metadata"]["managedFields"].to_string();
    let untracked = ["apiVersion", "kind", "name", "namespace", "uid", "resourceVersion", "status", "generation"];
    for field in untracked.iter().chain(&["creationTimestamp", "managedFields"]) {
        assert!(!text.contains(&format!("f:{field}")), "{field} tracked in {text}");
    }
    assert_eq!(owned(&updated, "ctl", "Update"), None);
}

#[test]
fn fields_v1_round_trip_with_dot_and_list_item_keys() {
    let tree = json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}}}}});
    let mut paths = FieldSet::new();
    fields_to_paths(&tree, &mut Vec::new(), &mut paths);
    let expected: Vec<Vec<&str>> = vec![vec!["metadata", "labels"], vec!["metadata", "labels", "a"], vec!["spec", "ports"]];
    assert_eq!(paths.iter().cloned().collect::<Vec<_>>(), expected);
    let written = json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:ports": {}}});
    assert_eq!(paths_to_fields(&paths), written);
}
