//! Shared helpers: start a server and get a kube-rs client for it.

#![allow(dead_code)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use kube::{Client, Config};
use portico_apiserver::{ApiServer, Options};

pub async fn start() -> (ApiServer, Client) {
    start_with(Options::default()).await
}

pub async fn start_with(options: Options) -> (ApiServer, Client) {
    let server = ApiServer::start(options).await.expect("server starts");
    let config = Config::new(server.url().parse().expect("url"));
    let client = Client::try_from(config).expect("client");
    (server, client)
}

/// Install the Gateway API CRDs Portico reads.
pub async fn install_gateway_api(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in portico_model::crds::gateway_api_crds() {
        crds.create(&PostParams::default(), &crd).await.expect("CRD created");
    }
}

/// Poll `check` until it holds or `seconds` pass.
pub async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
