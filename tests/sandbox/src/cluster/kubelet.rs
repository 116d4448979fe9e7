//! The Deployment controller and the kubelet of the emulated cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::{ClusterOptions, KUBELET_FINALIZER, World, key, selects};

/// The port upstream's echo-basic listens on when a Pod declares none.
pub const ECHO_DEFAULT_PORT: u16 = 3000;

struct RunningPod {
    ip: Ipv4Addr,
    servers: Vec<JoinHandle<()>>,
    /// Set once the Pod's deletion was seen: when its grace period ends.
    stop_at: Option<Instant>,
}

/// The Pods this kubelet runs, and the Pod IPs it has handed out.
pub(crate) struct Runtime {
    network: Ipv4Addr,
    next: u32,
    running: BTreeMap<String, RunningPod>,
    /// Pods already reported as not runnable (so they are patched once).
    pending: BTreeSet<String>,
}

impl Runtime {
    pub fn new(network: Ipv4Addr) -> Runtime {
        Runtime { network, next: 1, running: BTreeMap::new(), pending: BTreeSet::new() }
    }

    pub fn pod_ips(&self) -> BTreeMap<String, Ipv4Addr> {
        self.running.iter().map(|(k, p)| (k.clone(), p.ip)).collect()
    }

    pub fn stop_all(&mut self) {
        for pod in std::mem::take(&mut self.running).into_values() {
            pod.servers.iter().for_each(JoinHandle::abort);
        }
    }

    fn allocate(&mut self, taken: &BTreeSet<Ipv4Addr>) -> Ipv4Addr {
        loop {
            let ip = Ipv4Addr::from(u32::from(self.network) + self.next);
            self.next = self.next % 65_000 + 1;
            if !taken.contains(&ip) && !self.running.values().any(|p| p.ip == ip) {
                return ip;
            }
        }
    }
}

// ---- Deployments ----

/// A short, stable hash of the Pod template, in the alphabet Kubernetes uses for names.
fn template_hash(deployment: &Deployment) -> String {
    let text = serde_json::to_string(&deployment.spec.as_ref().map(|s| &s.template)).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10).map(|i| ALPHABET[((hash >> (i * 6)) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn owned_by<'a>(pods: &'a [Pod], uid: &str) -> Vec<&'a Pod> {
    pods.iter().filter(|p| p.owner_references().iter().any(|o| o.uid == uid && o.controller == Some(true))).collect()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

fn terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Create, roll and scale the Pods of every Deployment; returns whether another pass is due.
pub(crate) async fn reconcile_deployments(client: &Client, world: &World) -> bool {
    let mut changed = false;
    for deployment in &world.deployments {
        match reconcile_deployment(client, deployment, &world.pods).await {
            Ok(c) => changed |= c,
            Err(error) => eprintln!("sandbox cluster: Deployment {}: {error}", key(&deployment.metadata)),
        }
    }
    changed
}

async fn reconcile_deployment(client: &Client, deployment: &Deployment, pods: &[Pod]) -> Result<bool, kube::Error> {
    let (Some(uid), Some(name), Some(spec)) = (deployment.metadata.uid.as_deref(), deployment.metadata.name.as_deref(), deployment.spec.as_ref()) else {
        return Ok(false);
    };
    let namespace = deployment.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let wanted = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
    let hash = template_hash(deployment);
    let owned = owned_by(pods, uid);
    let live: Vec<&Pod> = owned.iter().copied().filter(|p| !terminating(p)).collect();
    let (current, old): (Vec<&Pod>, Vec<&Pod>) = live.iter().partition(|p| p.labels().get("pod-template-hash") == Some(&hash));
    let mut changed = false;
    for _ in current.len()..wanted {
        api.create(&PostParams::default(), &new_pod(deployment, name, uid, &hash)?).await?;
        changed = true;
    }
    // Scale down: the newest Pods go first.
    let mut surplus: Vec<&&Pod> = current.iter().collect();
    surplus.sort_by_key(|p| std::cmp::Reverse(p.metadata.creation_timestamp.clone()));
    for pod in surplus.into_iter().take(current.len().saturating_sub(wanted)) {
        api.delete(&pod.name_any(), &DeleteParams::default()).await?;
        changed = true;
    }
    // Roll: old Pods are terminated once enough new ones are ready.
    if current.iter().filter(|p| is_ready(p)).count() >= wanted {
        for pod in &old {
            api.delete(&pod.name_any(), &DeleteParams::default()).await?;
            changed = true;
        }
    }
    write_deployment_status(client, deployment, &owned, &hash, wanted).await?;
    Ok(changed)
}

fn new_pod(deployment: &Deployment, name: &str, uid: &str, hash: &str) -> Result<Pod, kube::Error> {
    let template = deployment.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let mut labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert("pod-template-hash".into(), hash.into());
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": format!("{name}-{hash}-"),
            "namespace": deployment.namespace(),
            "labels": labels,
            "annotations": template.metadata.as_ref().and_then(|m| m.annotations.clone()),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template.spec,
    });
    serde_json::from_value(pod).map_err(kube::Error::SerdeError)
}

