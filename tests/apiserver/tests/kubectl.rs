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
        Self::with_kubeconfig(server, "admin", &server.kubeconfig())
    }

    /// kubectl with its own kubeconfig (`name` tells several apart).
    fn with_kubeconfig(server: &ApiServer, name: &str, kubeconfig_text: &str) -> Option<Kubectl> {
        let Some(binary) = kubectl_path() else {
            assert!(std::env::var("PORTICO_SKIP_KUBECTL").is_ok(), "kubectl not found: run ./scripts/test (it installs kubectl) or set KUBECTL");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("portico-kubectl-{}-{}-{name}", std::process::id(), server.address().port()));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text).unwrap();
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

    /// Run expecting failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("kubectl runs");
        assert!(!out.status.success(), "kubectl {args:?} succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_with_stdin(args, stdin);
        assert!(out.status.success(), "kubectl {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

/// Start a server, run `steps` with kubectl against it (off the async runtime), and hand the server
/// back for checks; `None` when kubectl is absent (and `PORTICO_SKIP_KUBECTL` allows that).
async fn kubectl_session(steps: impl FnOnce(Kubectl) + Send + 'static) -> Option<ApiServer> {
    let (server, _client) = common::start().await;
    let k = Kubectl::for_server(&server)?;
    tokio::task::spawn_blocking(move || steps(k)).await.unwrap();
    Some(server)
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  ports:\n  - {name: http, port: 80}\n";

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_get_label_patch_delete() {
    kubectl_session(|k| {
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
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crds_then_gateway_api_objects_and_wait_for_conditions() {
    kubectl_session(|k| {
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
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_watch_streams_changes() {
    kubectl_session(|k| {
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
    .await;
}

const PROTOBUF_REQUESTS: &str = "request application/vnd.kubernetes.protobuf";
const PROTOBUF_RESPONSES: &str = "response application/vnd.kubernetes.protobuf";

fn count(server: &ApiServer, key: &str) -> u64 {
    server.media_counts().get(key).copied().unwrap_or(0)
}

/// `kubectl create <generator> args...`, then `[kind, name, "{jsonpath}=expected"]` to read back.
fn generators() -> Vec<(Vec<String>, [&'static str; 3])> {
    let (cert, key) =
        (format!("--cert={}", repo("tests/apiserver/testdata/tls/server.crt")), format!("--key={}", repo("tests/apiserver/testdata/tls/server.key")));
    vec![
        (vec!["namespace".into(), "team-a".into()], ["namespace", "team-a", "{.metadata.name}=team-a"]),
        (vec!["service".into(), "clusterip".into(), "web".into(), "--tcp=80:8080".into()], ["service", "web", "{.spec.ports[0].targetPort}=8080"]),
        (
            vec!["service".into(), "nodeport".into(), "np".into(), "--tcp=81:8081".into(), "--node-port=30081".into()],
            ["service", "np", "{.spec.ports[0].nodePort}=30081"],
        ),
        (vec!["service".into(), "loadbalancer".into(), "lb".into(), "--tcp=443:8443".into()], ["service", "lb", "{.spec.type}=LoadBalancer"]),
        (
            vec!["service".into(), "externalname".into(), "ext".into(), "--external-name=example.com".into()],
            ["service", "ext", "{.spec.externalName}=example.com"],
        ),
        (vec!["secret".into(), "generic".into(), "creds".into(), "--from-literal=user=admin".into()], ["secret", "creds", "{.data.user}=YWRtaW4="]),
        (vec!["secret".into(), "tls".into(), "cert".into(), cert, key], ["secret", "cert", "{.type}=kubernetes.io/tls"]),
        (
            vec![
                "secret".into(),
                "docker-registry".into(),
                "pull".into(),
                "--docker-server=r.example".into(),
                "--docker-username=u".into(),
                "--docker-password=p".into(),
            ],
            ["secret", "pull", "{.type}=kubernetes.io/dockerconfigjson"],
        ),
        (vec!["configmap".into(), "cfg".into(), "--from-literal=mode=fast".into()], ["configmap", "cfg", "{.data.mode}=fast"]),
        (vec!["serviceaccount".into(), "robot".into()], ["serviceaccount", "robot", "{.metadata.name}=robot"]),
        (
            vec!["deployment".into(), "app".into(), "--image=nginx:1.27".into(), "--replicas=2".into(), "--port=80".into()],
            ["deployment", "app", "{.spec.template.spec.containers[0].image}=nginx:1.27"],
        ),
        (vec!["poddisruptionbudget".into(), "pdb".into(), "--selector=app=web".into(), "--min-available=1".into()], ["pdb", "pdb", "{.spec.minAvailable}=1"]),
        (vec!["role".into(), "reader".into(), "--verb=get,list".into(), "--resource=services".into()], ["role", "reader", "{.rules[0].verbs[1]}=list"]),
        (
            vec!["clusterrole".into(), "viewer".into(), "--verb=get".into(), "--resource=namespaces".into()],
            ["clusterrole", "viewer", "{.rules[0].resources[0]}=namespaces"],
        ),
        (
            vec!["rolebinding".into(), "read".into(), "--role=reader".into(), "--serviceaccount=team-a:robot".into()],
            ["rolebinding", "read", "{.subjects[0].name}=robot"],
        ),
        (
            vec!["clusterrolebinding".into(), "view".into(), "--clusterrole=viewer".into(), "--group=devs".into()],
            ["clusterrolebinding", "view", "{.roleRef.name}=viewer"],
        ),
    ]
}

/// Every `kubectl create <generator>` for a kind the server serves: kubectl's typed clients send
/// these as protobuf, and each object must then read back as JSON with what the generator set.
#[tokio::test(flavor = "multi_thread")]
async fn create_generators_send_protobuf_and_objects_read_back() {
    let generators = generators();
    let count_of_generators = generators.len() as u64;
    let Some(server) = kubectl_session(move |k| {
        for (generator, [kind, name, jsonpath]) in generators {
            let mut args = vec!["create", "-n", "team-a"];
            args.extend(generator.iter().map(String::as_str));
            assert!(k.ok(&args).contains("created"), "kubectl create {generator:?}");
            let (path, expected) = jsonpath.split_once('=').unwrap();
            let got = k.ok(&["get", kind, name, "-n", "team-a", "-o", &format!("jsonpath={path}")]);
            assert_eq!(got.trim(), expected, "{kind}/{name} {path}");
        }
        // A token for the ServiceAccount (the TokenRequest subresource).
        let token = k.ok(&["create", "token", "robot", "-n", "team-a", "--duration=10m"]);
        assert!(token.trim().starts_with("sa."), "{token}");
        let clash = k.fails(&["create", "namespace", "team-a"]);
        assert!(clash.contains("AlreadyExists") && clash.contains("namespaces \"team-a\" already exists"), "{clash}");
    })
    .await
    else {
        return;
    };
    let sent = count(&server, PROTOBUF_REQUESTS);
    assert!(sent > count_of_generators, "the generators sent {sent} protobuf bodies: {:?}", server.media_counts());
    assert!(count(&server, PROTOBUF_RESPONSES) >= count_of_generators, "{:?}", server.media_counts());
}

/// `kubectl wait` on built-in kinds: a condition, a jsonpath value, and deletion.
#[tokio::test(flavor = "multi_thread")]
async fn wait_for_conditions_jsonpath_and_deletion() {
    kubectl_session(|k| {
        k.ok(&["create", "deployment", "app", "--image=nginx:1.27"]);
        let waiter = k.command(&["wait", "--for=condition=Available", "deployment/app", "--timeout=20s"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let status = r#"{"status":{"replicas":1,"availableReplicas":1,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}"#;
        k.ok(&["patch", "deployment", "app", "--subresource=status", "--type=merge", "-p", status]);
        let out = waiter.wait_with_output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("condition met"), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(k.ok(&["wait", "--for=jsonpath={.status.availableReplicas}=1", "deployment/app", "--timeout=10s"]).contains("condition met"));
        let timeout = k.fails(&["wait", "--for=condition=Progressing", "deployment/app", "--timeout=1s"]);
        assert!(timeout.contains("timed out"), "{timeout}");
        k.ok(&["create", "configmap", "gone-soon"]);
        let waiter = k.command(&["wait", "--for=delete", "configmap/gone-soon", "--timeout=20s"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        k.ok(&["delete", "configmap", "gone-soon", "--wait=false"]);
        let out = waiter.wait_with_output().unwrap();
        assert!(out.status.success(), "wait --for=delete: {}", String::from_utf8_lossy(&out.stderr));
    })
    .await;
}

/// `kubectl describe` reads the object and its Events (by involvedObject field selectors).
#[tokio::test(flavor = "multi_thread")]
async fn describe_shows_the_object_and_its_events() {
    let Some(server) = kubectl_session(|k| {
        k.ok(&["create", "service", "clusterip", "web", "--tcp=80:8080"]);
        let uid = k.ok(&["get", "service", "web", "-o", "jsonpath={.metadata.uid}"]);
        let event = format!(
            "apiVersion: v1\nkind: Event\nmetadata: {{name: web.1, namespace: default}}\ninvolvedObject: {{kind: Service, name: web, namespace: default, uid: {uid}, apiVersion: v1}}\nreason: Programmed\nmessage: the load balancer answers\ntype: Normal\ncount: 3\nsource: {{component: portico}}\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:01:00Z\"\n"
        );
        let other = event.replace("name: web.1", "name: other.1").replace("name: web,", "name: other,").replace("the load balancer answers", "not this one");
        k.ok_stdin(&["create", "-f", "-"], &event);
        k.ok_stdin(&["create", "-f", "-"], &other);
        let described = k.ok(&["describe", "service", "web"]);
        for expected in ["Name:", "web", "TargetPort:", "8080/TCP", "Events:", "Programmed", "the load balancer answers", "portico"] {
            assert!(described.contains(expected), "{expected:?} missing from:\n{described}");
        }
        assert!(!described.contains("not this one"), "another object's Event:\n{described}");
        let namespace = k.ok(&["describe", "namespace", "default"]);
        assert!(namespace.contains("Status:") && namespace.contains("Active"), "{namespace}");
    })
    .await else { return };
    assert!(count(&server, PROTOBUF_RESPONSES) > 0, "describe reads through protobuf: {:?}", server.media_counts());
}

/// `kubectl diff` (server-side dry-run apply): exit 0 when nothing changes, 1 and the change otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_changes_against_the_live_object() {
    kubectl_session(|k| {
        k.ok_stdin(&["apply", "-f", "-"], SERVICE);
        assert!(k.run_with_stdin(&["diff", "-f", "-"], SERVICE).status.success(), "no change, exit 0");
        let out = k.run_with_stdin(&["diff", "-f", "-"], &SERVICE.replace("port: 80", "port: 8080"));
        let shown = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "a change exits 1: {}", String::from_utf8_lossy(&out.stderr));
        assert!(shown.contains("-  - name: http\n-    port: 80") || (shown.contains("-    port: 80") && shown.contains("+    port: 8080")), "{shown}");
        assert_eq!(k.ok(&["get", "service", "web", "-o", "jsonpath={.spec.ports[0].port}"]).trim(), "80", "diff changes nothing");
    })
    .await;
}

/// `kubectl auth can-i` asks the server (SelfSubjectAccessReview) and RBAC answers.
#[tokio::test(flavor = "multi_thread")]
async fn auth_can_i_answers_from_rbac() {
    let server = ApiServer::start(portico_apiserver::Options { rbac: true, ..Default::default() }).await.unwrap();
    let Some(admin) = Kubectl::for_server(&server) else { return };
    admin.ok(&["create", "serviceaccount", "robot"]);
    let token = server.service_account_token("default", "robot").unwrap();
    let robot = Kubectl::with_kubeconfig(&server, "robot", &server.kubeconfig_with_token(&token)).unwrap();
    tokio::task::spawn_blocking(move || {
        assert_eq!(admin.ok(&["auth", "can-i", "delete", "namespaces"]).trim(), "yes");
        let no = robot.command(&["auth", "can-i", "list", "services"]).output().unwrap();
        assert_eq!((no.status.code(), String::from_utf8_lossy(&no.stdout).trim()), (Some(1), "no"), "{}", String::from_utf8_lossy(&no.stderr));
        admin.ok(&["create", "role", "svc-reader", "--verb=get,list", "--resource=services"]);
        admin.ok(&["create", "rolebinding", "robot-reads", "--role=svc-reader", "--serviceaccount=default:robot"]);
        assert_eq!(robot.ok(&["auth", "can-i", "list", "services"]).trim(), "yes");
        assert_eq!(robot.ok(&["auth", "can-i", "get", "services", "-n", "default"]).trim(), "yes");
        let elsewhere = robot.command(&["auth", "can-i", "list", "services", "-n", "kube-system"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&elsewhere.stdout).trim(), "no", "a RoleBinding grants in its namespace only");
        let delete = robot.command(&["auth", "can-i", "delete", "services"]).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&delete.stdout).trim(), "no");
        assert_eq!(robot.ok(&["auth", "can-i", "get", "/healthz"]).trim(), "yes");
    })
    .await
    .unwrap();
    // Each can-i is one SelfSubjectAccessReview, sent and answered in protobuf.
    assert!(count(&server, PROTOBUF_REQUESTS) >= 7 && count(&server, PROTOBUF_RESPONSES) >= 7, "{:?}", server.media_counts());
}

/// `kubectl get -w` (JSON, kubectl's printers) and `kubectl events -w` (a typed client: a protobuf
/// list and watch) follow changes to built-in kinds.
#[tokio::test(flavor = "multi_thread")]
async fn get_and_events_watch_stream_changes_with_events_over_protobuf() {
    let spawn = |k: &Kubectl, args: &[&str]| k.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stop = |child: std::process::Child| {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).to_string()
    };
    let Some(server) = kubectl_session(move |k| {
        k.ok(&["create", "configmap", "first"]);
        let configmaps = spawn(&k, &["get", "configmaps", "-w", "-o", "jsonpath={.metadata.name} {.data.k}{\"\\n\"}", "--request-timeout=5s"]);
        let events = spawn(&k, &["events", "-w"]);
        std::thread::sleep(std::time::Duration::from_millis(800));
        k.ok(&["create", "configmap", "second", "--from-literal=k=v2"]);
        k.ok(&["patch", "configmap", "first", "--type=merge", "-p", r#"{"data":{"k":"v1"}}"#]);
        let event = "apiVersion: v1\nkind: Event\nmetadata: {name: first.1, namespace: default}\ninvolvedObject: {kind: ConfigMap, name: first, namespace: default}\nreason: Rotated\nmessage: the key changed\ntype: Normal\ncount: 1\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\nlastTimestamp: \"2026-01-01T00:00:00Z\"\n";
        k.ok_stdin(&["create", "-f", "-"], event);
        std::thread::sleep(std::time::Duration::from_millis(800));
        let seen = stop(configmaps);
        for line in ["first", "second v2", "first v1"] {
            assert!(seen.lines().any(|l| l.trim() == line), "{line:?} missing from the watch output:\n{seen}");
        }
        let seen = stop(events);
        assert!(seen.contains("Rotated") && seen.contains("ConfigMap/first") && seen.contains("the key changed"), "kubectl events -w:\n{seen}");
    })
    .await
    else {
        return;
    };
    assert!(count(&server, "watch application/vnd.kubernetes.protobuf") >= 1, "kubectl events -w watches in protobuf: {:?}", server.media_counts());
    assert!(count(&server, "watch application/json") >= 1, "kubectl get -w watches in JSON: {:?}", server.media_counts());
}

/// `kubectl explain` reads the OpenAPI v3 schemas: built-in kinds and custom resources.
#[tokio::test(flavor = "multi_thread")]
async fn explain_reads_openapi_v3_schemas() {
    kubectl_session(|k| {
        let ports = k.ok(&["explain", "service.spec.ports"]);
        for expected in ["KIND:", "Service", "VERSION:", "v1", "targetPort", "nodePort", "port"] {
            assert!(ports.contains(expected), "{expected:?} missing:\n{ports}");
        }
        let deployment = k.ok(&["explain", "deployments.spec.replicas"]);
        assert!(deployment.contains("GROUP:") && deployment.contains("apps") && deployment.contains("integer"), "{deployment}");
        k.ok(&["apply", "--server-side", "-f", &repo("crds/gateway-api.yaml")]);
        let listeners = k.ok(&["explain", "gateways.spec.listeners", "--api-version=gateway.networking.k8s.io/v1"]);
        assert!(listeners.contains("allowedRoutes") && listeners.contains("protocol"), "{listeners}");
        let missing = k.fails(&["explain", "service.spec.nosuchfield"]);
        assert!(missing.contains("nosuchfield"), "{missing}");
    })
    .await;
}
