//! Addresses and L4 listeners with real traffic: an address one Gateway holds cannot be taken by
//! another (the victim keeps its address and traffic), static addresses are honoured or refused
//! as a whole, several TCPRoutes on one listener all attach while only the oldest gets traffic,
//! TLS listeners in Terminate mode forward decrypted connections, and route status stays one
//! entry per parent on an API server that prunes what its schema does not declare.

use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::world::World;

/// `.status` of a Gateway API object (`kind`, `plural` in group gateway.networking.k8s.io/v1).
async fn status(world: &World, kind: &str, plural: &str, ns: &str, name: &str) -> Value {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", kind), plural);
    let api: Api<DynamicObject> = Api::namespaced_with(world.client.clone(), ns, &resource);
    api.get_opt(name).await.unwrap().and_then(|o| o.data.get("status").cloned()).unwrap_or(Value::Null)
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

/// Wait (up to 10 s) until `check` accepts the object's status; panics with the last status.
async fn wait_status(world: &World, kind: &str, plural: &str, ns: &str, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = status(world, kind, plural, ns, name).await;
        if check(&current) {
            return current;
        }
        assert!(Instant::now() < deadline, "{kind} {ns}/{name}: {what} not reached; status: {current}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn programmed_reason(status: &Value) -> Option<String> {
    condition(&status["conditions"], "Programmed").and_then(|c| c["reason"].as_str()).map(str::to_string)
}

async fn until_ok<F, Fut>(name: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match probe().await {
            Ok(()) => return,
            Err(why) if Instant::now() >= deadline => panic!("{name}: {why}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

const VICTIM: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: victim, namespace: team-a}
spec:
  gatewayClassName: haproxy
  listeners:
  - {name: http, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: team-a}
spec:
  parentRefs: [{name: victim}]
  hostnames: [shop.test]
  rules:
  - backendRefs: [{name: victim-v1, port: 8080}]
"#;

fn thief(address: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: thief, namespace: team-b}}\nspec:\n  gatewayClassName: haproxy\n  addresses: [{{value: \"{address}\"}}]\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: shop, namespace: team-b}}\nspec:\n  parentRefs: [{{name: thief}}]\n  hostnames: [shop.test]\n  rules:\n  - backendRefs: [{{name: thief-v1, port: 8080}}]\n"
    )
}

fn static_gateway(addresses: &[&str]) -> String {
    let list: Vec<String> = addresses.iter().map(|a| format!("{{value: \"{a}\"}}")).collect();
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: static, namespace: team-b}}\nspec:\n  gatewayClassName: haproxy\n  addresses: [{}]\n  listeners:\n  - {{name: http, port: 81, protocol: HTTP}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: static, namespace: team-b}}\nspec:\n  parentRefs: [{{name: static}}]\n  rules:\n  - backendRefs: [{{name: thief-v1, port: 8080}}]\n",
        list.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_are_owned_and_requests_are_honoured_or_refused() {
    let world = World::start("127.0.7.1-127.0.7.9", 18000, &["team-a", "team-b"], &[("team-a", "victim-v1"), ("team-b", "thief-v1")]).await;
    world.apply_yaml(VICTIM).await;
    let address = world.programmed("team-a", "victim").await;
    let victim = world.socket(&address, 18080);
    until_ok("victim served", || async { world.expect_pod(victim, "shop.test", "/", &[], "victim-v1").await }).await;

    // A tenant in another namespace asks for the victim's address, with a route for its hosts.
    world.apply_yaml(&thief(&address)).await;
    let refused = wait_status(&world, "Gateway", "gateways", "team-b", "thief", "Programmed=False/AddressNotUsable", |s| {
        programmed_reason(s).as_deref() == Some("AddressNotUsable")
    })
    .await;
    let message = condition(&refused["conditions"], "Programmed").unwrap()["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("another Gateway") && !message.contains("team-a"), "the holder's namespace is not revealed: {message}");
    assert!(refused["addresses"].as_array().is_none_or(Vec::is_empty), "the thief reports no address: {refused}");
    for i in 0..30 {
        world.expect_pod(victim, "shop.test", "/", &[], "victim-v1").await.unwrap_or_else(|why| panic!("request {i} after the hijack attempt: {why}"));
    }
    let kept = status(&world, "Gateway", "gateways", "team-a", "victim").await;
    assert_eq!(kept["addresses"][0]["value"], address.as_str(), "the victim keeps its address: {kept}");
    assert_eq!(programmed_reason(&kept).as_deref(), Some("Programmed"));

    // Static addresses: one usable and one outside the pool is refused as a whole.
    world.apply_yaml(&static_gateway(&["127.0.7.8", "192.0.2.1"])).await;
    let both =
        wait_status(&world, "Gateway", "gateways", "team-b", "static", "AddressNotUsable", |s| programmed_reason(s).as_deref() == Some("AddressNotUsable"))
            .await;
    assert_eq!(condition(&both["conditions"], "Accepted").unwrap()["status"], "True", "still Accepted: {both}");
    assert!(world.get(world.socket("127.0.7.8", 18081), "any.test", "/", &[]).await.is_err(), "nothing is bound for a refused Gateway");
    // Without the unusable one: programmed on exactly the usable address.
    world.apply_yaml(&static_gateway(&["127.0.7.8"])).await;
    let usable = wait_status(&world, "Gateway", "gateways", "team-b", "static", "Programmed", |s| programmed_reason(s).as_deref() == Some("Programmed")).await;
    let reported: Vec<&str> = usable["addresses"].as_array().unwrap().iter().filter_map(|a| a["value"].as_str()).collect();
    assert_eq!(reported, ["127.0.7.8"], "status.addresses holds the usable address only");
    until_ok("static address served", || async { world.expect_pod(world.socket("127.0.7.8", 18081), "any.test", "/", &[], "thief-v1").await }).await;
    world.expect_pod(victim, "shop.test", "/", &[], "victim-v1").await.expect("the victim is unaffected");
}

const L4: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: haproxy
  listeners:
  - {name: tcp, port: 90, protocol: TCP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}
  - name: tls
    port: 91
    protocol: TLS
    hostname: tls.example.com
    tls: {mode: Terminate, certificateRefs: [{name: example-com-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: older, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: tcp}]
  rules:
  - backendRefs: [{name: older-backend, port: 3000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: terminated, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: tls}]
  hostnames: [tls.example.com]
  rules:
  - backendRefs: [{name: plain-backend, port: 3000}]
"#;

const NEWER: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: newer, namespace: infra}\nspec:\n  parentRefs: [{name: gw, sectionName: tcp}]\n  rules:\n  - backendRefs: [{name: newer-backend, port: 3000}]\n";

/// A TLS connection with SNI (certificate not verified: it is self-signed); returns the banner
/// the backend sent in plain text behind the terminating listener.
async fn tls_banner(address: &str, port: u16, host: &str) -> Result<String, String> {
    let script = format!(
        "import ssl,socket\nc=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\ns=c.wrap_socket(socket.create_connection(('{address}',{port}),timeout=5),server_hostname='{host}')\nassert s.getpeercert(binary_form=True)\nprint(s.recv(256).decode(errors='replace'))\n"
    );
    let out = tokio::process::Command::new("python3").arg("-c").arg(&script).output().await.map_err(|e| e.to_string())?;
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).to_string()) }
}

