//! GCP provider against the fake Compute API: one Gateway with 1,000 HTTPRoutes from empty,
//! one call at a time and then with calls of one kind concurrently (every operation taking
//! wall-clock time, as GCP's do), then one route edit, then a no-op resync. Prints API calls by operation (as the provider
//! counted them, and the operation polls the fake saw), the URL map's size against GCP's limit
//! (and the route count at which it would be reached), and wall times. Figures only.
//!
//! `cargo bench -p portico-gcp --bench gcp_fake`

use std::collections::BTreeMap;
use std::time::Instant;

use portico_computefake::ComputeFake;
use portico_gcp::{CallCounts, GcpProvider, Settings};
use portico_model::ir::ObjectRef;
use portico_model::load::{Loaded, load_str};
use portico_provider::{Desired, Provider};

const ROUTES: usize = 1000;
const SERVICES: usize = 20;
const GCP_URL_MAP_LIMIT: usize = 1_000_000;

fn world(routes: usize, edited: Option<usize>) -> String {
    let mut out = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gcp}\nspec:\n  controllerName: portico.dev/gcp\n  parametersRef: {group: portico.dev, kind: GCPLoadBalancerParameters, name: big, namespace: default}\n---\napiVersion: portico.dev/v1alpha1\nkind: GCPLoadBalancerParameters\nmetadata: {name: big, namespace: default}\nspec: {project: bench, firewallTargets: {networkTags: [nodes]}, quotas: {routeRulesPerPathMatcher: 100000, urlMapBytes: 100000000}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\nspec:\n  gatewayClassName: gcp\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n",
    );
    for s in 0..SERVICES {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: default}}\nspec: {{ports: [{{name: http, port: 8080}}]}}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc{s}-1, namespace: default, labels: {{kubernetes.io/service-name: svc{s}}}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints: [{{addresses: [10.0.1.{}], nodeName: node-a, zone: us-central1-a}}, {{addresses: [10.0.2.{}], nodeName: node-b, zone: us-central1-b}}]\n",
            s + 10,
            s + 10
        ));
    }
    for r in 0..routes {
        let prefix = if edited == Some(r) { "edit" } else { "path" };
        out.push_str(&format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r{r:04}, namespace: default}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules: [{{matches: [{{path: {{type: PathPrefix, value: /{prefix}{r:04}}}}}], backendRefs: [{{name: svc{}, port: 8080}}]}}]\n",
            r % SERVICES
        ));
    }
    out
}

fn desired(yaml: &str) -> Desired {
    let mut loaded = Loaded::default();
    load_str(yaml, "bench", &mut loaded).unwrap();
    let capabilities = portico_translate::CapabilitySet::new([portico_gcp::capabilities(), portico_haproxy::capabilities()]);
    let mut translation = portico_translate::translate(&loaded.snapshot, &capabilities);
    let defaults = portico_gcp::Defaults { cluster: "bench".into(), project: Some("bench".into()), region: None };
    let planner = portico_gcp::GcpPlanner::new(defaults);
    portico_translate::outcome::checked(&loaded.snapshot, &capabilities, &mut translation, |d| portico_provider::Planner::check(&planner, d))
        .remove(&ObjectRef::new("default", "gw"))
        .unwrap()
}

fn print_calls(title: &str, before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    let (mut mutating, mut read) = (0, 0);
    println!("  {title}:");
    for (op, n) in after {
        let delta = n - before.get(op).copied().unwrap_or(0);
        if delta == 0 {
            continue;
        }
        let kind = if CallCounts::is_mutating(op) { "mutating" } else { "read" };
        println!("    {op:<45} {delta:>6}  {kind}");
        if CallCounts::is_mutating(op) { mutating += delta } else { read += delta }
    }
    println!("    total: {mutating} mutating, {read} read");
    mutating
}

