//! Running HAProxy: address allocation from the pool, writing the configuration and
//! certificates (validated with `haproxy -c` before they replace the running ones, one Gateway
//! apart from the others when that fails: see [`crate::isolate`]), starting HAProxy in
//! master-worker mode, and hitless reloads (the master re-executes on SIGUSR2; old workers finish
//! their connections) confirmed by a newly forked worker ([`crate::master`]).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use portico_model::ir::{Address, ObjectRef};
use portico_provider::{Applied, Desired, ProviderError};
use tokio::sync::Mutex;

use crate::files;
use crate::isolate::{Checker, Part};
use crate::params::{HAProxyMode, HAProxyParametersSpec, expand_pool};
use crate::render::{RenderSettings, render};

const PLATFORM: &str = "HAProxy";

/// How long a reload may take to fork a worker with the new configuration.
const RELOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a started HAProxy may take to write its master's pid file.
const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Per Gateway: the routes left out, or why HAProxy rejected it.
type Outcomes = BTreeMap<ObjectRef, Result<Vec<portico_provider::RouteOverflow>, ProviderError>>;

/// One HAProxy instance: the Gateways that share a parameters object share a process.
pub struct Instance {
    pub spec: HAProxyParametersSpec,
    pub state_dir: PathBuf,
    state: Mutex<InstanceState>,
    /// Endpoint changes applied through the runtime API (no reload).
    pub runtime_updates: std::sync::atomic::AtomicU64,
    /// Addresses other instances serve (instances may share a pool): never handed out here.
    reserved: std::sync::Mutex<std::collections::BTreeSet<IpAddr>>,
}

#[derive(Default)]
struct InstanceState {
    /// Addresses handed out, kept stable across reconciles.
    assigned: BTreeMap<ObjectRef, IpAddr>,
    last_config: Option<String>,
    /// Each Gateway's configuration HAProxy last accepted: it stays in service while a newer
    /// one is rejected.
    last_good: BTreeMap<ObjectRef, Part>,
    /// The last reload was not confirmed: reload again even when the file on disk is current.
    reload_pending: bool,
    /// Each Gateway's configuration HAProxy last rejected, with its alerts.
    last_bad: BTreeMap<ObjectRef, (Part, String)>,
    /// Each Gateway's last rendering: an edit re-renders only the Gateways it changed.
    renders: crate::render::RenderCache,
}

fn rejected(operation: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Rejected { platform: PLATFORM.into(), operation: operation.into(), message: message.into() }
}

fn transient(operation: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Transient { platform: PLATFORM.into(), operation: operation.into(), message: message.into() }
}

impl Instance {
    pub fn new(spec: HAProxyParametersSpec, default_state_dir: &Path) -> Instance {
        let state_dir = spec.state_dir.clone().map(PathBuf::from).unwrap_or_else(|| default_state_dir.to_path_buf());
        Instance { spec, state_dir, state: Mutex::new(InstanceState::default()), runtime_updates: Default::default(), reserved: Default::default() }
    }

    fn settings(&self) -> RenderSettings {
        let t = self.spec.timeouts.clone().unwrap_or_default();
        RenderSettings {
            cert_dir: self.state_dir.join("certs"),
            port_offset: self.spec.port_offset.unwrap_or(0),
            timeout_connect_ms: t.connect_ms.unwrap_or(5_000),
            timeout_client_ms: t.client_ms.unwrap_or(60_000),
            timeout_server_ms: t.server_ms.unwrap_or(60_000),
            runtime_socket: self.state_dir.join("runtime.sock"),
        }
    }

    fn binary(&self) -> String {
        self.spec.haproxy_binary.clone().unwrap_or_else(|| "haproxy".into())
    }

    /// Addresses held by Gateways of other instances, left out of this instance's pool.
    pub fn reserve(&self, addresses: std::collections::BTreeSet<IpAddr>) {
        if let Ok(mut reserved) = self.reserved.lock() {
            *reserved = addresses;
        }
    }

    /// Program exactly `desired` (every Gateway of this instance); returns a result per Gateway.
    /// A Gateway (or route) HAProxy rejects is left out on its own: see [`crate::isolate`].
    pub async fn sync(&self, desired: &BTreeMap<ObjectRef, Desired>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        let mut state = self.state.lock().await;
        let mut results = BTreeMap::new();
        let addresses = match self.allocate(&mut state, desired) {
            Ok(addresses) => addresses,
            Err(error) => return desired.keys().map(|k| (k.clone(), Err(error.clone()))).collect(),
        };
        let mut parts = BTreeMap::new();
        for (key, gateway) in desired {
            match addresses.get(key) {
                Some(Ok(address)) => {
                    parts.insert(key.clone(), Part { ir: gateway.ir.clone(), certificates: gateway.certificates.clone(), address: *address });
                }
                Some(Err(error)) => {
                    results.insert(key.clone(), Err(error.clone()));
                }
                None => {}
            }
        }
        state.last_good.retain(|k, _| parts.contains_key(k));
        let outcome = self.write_and_reload(&mut state, &parts).await;
        for (key, part) in &parts {
            let address = Address { address_type: "IPAddress".into(), value: part.address.to_string() };
            let result = match &outcome {
                Ok(outcomes) => match outcomes.get(key) {
                    Some(Ok(dropped)) => Ok(Applied { addresses: vec![address], ready: true, rejected_routes: dropped.clone() }),
                    Some(Err(error)) => Err(error.clone()),
                    None => Err(rejected("validate configuration", "not checked")),
                },
                Err(error) => Err(error.clone()),
            };
            results.insert(key.clone(), result);
        }
        results
    }

