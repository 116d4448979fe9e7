//! The base every scenario relies on, modelled on what upstream's conformance base sets up:
//! three namespaces, echo Deployments behind Services, and the shared Gateways of the
//! infrastructure namespace. Written here; the cluster emulation runs the echo Pods.

use serde_json::{Value, json};

pub const INFRA: &str = "gateway-conformance-infra";
pub const APP: &str = "gateway-conformance-app-backend";
pub const WEB: &str = "gateway-conformance-web-backend";
pub const CLASS: &str = "portico-haproxy";

/// The shared Gateways (all in [`INFRA`], one HTTP listener on port 80 each).
pub const GATEWAYS: [&str; 3] = ["same-namespace", "all-namespaces", "backend-namespaces"];

/// `(namespace, name, replicas)` of every echo Deployment, each behind a Service of the same name.
/// The `grpc-` ones run the gRPC echo (`GRPC_ECHO_SERVER`) behind an `h2c` Service port.
const ECHOES: [(&str, &str, u32); 9] = [
    (INFRA, "infra-backend-v1", 2),
    (INFRA, "infra-backend-v2", 2),
    (INFRA, "infra-backend-v3", 1),
    (APP, "app-backend-v1", 2),
    (APP, "app-backend-v2", 2),
    (WEB, "web-backend", 2),
    (INFRA, "grpc-infra-backend-v1", 2),
    (INFRA, "grpc-infra-backend-v2", 2),
    (INFRA, "grpc-infra-backend-v3", 2),
];

pub fn echo_pods() -> usize {
    ECHOES.iter().map(|e| e.2 as usize).sum()
}

pub fn manifests() -> Vec<Value> {
    let mut out = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INFRA, "labels": {"gateway-conformance": "infra"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP, "labels": {"gateway-conformance": "backend"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": WEB, "labels": {"gateway-conformance": "backend"}}}),
    ];
    for (ns, name, replicas) in ECHOES {
        out.push(deployment(ns, name, replicas));
        out.push(service(ns, name));
    }
    let http = |from: Value| json!([{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": from}}]);
    let listeners = [
        http(json!({"from": "Same"})),
        http(json!({"from": "All"})),
        http(json!({"from": "Selector", "selector": {"matchLabels": {"gateway-conformance": "backend"}}})),
    ];
    for (name, listeners) in GATEWAYS.iter().zip(listeners) {
        out.push(json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": name, "namespace": INFRA},
            "spec": {"gatewayClassName": CLASS, "listeners": listeners}}));
    }
    out
}

fn deployment(ns: &str, name: &str, replicas: u32) -> Value {
    let mut env = json!([{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]);
    if name.starts_with("grpc-") {
        env.as_array_mut().into_iter().for_each(|e| e.push(json!({"name": "GRPC_ECHO_SERVER", "value": "1"})));
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": "registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0", "env": env}]}}}})
}

/// Like upstream: unnamed port 8080 -> 3000, except `infra-backend-v1`, whose Service has three
/// named ports (8080 plain, 8081 h2c, 8082 websocket).
fn service(ns: &str, name: &str) -> Value {
    let ports = if name == "tls-backend" {
        json!([{"protocol": "TCP", "port": 443, "targetPort": 8443}])
    } else if name == "infra-backend-v1" {
        json!([{"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": 3000},
            {"name": "second-port", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 8081, "targetPort": 3001},
            {"name": "third-port", "protocol": "TCP", "appProtocol": "kubernetes.io/ws", "port": 8082, "targetPort": 3000}])
    } else if name.starts_with("grpc-") {
        json!([{"protocol": "TCP", "port": 8080, "targetPort": 3000, "appProtocol": "kubernetes.io/h2c"}])
    } else {
        json!([{"protocol": "TCP", "port": 8080, "targetPort": 3000}])
    };
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"app": name}, "ports": ports}})
}

/// The example certificate (`*.example.com`) as a `kubernetes.io/tls` Secret `ns/name`.
pub fn tls_secret(ns: &str, name: &str) -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/10-infra.yaml")).expect("examples/10-infra.yaml");
    let mut secret = serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| <Value as serde::Deserialize>::deserialize(d).ok())
        .find(|v| v["kind"] == "Secret")
        .expect("the example Secret");
    secret["metadata"] = json!({"name": name, "namespace": ns});
    secret
}
