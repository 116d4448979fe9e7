//! A minimal HTTP/1.1 client over a TCP stream (one connection per request,
//! `Connection: close`), so the tests need no HTTP client dependency.

use portico_computefake::ComputeFake;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status, lower-cased headers and the body parsed as JSON (`Null` if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The `errors[0].reason` of a GCP error body.
    pub fn reason(&self) -> &str {
        self.body["error"]["errors"][0]["reason"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// The project every test uses.
pub const PROJECT: &str = "p";

/// `/compute/v1/projects/p/{rest}`.
pub fn api(rest: &str) -> String {
    format!("/compute/v1/projects/{PROJECT}/{rest}")
}

pub async fn get(fake: &ComputeFake, path: &str) -> Reply {
    send(fake, "GET", path, None).await
}

pub async fn post(fake: &ComputeFake, path: &str, body: Value) -> Reply {
    send(fake, "POST", path, Some(body.to_string())).await
}

pub async fn patch(fake: &ComputeFake, path: &str, body: Value) -> Reply {
    send(fake, "PATCH", path, Some(body.to_string())).await
}

pub async fn put(fake: &ComputeFake, path: &str, body: Value) -> Reply {
    send(fake, "PUT", path, Some(body.to_string())).await
}

pub async fn delete(fake: &ComputeFake, path: &str) -> Reply {
    send(fake, "DELETE", path, None).await
}

/// Send one request and read the whole response.
pub async fn send(fake: &ComputeFake, method: &str, path: &str, body: Option<String>) -> Reply {
    let endpoint = fake.endpoint();
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect to the fake");
    let payload = body.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read the response");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").expect("a complete response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status code");
    let headers: Vec<(String, String)> =
        lines.filter_map(|line| line.split_once(':')).map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string())).collect();
    let chunked = headers.iter().any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body_text = if chunked { dechunk(rest) } else { rest.to_string() };
    let body = serde_json::from_str(&body_text).unwrap_or(Value::Null);
    Reply { status, headers, body }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}
