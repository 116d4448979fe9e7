//! TLS for the echo: the HTTP echo served over TLS (what the conformance echo does with
//! `TLS_SERVER_CERT`/`TLS_SERVER_PRIVKEY`), and a test client that pins the certificate it
//! expects the server to present. rustls with the `ring` provider.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::EchoConfig;

pub use rustls::ServerConfig;

/// How long a TLS handshake may take, on either side: generous, because a test process may run
/// many servers on one runtime whose workers are busy for seconds (the in-memory API server
/// compiling the Gateway API CRDs' schemas for fifteen clusters at once), and a handshake that
/// times out there is a test failure, not a defence.
const HANDSHAKE: Duration = Duration::from_secs(30);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: &str, error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {error}"))
}

/// A server configuration from a PEM certificate chain and PEM private key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<_, _>>().map_err(|e| invalid("certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid("private key", e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("key pair", e))?;
    Ok(Arc::new(config))
}

/// [`server_config`] that also asks clients for a certificate and requires one that a CA of
/// `client_ca_pem` signed (what the conformance echo does with `TLS_CLIENT_CACERTS`).
pub fn server_config_verifying_clients(cert_pem: &[u8], key_pem: &[u8], client_ca_pem: &[u8]) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<_, _>>().map_err(|e| invalid("certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid("private key", e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(client_ca_pem) {
        roots.add(ca.map_err(|e| invalid("client CA", e))?).map_err(|e| invalid("client CA", e))?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().map_err(|e| invalid("client verifier", e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| invalid("key pair", e))?;
    Ok(Arc::new(config))
}

/// Accepts TCP connections and completes their TLS handshakes (each in its own task, so a
/// stalled client holds up no other), for `axum::serve` (the in-memory API server uses it too).
pub struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, local: SocketAddr, acceptor: TlsAcceptor) -> TlsListener {
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        TlsListener { local, ready }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(next) => next,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Bind every address and serve the HTTP echo over TLS in the background; returns each bound
/// address with its task (aborting the task stops accepting).
pub async fn spawn_https(
    addrs: &[SocketAddr],
    config: EchoConfig,
    tls: Arc<rustls::ServerConfig>,
) -> io::Result<Vec<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        listeners.push((listener, local));
    }
    let acceptor = TlsAcceptor::from(tls);
    Ok(listeners
        .into_iter()
        .map(|(listener, local)| {
            let app = crate::router(config.clone(), local).into_make_service_with_connect_info::<TlsPeer>();
            let listener = TlsListener::new(listener, local, acceptor.clone());
            let task = tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app).await {
                    eprintln!("portico-echo: https listener {local} stopped: {err}");
                }
            });
            (local, task)
        })
        .collect())
}

/// What a handler learns of the TLS connection a request came over (the SNI it carried).
#[derive(Debug, Clone)]
pub struct TlsPeer {
    pub server_name: Option<String>,
    /// The client's certificates (DER, hex), first the client's own.
    pub peer_certificates: Vec<String>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for TlsPeer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        let session = stream.io().get_ref().1;
        let hex = |der: &CertificateDer<'_>| der.iter().map(|b| format!("{b:02x}")).collect::<String>();
        TlsPeer {
            server_name: session.server_name().map(str::to_string),
            peer_certificates: session.peer_certificates().into_iter().flatten().map(hex).collect(),
        }
    }
}

// ---- client ----

/// Accepts exactly the pinned certificate (or, unpinned, any), checking the handshake
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct Pinned {
    certificate: Option<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.certificate {
            Some(pinned) if pinned.as_ref() != end_entity.as_ref() => {
                Err(rustls::Error::General("the server presented another certificate than the expected one".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Open a TLS connection to `addr` with SNI `server_name`; with `pinned` (a PEM certificate) the
/// server must present exactly that certificate.
pub async fn connect(addr: SocketAddr, server_name: &str, pinned: Option<&[u8]>) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    connect_as(addr, server_name, pinned, None).await
}

/// A client certificate to present: PEM certificate chain and PEM private key.
pub type ClientIdentity<'a> = (&'a [u8], &'a [u8]);

/// [`connect`], presenting `client` when the server asks for a certificate. Under TLS 1.3 a
/// server refuses a client certificate after the client's side of the handshake is done, so a
/// refusal shows on the first read, not here.
pub async fn connect_as(
    addr: SocketAddr,
    server_name: &str,
    pinned: Option<&[u8]>,
    client: Option<ClientIdentity<'_>>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let certificate = pinned.map(CertificateDer::from_pem_slice).transpose().map_err(|e| invalid("pinned certificate", e))?;
    let provider = provider();
    let verifier = Arc::new(Pinned { certificate, algorithms: provider.signature_verification_algorithms });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("protocol versions", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert_pem, key_pem)) => {
            let chain = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>().map_err(|e| invalid("client certificate", e))?;
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid("client key", e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| invalid("client key pair", e))?
        }
    };
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| invalid("server name", e))?;
    let tcp = TcpStream::connect(addr).await?;
    tokio::time::timeout(HANDSHAKE, TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

/// An answer to [`https_get`].
#[derive(Debug, Clone, Default)]
pub struct HttpsReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpsReply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over TLS (SNI `server_name`, `Host: host`).
pub async fn https_get(addr: SocketAddr, server_name: &str, host: &str, path: &str, pinned: Option<&[u8]>) -> io::Result<HttpsReply> {
    https_get_as(addr, server_name, host, path, pinned, None).await
}

/// [`https_get`] presenting a client certificate when the server asks for one.
pub async fn https_get_as(
    addr: SocketAddr,
    server_name: &str,
    host: &str,
    path: &str,
    pinned: Option<&[u8]>,
    client: Option<ClientIdentity<'_>>,
) -> io::Result<HttpsReply> {
    let mut stream = connect_as(addr, server_name, pinned, client).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut raw = Vec::new();
    // A peer closing without close_notify still delivered what it sent.
    if let Err(error) = tokio::time::timeout(HANDSHAKE, stream.read_to_end(&mut raw)).await.unwrap_or(Ok(0))
        && raw.is_empty()
    {
        return Err(error);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| invalid("reply", format!("no HTTP status in {text:?}")))?;
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    Ok(HttpsReply { status, headers, body: body.to_string() })
}
