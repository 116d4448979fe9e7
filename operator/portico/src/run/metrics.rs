//! Prometheus metrics, `/healthz` and `/readyz`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

/// Counters and gauges, rendered in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), f64>>,
    gauges: Mutex<BTreeMap<(&'static str, String), f64>>,
    pub ready: AtomicBool,
}

const HELP: &[(&str, &str, &str)] = &[
    ("portico_reconciles_total", "counter", "Reconciles of the whole snapshot, by result."),
    ("portico_reconcile_duration_seconds_sum", "counter", "Total time spent reconciling."),
    ("portico_reconcile_duration_seconds_count", "counter", "Number of timed reconciles."),
    ("portico_errors_total", "counter", "Errors by kind."),
    ("portico_provider_calls_total", "counter", "Provider operations by provider and operation."),
    ("portico_status_writes_total", "counter", "Status writes by kind."),
    ("portico_watch_errors_total", "counter", "Watch stream errors by kind (each is retried with backoff)."),
    ("portico_queue_depth", "gauge", "Changes waiting to be reconciled."),
    ("portico_leader", "gauge", "1 when this replica holds the leader lease."),
    ("portico_gateways_programmed", "gauge", "Gateways programmed by the provider."),
];

impl Metrics {
    pub fn inc(&self, name: &'static str, labels: String, by: f64) {
        *self.counters.lock().unwrap_or_else(|e| e.into_inner()).entry((name, labels)).or_default() += by;
    }

    pub fn set(&self, name: &'static str, labels: String, value: f64) {
        self.gauges.lock().unwrap_or_else(|e| e.into_inner()).insert((name, labels), value);
    }

    pub fn watch_error(&self, kind: &str) {
        self.inc("portico_watch_errors_total", format!("kind=\"{kind}\""), 1.0);
    }

    pub fn error(&self, kind: &str) {
        self.inc("portico_errors_total", format!("kind=\"{kind}\""), 1.0);
    }

    pub fn provider_call(&self, provider: &str, operation: &str) {
        self.inc("portico_provider_calls_total", format!("provider=\"{provider}\",operation=\"{operation}\""), 1.0);
    }

    pub fn status_write(&self, kind: &str) {
        self.inc("portico_status_writes_total", format!("kind=\"{kind}\""), 1.0);
    }

    pub fn reconciled(&self, ok: bool, seconds: f64) {
        self.inc("portico_reconciles_total", format!("result=\"{}\"", if ok { "ok" } else { "error" }), 1.0);
        self.inc("portico_reconcile_duration_seconds_sum", String::new(), seconds);
        self.inc("portico_reconcile_duration_seconds_count", String::new(), 1.0);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let gauges = self.gauges.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (name, kind, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for ((metric, labels), value) in counters.iter().chain(gauges.iter()).filter(|((m, _), _)| m == name) {
                if labels.is_empty() {
                    out.push_str(&format!("{metric} {value}\n"));
                } else {
                    out.push_str(&format!("{metric}{{{labels}}} {value}\n"));
                }
            }
        }
        out
    }
}

/// Serve `/metrics`, `/healthz` and `/readyz` on `address` until the process ends.
pub async fn serve(address: std::net::SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(|State(m): State<Arc<Metrics>>| async move { m.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<Metrics>>| async move {
                if m.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready").into_response()
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response()
                }
            }),
        )
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await
}
