//! `portico-echo`: an echo backend for Portico's end-to-end tests and the
//! local sandbox, in the spirit of the Gateway API conformance echo server.
//!
//! Every HTTP request (any method, any path) is answered with a JSON body
//! describing the request as the backend saw it ([`EchoResponse`]). HTTP/1.1
//! and HTTP/2 cleartext with prior knowledge are served on the same port.
//!
//! Extras:
//! - `/status/<code>` answers with that status code (200..=599, any method),
//!   still with the JSON body;
//! - each `x-echo-set-response-header: name=value` request header adds that
//!   header to the response;
//! - a `delay=<duration>` query parameter (Go's duration syntax: `500ms`, `1s`, `1m30s`) delays
//!   the answer by that long;
//! - retry simulation, as upstream's echo does: with `responseCode=<code>`, `succeedAfter=<n>`
//!   and `uuid=<id>` query parameters, the first `n` requests carrying that id are answered with
//!   `code`, later ones normally;
//! - a WebSocket upgrade on `/ws` echoes every message ([`ws`]);
//! - a raw TCP mode ([`serve_tcp`]) writes a banner line and then echoes bytes.
#![forbid(unsafe_code)]

pub mod grpc;
pub mod tcp;
pub mod tls;
pub mod ws;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Request header whose values (`name=value`) are copied onto the response.
pub const SET_RESPONSE_HEADER: &str = "x-echo-set-response-header";

/// Identity of the backend, reported in every answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoConfig {
    /// Kubernetes namespace of the pod (`POD_NAMESPACE`).
    pub namespace: String,
    /// Pod name (`POD_NAME`).
    pub pod: String,
    /// Service name the pod is behind (`SERVICE_NAME`).
    pub service: String,
}

/// The JSON body answered to every HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoResponse {
    /// Request path, without the query.
    pub path: String,
    /// Raw query string, without the `?` (empty when absent).
    pub query: String,
    /// `Host` header, or the `:authority` of an HTTP/2 request.
    pub host: String,
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Protocol version: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub proto: String,
    /// Request headers by lower-case name, values in arrival order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// From [`EchoConfig::namespace`].
    pub namespace: String,
    /// From [`EchoConfig::pod`].
    pub pod: String,
    /// From [`EchoConfig::service`].
    pub service: String,
    /// Local address of the listener that accepted the connection.
    pub listener: String,
    /// The TLS connection's details, when the request came over TLS (as the conformance echo's
    /// `tls` field reports them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<EchoTls>,
}

/// What the echo saw of a TLS connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EchoTls {
    /// The SNI the client sent (empty when none).
    pub server_name: String,
    /// The certificates the client presented (DER as hex), its own first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_certificates: Vec<String>,
}

/// Per-listener state shared by the HTTP handler.
#[derive(Debug)]
struct ListenerState {
    config: EchoConfig,
    listener: SocketAddr,
    /// Requests seen per retry-simulation id.
    attempts: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// Build the echo router for one listener whose local address is `listener`.
pub fn router(config: EchoConfig, listener: SocketAddr) -> Router {
    let state = Arc::new(ListenerState { config, listener, attempts: Default::default() });
    Router::new().fallback(echo).with_state(state)
}

/// Bind every address (port 0 allowed) and serve HTTP/1.1 and h2c in the
/// background; returns the bound addresses in order.
///
/// All addresses are bound before anything is served, so an error means no
/// listener was started.
pub async fn serve_http(addrs: &[SocketAddr], config: EchoConfig) -> io::Result<Vec<SocketAddr>> {
    Ok(spawn_http(addrs, config).await?.into_iter().map(|(local, _task)| local).collect())
}

/// Like [`serve_http`], also returning each listener's task: aborting it closes the listener
/// (a terminated Pod stops accepting connections).
pub async fn spawn_http(addrs: &[SocketAddr], config: EchoConfig) -> io::Result<Vec<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let listeners = bind_all(addrs).await?;
    let mut bound = Vec::with_capacity(listeners.len());
    for (listener, local) in listeners {
        let app = router(config.clone(), local);
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                eprintln!("portico-echo: http listener {local} stopped: {err}");
            }
        });
        bound.push((local, task));
    }
    Ok(bound)
}

/// Bind every address (port 0 allowed) and serve the raw TCP echo in the
/// background; returns the bound addresses in order.
///
/// Each connection first receives `portico-echo <pod> <listener>\n`, then
/// every byte it sends is written back until it closes its write half.
pub async fn serve_tcp(addrs: &[SocketAddr], config: EchoConfig) -> io::Result<Vec<SocketAddr>> {
    let listeners = bind_all(addrs).await?;
    let mut bound = Vec::with_capacity(listeners.len());
    for (listener, local) in listeners {
        bound.push(local);
        let banner: Arc<str> = format!("portico-echo {} {}\n", config.pod, local).into();
        tokio::spawn(accept_tcp(listener, banner));
    }
    Ok(bound)
}

/// Bind all addresses, pairing each listener with its actual local address.
async fn bind_all(addrs: &[SocketAddr]) -> io::Result<Vec<(TcpListener, SocketAddr)>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        listeners.push((listener, local));
    }
    Ok(listeners)
}

