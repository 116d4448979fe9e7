//! The operator (in-process, with the GCP provider registered) against the in-memory API server and the fake Compute API: the
//! Gateway gets `Programmed=True` with the reserved IP, routes over the URL-map limit get
//! `Accepted=False` naming it, and deleting the Gateway removes what Portico owned before the
//! finalizer goes.

use std::time::Instant;

use kube::api::{Api, DynamicObject};
use portico_computefake::ComputeFake;

use crate::world::{CLUSTER, PROJECT, ROUTES, base, certificate};
use portico_sandbox::kit::{Cluster, condition, resource, wait_for};

#[tokio::test]
async fn the_operator_programs_reports_and_cleans_up_a_gcp_gateway() {
    let fake = ComputeFake::start().await;
    fake.set_pending_polls_every(1, 3);
    let params = "{project: shop-prod, firewallTargets: {networkTags: [nodes]}, quotas: {routeRulesPerPathMatcher: 1}}";
    let crd = <portico_gcp::params::GCPLoadBalancerParameters as kube::CustomResourceExt>::crd();
    let cluster = Cluster::start("gcp-operator", crd, &base(&certificate("v1"), params, ROUTES)).await;
    let endpoint = fake.endpoint();
    let args = portico_gcp::GcpArgs {
        gcp_project: Some(PROJECT.into()),
        gcp_region: None,
        gcp_endpoint: Some(endpoint),
        gcp_anonymous: true,
        gcp_concurrent_calls: 8,
    };
    let _operator = cluster.run(vec![portico_provider::Registered::new(&portico_gcp::DESCRIPTOR, args.connect())], CLUSTER);
    let gateways: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), "infra", &resource("Gateway", "gateways"));
    let started = Instant::now();
    let status = wait_for("Programmed=True", async || {
        let status = gateways.get("gw").await.ok()?.data.get("status")?.clone();
        (condition(&status["conditions"], "Programmed")?["status"] == "True").then_some(status)
    })
    .await;
    eprintln!("Programmed=True after {:?}", started.elapsed());
    let addresses = status["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 1, "{status}");
    assert_eq!(addresses[0]["type"], "IPAddress", "{status}");
    let ip = fake.resources("addresses")[0]["address"].clone();
    assert_eq!(addresses[0]["value"], ip, "{status}");
    // One route rule per path matcher: on each host the oldest route fits (api on `*`, web on
    // www.example.com); moved and broken are younger on `*` and do not.
    let routes: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), "app", &resource("HTTPRoute", "httproutes"));
    let reasons = wait_for("route statuses with the limit decision", async || {
        let mut reasons = std::collections::BTreeMap::new();
        for route in routes.list(&Default::default()).await.ok()? {
            let accepted = condition(&route.data["status"]["parents"][0]["conditions"], "Accepted")?.clone();
            reasons.insert(route.metadata.name.clone()?, (accepted["reason"].as_str()?.to_string(), accepted["message"].as_str()?.to_string()));
        }
        reasons.values().any(|(r, _)| r == "UnsupportedValue").then_some(reasons)
    })
    .await;
    let rejected: Vec<&String> = reasons.iter().filter(|(_, (r, _))| r == "UnsupportedValue").map(|(n, _)| n).collect();
    assert_eq!(rejected, vec!["broken", "moved"], "{reasons:#?}");
    assert!(
        reasons.values().filter(|(r, _)| r == "UnsupportedValue").all(|(_, m)| m.contains("not programmed on GCP") && m.contains("routeRulesPerPathMatcher")),
        "{reasons:#?}"
    );
    assert_eq!(reasons["api"].0, "Accepted");
    fake.put_raw(PROJECT, "global", "urlMaps", serde_json::json!({ "name": "not-ours", "description": "someone else's" }));
    gateways.delete("gw", &Default::default()).await.unwrap();
    wait_for("the Gateway to be gone", async || gateways.get_opt("gw").await.ok().and_then(|g| g.is_none().then_some(()))).await;
    for collection in ["forwardingRules", "targetHttpProxies", "targetHttpsProxies", "backendServices", "networkEndpointGroups", "addresses", "firewalls"] {
        assert!(fake.resources(collection).is_empty(), "{collection} left behind");
    }
    assert_eq!(fake.resources("urlMaps").len(), 1, "only the foreign URL map is left");
}