    /// Each Gateway's address (see [`crate::addresses`]), kept stable across reconciles.
    fn allocate(
        &self,
        state: &mut InstanceState,
        desired: &BTreeMap<ObjectRef, Desired>,
    ) -> Result<BTreeMap<ObjectRef, Result<IpAddr, ProviderError>>, ProviderError> {
        let reserved = self.reserved.lock().map(|r| r.clone()).unwrap_or_default();
        let pool: Vec<IpAddr> =
            expand_pool(&self.spec.address_pool).map_err(|m| rejected("allocate address", m))?.into_iter().filter(|a| !reserved.contains(a)).collect();
        state.assigned.retain(|k, _| desired.contains_key(k));
        let out = crate::addresses::allocate(&pool, &self.spec.address_pool, desired, &state.assigned);
        for (key, result) in &out {
            if let Ok(address) = result {
                state.assigned.insert(key.clone(), *address);
            }
        }
        Ok(out)
    }

    /// Install the configuration of `parts` (less what HAProxy rejects) and reload; per Gateway,
    /// the routes left out or why it was rejected. `Err` when nothing could be installed.
    async fn write_and_reload(&self, state: &mut InstanceState, parts: &BTreeMap<ObjectRef, Part>) -> Result<Outcomes, ProviderError> {
        let all_ok = || parts.keys().map(|k| (k.clone(), Ok(Vec::new()))).collect::<Outcomes>();
        let settings = self.settings();
        let (_, certificates) = crate::isolate::inputs(&parts.values().collect::<Vec<_>>());
        let shared: Vec<(&std::sync::Arc<portico_model::ir::Gateway>, std::net::IpAddr)> = parts.values().map(|p| (&p.ir, p.address)).collect();
        let rendered = crate::render::render_cached(&mut state.renders, &shared, &certificates, &settings);
        let running = self.master_pid().is_some();
        // Compare with what is on disk, not only with what we wrote last: a drift check repairs a
        // configuration changed behind our back. A reload that was not confirmed is retried.
        // The file counts only if HAProxy confirmed loading it: Portico may have been killed between
        // writing it and reloading.
        let on_disk = tokio::fs::read_to_string(self.state_dir.join("haproxy.cfg")).await.ok().filter(|text| self.loaded_is(text));
        // Certificate and CA files have stable names: a rotated Secret or ConfigMap changes a file,
        // not the configuration text, and must still be written and loaded.
        let current = running && !state.reload_pending && self.files_current(&rendered);
        if current && on_disk.as_deref() == Some(rendered.config.as_str()) {
            // Already serving exactly this (also after a Portico restart): no reload.
            state.last_good = parts.clone();
            return Ok(all_ok());
        }
        let same_config = on_disk.as_deref() == Some(rendered.config.as_str());
        if running && !state.reload_pending && same_config && self.spec.mode == HAProxyMode::Managed && self.maps_only(&rendered).await? {
            state.last_good = parts.clone();
            self.runtime_updates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(all_ok());
        }
        if current && self.spec.mode == HAProxyMode::Managed && self.endpoints_only(on_disk.as_deref(), &rendered.config).await? {
            state.last_good = parts.clone();
            self.runtime_updates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(all_ok());
        }
        let staging = self.state_dir.join("staging");
        let checker = Checker { binary: self.binary(), staging: &staging, settings: &settings };
        let verdict = checker.decide(parts, &state.last_good, &state.last_bad).await.map_err(|m| transient("validate configuration", m))?;
        state.last_bad = verdict.rejected.clone();
        // Everything passed the check as it is: what was rendered first is what to serve.
        let rendered = if verdict.serve == *parts {
            rendered
        } else {
            let served: Vec<&Part> = verdict.serve.values().collect();
            let (inputs, certificates) = crate::isolate::inputs(&served);
            render(&inputs, &certificates, &settings)
        };
        // What is left after a rejection may be exactly what already runs: no reload then.
        if !(current && self.files_current(&rendered) && on_disk.as_deref() == Some(rendered.config.as_str())) {
            self.install(&rendered).await?;
            if let Err(error) = self.reload_or_start(&self.state_dir.join("haproxy.cfg")).await {
                state.reload_pending = true;
                return Err(error);
            }
            state.reload_pending = false;
            self.mark_loaded(&rendered.config);
        }
        let mut outcomes = Outcomes::new();
        for (key, outcome) in verdict.outcome {
            match outcome {
                Ok(dropped) => {
                    if let Some(part) = verdict.serve.get(&key) {
                        state.last_good.insert(key.clone(), part.clone());
                    }
                    outcomes.insert(key, Ok(dropped));
                }
                Err(alerts) => {
                    let kept = if verdict.serve.contains_key(&key) { "its last accepted configuration stays in service" } else { "it is not served" };
                    let message = format!("HAProxy rejected this Gateway's configuration ({kept}): {alerts}");
                    outcomes.insert(key, Err(rejected("validate configuration", message)));
                }
            }
        }
        state.last_config = Some(rendered.config);
        Ok(outcomes)
    }

