//! The server as kube-rs sees it: CRUD semantics, watches and reflectors, status, finalizers,
//! validation, garbage collection, server-side apply and injected faults.

mod common;

use std::collections::BTreeMap;

use futures_util::StreamExt;
use gateway_api::gateways::Gateway;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

fn config_map(name: &str, data: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "test"}}, "data": {"key": data}})).unwrap()
}

fn api_code(error: kube::Error) -> u16 {
    match error {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn create_get_replace_conflict_and_not_found() {
    let (_server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api.create(&PostParams::default(), &config_map("a", "1")).await.unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(api_code(api.create(&PostParams::default(), &config_map("a", "1")).await.unwrap_err()), 409);
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some(BTreeMap::from([("key".into(), "2".into())]));
    let replaced = api.replace("a", &PostParams::default(), &fresh).await.unwrap();
    assert_ne!(replaced.resource_version(), created.resource_version());
    stale.data = Some(BTreeMap::from([("key".into(), "3".into())]));
    assert_eq!(api_code(api.replace("a", &PostParams::default(), &stale).await.unwrap_err()), 409, "stale resourceVersion conflicts");
    assert_eq!(api_code(api.get("missing").await.unwrap_err()), 404);
    let elsewhere: Api<ConfigMap> = Api::namespaced(client, "no-such-namespace");
    assert_eq!(api_code(elsewhere.create(&PostParams::default(), &config_map("a", "1")).await.unwrap_err()), 404);
}

#[tokio::test]
async fn generate_name_labels_and_pagination() {
    let (_server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..7 {
        let mut cm = config_map("", &i.to_string());
        cm.metadata.name = None;
        cm.metadata.generate_name = Some("gen-".into());
        if i % 2 == 0 {
            cm.metadata.labels = Some(BTreeMap::from([("parity".into(), "even".into())]));
        }
        let created = api.create(&PostParams::default(), &cm).await.unwrap();
        assert!(created.name_any().starts_with("gen-") && created.name_any().len() > 4);
    }
    assert_eq!(api.list(&ListParams::default().labels("parity=even")).await.unwrap().items.len(), 4);
    assert_eq!(api.list(&ListParams::default().labels("parity!=even")).await.unwrap().items.len(), 3);
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(3);
    loop {
        let page = api.list(&params).await.unwrap();
        seen.extend(page.items.iter().map(|c| c.name_any()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    seen.dedup();
    assert_eq!(seen.len(), 7, "pagination returns every object once: {seen:?}");
}

#[tokio::test]
async fn reflector_stays_in_sync_through_dropped_watches_and_410() {
    let (server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()).default_backoff()).applied_objects();
    let task = tokio::spawn(async move { stream.for_each(|_| async {}).await });
    for i in 0..20 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}"), "v1")).await.unwrap();
    }
    server.close_watches();
    for i in 0..10 {
        let patch = json!({"data": {"key": "v2"}});
        api.patch(&format!("cm-{i}"), &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }
    server.expire_history();
    for i in 15..20 {
        api.delete(&format!("cm-{i}"), &DeleteParams::default()).await.unwrap();
    }
    api.create(&PostParams::default(), &config_map("late", "v1")).await.unwrap();
    let in_sync = common::eventually(10, || {
        let reader = reader.clone();
        let api = api.clone();
        async move {
            let live = api.list(&ListParams::default()).await.unwrap();
            let mut want: Vec<(String, String)> = live.items.iter().map(|c| (c.name_any(), c.data.clone().unwrap_or_default()["key"].clone())).collect();
            let mut got: Vec<(String, String)> = reader.state().iter().map(|c| (c.name_any(), c.data.clone().unwrap_or_default()["key"].clone())).collect();
            want.sort();
            got.sort();
            want == got
        }
    })
    .await;
    task.abort();
    assert!(in_sync, "the reflector converges to the server's state");
    assert_eq!(reader.state().len(), 16);
}

#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410() {
    let (server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &config_map("a", "1")).await.unwrap();
    server.expire_history();
    let mut stream = api.watch(&kube::api::WatchParams::default(), "1").await.unwrap().boxed();
    match stream.next().await {
        Some(Ok(kube::api::WatchEvent::Error(status))) => assert_eq!(status.code, 410),
        other => panic!("expected a 410 watch error, got {other:?}"),
    }
}

#[tokio::test]
async fn status_subresource_and_generation() {
    let (_server, client) = common::start().await;
    common::install_gateway_api(&client).await;
    let api: Api<Gateway> = Api::namespaced(client, "default");
    let gateway: Gateway = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": "x", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
        "status": {"conditions": []}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &gateway).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let status = json!({"status": {"addresses": [{"type": "IPAddress", "value": "10.0.0.1"}]}});
    let patched = api.patch_status("gw", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(patched.metadata.generation, Some(1), "status writes do not bump generation");
    assert_eq!(patched.status.unwrap().addresses.unwrap()[0].value, "10.0.0.1");
    let spec = json!({"spec": {"gatewayClassName": "y"}, "status": {"addresses": []}});
    let patched = api.patch("gw", &PatchParams::default(), &Patch::Merge(&spec)).await.unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    assert_eq!(patched.status.unwrap().addresses.unwrap().len(), 1, "main-resource writes ignore .status");
}

#[tokio::test]
async fn schema_validation_rejects_with_422_and_the_field_path() {
    let (_server, client) = common::start().await;
    common::install_gateway_api(&client).await;
    let api: Api<Gateway> = Api::namespaced(client, "default");
    let bad: Gateway = serde_json::from_value(json!({
        "metadata": {"name": "bad"},
        "spec": {"gatewayClassName": "x", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
    }))
    .unwrap();
    let mut raw = serde_json::to_value(&bad).unwrap();
    raw["spec"]["listeners"][0]["port"] = json!("eighty");
    let dynamic: Api<kube::api::DynamicObject> = Api::namespaced_with(api.clone().into_client(), "default", &kube::api::ApiResource::erase::<Gateway>(&()));
    let object: kube::api::DynamicObject = serde_json::from_value(raw).unwrap();
    match dynamic.create(&PostParams::default(), &object).await.unwrap_err() {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 422);
            assert!(status.message.contains("spec.listeners[0].port"), "{}", status.message);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut cm = config_map("held", "1");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &cm).await.unwrap();
    let mut events = api.watch(&kube::api::WatchParams::default(), "0").await.unwrap().boxed();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let still = api.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    let remove = json!({"metadata": {"finalizers": null}});
    api.patch("held", &PatchParams::default(), &Patch::Merge(&remove)).await.unwrap();
    assert_eq!(api_code(api.get("held").await.unwrap_err()), 404);
    let mut kinds = Vec::new();
    while let Ok(Some(Ok(event))) = tokio::time::timeout(std::time::Duration::from_millis(500), events.next()).await {
        match event {
            kube::api::WatchEvent::Added(_) => kinds.push("ADDED"),
            kube::api::WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            kube::api::WatchEvent::Deleted(_) => kinds.push("DELETED"),
            kube::api::WatchEvent::Bookmark(_) => {}
            kube::api::WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn namespace_deletion_and_owner_garbage_collection() {
    let (_server, client) = common::start().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let owner = api.create(&PostParams::default(), &config_map("owner", "1")).await.unwrap();
    let mut child = config_map("child", "1");
    child.metadata.owner_references = Some(vec![
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.clone().unwrap()
        }))
        .unwrap(),
    ]);
    api.create(&PostParams::default(), &child).await.unwrap();
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(api.get("child").await.unwrap_err()), 404, "dependents are collected");
    api.create(&PostParams::default(), &config_map("other", "1")).await.unwrap();
    namespaces.delete("doomed", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_code(api.get("other").await.unwrap_err()), 404);
    assert_eq!(api_code(namespaces.get("doomed").await.unwrap_err()), 404);
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let (_server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"key": "a", "extra": "x"}});
    api.patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&first)).await.unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"key": "b"}});
    assert_eq!(api_code(api.patch("ssa", &PatchParams::apply("bob"), &Patch::Apply(&second)).await.unwrap_err()), 409);
    let forced = api.patch("ssa", &PatchParams::apply("bob").force(), &Patch::Apply(&second)).await.unwrap();
    assert_eq!(forced.data.unwrap()["key"], "b");
    let shrunk = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {}});
    let after = api.patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&shrunk)).await.unwrap();
    let data = after.data.unwrap_or_default();
    assert!(!data.contains_key("extra"), "fields alice stopped applying are removed");
    assert_eq!(data["key"], "b", "bob's field stays");
    let managers: Vec<String> = after.metadata.managed_fields.unwrap().iter().filter_map(|m| m.manager.clone()).collect();
    assert!(managers.contains(&"bob".to_string()));
}

#[tokio::test]
async fn injected_faults_surface_as_api_errors() {
    let (server, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let served = || server.faults().requests_served();
    // kube-rs retries 429 (honouring Retry-After): the request succeeds on the third attempt.
    let before = served();
    server.faults().fail_next(2, portico_apiserver::Failure::TooManyRequests);
    assert!(api.list(&ListParams::default()).await.is_ok());
    assert_eq!(served() - before, 3);
    server.faults().fail_next(1, portico_apiserver::Failure::InternalError);
    assert_eq!(api_code(api.list(&ListParams::default()).await.unwrap_err()), 500);
    server.faults().set_latency(std::time::Duration::from_millis(200));
    let start = std::time::Instant::now();
    api.list(&ListParams::default()).await.unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_millis(200));
}
