//! A gRPC echo in the manner of the Gateway API conformance echo's gRPC mode (written here): the
//! service `gateway_api_conformance.echo_basic.grpcecho.GrpcEcho` answers `Echo` and `EchoTwo` with
//! an `EchoResponse` describing the call (fully qualified method, request metadata, `:authority`,
//! the Pod's identity) and `EchoThree` (or any other method) with UNIMPLEMENTED. HTTP/2 with prior
//! knowledge only, like a gRPC server behind an `h2c` Service port.
//!
//! The few protobuf messages are encoded and decoded by hand ([`encode_response`],
//! [`decode_response`]); [`call`] is a minimal unary client for tests.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use http_body::Frame;

use crate::EchoConfig;

/// The echo service's fully qualified name.
pub const SERVICE: &str = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

/// gRPC status codes used here.
pub const OK: u32 = 0;
pub const UNKNOWN: u32 = 2;
pub const UNIMPLEMENTED: u32 = 12;
pub const INTERNAL: u32 = 13;
pub const UNAVAILABLE: u32 = 14;

/// What the echo reports about one call (the `Assertions` message, flattened).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoReply {
    /// `/<service>/<method>`.
    pub method: String,
    /// Request metadata as `(key, value)`, `:authority` included, in arrival order.
    pub headers: Vec<(String, String)>,
    pub authority: String,
    pub namespace: String,
    pub service: String,
    pub pod: String,
}

/// The outcome of one unary call: the gRPC status and, when OK, the echo's reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallOutcome {
    pub code: u32,
    pub message: String,
    pub reply: Option<EchoReply>,
}

/// Bind every address and serve the gRPC echo (h2c) in the background, like
/// [`crate::spawn_http`].
pub async fn spawn_grpc(addrs: &[SocketAddr], config: EchoConfig) -> io::Result<Vec<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        listeners.push((listener, local));
    }
    let config = Arc::new(config);
    Ok(listeners
        .into_iter()
        .map(|(listener, local)| {
            let app = Router::new().fallback(handle).with_state(Arc::clone(&config));
            let task = tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app).await {
                    eprintln!("portico-echo: grpc listener {local} stopped: {err}");
                }
            });
            (local, task)
        })
        .collect())
}

async fn handle(State(config): State<Arc<EchoConfig>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The request message (an empty EchoRequest) is read and ignored.
    let _ = axum::body::to_bytes(body, 1 << 16).await;
    let path = parts.uri.path();
    let method = path.strip_prefix('/').and_then(|p| p.strip_prefix(SERVICE)).and_then(|p| p.strip_prefix('/'));
    if !matches!(method, Some("Echo" | "EchoTwo")) {
        return trailers_only(UNIMPLEMENTED, &format!("unknown method {path}"));
    }
    let authority = parts.uri.authority().map(|a| a.to_string()).or_else(|| header_text(&parts.headers, "host")).unwrap_or_default();
    let mut headers = vec![(":authority".to_string(), authority.clone())];
    headers.extend(parts.headers.iter().map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())));
    let reply = EchoReply {
        method: path.to_string(),
        headers,
        authority,
        namespace: config.namespace.clone(),
        service: config.service.clone(),
        pod: config.pod.clone(),
    };
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from(OK));
    let body = Unary { data: Some(frame(&encode_response(&reply))), trailers: Some(trailers) };
    let mut response = Response::new(Body::new(body));
    response.headers_mut().insert("content-type", HeaderValue::from_static("application/grpc"));
    response
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// A response with no message: the status travels in the headers.
fn trailers_only(code: u32, message: &str) -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(value) = HeaderValue::from_str(message) {
        headers.insert("grpc-message", value);
    }
    *response.status_mut() = StatusCode::OK;
    response
}

/// One message, then the trailers.
struct Unary {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl HttpBody for Unary {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }
}

/// A gRPC length-prefixed message (uncompressed).
fn frame(message: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(message);
    out.into()
}

