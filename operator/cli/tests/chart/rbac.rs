//! `portico run` under exactly the RBAC the chart renders (the Deployment's own arguments, the
//! ServiceAccount's token, an API server that authorizes with RBAC), and the proof that every
//! rule is needed: each is removed in turn and something a user would notice breaks.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject};
use portico_apiserver::{ApiServer, Options};
use serde_json::{Value, json};

use crate::helm::render;
use crate::install::scratch;
use crate::values::with;

/// What a user sees of a working installation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Observed {
    /// `/readyz` answers 200 (every watch listed).
    ready: bool,
    /// The replica holds the Lease.
    leader: bool,
    /// The Gateway has Programmed=True (status written).
    programmed: bool,
    /// The route has Accepted=True in its status.
    route_accepted: bool,
    /// The Gateway carries `portico.dev/cleanup`.
    finalizer: bool,
    /// The GatewayClass is Accepted=True (its status written).
    class_accepted: bool,
    /// The GatewayClass in use carries the gateway-exists finalizer.
    class_finalizer: bool,
    /// A Normal `Programmed` Event regards the Gateway.
    event: bool,
    /// A request through HAProxy reaches the backend.
    traffic: bool,
    /// The ListenerSet attached to the Gateway is Programmed=True (its status written).
    listener_set_programmed: bool,
}

impl Observed {
    fn all() -> Observed {
        Observed {
            ready: true,
            leader: true,
            programmed: true,
            route_accepted: true,
            finalizer: true,
            class_accepted: true,
            class_finalizer: true,
            event: true,
            traffic: true,
            listener_set_programmed: true,
        }
    }
}