async fn write_deployment_status(client: &Client, deployment: &Deployment, owned: &[&Pod], hash: &str, wanted: usize) -> Result<(), kube::Error> {
    let live: Vec<&&Pod> = owned.iter().filter(|p| !terminating(p)).collect();
    let ready = live.iter().filter(|p| is_ready(p)).count();
    let updated = live.iter().filter(|p| p.labels().get("pod-template-hash").map(String::as_str) == Some(hash)).count();
    let available = if ready >= wanted { "True" } else { "False" };
    let status = json!({
        "observedGeneration": deployment.metadata.generation,
        "replicas": live.len(), "readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": updated,
        "conditions": [{"type": "Available", "status": available, "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }}],
    });
    let mut current = serde_json::to_value(&deployment.status).unwrap_or(Value::Null);
    if let Some(conditions) = current.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions {
            if let Some(c) = c.as_object_mut() {
                c.retain(|k, _| k == "type" || k == "status" || k == "reason");
            }
        }
    }
    if current == status {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(client.clone(), &deployment.namespace().unwrap_or_default());
    api.patch_status(&deployment.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await?;
    Ok(())
}

// ---- Pods ----

/// Is this Pod's workload one the sandbox can run (every container an echo image)?
fn runnable(pod: &Pod) -> bool {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    !containers.is_empty() && containers.iter().all(|c| c.image.as_deref().is_some_and(|i| i.contains("echo")))
}

fn container_ports(pod: &Pod) -> Vec<u16> {
    let mut ports: Vec<u16> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .collect();
    if ports.is_empty() {
        ports.push(ECHO_DEFAULT_PORT);
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Start, stop and report the Pods; returns whether another pass is due soon.
pub(crate) async fn reconcile_pods(client: &Client, world: &World, options: &ClusterOptions, state: &Arc<Mutex<Runtime>>) -> bool {
    let seen: BTreeSet<String> = world.pods.iter().map(|p| key(&p.metadata)).collect();
    let taken: BTreeSet<Ipv4Addr> = world.pods.iter().filter_map(|p| p.status.as_ref()?.pod_ip.as_ref()?.parse().ok()).collect();
    if let Ok(mut runtime) = state.lock() {
        let gone: Vec<String> = runtime.running.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        for k in gone {
            if let Some(pod) = runtime.running.remove(&k) {
                pod.servers.iter().for_each(JoinHandle::abort);
            }
        }
        runtime.pending.retain(|k| seen.contains(k));
    }
    let mut again = false;
    for pod in &world.pods {
        let result = if terminating(pod) { stop_pod(client, pod, options, state).await } else { start_pod(client, world, pod, options, state, &taken).await };
        match result {
            Ok(more) => again |= more,
            Err(error) => eprintln!("sandbox cluster: Pod {}: {error}", key(&pod.metadata)),
        }
    }
    again
}

async fn start_pod(
    client: &Client,
    world: &World,
    pod: &Pod,
    options: &ClusterOptions,
    state: &Arc<Mutex<Runtime>>,
    taken: &BTreeSet<Ipv4Addr>,
) -> Result<bool, kube::Error> {
    let k = key(&pod.metadata);
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    if state.lock().map(|s| s.running.contains_key(&k)).unwrap_or(true) {
        return Ok(false);
    }
    if !runnable(pod) {
        if state.lock().map(|mut s| s.pending.insert(k)).unwrap_or(false) {
            let status = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "image": "", "imageID": "", "state": {"waiting": {"reason": "ImageNotEmulated", "message": "the sandbox runs only echo images"}}}]}});
            api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(status)).await?;
        }
        return Ok(false);
    }
    // A Pod that already has an IP (the sandbox restarted) keeps it.
    let existing = pod.status.as_ref().and_then(|s| s.pod_ip.as_ref()).and_then(|ip| ip.parse().ok());
    let ip = match existing {
        Some(ip) => ip,
        None => match state.lock() {
            Ok(mut s) => s.allocate(taken),
            Err(_) => return Ok(false),
        },
    };
    let config = portico_echo::EchoConfig { namespace: pod.namespace().unwrap_or_default(), pod: pod.name_any(), service: service_of(world, pod) };
    let addrs: Vec<SocketAddr> = container_ports(pod).into_iter().map(|p| SocketAddr::new(ip.into(), p)).collect();
    let tls = match tls_material(client, pod).await {
        Ok(tls) => tls,
        Err(why) => {
            eprintln!("sandbox cluster: Pod {k}: {why}");
            return Ok(false);
        }
    };
    let servers = match serve_echo(pod, ip, &addrs, config, tls).await {
        Ok(tasks) => tasks,
        Err(error) => {
            eprintln!("sandbox cluster: Pod {k} cannot listen on {ip}: {error}");
            return Ok(false);
        }
    };
    if let Ok(mut s) = state.lock() {
        s.running.insert(k, RunningPod { ip, servers, stop_at: None });
    }
    let mut finalizers = pod.finalizers().to_vec();
    if !finalizers.iter().any(|f| f == KUBELET_FINALIZER) {
        finalizers.push(KUBELET_FINALIZER.into());
    }
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_else(|| options.node_name.clone());
    api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": finalizers}, "spec": {"nodeName": node}}))).await?;
    api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(running_status(ip, true))).await?;
    Ok(true)
}

