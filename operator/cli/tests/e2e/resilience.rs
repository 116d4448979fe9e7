//! Restarts, dropped watches, `410 Gone`, and two replicas with leader election.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::world::World;

const GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: haproxy\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n";

fn route_to(backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: infra}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - backendRefs: [{{name: {backend}, port: 8080}}]\n"
    )
}

/// Apply a route edit and wait (up to `limit`) until traffic follows it.
async fn edit_and_follow(world: &World, at: std::net::SocketAddr, backend: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    world.apply_yaml(&route_to(backend)).await;
    while world.expect_pod(at, "any.test", "/", &[], backend).await.is_err() {
        assert!(start.elapsed() < limit, "traffic did not follow the edit to {backend} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_changes_nothing_and_drops_no_traffic() {
    let mut world = World::start("127.0.3.1-127.0.3.9", 14000, &["infra"], &[("infra", "v1")]).await;
    world.apply_yaml(GATEWAY).await;
    world.apply_yaml(&route_to("v1")).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 14080);
    edit_and_follow(&world, at, "v1", Duration::from_secs(5)).await;
    let (pid, modified) = (world.haproxy_pid(), world.haproxy_config_modified());
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = portico_sandbox::http_get(at, "any.test", "/", &[]).await.is_ok_and(|r| r.status == 200);
                sent.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    world.kill_operator(0);
    world.spawn_operator(&[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "requests failed during the restart ({} sent)", sent.load(Ordering::Relaxed));
    assert_eq!(world.haproxy_pid(), pid, "HAProxy was not restarted");
    assert_eq!(world.haproxy_config_modified(), modified, "the configuration was not rewritten");
    assert_eq!(world.programmed("infra", "gw").await, address, "the Gateway keeps its address");
    eprintln!("restart: {} requests, none failed; HAProxy and its configuration untouched", sent.load(Ordering::Relaxed));
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_dropped_watches_and_410_gone() {
    let world = World::start("127.0.4.1-127.0.4.9", 15000, &["infra"], &[("infra", "v1"), ("infra", "v2")]).await;
    world.apply_yaml(GATEWAY).await;
    world.apply_yaml(&route_to("v1")).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 15080);
    edit_and_follow(&world, at, "v1", Duration::from_secs(5)).await;
    world.server.close_watches();
    let after_drop = edit_and_follow(&world, at, "v2", Duration::from_secs(10)).await;
    world.server.expire_history();
    let after_410 = edit_and_follow(&world, at, "v1", Duration::from_secs(15)).await;
    eprintln!("after dropped watches: {after_drop:?}; after 410 Gone: {after_410:?}");
}

async fn metric(port: u16, name: &str) -> Option<f64> {
    let at: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    let reply = portico_sandbox::http_get(at, "localhost", "/metrics", &[]).await.ok()?;
    reply.body.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_one_leader_and_failover() {
    let args = |id: &'static str, port: &'static str| vec!["--leader-elect", "--identity", id, "--metrics-address", port];
    let mut world = World::start_with("127.0.5.1-127.0.5.9", 16000, &["infra"], &[("infra", "v1"), ("infra", "v2")], &args("a", "127.0.0.1:16901")).await;
    world.spawn_operator(&args("b", "127.0.0.1:16902"));
    world.apply_yaml(GATEWAY).await;
    world.apply_yaml(&route_to("v1")).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 16080);
    edit_and_follow(&world, at, "v1", Duration::from_secs(5)).await;
    let leaders = (metric(16901, "portico_leader").await, metric(16902, "portico_leader").await);
    let writes = (metric(16901, "portico_status_writes_total").await, metric(16902, "portico_status_writes_total").await);
    assert!(matches!(leaders, (Some(1.0), Some(0.0)) | (Some(0.0), Some(1.0))), "exactly one leader: {leaders:?}");
    let leader = if leaders.0 == Some(1.0) { 0 } else { 1 };
    let follower_writes = if leader == 0 { writes.1 } else { writes.0 };
    assert!(follower_writes.is_none(), "the follower never writes status: {writes:?}");
    world.kill_operator(leader);
    let failover = edit_and_follow(&world, at, "v2", Duration::from_secs(40)).await;
    eprintln!("leader {} killed; the other replica took over and programmed an edit in {failover:?}", ["a", "b"][leader]);
    // A leader stopped the way kubelet stops it (SIGTERM) releases the Lease: a standby takes
    // over on its next try (every 5 s), not when the lease would have expired (15 s and more).
    world.spawn_operator(&args("c", "127.0.0.1:16903"));
    let survivor = 1 - leader;
    tokio::time::sleep(Duration::from_secs(2)).await;
    world.terminate_operator(survivor);
    let handover = edit_and_follow(&world, at, "v1", Duration::from_secs(9)).await;
    eprintln!("leader {} stopped with SIGTERM; replica c took over and programmed an edit in {handover:?}", ["a", "b"][survivor]);
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_changes_use_the_runtime_api_without_a_reload() {
    let world = World::start("127.0.6.1-127.0.6.9", 17000, &["infra"], &[("infra", "v1")]).await;
    world.apply_yaml(GATEWAY).await;
    world.apply_yaml(&route_to("v1")).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 17080);
    edit_and_follow(&world, at, "v1", Duration::from_secs(5)).await;
    let workers = world.haproxy_workers();
    assert!(!workers.is_empty(), "HAProxy runs workers");
    let start = Instant::now();
    world.add_endpoint("infra", "v1", "v1-second").await;
    let mut seen = std::collections::BTreeSet::new();
    while !seen.contains("v1-second") {
        assert!(start.elapsed() < Duration::from_secs(3), "the new endpoint got no traffic (saw {seen:?})");
        if let Ok(reply) = portico_sandbox::http_get(at, "any.test", "/", &[]).await
            && let Some(pod) = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string))
        {
            seen.insert(pod);
        }
    }
    // A reload forks new workers; old ones may still be exiting from an earlier reload, so only
    // new worker processes prove a reload.
    let after = world.haproxy_workers();
    let forked: Vec<&str> = after.split_whitespace().filter(|pid| !workers.split_whitespace().any(|w| w == *pid)).collect();
    assert!(forked.is_empty(), "an endpoint-only change must not reload HAProxy (new workers {forked:?}; before {workers:?}, after {after:?})");
    eprintln!("new endpoint served after {:?} without a reload", start.elapsed());
}

