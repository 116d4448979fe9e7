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
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// 0 picks a free port.
    pub port: u16,
    /// Watch events kept for resuming watches; older resourceVersions get 410 Gone.
    pub history: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { port: 0, history: 100_000 }
    }
}

/// A running in-memory API server on 127.0.0.1. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

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
        });
        let app = axum::Router::new().fallback(crate::http::handle).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ApiServer { shared, address, stop: Some(stop) })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
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

    /// Creates the upstream Gateway API CRDs of `channel` (see [`crate::upstream`]) as a
    /// client's POST would; returns how many were installed.
    pub fn install_upstream_gateway_api(&self, channel: crate::upstream::Channel) -> std::io::Result<usize> {
        let crds = crate::upstream::gateway_api_crds(channel)?;
        let mut store = self.shared.store.lock().unwrap_or_else(|e| e.into_inner());
        let key = ("apiextensions.k8s.io".to_string(), "customresourcedefinitions".to_string());
        let Some(rt) = store.types.get(&key).cloned() else {
            return Err(std::io::Error::other("the CustomResourceDefinition kind is not served"));
        };
        for crd in &crds {
            store.create(&rt, "", crd.clone(), &crate::writes::WriteOptions::default()).map_err(|e| std::io::Error::other(e.message))?;
        }
        Ok(crds.len())
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

pub fn kubeconfig_for(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: portico-sandbox\n  cluster:\n    server: {url}\ncontexts:\n- name: portico-sandbox\n  context:\n    cluster: portico-sandbox\n    user: portico-sandbox\n    namespace: default\ncurrent-context: portico-sandbox\nusers:\n- name: portico-sandbox\n  user:\n    token: sandbox\n"
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
        }),
    ))
}
