//! The cluster emulation writes what kube-controller-manager and the kubelet would: Pods for
//! Deployments, real echo servers on Pod IPs, and EndpointSlices in the controller's format.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use portico_apiserver::{ApiServer, Options};
use portico_sandbox::cluster::{Cluster, ClusterOptions};
use portico_sandbox::{apply, http_get};
use serde_json::json;

async fn world(network: [u8; 2]) -> (ApiServer, kube::Client, Cluster) {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    apply(&client, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})).await.unwrap();
    let options =
        ClusterOptions { pod_network: std::net::Ipv4Addr::new(127, network[0], network[1], 0), max_grace: Duration::from_millis(600), ..Default::default() };
    let cluster = Cluster::start(client.clone(), options);
    (server, client, cluster)
}

fn deployment(name: &str, replicas: u32, version: &str) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "app"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, "version": version}},
                "spec": {"containers": [{"name": "echo", "image": "registry.k8s.io/gateway-api/echo-basic:v1",
                    "ports": [{"name": "web", "containerPort": 3000}, {"name": "admin", "containerPort": 9000}]}]}}}})
}

async fn slices(client: &kube::Client, service: &str) -> Vec<EndpointSlice> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), "app");
    api.list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}"))).await.unwrap().items
}

/// Poll until `check` holds for the Service's slices (or fail after 10 s with the last state).
async fn until(client: &kube::Client, service: &str, what: &str, check: impl Fn(&[EndpointSlice]) -> bool) -> Vec<EndpointSlice> {
    let mut last = Vec::new();
    for _ in 0..400 {
        last = slices(client, service).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: slices are {}", serde_json::to_string_pretty(&last).unwrap());
}

fn ready_count(slices: &[EndpointSlice]) -> usize {
    slices.iter().flat_map(|s| &s.endpoints).filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true)).count()
}

