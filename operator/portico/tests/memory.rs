//! The operator with a platform it has never heard of: the in-memory provider, registered with
//! one `Registered` value. Portico programs its Gateway, reports the platform's address and
//! conditions, re-programs on a route change, and on deletion removes what the platform holds
//! before the finalizer goes. This is the proof that a new platform needs no operator change.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject};
use portico_apiserver::{ApiServer, Options};
use portico_provider::Registered;
use portico_provider::memory::{self, MemoryProvider};
use portico_sandbox::kit::{condition, resource, wait_within};

/// How long the in-memory platform may take to show each step.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
use serde_json::{Value, json};
use std::sync::Arc;

const WORLD: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: memory}
spec: {controllerName: portico.dev/memory}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: app}
spec:
  gatewayClassName: memory
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: app}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
"#;

/// An API server with the CRDs, namespace `app` and the first `objects` objects of [`WORLD`].
async fn cluster(objects: usize) -> (ApiServer, kube::Client) {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in portico_model::crds::gateway_api_crds().into_iter().chain([(memory::DESCRIPTOR.parameters_crd)()]) {
        crds.create(&Default::default(), &crd).await.unwrap();
    }
    portico_sandbox::apply(&client, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})).await.unwrap();
    for document in serde_yaml::Deserializer::from_str(WORLD).take(objects) {
        let object: Value = serde::Deserialize::deserialize(document).unwrap();
        portico_sandbox::apply(&client, &object).await.unwrap_or_else(|e| panic!("{e}: {object}"));
    }
    (server, client)
}

#[tokio::test]
async fn a_platform_registered_from_outside_is_programmed_reported_and_cleaned_up() {
    let (_server, client) = cluster(usize::MAX).await;

    let platform = MemoryProvider::default();
    let providers = vec![Registered::started(&memory::DESCRIPTOR, Arc::new(platform.clone()))];
    let state = std::env::temp_dir().join(format!("portico-memory-{}", std::process::id()));
    let options = portico::run::RunOptions::local(state, "test");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(portico::run::run_with(options, providers, client.clone(), async move {
        let _ = stopped.await;
    }));

    let gateways: Api<DynamicObject> = Api::namespaced_with(client.clone(), "app", &resource("Gateway", "gateways"));
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "app", &resource("HTTPRoute", "httproutes"));
    let status = wait_within("the Gateway to be Programmed", LIMIT, async || {
        let gw = gateways.get("gw").await.ok()?;
        let status = gw.data.get("status")?.clone();
        (condition(&status["conditions"], "Programmed")?["status"] == "True").then_some(status)
    })
    .await;
    assert_eq!(status["addresses"][0]["value"], "192.0.2.1", "{status}");
    assert_eq!(condition(&status["listeners"][0]["conditions"], "Programmed").unwrap()["status"], "True", "{status}");
    let route = routes.get("web").await.unwrap();
    assert_eq!(condition(&route.data["status"]["parents"][0]["conditions"], "Accepted").unwrap()["status"], "True", "{:?}", route.data);
    assert_eq!(route.data["status"]["parents"][0]["controllerName"], "portico.dev/memory");
    let programmed = platform.gateways();
    let ir = &programmed[&portico_model::ir::ObjectRef::new("app", "gw")].ir;
    assert_eq!(ir["ports"][0]["virtualHosts"][0]["routes"][0]["source"]["name"], "web", "{ir}");
    let classes: Api<DynamicObject> = Api::all_with(client.clone(), &resource("GatewayClass", "gatewayclasses"));
    let class = classes.get("memory").await.unwrap();
    assert_eq!(condition(&class.data["status"]["conditions"], "Accepted").unwrap()["status"], "True");

    // A route change is programmed again, once.
    let puts = || platform.calls.snapshot().get("memory.put").copied().unwrap_or(0);
    let before = puts();
    let time = |conditions: &Value, kind: &str| condition(conditions, kind).map(|c| c["lastTransitionTime"].clone());
    let route_accepted_at = time(&route.data["status"]["parents"][0]["conditions"], "Accepted");
    let gateway_programmed_at = time(&status["conditions"], "Programmed");
    // Timestamps have second precision: a condition re-stamped by this change would show it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let patch = json!({"spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}], "backendRefs": [{"name": "web", "port": 80}]}]}});
    routes.patch("web", &Default::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    wait_within("the route change to reach the platform", LIMIT, async || {
        let ir = platform.gateways().get(&portico_model::ir::ObjectRef::new("app", "gw"))?.ir.clone();
        (ir["ports"][0]["virtualHosts"][0]["routes"][0]["match"]["path"]["value"] == "/v2").then_some(())
    })
    .await;
    assert_eq!(puts(), before + 1);
    let route = wait_within("the route's status for its new generation", LIMIT, async || {
        let route = routes.get("web").await.ok()?;
        let observed = route.data["status"]["parents"][0]["conditions"][0]["observedGeneration"].as_i64();
        (observed == route.metadata.generation).then_some(route)
    })
    .await;
    assert_eq!(time(&route.data["status"]["parents"][0]["conditions"], "Accepted"), route_accepted_at, "Accepted stayed True: its lastTransitionTime is kept");
    let gw = gateways.get("gw").await.unwrap();
    assert_eq!(time(&gw.data["status"]["conditions"], "Programmed"), gateway_programmed_at, "Programmed stayed True: its lastTransitionTime is kept");

    // Deleting the Gateway removes it from the platform, then the finalizer goes.
    gateways.delete("gw", &Default::default()).await.unwrap();
    wait_within("the Gateway to be gone", LIMIT, async || gateways.get_opt("gw").await.ok().flatten().is_none().then_some(())).await;
    assert!(platform.gateways().is_empty(), "the platform still holds the deleted Gateway");
    let _ = stop.send(());
    operator.await.unwrap().unwrap();
}

