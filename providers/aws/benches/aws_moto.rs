//! AWS provider against moto: one Gateway with 1,000 HTTPRoutes from empty, then one route edit,
//! then a no-op resync; then from empty again through a proxy that delays every call (as AWS's
//! latency does), one call at a time and with independent calls concurrently. Prints API calls by operation (mutating and read), mutating calls per
//! native resource created, mutating calls for the edit, and wall times. Figures only.
//!
//! `cargo bench -p portico-aws --bench aws_moto` (needs moto: `./scripts/test` installs it).

#[path = "../tests/moto/moto.rs"]
mod moto;

use std::collections::BTreeMap;
use std::time::Instant;

use portico_aws::Step;
use portico_aws::{AwsProvider, CallCounts};
use portico_model::ir::ObjectRef;
use portico_model::load::{Loaded, load_str};
use portico_provider::{Desired, Provider};

const ROUTES: usize = 1000;
const SERVICES: usize = 20;

fn world(edited: Option<usize>) -> String {
    let mut out = String::from(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: aws}\nspec:\n  controllerName: portico.dev/aws\n  parametersRef: {group: portico.dev, kind: AWSLoadBalancerParameters, name: big, namespace: default}\n---\napiVersion: portico.dev/v1alpha1\nkind: AWSLoadBalancerParameters\nmetadata: {name: big, namespace: default}\nspec: {quotas: {rulesPerListener: 5000, rulesPerLoadBalancer: 5000}}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\nspec:\n  gatewayClassName: aws\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n",
    );
    for s in 0..SERVICES {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: default}}\nspec: {{ports: [{{name: http, port: 8080}}]}}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc{s}-1, namespace: default, labels: {{kubernetes.io/service-name: svc{s}}}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints: [{{addresses: [10.0.1.{}]}}, {{addresses: [10.0.2.{}]}}]\n",
            s + 10,
            s + 10
        ));
    }
    for r in 0..ROUTES {
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
    let capabilities = portico_translate::CapabilitySet::new([portico_aws::capabilities(), portico_haproxy::capabilities()]);
    let mut translation = portico_translate::translate(&loaded.snapshot, &capabilities);
    let planner = portico_aws::AwsPlanner::new("bench");
    portico_translate::outcome::checked(&loaded.snapshot, &capabilities, &mut translation, |d| portico_provider::Planner::check(&planner, d))
        .remove(&ObjectRef::new("default", "gw"))
        .unwrap()
}

/// Native resources a plan creates (targets and ingress permissions count one each).
fn resources_created(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::RegisterTargets { targets, .. } => targets.len(),
            Step::AuthorizeIngress { permissions } => permissions.len(),
            Step::CreateLoadBalancer { load_balancer, .. } => 1 + usize::from(!load_balancer.attributes.is_empty()),
            Step::ImportCertificate { .. }
            | Step::CreateSecurityGroup { .. }
            | Step::CreateTargetGroup { .. }
            | Step::CreateListener { .. }
            | Step::CreateRule { .. } => 1,
            _ => 0,
        })
        .sum()
}

fn print_calls(title: &str, before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    let mut mutating = 0;
    let mut read = 0;
    println!("  {title}:");
    for (op, n) in after {
        let delta = n - before.get(op).copied().unwrap_or(0);
        if delta == 0 {
            continue;
        }
        let kind = if CallCounts::is_mutating(op) { "mutating" } else { "read" };
        println!("    {op:<40} {delta:>6}  {kind}");
        if CallCounts::is_mutating(op) { mutating += delta } else { read += delta }
    }
    println!("    total: {mutating} mutating, {read} read");
    mutating
}

async fn pass(aws: &AwsProvider, want: &Desired, title: &str) -> (u64, usize, f64) {
    let before = aws.clients().calls.snapshot();
    let started = Instant::now();
    let observed = aws.observe(&want.ir.gateway).await.unwrap();
    let plan = aws.plan(Some(want), &observed);
    let created = resources_created(&plan.plan.steps);
    aws.apply(&plan).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let mutating = print_calls(title, &before, &aws.clients().calls.snapshot());
    println!("    wall time: {seconds:.2} s");
    (mutating, created, seconds)
}

/// How long the proxy in front of moto holds each call (AWS answers in tens to hundreds of
/// milliseconds; the default keeps the one-at-a-time baseline short enough for CI).
fn call_delay() -> std::time::Duration {
    std::time::Duration::from_millis(std::env::var("PORTICO_AWS_CALL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(25))
}

/// From empty through the delaying proxy, with `concurrent_calls`: wall seconds.
async fn from_empty_delayed(want: &Desired, concurrent_calls: usize) -> f64 {
    let moto = moto::Moto::start();
    moto.network().await;
    let mut clients = moto::clients_at(&moto.delayed(call_delay()).await).await;
    clients.concurrent_calls = concurrent_calls;
    let aws = AwsProvider::with_clients(clients, "bench");
    let title = format!("from empty, {} ms per call, up to {concurrent_calls} calls of one kind at a time", call_delay().as_millis());
    pass(&aws, want, &title).await.2
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let moto = moto::Moto::start();
    moto.network().await;
    let aws = AwsProvider::with_clients(moto.clients().await, "bench");
    let started = Instant::now();
    let initial = desired(&world(None));
    let edited = desired(&world(Some(500)));
    println!(
        "aws_moto: 1 Gateway, {ROUTES} HTTPRoutes, {SERVICES} Services x 2 endpoints (translation of both worlds: {:.2} s)",
        started.elapsed().as_secs_f64()
    );
    let (mutating, created, _) = pass(&aws, &initial, "from empty").await;
    println!("    native resources created: {created}; mutating calls per resource: {:.3} (target <= 1.05)", mutating as f64 / created.max(1) as f64);
    let (edit_calls, _, _) = pass(&aws, &edited, "one route edit").await;
    println!("    mutating calls for the edit: {edit_calls} (target <= 2)");
    let (noop_calls, _, _) = pass(&aws, &edited, "no-op resync").await;
    println!("    mutating calls for the no-op: {noop_calls} (target 0)");
    let one_by_one = from_empty_delayed(&initial, 1).await;
    let together = from_empty_delayed(&initial, 4).await;
    println!(
        "  from empty with {} ms per call: {one_by_one:.2} s one call at a time, {together:.2} s with up to 4 at once ({:.1}x faster)",
        call_delay().as_millis(),
        one_by_one / together
    );
}
