#![forbid(unsafe_code)]
//! `portico-apiserver`: run the in-memory Kubernetes API server from a shell.

use std::path::PathBuf;

use clap::Parser;
use portico_apiserver::{ApiServer, Options};

#[derive(Parser)]
#[command(name = "portico-apiserver", about = "An in-memory Kubernetes API server for tests and the Portico sandbox")]
struct Cli {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig pointing at the server here.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Watch events kept for resuming watches.
    #[arg(long, default_value_t = 100_000)]
    history: usize,
    /// Install the upstream Gateway API CRDs (`standard` or `experimental` bundle) at start.
    #[arg(long, value_name = "CHANNEL")]
    upstream_gateway_api: Option<String>,
    /// Authenticate requests and authorize them with RBAC (the kubeconfig's token is an admin).
    #[arg(long)]
    rbac: bool,
    /// Create the objects of this YAML file at start (repeatable, in order; e.g. CRDs).
    #[arg(long = "create", value_name = "FILE")]
    create: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    let server = ApiServer::start(Options { port: cli.port, history: cli.history, rbac: cli.rbac }).await?;
    if let Some(name) = &cli.upstream_gateway_api {
        let channel = portico_apiserver::upstream::Channel::parse(name)
            .ok_or_else(|| std::io::Error::other(format!("unknown channel {name:?}: standard or experimental")))?;
        let count = server.install_upstream_gateway_api(channel)?;
        eprintln!("installed {count} Gateway API {} CRDs ({name})", portico_apiserver::upstream::GATEWAY_API_VERSION);
    }
    for path in &cli.create {
        let count = server.create_yaml(&std::fs::read_to_string(path)?)?;
        eprintln!("created {count} objects from {}", path.display());
    }
    if let Some(path) = &cli.kubeconfig_out {
        server.write_kubeconfig(path)?;
        eprintln!("kubeconfig written to {}", path.display());
    }
    println!("{}", server.url());
    tokio::signal::ctrl_c().await?;
    server.stop();
    Ok(())
}
