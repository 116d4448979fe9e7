//! The echo's TLS modes against the pinning client, with a throwaway certificate from `openssl`.

use std::process::Command;

use portico_echo::EchoConfig;

/// A self-signed certificate for `*.example.com` and its key (PEM), made by `openssl`.
fn certificate(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("portico-echo-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("crt"), dir.join("key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=*.example.com", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

fn config() -> EchoConfig {
    EchoConfig { namespace: "ns".into(), pod: "tls-1".into(), service: "tls".into() }
}

#[tokio::test]
async fn https_echo_presents_its_certificate_and_answers() {
    let (cert, key) = certificate("https");
    let (other, _) = certificate("other");
    let tls = portico_echo::tls::server_config(&cert, &key).unwrap();
    let bound = portico_echo::tls::spawn_https(&["127.0.0.1:0".parse().unwrap()], config(), tls).await.unwrap();
    let addr = bound[0].0;
    let reply = portico_echo::tls::https_get(addr, "abc.example.com", "abc.example.com", "/x", Some(&cert)).await.unwrap();
    assert_eq!(reply.status, 200);
    let echo: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!((echo["pod"].as_str(), echo["path"].as_str()), (Some("tls-1"), Some("/x")));
    // Another certificate pinned: the handshake fails.
    assert!(portico_echo::tls::connect(addr, "abc.example.com", Some(&other)).await.is_err());
}

#[tokio::test]
async fn tcp_protocol_reports_tls_and_the_server_name() {
    let (cert, key) = certificate("tcp");
    let tls = portico_echo::tls::server_config(&cert, &key).unwrap();
    let plain = portico_echo::tcp::spawn_tcp(&["127.0.0.1:0".parse().unwrap()], config(), None).await.unwrap();
    let secure = portico_echo::tcp::spawn_tcp(&["127.0.0.1:0".parse().unwrap()], config(), Some(tls)).await.unwrap();
    let seen = portico_echo::tcp::probe(tokio::net::TcpStream::connect(plain[0].0).await.unwrap()).await.unwrap();
    assert!(!seen.is_tls && seen.tls.is_none() && seen.pod == "tls-1", "{seen:?}");
    let stream = portico_echo::tls::connect(secure[0].0, "abc.example.com", Some(&cert)).await.unwrap();
    let seen = portico_echo::tcp::probe(stream).await.unwrap();
    assert!(seen.is_tls, "{seen:?}");
    assert_eq!(seen.tls.map(|t| t.server_name), Some("abc.example.com".to_string()));
}
