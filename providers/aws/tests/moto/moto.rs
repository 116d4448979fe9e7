//! A moto server (PyPI `moto[server]`) on a free loopback port, one per test, killed on drop;
//! a VPC with two subnets tagged for internet-facing load balancers; helpers around moto.

use portico_aws::{aws_config, aws_sdk_ec2, aws_sdk_elasticloadbalancingv2};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_elasticloadbalancingv2::config::{Credentials, Region};
use portico_aws::Clients;

/// The venv `scripts/test` and `.ci/run` install moto into (override: `PORTICO_MOTO_VENV`).
fn venv() -> PathBuf {
    if let Ok(dir) = std::env::var("PORTICO_MOTO_VENV") {
        return PathBuf::from(dir);
    }
    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/portico-tools/moto")
}

#[allow(dead_code)]
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn start() -> Moto {
        let binary = venv().join("bin/moto_server");
        assert!(binary.exists(), "moto_server not found at {}: run ./scripts/test (it installs moto[server] into that venv)", binary.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, endpoint: format!("http://127.0.0.1:{port}") }
    }

    /// Fresh SDK clients (with their own call counter) pointed at this server.
    pub async fn clients(&self) -> Clients {
        clients_at(&self.endpoint).await
    }

    /// A proxy in front of this server that holds every request `delay` before passing it on, as
    /// AWS's answers take tens to hundreds of milliseconds where moto's take one: its endpoint. A
    /// chunk following the previous one within 5 ms (a request's body after its headers) is not
    /// held again.
    #[allow(dead_code)]
    pub async fn delayed(&self, delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = self.endpoint.trim_start_matches("http://").to_string();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), delay));
            }
        });
        format!("http://127.0.0.1:{port}")
    }
}

/// One proxied connection: client to server held, server to client as it comes.
async fn relay(client: tokio::net::TcpStream, upstream: String, delay: Duration) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let to_server = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut last = Instant::now() - Duration::from_secs(1);
        while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
            if last.elapsed() > Duration::from_millis(5) {
                tokio::time::sleep(delay).await;
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
            last = Instant::now();
        }
        let _ = server_write.shutdown().await;
    };
    let to_client = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    tokio::join!(to_server, to_client);
}

/// Fresh SDK clients (with their own call counter) pointed at `endpoint`.
pub async fn clients_at(endpoint: &str) -> Clients {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .http_client(portico_aws::http_client())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .endpoint_url(endpoint)
        .load()
        .await;
    Clients::from_config(&config)
}

impl Moto {
    /// A VPC with two subnets in two zones, tagged `kubernetes.io/role/elb`; returns the VPC id.
    pub async fn network(&self) -> String {
        let clients = self.clients().await;
        let vpc = clients.ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
        let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        for (zone, cidr) in [("us-east-1a", "10.0.1.0/24"), ("us-east-1b", "10.0.2.0/24")] {
            let subnet = clients.ec2.create_subnet().vpc_id(&vpc_id).cidr_block(cidr).availability_zone(zone).send().await.unwrap();
            let id = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
            let tag = aws_sdk_ec2::types::Tag::builder().key("kubernetes.io/role/elb").value("1").build();
            clients.ec2.create_tags().resources(id).tags(tag).send().await.unwrap();
        }
        vpc_id
    }
}

/// A self-signed certificate and key for `host` (PEM, certificate first), made with the
/// `cryptography` package moto depends on.
#[allow(dead_code)]
pub fn certificate(host: &str) -> (String, String) {
    let script = format!(
        r#"
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "{host}")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=30))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("{host}")]), critical=False)
    .sign(key, hashes.SHA256()))
print(cert.public_bytes(serialization.Encoding.PEM).decode(), end="")
print("=====")
print(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(), end="")
"#
    );
    let output = Command::new(python()).args(["-c", &script]).output().expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let (cert, key) = text.split_once("=====\n").unwrap();
    (cert.to_string(), key.to_string())
}
