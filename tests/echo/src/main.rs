//! `portico-echo` binary: serve the echo backend on the given addresses until
//! Ctrl-C or SIGTERM. See the crate README for what it answers.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use portico_echo::{EchoConfig, serve_http, serve_tcp};

/// Address served when neither `--listen` nor `--tcp-listen` is given.
const DEFAULT_LISTEN: &str = "0.0.0.0:3000";

/// Echo backend for Portico's end-to-end tests and local sandbox.
#[derive(Debug, Parser)]
#[command(name = "portico-echo", version)]
struct Args {
    /// HTTP/1.1 + h2c address to listen on (repeatable; default 0.0.0.0:3000
    /// when no --tcp-listen is given either).
    #[arg(long = "listen", value_name = "ADDR")]
    listen: Vec<SocketAddr>,
    /// Raw TCP echo address to listen on (repeatable).
    #[arg(long = "tcp-listen", value_name = "ADDR")]
    tcp_listen: Vec<SocketAddr>,
    /// Namespace reported in answers [default: $POD_NAMESPACE, else ""].
    #[arg(long)]
    namespace: Option<String>,
    /// Pod name reported in answers [default: $POD_NAME, else ""].
    #[arg(long)]
    pod: Option<String>,
    /// Service name reported in answers [default: $SERVICE_NAME, else ""].
    #[arg(long)]
    service: Option<String>,
}

/// Failures that stop the binary.
#[derive(Debug, thiserror::Error)]
enum EchoError {
    /// A listener could not be bound.
    #[error("cannot listen for {kind} on {addrs:?}: {source}")]
    Bind {
        kind: &'static str,
        addrs: Vec<SocketAddr>,
        #[source]
        source: std::io::Error,
    },
    /// The signal handler could not be installed.
    #[error("cannot wait for shutdown signal: {0}")]
    Signal(#[source] std::io::Error),
}

impl Args {
    /// The identity to report: flags first, then the environment, else "".
    fn config(&self) -> EchoConfig {
        let pick = |flag: &Option<String>, var: &str| flag.clone().or_else(|| std::env::var(var).ok()).unwrap_or_default();
        EchoConfig { namespace: pick(&self.namespace, "POD_NAMESPACE"), pod: pick(&self.pod, "POD_NAME"), service: pick(&self.service, "SERVICE_NAME") }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("portico-echo: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Start every listener, print one line per bound address, wait for a signal.
async fn run(mut args: Args) -> Result<(), EchoError> {
    if args.listen.is_empty() && args.tcp_listen.is_empty() {
        args.listen.push(DEFAULT_LISTEN.parse().expect("valid default address"));
    }
    let config = args.config();
    let http = serve_http(&args.listen, config.clone()).await.map_err(|source| EchoError::Bind { kind: "http", addrs: args.listen.clone(), source })?;
    let tcp = serve_tcp(&args.tcp_listen, config).await.map_err(|source| EchoError::Bind { kind: "tcp", addrs: args.tcp_listen.clone(), source })?;
    for addr in http {
        println!("listening http {addr}");
    }
    for addr in tcp {
        println!("listening tcp {addr}");
    }
    shutdown_signal().await.map_err(EchoError::Signal)
}

/// Resolve on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
