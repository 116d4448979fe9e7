//! Starting the server, its admin endpoints, and the kubeconfig that points clients at it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::faults::{Failure, Faults};
use crate::http::json_response;
use crate::store::Store;

/// State shared by every request.
pub struct Shared {
    pub store: Mutex<Store>,
    pub faults: Faults,
    pub close_watches: broadcast::Sender<()>,
    pub watchers: AtomicUsize,
    pub address: String,
    /// Authentication and RBAC authorization on (see [`crate::rbac`]).
    pub rbac: bool,
    pub tokens: Mutex<crate::rbac::Tokens>,
    /// The message of every 401/403 given, in order.
    pub denials: Mutex<Vec<String>>,
    /// Requests per `"<request|response|watch> <media type>"`: which content types clients used.
    pub media: Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Shared {
    /// Count one request body, response or watch in `media_type` (parameters dropped).
    pub fn count_media(&self, what: &str, media_type: &str) {
        let essence = media_type.split(';').next().unwrap_or("").trim();
        if let Ok(mut media) = self.media.lock() {
            *media.entry(format!("{what} {essence}")).or_default() += 1;
        }
    }
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// 0 picks a free port.
    pub port: u16,
    /// Watch events kept for resuming watches; older resourceVersions get 410 Gone.
    pub history: usize,
    /// Authenticate every request and authorize it with RBAC, as kube-apiserver with
    /// `--authorization-mode=RBAC` (the kubeconfig's token is `system:masters`). Off: every
    /// request is allowed.
    pub rbac: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { port: 0, history: 100_000, rbac: false }
    }
}

/// A running in-memory API server on 127.0.0.1. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    https: bool,
}

/// The test-only certificate the server presents over HTTPS (`testdata/tls/`), and its CA.
const TLS_CERT: &str = include_str!("../testdata/tls/server.crt");
const TLS_KEY: &str = include_str!("../testdata/tls/server.key");
pub const TLS_CA: &str = include_str!("../testdata/tls/ca.crt");

