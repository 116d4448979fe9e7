//! The line protocol of the conformance echo's TCP mode (written here from what upstream's
//! tests send and expect): the server greets with [`WELCOME`], then answers `PING` with `PONG`,
//! `IS_TLS` with `true`/`false`, and `TEST` with one line of JSON ([`TcpAssertions`]); other
//! lines are ignored. Served plain or over TLS.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::EchoConfig;

/// The greeting line.
pub const WELCOME: &str = "Gateway API Test TCP Server\n";

/// What the TLS handshake negotiated, as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsAssertions {
    pub version: String,
    pub server_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub negotiated_protocol: String,
}

/// The answer to `TEST`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpAssertions {
    pub namespace: String,
    pub service: String,
    pub pod: String,
    #[serde(rename = "isTLS")]
    pub is_tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsAssertions>,
}

/// Bind every address and serve the protocol in the background (over TLS when `tls` is set);
/// returns each bound address with its task.
pub async fn spawn_tcp(
    addrs: &[SocketAddr],
    config: EchoConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> io::Result<Vec<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        listeners.push((listener, local));
    }
    let config = Arc::new(config);
    Ok(listeners
        .into_iter()
        .map(|(listener, local)| {
            let (config, acceptor) = (Arc::clone(&config), tls.clone().map(TlsAcceptor::from));
            (local, tokio::spawn(accept(listener, config, acceptor)))
        })
        .collect())
}

async fn accept(listener: TcpListener, config: Arc<EchoConfig>, acceptor: Option<TlsAcceptor>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (config, acceptor) = (Arc::clone(&config), acceptor.clone());
        tokio::spawn(async move {
            let mut assertions =
                TcpAssertions { namespace: config.namespace.clone(), service: config.service.clone(), pod: config.pod.clone(), ..Default::default() };
            match acceptor {
                None => {
                    let _ = converse(stream, &assertions).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await else {
                        return;
                    };
                    let (_, session) = tls.get_ref();
                    assertions.is_tls = true;
                    assertions.tls = Some(TlsAssertions {
                        version: session.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
                        server_name: session.server_name().unwrap_or_default().to_string(),
                        negotiated_protocol: session.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
                    });
                    let _ = converse(tls, &assertions).await;
                }
            }
        });
    }
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(stream: S, assertions: &TcpAssertions) -> io::Result<()> {
    let (reader, mut writer) = tokio::io::split(stream);
    writer.write_all(WELCOME.as_bytes()).await?;
    writer.flush().await?;
    let mut lines = BufReader::new(reader).lines();
    while let Some(line) = lines.next_line().await? {
        let answer = match line.trim_end_matches('\r') {
            "PING" => "PONG".to_string(),
            "IS_TLS" => assertions.is_tls.to_string(),
            "TEST" => serde_json::to_string(assertions).map_err(io::Error::other)?,
            _ => continue,
        };
        writer.write_all(format!("{answer}\n").as_bytes()).await?;
        writer.flush().await?;
    }
    Ok(())
}

/// A client's conversation: read the greeting, then send `PING`, `IS_TLS` and `TEST` and check
/// the first two answers; returns the `TEST` answer.
pub async fn probe<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<TcpAssertions, String> {
    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = BufReader::new(reader).lines();
    let mut next = async || lines.next_line().await.map_err(|e| format!("read: {e}"))?.ok_or_else(|| "connection closed".to_string());
    let welcome = next().await?;
    if format!("{welcome}\n") != WELCOME {
        return Err(format!("greeting {welcome:?}, wanted {WELCOME:?}"));
    }
    let mut ask = async |line: &str| writer.write_all(format!("{line}\n").as_bytes()).await.map_err(|e| format!("write: {e}"));
    ask("PING").await?;
    ask("IS_TLS").await?;
    ask("TEST").await?;
    let pong = next().await?;
    if pong != "PONG" {
        return Err(format!("PING answered {pong:?}"));
    }
    let is_tls = next().await?;
    let test = next().await?;
    let assertions: TcpAssertions = serde_json::from_str(&test).map_err(|e| format!("TEST answered {test:?}: {e}"))?;
    if is_tls != assertions.is_tls.to_string() {
        return Err(format!("IS_TLS answered {is_tls:?}, TEST said isTLS {}", assertions.is_tls));
    }
    Ok(assertions)
}
