//! Running HAProxy: address allocation from the pool, writing the configuration and
//! certificates (validated with `haproxy -c` before they replace the running ones), starting
//! HAProxy in master-worker mode, and hitless reloads (the master re-executes on SIGUSR2; old
//! workers finish their connections).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use portico_model::ir::{Address, ObjectRef};
use portico_provider::{Applied, Desired, ProviderError};
use tokio::sync::Mutex;

use crate::params::{expand_pool, HAProxyMode, HAProxyParametersSpec};
use crate::render::{render, GatewayInput, RenderSettings};

const PLATFORM: &str = "HAProxy";

/// One HAProxy instance: the Gateways that share a parameters object share a process.
pub struct Instance {
    pub spec: HAProxyParametersSpec,
    pub state_dir: PathBuf,
    state: Mutex<InstanceState>,
    /// Endpoint changes applied through the runtime API (no reload).
    pub runtime_updates: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct InstanceState {
    /// Addresses handed out, kept stable across reconciles.
    assigned: BTreeMap<ObjectRef, IpAddr>,
    last_config: Option<String>,
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
        Instance { spec, state_dir, state: Mutex::new(InstanceState::default()), runtime_updates: Default::default() }
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

    /// Program exactly `desired` (every Gateway of this instance); returns a result per Gateway.
    pub async fn sync(&self, desired: &BTreeMap<ObjectRef, Desired>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        let mut state = self.state.lock().await;
        let mut results = BTreeMap::new();
        let addresses = match self.allocate(&mut state, desired) {
            Ok(addresses) => addresses,
            Err(error) => return desired.keys().map(|k| (k.clone(), Err(error.clone()))).collect(),
        };
        let mut inputs = Vec::new();
        let mut certificates = BTreeMap::new();
        for (key, gateway) in desired {
            match addresses.get(key) {
                Some(Ok(address)) => {
                    inputs.push(GatewayInput { ir: &gateway.ir, address: *address });
                    certificates.extend(gateway.certificates.clone());
                }
                Some(Err(error)) => {
                    results.insert(key.clone(), Err(error.clone()));
                }
                None => {}
            }
        }
        let outcome = self.write_and_reload(&mut state, &inputs, &certificates).await;
        for input in &inputs {
            let result = match &outcome {
                Ok(()) => Ok(Applied { addresses: vec![Address { address_type: "IPAddress".into(), value: input.address.to_string() }], ready: true }),
                Err(error) => Err(error.clone()),
            };
            results.insert(input.ir.gateway.clone(), result);
        }
        results
    }

    /// Each Gateway's address (see [`crate::addresses`]), kept stable across reconciles.
    fn allocate(&self, state: &mut InstanceState, desired: &BTreeMap<ObjectRef, Desired>) -> Result<BTreeMap<ObjectRef, Result<IpAddr, ProviderError>>, ProviderError> {
        let pool = expand_pool(&self.spec.address_pool).map_err(|m| rejected("allocate address", m))?;
        state.assigned.retain(|k, _| desired.contains_key(k));
        let out = crate::addresses::allocate(&pool, &self.spec.address_pool, desired, &state.assigned);
        for (key, result) in &out {
            if let Ok(address) = result {
                state.assigned.insert(key.clone(), *address);
            }
        }
        Ok(out)
    }

    async fn write_and_reload(&self, state: &mut InstanceState, inputs: &[GatewayInput<'_>], certificates: &BTreeMap<ObjectRef, Vec<u8>>) -> Result<(), ProviderError> {
        let rendered = render(inputs, certificates, &self.settings());
        let running = self.master_pid().is_some();
        // Compare with what is on disk, not only with what we wrote last: a drift check repairs a
        // configuration changed behind our back.
        let on_disk = tokio::fs::read_to_string(self.state_dir.join("haproxy.cfg")).await.ok();
        if running && on_disk.as_deref() == Some(rendered.config.as_str()) {
            // Already serving exactly this (also after a Portico restart): no reload.
            state.last_config = Some(rendered.config);
            return Ok(());
        }
        if running && self.spec.mode == HAProxyMode::Managed {
            if let Some(commands) = on_disk.as_deref().and_then(|old| crate::runtime_api::endpoint_commands(old, &rendered.config)) {
                match crate::runtime_api::send(&self.settings().runtime_socket, &commands).await {
                    Ok(()) => {
                        // Keep the file in step with the running state, so restarts and drift
                        // checks see no difference.
                        let live = self.state_dir.join("haproxy.cfg");
                        tokio::fs::write(&live, &rendered.config).await.map_err(|e| transient("write configuration", e.to_string()))?;
                        state.last_config = Some(rendered.config);
                        self.runtime_updates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return Ok(());
                    }
                    Err(message) => tracing_free_warn(&message),
                }
            }
        }
        let io = |what: &str, e: std::io::Error| transient("write configuration", format!("{what}: {e}"));
        let certs = self.state_dir.join("certs");
        tokio::fs::create_dir_all(&certs).await.map_err(|e| io("create state directory", e))?;
        for (name, bytes) in &rendered.cert_files {
            write_private(&certs.join(name), bytes).await.map_err(|e| io("write certificate", e))?;
        }
        let candidate = self.state_dir.join("haproxy.cfg.new");
        tokio::fs::write(&candidate, &rendered.config).await.map_err(|e| io("write configuration", e))?;
        self.validate(&candidate).await?;
        let live = self.state_dir.join("haproxy.cfg");
        tokio::fs::rename(&candidate, &live).await.map_err(|e| io("install configuration", e))?;
        self.reload_or_start(&live).await?;
        state.last_config = Some(rendered.config);
        Ok(())
    }

    /// `haproxy -c`: a configuration HAProxy rejects never replaces the running one.
    async fn validate(&self, config: &Path) -> Result<(), ProviderError> {
        let output = tokio::process::Command::new(self.binary()).arg("-c").arg("-q").arg("-f").arg(config).output().await;
        let output = output.map_err(|e| transient("validate configuration", format!("cannot run {}: {e}", self.binary())))?;
        if output.status.success() {
            return Ok(());
        }
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Err(rejected("validate configuration", format!("haproxy -c rejected the configuration: {}", text.trim())))
    }

    fn pid_file(&self) -> PathBuf {
        self.state_dir.join("haproxy.pid")
    }

    /// The master process, if it is running.
    pub fn master_pid(&self) -> Option<u32> {
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
            return signal(pid, "-USR2").await.map_err(|m| transient("reload", m));
        }
        let status = tokio::process::Command::new(self.binary())
            .arg("-W")
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
        Ok(())
    }

    /// Stop the managed HAProxy (its Gateways are all gone).
    pub async fn stop(&self) {
        if self.spec.mode == HAProxyMode::Managed {
            if let Some(pid) = self.master_pid() {
                let _ = signal(pid, "-TERM").await;
            }
        }
        self.state.lock().await.last_config = None;
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

/// Certificates and keys are readable by the owner only.
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    tokio::fs::write(path, bytes).await?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).await
}
