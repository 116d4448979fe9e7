//! Gateway API worlds for the GCP tests, translated exactly as the operator does.

use std::collections::BTreeMap;

use base64::Engine as _;
use portico_model::ir::ObjectRef;
use portico_model::load::{Loaded, load_str};
use portico_provider::Desired;
use portico_translate::{Translation, translate};

pub const CLUSTER: &str = "test";
pub const PROJECT: &str = "shop-prod";

/// A PEM pair whose bodies depend on `version` (the fake does not parse certificates).
pub fn certificate(version: &str) -> (String, String) {
    let body = |kind: &str| base64::engine::general_purpose::STANDARD.encode(format!("{kind} {version}"));
    (
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", body("cert")),
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", body("key")),
    )
}

/// A Gateway `infra/gw` with HTTP 80, HTTPS 443 (`*.example.com`, Secret `infra/site-cert`)
/// and TCP 5432, Services `app/web`, `app/api`, `app/db` with zonal endpoints, and `routes`.
pub fn base(cert: &(String, String), params: &str, routes: &str) -> String {
    portico_sandbox::kit::gateway_world("gcp", "GCPLoadBalancerParameters", params, cert, &services(&["10.0.1.10", "10.0.2.11"]), routes)
}

/// The Services; `web_ips` are the ready endpoints of `app/web` (alternating zones a/b).
pub fn services(web_ips: &[&str]) -> String {
    let web: Vec<String> = web_ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!("{{addresses: [{ip}], nodeName: node-{i}, zone: us-central1-{}}}", if i % 2 == 0 { "a" } else { "b" }))
        .collect();
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: web, namespace: app}}
spec: {{ports: [{{name: http, port: 8080}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: web-1, namespace: app, labels: {{kubernetes.io/service-name: web}}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints: [{web}]
---
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: app}}
spec: {{ports: [{{name: http, port: 9090}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: api-1, namespace: app, labels: {{kubernetes.io/service-name: api}}}}
addressType: IPv4
ports: [{{name: http, port: 9090}}]
endpoints: [{{addresses: [10.0.1.20], nodeName: node-0, zone: us-central1-a}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: app}}
spec: {{ports: [{{name: pg, port: 5432}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: db-1, namespace: app, labels: {{kubernetes.io/service-name: db}}}}
addressType: IPv4
ports: [{{name: pg, port: 5432}}]
endpoints: [{{addresses: [10.0.1.30], nodeName: node-0, zone: us-central1-a}}]"#,
        web = web.join(", ")
    )
}

/// A host route, a weighted split, a redirect, a route whose backend is missing and a TCPRoute.
pub const ROUTES: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: app, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [www.example.com]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: app, creationTimestamp: "2026-01-01T00:00:01Z"}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: api, port: 9090, weight: 80}, {name: web, port: 8080, weight: 20}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: moved, namespace: app, creationTimestamp: "2026-01-01T00:00:02Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]
  rules:
  - matches: [{path: {type: Exact, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {hostname: www.example.com, statusCode: 301}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: broken, namespace: app, creationTimestamp: "2026-01-01T00:00:03Z"}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /broken}}]
    backendRefs: [{name: missing, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db, namespace: app, creationTimestamp: "2026-01-01T00:00:04Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]"#;

pub const PARAMS: &str = "{project: shop-prod, network: shop-vpc, firewallTargets: {networkTags: [gke-nodes]}}";

pub fn gateway() -> ObjectRef {
    ObjectRef::new("infra", "gw")
}

pub fn defaults() -> portico_gcp::Defaults {
    portico_gcp::Defaults { cluster: CLUSTER.into(), project: Some(PROJECT.into()), region: Some("us-central1".into()) }
}

/// Load, translate and fold in the URL-map limit check, as `portico run` does.
pub fn desired(yaml: &str) -> (Desired, Translation) {
    desired_of(yaml, &gateway())
}

/// [`desired`] for the Gateway `key`.
pub fn desired_of(yaml: &str, key: &ObjectRef) -> (Desired, Translation) {
    let mut loaded = Loaded::default();
    load_str(yaml, "test", &mut loaded).unwrap_or_else(|e| panic!("{e}"));
    let capabilities = portico_translate::CapabilitySet::new([portico_gcp::capabilities(), portico_haproxy::capabilities()]);
    let mut translation = translate(&loaded.snapshot, &capabilities);
    let planner = portico_gcp::GcpPlanner::new(defaults());
    let mut all: BTreeMap<ObjectRef, Desired> =
        portico_translate::outcome::checked(&loaded.snapshot, &capabilities, &mut translation, |d| portico_provider::Planner::check(&planner, d));
    let desired = all.remove(key).unwrap_or_else(|| panic!("no GCP Gateway in the world: {:?}", translation.statuses.gateways));
    (desired, translation)
}
