//! `terraform-test/gcp` is applied by hand in a real project, never in CI. This test parses it and
//! checks what would otherwise only show up there: the operator's custom role holds exactly the
//! permissions the provider declares (`portico_gcp::permissions::REQUIRED`), no broad role is
//! granted anywhere, only the Kubernetes service account `portico-system/portico` can act as the
//! operator's Google service account, and the configuration is wired together and complete.

use std::collections::BTreeSet;

use hcl::expr::{Expression, ObjectKey};
use hcl::{Block, Body, Structure};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../terraform-test/gcp");

/// Granted nowhere: the primitive roles, and Compute Admin (which would make the custom role moot).
const FORBIDDEN_ROLES: &[&str] = &["roles/owner", "roles/editor", "roles/viewer", "roles/compute.admin"];

/// The only Kubernetes service account (`namespace/name`) that may act as the operator.
const OPERATOR_KSA: &str = "portico-system/portico";

/// Every top-level block of every `*.tf` file of [`DIR`].
struct Config {
    blocks: Vec<Block>,
}

impl Config {
    /// Parses every file; panics naming the first one that does not parse.
    fn load() -> Config {
        let mut files: Vec<_> = std::fs::read_dir(DIR)
            .unwrap_or_else(|e| panic!("{DIR}: {e}"))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
            .collect();
        files.sort();
        assert!(files.len() >= 5, "expected the Terraform files in {DIR}, found {files:?}");
        let mut blocks = Vec::new();
        for file in &files {
            let source = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            match hcl::parse(&source) {
                Ok(body) => blocks.extend(body.into_blocks()),
                Err(e) => panic!("{} does not parse: {e}", file.display()),
            }
        }
        Config { blocks }
    }

    /// `(name, body)` of every `kind "ty" "name" { ... }`, e.g. `resource "google_compute_network" "this"`.
    fn all(&self, kind: &str, ty: &str) -> Vec<(&str, &Body)> {
        let of_kind = self.blocks.iter().filter(|b| b.identifier() == kind);
        of_kind
            .filter_map(|b| match b.labels() {
                [first, second, ..] if first.as_str() == ty => Some((second.as_str(), b.body())),
                _ => None,
            })
            .collect()
    }

    /// The one `kind "ty"` block there must be.
    fn one(&self, kind: &str, ty: &str) -> (&str, &Body) {
        let found = self.all(kind, ty);
        let names: Vec<_> = found.iter().map(|(name, _)| *name).collect();
        let [only] = found.as_slice() else { panic!("expected exactly one {kind} \"{ty}\", found {names:?}") };
        *only
    }

    /// Bodies of the top-level blocks with one label or none (`output "x"`, `locals`, `terraform`).
    fn plain(&self, kind: &str) -> impl Iterator<Item = (&str, &Body)> {
        let kind = kind.to_string();
        self.blocks.iter().filter(move |b| b.identifier() == kind).map(|b| (b.labels().first().map_or("", |l| l.as_str()), b.body()))
    }

    /// The expression of `local.name`.
    fn local(&self, name: &str) -> &Expression {
        let found = self.plain("locals").flat_map(|(_, body)| body.attributes()).find(|a| a.key() == name);
        found.unwrap_or_else(|| panic!("local.{name} is not defined")).expr()
    }

    /// The definition of a `local.x` reference; any other expression as it is.
    fn resolve<'a>(&'a self, expr: &'a Expression) -> &'a Expression {
        if let Expression::Traversal(_) = expr {
            let reference = expr.to_string();
            if let Some(name) = reference.strip_prefix("local.").filter(|n| n.chars().all(ident_char)) {
                return self.local(name);
            }
        }
        expr
    }

    /// Every attribute expression at any depth of every block but `variable` ones, formatted as
    /// HCL (so the references and strings inside `"${...}"` templates and function calls show).
    fn expressions(&self) -> Vec<String> {
        fn collect(body: &Body, into: &mut Vec<String>) {
            for structure in body.iter() {
                match structure {
                    Structure::Attribute(attribute) => into.push(attribute.expr().to_string()),
                    Structure::Block(block) => collect(block.body(), into),
                }
            }
        }
        let mut texts = Vec::new();
        self.blocks.iter().filter(|b| b.identifier() != "variable").for_each(|b| collect(b.body(), &mut texts));
        texts
    }