// ---- protobuf, for the few messages of the echo service ----

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length-delimited field (strings and messages); empty strings are left out, as proto3 does.
fn field(out: &mut Vec<u8>, number: u32, bytes: &[u8], always: bool) {
    if bytes.is_empty() && !always {
        return;
    }
    varint(out, u64::from(number << 3 | 2));
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `EchoResponse { assertions: Assertions { fully_qualified_method, headers, authority, context }, request: EchoRequest {} }`.
pub fn encode_response(reply: &EchoReply) -> Vec<u8> {
    let mut context = Vec::new();
    field(&mut context, 1, reply.namespace.as_bytes(), false);
    field(&mut context, 3, reply.service.as_bytes(), false);
    field(&mut context, 4, reply.pod.as_bytes(), false);
    let mut assertions = Vec::new();
    field(&mut assertions, 1, reply.method.as_bytes(), false);
    for (key, value) in &reply.headers {
        let mut header = Vec::new();
        field(&mut header, 1, key.as_bytes(), false);
        field(&mut header, 2, value.as_bytes(), false);
        field(&mut assertions, 2, &header, true);
    }
    field(&mut assertions, 3, reply.authority.as_bytes(), false);
    field(&mut assertions, 4, &context, true);
    let mut out = Vec::new();
    field(&mut out, 1, &assertions, true);
    field(&mut out, 2, &[], true);
    out
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// The length-delimited fields of a message as `(number, bytes)`; other wire types are skipped.
fn fields(bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at)?;
        match key & 7 {
            0 => {
                read_varint(bytes, &mut at)?;
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = usize::try_from(read_varint(bytes, &mut at)?).ok()?;
                out.push((key >> 3, bytes.get(at..at.checked_add(len)?)?));
                at += len;
            }
            _ => return None,
        }
    }
    (at == bytes.len()).then_some(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decode an `EchoResponse` (unknown fields ignored).
pub fn decode_response(bytes: &[u8]) -> Option<EchoReply> {
    let mut reply = EchoReply::default();
    for (number, assertions) in fields(bytes)? {
        if number != 1 {
            continue;
        }
        for (number, value) in fields(assertions)? {
            match number {
                1 => reply.method = text(value),
                2 => {
                    let (mut key, mut val) = (String::new(), String::new());
                    for (n, v) in fields(value)? {
                        match n {
                            1 => key = text(v),
                            2 => val = text(v),
                            _ => {}
                        }
                    }
                    reply.headers.push((key, val));
                }
                3 => reply.authority = text(value),
                4 => {
                    for (n, v) in fields(value)? {
                        match n {
                            1 => reply.namespace = text(v),
                            3 => reply.service = text(v),
                            4 => reply.pod = text(v),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Some(reply)
}

// ---- client ----

/// The gRPC code a client derives from a non-200 HTTP status (gRPC's HTTP-to-status mapping).
pub fn code_of_http_status(status: u16) -> u32 {
    match status {
        400 => INTERNAL,
        401 => 16,
        403 => 7,
        404 => UNIMPLEMENTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        _ => UNKNOWN,
    }
}

/// One unary call of `method` (e.g. `Echo`) of the echo service over h2c to `addr`, with
/// `:authority` `authority` and the given metadata, within `timeout`.
pub async fn call(addr: SocketAddr, authority: &str, method: &str, metadata: &[(&str, &str)], timeout: Duration) -> Result<CallOutcome, String> {
    tokio::time::timeout(timeout, call_inner(addr, authority, method, metadata)).await.map_err(|_| format!("no answer within {timeout:?}"))?
}

async fn call_inner(addr: SocketAddr, authority: &str, method: &str, metadata: &[(&str, &str)]) -> Result<CallOutcome, String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (mut client, connection) = h2::client::handshake(tcp).await.map_err(|e| format!("HTTP/2 handshake: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = axum::http::Request::builder()
        .method("POST")
        .uri(format!("http://{authority}/{SERVICE}/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (key, value) in metadata {
        request = request.header(key.to_ascii_lowercase(), *value);
    }
    let request = request.body(()).map_err(|e| format!("request: {e}"))?;
    let result = async {
        let (response, mut send) = client.send_request(request, false).map_err(|e| format!("send: {e}"))?;
        send.send_data(frame(&[]), true).map_err(|e| format!("send message: {e}"))?;
        let response = response.await.map_err(|e| format!("response: {e}"))?;
        let (parts, mut body) = response.into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| format!("response body: {e}"))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.map_err(|e| format!("trailers: {e}"))?.unwrap_or_default();
        Ok(outcome(parts.status.as_u16(), &parts.headers, &trailers, &data))
    }
    .await;
    driver.abort();
    result
}

/// The call's outcome from the HTTP status, headers, trailers and body.
fn outcome(status: u16, headers: &HeaderMap, trailers: &HeaderMap, data: &[u8]) -> CallOutcome {
    if status != 200 {
        return CallOutcome { code: code_of_http_status(status), message: format!("HTTP {status}"), reply: None };
    }
    let status_of = |map: &HeaderMap| map.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok());
    let message = header_text(trailers, "grpc-message").or_else(|| header_text(headers, "grpc-message")).unwrap_or_default();
    let Some(code) = status_of(trailers).or_else(|| status_of(headers)) else {
        return CallOutcome { code: INTERNAL, message: "no grpc-status".into(), reply: None };
    };
    if code != OK {
        return CallOutcome { code, message, reply: None };
    }
    let reply = data.get(5..).filter(|_| data.first() == Some(&0)).and_then(decode_response);
    match reply {
        Some(reply) => CallOutcome { code, message, reply: Some(reply) },
        None => CallOutcome { code: INTERNAL, message: format!("undecodable response message ({} bytes)", data.len()), reply: None },
    }
}

/// One HTTP/2 cleartext GET with prior knowledge (no upgrade), as upstream's h2c round tripper
/// sends it: the status and the body.
pub async fn h2c_get(addr: SocketAddr, authority: &str, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let (mut client, connection) = h2::client::handshake(tcp).await.map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = axum::http::Request::builder().method("GET").uri(format!("http://{authority}{path}")).body(()).map_err(|e| format!("request: {e}"))?;
        let result = async {
            let (response, _) = client.send_request(request, true).map_err(|e| format!("send: {e}"))?;
            let (parts, mut body) = response.await.map_err(|e| format!("response: {e}"))?.into_parts();
            let mut data = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.map_err(|e| format!("response body: {e}"))?;
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            Ok((parts.status.as_u16(), String::from_utf8_lossy(&data).into_owned()))
        }
        .await;
        driver.abort();
        result
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("no answer within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_decode_as_encoded() {
        let reply = EchoReply {
            method: format!("/{SERVICE}/Echo"),
            headers: vec![(":authority".into(), "a.example".into()), ("version".into(), "one".into()), ("empty".into(), String::new())],
            authority: "a.example".into(),
            namespace: "ns".into(),
            service: String::new(),
            pod: "pod-1".into(),
        };
        assert_eq!(decode_response(&encode_response(&reply)), Some(reply));
        assert_eq!(decode_response(&[0x0a, 0x05, 0x01]), None);
    }

    #[test]
    fn http_errors_map_to_grpc_codes() {
        assert_eq!(code_of_http_status(404), UNIMPLEMENTED);
        assert_eq!(code_of_http_status(503), UNAVAILABLE);
        let empty = HeaderMap::new();
        assert_eq!(outcome(404, &empty, &empty, &[]).code, UNIMPLEMENTED);
        assert_eq!(outcome(200, &empty, &empty, &[]).code, INTERNAL);
    }

    #[tokio::test]
    async fn echo_and_echo_two_answer_echo_three_is_unimplemented() {
        let config = EchoConfig { namespace: "ns".into(), pod: "grpc-1".into(), service: "grpc".into() };
        let bound = spawn_grpc(&["127.0.0.1:0".parse().unwrap()], config).await.unwrap();
        let addr = bound[0].0;
        let second = Duration::from_secs(5);
        let got = call(addr, "x.example", "EchoTwo", &[("Version", "two")], second).await.unwrap();
        assert_eq!(got.code, OK, "{got:?}");
        let reply = got.reply.unwrap();
        assert_eq!(reply.method, format!("/{SERVICE}/EchoTwo"));
        assert_eq!((reply.pod.as_str(), reply.namespace.as_str(), reply.authority.as_str()), ("grpc-1", "ns", "x.example"));
        assert!(reply.headers.contains(&("version".into(), "two".into())), "{:?}", reply.headers);
        assert_eq!(call(addr, "x.example", "EchoThree", &[], second).await.unwrap().code, UNIMPLEMENTED);
    }
}
