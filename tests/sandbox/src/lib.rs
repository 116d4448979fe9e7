#![forbid(unsafe_code)]
//! The local sandbox's building blocks, shared with the end-to-end tests: an in-memory API
//! server with the CRDs installed, echo backends registered as Services + EndpointSlices, the
//! examples applied, and a tiny HTTP client to send traffic through the load balancer.

pub mod cluster;
pub mod kit;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::{Client, Config, CustomResourceExt};
use portico_apiserver::{ApiServer, Options};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Setup(String),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A running sandbox world (without the operator).
pub struct World {
    pub server: ApiServer,
    pub client: Client,
    pub kubeconfig: PathBuf,
    /// The emulated controllers and kubelet that run the examples' Deployments.
    pub cluster: cluster::Cluster,
}

/// Is HAProxy installed? Returns its version line.
pub fn haproxy_version() -> Option<String> {
    let out = std::process::Command::new("haproxy").arg("-v").output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_string)
}

/// Start the API server, install the CRDs, start the cluster emulation (Deployments, Pods,
/// EndpointSlices) and apply `examples`.
pub async fn prepare(api_port: u16, state_dir: &Path, examples: &Path) -> Result<World, SandboxError> {
    std::fs::create_dir_all(state_dir)?;
    let server = ApiServer::start(Options { port: api_port, ..Options::default() }).await?;
    let kubeconfig = state_dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let client = Client::try_from(Config::new(server.url().parse().map_err(|e| SandboxError::Setup(format!("{e}")))?))?;
    install_crds(&client).await?;
    let cluster = cluster::Cluster::start(client.clone(), cluster::ClusterOptions::default());
    apply_directory(&client, examples).await?;
    Ok(World { server, client, kubeconfig, cluster })
}

async fn install_crds(client: &Client) -> Result<(), SandboxError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crds = portico_model::crds::gateway_api_crds();
    crds.push(portico_haproxy::params::HAProxyParameters::crd());
    for crd in crds {
        api.create(&PostParams::default(), &crd).await?;
    }
    Ok(())
}

/// Server-side apply every document of every YAML file in `dir` (sorted), except
/// EndpointSlices: the emulated EndpointSlice controller writes those from the real Pods.
pub async fn apply_directory(client: &Client, dir: &Path) -> Result<(), SandboxError> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).map_err(|e| SandboxError::Setup(format!("{}: {e}", file.display())))?;
            if !value.is_null() && value["kind"] != "EndpointSlice" {
                documents.push(value);
            }
        }
    }
    // Namespaces first, so objects in them can be created.
    documents.sort_by_key(|d| d["kind"] != "Namespace");
    let mut namespaces: Vec<String> = documents.iter().filter_map(|d| d.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string)).collect();
    namespaces.sort();
    namespaces.dedup();
    for ns in namespaces {
        apply(client, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await?;
    }
    for document in documents {
        apply(client, &document).await?;
    }
    Ok(())
}

/// Server-side apply one object of any kind the server serves.
pub async fn apply(client: &Client, object: &Value) -> Result<(), SandboxError> {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or_default();
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk).await?;
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let api: Api<DynamicObject> = if capabilities.scope == kube::discovery::Scope::Namespaced {
        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        Api::namespaced_with(client.clone(), ns, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    api.patch(name, &PatchParams::apply("portico-sandbox").force(), &Patch::Apply(object)).await?;
    Ok(())
}

/// Wait until a Gateway reports `Programmed=True`; returns its first address.
pub async fn wait_programmed(client: &Client, namespace: &str, name: &str, timeout: Duration) -> Result<String, SandboxError> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"), "gateways");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("(no status yet)");
    while tokio::time::Instant::now() < deadline {
        if let Some(gw) = api.get_opt(name).await? {
            let status = gw.data.get("status").cloned().unwrap_or(Value::Null);
            let programmed = status["conditions"].as_array().and_then(|c| c.iter().find(|x| x["type"] == "Programmed")).cloned();
            if let Some(p) = &programmed {
                last = format!("{} {}: {}", p["status"], p["reason"], p["message"]);
                if p["status"] == "True" {
                    return Ok(status["addresses"][0]["value"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SandboxError::Setup(format!("Gateway {namespace}/{name} was not Programmed within {timeout:?}: {last}")))
}

/// A reply from [`http_get`].
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The echo backend's JSON, when an echo backend answered.
    pub fn echo(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A plain HTTP/1.1 GET (one connection per request, `Connection: close`).
pub async fn http_get(address: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<Reply, SandboxError> {
    http_request(address, "GET", host, path, headers).await
}

/// A plain HTTP/1.1 request without a body.
pub async fn http_request(address: SocketAddr, method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<Reply, SandboxError> {
    let mut stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| SandboxError::Setup(format!("connect to {address} timed out")))??;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\nUser-Agent: portico-sandbox\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await.map_err(|_| SandboxError::Setup("response timed out".into()))??;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Result<Reply, SandboxError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| SandboxError::Setup(format!("not an HTTP response: {head:?}")))?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let chunked = headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Ok(Reply { status, headers, body })
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}
