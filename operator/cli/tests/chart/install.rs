//! The rendered chart installed with a real kubectl on an API server that authorizes with RBAC,
//! and the persona roles doing what docs/install.md says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portico_apiserver::upstream::Channel;
use portico_apiserver::{ApiServer, Options};
use serde_json::json;

use crate::helm::render;
use crate::values::with;

fn kubectl() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let path = home.join(".cache/portico-tools/bin/kubectl");
    assert!(path.is_file(), "kubectl not found: run ./scripts/test (it installs kubectl) or set KUBECTL");
    path
}

pub struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(dir: &Path, name: &str, kubeconfig: &str) -> Kubectl {
        let path = dir.join(format!("{name}.kubeconfig"));
        std::fs::write(&path, kubeconfig).unwrap();
        Kubectl { kubeconfig: path }
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(kubectl());
        command.args(args).env("KUBECONFIG", &self.kubeconfig).env_remove("KUBERNETES_SERVICE_HOST");
        match stdin {
            None => command.output().unwrap(),
            Some(text) => {
                use std::io::Write as _;
                let mut child =
                    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
                child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
                child.wait_with_output().unwrap()
            }
        }
    }

    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "kubectl {args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn refused(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "kubectl {args:?} should have been refused: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portico-chart-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn yaml(objects: &[serde_json::Value]) -> String {
    objects.iter().map(|o| serde_yaml::to_string(o).unwrap()).collect::<Vec<_>>().join("---\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn installs_with_kubectl_and_the_persona_roles_aggregate() {
    let server = ApiServer::start(Options { rbac: true, ..Options::default() }).await.unwrap();
    server.install_upstream_gateway_api(Channel::Standard).unwrap();
    let dir = scratch("install");
    let admin = Kubectl::new(&dir, "admin", &server.kubeconfig());
    let rendered = render(&with(&["haproxy", "aws", "gcp"], json!({"providers": {"haproxy": {"gatewayClass": {"create": true}}}}))).ok();
    // As `helm install` does: crds/ first, then the templates.
    admin.ok(&["apply", "-f", "-"], Some(&rendered.crds.values().cloned().collect::<Vec<_>>().join("\n---\n")));
    admin.ok(&["apply", "-f", "-"], Some(&yaml(&[json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "portico-system"}})])));
    let templates = yaml(&rendered.objects());
    let dry = admin.ok(&["apply", "--dry-run=server", "-f", "-"], Some(&templates));
    assert!(dry.contains("deployment.apps/portico created (server dry run)"), "{dry}");
    let applied = admin.ok(&["apply", "-f", "-"], Some(&templates));
    for expected in [
        "serviceaccount/portico",
        "clusterrole.rbac.authorization.k8s.io/portico",
        "role.rbac.authorization.k8s.io/portico-leader",
        "deployment.apps/portico",
        "poddisruptionbudget.policy/portico",
        "gatewayclass.gateway.networking.k8s.io/portico-haproxy",
        "service/portico-metrics",
    ] {
        assert!(applied.contains(&format!("{expected} created")), "{expected} missing from: {applied}");
    }
    let printed = admin.ok(&["get", "crd", "haproxyparameters.portico.dev", "-o", "jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}"], None);
    assert_eq!(printed, "Mode Pool Age");

    // Personas: Ana (application developer, through the built-in edit role in her namespace),
    // Chihiro (cluster operator, through admin there), Ian (infrastructure provider, cluster-wide).
    let people = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ana, namespace: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: chihiro, namespace: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ian, namespace: team}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ana-edit, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{kind: ServiceAccount, name: ana, namespace: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: chihiro-admin, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: ServiceAccount, name: chihiro, namespace: team}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ian-infrastructure}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: portico-infrastructure-provider}
subjects: [{kind: ServiceAccount, name: ian, namespace: team}]
"#;
    admin.ok(&["apply", "-f", "-"], Some(people));
    let as_user = |name: &str| {
        let token = server.service_account_token("team", name).unwrap();
        Kubectl::new(&dir, name, &server.kubeconfig_with_token(&token))
    };
    let (ana, chihiro, ian) = (as_user("ana"), as_user("chihiro"), as_user("ian"));
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: team}\nspec: {parentRefs: [{name: gw}]}\n";
    let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: team}\nspec:\n  gatewayClassName: portico-haproxy\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n";
    let class = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: shared}\nspec: {controllerName: portico.dev/haproxy}\n";
    ana.ok(&["apply", "-f", "-"], Some(route));
    let refused = ana.refused(&["apply", "-f", "-"], Some(gateway));
    assert!(
        refused.contains(
            r#"User "system:serviceaccount:team:ana" cannot create resource "gateways" in API group "gateway.networking.k8s.io" in the namespace "team""#
        ),
        "{refused}"
    );
    ana.ok(&["get", "gateways", "-n", "team"], None);
    chihiro.ok(&["apply", "-f", "-"], Some(gateway));
    let refused = chihiro.refused(&["apply", "-f", "-"], Some(class));
    assert!(refused.contains("cannot get resource \"gatewayclasses\" in API group \"gateway.networking.k8s.io\" at the cluster scope"), "{refused}");
    chihiro.refused(&["patch", "gateway", "gw", "-n", "team", "--subresource=status", "--type=merge", "-p", r#"{"status":{"addresses":[]}}"#], None);
    ian.ok(&["apply", "-f", "-"], Some(class));
    ian.ok(&["get", "haproxyparameters", "-A"], None);
    let refused = ian.refused(&["get", "secrets", "-n", "portico-system"], None);
    assert!(refused.contains("Forbidden") || refused.contains("forbidden"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}
