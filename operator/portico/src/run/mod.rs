//! `portico run`: the operator. Watches everything translation reads; on any change (debounced)
//! or drift tick, translates the whole snapshot, programs the Gateways whose IR changed through
//! their provider, and writes every status that changed. Only the leader writes.

mod leader;
mod metrics;
mod reconcile;
mod scope;
mod status;
mod stores;
mod writes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::collections::BTreeMap;

use kube::Client;
use portico_model::ProviderKind;
use portico_provider::{Context, Descriptor, DynProvider, Registered};

pub use metrics::Metrics;
pub use scope::Selector;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunOptions {
    /// Elect a leader through a coordination.k8s.io Lease; only the leader writes.
    #[arg(long, default_value_t = false, env = "PORTICO_LEADER_ELECT")]
    pub leader_elect: bool,
    #[arg(long, default_value = "default", env = "PORTICO_LEASE_NAMESPACE")]
    pub lease_namespace: String,
    #[arg(long, default_value = "portico-leader", env = "PORTICO_LEASE_NAME")]
    pub lease_name: String,
    /// This replica's identity in the Lease (default: hostname and process id).
    #[arg(long, env = "PORTICO_IDENTITY")]
    pub identity: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:9090", env = "PORTICO_METRICS_ADDRESS")]
    pub metrics_address: SocketAddr,
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "PORTICO_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Re-observe and repair every Gateway this often (with up to 10% jitter).
    #[arg(long, default_value = "60s", value_parser = parse_interval, env = "PORTICO_DRIFT_INTERVAL")]
    pub drift_interval: Duration,
    /// Where providers keep local state (HAProxy configuration, certificates, sockets).
    /// Default: `$XDG_STATE_HOME/portico`, else `$HOME/.local/state/portico` (never a shared,
    /// predictable path under /tmp).
    #[arg(long, env = "PORTICO_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// This cluster's name: cloud resources are tagged with it and only resources carrying it
    /// are ever changed. Give every cluster sharing a cloud account its own name. Without it,
    /// cloud providers derive `uid-<kube-system namespace UID>` (and log it); they never fall back
    /// to a shared default.
    #[arg(long, env = "PORTICO_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// How often to look again for route CRDs the cluster did not serve (GRPCRoute, TLSRoute,
    /// TCPRoute and UDPRoute v1), so one installed later is watched without a restart.
    #[arg(long, default_value = "30s", value_parser = parse_interval, env = "PORTICO_DISCOVERY_INTERVAL")]
    pub discovery_interval: Duration,
    /// Watch only these namespaces (repeatable or comma separated; default: all). Namespaced
    /// kinds are then listed and watched per namespace, so Roles in them suffice.
    #[arg(long = "watch-namespace", value_delimiter = ',', env = "PORTICO_WATCH_NAMESPACES")]
    pub watch_namespaces: Vec<String>,
    /// Serve only namespaces whose labels match (`key=value`, `key!=value`, `key`, `!key`, comma
    /// separated): objects in other namespaces are ignored, as if absent.
    #[arg(long, value_parser = scope::Selector::parse, env = "PORTICO_WATCH_SELECTOR")]
    pub watch_selector: Option<scope::Selector>,
}

impl RunOptions {
    /// Options for an in-process operator (the sandbox, tests): no leader election, metrics on
    /// an ephemeral port, drift checks every minute.
    pub fn local(state_dir: PathBuf, cluster_name: &str) -> RunOptions {
        RunOptions {
            leader_elect: false,
            lease_namespace: "default".into(),
            lease_name: "portico-leader".into(),
            identity: None,
            metrics_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_format: LogFormat::Text,
            drift_interval: Duration::from_secs(60),
            state_dir: Some(state_dir),
            cluster_name: Some(cluster_name.into()),
            discovery_interval: Duration::from_secs(1),
            watch_namespaces: Vec::new(),
            watch_selector: None,
        }
    }
}

/// The state directory: the flag, else `$XDG_STATE_HOME/portico`, else `$HOME/.local/state/portico`.
fn state_dir(options: &RunOptions) -> Result<PathBuf, RunError> {
    if let Some(dir) = &options.state_dir {
        return Ok(dir.clone());
    }
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute());
    from_env("XDG_STATE_HOME").map(|d| d.join("portico")).or_else(|| from_env("HOME").map(|h| h.join(".local/state/portico"))).ok_or(RunError::NoStateDir)
}