    /// The `x` of every `root.x` referenced, e.g. every variable used for `root` `var`.
    fn references(&self, root: &str) -> BTreeSet<String> {
        let prefix = format!("{root}.");
        let mut found = BTreeSet::new();
        for text in self.expressions() {
            for (start, _) in text.match_indices(&prefix) {
                // `var.x` itself, not the tail of `something.var.x` or of `my_var.x`.
                if text[..start].ends_with(|c: char| ident_char(c) || c == '.') {
                    continue;
                }
                let name: String = text[start + prefix.len()..].chars().take_while(|c| ident_char(*c)).collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
        found
    }

    /// The quoted strings of every expression that start with `start` (through the closing quote).
    fn quoted_starting_with(&self, start: &str) -> BTreeSet<String> {
        let opening = format!("\"{start}");
        let mut found = BTreeSet::new();
        for text in self.expressions() {
            for (index, _) in text.match_indices(&opening) {
                let rest = &text[index + 1..];
                found.insert(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
            }
        }
        found
    }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// The first nested block `ident { ... }` of a body; panics when there is none.
fn block<'a>(body: &'a Body, ident: &str) -> &'a Body {
    body.blocks().find(|b| b.identifier() == ident).map(Block::body).unwrap_or_else(|| panic!("no {ident} block"))
}

fn blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = &'a Body> {
    body.blocks().filter(move |b| b.identifier() == ident).map(Block::body)
}

/// A string as written (templates keep their `${...}`); any other expression formatted as HCL.
fn string(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(template) => template.to_string(),
        other => other.to_string(),
    }
}

/// The items of an array as [`string`]s; a single other expression as one; nothing as none.
fn strings(expr: Option<&Expression>) -> Vec<String> {
    match expr {
        Some(Expression::Array(items)) => items.iter().map(string).collect(),
        Some(other) => vec![string(other)],
        None => Vec::new(),
    }
}

/// An attribute of a body as a [`string`], empty when absent.
fn value(body: &Body, key: &str) -> String {
    attr(body, key).map(string).unwrap_or_default()
}

/// The expression at `path` inside nested objects (a manifest, a map attribute).
fn at<'a>(expr: &'a Expression, path: &[&str]) -> Option<&'a Expression> {
    let key_text = |key: &ObjectKey| match key {
        ObjectKey::Expression(e) => string(e),
        other => other.to_string(),
    };
    path.iter().try_fold(expr, |current, wanted| {
        let Expression::Object(object) = current else { return None };
        object.iter().find_map(|(key, field)| (key_text(key) == *wanted).then_some(field))
    })
}

/// [`at`] as a [`string`], empty when absent.
fn text_at(expr: &Expression, path: &[&str]) -> String {
    at(expr, path).map(string).unwrap_or_default()
}

/// The manifest of the one `kubernetes_manifest` of this `kind`.
fn manifest<'a>(tf: &'a Config, kind: &str) -> &'a Expression {
    let manifests = tf.all("resource", "kubernetes_manifest").into_iter().filter_map(|(_, body)| attr(body, "manifest"));
    let found: Vec<_> = manifests.filter(|m| text_at(m, &["kind"]) == kind).collect();
    let [only] = found.as_slice() else { panic!("expected one kubernetes_manifest of kind {kind}, found {}", found.len()) };
    only
}

/// Name of the `google_service_account` the `portico` Kubernetes service account is annotated with.
fn operator_account(tf: &Config) -> String {
    let (_, account) = tf.one("resource", "kubernetes_service_account_v1");
    let annotations = attr(block(account, "metadata"), "annotations").expect("the service account has no annotations");
    let annotation = text_at(annotations, &["iam.gke.io/gcp-service-account"]);
    let name = annotation.strip_prefix("google_service_account.").and_then(|r| r.strip_suffix(".email"));
    let name = name.unwrap_or_else(|| panic!("iam.gke.io/gcp-service-account is {annotation:?}, not a google_service_account's email"));
    assert!(tf.all("resource", "google_service_account").iter().any(|(n, _)| *n == name), "no google_service_account {name:?}");
    name.to_string()
}

/// Whether an IAM member names the Google service account `google_service_account.<account>`.
fn names_account(member: &str, account: &str) -> bool {
    member.contains(&format!("google_service_account.{account}."))
}

#[test]
fn every_file_parses_and_pins_the_google_provider() {
    let tf = Config::load();
    let (_, terraform) = tf.plain("terraform").next().expect("a terraform block");
    let google = attr(block(terraform, "required_providers"), "google").expect("the google provider is required");
    assert_eq!(text_at(google, &["source"]), "hashicorp/google");
    assert!(text_at(google, &["version"]).starts_with("~> 6"), "google provider ~> 6");
    assert!(tf.plain("provider").any(|(name, _)| name == "kubernetes"), "a kubernetes provider");
}

