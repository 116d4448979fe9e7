//! Shared by the cloud providers' operator tests: an in-memory API server with the CRDs and a
//! world applied, `portico run` as a child process, and waiting for statuses.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::discovery::ApiResource;
use portico_apiserver::{ApiServer, Options};
use serde_json::Value;

pub fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".into(),
        version: "v1".into(),
        api_version: "gateway.networking.k8s.io/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn condition<'a>(conditions: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions.as_array()?.iter().find(|c| c["type"] == kind)
}

/// An API server with the Gateway API CRDs plus `extra`, namespaces `infra` and `app`, and the
/// objects of `yaml` applied.
pub struct Cluster {
    /// Kept for the test's lifetime: dropping it stops the API server.
    pub _server: ApiServer,
    pub client: kube::Client,
    pub dir: PathBuf,
}

impl Cluster {
    pub async fn start(name: &str, extra: CustomResourceDefinition, yaml: &str) -> Cluster {
        let server = ApiServer::start(Options::default()).await.unwrap();
        let dir = std::env::temp_dir().join(format!("portico-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        server.write_kubeconfig(&dir.join("kubeconfig")).unwrap();
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut all = portico_model::crds::gateway_api_crds();
        all.push(extra);
        for crd in all {
            crds.create(&Default::default(), &crd).await.unwrap();
        }
        for ns in ["infra", "app"] {
            portico_sandbox::apply(&client, &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await.unwrap();
        }
        for document in serde_yaml::Deserializer::from_str(yaml) {
            let object: Value = serde::Deserialize::deserialize(document).unwrap();
            if !object.is_null() {
                portico_sandbox::apply(&client, &object).await.unwrap_or_else(|e| panic!("{e}: {object}"));
            }
        }
        Cluster { _server: server, client, dir }
    }

    /// `portico run` with `args` against this cluster; stopped when the guard drops.
    pub fn run_portico(&self, args: &[&str], env: &[(&str, &str)]) -> KillOnDrop {
        let log = self.dir.join("portico.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
        command.arg("run").args(args).args(["--metrics-address", "127.0.0.1:0"]).arg("--state-dir").arg(self.dir.join("state"));
        command.env("KUBECONFIG", self.dir.join("kubeconfig")).env("RUST_LOG", "info").envs(env.iter().copied());
        let child = command.stdout(std::fs::File::create(&log).map(Stdio::from).unwrap()).stderr(Stdio::null()).spawn().unwrap();
        KillOnDrop(child, log)
    }
}

/// Stops the operator however the test ends, and shows its log when the test failed.
pub struct KillOnDrop(std::process::Child, PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!("--- portico log ---\n{}", std::fs::read_to_string(&self.1).unwrap_or_default());
        }
    }
}