/// The cluster name cloud resources are tagged with: the flag, else one derived from the
/// `kube-system` namespace's UID (unique per cluster), else refuse to start.
async fn cluster_name(options: &RunOptions, client: &Client, providers: &[Registered]) -> Result<String, RunError> {
    if let Some(name) = options.cluster_name.as_ref().filter(|n| !n.trim().is_empty()) {
        return Ok(name.trim().to_string());
    }
    if !providers.iter().any(|p| p.descriptor.uses_cluster_name) {
        // Only cloud resources carry the cluster name.
        return Ok("default".into());
    }
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let uid = namespaces.get_opt("kube-system").await.ok().flatten().and_then(|ns| ns.metadata.uid).filter(|u| !u.is_empty());
    let Some(uid) = uid else { return Err(RunError::NoClusterName) };
    let name = format!("uid-{}", uid.to_ascii_lowercase());
    tracing::warn!(cluster_name = %name, "no --cluster-name given: using one derived from the kube-system namespace UID; pass --cluster-name to choose it");
    Ok(name)
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    portico_translate::parse_duration(text).map(Duration::from_millis).ok_or_else(|| format!("{text:?} is not a duration like 30s or 5m"))
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to the cluster: {0}")]
    Connect(#[from] kube::Error),
    #[error("cannot start the {0} provider: {1}")]
    Provider(&'static str, String),
    #[error("cannot serve metrics: {0}")]
    Metrics(#[from] std::io::Error),
    #[error("no state directory: pass --state-dir (or set XDG_STATE_HOME or HOME)")]
    NoStateDir,
    #[error(
        "the aws and gcp providers need --cluster-name (it marks which cloud resources are this cluster's), and the kube-system namespace's UID to derive one from is not readable"
    )]
    NoClusterName,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn,hyper=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Run until Ctrl-C / SIGTERM, against the cluster of KUBECONFIG (or in-cluster).
pub async fn run(options: RunOptions, providers: Vec<Registered>) -> Result<(), RunError> {
    init_logging(options.log_format);
    let client = Client::try_default().await?;
    run_with(options, providers, client, shutdown_signal()).await
}

/// Run with a given client until `shutdown` completes (the sandbox runs Portico in-process).
#[allow(clippy::too_many_lines)]
pub async fn run_with(
    options: RunOptions,
    providers: Vec<Registered>,
    client: Client,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let state_dir = state_dir(&options)?;
    let cluster = cluster_name(&options, &client, &providers).await?;
    let metrics = Arc::new(Metrics::default());
    let metrics_listener = tokio::spawn(metrics::serve(options.metrics_address, metrics.clone()));
    let descriptors: Vec<&'static Descriptor> = providers.iter().map(|p| p.descriptor).collect();
    let watch = scope::Watch {
        scope: scope::Scope { namespaces: options.watch_namespaces.clone() },
        selector: options.watch_selector.clone(),
        discovery: options.discovery_interval,
    };
    let stores = stores::Stores::start(&client, &metrics, &descriptors, &watch);
    let leading = Arc::new(AtomicBool::new(!options.leader_elect));
    let election = options.leader_elect.then(|| {
        let identity = options.identity.clone().unwrap_or_else(default_identity);
        let election = Arc::new(leader::LeaderElection::new(&client, &options.lease_namespace, &options.lease_name, &identity));
        (election.clone(), tokio::spawn(election.run(leading.clone(), stores.changed.clone())))
    });
    stores.ready().await;
    metrics.ready.store(true, Ordering::Relaxed);
    let names: Vec<&str> = descriptors.iter().map(|d| d.kind.name()).collect();
    tracing::info!(providers = ?names, leader_elect = options.leader_elect, "portico is running");
    let started = start_providers(providers, &cluster, &state_dir, &metrics).await?;
    let mut reconciler = reconcile::Reconciler::new(client, stores.clone(), metrics.clone(), started);
    tokio::pin!(shutdown);
    let mut drift = jittered(options.drift_interval);
    // After a failed pass, retry with exponential backoff (1 s, 2 s, 4 s, ... up to 60 s) even
    // when nothing changes; a successful pass resets it.
    let mut retry: Option<Duration> = None;
    loop {
        let wait = retry.map_or(drift, |r| r.min(drift));
        let force = tokio::select! {
            _ = stores.changed.notified() => false,
            _ = tokio::time::sleep(wait) => {
                if retry.is_none() || wait == drift { drift = jittered(options.drift_interval); }
                true
            }
            _ = &mut shutdown => break,
        };
        metrics.set("portico_queue_depth", String::new(), 1.0);
        // Debounce: a burst of watch events becomes one reconcile.
        tokio::time::sleep(Duration::from_millis(30)).await;
        metrics.set("portico_queue_depth", String::new(), 0.0);
        let leader = leading.load(Ordering::SeqCst);
        metrics.set("portico_leader", String::new(), if leader { 1.0 } else { 0.0 });
        if leader {
            // A panic inside a pass is contained: the Gateways it was programming are blamed and
            // skipped until they change, and the operator keeps serving the rest.
            let pass = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(reconciler.reconcile(force))).await;
            let failed = match pass {
                Ok(failed) => failed,
                Err(panic) => {
                    reconciler.contain_panic(&panic_text(panic.as_ref())).await;
                    true
                }
            };
            retry = failed.then(|| retry.map_or(Duration::from_secs(1), |r| (r * 2).min(Duration::from_secs(60))));
        }
        if metrics_listener.is_finished() {
            tracing::error!("the metrics server stopped");
        }
    }
    tracing::info!("shutting down; load balancers keep running");
    if let Some((election, task)) = election {
        task.abort();
        match election.release().await {
            Ok(true) => tracing::info!("released the leader lease"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not release the leader lease; a standby takes over when it expires"),
        }
    }
    Ok(())
}

/// Start every registered provider, each with its own state directory and call counter.
async fn start_providers(
    providers: Vec<Registered>,
    cluster: &str,
    state_dir: &std::path::Path,
    metrics: &Arc<Metrics>,
) -> Result<BTreeMap<ProviderKind, Arc<dyn DynProvider>>, RunError> {
    let mut started = BTreeMap::new();
    for registered in providers {
        let kind = registered.descriptor.kind;
        let counter = metrics.clone();
        let on_call: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |operation: &str| counter.provider_call(kind.name(), operation));
        let context = Context { cluster: cluster.to_string(), state_dir: state_dir.to_path_buf(), on_call };
        let provider = (registered.connect)(context).await.map_err(|e| RunError::Provider(kind.name(), e))?;
        started.insert(kind, provider);
    }
    Ok(started)
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic.downcast_ref::<&str>().map(|s| (*s).to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".into())
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "portico".into());
    format!("{host}-{}", std::process::id())
}

/// The drift interval with up to 10% random jitter, so replicas and Gateways do not align.
fn jittered(interval: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    interval + interval.mul_f64(f64::from(nanos % 1000) / 10_000.0)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
