//! Blast radius with the real `haproxy -c`: a route HAProxy rejects is dropped from its Gateway
//! (with HAProxy's words) while its neighbour and the other Gateway are served; a Gateway whose
//! certificate HAProxy rejects keeps its last accepted configuration. Set `PORTICO_SKIP_HAPROXY=1`
//! to skip when HAProxy is not installed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portico_haproxy::isolate::{Checker, Part, route_keys};
use portico_haproxy::render::RenderSettings;
use portico_model::ir::{Gateway, ObjectRef};
use serde_json::json;

fn route(name: &str, path: serde_json::Value) -> serde_json::Value {
    json!({ "source": { "kind": "HTTPRoute", "namespace": "t", "name": name, "rule": 0, "match": 0 },
        "match": { "path": path, "headers": [], "queryParams": [] }, "filters": [],
        "action": { "type": "FixedResponse", "status": 200, "reason": "ok" } })
}

fn gateway(name: &str, routes: Vec<serde_json::Value>, certificates: serde_json::Value) -> Gateway {
    let protocol = if certificates.as_array().is_some_and(|c| !c.is_empty()) { "HTTPS" } else { "HTTP" };
    serde_json::from_value(json!({
        "gateway": { "namespace": "t", "name": name }, "gatewayClass": "haproxy", "provider": "haproxy",
        "requestedAddresses": [], "infrastructureLabels": {}, "backends": {},
        "ports": [{ "port": 80, "protocol": protocol, "listeners": ["l"], "certificates": certificates, "tlsRoutes": [], "l4Routes": [],
            "virtualHosts": [{ "hostname": "*", "listener": "l", "routes": routes }] }]
    }))
    .unwrap()
}

fn part(ir: Gateway, last_octet: u8, certificates: BTreeMap<ObjectRef, Vec<u8>>) -> Part {
    Part { ir, certificates, address: format!("127.0.0.{last_octet}").parse().unwrap() }
}

fn setup(name: &str) -> (PathBuf, RenderSettings) {
    let dir = std::env::temp_dir().join(format!("portico-isolate-{name}-{}", std::process::id()));
    let settings = RenderSettings {
        cert_dir: dir.join("certs"),
        port_offset: 30000,
        timeout_connect_ms: 1000,
        timeout_client_ms: 1000,
        timeout_server_ms: 1000,
        runtime_socket: dir.join("runtime.sock"),
    };
    (dir, settings)
}

#[tokio::test]
async fn a_rejected_route_is_dropped_and_its_neighbours_served() {
    if std::env::var_os("PORTICO_SKIP_HAPROXY").is_some() {
        return;
    }
    let (dir, settings) = setup("route");
    let checker = Checker { binary: "haproxy".into(), staging: &dir, settings: &settings };
    let routes = (0..6).map(|i| route(&format!("good-{i}"), json!({ "type": "Prefix", "value": format!("/p{i}") })));
    let mut all: Vec<_> = routes.collect();
    all.insert(3, route("bad", json!({ "type": "RegularExpression", "value": "a{2}{3}" })));
    let mut current = BTreeMap::new();
    current.insert(ObjectRef::new("t", "tenant"), part(gateway("tenant", all, json!([])), 2, BTreeMap::new()));
    current.insert(
        ObjectRef::new("t", "victim"),
        part(gateway("victim", vec![route("v", json!({ "type": "Prefix", "value": "/" }))], json!([])), 3, BTreeMap::new()),
    );
    let verdict = checker.decide(&current, &BTreeMap::new(), &BTreeMap::new()).await.unwrap();
    let dropped = verdict.outcome[&ObjectRef::new("t", "tenant")].clone().unwrap();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].route.id(), "HTTPRoute/t/bad");
    assert!(dropped[0].message.contains("quantifier does not follow a repeatable item"), "HAProxy's words: {}", dropped[0].message);
    let served = route_keys(&verdict.serve[&ObjectRef::new("t", "tenant")].ir);
    assert_eq!(served.len(), 6, "the six good routes stay: {served:?}");
    assert!(verdict.outcome[&ObjectRef::new("t", "victim")].is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_rejected_certificate_keeps_the_last_accepted_configuration() {
    if std::env::var_os("PORTICO_SKIP_HAPROXY").is_some() {
        return;
    }
    let (dir, settings) = setup("cert");
    let checker = Checker { binary: "haproxy".into(), staging: &dir, settings: &settings };
    let secret = ObjectRef::new("t", "cert");
    let binding = json!([{ "hostname": "*", "listener": "l", "secrets": [{ "namespace": "t", "name": "cert" }] }]);
    let garbage =
        b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n"
            .to_vec();
    let plain = part(gateway("tenant", vec![route("r", json!({ "type": "Prefix", "value": "/" }))], json!([])), 2, BTreeMap::new());
    let broken = part(gateway("tenant", vec![route("r", json!({ "type": "Prefix", "value": "/" }))], binding), 2, [(secret, garbage)].into());
    let key = ObjectRef::new("t", "tenant");
    let last_good: BTreeMap<_, _> = [(key.clone(), plain.clone())].into();
    let verdict = checker.decide(&[(key.clone(), broken)].into(), &last_good, &BTreeMap::new()).await.unwrap();
    let alerts = verdict.outcome[&key].clone().unwrap_err();
    assert!(alerts.contains("unable to load certificate"), "HAProxy's words: {alerts}");
    assert!(!alerts.contains(&dir.display().to_string()), "no staging path in the message: {alerts}");
    assert_eq!(verdict.serve[&key], plain, "the last accepted configuration stays in service");
    let _ = std::fs::remove_dir_all(&dir);
}
