#![forbid(unsafe_code)]
//! The GCP provider against the stateful fake Compute API (`tests/computefake`): Google's
//! real Rust client, real observation and diffs. Each test gets its own fake.

mod operator;
mod world;

use std::collections::BTreeMap;

use portico_computefake::{ComputeFake, Fault};
use portico_gcp::Step;
use portico_gcp::{GcpPlan, GcpProvider, Settings};
use portico_provider::{Applied, Desired, Provider, ProviderError, conformance};
use serde_json::{Value, json};
use world::{CLUSTER, PARAMS, PROJECT, ROUTES, base, certificate, desired, gateway};

async fn provider(fake: &ComputeFake) -> GcpProvider {
    let settings = Settings {
        cluster: CLUSTER.into(),
        project: Some(PROJECT.into()),
        region: Some("us-central1".into()),
        endpoint: Some(fake.endpoint()),
        anonymous: true,
        max_attempts: Some(3),
        concurrent_calls: None,
    };
    GcpProvider::connect(&settings).await.unwrap()
}

async fn plan(gcp: &GcpProvider, want: Option<&Desired>) -> GcpPlan {
    gcp.plan(want, &gcp.observe(&gateway()).await.unwrap())
}

async fn converge(gcp: &GcpProvider, want: &Desired) -> Applied {
    let plan = plan(gcp, Some(want)).await;
    gcp.apply(&plan).await.unwrap_or_else(|e| panic!("apply failed: {e}\nplan: {}", serde_json::to_string_pretty(&plan).unwrap()))
}

fn world() -> Desired {
    desired(&base(&certificate("v1"), PARAMS, ROUTES)).0
}

fn mutating(fake: &ComputeFake) -> BTreeMap<String, u64> {
    let reads = ["get", "list", "aggregatedList", "listNetworkEndpoints"];
    fake.calls().into_iter().filter(|(op, _)| !op.contains("Operations.") && !reads.iter().any(|r| op.ends_with(&format!(".{r}")))).collect()
}