#[test]
fn builds_a_network_with_a_proxy_only_subnetwork_and_a_vpc_native_gke_cluster() {
    let tf = Config::load();
    let (network, network_body) = tf.one("resource", "google_compute_network");
    assert_eq!(value(network_body, "auto_create_subnetworks"), "false", "a custom-mode network");
    let in_network = |body: &Body| value(body, "network").starts_with(&format!("google_compute_network.{network}."));

    let subnetworks = tf.all("resource", "google_compute_subnetwork");
    for &(name, body) in &subnetworks {
        assert!(in_network(body), "subnetwork {name} is not in network {network}");
        assert_eq!(value(body, "region"), "var.region", "subnetwork {name}");
    }
    let (proxy_only, others): (Vec<_>, Vec<_>) = subnetworks.iter().partition(|(_, body)| value(body, "purpose") == "REGIONAL_MANAGED_PROXY");
    let [(_, proxy_only)] = proxy_only.as_slice() else { panic!("expected one proxy-only subnetwork, found {}", proxy_only.len()) };
    assert_eq!(value(proxy_only, "role"), "ACTIVE", "the proxy-only subnetwork must be the active one");
    let [(nodes, nodes_body)] = others.as_slice() else { panic!("expected one subnetwork for the nodes, found {}", others.len()) };
    let secondary: BTreeSet<String> = blocks(nodes_body, "secondary_ip_range").map(|r| value(r, "range_name")).collect();

    let (cluster, cluster_body) = tf.one("resource", "google_container_cluster");
    assert!(in_network(cluster_body), "the cluster is not in network {network}");
    assert!(value(cluster_body, "subnetwork").starts_with(&format!("google_compute_subnetwork.{nodes}.")), "the cluster's subnetwork");
    assert_ne!(value(cluster_body, "enable_autopilot"), "true", "a GKE Standard cluster");
    let allocation = block(cluster_body, "ip_allocation_policy");
    let pods = value(allocation, "cluster_secondary_range_name");
    let services = value(allocation, "services_secondary_range_name");
    assert_ne!(pods, services, "pods and Services need their own ranges");
    for range in [&pods, &services] {
        assert!(secondary.contains(range), "{range:?} is not a secondary range of subnetwork {nodes}: {secondary:?}");
    }
    let pool = value(block(cluster_body, "workload_identity_config"), "workload_pool");
    assert_eq!(pool, "${var.project}.svc.id.goog", "Workload Identity must be on, with the project's pool");

    let (_, node_pool) = tf.one("resource", "google_container_node_pool");
    assert!(value(node_pool, "cluster").starts_with(&format!("google_container_cluster.{cluster}.")), "the node pool's cluster");
    let metadata = block(block(node_pool, "node_config"), "workload_metadata_config");
    assert_eq!(value(metadata, "mode"), "GKE_METADATA", "pods must get their Workload Identity from the GKE metadata server");
}

#[test]
fn custom_role_has_exactly_the_permissions_the_provider_uses() {
    let tf = Config::load();
    let (role, body) = tf.one("resource", "google_project_iam_custom_role");
    let permissions = attr(body, "permissions").unwrap_or_else(|| panic!("custom role {role} has no permissions"));
    let listed = strings(Some(tf.resolve(permissions)));
    let granted: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(granted.len(), listed.len(), "custom role {role} lists a permission twice");
    let required: BTreeSet<&str> = portico_gcp::permissions::REQUIRED.iter().copied().collect();
    assert_eq!(required.len(), portico_gcp::permissions::REQUIRED.len(), "REQUIRED names a permission twice");
    for permission in &granted {
        let parts: Vec<_> = permission.split('.').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric())),
            "{permission:?} is not service.resource.verb"
        );
    }
    let missing: Vec<_> = required.difference(&granted).collect();
    assert!(missing.is_empty(), "custom role {role} lacks permissions the provider uses: {missing:?}");
    let extra: Vec<_> = granted.difference(&required).collect();
    assert!(extra.is_empty(), "custom role {role} grants permissions the provider does not use: {extra:?}");
}