    /// A change of server addresses only goes through the runtime API (no reload).
    async fn endpoints_only(&self, on_disk: Option<&str>, config: &str) -> Result<bool, ProviderError> {
        let Some(commands) = on_disk.and_then(|old| crate::runtime_api::endpoint_commands(old, config)) else { return Ok(false) };
        match crate::runtime_api::send(&self.settings().runtime_socket, &commands).await {
            Ok(()) => {
                // Keep the file in step with the running state, so restarts and drift checks see
                // no difference.
                let live = self.state_dir.join("haproxy.cfg");
                files::write_private(&live, config.as_bytes()).map_err(|e| transient("write configuration", e.to_string()))?;
                self.mark_loaded(config);
                Ok(true)
            }
            Err(message) => {
                tracing_free_warn(&message);
                Ok(false)
            }
        }
    }

    /// A change of map files only (routes edited within the same configuration text) goes through
    /// the runtime API: each map is replaced atomically, the rules' backends first widened (old
    /// and new entries), then the selection maps, then the backends narrowed, so no request is
    /// routed by a mix it could not have been routed by before or after; the files are written
    /// after, so a restart serves the same. Anything else, or a refusal, goes the reload way.
    async fn maps_only(&self, rendered: &crate::render::Rendered) -> Result<bool, ProviderError> {
        let certs = self.state_dir.join("certs");
        let mut changed = Vec::new();
        for (name, bytes) in &rendered.cert_files {
            let on_disk = std::fs::read(certs.join(name)).ok();
            match on_disk {
                Some(old) if old == *bytes => {}
                Some(old) if name.ends_with(".map") => {
                    changed.push((name, String::from_utf8_lossy(&old).into_owned(), String::from_utf8_lossy(bytes).into_owned()))
                }
                _ => return Ok(false),
            }
        }
        if changed.is_empty() {
            return Ok(false);
        }
        let socket = self.settings().runtime_socket;
        let path = |name: &str| certs.join(name).to_string_lossy().into_owned();
        // The maps that give a selected rule its backend (one, or weighted draws), timeout and
        // headers: widened before the selection maps change, narrowed after.
        let is_backends = |name: &str| {
            let kind = name.strip_suffix(".map").and_then(|n| n.rsplit('.').next()).unwrap_or("");
            matches!(kind, "backends" | "picks" | "timeouts") || kind.starts_with("header")
        };
        let mut steps: Vec<(String, String)> = Vec::new();
        steps.extend(changed.iter().filter(|c| is_backends(c.0)).map(|(n, old, new)| (path(n), crate::runtime_api::widened(old, new))));
        steps.extend(changed.iter().filter(|c| !is_backends(c.0)).map(|(n, _, new)| (path(n), new.clone())));
        steps.extend(changed.iter().filter(|c| is_backends(c.0)).map(|(n, _, new)| (path(n), new.clone())));
        for (map, content) in &steps {
            if let Err(message) = crate::runtime_api::replace_map(&socket, map, content).await {
                tracing_free_warn(&message);
                return Ok(false);
            }
        }
        for (name, _, new) in &changed {
            files::write_private(&certs.join(name), new.as_bytes()).map_err(|e| transient("write map", e.to_string()))?;
        }
        Ok(true)
    }

    /// Write the certificate files, then the configuration (atomically, owner-only).
    async fn install(&self, rendered: &crate::render::Rendered) -> Result<(), ProviderError> {
        let io = |what: &str, e: std::io::Error| transient("write configuration", format!("{what}: {e}"));
        let certs = self.state_dir.join("certs");
        files::private_dir(&certs).map_err(|e| io("create state directory", e))?;
        for (name, bytes) in &rendered.cert_files {
            files::write_private(&certs.join(name), bytes).map_err(|e| io("write certificate", e))?;
        }
        files::write_private(&self.state_dir.join("haproxy.cfg"), rendered.config.as_bytes()).map_err(|e| io("write configuration", e))
    }