/// Many routes created at once (as `kubectl apply -f` of a directory does): every one gets its
/// status, each with exactly one status write (watched as MODIFIED events), and nothing is
/// written again once they all have it.
#[tokio::test]
async fn routes_created_together_each_get_their_status_in_one_write() {
    use futures_util::StreamExt as _;
    const ROUTES: usize = 300;
    let (_server, client) = cluster(3).await;
    let platform = MemoryProvider::default();
    let providers = vec![Registered::started(&memory::DESCRIPTOR, Arc::new(platform.clone()))];
    let state = std::env::temp_dir().join(format!("portico-memory-writes-{}", std::process::id()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = tokio::spawn(portico::run::run_with(portico::run::RunOptions::local(state, "test"), providers, client.clone(), async move {
        let _ = stopped.await;
    }));
    let gateways: Api<DynamicObject> = Api::namespaced_with(client.clone(), "app", &resource("Gateway", "gateways"));
    wait_within("the Gateway to be Programmed", LIMIT, async || {
        let status = gateways.get("gw").await.ok()?.data.get("status")?.clone();
        (condition(&status["conditions"], "Programmed")?["status"] == "True").then_some(())
    })
    .await;

    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "app", &resource("HTTPRoute", "httproutes"));
    let modified = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new()));
    let mut events = routes.watch(&kube::api::WatchParams::default(), "0").await.unwrap().boxed();
    let counter = modified.clone();
    let watching = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if let kube::api::WatchEvent::Modified(route) = event {
                *counter.lock().unwrap().entry(route.metadata.name.unwrap_or_default()).or_default() += 1;
            }
        }
    });
    let creates = (0..ROUTES).map(|i| {
        let routes = routes.clone();
        async move {
            let route: DynamicObject = serde_json::from_value(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": format!("r{i:03}"), "namespace": "app"},
                "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [format!("r{i}.test")], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}}))
            .unwrap();
            routes.create(&Default::default(), &route).await.unwrap();
        }
    });
    futures_util::stream::iter(creates).buffer_unordered(16).collect::<Vec<()>>().await;
    let accepted = |route: &DynamicObject| {
        route.data["status"]["parents"].as_array().into_iter().flatten().any(|p| condition(&p["conditions"], "Accepted").is_some_and(|c| c["status"] == "True"))
    };
    wait_within("every route to be Accepted", LIMIT, async || {
        let listed = routes.list(&Default::default()).await.ok()?;
        (listed.items.iter().filter(|r| accepted(r)).count() == ROUTES).then_some(())
    })
    .await;
    // Passes keep running (the operator's own writes are changes too): nothing more is written.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let counts = modified.lock().unwrap().clone();
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert_eq!(counts.len(), ROUTES, "every route's status was written");
    assert!(twice.is_empty(), "routes whose status was written more than once: {twice:?}");
    watching.abort();
    let _ = stop.send(());
    operator.await.unwrap().unwrap();
}
