//! `portico run --provider aws` against the in-memory API server and moto: the Gateway gets
//! `Programmed=True` with the load balancers' DNS names, a route over the quota gets
//! `Accepted=False`, and deleting the Gateway removes its load balancers before the finalizer goes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use portico_apiserver::{ApiServer, Options};
use serde_json::Value;

use crate::moto::{self, Moto};

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource { group: "gateway.networking.k8s.io".into(), version: "v1".into(), api_version: "gateway.networking.k8s.io/v1".into(), kind: kind.into(), plural: plural.into() }
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

#[tokio::test]
async fn the_operator_programs_reports_and_cleans_up_an_aws_gateway() {
    let moto = Moto::start();
    moto.network().await;
    let server = ApiServer::start(Options::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("portico-aws-operator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    let mut all = portico_model::crds::gateway_api_crds();
    all.push(<portico_aws::params::AWSLoadBalancerParameters as kube::CustomResourceExt>::crd());
    for crd in all {
        crds.create(&Default::default(), &crd).await.unwrap();
    }
    let yaml = crate::world::base(&moto::certificate("*.example.com"), "{quotas: {rulesPerListener: 3}}", crate::world::ROUTES);
    let mut objects: Vec<Value> = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&yaml) {
        let value: Value = serde::Deserialize::deserialize(document).unwrap();
        if !value.is_null() {
            objects.push(value);
        }
    }
    for ns in ["infra", "app"] {
        portico_sandbox::apply(&client, &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await.unwrap();
    }
    for object in &objects {
        portico_sandbox::apply(&client, object).await.unwrap_or_else(|e| panic!("{e}: {object}"));
    }
    let log = dir.join("portico.log");
    let operator = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["run", "--provider", "aws", "--cluster-name", crate::world::CLUSTER, "--aws-region", "us-east-1", "--aws-endpoint", &moto.endpoint, "--metrics-address", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env("KUBECONFIG", &kubeconfig)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log).map(Stdio::from).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _operator = KillOnDrop(operator, log);
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

/// Stops the operator however the test ends, and shows its log when the test failed.
struct KillOnDrop(std::process::Child, std::path::PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!("--- portico log ---\n{}", std::fs::read_to_string(&self.1).unwrap_or_default());
        }
    }
}
