//! Translate 100 Gateways x 100 HTTPRoutes (10,000 routes, 4 matches each, weighted backends)
//! and print the time per translation and the process's peak memory.
//! Run: `cargo bench -p portico-translate --bench translate_scale`.

use std::time::Instant;

use portico_model::Snapshot;
use portico_translate::{CapabilitySet, translate};

const GATEWAYS: usize = 100;
const ROUTES_PER_GATEWAY: usize = 100;

fn yaml_for_gateway(g: usize, routes: usize, out: &mut String) {
    let ns = format!("team-{g}");
    out.push_str(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw-{g}, namespace: {ns}}}\n\
         spec:\n  gatewayClassName: bench\n  listeners:\n  - {{name: http, port: 80, protocol: HTTP}}\n  - {{name: alt, port: 8080, protocol: HTTP, hostname: '*.example.com'}}\n---\n"
    ));
    for s in 0..4 {
        out.push_str(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{s}, namespace: {ns}}}\nspec:\n  ports: [{{name: http, port: 8080}}]\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc-{s}-x, namespace: {ns}, labels: {{kubernetes.io/service-name: svc-{s}}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n  - {{addresses: [10.{g}.{s}.1]}}\n  - {{addresses: [10.{g}.{s}.2]}}\n---\n"
        ));
    }
    for r in 0..routes {
        out.push_str(&format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: route-{r}, namespace: {ns}}}\nspec:\n\
             \x20 parentRefs: [{{name: gw-{g}}}]\n  hostnames: [app-{r}.example.com]\n  rules:\n\
             \x20 - matches:\n\
             \x20   - path: {{type: PathPrefix, value: /api/{r}}}\n\
             \x20   - path: {{type: Exact, value: /health/{r}}}\n\
             \x20     method: GET\n\
             \x20   - path: {{type: PathPrefix, value: /v2/{r}}}\n\
             \x20     headers: [{{name: x-version, value: two}}]\n\
             \x20   - path: {{type: PathPrefix, value: /search}}\n\
             \x20     queryParams: [{{name: q, value: x{r}}}]\n\
             \x20   backendRefs:\n\
             \x20   - {{name: svc-{}, port: 8080, weight: 80}}\n\
             \x20   - {{name: svc-{}, port: 8080, weight: 20}}\n---\n",
            r % 4,
            (r + 1) % 4
        ));
    }
}

/// A memory figure of this process from `/proc/self/status` (`VmHWM:`, `VmRSS:`), in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

fn current_rss_mib() -> f64 {
    status_mib("VmRSS:").unwrap_or(f64::NAN)
}

fn world(gateways: usize, routes: usize) -> Snapshot {
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: bench}\nspec: {controllerName: portico.dev/haproxy}\n---\n",
    );
    for g in 0..gateways {
        yaml_for_gateway(g, routes, &mut text);
    }
    let mut loaded = portico_model::load::Loaded::default();
    portico_model::load::load_str(&text, "bench", &mut loaded).expect("bench input loads");
    loaded.snapshot
}

/// Median time of `runs` translations of one world, and the memory a translation needs at its
/// peak beyond what was resident before it (the peak is reset through `/proc/self/clear_refs`).
fn time_world(snapshot: &Snapshot, caps: &CapabilitySet, runs: usize) -> (f64, f64) {
    let mut times = Vec::new();
    let mut held = 0.0;
    for _ in 0..runs {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = current_rss_mib();
        let start = Instant::now();
        let translation = translate(snapshot, caps);
        times.push(start.elapsed().as_secs_f64());
        held = peak_rss_mib().unwrap_or(f64::NAN) - before;
        drop(translation);
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], held)
}

/// The same number of routes on one Gateway as on 100: translation is linear per Gateway when the
/// ratio stays near 1.
fn one_gateway(caps: &CapabilitySet, many: f64) {
    let routes = GATEWAYS * ROUTES_PER_GATEWAY;
    let snapshot = world(1, routes);
    let (time, _) = time_world(&snapshot, caps, 3);
    println!("  1 gateway x {routes} HTTPRoutes: translate median {:.1} ms ({:.2}x the time of {GATEWAYS} x {ROUTES_PER_GATEWAY})", time * 1e3, time / many);
}

/// 100,000 routes (100 Gateways x 1,000): the memory one translation holds (issue 16: < 400 MB).
fn large(caps: &CapabilitySet) {
    let gateways = 100;
    let per_gateway: usize = std::env::var("PORTICO_LARGE_ROUTES_PER_GATEWAY").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let before = current_rss_mib();
    let start = Instant::now();
    let snapshot = world(gateways, per_gateway);
    let load = start.elapsed().as_secs_f64();
    let loaded = current_rss_mib() - before;
    let (time, held) = time_world(&snapshot, caps, 1);
    let routes = gateways * per_gateway;
    println!(
        "  {gateways} gateways x {per_gateway} HTTPRoutes = {routes}: generating + loading the YAML {load:.1} s ({loaded:.0} MiB held); translate {:.1} s, needing {held:.0} MiB at its peak ({:.1} KiB per route)",
        time,
        held * 1024.0 / routes as f64
    );
}

fn main() {
    let mut text = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: bench}\nspec: {controllerName: portico.dev/haproxy}\n---\n",
    );
    for g in 0..GATEWAYS {
        yaml_for_gateway(g, ROUTES_PER_GATEWAY, &mut text);
    }
    let mut loaded = portico_model::load::Loaded::default();
    let load_start = Instant::now();
    portico_model::load::load_str(&text, "bench", &mut loaded).expect("bench input loads");
    let load_time = load_start.elapsed();
    let snapshot: Snapshot = loaded.snapshot;
    let rss_after_load = peak_rss_mib().unwrap_or(f64::NAN);
    let caps = CapabilitySet::new([portico_haproxy::capabilities(), portico_aws::capabilities(), portico_gcp::capabilities()]);

    let mut times = Vec::new();
    let mut entries = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let translation = translate(&snapshot, &caps);
        times.push(start.elapsed());
        entries = translation.gateways.values().flat_map(|g| &g.ports).flat_map(|p| &p.virtual_hosts).map(|v| v.routes.len()).sum();
        let accepted =
            translation.statuses.routes.values().filter(|s| serde_json::to_string(s).map(|t| t.contains("\"reason\":\"Accepted\"")).unwrap_or(false)).count();
        assert_eq!(translation.gateways.len(), GATEWAYS);
        assert_eq!(accepted, GATEWAYS * ROUTES_PER_GATEWAY, "every route is accepted");
    }
    times.sort();
    let routes = GATEWAYS * ROUTES_PER_GATEWAY;
    println!("translate_scale: {GATEWAYS} gateways x {ROUTES_PER_GATEWAY} HTTPRoutes = {routes} routes, 4 matches each, 2 weighted backends");
    println!("  IR route entries produced: {entries}");
    println!("  loading the YAML (not part of translate): {:.1} ms", load_time.as_secs_f64() * 1e3);
    println!(
        "  translate: min {:.1} ms, median {:.1} ms, max {:.1} ms (5 runs; target < 500 ms)",
        times[0].as_secs_f64() * 1e3,
        times[2].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3
    );
    println!("  peak RSS: {:.1} MiB after loading, {:.1} MiB overall (target < 200 MB)", rss_after_load, peak_rss_mib().unwrap_or(f64::NAN));
    drop(snapshot);
    one_gateway(&caps, times[2].as_secs_f64());
    large(&caps);
}
