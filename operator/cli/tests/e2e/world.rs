//! One end-to-end world: API server, CRDs, an HAProxy GatewayClass with its own address pool
//! and state directory, echo backends behind Services, and the real `portico` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portico_apiserver::{ApiServer, Options};
use portico_sandbox::{Reply, apply, http_get};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// End-to-end worlds run one at a time: each runs an operator, HAProxy and backends, and timing
/// expectations (a route edit followed within 2 s) must not depend on how many share the CPU.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct World {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    pub server: ApiServer,
    pub client: kube::Client,
    pub state_dir: PathBuf,
    kubeconfig: PathBuf,
    operators: Vec<Child>,
    helpers: std::sync::Mutex<Vec<Child>>,
    /// Deployments, Pods and EndpointSlices as a cluster's controllers and kubelet handle them.
    _cluster: portico_sandbox::cluster::Cluster,
}

impl World {
    pub async fn start(pool: &str, port_offset: u16, namespaces: &[&str], backends: &[(&str, &str)]) -> World {
        Self::start_with(pool, port_offset, namespaces, backends, &[]).await
    }

    /// Like [`World::start`], passing `args` to `portico run`.
    pub async fn start_with(pool: &str, port_offset: u16, namespaces: &[&str], backends: &[(&str, &str)], args: &[&str]) -> World {
        let turn = SERIAL.lock().await;
        let state_dir = std::env::temp_dir().join(format!("portico-e2e-{}-{port_offset}", std::process::id()));
        std::fs::create_dir_all(&state_dir).unwrap();
        let server = ApiServer::start(Options::default()).await.unwrap();
        let kubeconfig = state_dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
        let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = kube::Api::all(client.clone());
        let mut all = portico_model::crds::gateway_api_crds();
        all.push(<portico_haproxy::params::HAProxyParameters as kube::CustomResourceExt>::crd());
        for crd in all {
            crds.create(&Default::default(), &crd).await.unwrap();
        }
        for ns in namespaces {
            apply(&client, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await.unwrap();
        }
        let params = json!({"apiVersion": "portico.dev/v1alpha1", "kind": "HAProxyParameters", "metadata": {"name": "e2e", "namespace": "default"},
            "spec": {"addressPool": [pool], "portOffset": port_offset, "stateDir": state_dir.join("haproxy").to_string_lossy()}});
        apply(&client, &params).await.unwrap();
        let class = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "haproxy"},
            "spec": {"controllerName": "portico.dev/haproxy", "parametersRef": {"group": "portico.dev", "kind": "HAProxyParameters", "name": "e2e", "namespace": "default"}}});
        apply(&client, &class).await.unwrap();
        let options = portico_sandbox::cluster::ClusterOptions {
            pod_network: std::net::Ipv4Addr::new(127, 100 + (port_offset / 1000 % 100) as u8, 0, 0),
            ..Default::default()
        };
        let cluster = portico_sandbox::cluster::Cluster::start(client.clone(), options);
        let mut world = World { _turn: turn, server, client, state_dir, kubeconfig, operators: Vec::new(), helpers: Default::default(), _cluster: cluster };
        world.spawn_operator(args);
        for (ns, name) in backends {
            world.http_backend(ns, name).await;
        }
        world
    }

    /// Start another `portico run` process against this world.
    pub fn spawn_operator(&mut self, args: &[&str]) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portico"));
        command.arg("run");
        if !args.contains(&"--drift-interval") {
            command.args(["--drift-interval", "30s"]);
        }
        if !args.contains(&"--metrics-address") {
            command.args(["--metrics-address", "127.0.0.1:0"]);
        }
        let child = command
            .args(args)
            .arg("--state-dir")
            .arg(self.state_dir.join("state"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", std::env::var("PORTICO_E2E_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(
                std::fs::File::create(self.state_dir.join(format!("portico-{}.log", self.operators.len()))).map(Stdio::from).unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("portico starts");
        self.operators.push(child);
    }

    /// Kill operator `index` (like a crash or a rolling restart).
    /// SIGTERM, as kubelet stops a container, and wait for the process to exit.
    pub fn terminate_operator(&mut self, index: usize) {
        let pid = self.operators[index].id().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {pid}");
        let _ = self.operators[index].wait();
    }

    /// The process id of operator `index` (the operator_scale benchmark reads its CPU and memory).
    #[allow(dead_code)]
    pub fn operator_pid(&self, index: usize) -> u32 {
        self.operators[index].id()
    }

    pub fn kill_operator(&mut self, index: usize) {
        let _ = self.operators[index].kill();
        let _ = self.operators[index].wait();
    }

    pub fn haproxy_pid(&self) -> Option<String> {
        std::fs::read_to_string(self.state_dir.join("haproxy/haproxy.pid")).ok().map(|p| p.trim().to_string())
    }

    pub fn haproxy_config_modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.state_dir.join("haproxy/haproxy.cfg")).and_then(|m| m.modified()).ok()
    }

    async fn service(&self, ns: &str, name: &str, port: u16, port_name: &str, address: SocketAddr) {
        let service =
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": {"ports": [{"name": port_name, "port": port}]}});
        apply(&self.client, &service).await.unwrap();
        let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{name}-1"), "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": address.port()}],
            "endpoints": [{"addresses": [address.ip().to_string()], "conditions": {"ready": true}}]});
        apply(&self.client, &slice).await.unwrap();
    }

    /// An echo Pod named like the Service, behind Service port 8080, as a cluster runs it: the
    /// Service selects the Pod and has an unnamed port with a named targetPort; the emulated
    /// EndpointSlice controller writes the slice (port name `""`) once the Pod is ready.
    pub async fn http_backend(&self, ns: &str, name: &str) {
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 8080, "targetPort": "web"}]}});
        apply(&self.client, &service).await.unwrap();
        self.add_endpoint(ns, name, name).await;
    }

    /// Another echo Pod selected by an existing Service (from `http_backend`); returns once the
    /// EndpointSlice controller lists it as ready.
    pub async fn add_endpoint(&self, ns: &str, service: &str, pod: &str) {
        let manifest = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": ns, "labels": {"app": service}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "echo", "image": "registry.k8s.io/gateway-api/echo-basic",
                "ports": [{"name": "web", "containerPort": 3000}]}]}});
        apply(&self.client, &manifest).await.unwrap();
        self.wait_endpoint(ns, service, pod).await;
    }

    /// Wait until a Service's EndpointSlices list `pod` as a ready endpoint.
    pub async fn wait_endpoint(&self, ns: &str, service: &str, pod: &str) {
        let slices: kube::Api<k8s_openapi::api::discovery::v1::EndpointSlice> = kube::Api::namespaced(self.client.clone(), ns);
        let selector = kube::api::ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
        for _ in 0..200 {
            let listed = slices.list(&selector).await.unwrap();
            let ready = listed
                .items
                .iter()
                .flat_map(|s| &s.endpoints)
                .any(|e| e.target_ref.as_ref().and_then(|t| t.name.as_deref()) == Some(pod) && e.conditions.as_ref().and_then(|c| c.ready) == Some(true));
            if ready {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("Pod {ns}/{pod} never became a ready endpoint of Service {service}");
    }

    /// A TLS server (Python's ssl module, with the example certificate) behind a Service on port
    /// 8443, answering `{"pod": ...}`: the backend of TLS passthrough.
    pub async fn tls_backend(&self, ns: &str, name: &str) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/10-infra.yaml")).unwrap();
        let secret =
            serde_yaml::Deserializer::from_str(&text).map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap()).find(|v| v["kind"] == "Secret").unwrap();
        let decode = |text: &str| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).unwrap();
        let (crt, key) = (self.state_dir.join("tls.crt"), self.state_dir.join("tls.key"));
        std::fs::write(&crt, decode(secret["data"]["tls.crt"].as_str().unwrap())).unwrap();
        std::fs::write(&key, decode(secret["data"]["tls.key"].as_str().unwrap())).unwrap();
        let script = format!(
            "import ssl,socket,sys\nc=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER);c.load_cert_chain('{}','{}')\nl=socket.socket();l.bind(('127.0.0.1',0));l.listen(16)\nprint(l.getsockname()[1],flush=True)\nwhile True:\n  s,_=l.accept()\n  try:\n    t=c.wrap_socket(s,server_side=True);t.recv(65536);b=b'{{\\\"pod\\\": \\\"{name}\\\"}}'\n    t.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: '+str(len(b)).encode()+b'\\r\\nConnection: close\\r\\n\\r\\n'+b);t.close()\n  except Exception as e: print(e,file=sys.stderr)\n",
            crt.display(),
            key.display()
        );
        let mut child = Command::new("python3").arg("-c").arg(script).stdout(Stdio::piped()).spawn().expect("python3 runs");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let port: u16 = line.trim().parse().expect("TLS backend port");
        self.helpers.lock().unwrap().push(child);
        self.service(ns, name, 8443, "tls", format!("127.0.0.1:{port}").parse().unwrap()).await;
    }

    /// The HAProxy worker processes (a reload replaces them).
    pub fn haproxy_workers(&self) -> String {
        let pid = self.haproxy_pid().unwrap_or_default();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default().trim().to_string()
    }

    pub async fn tcp_backend(&self, ns: &str, name: &str, port: u16) {
        let config = portico_echo::EchoConfig { namespace: ns.into(), pod: name.into(), service: name.into() };
        let bound = portico_echo::serve_tcp(&["127.0.0.1:0".parse().unwrap()], config).await.unwrap();
        self.service(ns, name, port, "tcp", bound[0]).await;
    }

    pub async fn apply_yaml(&self, text: &str) {
        for doc in serde_yaml::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(doc).unwrap();
            if !value.is_null() {
                apply(&self.client, &value).await.unwrap_or_else(|e| panic!("apply {}: {e}", value["metadata"]["name"]));
            }
        }
    }

    pub async fn programmed(&self, ns: &str, name: &str) -> String {
        portico_sandbox::wait_programmed(&self.client, ns, name, Duration::from_secs(30)).await.unwrap()
    }

    pub fn socket(&self, address: &str, port: u16) -> SocketAddr {
        format!("{address}:{port}").parse().unwrap()
    }

    pub async fn get(&self, at: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
        http_get(at, host, path, headers).await.map_err(|e| e.to_string())
    }

    pub async fn expect_pod(&self, at: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)], pod: &str) -> Result<(), String> {
        let reply = self.get(at, host, path, headers).await?;
        let got = reply.echo().and_then(|e| e["pod"].as_str().map(str::to_string));
        (got.as_deref() == Some(pod)).then_some(()).ok_or_else(|| format!("GET {host}{path}: wanted pod {pod}, got HTTP {} {:?}", reply.status, got))
    }

    pub async fn expect_status(&self, at: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)], status: u16) -> Result<(), String> {
        let reply = self.get(at, host, path, headers).await?;
        (reply.status == status)
            .then_some(())
            .ok_or_else(|| format!("GET {host}{path}: wanted {status}, got {} {}", reply.status, reply.body.chars().take(200).collect::<String>()))
    }

    pub async fn expect_echo(&self, at: SocketAddr, host: &str, path: &str, field: &str, value: &str) -> Result<(), String> {
        let reply = self.get(at, host, path, &[]).await?;
        let echo = reply.echo().ok_or_else(|| format!("GET {host}{path}: HTTP {} without echo", reply.status))?;
        let got = echo[field].as_str().unwrap_or_default().split(':').next().unwrap_or_default().to_string();
        (got == value).then_some(()).ok_or_else(|| format!("GET {host}{path}: backend saw {field}={got:?}, wanted {value:?}"))
    }

    pub async fn expect_tcp_banner(&self, address: &str, port: u16, pod: &str) -> Result<(), String> {
        let mut stream = tokio::net::TcpStream::connect(self.socket(address, port)).await.map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; 256];
        let n =
            tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await.map_err(|_| "no banner".to_string())?.map_err(|e| e.to_string())?;
        let banner = String::from_utf8_lossy(&buffer[..n]).to_string();
        banner.contains(pod).then_some(()).ok_or(format!("TCP banner {banner:?} is not from {pod}"))
    }

    /// The example TLS Secret (`infra/example-com-tls`, a self-signed `*.example.com`).
    pub async fn apply_example_secret(&self) {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/10-infra.yaml")).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).unwrap();
            if value["kind"] == "Secret" {
                apply(&self.client, &value).await.unwrap();
            }
        }
    }

    /// An HTTPS request with SNI (Python's ssl module, certificate not verified: it is
    /// self-signed); checks which echo pod answered.
    pub async fn expect_https_pod(&self, address: &str, port: u16, host: &str, pod: &str) -> Result<(), String> {
        let script = format!(
            "import ssl,socket\nc=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\ns=c.wrap_socket(socket.create_connection(('{address}',{port}),timeout=5),server_hostname='{host}')\ns.sendall(b'GET / HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n')\nd=b''\nwhile True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\nprint(d.decode(errors='replace'))\n"
        );
        let out = tokio::process::Command::new("python3").arg("-c").arg(&script).output().await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.contains(&format!("\"pod\": \"{pod}\""))
            .then_some(())
            .ok_or_else(|| format!("HTTPS {host}: {} {}", text.lines().next().unwrap_or(""), String::from_utf8_lossy(&out.stderr)))
    }

    /// Delete a Gateway and wait until it is gone (the finalizer was released).
    pub async fn delete_gateway(&self, ns: &str, name: &str) {
        let resource =
            kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"), "gateways");
        let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(self.client.clone(), ns, &resource);
        api.delete(name, &Default::default()).await.unwrap();
        for _ in 0..100 {
            if api.get_opt(name).await.unwrap().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Gateway {ns}/{name} still exists: the finalizer was not released");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for helper in self.helpers.lock().map(|mut h| std::mem::take(&mut *h)).unwrap_or_default() {
            let mut helper = helper;
            let _ = helper.kill();
            let _ = helper.wait();
        }
        for operator in &mut self.operators {
            let _ = operator.kill();
            let _ = operator.wait();
        }
        if let Ok(pid) = std::fs::read_to_string(self.state_dir.join("haproxy/haproxy.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}