/// One observe -> plan -> apply; (mutating calls, plan steps, wall seconds).
async fn pass(gcp: &GcpProvider, fake: &ComputeFake, want: &Desired, title: &str) -> (u64, usize, f64) {
    let before = gcp.clients().counts.snapshot();
    let polls_before: u64 = fake.calls().iter().filter(|(op, _)| op.contains("Operations.")).map(|(_, n)| n).sum();
    let started = Instant::now();
    let observed = gcp.observe(&want.ir.gateway).await.unwrap();
    let plan = gcp.plan(Some(want), &observed);
    let steps = plan.plan.steps.len();
    gcp.apply(&plan).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let mutating = print_calls(title, &before, &gcp.clients().counts.snapshot());
    let polls: u64 = fake.calls().iter().filter(|(op, _)| op.contains("Operations.")).map(|(_, n)| n).sum::<u64>() - polls_before;
    println!("    operation polls: {polls}; wall time: {seconds:.2} s");
    (mutating, steps, seconds)
}

fn url_map_bytes(want: &Desired) -> usize {
    let defaults = portico_gcp::Defaults { cluster: "bench".into(), project: Some("bench".into()), region: None };
    portico_gcp::compile(want, &defaults).unwrap().url_map_bytes.values().copied().max().unwrap_or(0)
}

/// Wall-clock time of every Compute operation in the fake (GCP's take 1-2 s; the default keeps
/// the sequential baseline short enough for CI).
fn operation_duration() -> std::time::Duration {
    let millis = std::env::var("PORTICO_GCP_OPERATION_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(250);
    std::time::Duration::from_millis(millis)
}

async fn provider(fake: &ComputeFake, concurrent_calls: usize) -> GcpProvider {
    fake.set_operation_duration(Some(operation_duration()));
    let settings = Settings {
        cluster: "bench".into(),
        project: Some("bench".into()),
        endpoint: Some(fake.endpoint()),
        anonymous: true,
        concurrent_calls: Some(concurrent_calls),
        ..Settings::default()
    };
    GcpProvider::connect(&settings).await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = Instant::now();
    let initial = desired(&world(ROUTES, None));
    let edited = desired(&world(ROUTES, Some(500)));
    println!(
        "gcp_fake: 1 Gateway, {ROUTES} HTTPRoutes, {SERVICES} Services x 2 endpoints in 2 zones (translation of both worlds: {:.2} s); every operation takes {} ms in the fake",
        started.elapsed().as_secs_f64(),
        operation_duration().as_millis()
    );
    let sequential_fake = ComputeFake::start().await;
    let sequential = provider(&sequential_fake, 1).await;
    let (_, _, one_by_one) = pass(&sequential, &sequential_fake, &initial, "from empty, one call at a time (baseline)").await;
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake, 8).await;
    let (mutating, steps, concurrent) = pass(&gcp, &fake, &initial, "from empty, up to 8 calls of one kind at a time").await;
    println!("    plan steps: {steps}; mutating calls: {mutating}");
    println!("  from empty: {one_by_one:.2} s one call at a time, {concurrent:.2} s concurrently ({:.1}x faster)", one_by_one / concurrent);
    let (edit_calls, _, _) = pass(&gcp, &fake, &edited, "one route edit").await;
    println!("    mutating calls for the edit: {edit_calls} (target 1: one URL-map update)");
    let (noop_calls, _, _) = pass(&gcp, &fake, &edited, "no-op resync").await;
    println!("    mutating calls for the no-op: {noop_calls} (target 0)");
    let bytes = url_map_bytes(&initial);
    let small = url_map_bytes(&desired(&world(100, None)));
    let per_route = (bytes - small) as f64 / (ROUTES - 100) as f64;
    let at_limit = ((GCP_URL_MAP_LIMIT - small) as f64 / per_route) as usize + 100;
    println!(
        "  URL map size: {bytes} bytes for {ROUTES} routes ({:.1}% of GCP's ~1 MB limit); {per_route:.0} bytes per route; the limit is reached near {at_limit} routes of this shape",
        bytes as f64 * 100.0 / GCP_URL_MAP_LIMIT as f64
    );
}
