//! Gateway API worlds for the AWS tests, translated exactly as the operator does.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use portico_model::load::{Loaded, load_str};
use portico_provider::Desired;
use portico_translate::{Translation, translate};

pub const CLUSTER: &str = "test";

/// A Gateway `infra/gw` with HTTP 80, HTTPS 443 (`*.example.com`, Secret `infra/site-cert`)
/// and TCP 5432, Services `app/web`, `app/api`, `app/db` with endpoints, and `routes` on top.
pub fn base(cert: &(String, String), params: &str, routes: &str) -> String {
    portico_sandbox::kit::gateway_world("aws", "AWSLoadBalancerParameters", params, cert, SERVICES, routes)
}

const SERVICES: &str = r#"apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: app, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.0.1.10]}, {addresses: [10.0.2.11]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: app}
spec: {ports: [{name: http, port: 9090}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-1, namespace: app, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 9090}]
endpoints: [{addresses: [10.0.1.20]}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: app}
spec: {ports: [{name: pg, port: 5432}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-1, namespace: app, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints: [{addresses: [10.0.1.30]}]"#;

/// The routes most tests use: a host route, a weighted split, a redirect, a route whose
/// backend is missing (500) and a TCPRoute.
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
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
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
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: db, namespace: app, creationTimestamp: "2026-01-01T00:00:04Z"}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]"#;

pub fn gateway() -> ObjectRef {
    ObjectRef::new("infra", "gw")
}

/// Load, translate and fold in the AWS quota check, as `portico run` does.
pub fn desired(yaml: &str) -> (Desired, Translation) {
    let mut loaded = Loaded::default();
    load_str(yaml, "test", &mut loaded).unwrap_or_else(|e| panic!("{e}"));
    let capabilities = portico_translate::CapabilitySet::new([portico_aws::capabilities(), portico_haproxy::capabilities()]);
    let mut translation = translate(&loaded.snapshot, &capabilities);
    let planner = portico_aws::AwsPlanner::new(CLUSTER);
    let mut all: BTreeMap<ObjectRef, Desired> =
        portico_translate::outcome::checked(&loaded.snapshot, &capabilities, &mut translation, |d| portico_provider::Planner::check(&planner, d));
    let desired = all.remove(&gateway()).unwrap_or_else(|| panic!("no AWS Gateway in the world: {:?}", translation.statuses.gateways));
    (desired, translation)
}