struct Run {
    server: ApiServer,
    admin: kube::Client,
    dir: PathBuf,
    operator: Child,
    address: String,
    port: u16,
    identity: String,
    _cluster: portico_sandbox::cluster::Cluster,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.operator.kill();
        let _ = self.operator.wait();
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("haproxy/haproxy.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn admin_client(server: &ApiServer) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&server.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn world(index: u8, dir: &std::path::Path, address: &str, offset: u16) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: infra}}
---
apiVersion: portico.dev/v1alpha1
kind: HAProxyParameters
metadata: {{name: chart, namespace: infra}}
spec: {{addressPool: ["{address}"], portOffset: {offset}, stateDir: "{state}"}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: haproxy}}
spec:
  controllerName: portico.dev/haproxy
  parametersRef: {{group: portico.dev, kind: HAProxyParameters, name: chart, namespace: infra}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: haproxy
  allowedListeners: {{namespaces: {{from: Same}}}}
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {{name: extra, namespace: infra}}
spec:
  parentRef: {{name: gw}}
  listeners: [{{name: alt, port: 81, protocol: HTTP}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: web, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{backendRefs: [{{name: web, port: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: infra}}
spec:
  selector: {{app: web}}
  ports: [{{port: 8080, targetPort: web}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web-{index}, namespace: infra, labels: {{app: web}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: echo, image: registry.k8s.io/gateway-api/echo-basic, ports: [{{name: web, containerPort: 3000}}]}}]
"#,
        state = dir.join("haproxy").display()
    )
}

async fn apply_all(client: &kube::Client, objects: impl IntoIterator<Item = Value>) {
    for object in objects {
        portico_sandbox::apply(client, &object).await.unwrap_or_else(|e| panic!("{e}: {object}"));
    }
}

/// The chart (HAProxy provider, leader election on) installed with `rbac` in place of its RBAC
/// objects, then `portico run` started with the Deployment's arguments and the ServiceAccount's
/// token.
async fn start(index: u8, rbac: Vec<Value>) -> Run {
    start_with(index, rbac, None, &[]).await
}

/// As [`start`]; `upstream`: the cluster serves upstream's standard channel bundle (v1.6.1)
/// without the CRDs named there, instead of Portico's Gateway API CRDs; `extra`: more
/// `portico run` flags.
async fn start_with(index: u8, rbac: Vec<Value>, upstream: Option<&[&str]>, extra: &[&str]) -> Run {
    let rendered = render(&with(&["haproxy"], json!({}))).ok();
    let server = ApiServer::start(Options { rbac: true, ..Options::default() }).await.unwrap();
    let admin = admin_client(&server).await;
    let dir = scratch(&format!("rbac-{index}"));
    let mut crds = Vec::new();
    if let Some(left_out) = upstream {
        for crd in upstream_standard().into_iter().filter(|c| !left_out.contains(&c["metadata"]["name"].as_str().unwrap_or(""))) {
            server.create_object(crd).unwrap();
        }
    } else {
        crds.extend(portico_model::crds::gateway_api_crds().into_iter().map(|c| serde_json::to_value(c).unwrap()));
    }
    crds.extend(rendered.crds.values().flat_map(|t| crate::helm::documents(t)));
    apply_all(&admin, crds).await;
    let namespace = |name: &str| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    apply_all(&admin, [namespace("portico-system"), namespace("infra")]).await;
    let not_rbac = |o: &Value| !o["apiVersion"].as_str().unwrap_or("").starts_with("rbac.authorization.k8s.io/");
    apply_all(
        &admin,
        rendered.objects().into_iter().filter(|o| not_rbac(o) && o["kind"] != "Deployment").map(|mut o| {
            o["metadata"]["namespace"] = o["metadata"]["namespace"].as_str().map_or(Value::Null, |_| json!("portico-system"));
            o
        }),
    )
    .await;
    apply_all(&admin, rbac).await;
    let options = portico_sandbox::cluster::ClusterOptions { pod_network: std::net::Ipv4Addr::new(127, 200 + index, 0, 0), ..Default::default() };
    let cluster = portico_sandbox::cluster::Cluster::start(admin.clone(), options);
    let (address, offset) = (format!("127.0.9.{}", index + 1), 21000 + u16::from(index) * 100);
    let mut objects: Vec<Value> = crate::helm::documents(&world(index, &dir, &address, offset));
    // Without their CRD the cluster takes no ListenerSet.
    if upstream.is_some_and(|left_out| left_out.contains(&LISTENER_SETS)) {
        objects.retain(|o| o["kind"] != "ListenerSet");
    }
    apply_all(&admin, objects).await;
    let token = server.service_account_token("portico-system", "portico").unwrap();
    let kubeconfig = dir.join("portico.kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig_with_token(&token)).unwrap();
    let identity = format!("portico-7d9f-{index}");
    let args: Vec<String> = rendered
        .args()
        .into_iter()
        .map(|a| match a.split_once('=') {
            Some(("--metrics-address", _)) => format!("--metrics-address={address}:8080"),
            Some(("--state-dir", _)) => format!("--state-dir={}", dir.join("state").display()),
            _ => a,
        })
        .chain(extra.iter().map(|e| e.to_string()))
        .collect();
    let operator = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(&args)
        .env("KUBECONFIG", &kubeconfig)
        .env("PORTICO_IDENTITY", &identity)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Run { server, admin, dir, operator, address, port: 80 + offset, identity, _cluster: cluster }
}

fn gateway_api(kind: &str, plural: &str) -> ApiResource {
    portico_sandbox::kit::resource(kind, plural)
}

impl Run {
    async fn observe(&self) -> Observed {
        let ready =
            portico_sandbox::http_get(format!("{}:8080", self.address).parse().unwrap(), "localhost", "/readyz", &[]).await.is_ok_and(|r| r.status == 200);
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> = Api::namespaced(self.admin.clone(), "portico-system");
        let holder = leases.get_opt("portico-leader").await.ok().flatten().and_then(|l| l.spec).and_then(|s| s.holder_identity);
        let gateways: Api<DynamicObject> = Api::namespaced_with(self.admin.clone(), "infra", &gateway_api("Gateway", "gateways"));
        let gw = gateways.get_opt("gw").await.ok().flatten().map(|g| serde_json::to_value(g).unwrap()).unwrap_or(Value::Null);
        let routes: Api<DynamicObject> = Api::namespaced_with(self.admin.clone(), "infra", &gateway_api("HTTPRoute", "httproutes"));
        let route = routes.get_opt("web").await.ok().flatten().map(|r| serde_json::to_value(r).unwrap()).unwrap_or(Value::Null);
        let classes: Api<DynamicObject> = Api::all_with(self.admin.clone(), &gateway_api("GatewayClass", "gatewayclasses"));
        let class = classes.get_opt("haproxy").await.ok().flatten().map(|c| serde_json::to_value(c).unwrap()).unwrap_or(Value::Null);
        let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(self.admin.clone(), "infra");
        let event = events.list(&Default::default()).await.is_ok_and(|l| {
            l.items
                .iter()
                .any(|e| e.reason.as_deref() == Some("Programmed") && e.regarding.as_ref().is_some_and(|r| r.name.as_deref() == Some("gw") && r.uid.is_some()))
        });
        let at = format!("{}:{}", self.address, self.port).parse().unwrap();
        let traffic = portico_sandbox::http_get(at, "any.test", "/", &[]).await.is_ok_and(|r| r.status == 200 && r.echo().is_some());
        let condition = |conditions: &Value, kind: &str| portico_sandbox::kit::condition(conditions, kind).is_some_and(|c| c["status"] == "True");
        let sets: Api<DynamicObject> = Api::namespaced_with(self.admin.clone(), "infra", &gateway_api("ListenerSet", "listenersets"));
        let set = sets.get_opt("extra").await.ok().flatten().map(|s| serde_json::to_value(s).unwrap()).unwrap_or(Value::Null);
        Observed {
            ready,
            leader: holder.as_deref() == Some(self.identity.as_str()),
            programmed: condition(&gw["status"]["conditions"], "Programmed"),
            route_accepted: condition(&route["status"]["parents"][0]["conditions"], "Accepted"),
            finalizer: gw["metadata"]["finalizers"].as_array().is_some_and(|f| f.contains(&json!("portico.dev/cleanup"))),
            class_accepted: condition(&class["status"]["conditions"], "Accepted"),
            class_finalizer: class["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("gateway-exists-finalizer.gateway.networking.k8s.io"))),
            event,
            traffic,
            listener_set_programmed: condition(&set["status"]["conditions"], "Programmed"),
        }
    }

    /// Observe until everything works or `limit` passes; the last observation.
    async fn settle(&self, limit: Duration) -> Observed {
        self.settle_to(Observed::all(), limit).await
    }

    /// Observe until `want` is seen or `limit` passes; the last observation.
    async fn settle_to(&self, want: Observed, limit: Duration) -> Observed {
        let start = Instant::now();
        loop {
            let seen = self.observe().await;
            if seen == want || start.elapsed() > limit {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The chart's RBAC objects, and the rules of its ClusterRole and Role by (object, index).
fn chart_rbac() -> Vec<Value> {
    chart_rbac_with(json!({}))
}

fn chart_rbac_with(values: Value) -> Vec<Value> {
    let mut values = values;
    values["personaRoles"] = json!({"enabled": false});
    let rendered = render(&with(&["haproxy"], values)).ok();
    rendered.objects().into_iter().filter(|o| o["apiVersion"].as_str().unwrap_or("").starts_with("rbac.authorization.k8s.io/")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn portico_runs_under_the_charts_rbac_and_needs_every_rule() {
    let rbac = chart_rbac();
    let run = start(0, rbac.clone()).await;
    let seen = run.settle(Duration::from_secs(30)).await;
    assert_eq!(seen, Observed::all(), "under the chart's RBAC everything works");
    assert_eq!(run.server.denials(), Vec::<String>::new(), "no request of a working operator is refused");
    drop(run);

    // Each rule removed in turn, all at once in separate worlds (each waits out the same window).
    let mut removals = Vec::new();
    for (object, value) in rbac.iter().enumerate() {
        let Some(rules) = value["rules"].as_array() else { continue };
        for (index, rule) in rules.iter().enumerate() {
            let mut objects = rbac.clone();
            objects[object]["rules"].as_array_mut().unwrap().remove(index);
            let what = format!("{} {} rule {index}: {rule}", value["kind"], value["metadata"]["name"]);
            removals.push((what, objects));
        }
    }
    assert!(removals.len() >= 10, "the ClusterRole's and the Role's rules: {}", removals.len());
    let runs = futures_util::future::join_all(removals.into_iter().enumerate().map(|(i, (what, objects))| async move {
        let run = start(1 + i as u8, objects).await;
        let seen = run.settle(Duration::from_secs(12)).await;
        (what, seen)
    }))
    .await;
    for (what, seen) in &runs {
        eprintln!("without {what}: {seen:?}");
        assert_ne!(*seen, Observed::all(), "removing {what} broke nothing observable: the rule is not needed");
    }
}

const LISTENER_SETS: &str = "listenersets.gateway.networking.k8s.io";

fn upstream_standard() -> Vec<Value> {
    portico_apiserver::upstream::gateway_api_crds(portico_apiserver::upstream::Channel::Standard).unwrap()
}

/// A cluster with upstream's standard channel but no TCPRoute, TLSRoute, ListenerSet or
/// BackendTLSPolicy (as before v1.4-v1.6 made them standard): Portico becomes ready, serves HTTP,
/// does not claim the missing kinds (nor the client certificate towards backends), and picks up
/// the TCPRoute and BackendTLSPolicy CRDs installed later without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_without_some_route_crds_those_kinds_are_skipped_then_picked_up() {
    let missing = ["tcproutes.gateway.networking.k8s.io", "tlsroutes.gateway.networking.k8s.io", LISTENER_SETS, "backendtlspolicies.gateway.networking.k8s.io"];
    let run = start_with(30, chart_rbac(), Some(&missing), &["--discovery-interval=1s"]).await;
    let without_sets = Observed { listener_set_programmed: false, ..Observed::all() };
    assert_eq!(run.settle_to(without_sets, Duration::from_secs(30)).await, without_sets, "works without the experimental CRDs");
    let classes: Api<DynamicObject> = Api::all_with(run.admin.clone(), &gateway_api("GatewayClass", "gatewayclasses"));
    let features = async || -> Vec<String> {
        let class = classes.get("haproxy").await.unwrap();
        class.data["status"]["supportedFeatures"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str().map(str::to_string)).collect()
    };
    let before = features().await;
    assert!(before.contains(&"HTTPRoute".to_string()), "{before:?}");
    let unserved = |f: &String| ["TCPRoute", "TLSRoute", "ListenerSet", "BackendTLSPolicy", "GatewayBackendClientCertificate"].iter().any(|k| f.starts_with(k));
    assert!(!before.iter().any(unserved), "kinds the cluster does not serve are not claimed: {before:?}");
    let installed = upstream_standard().into_iter().filter(|c| c["metadata"]["name"] == missing[0] || c["metadata"]["name"] == missing[3]);
    apply_all(&run.admin, installed).await;
    let after = portico_sandbox::kit::wait_within("TCPRoute and BackendTLSPolicy to be claimed once their CRDs exist", Duration::from_secs(15), async || {
        let now = features().await;
        let claimed = |f: &str| now.iter().any(|n| n == f);
        (claimed("TCPRoute") && claimed("BackendTLSPolicy") && claimed("GatewayBackendClientCertificate")).then_some(now.clone())
    })
    .await;
    assert!(!after.iter().any(|f| f.starts_with("ListenerSet")), "{after:?}");
    assert!(!after.iter().any(|f| f.starts_with("TLSRoute")), "{after:?}");
}

/// `watchNamespaces`: the operator's namespaced permissions only as a Role in the watched
/// namespace (no cluster-wide Secrets, Services or routes), and it works with just that.
#[tokio::test(flavor = "multi_thread")]
async fn watching_one_namespace_needs_only_a_role_there() {
    let rbac = chart_rbac_with(json!({"watchNamespaces": ["infra"]}));
    let cluster_role = rbac.iter().find(|o| o["kind"] == "ClusterRole").unwrap();
    let cluster_resources: Vec<&str> =
        cluster_role["rules"].as_array().unwrap().iter().flat_map(|r| r["resources"].as_array().unwrap()).filter_map(Value::as_str).collect();
    assert!(!cluster_resources.iter().any(|r| ["secrets", "services", "httproutes", "gateways"].contains(r)), "{cluster_resources:?}");
    assert!(rbac.iter().any(|o| o["kind"] == "Role" && o["metadata"]["namespace"] == "infra"), "a Role in the watched namespace");
    let run = start_with(40, rbac, None, &["--watch-namespace=infra"]).await;
    assert_eq!(run.settle(Duration::from_secs(30)).await, Observed::all());
    assert_eq!(run.server.denials(), Vec::<String>::new(), "nothing outside the watched namespace is asked for");
}

/// `--watch-selector`: a namespace whose labels do not match is not served (its Gateway gets no
/// status from Portico); labelling it brings it in without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_selector_serves_only_matching_namespaces() {
    let run = start_with(41, chart_rbac(), None, &["--watch-selector=gateways.example/tenant=yes"]).await;
    let running = portico_sandbox::kit::wait_within("the operator to be ready and leading", Duration::from_secs(30), async || {
        let seen = run.observe().await;
        (seen.ready && seen.leader).then_some(seen)
    })
    .await;
    // Leading and ready, it has had its passes: give it a few more seconds to (wrongly) act.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = run.observe().await;
    assert!(running.ready && before.ready, "the operator runs: {before:?}");
    assert!(!before.programmed && !before.finalizer && !before.route_accepted, "an unselected namespace is left alone: {before:?}");
    let labelled = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "infra", "labels": {"gateways.example/tenant": "yes"}}});
    apply_all(&run.admin, [labelled]).await;
    assert_eq!(run.settle(Duration::from_secs(30)).await, Observed::all(), "served once its labels match");
}