/// Accept loop of one raw TCP listener; each connection gets its own task.
async fn accept_tcp(listener: TcpListener, banner: Arc<str>) {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                let banner = Arc::clone(&banner);
                tokio::spawn(async move {
                    // A peer resetting the connection is normal in tests.
                    let _ = echo_tcp(stream, &banner).await;
                });
            }
            Err(err) => {
                // E.g. out of file descriptors: back off instead of spinning.
                eprintln!("portico-echo: tcp accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Write the banner, then copy everything read back to the peer.
async fn echo_tcp(mut stream: TcpStream, banner: &str) -> io::Result<()> {
    stream.write_all(banner.as_bytes()).await?;
    let (mut reader, mut writer) = stream.split();
    tokio::io::copy(&mut reader, &mut writer).await?;
    writer.shutdown().await
}

/// The HTTP handler: describe the request, honouring the extras.
async fn echo(
    State(state): State<Arc<ListenerState>>,
    tls: Option<axum::Extension<axum::extract::ConnectInfo<tls::TlsPeer>>>,
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    websocket: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if let (Ok(upgrade), "/ws") = (websocket, uri.path()) {
        return upgrade.on_upgrade(ws::echo);
    }
    let status = match requested_status(uri.path()) {
        Some(Ok(status)) => status,
        Some(Err(())) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    let status = uri.query().and_then(|q| simulated_failure(&state, q)).unwrap_or(status);
    if let Some(delay) = uri.query().and_then(requested_delay) {
        tokio::time::sleep(delay).await;
    }
    let mut body = describe(&state, &method, &uri, version, &headers);
    body.tls = tls.map(|peer| EchoTls { server_name: peer.0.0.server_name.clone().unwrap_or_default(), peer_certificates: peer.0.0.peer_certificates.clone() });
    let json = serde_json::to_vec_pretty(&body).unwrap_or_default();
    let mut response = (status, Body::from(json)).into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in injected_headers(&headers) {
        out.append(name, value);
    }
    response
}

/// Build the [`EchoResponse`] for one request.
fn describe(state: &ListenerState, method: &Method, uri: &Uri, version: Version, headers: &HeaderMap) -> EchoResponse {
    let host =
        headers.get(HOST).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).or_else(|| uri.authority().map(|a| a.to_string())).unwrap_or_default();
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        by_name.entry(name.as_str().to_owned()).or_default().push(value);
    }
    EchoResponse {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        host,
        method: method.as_str().to_owned(),
        proto: proto_name(version).to_owned(),
        headers: by_name,
        namespace: state.config.namespace.clone(),
        pod: state.config.pod.clone(),
        service: state.config.service.clone(),
        listener: state.listener.to_string(),
        tls: None,
    }
}

/// Name of an HTTP version the way Go's `Request.Proto` spells it.
fn proto_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// Retry simulation: the failure status while the id has been seen at most `succeedAfter` times.
fn simulated_failure(state: &ListenerState, query: &str) -> Option<StatusCode> {
    let param = |name: &str| query.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('=')));
    let code = param("responseCode")?.parse::<u16>().ok().and_then(|c| StatusCode::from_u16(c).ok())?;
    let succeed_after: u32 = param("succeedAfter")?.parse().ok()?;
    let id = param("uuid")?.to_string();
    let mut attempts = state.attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = attempts.entry(id).or_insert(0);
    *seen += 1;
    (*seen <= succeed_after).then_some(code)
}

/// For `/status/<code>`: `Some(Ok(code))` for 200..=599, `Some(Err(()))` for
/// anything else after `/status/`, `None` for other paths.
fn requested_status(path: &str) -> Option<Result<StatusCode, ()>> {
    let code = path.strip_prefix("/status/")?;
    let parsed = code.parse::<u16>().ok().filter(|c| (200..=599).contains(c)).and_then(|c| StatusCode::from_u16(c).ok());
    Some(parsed.ok_or(()))
}

/// The `delay` query parameter as a duration (at most a minute), when it parses.
fn requested_delay(query: &str) -> Option<Duration> {
    let value = query.split('&').find_map(|pair| pair.strip_prefix("delay="))?;
    parse_duration(value).map(|d| d.min(Duration::from_secs(60)))
}

/// A duration in Go's syntax: one or more `<number><unit>` with units ns, us, ms, s, m, h.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let number: f64 = rest[..digits].parse().ok()?;
        let unit_len = rest[digits..].find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len() - digits);
        let scale = match &rest[digits..digits + unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[digits + unit_len..];
    }
    Duration::try_from_secs_f64(total).ok().filter(|_| !text.is_empty())
}

/// Response headers requested through [`SET_RESPONSE_HEADER`]; malformed
/// entries (no `=`, invalid name or value) are skipped.
fn injected_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .get_all(SET_RESPONSE_HEADER)
        .iter()
        .filter_map(|raw| {
            let (name, value) = raw.to_str().ok()?.split_once('=')?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
            let value = HeaderValue::from_str(value.trim()).ok()?;
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_paths() {
        assert_eq!(requested_status("/status/503"), Some(Ok(StatusCode::SERVICE_UNAVAILABLE)));
        assert_eq!(requested_status("/status/99"), Some(Err(())));
        assert_eq!(requested_status("/status/abc"), Some(Err(())));
        assert_eq!(requested_status("/statuses/503"), None);
    }

    #[test]
    fn delays_parse_like_go_durations() {
        assert_eq!(requested_delay("a=1&delay=1s"), Some(Duration::from_secs(1)));
        assert_eq!(requested_delay("delay=500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(requested_delay("delay=soon"), None);
    }

    #[test]
    fn injected_headers_skip_malformed() {
        let mut headers = HeaderMap::new();
        headers.append(SET_RESPONSE_HEADER, HeaderValue::from_static("x-a=1"));
        headers.append(SET_RESPONSE_HEADER, HeaderValue::from_static("no-equals"));
        headers.append(SET_RESPONSE_HEADER, HeaderValue::from_static("bad name=2"));
        headers.append(SET_RESPONSE_HEADER, HeaderValue::from_static("x-b = a=b"));
        let got: Vec<_> = injected_headers(&headers).into_iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned())).collect();
        let want = [("x-a", "1"), ("x-b", "a=b")].map(|(n, v)| (n.to_owned(), v.to_owned()));
        assert_eq!(got, want);
    }
}
