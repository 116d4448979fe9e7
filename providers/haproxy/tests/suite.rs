//! The shared provider suite against the HAProxy provider with a real HAProxy (started in
//! master-worker mode under a temporary state directory), bare and behind the fault-injecting
//! wrapper, plus a request through what was programmed. Set `PORTICO_SKIP_HAPROXY=1` to skip
//! when HAProxy is not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;

use portico_haproxy::HaproxyProvider;
use portico_model::ir::{Gateway, ObjectRef};
use portico_provider::faulty::{Call, Faulty};
use portico_provider::{Desired, DynProvider, Provider, ProviderError, conformance};
use serde_json::json;

fn skip() -> bool {
    std::env::var_os("PORTICO_SKIP_HAPROXY").is_some()
}

fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-suite-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One HTTP Gateway answering 200 "suite" on `/`, bound to `address` with `offset` added to
/// its port.
fn desired(name: &str, address: &str, offset: u16) -> Desired {
    let route = json!({ "source": { "kind": "HTTPRoute", "namespace": "t", "name": name, "rule": 0, "match": 0 },
        "match": { "path": { "type": "Prefix", "value": "/" }, "headers": [], "queryParams": [] }, "filters": [],
        "action": { "type": "FixedResponse", "status": 200, "reason": "suite" } });
    let ir: Gateway = serde_json::from_value(json!({
        "gateway": { "namespace": "t", "name": name }, "gatewayClass": "haproxy", "provider": "haproxy",
        "requestedAddresses": [], "infrastructureLabels": {}, "backends": {},
        "ports": [{ "port": 80, "protocol": "HTTP", "listeners": ["l"], "certificates": [], "tlsRoutes": [], "l4Routes": [],
            "virtualHosts": [{ "hostname": "*", "listener": "l", "routes": [route] }] }]
    }))
    .unwrap();
    let mut desired = Desired::bare(ir);
    desired.parameters = json!({ "addressPool": [address], "portOffset": offset });
    desired
}

fn status_line(address: &str, port: u16) -> String {
    let mut stream = std::net::TcpStream::connect((address, port)).unwrap_or_else(|e| panic!("connect {address}:{port}: {e}"));
    stream.write_all(b"GET / HTTP/1.1\r\nHost: suite\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_shared_suite_passes_on_haproxy() {
    if skip() {
        return;
    }
    let provider = HaproxyProvider::new(state_dir("bare"));
    let gateway = desired("a", "127.0.0.71", 31000);
    conformance::apply_is_idempotent(&provider, &gateway).await.unwrap();
    assert_eq!(status_line("127.0.0.71", 31080), "HTTP/1.1 200 OK");
    conformance::delete_removes_everything(&provider, &gateway).await.unwrap();
    assert!(provider.instances().await.is_empty(), "the last Gateway's HAProxy is stopped");
    conformance::delete_of_nothing_succeeds(&provider, &ObjectRef::new("t", "never")).await.unwrap();
}

#[tokio::test]
async fn faults_are_reported_and_the_next_pass_converges() {
    if skip() {
        return;
    }
    let provider = Faulty::new(HaproxyProvider::new(state_dir("faulty")));
    let gateway = desired("b", "127.0.0.72", 31100);
    let all: BTreeMap<ObjectRef, Desired> = [(gateway.ir.gateway.clone(), gateway.clone())].into();
    let changed: BTreeSet<ObjectRef> = all.keys().cloned().collect();
    provider.inject(Call::Apply, ProviderError::Transient { platform: "HAProxy".into(), operation: "reload".into(), message: "injected".into() });
    let failed = DynProvider::apply_all(&provider, &all, &changed).await;
    assert!(failed[&gateway.ir.gateway].as_ref().is_err_and(ProviderError::retryable));
    assert!(provider.inner.instances().await.is_empty(), "the failure replaced the platform call");
    let applied = DynProvider::apply_all(&provider, &all, &changed).await;
    let applied = applied[&gateway.ir.gateway].as_ref().unwrap();
    assert_eq!(applied.addresses[0].value, "127.0.0.72");
    assert_eq!(status_line("127.0.0.72", 31180), "HTTP/1.1 200 OK");
    conformance::no_op_plan_is_empty(&provider, &gateway).await.unwrap();
    Provider::delete(&provider, &gateway.ir.gateway).await.unwrap();
    conformance::removal_is_complete(&provider, &gateway.ir.gateway).await.unwrap();
}

/// A fresh self-signed certificate (PEM certificate, then the key) for `cn`.
fn certificate(cn: &str) -> (String, Vec<u8>) {
    let dir = state_dir(&format!("cert-{cn}"));
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj"])
        .arg(format!("/CN={cn}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let cert = std::fs::read_to_string(&cert).unwrap();
    let mut pem = cert.clone().into_bytes();
    pem.extend(std::fs::read(&key).unwrap());
    (cert, pem)
}

/// The certificate (PEM) a TLS server at `address:port` presents.
fn served_certificate(address: &str, port: u16) -> String {
    let script = format!("import ssl;print(ssl.get_server_certificate(('{address}',{port})))");
    let out = std::process::Command::new("python3").arg("-c").arg(script).output().expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A rotated certificate Secret changes a file, not the configuration text: HAProxy must still
/// get the new file and load it (the same holds for CA bundles and client certificates).
#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_configuration_change() {
    if skip() {
        return;
    }
    let provider = HaproxyProvider::new(state_dir("rotation"));
    let mut gateway = desired("rotated", "127.0.0.74", 31300);
    let secret = ObjectRef::new("t", "cert");
    let ir = std::sync::Arc::make_mut(&mut gateway.ir);
    ir.ports[0].port = 443;
    ir.ports[0].protocol = portico_model::ir::PortProtocol::Https;
    ir.ports[0].certificates =
        vec![serde_json::from_value(json!({ "hostname": "*", "listener": "l", "secrets": [{ "namespace": "t", "name": "cert" }] })).unwrap()];
    let normalize = |pem: &str| pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
    for cn in ["first", "second"] {
        let (cert, pem) = certificate(cn);
        gateway.certificates = [(secret.clone(), pem)].into();
        let plan = Provider::plan(&provider, Some(&gateway), &Provider::observe(&provider, &gateway.ir.gateway).await.unwrap());
        Provider::apply(&provider, &plan).await.unwrap();
        let mut served = String::new();
        for _ in 0..100 {
            served = served_certificate("127.0.0.74", 31743);
            if normalize(&served) == normalize(&cert) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(normalize(&served), normalize(&cert), "HAProxy serves the {cn} certificate");
    }
    Provider::delete(&provider, &gateway.ir.gateway).await.unwrap();
}
