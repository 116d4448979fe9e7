//! A hostile tenant next to a victim on the same HAProxy: each test applies the hostile object
//! beside the victim's working route and proves the victim's traffic and edits are unaffected,
//! the operator stays up, and the hostile object carries the precise condition.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::world::World;

const VICTIM: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: victim}\nspec:\n  gatewayClassName: haproxy\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n";

fn victim_route(backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: victim}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8080}}]\n"
    )
}

/// The victim serves `backend`, and follows an edit to `next` within 2 s.
async fn victim_follows(world: &World, at: std::net::SocketAddr, next: &str) {
    let start = Instant::now();
    world.apply_yaml(&victim_route(next)).await;
    while world.expect_pod(at, "any.test", "/", &[], next).await.is_err() {
        // Catches a frozen victim, not a speed goal: on 2 busy cores one reload can take over a second.
        assert!(start.elapsed() < Duration::from_secs(5), "the victim's edit to {next} was not followed within 5 s (logs: {})", world.state_dir.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until the Gateway's condition `kind` has `reason`; returns its message.
async fn condition(world: &World, ns: &str, name: &str, kind: &str, reason: &str) -> String {
    let resource = kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"), "gateways");
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(world.client.clone(), ns, &resource);
    let mut last = Value::Null;
    for _ in 0..150 {
        if let Some(gw) = api.get_opt(name).await.unwrap() {
            let found = gw.data["status"]["conditions"].as_array().and_then(|c| c.iter().find(|x| x["type"] == kind)).cloned();
            if let Some(found) = found {
                if found["reason"] == reason {
                    return found["message"].as_str().unwrap_or_default().to_string();
                }
                last = found;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Gateway {ns}/{name}: {kind} never had reason {reason} (last: {last})");
}

/// The first operator is still up: it never panicked and still answers /healthz.
async fn operator_alive(world: &World, port: u16) {
    let log = std::fs::read_to_string(world.state_dir.join("portico-0.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "the operator panicked: {log}");
    let at: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let reply = portico_sandbox::http_get(at, "localhost", "/healthz", &[]).await;
    assert!(reply.is_ok_and(|r| r.status == 200), "the operator stopped answering /healthz");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_parameters_cannot_run_commands() {
    let world =
        World::start_with("127.0.7.1-127.0.7.9", 18000, &["victim", "tenant"], &[("victim", "v1"), ("victim", "v2")], &["--metrics-address", "127.0.0.1:9300"])
            .await;
    world.apply_yaml(VICTIM).await;
    world.apply_yaml(&victim_route("v1")).await;
    let address = world.programmed("victim", "gw").await;
    let at = world.socket(&address, 18080);
    victim_follows(&world, at, "v1").await;
    let marker = world.state_dir.join("tenant-was-here");
    let script = world.state_dir.join("evil-haproxy.sh");
    std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    let _ = std::process::Command::new("chmod").arg("755").arg(&script).status();
    let hostile = format!(
        "apiVersion: portico.dev/v1alpha1\nkind: HAProxyParameters\nmetadata: {{name: mine, namespace: tenant}}\nspec:\n  mode: External\n  haproxyBinary: {script}\n  reloadCommand: [/bin/sh, -c, \"touch {marker}\"]\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: tenant}}\nspec:\n  gatewayClassName: haproxy\n  infrastructure:\n    parametersRef: {{group: portico.dev, kind: HAProxyParameters, name: mine}}\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP}}\n",
        script = script.display(),
        marker = marker.display()
    );
    world.apply_yaml(&hostile).await;
    let message = condition(&world, "tenant", "gw", "Accepted", "InvalidParameters").await;
    assert!(message.contains("haproxyBinary"), "the condition names the field: {message}");
    victim_follows(&world, at, "v2").await;
    victim_follows(&world, at, "v1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists(), "the tenant's command ran");
    operator_alive(&world, 9300).await;
    eprintln!("tenant parameters refused: {message}");
}

/// A Secret whose certificate and key do not belong together (the example certificate with a
/// fresh key): translation cannot tell, HAProxy can.
fn mismatched_secret(world: &World) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/10-infra.yaml")).unwrap();
    let secret =
        serde_yaml::Deserializer::from_str(&text).map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap()).find(|v| v["kind"] == "Secret").unwrap();
    let key_file = world.state_dir.join("other.key");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&key_file)
        .status()
        .unwrap();
    assert!(made.success(), "openssl genpkey");
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, std::fs::read(&key_file).unwrap());
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: bad, namespace: tenant}}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {key}\n",
        secret["data"]["tls.crt"].as_str().unwrap()
    )
}

const TENANT_HTTPS: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: tenant}\nspec:\n  gatewayClassName: haproxy\n  listeners:\n  - {name: https, port: 443, protocol: HTTPS, tls: {mode: Terminate, certificateRefs: [{name: bad}]}}\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_certificate_fails_only_its_gateway() {
    let world =
        World::start_with("127.0.8.1-127.0.8.9", 19000, &["victim", "tenant"], &[("victim", "v1"), ("victim", "v2")], &["--metrics-address", "127.0.0.1:9301"])
            .await;
    world.apply_yaml(VICTIM).await;
    world.apply_yaml(&victim_route("v1")).await;
    let address = world.programmed("victim", "gw").await;
    let at = world.socket(&address, 19080);
    victim_follows(&world, at, "v1").await;
    world.apply_yaml(&mismatched_secret(&world)).await;
    world.apply_yaml(TENANT_HTTPS).await;
    let message = condition(&world, "tenant", "gw", "Programmed", "Invalid").await;
    assert!(message.contains("inconsistencies between private key and certificate"), "HAProxy's own text: {message}");
    assert!(!message.contains("Fatal errors found"), "summary lines are left out: {message}");
    victim_follows(&world, at, "v2").await;
    victim_follows(&world, at, "v1").await;
    assert_eq!(world.programmed("victim", "gw").await, address, "the victim stays Programmed at its address");
    operator_alive(&world, 9301).await;
    eprintln!("tenant Gateway with a mismatched key: {message}");
}

/// The kill -9 loop: the operator is killed ten times while the route changes; HAProxy keeps
/// serving throughout and ends on the API's state. Bound: at most 2 failed requests in all
/// (in practice none: HAProxy does not depend on the operator to serve, and reloads are hitless).
#[tokio::test(flavor = "multi_thread")]
async fn kill_nine_loop_converges_without_failed_requests() {
    let mut world = World::start("127.0.9.1-127.0.9.9", 20000, &["victim"], &[("victim", "v1"), ("victim", "v2")]).await;
    world.apply_yaml(VICTIM).await;
    world.apply_yaml(&victim_route("v1")).await;
    let address = world.programmed("victim", "gw").await;
    let at = world.socket(&address, 20080);
    victim_follows(&world, at, "v1").await;
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = portico_sandbox::http_get(at, "any.test", "/", &[]).await.is_ok_and(|r| r.status == 200);
                sent.fetch_add(1, Ordering::Relaxed);
                failed.fetch_add(usize::from(!ok), Ordering::Relaxed);
            }
        })
    };
    let mut last = "v1";
    for round in 0..10 {
        last = if round % 2 == 0 { "v2" } else { "v1" };
        world.apply_yaml(&victim_route(last)).await;
        // Kill at a different moment of the pass each round (0..450 ms after the edit).
        tokio::time::sleep(Duration::from_millis(50 * (round as u64 % 10))).await;
        world.kill_operator(round);
        world.spawn_operator(&[]);
    }
    // Converged: traffic goes to the API's backend and the configuration on disk says so.
    let other = if last == "v1" { "v2" } else { "v1" };
    let start = Instant::now();
    loop {
        let config = std::fs::read_to_string(world.state_dir.join("haproxy/haproxy.cfg")).unwrap_or_default();
        let file_ok = config.contains(&format!("service victim/{last}:8080")) && !config.contains(&format!("service victim/{other}:8080"));
        if file_ok && world.expect_pod(at, "any.test", "/", &[], last).await.is_ok() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "HAProxy did not converge to the API state ({last}) after the kill loop (file agrees: {file_ok})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(failed <= 2, "{failed} of {sent} requests failed during the kill -9 loop (bound: 2)");
    eprintln!("kill -9 loop: 10 kills, {sent} requests, {failed} failed; converged to {last} {:?} after the last kill", start.elapsed());
}
