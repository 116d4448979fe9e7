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
/// The `grpc-` ones run the gRPC echo (`GRPC_ECHO_SERVER`) behind an `h2c` Service port; the
/// `tls-backend`s serve the HTTP echo over TLS too, `tcp-backend` the TCP line protocol, plain
/// and over TLS (certificates from the Secrets of [`secrets`]).
const ECHOES: [(&str, &str, u32); 15] = [
    (INFRA, "infra-backend-v1", 2),
    (INFRA, "infra-backend-v2", 2),
    (INFRA, "infra-backend-v3", 1),
    (APP, "app-backend-v1", 2),
    (APP, "app-backend-v2", 2),
    (WEB, "web-backend", 2),
    (INFRA, "grpc-infra-backend-v1", 2),
    (INFRA, "grpc-infra-backend-v2", 2),
    (INFRA, "grpc-infra-backend-v3", 2),
    (INFRA, "tls-backend", 1),
    (INFRA, "tls-backend-2", 1),
    (APP, "tls-backend", 1),
    (INFRA, "tcp-backend", 2),
    (INFRA, "backend-tls-verified", 1),
    (INFRA, "backend-tls-client-verified", 1),
];

/// The certificate Secrets of the base (all made from the example `*.example.com` certificate).
fn secrets() -> Vec<Value> {
    [
        (INFRA, "tls-validity-checks-certificate"),
        (WEB, "certificate"),
        (INFRA, "tls-checks-certificate"),
        (INFRA, "tls-passthrough-checks-certificate"),
        (APP, "tls-passthrough-checks-certificate"),
    ]
    .into_iter()
    .map(|(ns, name)| tls_secret(ns, name))
    .collect()
}

/// The example certificate (PEM), which every TLS echo of the base presents.
pub fn certificate() -> Vec<u8> {
    let data = tls_secret(INFRA, "any")["data"]["tls.crt"].as_str().map(str::to_string).unwrap_or_default();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap_or_default()
}

pub fn echo_pods() -> usize {
    ECHOES.iter().map(|e| e.2 as usize).sum()
}

pub fn manifests() -> Vec<Value> {
    let mut out = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INFRA, "labels": {"gateway-conformance": "infra"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP, "labels": {"gateway-conformance": "backend"}}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": WEB, "labels": {"gateway-conformance": "backend"}}}),
    ];
    // Before the Pods that mount them.
    out.extend(secrets());
    out.extend(crate::backendtls::secrets());
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
    let mut extra = Vec::new();
    let mut tls = None;
    if name.starts_with("grpc-") {
        extra.push(json!({"name": "GRPC_ECHO_SERVER", "value": "1"}));
    } else if name == "backend-tls-client-verified" {
        // The same, asking clients (the Gateway) for a certificate the mTLS test CA signed.
        extra.extend([
            json!({"name": "TLS_SERVER_CERT", "value": "/etc/secret-volume/crt"}),
            json!({"name": "TLS_SERVER_PRIVKEY", "value": "/etc/secret-volume/key"}),
            json!({"name": "TLS_CLIENT_CACERTS", "value": "/etc/secret-volume/ca"}),
        ]);
        tls = Some(crate::backendtls::CLIENT_VERIFYING_SECRET);
    } else if name == "backend-tls-verified" {
        // The HTTP echo over TLS with a CA-signed certificate (BackendTLSPolicy scenarios).
        extra.extend([
            json!({"name": "TLS_SERVER_CERT", "value": "/etc/secret-volume/crt"}),
            json!({"name": "TLS_SERVER_PRIVKEY", "value": "/etc/secret-volume/key"}),
        ]);
        tls = Some(crate::backendtls::SERVER_SECRET);
    } else if name.starts_with("tls-backend") {
        extra.extend([
            json!({"name": "TLS_SERVER_CERT", "value": "/etc/secret-volume/crt"}),
            json!({"name": "TLS_SERVER_PRIVKEY", "value": "/etc/secret-volume/key"}),
        ]);
        tls = Some(if ns == INFRA { "tls-checks-certificate" } else { "tls-passthrough-checks-certificate" });
    } else if name == "tcp-backend" {
        extra.extend([
            json!({"name": "TLS_SERVER_CERT", "value": "/etc/secret-volume/crt"}),
            json!({"name": "TLS_SERVER_PRIV_KEY", "value": "/etc/secret-volume/key"}),
            json!({"name": "TCP_ECHO_SERVER", "value": "1"}),
        ]);
        tls = Some("tls-passthrough-checks-certificate");
    }
    env.as_array_mut().into_iter().for_each(|e| e.extend(extra.clone()));
    let mut container = json!({"name": name, "image": "registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0", "env": env});
    if name == "infra-backend-v1" {
        // Its Service's h2c port targets 3001 (the echo speaks HTTP/1.1 and h2c on each port).
        container["ports"] = json!([{"containerPort": 3000}, {"containerPort": 3001}]);
    }
    let mut pod_spec = json!({});
    if let Some(secret) = tls {
        container["volumeMounts"] = json!([{"name": "secret-volume", "mountPath": "/etc/secret-volume"}]);
        let mut items = vec![json!({"key": "tls.crt", "path": "crt"}), json!({"key": "tls.key", "path": "key"})];
        if secret == crate::backendtls::CLIENT_VERIFYING_SECRET {
            items.push(json!({"key": "ca.crt", "path": "ca"}));
        }
        pod_spec["volumes"] = json!([{"name": "secret-volume", "secret": {"secretName": secret, "items": items}}]);
    }
    pod_spec["containers"] = json!([container]);
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}}})
}

/// Like upstream: unnamed port 8080 -> 3000, except `infra-backend-v1`, whose Service has three
/// named ports (8080 plain, 8081 h2c, 8082 websocket).
fn service(ns: &str, name: &str) -> Value {
    let ports = if name.starts_with("tls-backend") {
        json!([{"protocol": "TCP", "port": 443, "targetPort": 8443}])
    } else if name == "infra-backend-v1" {
        json!([{"name": "first-port", "protocol": "TCP", "port": 8080, "targetPort": 3000},
            {"name": "second-port", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 8081, "targetPort": 3001},
            {"name": "third-port", "protocol": "TCP", "appProtocol": "kubernetes.io/ws", "port": 8082, "targetPort": 3000}])
    } else if name == "tcp-backend" {
        json!([{"name": "echo-tcp-plain", "protocol": "TCP", "port": 3000, "targetPort": 3000}, {"name": "echo-tcp-tls", "protocol": "TCP", "port": 8443, "targetPort": 8443}])
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