#[test]
fn operator_account_holds_the_custom_role_and_nothing_else() {
    let tf = Config::load();
    let account = operator_account(&tf);
    let (role, _) = tf.one("resource", "google_project_iam_custom_role");
    let mut grants = Vec::new();
    for resource in tf.blocks.iter().filter(|b| b.identifier() == "resource") {
        let [ty, name, ..] = resource.labels() else { continue };
        if !ty.as_str().contains("_iam_") || ty.as_str().ends_with("_custom_role") {
            continue;
        }
        let body = resource.body();
        let members = [strings(attr(body, "member")), strings(attr(body, "members"))].concat();
        if members.iter().any(|m| names_account(m, &account)) {
            grants.push((ty.as_str(), name.as_str(), body));
        }
    }
    let found: Vec<_> = grants.iter().map(|(ty, name, _)| format!("{ty}.{name}")).collect();
    let [(ty, _, grant)] = grants.as_slice() else { panic!("{account} should be granted exactly one role, is granted {found:?}") };
    assert_eq!(*ty, "google_project_iam_member", "the custom role is granted with a non-authoritative project member");
    assert_eq!(value(grant, "project"), "var.project");
    let granted = value(grant, "role");
    let custom = [format!("google_project_iam_custom_role.{role}.name"), format!("google_project_iam_custom_role.{role}.id")];
    assert!(custom.contains(&granted), "{account} is granted {granted}, not the custom role {role}");
}

#[test]
fn grants_no_primitive_or_compute_admin_role_and_no_authoritative_policy() {
    let tf = Config::load();
    let roles = tf.quoted_starting_with("roles/");
    assert!(roles.contains("roles/iam.workloadIdentityUser"), "the walk found only {roles:?}");
    let forbidden: Vec<_> = roles.iter().filter(|r| FORBIDDEN_ROLES.contains(&r.as_str())).collect();
    assert!(forbidden.is_empty(), "granted somewhere: {forbidden:?}");
    // `*_iam_binding` and `*_iam_policy` replace every member of a role or the whole policy: on a
    // project this would also strip access from everyone else.
    let authoritative: Vec<_> = tf
        .blocks
        .iter()
        .filter(|b| b.identifier() == "resource")
        .filter_map(|b| b.labels().first().map(|l| l.as_str()))
        .filter(|ty| ty.contains("_iam_") && (ty.ends_with("_iam_binding") || ty.ends_with("_iam_policy")))
        .collect();
    assert!(authoritative.is_empty(), "authoritative IAM resources: {authoritative:?}");
}

#[test]
fn only_portico_system_portico_can_act_as_the_operator() {
    let tf = Config::load();
    let account = operator_account(&tf);
    let on_account: Vec<_> = tf
        .all("resource", "google_service_account_iam_member")
        .into_iter()
        .filter(|(_, body)| value(body, "service_account_id").starts_with(&format!("google_service_account.{account}.")))
        .collect();
    let names: Vec<_> = on_account.iter().map(|(name, _)| *name).collect();
    let [(_, binding)] = on_account.as_slice() else { panic!("only the Workload Identity binding may be on {account}, found {names:?}") };
    assert_eq!(value(binding, "role"), "roles/iam.workloadIdentityUser");
    let member = format!("serviceAccount:${{var.project}}.svc.id.goog[{OPERATOR_KSA}]");
    assert_eq!(strings(attr(binding, "member")), std::slice::from_ref(&member), "the Workload Identity member");
    let (_, cluster) = tf.one("resource", "google_container_cluster");
    let pool = value(block(cluster, "workload_identity_config"), "workload_pool");
    assert_eq!(member, format!("serviceAccount:{pool}[{OPERATOR_KSA}]"), "the member is of the cluster's pool");

    // No other Kubernetes service account is granted anything, anywhere.
    for text in tf.expressions() {
        for (start, _) in text.match_indices(".svc.id.goog[") {
            let rest = &text[start + ".svc.id.goog[".len()..];
            let subject = &rest[..rest.find(']').unwrap_or(rest.len())];
            assert_eq!(subject, OPERATOR_KSA, "a Workload Identity member in {text}");
        }
    }

    // The service account the Deployment runs as is that one and carries the annotation.
    let (account_resource, service_account) = tf.one("resource", "kubernetes_service_account_v1");
    let metadata = block(service_account, "metadata");
    let (namespace, namespace_body) = tf.one("resource", "kubernetes_namespace_v1");
    let namespace_name = value(block(namespace_body, "metadata"), "name");
    assert_eq!(format!("{namespace_name}/{}", value(metadata, "name")), OPERATOR_KSA);
    assert_eq!(value(metadata, "namespace"), format!("kubernetes_namespace_v1.{namespace}.metadata[0].name"));
    let (_, deployment) = tf.one("resource", "kubernetes_deployment_v1");
    let pod = block(block(block(deployment, "spec"), "template"), "spec");
    let runs_as = value(pod, "service_account_name");
    assert_eq!(runs_as, format!("kubernetes_service_account_v1.{account_resource}.metadata[0].name"), "the Deployment's service account");
}