/// The value of `name` in the first container's environment (literal values only).
fn env_value(pod: &Pod, name: &str) -> Option<String> {
    pod.spec.iter().flat_map(|s| s.containers.first()).flat_map(|c| c.env.iter().flatten()).find(|e| e.name == name).and_then(|e| e.value.clone())
}

/// A port from the environment, else `default`.
fn env_port(pod: &Pod, name: &str, default: u16) -> u16 {
    env_value(pod, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Serve what the echo image serves for this Pod's environment: the gRPC echo with
/// `GRPC_ECHO_SERVER`, the TCP line protocol with `TCP_ECHO_SERVER` (on `TCP_PORT`, and over TLS
/// on `TLS_PORT`), else the HTTP echo (and over TLS on `HTTPS_PORT`); TLS when the Pod has a
/// certificate and key (`TLS_SERVER_CERT`, `TLS_SERVER_PRIVKEY`).
async fn serve_echo(
    pod: &Pod,
    ip: Ipv4Addr,
    addrs: &[SocketAddr],
    config: portico_echo::EchoConfig,
    tls: Option<Arc<portico_echo::tls::ServerConfig>>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    let on = |port: u16| [SocketAddr::new(ip.into(), port)];
    let set = |name: &str| env_value(pod, name).is_some_and(|v| !v.is_empty());
    let bound = if set("GRPC_ECHO_SERVER") {
        portico_echo::grpc::spawn_grpc(addrs, config).await?
    } else if set("TCP_ECHO_SERVER") {
        let mut bound = portico_echo::tcp::spawn_tcp(&on(env_port(pod, "TCP_PORT", ECHO_DEFAULT_PORT)), config.clone(), None).await?;
        if let Some(tls) = tls {
            bound.extend(portico_echo::tcp::spawn_tcp(&on(env_port(pod, "TLS_PORT", 8443)), config, Some(tls)).await?);
        }
        bound
    } else {
        let mut bound = portico_echo::spawn_http(addrs, config.clone()).await?;
        if let Some(tls) = tls {
            bound.extend(portico_echo::tls::spawn_https(&on(env_port(pod, "HTTPS_PORT", 8443)), config, tls).await?);
        }
        bound
    };
    Ok(bound.into_iter().map(|(_, task)| task).collect())
}

/// The Pod's TLS certificate and key, when its environment names files (`TLS_SERVER_CERT` and
/// `TLS_SERVER_PRIVKEY` or `TLS_SERVER_PRIV_KEY`) mounted from Secret volumes; with
/// `TLS_CLIENT_CACERTS` (a CA bundle file) clients must present a certificate that CA signed.
async fn tls_material(client: &Client, pod: &Pod) -> Result<Option<Arc<portico_echo::tls::ServerConfig>>, String> {
    let (Some(cert), Some(key)) = (env_value(pod, "TLS_SERVER_CERT"), env_value(pod, "TLS_SERVER_PRIVKEY").or_else(|| env_value(pod, "TLS_SERVER_PRIV_KEY")))
    else {
        return Ok(None);
    };
    let cert = secret_file(client, pod, &cert).await?;
    let key = secret_file(client, pod, &key).await?;
    let config = match env_value(pod, "TLS_CLIENT_CACERTS") {
        Some(path) => portico_echo::tls::server_config_verifying_clients(&cert, &key, &secret_file(client, pod, &path).await?),
        None => portico_echo::tls::server_config(&cert, &key),
    };
    config.map(Some).map_err(|e| format!("TLS certificate: {e}"))
}

/// The content of `path` in the first container, from the Secret volume mounted there.
async fn secret_file(client: &Client, pod: &Pod, path: &str) -> Result<Vec<u8>, String> {
    let spec = pod.spec.as_ref().ok_or("no spec")?;
    let mounts = spec.containers.first().and_then(|c| c.volume_mounts.as_ref()).cloned().unwrap_or_default();
    let (mount, file) = mounts
        .iter()
        .find_map(|m| path.strip_prefix(m.mount_path.trim_end_matches('/')).and_then(|rest| rest.strip_prefix('/')).map(|rest| (m, rest)))
        .ok_or_else(|| format!("{path} is on no volume mount"))?;
    let volume = spec.volumes.iter().flatten().find(|v| v.name == mount.name).ok_or_else(|| format!("no volume {}", mount.name))?;
    let secret = volume.secret.as_ref().ok_or_else(|| format!("volume {} is not a Secret", mount.name))?;
    let key = match &secret.items {
        Some(items) => items.iter().find(|i| i.path == file).map(|i| i.key.clone()).ok_or_else(|| format!("no item of volume {} at {file}", mount.name))?,
        None => file.to_string(),
    };
    let name = secret.secret_name.clone().unwrap_or_default();
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let found = api.get_opt(&name).await.map_err(|e| format!("Secret {name}: {e}"))?.ok_or_else(|| format!("Secret {name} not found"))?;
    found.data.and_then(|mut d| d.remove(&key)).map(|b| b.0).ok_or_else(|| format!("Secret {name} has no key {key}"))
}

fn running_status(ip: Ipv4Addr, ready: bool) -> Value {
    let ready = if ready { "True" } else { "False" };
    json!({"status": {
        "phase": "Running", "podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}], "hostIP": "127.0.0.1",
        "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": ready}, {"type": "Ready", "status": ready},
        ],
    }})
}