fn names(fake: &ComputeFake, collection: &str) -> Vec<String> {
    fake.resources(collection).iter().map(|r| r["name"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn create_from_empty_then_a_no_op_makes_no_mutating_call() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    let applied = converge(&gcp, &world()).await;
    assert!(applied.ready);
    assert_eq!(applied.addresses.len(), 1, "{applied:?}");
    assert_eq!(names(&fake, "forwardingRules").len(), 3, "ports 80, 443, 5432");
    assert_eq!(names(&fake, "urlMaps").len(), 2);
    assert_eq!(names(&fake, "targetHttpProxies").len(), 1);
    assert_eq!(names(&fake, "targetHttpsProxies").len(), 1);
    assert_eq!(names(&fake, "targetTcpProxies").len(), 1);
    assert_eq!(names(&fake, "sslCertificates").len(), 1);
    assert_eq!(names(&fake, "firewalls").len(), 1);
    // web, api, db and the sink; one health check each except the sink.
    assert_eq!(names(&fake, "backendServices").len(), 4);
    assert_eq!(names(&fake, "healthChecks").len(), 3);
    // web spans two zones: one NEG per zone.
    assert_eq!(names(&fake, "networkEndpointGroups").len(), 4);
    let check = &fake.resources("healthChecks")[0];
    assert_eq!(check["type"], "TCP", "the default health check is a TCP connect: {check}");
    let firewall = &fake.resources("firewalls")[0];
    assert_eq!(firewall["targetTags"], json!(["gke-nodes"]));
    assert_eq!(firewall["allowed"][0]["ports"], json!(["5432", "8080", "9090"]));
    fake.reset_calls();
    let plan = plan(&gcp, Some(&world())).await;
    assert!(plan.is_empty(), "{}", serde_json::to_string_pretty(&plan).unwrap());
    gcp.apply(&plan).await.unwrap();
    assert!(mutating(&fake).is_empty(), "a no-op pass changed things: {:?}", mutating(&fake));
}

#[tokio::test]
async fn the_url_map_carries_weights_redirects_sinks_and_segment_aware_prefixes() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    converge(&gcp, &world()).await;
    let maps = fake.resources("urlMaps");
    let http = maps.iter().find(|m| m["name"].as_str().unwrap().ends_with("-um-80")).unwrap();
    let text = serde_json::to_string(http).unwrap();
    assert!(text.contains(r#""fullPathMatch":"/api""#) && text.contains(r#""prefixMatch":"/api/""#), "{text}");
    assert!(text.contains(r#""weight":80"#) && text.contains(r#""weight":20"#), "{text}");
    assert!(text.contains(r#""hostRedirect":"www.example.com""#) && text.contains("MOVED_PERMANENTLY_DEFAULT"), "{text}");
    assert!(text.contains(r#""httpStatus":500"#) && text.contains(r#""httpStatus":404"#), "{text}");
    let neg = fake.resources("networkEndpointGroups").into_iter().find(|n| n["name"].as_str().unwrap().contains("app-web-8080")).unwrap();
    let zone = neg["zone"].as_str().unwrap_or_default().rsplit('/').next().unwrap().to_string();
    let endpoints = fake.network_endpoints(PROJECT, &format!("zones/{zone}"), neg["name"].as_str().unwrap());
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
}

/// Golden cases whose plans carry what the fake's API checks (route actions' CORS and retry
/// policies, a target HTTPS proxy's certificate count) converge: applied, then a no-op.
#[tokio::test]
async fn cors_retry_and_a_listenerset_past_the_certificate_limit_program_and_converge() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    let key = portico_model::ir::ObjectRef::new("default", "gw");
    for case in ["gcp-cors", "gcp-retry", "listenerset-gcp-certificates"] {
        let yaml = std::fs::read_to_string(format!("{}/testdata/{case}.in.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let want = world::desired_of(&yaml, &key).0;
        let plan = gcp.plan(Some(&want), &gcp.observe(&key).await.unwrap());
        gcp.apply(&plan).await.unwrap_or_else(|e| panic!("{case}: apply failed: {e}"));
        let again = gcp.plan(Some(&want), &gcp.observe(&key).await.unwrap());
        assert!(again.is_empty(), "{case}: {}", serde_json::to_string_pretty(&again).unwrap());
        let maps = serde_json::to_string(&fake.resources("urlMaps")).unwrap();
        match case {
            "gcp-cors" => assert!(maps.contains(r#""allowOrigins":["https://app.example.com","https://admin.example.com:8443"]"#), "{maps}"),
            "gcp-retry" => assert!(maps.contains(r#""retryConditions":["connect-failure","gateway-error","retriable-4xx"]"#), "{maps}"),
            _ => {
                let proxies = fake.resources("targetHttpsProxies");
                assert_eq!(proxies.len(), 1);
                assert_eq!(proxies[0]["sslCertificates"].as_array().map(Vec::len), Some(1), "only the Gateway's own certificate: {proxies:?}");
            }
        }
    }
}

#[tokio::test]
async fn one_route_edit_is_one_url_map_update_per_port() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    converge(&gcp, &world()).await;
    fake.reset_calls();
    let edited = desired(&base(&certificate("v1"), PARAMS, &ROUTES.replace("value: /api", "value: /v2/api"))).0;
    converge(&gcp, &edited).await;
    // The route is on both HTTP ports. URL maps: one update each, nothing else.
    assert_eq!(mutating(&fake), BTreeMap::from([("urlMaps.update".to_string(), 2)]));
    assert!(plan(&gcp, Some(&edited)).await.is_empty());
}

#[tokio::test]
async fn a_rotated_certificate_is_a_new_one_then_the_proxy_switches_then_the_old_goes() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    converge(&gcp, &world()).await;
    let old = names(&fake, "sslCertificates");
    let rotated = desired(&base(&certificate("v2"), PARAMS, ROUTES)).0;
    let plan = plan(&gcp, Some(&rotated)).await;
    let operations: Vec<String> = plan.plan.steps.iter().map(Step::operation).collect();
    assert_eq!(operations, ["sslCertificates.insert", "targetHttpsProxies.patch", "sslCertificates.delete"]);
    gcp.apply(&plan).await.unwrap();
    let new = names(&fake, "sslCertificates");
    assert_eq!(new.len(), 1);
    assert_ne!(new, old);
    let stored = &fake.resources("sslCertificates")[0];
    assert!(stored.get("privateKey").is_none(), "GCP never returns the key");
    assert!(stored["certificate"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    let proxy = &fake.resources("targetHttpsProxies")[0];
    assert!(proxy["sslCertificates"][0].as_str().unwrap().ends_with(&new[0]));
}

#[tokio::test]
async fn deleting_removes_what_it_owned_and_nothing_else() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    fake.put_raw(PROJECT, "global", "backendServices", json!({ "name": "someone-elses", "description": "not ours" }));
    converge(&gcp, &world()).await;
    let ours = portico_gcp::Namer::new(CLUSTER, &gateway());
    fake.put_raw(PROJECT, "global", "healthChecks", json!({ "name": format!("{}-hc-lookalike", ours.prefix()), "description": "made by hand" }));
    gcp.delete(&gateway()).await.unwrap();
    assert_eq!(names(&fake, "backendServices"), ["someone-elses"]);
    assert_eq!(names(&fake, "healthChecks"), [format!("{}-hc-lookalike", ours.prefix())]);
    for collection in [
        "forwardingRules",
        "targetHttpProxies",
        "targetHttpsProxies",
        "targetTcpProxies",
        "urlMaps",
        "networkEndpointGroups",
        "sslCertificates",
        "firewalls",
        "addresses",
    ] {
        assert!(names(&fake, collection).is_empty(), "{collection} left behind: {:?}", names(&fake, collection));
    }
}

#[tokio::test]
async fn a_resource_with_our_name_but_no_ownership_record_is_refused() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    let name = portico_gcp::Namer::new(CLUSTER, &gateway()).name("um", "80");
    fake.put_raw(PROJECT, "global", "urlMaps", json!({ "name": name, "description": "hand-made" }));
    let plan = plan(&gcp, Some(&world())).await;
    let error = gcp.apply(&plan).await.unwrap_err();
    assert_eq!(error.condition_reason(), "Invalid");
    assert!(error.to_string().contains(&name) && error.to_string().contains("not owned"), "{error}");
    assert_eq!(fake.get("global", "urlMaps", &name).unwrap()["description"], "hand-made");
}

#[tokio::test]
async fn a_crash_between_any_two_steps_converges_without_duplicates() {
    let total = {
        let fake = ComputeFake::start().await;
        plan(&provider(&fake).await, Some(&world())).await.plan.steps.len()
    };
    for stop in [1, 5, total / 2, total - 2] {
        let fake = ComputeFake::start().await;
        let gcp = provider(&fake).await;
        *gcp.interrupt_after.lock().unwrap() = Some(stop);
        let error = gcp.apply(&plan(&gcp, Some(&world())).await).await.unwrap_err();
        assert!(error.retryable(), "{error}");
        converge(&gcp, &world()).await;
        assert!(plan(&gcp, Some(&world())).await.is_empty(), "not converged after a crash at step {stop}");
        assert_eq!(names(&fake, "forwardingRules").len(), 3);
        assert_eq!(names(&fake, "addresses").len(), 1);
    }
}

#[tokio::test]
async fn shared_provider_suite() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    conformance::delete_of_nothing_succeeds(&gcp, &gateway()).await.unwrap();
    conformance::apply_is_idempotent(&gcp, &world()).await.unwrap();
    conformance::no_op_plan_is_empty(&gcp, &world()).await.unwrap();
    conformance::delete_removes_everything(&gcp, &world()).await.unwrap();
    conformance::delete_of_nothing_succeeds(&gcp, &gateway()).await.unwrap();
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_then_reported_as_retryable() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    fake.inject(Fault::status("urlMaps.insert", 429));
    fake.inject(Fault::status("backendServices.insert", 503));
    converge(&gcp, &world()).await;
    assert!(fake.call_count("urlMaps.insert") >= 3, "the throttled insert was retried: {:?}", fake.calls());
    assert_eq!(names(&fake, "urlMaps").len(), 2, "a retried insert is not duplicated");
    fake.inject(Fault::Status { operation: "urlMaps.update".into(), status: 503, reason: "backendError".into(), times: 10 });
    let edited = desired(&base(&certificate("v1"), PARAMS, &ROUTES.replace("value: /api", "value: /v3"))).0;
    let error = gcp.apply(&plan(&gcp, Some(&edited)).await).await.unwrap_err();
    assert!(error.retryable() && matches!(error, ProviderError::Transient { .. }), "{error}");
    assert_eq!(error.condition_reason(), "Pending");
    fake.clear_faults();
    converge(&gcp, &edited).await;
    assert!(plan(&gcp, Some(&edited)).await.is_empty());
}

#[tokio::test]
async fn a_failed_operation_names_the_resource_and_the_cause() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    fake.set_pending_polls(2);
    fake.inject(Fault::operation_error("backendServices.insert", "QUOTA_EXCEEDED", "Quota 'BACKEND_SERVICES' exceeded. Limit: 3.0 globally."));
    let error = gcp.apply(&plan(&gcp, Some(&world())).await).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("backendServices global/") && text.contains("Quota 'BACKEND_SERVICES' exceeded"), "{text}");
    assert_eq!(error.condition_reason(), "Invalid");
    converge(&gcp, &world()).await;
    assert!(plan(&gcp, Some(&world())).await.is_empty());
}

#[tokio::test]
async fn a_stale_fingerprint_is_retryable_and_the_next_pass_converges() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    converge(&gcp, &world()).await;
    let edited = desired(&base(&certificate("v1"), PARAMS, &ROUTES.replace("value: /api", "value: /v4"))).0;
    let stale = plan(&gcp, Some(&edited)).await;
    // Someone else changes one URL map after we observed it.
    let name = portico_gcp::Namer::new(CLUSTER, &gateway()).name("um", "80");
    let mut map = fake.get("global", "urlMaps", &name).unwrap();
    map["description"] = json!(format!("{} touched", map["description"].as_str().unwrap()));
    fake.put_raw(PROJECT, "global", "urlMaps", map);
    let error = gcp.apply(&stale).await.unwrap_err();
    assert!(error.retryable(), "{error}");
    converge(&gcp, &edited).await;
    assert!(plan(&gcp, Some(&edited)).await.is_empty());
}

#[tokio::test]
async fn endpoint_changes_only_attach_and_detach() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    converge(&gcp, &world()).await;
    fake.reset_calls();
    let yaml = base(&certificate("v1"), PARAMS, ROUTES).replace(&world::services(&["10.0.1.10", "10.0.2.11"]), &world::services(&["10.0.1.10", "10.0.2.12"]));
    converge(&gcp, &desired(&yaml).0).await;
    let expected =
        BTreeMap::from([("networkEndpointGroups.attachNetworkEndpoints".to_string(), 1), ("networkEndpointGroups.detachNetworkEndpoints".to_string(), 1)]);
    assert_eq!(mutating(&fake), expected);
}

#[tokio::test]
async fn cloud_armor_is_attached_with_its_own_call_and_an_unchanged_gateway_stays_put() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    let params = "{project: shop-prod, network: shop-vpc, securityPolicy: edge-armor}";
    let want = desired(&base(&certificate("v1"), params, ROUTES)).0;
    converge(&gcp, &want).await;
    let services: Vec<Value> = fake.resources("backendServices").into_iter().filter(|s| !s["name"].as_str().unwrap().ends_with("-bs-sink")).collect();
    let armored = services.iter().filter(|s| s["securityPolicy"].as_str().is_some_and(|p| p.ends_with("/securityPolicies/edge-armor"))).count();
    assert_eq!(armored, services.len(), "{services:?}");
    assert_eq!(fake.call_count("backendServices.setSecurityPolicy"), services.len() as u64);
    fake.reset_calls();
    assert!(plan(&gcp, Some(&want)).await.is_empty());
    let removed = desired(&base(&certificate("v1"), PARAMS, ROUTES)).0;
    converge(&gcp, &removed).await;
    let left: Vec<Value> = fake.resources("backendServices").into_iter().filter(|s| s.get("securityPolicy").is_some_and(|p| !p.is_null())).collect();
    assert!(left.is_empty(), "policy still attached: {left:?}");
}

#[tokio::test]
async fn every_requested_address_is_honoured_or_refused_before_any_call() {
    let fake = ComputeFake::start().await;
    let gcp = provider(&fake).await;
    let mut two = world();
    std::sync::Arc::make_mut(&mut two.ir).requested_addresses =
        ["203.0.113.7", "203.0.113.8"].iter().map(|v| portico_model::ir::Address { address_type: "IPAddress".into(), value: v.to_string() }).collect();
    let plan = plan(&gcp, Some(&two)).await;
    let error = gcp.apply(&plan).await.unwrap_err();
    assert_eq!(error.condition_reason(), "AddressNotUsable", "{error}");
    assert!(error.to_string().contains("203.0.113.8"), "names the address it cannot honour: {error}");
    assert!(mutating(&fake).is_empty(), "nothing is created for a refused request: {:?}", mutating(&fake));
}
