//! The shared test kit for tests that run the operator against the in-memory API server: a
//! cluster with the Gateway API CRDs, a provider's parameters CRD and a world applied; the
//! operator in-process with whichever providers a test registers; waiting for statuses.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::discovery::ApiResource;
use portico_apiserver::{ApiServer, Options};
use portico_provider::Registered;
use serde_json::Value;

/// A Gateway API resource (`gateway.networking.k8s.io/v1`).
pub fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Poll `check` every 200 ms until it finds something, for up to 60 s.
pub async fn wait_for<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    wait_within(what, Duration::from_secs(60), check).await
}

/// Poll `check` every 200 ms until it finds something, for up to `limit`.
pub async fn wait_within<T>(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The condition of this type in a `conditions` array.
pub fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

/// An API server with the Gateway API CRDs plus `extra`, namespaces `infra` and `app`, and the
/// objects of `yaml` applied.
pub struct Cluster {
    /// Kept for the test's lifetime: dropping it stops the API server.
    pub server: ApiServer,
    pub client: kube::Client,
    pub dir: PathBuf,
}

/// The operator running in-process; stopped when dropped.
pub struct Operator(tokio::task::JoinHandle<()>);

impl Drop for Operator {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Cluster {
    pub async fn start(name: &str, extra: CustomResourceDefinition, yaml: &str) -> Cluster {
        let server = ApiServer::start(Options::default()).await.expect("the API server starts");
        let dir = std::env::temp_dir().join(format!("portico-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("a URL"))).expect("a client");
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for crd in portico_model::crds::gateway_api_crds().into_iter().chain([extra]) {
            crds.create(&Default::default(), &crd).await.expect("the CRD is accepted");
        }
        for ns in ["infra", "app"] {
            crate::apply(&client, &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await.expect("a namespace");
        }
        for document in serde_yaml::Deserializer::from_str(yaml) {
            let object: Value = serde::Deserialize::deserialize(document).expect("YAML");
            if !object.is_null() {
                crate::apply(&client, &object).await.unwrap_or_else(|e| panic!("{e}: {object}"));
            }
        }
        Cluster { server, client, dir }
    }

    /// `portico run` in-process against this cluster with `providers`, tagging cloud resources
    /// with `cluster_name`.
    pub fn run(&self, providers: Vec<Registered>, cluster_name: &str) -> Operator {
        let options = portico::run::RunOptions::local(self.dir.join("state"), cluster_name);
        let client = self.client.clone();
        Operator(tokio::spawn(async move {
            if let Err(error) = portico::run::run_with(options, providers, client, std::future::pending()).await {
                panic!("the operator stopped: {error}");
            }
        }))
    }
}

/// The world the cloud providers' tests share: GatewayClass `class` (controller
/// `portico.dev/<class>`, parameters `parameters_kind` `infra/<class>` with spec `params`), a
/// Gateway `infra/gw` with HTTP 80, HTTPS 443 (`*.example.com`, Secret `infra/site-cert` holding
/// `cert`: PEM certificate, key) and TCP 5432, then `services` and `routes`.
pub fn gateway_world(class: &str, parameters_kind: &str, params: &str, cert: &(String, String), services: &str, routes: &str) -> String {
    let indent = |text: &str| text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n");
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {class}}}
spec:
  controllerName: portico.dev/{class}
  parametersRef: {{group: portico.dev, kind: {parameters_kind}, name: {class}, namespace: infra}}
---
apiVersion: portico.dev/v1alpha1
kind: {parameters_kind}
metadata: {{name: {class}, namespace: infra}}
spec: {params}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra}}
spec:
  gatewayClassName: {class}
  listeners:
  - {{name: http, port: 80, protocol: HTTP, allowedRoutes: {{namespaces: {{from: All}}}}}}
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls: {{certificateRefs: [{{name: site-cert}}]}}
    allowedRoutes: {{namespaces: {{from: All}}}}
  - {{name: db, port: 5432, protocol: TCP, allowedRoutes: {{namespaces: {{from: All}}}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: site-cert, namespace: infra}}
type: kubernetes.io/tls
stringData:
  tls.crt: |
{crt}
  tls.key: |
{key}
---
{services}
---
{routes}
"#,
        crt = indent(&cert.0),
        key = indent(&cert.1),
    )
}
