//! The server as a real `kubectl` sees it. kubectl is found through `$KUBECTL` or `PATH`
//! (`scripts/test` installs it); without it these tests fail, unless `PORTICO_SKIP_KUBECTL=1`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use portico_apiserver::ApiServer;

fn kubectl_path() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("KUBECTL") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join("kubectl")).find(|p| p.is_file())
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Kubectl {
    fn for_server(server: &ApiServer) -> Option<Kubectl> {
        let Some(binary) = kubectl_path() else {
            assert!(std::env::var("PORTICO_SKIP_KUBECTL").is_ok(), "kubectl not found: run ./scripts/test (it installs kubectl) or set KUBECTL");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("portico-kubectl-{}-{}", std::process::id(), server.address().port()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        Some(Kubectl { binary, kubeconfig, _dir: TempDir(dir) })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.args(args).env("KUBECONFIG", &self.kubeconfig).env_remove("KUBERNETES_SERVICE_HOST");
        command
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kubectl runs");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run and require success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("kubectl runs");
        assert!(out.status.success(), "kubectl {args:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert!(out.status.success(), "kubectl {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  ports:\n  - {name: http, port: 80}\n";

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_get_label_patch_delete() {
    let (server, _client) = common::start().await;
    let Some(k) = Kubectl::for_server(&server) else { return };
    tokio::task::spawn_blocking(move || {
        assert!(k.ok_stdin(&["apply", "-f", "-"], SERVICE).contains("service/web created"));
        let changed = SERVICE.replace("port: 80", "port: 81");
        assert!(k.ok_stdin(&["apply", "-f", "-"], &changed).contains("configured"));
        let yaml = k.ok(&["get", "service", "web", "-o", "yaml"]);
        assert!(yaml.contains("port: 81") && !yaml.contains("port: 80"), "{yaml}");
        assert!(yaml.contains("last-applied-configuration"));
        k.ok_stdin(&["apply", "--server-side", "--force-conflicts", "-f", "-"], &changed);
        assert!(k.ok(&["get", "svc", "web", "-o", "yaml", "--show-managed-fields"]).contains("manager: kubectl"));
        k.ok(&["label", "service", "web", "tier=front"]);
        assert!(k.ok(&["get", "services", "-l", "tier=front", "-o", "name"]).contains("service/web"));
        assert!(k.ok(&["get", "services", "-l", "tier=back", "-o", "name"]).trim().is_empty());
        k.ok(&["patch", "service", "web", "--type=merge", "-p", r#"{"metadata":{"annotations":{"a":"b"}}}"#]);
        k.ok(&["patch", "service", "web", "--type=json", "-p", r#"[{"op":"add","path":"/metadata/labels/x","value":"y"}]"#]);
        k.ok(&["patch", "service", "web", "-p", r#"{"spec":{"ports":[{"name":"two","port":82}]}}"#]);
        let ports = k.ok(&["get", "service", "web", "-o", "jsonpath={.spec.ports[*].port}"]);
        assert_eq!(ports.trim(), "81 82", "strategic merge patch merges ports by port");
        assert!(k.ok(&["delete", "service", "web"]).contains("deleted"));
        let missing = k.command(&["get", "service", "web"]).output().unwrap();
        assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("NotFound"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn crds_then_gateway_api_objects_and_wait_for_conditions() {
    let (server, _client) = common::start().await;
    let Some(k) = Kubectl::for_server(&server) else { return };
    tokio::task::spawn_blocking(move || {
        k.ok(&["apply", "--server-side", "-f", &repo("crds/gateway-api.yaml")]);
        k.ok(&["wait", "--for=condition=Established", "crd/gateways.gateway.networking.k8s.io", "--timeout=10s"]);
        k.ok(&["apply", "--server-side", "-f", &repo("examples/10-infra.yaml"), "-f", &repo("examples/20-shop.yaml")]);
        let gateways = k.ok(&["get", "gateways", "-A", "-o", "name"]);
        assert!(gateways.contains("gateway.gateway.networking.k8s.io/edge"), "{gateways}");
        let route = k.ok(&["get", "httproute", "storefront", "-n", "shop", "-o", "yaml"]);
        assert!(route.contains("shop.example.com"));
        // A controller (here: kubectl) reports status through the status subresource.
        let status = r#"{"status":{"conditions":[{"type":"Programmed","status":"True","reason":"Programmed","message":"ok","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}}"#;
        k.ok(&["patch", "gateway", "edge", "-n", "infra", "--subresource=status", "--type=merge", "-p", status]);
        k.ok(&["wait", "--for=condition=Programmed", "gateway/edge", "-n", "infra", "--timeout=10s"]);
        let invalid = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: bad, namespace: infra}\nspec:\n  gatewayClassName: x\n  listeners:\n  - {name: http, port: eighty, protocol: HTTP}\n";
        let out = k.run_with_stdin(&["apply", "-f", "-"], invalid);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("spec.listeners[0].port"), "{stderr}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn get_watch_streams_changes() {
    let (server, _client) = common::start().await;
    let Some(k) = Kubectl::for_server(&server) else { return };
    tokio::task::spawn_blocking(move || {
        k.ok_stdin(&["apply", "-f", "-"], SERVICE);
        let watcher =
            k.command(&["get", "services", "-w", "-o", "name", "--request-timeout=4s"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(800));
        k.ok_stdin(&["apply", "-f", "-"], &SERVICE.replace("name: web", "name: api"));
        std::thread::sleep(std::time::Duration::from_millis(800));
        let _ = Command::new("kill").arg(watcher.id().to_string()).status();
        let out = watcher.wait_with_output().unwrap();
        let seen = String::from_utf8_lossy(&out.stdout);
        assert!(seen.contains("service/web") && seen.contains("service/api"), "watch output: {seen}");
    })
    .await
    .unwrap();
}