#[test]
fn installs_portico_for_the_gcp_gateway_class() {
    let tf = Config::load();
    let class = manifest(&tf, "GatewayClass");
    let parameters = manifest(&tf, "GCPLoadBalancerParameters");
    assert_eq!(text_at(class, &["apiVersion"]), "gateway.networking.k8s.io/v1");
    assert_eq!(text_at(class, &["metadata", "name"]), "portico-gcp");
    assert_eq!(text_at(class, &["spec", "controllerName"]), "portico.dev/gcp");
    let reference = |key: &str| text_at(class, &["spec", "parametersRef", key]);
    assert_eq!(reference("group"), "portico.dev");
    assert_eq!(reference("kind"), "GCPLoadBalancerParameters");
    assert_eq!(reference("name"), text_at(parameters, &["metadata", "name"]), "parametersRef.name");
    assert_eq!(reference("namespace"), text_at(parameters, &["metadata", "namespace"]), "parametersRef.namespace");

    assert_eq!(text_at(parameters, &["apiVersion"]), "portico.dev/v1alpha1");
    assert_eq!(text_at(parameters, &["spec", "project"]), "var.project");
    assert_eq!(text_at(parameters, &["spec", "scope"]), "GlobalExternalManaged");
    let (network, _) = tf.one("resource", "google_compute_network");
    let parameters_network = text_at(parameters, &["spec", "network"]);
    assert!(parameters_network.starts_with(&format!("google_compute_network.{network}.")), "spec.network is {parameters_network}");
    let targets = strings(at(parameters, &["spec", "firewallTargets", "networkTags"]));
    let (_, node_pool) = tf.one("resource", "google_container_node_pool");
    let node_tags = strings(attr(block(node_pool, "node_config"), "tags"));
    assert!(!targets.is_empty(), "firewallTargets.networkTags is empty");
    assert!(targets.iter().all(|t| node_tags.contains(t)), "firewallTargets.networkTags {targets:?} are not all tags of the nodes {node_tags:?}");

    let (_, deployment) = tf.one("resource", "kubernetes_deployment_v1");
    let pod = block(block(block(deployment, "spec"), "template"), "spec");
    let container = block(pod, "container");
    assert_eq!(strings(attr(container, "command")), ["portico"]);
    let args = strings(attr(container, "args")).join(" ");
    assert!(args.starts_with("run --provider gcp --cluster-name var.cluster_name"), "{args}");
}

#[test]
fn outputs_name_the_cluster_and_the_operator_account() {
    let tf = Config::load();
    let outputs: Vec<String> = tf.plain("output").map(|(_, body)| value(body, "value")).collect();
    let (cluster, _) = tf.one("resource", "google_container_cluster");
    let account = operator_account(&tf);
    for wanted in [format!("google_container_cluster.{cluster}.name"), format!("google_service_account.{account}.email")] {
        assert!(outputs.contains(&wanted), "no output is {wanted}: {outputs:?}");
    }
}

#[test]
fn every_variable_used_is_declared_and_every_declared_one_used() {
    let tf = Config::load();
    let declared: BTreeSet<String> = tf.plain("variable").map(|(name, _)| name.to_string()).collect();
    let used = tf.references("var");
    for expected in ["project", "region", "zone", "cluster_name", "portico_image"] {
        assert!(used.contains(expected), "var.{expected} is never used (the walk found {used:?})");
    }
    let undeclared: Vec<_> = used.difference(&declared).collect();
    assert!(undeclared.is_empty(), "variables used but not declared: {undeclared:?}");
    let unused: Vec<_> = declared.difference(&used).collect();
    assert!(unused.is_empty(), "variables declared but never used: {unused:?}");
    let defined: BTreeSet<String> = tf.plain("locals").flat_map(|(_, body)| body.attributes().map(|a| a.key().to_string())).collect();
    let undefined: Vec<_> = tf.references("local").into_iter().filter(|l| !defined.contains(l)).collect();
    assert!(undefined.is_empty(), "locals used but not defined: {undefined:?}");
}
