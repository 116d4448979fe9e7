//! The operator at scale, end to end: the real `portico run` process against the in-memory API
//! server, real HAProxy and echo backends (the e2e world). One Gateway; first 1 route, then
//! 10,000 HTTPRoutes created by 16 concurrent writers. Prints, for each size:
//! - status: seconds from the last route write until every route carries Accepted=True;
//! - edit -> traffic follows: a route's backend switched, until HAProxy sends its requests to the
//!   new backend (median and worst of 20 edits);
//! - the operator's CPU per edit (the `portico run` process only) and its memory (RSS, peak);
//!
//! and the ratios against the 1-route Gateway measured in the same run. Figures only, no pass/fail
//! on time. Run: `cargo bench -p portico-cli --bench operator_scale` (needs `haproxy`);
//! `PORTICO_SCALE_ROUTES=5000,10000` changes the sizes; `PORTICO_SCALE_VERBOSE=1` prints every
//! edit and which backends answered right after it.

#[allow(dead_code)]
#[path = "../tests/e2e/world.rs"]
mod world;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};
use world::World;

const EDITS: usize = 20;
const WRITERS: usize = 16;
const GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: haproxy\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n";

fn routes_api(world: &World) -> Api<DynamicObject> {
    Api::namespaced_with(world.client.clone(), "infra", &portico_sandbox::kit::resource("HTTPRoute", "httproutes"))
}

fn route(i: usize, backend: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": format!("r{i:05}"), "namespace": "infra"},
        "spec": {"parentRefs": [{"name": "gw"}], "hostnames": [format!("r{i}.bench.test")],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": backend, "port": 8080}]}]}
    }))
    .expect("an HTTPRoute")
}

/// Create routes `from..to` with concurrent writers; returns when the last write was answered.
async fn create_routes(world: &World, from: usize, to: usize) {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let api = routes_api(world);
        tasks.push(tokio::spawn(async move {
            for i in (from + w..to).step_by(WRITERS) {
                api.create(&PostParams::default(), &route(i, "v1")).await.expect("create a route");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer");
    }
}

fn accepted(route: &DynamicObject) -> bool {
    let parents = route.data.pointer("/status/parents").and_then(Value::as_array).cloned().unwrap_or_default();
    parents.iter().any(|p| {
        p["controllerName"] == "portico.dev/haproxy"
            && p["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Accepted" && c["status"] == "True"))
    })
}

/// Seconds until all `count` routes carry Accepted=True (polled every 50 ms).
async fn all_accepted(world: &World, count: usize) -> f64 {
    let start = Instant::now();
    let api = routes_api(world);
    loop {
        let listed = api.list(&ListParams::default()).await.expect("list routes");
        if listed.items.iter().filter(|r| accepted(r)).count() >= count {
            return start.elapsed().as_secs_f64();
        }
        assert!(start.elapsed() < Duration::from_secs(600), "routes never all accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// user + system CPU seconds of a process (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// (RSS, peak RSS) of a process in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN) / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Figures {
    routes: usize,
    status_seconds: f64,
    edit_median: f64,
    edit_worst: f64,
    cpu_per_edit: f64,
    rss: (f64, f64),
}

/// Switch route `index` between the two backends `EDITS` times; each time wait until traffic
/// for its host reaches the new backend.
async fn edits(world: &World, at: SocketAddr, index: usize) -> (Vec<f64>, f64) {
    let api = routes_api(world);
    let host = format!("r{index}.bench.test");
    let pid = world.operator_pid(0);
    let cpu_before = cpu_seconds(pid);
    let mut times = Vec::new();
    for edit in 0..EDITS {
        let backend = if edit % 2 == 0 { "v2" } else { "v1" };
        let patch =
            json!({"spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}], "backendRefs": [{"name": backend, "port": 8080}]}]}});
        let start = Instant::now();
        api.patch(&format!("r{index:05}"), &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.expect("edit a route");
        while world.expect_pod(at, &host, "/", &[], backend).await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "traffic never followed the edit");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(start.elapsed().as_secs_f64());
        if std::env::var_os("PORTICO_SCALE_VERBOSE").is_some() {
            let mut pods = Vec::new();
            for _ in 0..10 {
                let reply = world.get(at, &host, "/", &[]).await;
                pods.push(reply.ok().and_then(|r| r.echo().and_then(|e| e["pod"].as_str().map(str::to_string))).unwrap_or_default());
            }
            eprintln!("edit {edit} of r{index:05} to {backend}: traffic followed after {:.0} ms; then {pods:?}", start.elapsed().as_secs_f64() * 1e3);
        }
        // Let the pass that wrote the route's status finish before the next edit.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (times, (cpu_seconds(pid) - cpu_before) / EDITS as f64)
}

async fn measure(world: &World, at: SocketAddr, created: usize, target: usize) -> Figures {
    create_routes(world, created, target).await;
    let status_seconds = all_accepted(world, target).await;
    let (mut times, cpu_per_edit) = edits(world, at, target - 1).await;
    times.sort_by(f64::total_cmp);
    Figures {
        routes: target,
        status_seconds,
        edit_median: times[times.len() / 2],
        edit_worst: times[times.len() - 1],
        cpu_per_edit,
        rss: memory_mib(world.operator_pid(0)),
    }
}

fn sizes() -> Vec<usize> {
    let text = std::env::var("PORTICO_SCALE_ROUTES").unwrap_or_else(|_| "10000".into());
    let mut sizes: Vec<usize> = text.split(',').filter_map(|s| s.trim().parse().ok()).filter(|n| *n > 1).collect();
    sizes.sort_unstable();
    sizes
}

fn print(figures: &Figures, base: &Figures) {
    println!(
        "  {:>6} routes: status of all {:.2} s after the last write ({} new); edit -> traffic median {:.0} ms, worst {:.0} ms ({:.1}x / {:.1}x the 1-route Gateway); operator CPU per edit {:.0} ms ({:.1}x); RSS {:.0} MiB, peak {:.0} MiB",
        figures.routes,
        figures.status_seconds,
        figures.routes - base.routes.min(figures.routes),
        figures.edit_median * 1e3,
        figures.edit_worst * 1e3,
        figures.edit_median / base.edit_median,
        figures.edit_worst / base.edit_worst,
        figures.cpu_per_edit * 1e3,
        figures.cpu_per_edit / base.cpu_per_edit.max(0.01),
        figures.rss.0,
        figures.rss.1,
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let world = World::start_with("127.0.50.1-127.0.50.9", 25000, &["infra"], &[("infra", "v1"), ("infra", "v2")], &["--drift-interval", "1h"]).await;
    world.apply_yaml(GATEWAY).await;
    let address = world.programmed("infra", "gw").await;
    let at = world.socket(&address, 25080);
    println!("operator_scale: portico run + in-memory API server + HAProxy, one Gateway, {EDITS} backend edits per size");
    let base = measure(&world, at, 0, 1).await;
    print(&base, &base);
    let mut created = 1;
    for size in sizes() {
        let figures = measure(&world, at, created, size).await;
        created = size;
        print(&figures, &base);
    }
}
