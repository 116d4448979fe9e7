#![forbid(unsafe_code)]
//! `portico-sandbox`: Portico's main job on one machine. Starts the in-memory API server,
//! echo backends (as Services + EndpointSlices), Portico with the HAProxy provider; applies
//! `examples/`; waits for the Gateway to be Programmed; sends requests through HAProxy and shows
//! which backend answered; then keeps running (kubectl works with the printed kubeconfig) until
//! Ctrl-C, or exits with `--once`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use portico_sandbox::{World, http_get, prepare, wait_programmed};

#[derive(Parser)]
#[command(name = "portico-sandbox", about = "Run Portico locally: API server, HAProxy, echo backends, real traffic")]
struct Cli {
    /// Exit after the demonstration instead of running until Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Port of the in-memory API server on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    api_port: u16,
    #[arg(long, default_value = "/tmp/portico-sandbox")]
    state_dir: PathBuf,
    /// The manifests to apply (default: `examples/` of the Portico checkout the current
    /// directory is in).
    #[arg(long)]
    examples: Option<PathBuf>,
}

/// `examples/` of the checkout the current directory is in (this directory or a parent).
fn find_examples() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().map(|dir| dir.join("examples")).find(|dir| dir.join("10-infra.yaml").is_file())
}

/// HAProxy's version line, installing it first (Debian/Ubuntu's apt-get, through sudo when not
/// root) when it is missing.
fn haproxy_or_install() -> Result<String, String> {
    if let Some(version) = portico_sandbox::haproxy_version() {
        return Ok(version);
    }
    let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let apt = |args: &[&str]| {
        let mut command = if root { std::process::Command::new("apt-get") } else { std::process::Command::new("sudo") };
        if !root {
            command.args(["-n", "apt-get"]);
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive").stdout(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
    };
    if std::path::Path::new("/usr/bin/apt-get").exists() {
        println!("[0/5] haproxy is not installed: installing it with apt-get");
        let installed = apt(&["install", "-y", "-q", "haproxy"]) || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "haproxy"]));
        if let Some(version) = installed.then(portico_sandbox::haproxy_version).flatten() {
            return Ok(version);
        }
    }
    Err("haproxy is not installed and could not be installed here: install HAProxy 2.6+ (apt-get install haproxy, dnf install haproxy, brew install haproxy) and run again".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let version = match haproxy_or_install() {
        Ok(version) => version,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    println!("[1/5] {version}");
    let Some(examples) = cli.examples.clone().or_else(find_examples) else {
        eprintln!("no examples/ here: run from a Portico checkout, or pass --examples DIR");
        return ExitCode::from(2);
    };
    match sandbox(&cli, &examples).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sandbox failed: {error}");
            ExitCode::from(1)
        }
    }
}

async fn sandbox(cli: &Cli, examples: &std::path::Path) -> Result<(), portico_sandbox::SandboxError> {
    let world = prepare(cli.api_port, &cli.state_dir, examples).await?;
    println!("[2/5] API server at {}; CRDs installed; examples applied from {}", world.server.url(), examples.display());
    let pods = world
        .cluster
        .wait_running(3, Duration::from_secs(30))
        .await
        .ok_or_else(|| portico_sandbox::SandboxError::Setup("the examples' Deployments did not start 3 Pods within 30 s".into()))?;
    for (pod, ip) in &pods {
        println!("      Pod {pod} (echo) running at {ip}; its EndpointSlice written by the emulated controller");
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = portico::run::RunOptions::local(cli.state_dir.join("state"), "sandbox");
    let haproxy = portico_haproxy::DESCRIPTOR.configure_defaults().map_err(portico_sandbox::SandboxError::Setup)?;
    let providers = vec![portico_provider::Registered::new(&portico_haproxy::DESCRIPTOR, haproxy)];
    let operator = tokio::spawn(portico::run::run_with(options, providers, world.client.clone(), async move {
        let _ = stopped.await;
    }));
    println!("[3/5] Portico is running with the HAProxy provider");
    let address = wait_programmed(&world.client, "infra", "edge", Duration::from_secs(60)).await?;
    println!("[4/5] Gateway infra/edge is Programmed at {address} (listener port 80 -> {address}:8080, 443 -> {address}:8443)");
    demonstrate(&world, &address).await?;
    println!(
        "\nkubectl works against the sandbox:\n  export KUBECONFIG={}\n  kubectl get gateways,httproutes -A\n  kubectl get gateway edge -n infra -o yaml",
        world.kubeconfig.display()
    );
    if !cli.once {
        println!("Running until Ctrl-C.");
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = stop.send(());
    let _ = operator.await;
    stop_haproxy();
    Ok(())
}

/// Requests through HAProxy that show path, header and weighted routing and the redirect.
async fn demonstrate(_world: &World, address: &str) -> Result<(), portico_sandbox::SandboxError> {
    let lb: SocketAddr = format!("{address}:8080").parse().map_err(|_| portico_sandbox::SandboxError::Setup(format!("bad address {address}")))?;
    println!("[5/5] Requests through the load balancer:");
    let cases: [(&str, &str, &[(&str, &str)], &str); 4] = [
        ("shop.example.com", "/", &[], "rule 2: weighted 90/10 storefront/canary"),
        ("shop.example.com", "/cart/items", &[("x-canary", "yes")], "rule 1: /cart with header x-canary: yes"),
        ("shop.example.com", "/cart/items", &[], "/cart without the header falls to rule 2"),
        ("other.example.com", "/page?x=1", &[], "any other host: redirect to https"),
    ];
    for (host, path, headers, what) in cases {
        let reply = http_get(lb, host, path, headers).await?;
        let who = reply
            .echo()
            .map(|e| format!("answered by {} ({})", e["pod"].as_str().unwrap_or("?"), e["service"].as_str().unwrap_or("?")))
            .unwrap_or_else(|| format!("Location: {}", reply.header("location").unwrap_or("-")));
        println!("      GET http://{host}{path} -> {} {who}   [{what}]", reply.status);
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..200 {
        let reply = http_get(lb, "shop.example.com", "/", &[]).await?;
        let pod = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string)).unwrap_or_else(|| format!("HTTP {}", reply.status));
        *counts.entry(pod).or_default() += 1;
    }
    println!("      200 x GET http://shop.example.com/ -> {counts:?} (weights 90 storefront / 10 canary)");
    Ok(())
}

/// The sandbox owns its HAProxy: stop the master so nothing is left behind.
fn stop_haproxy() {
    for dir in ["/tmp/portico/haproxy-local"] {
        if let Ok(pid) = std::fs::read_to_string(format!("{dir}/haproxy.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}
