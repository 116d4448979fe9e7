//! End-to-end tests of the echo backend, started in-process on port 0 and
//! spoken to over raw `TcpStream`s (HTTP/1.1 by hand, h2c frame by frame).

use std::net::SocketAddr;
use std::time::Duration;

use portico_echo::{EchoConfig, serve_http, serve_tcp};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Upper bound for any single exchange, so a bug hangs no test for long.
const LIMIT: Duration = Duration::from_secs(10);

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header (lower-case name, value) pairs in arrival order.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    /// All values of the response header `name`.
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// The identity used by every test.
fn config() -> EchoConfig {
    EchoConfig { namespace: "gw-ns".into(), pod: "echo-0".into(), service: "echo".into() }
}

/// Start `n` HTTP listeners on 127.0.0.1 port 0.
async fn start_http(n: usize) -> Vec<SocketAddr> {
    let addrs = vec!["127.0.0.1:0".parse().unwrap(); n];
    serve_http(&addrs, config()).await.expect("bind http")
}

/// Send a raw HTTP/1.1 request (which should say `Connection: close`) and
/// parse the whole response.
async fn http1(addr: SocketAddr, request: &str) -> Reply {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = timeout(LIMIT, exchange).await.expect("http1 exchange timed out");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header/body separator");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.map(|l| l.split_once(':').expect("header line")).map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned())).collect();
    let body = serde_json::from_str(body).expect("JSON body");
    Reply { status, headers, body }
}

/// A GET for `target` with the given extra header lines.
fn get(target: &str, extra: &[&str]) -> String {
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: shop.example.com\r\n");
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    request
}

#[tokio::test]
async fn get_reports_request_fields() {
    let addr = start_http(1).await[0];
    let extra = ["X-Multi: v1", "x-multi: v2", "X-Single: one"];
    let reply = http1(addr, &get("/a/b?x=1&y=2", &extra)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), ["application/json"]);
    let body = &reply.body;
    assert_eq!(body["path"], "/a/b");
    assert_eq!(body["query"], "x=1&y=2");
    assert_eq!(body["host"], "shop.example.com");
    assert_eq!(body["method"], "GET");
    assert_eq!(body["proto"], "HTTP/1.1");
    assert_eq!(body["headers"]["x-multi"], serde_json::json!(["v1", "v2"]));
    assert_eq!(body["headers"]["x-single"], serde_json::json!(["one"]));
    assert_eq!(body["headers"]["host"], serde_json::json!(["shop.example.com"]));
    assert_eq!(body["namespace"], "gw-ns");
    assert_eq!(body["pod"], "echo-0");
    assert_eq!(body["service"], "echo");
    assert_eq!(body["listener"], addr.to_string());
}

#[tokio::test]
async fn any_method_and_path_is_echoed() {
    let addr = start_http(1).await[0];
    let request = "DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    let reply = http1(addr, request).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["method"], "DELETE");
    assert_eq!(reply.body["path"], "/x");
    assert_eq!(reply.body["query"], "");
}

#[tokio::test]
async fn status_path_sets_status_code() {
    let addr = start_http(1).await[0];
    let reply = http1(addr, &get("/status/503", &[])).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body["path"], "/status/503");
    let reply = http1(addr, &get("/status/42", &[])).await;
    assert_eq!(reply.status, 400);
    let reply = http1(addr, &get("/status", &[])).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn response_headers_are_injected() {
    let addr = start_http(1).await[0];
    let extra = [
        "x-echo-set-response-header: X-Foo=bar",
        "x-echo-set-response-header: x-foo=baz",
        "x-echo-set-response-header: Cache-Control=no-store, max-age=0",
        "x-echo-set-response-header: malformed",
    ];
    let reply = http1(addr, &get("/", &extra)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-foo"), ["bar", "baz"]);
    assert_eq!(reply.header("cache-control"), ["no-store, max-age=0"]);
    assert!(reply.header("malformed").is_empty());
}

#[tokio::test]
async fn each_listener_reports_its_own_address() {
    let addrs = start_http(2).await;
    assert_eq!(addrs.len(), 2);
    assert_ne!(addrs[0], addrs[1]);
    for addr in addrs {
        let reply = http1(addr, &get("/", &[])).await;
        assert_eq!(reply.body["listener"], addr.to_string());
    }
}

#[tokio::test]
async fn tcp_mode_sends_banner_then_echoes() {
    let addrs = vec!["127.0.0.1:0".parse().unwrap(); 2];
    let bound = serve_tcp(&addrs, config()).await.expect("bind tcp");
    for addr in bound {
        let exchange = async {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut stream = BufReader::new(stream);
            let mut banner = String::new();
            stream.read_line(&mut banner).await.unwrap();
            stream.write_all(b"hello\nworld").await.unwrap();
            stream.get_mut().shutdown().await.unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.unwrap();
            (banner, rest)
        };
        let (banner, rest) = timeout(LIMIT, exchange).await.expect("tcp exchange timed out");
        assert_eq!(banner, format!("portico-echo echo-0 {addr}\n"));
        assert_eq!(rest, b"hello\nworld");
    }
}

/// Append one HTTP/2 frame header (length, type, flags, stream id) + payload.
fn h2_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    out.extend_from_slice(&len[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Send an h2c prior-knowledge GET and return the concatenated DATA of stream 1.
async fn h2c_get(addr: SocketAddr, path: &str, authority: &str) -> Vec<u8> {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    h2_frame(&mut out, 0x4, 0, 0, &[]); // empty SETTINGS
    // HPACK: :method GET (2), :scheme http (6), then literal :path (4) and
    // :authority (1) without indexing, no Huffman coding.
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, authority.len() as u8]);
    block.extend_from_slice(authority.as_bytes());
    h2_frame(&mut out, 0x1, 0x4 | 0x1, 1, &block); // HEADERS, END_HEADERS|END_STREAM
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&out).await.unwrap();
    let mut data = Vec::new();
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await.unwrap();
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.unwrap();
        if kind == 0x0 && id == 1 {
            data.extend_from_slice(&payload);
            if flags & 0x1 != 0 {
                return data;
            }
        }
        assert_ne!(kind, 0x7, "server sent GOAWAY");
        assert_ne!(kind, 0x3, "server reset the stream");
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_on_the_same_port() {
    let addr = start_http(1).await[0];
    let data = timeout(LIMIT, h2c_get(addr, "/grpc/x?y=1", "shop.example.com")).await.expect("h2c exchange timed out");
    let body: Value = serde_json::from_slice(&data).expect("JSON body");
    assert_eq!(body["proto"], "HTTP/2.0");
    assert_eq!(body["path"], "/grpc/x");
    assert_eq!(body["query"], "y=1");
    assert_eq!(body["host"], "shop.example.com");
    assert_eq!(body["listener"], addr.to_string());
    // The same port still speaks HTTP/1.1.
    assert_eq!(http1(addr, &get("/", &[])).await.body["proto"], "HTTP/1.1");
}