#[tokio::test(flavor = "multi_thread")]
async fn l4_listener_serves_its_oldest_route_and_tls_terminates() {
    let world = World::start("127.0.7.10-127.0.7.19", 18500, &["infra"], &[]).await;
    for backend in ["older-backend", "newer-backend", "plain-backend"] {
        world.tcp_backend("infra", backend, 3000).await;
    }
    world.apply_example_secret().await;
    world.apply_yaml(L4).await;
    let address = world.programmed("infra", "gw").await;
    until_ok("older TCPRoute served", || async { world.expect_tcp_banner(&address, 18590, "older-backend").await }).await;
    // creationTimestamp has second precision: the newer route must be strictly newer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    world.apply_yaml(NEWER).await;
    let accepted =
        |s: &Value| s["parents"].as_array().is_some_and(|p| p.iter().any(|e| condition(&e["conditions"], "Accepted").is_some_and(|c| c["status"] == "True")));
    wait_status(&world, "TCPRoute", "tcproutes", "infra", "newer", "Accepted=True", accepted).await;
    wait_status(&world, "TCPRoute", "tcproutes", "infra", "older", "Accepted=True", accepted).await;
    wait_status(&world, "Gateway", "gateways", "infra", "gw", "attachedRoutes 2 on tcp", |s| {
        s["listeners"].as_array().is_some_and(|l| l.iter().any(|l| l["name"] == "tcp" && l["attachedRoutes"] == 2))
    })
    .await;
    for i in 0..50 {
        world.expect_tcp_banner(&address, 18590, "older-backend").await.unwrap_or_else(|why| panic!("connection {i}: {why}"));
    }
    until_ok("TLS Terminate forwards decrypted traffic", || async {
        let banner = tls_banner(&address, 18591, "tls.example.com").await?;
        banner.contains("plain-backend").then_some(()).ok_or(format!("banner {banner:?}"))
    })
    .await;
    // More passes (each Service edit triggers one): route status stays one entry per parent on a
    // server that prunes undeclared fields, each entry complete.
    for n in 0..3 {
        let edit = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: plain-backend, namespace: infra, labels: {{pass: \"{n}\"}}}}\nspec:\n  ports: [{{name: tcp, port: 3000}}]\n"
        );
        world.apply_yaml(&edit).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for route in ["older", "newer"] {
        let parents = status(&world, "TCPRoute", "tcproutes", "infra", route).await["parents"].clone();
        let entries = parents.as_array().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 1, "TCPRoute {route}: one parent entry, got {parents}");
        assert_eq!(entries[0]["controllerName"], "portico.dev/haproxy", "entry kept whole: {parents}");
        assert_eq!(entries[0]["parentRef"]["name"], "gw", "entry kept whole: {parents}");
    }
}