#[tokio::test]
async fn deployment_pods_serve_and_slices_look_like_the_controllers() {
    let (_server, client, cluster) = world([90, 0]).await;
    apply(&client, &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "web"}, {"name": "admin", "port": 9000, "targetPort": 9000, "appProtocol": "http"}]}})).await.unwrap();
    // Before any Pod: one placeholder slice without ports or endpoints.
    until(&client, "web", "placeholder", |s| s.len() == 1 && s[0].endpoints.is_empty()).await;
    apply(&client, &deployment("web", 3, "v1")).await.unwrap();
    let found = until(&client, "web", "three ready endpoints", |s| ready_count(s) == 3).await;
    assert_eq!(found.len(), 1, "one slice for one port signature");
    let slice = &found[0];
    assert_eq!(slice.address_type, "IPv4");
    assert!(slice.metadata.name.as_deref().unwrap().starts_with("web-"), "generateName <service>-");
    let labels = slice.metadata.labels.as_ref().unwrap();
    assert_eq!(labels.get("endpointslice.kubernetes.io/managed-by").map(String::as_str), Some("endpointslice-controller.k8s.io"));
    assert_eq!(labels.get("team").map(String::as_str), Some("a"), "the Service's labels are copied");
    let owner = &slice.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Service", "web", Some(true)));
    let ports = slice.ports.as_ref().unwrap();
    assert_eq!(ports[0].name.as_deref(), Some(""), "an unnamed Service port is written as name \"\"");
    assert_eq!(ports[0].port, Some(3000), "the named targetPort resolved through the container port");
    assert_eq!((ports[1].name.as_deref(), ports[1].port, ports[1].app_protocol.as_deref()), (Some("admin"), Some(9000), Some("http")));
    // Every endpoint is a real echo server on its Pod IP, answering with its Pod's name.
    for endpoint in &slice.endpoints {
        let ip = &endpoint.addresses[0];
        let pod = endpoint.target_ref.as_ref().unwrap().name.clone().unwrap();
        assert!(pod.starts_with("web-"), "Deployment Pod names are <deployment>-<hash>-<random>: {pod}");
        let reply = http_get(format!("{ip}:3000").parse().unwrap(), "web", "/", &[]).await.unwrap();
        assert_eq!(reply.echo().unwrap()["pod"], pod.as_str());
        assert_eq!(endpoint.conditions.as_ref().unwrap().serving, Some(true));
        assert_eq!(endpoint.node_name.as_deref(), Some("sandbox-node"));
    }
    assert_eq!(cluster.pod_ips().len(), 3);

    // Scale down: the removed Pods are first terminating (ready=false, serving=false once the
    // kubelet marks them unready, terminating=true), then gone; their servers stop.
    apply(&client, &deployment("web", 1, "v1")).await.unwrap();
    let during = until(&client, "web", "terminating endpoints", |s| {
        s.iter().flat_map(|s| &s.endpoints).any(|e| e.conditions.as_ref().and_then(|c| c.terminating) == Some(true))
    })
    .await;
    for e in during.iter().flat_map(|s| &s.endpoints).filter(|e| e.conditions.as_ref().and_then(|c| c.terminating) == Some(true)) {
        assert_eq!(e.conditions.as_ref().unwrap().ready, Some(false), "never ready while terminating");
    }
    let after = until(&client, "web", "one endpoint left", |s| s.iter().flat_map(|s| &s.endpoints).count() == 1).await;
    assert_eq!(ready_count(&after), 1);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "app");
    let mut left = 0;
    for _ in 0..200 {
        left = pods.list(&ListParams::default()).await.unwrap().items.len();
        if left == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(left, 1, "terminated Pods are deleted once their grace period ends");

    // A template change rolls the Deployment: a new Pod, then the old one goes.
    let old = after[0].endpoints[0].target_ref.as_ref().unwrap().name.clone().unwrap();
    apply(&client, &deployment("web", 1, "v2")).await.unwrap();
    let rolled = until(&client, "web", "rolled to a new Pod", |s| {
        let names: Vec<_> = s.iter().flat_map(|s| &s.endpoints).filter_map(|e| e.target_ref.as_ref()?.name.clone()).collect();
        names.len() == 1 && names[0] != old
    })
    .await;
    assert_eq!(ready_count(&rolled), 1);
}

#[tokio::test]
async fn pods_with_different_target_port_numbers_get_separate_slices_and_100_per_slice() {
    let (_server, client, _cluster) = world([91, 0]).await;
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mixed", "namespace": "app"},
        "spec": {"selector": {"tier": "mixed"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}),
    )
    .await
    .unwrap();
    for (name, port) in [("a", 3000), ("b", 3001)] {
        apply(
            &client,
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "app", "labels": {"tier": "mixed"}},
            "spec": {"containers": [{"name": "echo", "image": "echo", "ports": [{"name": "web", "containerPort": port}]}]}}),
        )
        .await
        .unwrap();
    }
    // A Pod of an image the sandbox cannot run stays Pending and is never an endpoint.
    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "app", "labels": {"tier": "mixed"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"name": "web", "containerPort": 80}]}]}}),
    )
    .await
    .unwrap();
    let found = until(&client, "mixed", "two slices", |s| s.len() == 2 && ready_count(s) == 2).await;
    let mut numbers: Vec<i32> = found.iter().map(|s| s.ports.as_ref().unwrap()[0].port.unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, vec![3000, 3001]);

    apply(
        &client,
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big", "namespace": "app"},
        "spec": {"selector": {"app": "big"}, "ports": [{"port": 80, "targetPort": 3000}]}}),
    )
    .await
    .unwrap();
    apply(&client, &deployment("big", 130, "v1")).await.unwrap();
    let big = until(&client, "big", "130 endpoints in slices of at most 100", |s| ready_count(s) == 130).await;
    let mut sizes: Vec<usize> = big.iter().map(|s| s.endpoints.len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![30, 100]);
}
