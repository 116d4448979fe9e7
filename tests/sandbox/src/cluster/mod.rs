//! What a cluster's controllers do, emulated faithfully enough that standard manifests work:
//!
//! - **Deployments** (`apps/v1`): Pods named `<deployment>-<template hash>-<random>` with the
//!   template's labels plus `pod-template-hash`, `spec.replicas` of them (default 1); a template
//!   change rolls: new Pods first, old ones terminated once the new ones are ready. Pods are owned
//!   by the Deployment directly (there is no ReplicaSet object); `status` carries the replica
//!   counts and the `Available` condition.
//! - **Pods** (the kubelet): a Pod whose containers use an echo image (an image name containing
//!   `echo`, e.g. upstream's `gateway-api/echo-basic`) gets its own loopback address as Pod IP and
//!   one echo server per declared container port (3000 when none is declared, as echo-basic),
//!   then `Running` with `Ready=True`. Deleting a Pod sets its `deletionTimestamp` (the kubelet
//!   holds a finalizer): it turns `Ready=False`, keeps serving for its grace period (capped by
//!   [`ClusterOptions::max_grace`]), then stops and goes away. Other images stay `Pending`.
//! - **EndpointSlices**, as kube-controller-manager writes them, for every Service with a
//!   selector: `generateName: <service>-`, labels `kubernetes.io/service-name`,
//!   `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` (plus the
//!   Service's own labels), an ownerReference to the Service, `addressType: IPv4`, one port entry
//!   per Service port whose `targetPort` the Pod resolves (a named `targetPort` through the Pod's
//!   container ports, so Pods with different numbers land in different slices), the name written
//!   as `""` for unnamed Service ports, `ready`/`serving`/`terminating` per endpoint with the
//!   controller's rule (never ready while terminating), `targetRef` to the Pod, and at most 100
//!   endpoints per slice. Slices are updated in place when Pods come and go.
//!
//! Every controller works from lists of the API server on each change (watch-triggered, with a
//! periodic resync), so it converges after restarts and missed events.

mod kubelet;
mod slices;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use kubelet::ECHO_DEFAULT_PORT;

/// The field manager / finalizer owner of the emulated kubelet.
pub const KUBELET_FINALIZER: &str = "portico.dev/sandbox-kubelet";
/// The label value kube-controller-manager's EndpointSlice controller puts on its slices.
pub const SLICE_MANAGER: &str = "endpointslice-controller.k8s.io";

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Pod IPs are taken from this loopback /16 upwards (the third and fourth octets grow).
    pub pod_network: Ipv4Addr,
    /// A terminating Pod keeps serving for its `terminationGracePeriodSeconds`, at most this.
    pub max_grace: Duration,
    /// `spec.nodeName` given to Pods that have none (the "scheduler").
    pub node_name: String,
    /// Periodic full resync, besides watch events.
    pub resync: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            pod_network: Ipv4Addr::new(127, 88, 0, 0),
            max_grace: Duration::from_secs(2),
            node_name: "sandbox-node".into(),
            resync: Duration::from_millis(500),
        }
    }
}

/// The running controllers; dropping it stops them and every Pod's servers.
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
    state: Arc<Mutex<kubelet::Runtime>>,
}

impl Cluster {
    pub fn start(client: Client, options: ClusterOptions) -> Cluster {
        let wake = Arc::new(Notify::new());
        let mut tasks =
            vec![watch::<Deployment>(&client, &wake), watch::<Pod>(&client, &wake), watch::<Service>(&client, &wake), watch::<EndpointSlice>(&client, &wake)];
        let state = Arc::new(Mutex::new(kubelet::Runtime::new(options.pod_network)));
        tasks.push(tokio::spawn(control_loop(client, options, Arc::clone(&state), wake)));
        Cluster { tasks, state }
    }

    /// Wait until at least `count` Pods run; returns their IPs by `namespace/name`.
    pub async fn wait_running(&self, count: usize, timeout: Duration) -> Option<BTreeMap<String, Ipv4Addr>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let ips = self.pod_ips();
            if ips.len() >= count {
                // One more resync interval's worth for the EndpointSlices to follow.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Some(ips);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pod IPs of running Pods, by `namespace/name`.
    pub fn pod_ips(&self) -> BTreeMap<String, Ipv4Addr> {
        self.state.lock().map(|s| s.pod_ips()).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Ok(mut state) = self.state.lock() {
            state.stop_all();
        }
    }
}

fn watch<K>(client: &Client, wake: &Arc<Notify>) -> JoinHandle<()>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let wake = Arc::clone(wake);
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if event.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            wake.notify_one();
        }
    })
}

/// Everything the controllers read, listed afresh for each pass.
pub(crate) struct World {
    pub deployments: Vec<Deployment>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
}

async fn list_world(client: &Client) -> Result<World, kube::Error> {
    let lp = ListParams::default();
    Ok(World {
        deployments: Api::<Deployment>::all(client.clone()).list(&lp).await?.items,
        pods: Api::<Pod>::all(client.clone()).list(&lp).await?.items,
        services: Api::<Service>::all(client.clone()).list(&lp).await?.items,
        slices: Api::<EndpointSlice>::all(client.clone()).list(&lp).await?.items,
    })
}

async fn control_loop(client: Client, options: ClusterOptions, state: Arc<Mutex<kubelet::Runtime>>, wake: Arc<Notify>) {
    loop {
        // Coalesce bursts of events into one pass.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut again = false;
        match list_world(&client).await {
            Ok(world) => {
                again |= kubelet::reconcile_deployments(&client, &world).await;
                again |= kubelet::reconcile_pods(&client, &world, &options, &state).await;
                again |= slices::reconcile(&client, &world).await;
            }
            Err(error) => eprintln!("sandbox cluster: list failed: {error}"),
        }
        if again {
            continue;
        }
        let _ = tokio::time::timeout(options.resync, wake.notified()).await;
    }
}

/// `namespace/name` of an object.
pub(crate) fn key(meta: &kube::api::ObjectMeta) -> String {
    format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or(""))
}

/// Does a label selector (`matchLabels` only, as Services use) select these labels?
pub(crate) fn selects(selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}