    /// Every certificate / CA file the rendered configuration names holds what it should.
    fn files_current(&self, rendered: &crate::render::Rendered) -> bool {
        let certs = self.state_dir.join("certs");
        rendered.cert_files.iter().all(|(name, bytes)| std::fs::read(certs.join(name)).is_ok_and(|on_disk| on_disk == *bytes))
    }

    /// Record that HAProxy runs `config` (its fingerprint, next to the file).
    fn mark_loaded(&self, config: &str) {
        let _ = files::write_private(&self.state_dir.join("haproxy.cfg.loaded"), fingerprint(config).as_bytes());
    }

    fn loaded_is(&self, config: &str) -> bool {
        std::fs::read_to_string(self.state_dir.join("haproxy.cfg.loaded")).is_ok_and(|f| f == fingerprint(config))
    }

    fn pid_file(&self) -> PathBuf {
        self.state_dir.join("haproxy.pid")
    }

    /// The master process, if it is running.
    pub fn master_pid(&self) -> Option<u32> {
        // HAProxy rewrites its pid file in place (truncate, then write): a read in between sees
        // it empty, so an unreadable file is read again a couple of times before "not running".
        for attempt in 0..3 {
            if let Some(pid) = self.master_pid_once() {
                return Some(pid);
            }
            if attempt < 2 {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        None
    }

    fn master_pid_once(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file()).ok()?.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline).contains("haproxy").then_some(pid)
    }

    async fn reload_or_start(&self, config: &Path) -> Result<(), ProviderError> {
        if self.spec.mode == HAProxyMode::External {
            let command = self.spec.reload_command.clone().unwrap_or_default();
            let Some((program, args)) = command.split_first() else { return Ok(()) };
            let status = tokio::process::Command::new(program).args(args).status().await;
            return match status {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(transient("reload", format!("reload command exited with {s}"))),
                Err(e) => Err(transient("reload", format!("cannot run the reload command: {e}"))),
            };
        }
        if let Some(pid) = self.master_pid() {
            return self.reload(pid).await;
        }
        let status = tokio::process::Command::new(self.binary())
            .arg("-W")
            .arg("-S")
            .arg(self.master_socket())
            .arg("-D")
            .arg("-p")
            .arg(self.pid_file())
            .arg("-f")
            .arg(config)
            .status()
            .await
            .map_err(|e| transient("start", format!("cannot start {}: {e}", self.binary())))?;
        if !status.success() {
            return Err(transient("start", format!("haproxy exited with {status} (is the address bindable and the port free?)")));
        }
        // The daemonized master writes its pid file after the starting process returned: until it
        // does, the instance looks stopped (an unchanged Gateway would plan an update, a second
        // apply would start a second master). Wait for it, bounded.
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while self.master_pid().is_none() {
            if std::time::Instant::now() > deadline {
                return Err(transient("start", format!("haproxy started but wrote no pid file at {} within {START_TIMEOUT:?}", self.pid_file().display())));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(())
    }

    fn master_socket(&self) -> PathBuf {
        self.state_dir.join("master.sock")
    }

    /// SIGUSR2 to the master, then wait for a worker of the new generation; one retry.
    async fn reload(&self, pid: u32) -> Result<(), ProviderError> {
        let socket = self.master_socket();
        let mut last = String::new();
        for _ in 0..2 {
            let before = crate::master::processes(&socket, pid).await;
            signal(pid, "-USR2").await.map_err(|m| transient("reload", m))?;
            match crate::master::confirm(&socket, pid, &before, RELOAD_TIMEOUT).await {
                Ok(()) => return Ok(()),
                Err(message) => last = message,
            }
        }
        Err(transient("reload", last))
    }

    /// Stop the managed HAProxy (its Gateways are all gone).
    pub async fn stop(&self) {
        if let Some(pid) = self.master_pid().filter(|_| self.spec.mode == HAProxyMode::Managed) {
            let _ = signal(pid, "-TERM").await;
        }
        let mut state = self.state.lock().await;
        state.last_config = None;
        state.last_good.clear();
        state.last_bad.clear();
    }
}

/// A runtime API failure falls back to a reload; say so on stderr (this crate does not log).
fn tracing_free_warn(message: &str) {
    eprintln!("portico-haproxy: {message}; reloading instead");
}

async fn signal(pid: u32, signal: &str) -> Result<(), String> {
    let status = tokio::process::Command::new("kill").arg(signal).arg(pid.to_string()).status().await.map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("kill {signal} {pid} failed")) }
}

/// FNV-1a of the configuration text: stable across builds, enough to tell two configurations apart.
fn fingerprint(config: &str) -> String {
    let hash = config.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}