fn two_paths(a: &str, b: &str, extra: &str, tenant: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: paths, namespace: infra}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - matches: [{{path: {{type: PathPrefix, value: /a}}}}]\n    backendRefs: [{{name: {a}, port: 8080}}]\n    filters: [{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: x-tenant, value: '{tenant}'}}]}}}}]\n  - matches: [{{path: {{type: PathPrefix, value: /b}}}}]\n    backendRefs: [{{name: {b}, port: 8080}}]\n{extra}"
    )
}

/// The value of request header `name` the echo backend saw for GET `path`.
async fn seen_header(world: &World, at: std::net::SocketAddr, path: &str, name: &str) -> Option<String> {
    let echo = world.get(at, "any.test", path, &[]).await.ok()?.echo()?;
    let headers = echo["headers"].as_object()?;
    let (_, values) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    Some(values.as_array()?.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(","))
}

/// Route edits that only change what the HAProxy maps hold (a rule's backend, a new path rule,
/// a header value with a blank inside) are applied through the runtime API: traffic follows and
/// no worker is forked.
#[tokio::test(flavor = "multi_thread")]
async fn path_and_backend_edits_use_the_runtime_api_without_a_reload() {
    let world = World::start("127.0.8.1-127.0.8.9", 19000, &["infra"], &[("infra", "v1"), ("infra", "v2")]).await;
    world.apply_yaml(GATEWAY).await;
    world.apply_yaml(&two_paths("v1", "v2", "", "team one")).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 19080);
    let wait = |path: &'static str, pod: &'static str| {
        let world = &world;
        async move {
            let start = Instant::now();
            while world.expect_pod(at, "any.test", path, &[], pod).await.is_err() {
                assert!(start.elapsed() < Duration::from_secs(5), "{path} did not reach {pod}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            start.elapsed()
        }
    };
    wait("/a", "v1").await;
    wait("/b/x", "v2").await;
    let workers = world.haproxy_workers();
    let extra = "  - matches: [{path: {type: PathPrefix, value: /c}}]\n    backendRefs: [{name: v1, port: 8080}]\n";
    assert_eq!(seen_header(&world, at, "/a", "x-tenant").await.as_deref(), Some("team one"));
    world.apply_yaml(&two_paths("v2", "v2", extra, "team two")).await;
    let followed = wait("/a", "v2").await;
    wait("/c/y", "v1").await;
    assert_eq!(seen_header(&world, at, "/a", "x-tenant").await.as_deref(), Some("team two"), "the header map was not updated");
    let after = world.haproxy_workers();
    let forked: Vec<&str> = after.split_whitespace().filter(|pid| !workers.split_whitespace().any(|w| w == *pid)).collect();
    assert!(forked.is_empty(), "a map-only edit must not reload HAProxy (new workers {forked:?}; before {workers:?}, after {after:?})");
    eprintln!("map-only edit served after {followed:?} without a reload");
}