/// The echo's `service` field: the `SERVICE_NAME` env of its first container, else the first
/// Service selecting the Pod, else the Pod's name.
fn service_of(world: &World, pod: &Pod) -> String {
    let env = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.first())
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "SERVICE_NAME")
        .and_then(|e| e.value.clone());
    env.or_else(|| {
        world
            .services
            .iter()
            .filter(|s| s.namespace() == pod.namespace())
            .find(|s| s.spec.as_ref().and_then(|s| s.selector.as_ref()).is_some_and(|sel| selects(sel, pod.metadata.labels.as_ref())))
            .map(ResourceExt::name_any)
    })
    .unwrap_or_else(|| pod.name_any())
}

async fn stop_pod(client: &Client, pod: &Pod, options: &ClusterOptions, state: &Arc<Mutex<Runtime>>) -> Result<bool, kube::Error> {
    let k = key(&pod.metadata);
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let grace =
        Duration::from_secs(pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30).max(0).unsigned_abs()).min(options.max_grace);
    let (first_seen, done) = match state.lock() {
        Ok(mut s) => match s.running.get_mut(&k) {
            Some(running) if running.stop_at.is_none() => {
                running.stop_at = Some(Instant::now() + grace);
                (Some(running.ip), false)
            }
            Some(running) => (None, running.stop_at.is_some_and(|t| Instant::now() >= t)),
            None => (None, true),
        },
        Err(_) => return Ok(false),
    };
    if let Some(ip) = first_seen {
        api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(running_status(ip, false))).await?;
        return Ok(false);
    }
    if !done {
        return Ok(false);
    }
    if let Ok(mut s) = state.lock()
        && let Some(running) = s.running.remove(&k)
    {
        running.servers.iter().for_each(JoinHandle::abort);
    }
    let finalizers: Vec<String> = pod.finalizers().iter().filter(|f| *f != KUBELET_FINALIZER).cloned().collect();
    if finalizers.len() != pod.finalizers().len() {
        api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(json!({"metadata": {"finalizers": finalizers}}))).await?;
    }
    Ok(true)
}
