//! The operator (in-process, with the AWS provider registered) against the in-memory API server and moto: the Gateway gets
//! `Programmed=True` with the load balancers' DNS names, a route over the quota gets
//! `Accepted=False`, and deleting the Gateway removes its load balancers before the finalizer goes.

use std::time::Instant;

use kube::api::{Api, DynamicObject};

use crate::moto::{self, Moto};
use portico_sandbox::kit::{Cluster, condition, resource, wait_for};

#[tokio::test]
async fn the_operator_programs_reports_and_cleans_up_an_aws_gateway() {
    let moto = Moto::start();
    moto.network().await;
    let yaml = crate::world::base(&moto::certificate("*.example.com"), "{quotas: {rulesPerListener: 3}}", crate::world::ROUTES);
    let cluster = Cluster::start("aws-operator", <portico_aws::params::AWSLoadBalancerParameters as kube::CustomResourceExt>::crd(), &yaml).await;
    let provider = portico_aws::AwsProvider::with_clients(moto.clients().await, crate::world::CLUSTER);
    let registered = portico_provider::Registered::started(&portico_aws::DESCRIPTOR, std::sync::Arc::new(provider));
    let _operator = cluster.run(vec![registered], crate::world::CLUSTER);
    let client = cluster.client.clone();
    let gateways: Api<DynamicObject> = Api::namespaced_with(client.clone(), "infra", &resource("Gateway", "gateways"));
    let started = Instant::now();
    let status = wait_for("Programmed=True", async || {
        let gw = gateways.get("gw").await.ok()?;
        let status = gw.data.get("status")?.clone();
        (condition(&status["conditions"], "Programmed")?["status"] == "True").then_some(status)
    })
    .await;
    eprintln!("Programmed=True after {:?}", started.elapsed());
    let addresses = status["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2, "{status}");
    assert!(addresses.iter().all(|a| a["type"] == "Hostname"), "{status}");
    // Three rules per listener: the isolation rule of www.example.com and the two oldest routes
    // (creation times tie within a second, then namespace/name order decides) fit; the others
    // get Accepted=False naming the quota.
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), "app", &resource("HTTPRoute", "httproutes"));
    let reasons = wait_for("route statuses with the quota decision", async || {
        let mut reasons = std::collections::BTreeMap::new();
        for route in routes.list(&Default::default()).await.ok()? {
            let accepted = condition(&route.data["status"]["parents"][0]["conditions"], "Accepted")?.clone();
            reasons.insert(route.metadata.name.clone()?, (accepted["reason"].as_str()?.to_string(), accepted["message"].as_str()?.to_string()));
        }
        reasons.values().any(|(r, _)| r == "UnsupportedValue").then_some(reasons)
    })
    .await;
    let rejected: Vec<&String> = reasons.iter().filter(|(_, (r, _))| r == "UnsupportedValue").map(|(n, _)| n).collect();
    assert_eq!(rejected, vec!["moved", "web"], "{reasons:#?}");
    assert!(reasons.values().filter(|(r, _)| r == "UnsupportedValue").all(|(_, m)| m.contains("rulesPerListener")), "{reasons:#?}");
    assert_eq!(reasons["api"].0, "Accepted");
    gateways.delete("gw", &Default::default()).await.unwrap();
    wait_for("the Gateway to be gone", async || gateways.get_opt("gw").await.ok().and_then(|g| g.is_none().then_some(()))).await;
    let lbs = moto.clients().await.elb.describe_load_balancers().send().await.unwrap();
    assert!(lbs.load_balancers().is_empty(), "load balancers left behind");
}