impl ApiServer {
    /// Bind and serve in the background on the current tokio runtime.
    pub async fn start(options: Options) -> std::io::Result<ApiServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let address = listener.local_addr()?;
        let (close_watches, _) = broadcast::channel(16);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(options.history)),
            faults: Faults::default(),
            close_watches,
            watchers: AtomicUsize::new(0),
            address: address.to_string(),
            rbac: options.rbac,
            tokens: Mutex::new(crate::rbac::Tokens::default()),
            denials: Mutex::new(Vec::new()),
            media: Mutex::new(Default::default()),
        });
        if options.rbac {
            let mut store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
            for role in crate::rbac::bootstrap_cluster_roles() {
                create(&mut store, role)?;
            }
        }
        let app = axum::Router::new().fallback(crate::http::handle).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        if options.rbac {
            // kubectl and client-go send bearer tokens only over TLS, as to a real API server.
            let tls = portico_echo::tls::server_config(TLS_CERT.as_bytes(), TLS_KEY.as_bytes())?;
            let listener = portico_echo::tls::TlsListener::new(listener, address, tokio_rustls::TlsAcceptor::from(tls));
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
            });
        } else {
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
            });
        }
        Ok(ApiServer { shared, address, stop: Some(stop), https: options.rbac })
    }

    /// A bearer token for a ServiceAccount (which must exist), as the TokenRequest API issues
    /// them; it stops working when the ServiceAccount is deleted.
    pub fn service_account_token(&self, namespace: &str, name: &str) -> Result<String, crate::error::ApiError> {
        crate::http::issue_token(&self.shared, namespace, name)
    }

    /// Every request refused by authentication or RBAC so far (kube-apiserver's messages).
    pub fn denials(&self) -> Vec<String> {
        self.shared.denials.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// How many request bodies, responses and watches used each media type, keyed
    /// `"request application/vnd.kubernetes.protobuf"`, `"response application/json"`, `"watch ..."`.
    pub fn media_counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.media.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// A kubeconfig for this server that authenticates with `token`.
    pub fn kubeconfig_with_token(&self, token: &str) -> String {
        kubeconfig_with(&self.url(), token)
    }

    /// `http://...`, or `https://...` with RBAC on (the certificate chains to [`TLS_CA`], which the
    /// kubeconfig carries).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A kubeconfig (YAML) with one context, `portico-sandbox`, pointing at this server.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_for(&self.url())
    }

    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Drop every open watch stream (clients must re-watch).
    pub fn close_watches(&self) {
        let _ = self.shared.close_watches.send(());
    }

    /// Forget the watch history and drop watches: resuming clients get 410 Gone and re-list.
    pub fn expire_history(&self) {
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner()).compact();
        self.close_watches();
    }

    pub fn open_watches(&self) -> usize {
        self.shared.watchers.load(Ordering::Relaxed)
    }

    pub fn resource_version(&self) -> u64 {
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner()).rv
    }

    pub fn object_count(&self) -> usize {
        self.shared.store.lock().unwrap_or_else(|e| e.into_inner()).object_count()
    }

    /// Creates every object of a YAML stream (CRDs first if you list them first), as client POSTs
    /// would; returns how many. For `portico-apiserver --create FILE`.
    pub fn create_yaml(&self, text: &str) -> std::io::Result<usize> {
        let mut count = 0;
        for document in serde_yaml::Deserializer::from_str(text) {
            let object: serde_json::Value = serde::Deserialize::deserialize(document).map_err(std::io::Error::other)?;
            if !object.is_null() {
                self.create_object(object)?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Creates one object as a client's POST would (validation, defaults, CRDs served at once).
    pub fn create_object(&self, object: serde_json::Value) -> std::io::Result<()> {
        create(&mut self.shared.store.lock().unwrap_or_else(|e| e.into_inner()), object)
    }

    /// Creates the upstream Gateway API CRDs of `channel` (see [`crate::upstream`]) as a
    /// client's POST would; returns how many were installed.
    pub fn install_upstream_gateway_api(&self, channel: crate::upstream::Channel) -> std::io::Result<usize> {
        let crds = crate::upstream::gateway_api_crds(channel)?;
        let count = crds.len();
        let mut store = self.shared.store.lock().unwrap_or_else(|e| e.into_inner());
        for crd in crds {
            create(&mut store, crd)?;
        }
        Ok(count)
    }

    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.close_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Creates `object` in the kind its apiVersion and kind name, as a client's POST would.
fn create(store: &mut Store, object: serde_json::Value) -> std::io::Result<()> {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1").to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let kind = object["kind"].as_str().unwrap_or("");
    let rt = store.types.values().find(|t| t.group == group && t.kind == kind && t.versions.iter().any(|v| v == version)).cloned();
    let rt = rt.ok_or_else(|| std::io::Error::other(format!("{api_version} {kind} is not served")))?;
    let namespace = object.pointer("/metadata/namespace").and_then(serde_json::Value::as_str).unwrap_or("").to_string();
    store.create(&rt, &namespace, object, &crate::writes::WriteOptions::default()).map_err(|e| std::io::Error::other(e.message))?;
    Ok(())
}

/// A kubeconfig for `url` with the admin token (`system:masters` when RBAC is on).
pub fn kubeconfig_for(url: &str) -> String {
    kubeconfig_with(url, crate::rbac::ADMIN_TOKEN)
}

/// A kubeconfig for `url` that authenticates with `token` (and trusts [`TLS_CA`] over HTTPS).
fn kubeconfig_with(url: &str, token: &str) -> String {
    use base64::Engine as _;
    let ca = if url.starts_with("https://") {
        format!("\n    certificate-authority-data: {}", base64::engine::general_purpose::STANDARD.encode(TLS_CA))
    } else {
        String::new()
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: portico-sandbox\n  cluster:\n    server: {url}{ca}\ncontexts:\n- name: portico-sandbox\n  context:\n    cluster: portico-sandbox\n    user: portico-sandbox\n    namespace: default\ncurrent-context: portico-sandbox\nusers:\n- name: portico-sandbox\n  user:\n    token: {token}\n"
    )
}

/// `/__admin/<op>`: fault injection over HTTP for tests written in other languages or shells.
pub fn admin(shared: &Arc<Shared>, op: &str, query: &HashMap<String, String>) -> Result<Response, ApiError> {
    let number = |name: &str, default: u64| query.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(default);
    match op {
        "close-watches" => {
            let _ = shared.close_watches.send(());
        }
        "expire-history" => {
            shared.store.lock().unwrap_or_else(|e| e.into_inner()).compact();
            let _ = shared.close_watches.send(());
        }
        "fail" => {
            let failure = match query.get("code").map(String::as_str) {
                Some("429") | None => Failure::TooManyRequests,
                Some("500") => Failure::InternalError,
                Some("timeout") => Failure::Timeout,
                Some(other) => return Err(ApiError::bad_request(format!("code must be 429, 500 or timeout, not {other}"))),
            };
            shared.faults.set_hang(Duration::from_millis(number("hangMs", 30_000)));
            shared.faults.fail_next(number("count", 1) as u32, failure);
        }
        "latency" => shared.faults.set_latency(Duration::from_millis(number("ms", 0))),
        "clear" => shared.faults.clear(),
        "stats" => {}
        other => return Err(ApiError::no_route(&format!("/__admin/{other}"))),
    }
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    Ok(json_response(
        200,
        &json!({
            "resourceVersion": store.rv,
            "objects": store.object_count(),
            "openWatches": shared.watchers.load(Ordering::Relaxed),
            "requestsServed": shared.faults.served.load(Ordering::Relaxed),
            "mediaTypes": *shared.media.lock().unwrap_or_else(|e| e.into_inner()),
        }),
    ))
}
