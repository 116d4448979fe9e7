//! Authentication (bearer tokens) and RBAC authorization, as kube-apiserver does them with
//! `--authorization-mode=RBAC`: Roles, ClusterRoles (with aggregation rules), RoleBindings and
//! ClusterRoleBindings, `resourceNames`, subresources, and kube-apiserver's 401/403 bodies.
//!
//! Off by default (every request is allowed, as before); `Options::rbac` turns it on. With it on,
//! the kubeconfig's token is a `system:masters` user and ServiceAccount tokens come from
//! [`crate::ApiServer::service_account_token`] or the TokenRequest subresource
//! (`kubectl create token`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::store::Store;

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn admin() -> User {
        User { name: "portico-sandbox-admin".into(), groups: vec!["system:masters".into(), "system:authenticated".into()] }
    }

    pub fn anonymous() -> User {
        User { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()] }
    }

    pub fn service_account(namespace: &str, name: &str) -> User {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}"), "system:authenticated".into()],
        }
    }

    fn authenticated(&self) -> bool {
        self.groups.iter().any(|g| g == "system:authenticated")
    }
}

/// The token of the kubeconfig the server writes.
pub const ADMIN_TOKEN: &str = "sandbox";

/// Issued tokens: token -> (namespace, ServiceAccount name, ServiceAccount uid).
#[derive(Debug, Default)]
pub struct Tokens {
    issued: BTreeMap<String, (String, String, String)>,
}

impl Tokens {
    pub fn issue(&mut self, namespace: &str, name: &str, uid: &str) -> String {
        let token = format!("sa.{}", uuid::Uuid::new_v4().simple());
        self.issued.insert(token.clone(), (namespace.into(), name.into(), uid.into()));
        token
    }

    /// The user behind an `Authorization` header value; `Err` is kube-apiserver's 401. A
    /// ServiceAccount token stops working when its ServiceAccount is deleted (bound tokens).
    pub fn authenticate(&self, header: Option<&str>, store: &Store) -> Result<User, ApiError> {
        let Some(header) = header else { return Ok(User::anonymous()) };
        let token = header.strip_prefix("Bearer ").map(str::trim).ok_or_else(ApiError::unauthorized)?;
        if token == ADMIN_TOKEN {
            return Ok(User::admin());
        }
        let (namespace, name, uid) = self.issued.get(token).ok_or_else(ApiError::unauthorized)?;
        let sa = store.objects.get(&(String::new(), "serviceaccounts".into())).and_then(|m| m.get(&(namespace.clone(), name.clone())));
        match sa.and_then(|sa| sa.pointer("/metadata/uid")).and_then(Value::as_str) {
            Some(current) if current == uid => Ok(User::service_account(namespace, name)),
            _ => Err(ApiError::unauthorized()),
        }
    }
}

/// What a request does, as RBAC sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// Non-resource paths every client may read: kube-apiserver's bootstrap `system:public-info-viewer`
/// (everyone) and `system:discovery` (authenticated users) ClusterRoles.
pub fn non_resource_allowed(user: &User, path: &str) -> bool {
    let public = ["/healthz", "/livez", "/readyz", "/version"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let discovery = path == "/api" || path == "/apis" || ["/api/", "/apis/", "/openapi/"].iter().any(|p| path.starts_with(p));
    public || (discovery && user.authenticated())
}

/// Allowed, or kube-apiserver's 403 for it.
pub fn authorize(store: &Store, user: &User, request: &Attributes) -> Result<(), ApiError> {
    if user.groups.iter().any(|g| g == "system:masters") || rules_for(store, user, request.namespace.as_deref()).iter().any(|r| rule_allows(r, request)) {
        return Ok(());
    }
    Err(forbidden(user, request))
}

/// The rules that apply to `user` in `namespace` (cluster-wide bindings always; a namespace's
/// RoleBindings only there).
fn rules_for(store: &Store, user: &User, namespace: Option<&str>) -> Vec<Value> {
    let mut rules = Vec::new();
    for binding in objects(store, "clusterrolebindings") {
        if binds(binding, user) && role_ref_kind(binding) == Some("ClusterRole") {
            rules.extend(cluster_role_rules(store, role_ref_name(binding)));
        }
    }
    if let Some(namespace) = namespace {
        for binding in objects(store, "rolebindings").filter(|b| b.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace)) {
            if !binds(binding, user) {
                continue;
            }
            match role_ref_kind(binding) {
                Some("ClusterRole") => rules.extend(cluster_role_rules(store, role_ref_name(binding))),
                Some("Role") => {
                    let role = objects(store, "roles")
                        .find(|r| r.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace) && name_of(r) == role_ref_name(binding));
                    rules.extend(role.and_then(|r| r.get("rules")).and_then(Value::as_array).cloned().unwrap_or_default());
                }
                _ => {}
            }
        }
    }
    rules
}

fn objects<'a>(store: &'a Store, plural: &str) -> impl Iterator<Item = &'a Value> {
    store.objects.get(&("rbac.authorization.k8s.io".to_string(), plural.to_string())).into_iter().flat_map(|m| m.values())
}

fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

fn role_ref_kind(binding: &Value) -> Option<&str> {
    binding.pointer("/roleRef/kind").and_then(Value::as_str)
}

fn role_ref_name(binding: &Value) -> &str {
    binding.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or("")
}

fn binds(binding: &Value, user: &User) -> bool {
    let binding_ns = binding.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    binding.get("subjects").and_then(Value::as_array).into_iter().flatten().any(|s| {
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
        match text("kind") {
            "User" => text("name") == user.name,
            "Group" => user.groups.iter().any(|g| g == text("name")),
            "ServiceAccount" => {
                // A RoleBinding's ServiceAccount subject without a namespace means the binding's own.
                let namespace = if text("namespace").is_empty() { binding_ns } else { text("namespace") };
                user.name == format!("system:serviceaccount:{namespace}:{}", text("name"))
            }
            _ => false,
        }
    })
}

/// A ClusterRole's rules; an aggregated one has the rules of every ClusterRole its selectors
/// match (kube-controller-manager's aggregation controller, computed when asked).
fn cluster_role_rules(store: &Store, name: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    collect_cluster_role(store, name, &mut seen, &mut out);
    out
}

fn collect_cluster_role(store: &Store, name: &str, seen: &mut Vec<String>, out: &mut Vec<Value>) {
    if seen.iter().any(|s| s == name) {
        return;
    }
    seen.push(name.to_string());
    let Some(role) = objects(store, "clusterroles").find(|r| name_of(r) == name) else { return };
    out.extend(role.get("rules").and_then(Value::as_array).cloned().unwrap_or_default());
    let selectors: Vec<Value> = role.pointer("/aggregationRule/clusterRoleSelectors").and_then(Value::as_array).cloned().unwrap_or_default();
    if selectors.is_empty() {
        return;
    }
    let matching: Vec<String> =
        objects(store, "clusterroles").filter(|r| selectors.iter().any(|s| selector_matches(s, r))).map(|r| name_of(r).to_string()).collect();
    for other in matching {
        collect_cluster_role(store, &other, seen, out);
    }
}

/// A `metav1.LabelSelector` (matchLabels and matchExpressions) against an object's labels.
fn selector_matches(selector: &Value, object: &Value) -> bool {
    let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let exact = selector.get("matchLabels").and_then(Value::as_object).into_iter().flatten().all(|(k, v)| label(k) == v.as_str());
    let expressions = selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        match e.get("operator").and_then(Value::as_str) {
            Some("In") => label(key).is_some_and(|v| values.contains(&v)),
            Some("NotIn") => label(key).is_none_or(|v| !values.contains(&v)),
            Some("Exists") => label(key).is_some(),
            Some("DoesNotExist") => label(key).is_none(),
            _ => false,
        }
    });
    exact && expressions
}

fn rule_allows(rule: &Value, request: &Attributes) -> bool {
    let list = |k: &str| -> Vec<&str> { rule.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect() };
    let verbs = list("verbs");
    let groups = list("apiGroups");
    let resources = list("resources");
    let names = list("resourceNames");
    let full = match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    };
    let resource_ok = resources.iter().any(|r| {
        *r == "*"
            || *r == full
            || (request.subresource.as_ref().is_some_and(|sub| *r == format!("*/{sub}")))
            || (request.subresource.is_none() && *r == request.resource)
    });
    // resourceNames never match a request without a name (list, watch, create, deletecollection).
    let name_ok = names.is_empty() || request.name.as_deref().is_some_and(|n| names.contains(&n));
    verbs.iter().any(|v| *v == "*" || *v == request.verb) && groups.iter().any(|g| *g == "*" || *g == request.group) && resource_ok && name_ok
}

/// kube-apiserver's message: `gateways.gateway.networking.k8s.io "g" is forbidden: User "u"
/// cannot patch resource "gateways/status" in API group "gateway.networking.k8s.io" in the
/// namespace "team"`.
fn forbidden(user: &User, request: &Attributes) -> ApiError {
    let qualified = if request.group.is_empty() { request.resource.clone() } else { format!("{}.{}", request.resource, request.group) };
    let subject = match &request.name {
        Some(name) => format!("{qualified} \"{name}\""),
        None => qualified,
    };
    let full = match &request.subresource {
        Some(sub) => format!("{}/{sub}", request.resource),
        None => request.resource.clone(),
    };
    let scope = match &request.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message =
        format!("{subject} is forbidden: User \"{}\" cannot {} resource \"{full}\" in API group \"{}\" {scope}", user.name, request.verb, request.group);
    let mut details = json!({"group": request.group, "kind": request.resource});
    if let Some(name) = &request.name {
        details["name"] = json!(name);
    }
    ApiError::forbidden(message, details)
}

/// The request's RBAC verb.
pub fn verb(method: &axum::http::Method, named: bool, watch: bool) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET | Method::HEAD if watch => "watch",
        Method::GET | Method::HEAD if named => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    }
}

/// The bootstrap ClusterRoles a cluster starts with that users bind to (`cluster-admin`, and
/// `admin`/`edit`/`view`, aggregated from `aggregate-to-*` labels as on a real cluster), and
/// `system:basic-user`, bound to every authenticated user: it lets them ask what they may do
/// (`kubectl auth can-i`).
pub fn bootstrap_cluster_roles() -> Vec<Value> {
    let aggregated = |name: &str, label: &str, into: Option<&str>| {
        let mut labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
        if let Some(into) = into {
            labels[format!("rbac.authorization.k8s.io/aggregate-to-{into}")] = json!("true");
        }
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{label}"): "true"}}]},
            "rules": []
        })
    };
    vec![
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": [{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
        }),
        aggregated("admin", "admin", None),
        aggregated("edit", "edit", Some("admin")),
        aggregated("view", "view", Some("edit")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(verb: &str, group: &str, resource: &str, sub: Option<&str>, ns: Option<&str>, name: Option<&str>) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.map(Into::into),
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names() {
        let rule = json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["leader"], "verbs": ["get", "patch"]});
        assert!(rule_allows(&rule, &attrs("get", "coordination.k8s.io", "leases", None, Some("p"), Some("leader"))));
        assert!(!rule_allows(&rule, &attrs("get", "coordination.k8s.io", "leases", None, Some("p"), Some("other"))));
        assert!(!rule_allows(&rule, &attrs("list", "coordination.k8s.io", "leases", None, Some("p"), None)));
        assert!(!rule_allows(&rule, &attrs("get", "", "leases", None, Some("p"), Some("leader"))));
        let status = json!({"apiGroups": ["g"], "resources": ["gateways/status"], "verbs": ["patch"]});
        assert!(rule_allows(&status, &attrs("patch", "g", "gateways", Some("status"), Some("a"), Some("x"))));
        assert!(!rule_allows(&status, &attrs("patch", "g", "gateways", None, Some("a"), Some("x"))));
        let main = json!({"apiGroups": ["g"], "resources": ["gateways"], "verbs": ["*"]});
        assert!(!rule_allows(&main, &attrs("patch", "g", "gateways", Some("status"), Some("a"), Some("x"))), "a resource does not grant its subresources");
        let any_status = json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["patch"]});
        assert!(rule_allows(&any_status, &attrs("patch", "g", "gateways", Some("status"), None, Some("x"))));
    }

    #[test]
    fn forbidden_reads_like_kube_apiserver() {
        let user = User::service_account("portico-system", "portico");
        let e = forbidden(&user, &attrs("patch", "gateway.networking.k8s.io", "gateways", Some("status"), Some("team"), Some("g")));
        assert_eq!(
            e.message,
            "gateways.gateway.networking.k8s.io \"g\" is forbidden: User \"system:serviceaccount:portico-system:portico\" cannot patch resource \"gateways/status\" in API group \"gateway.networking.k8s.io\" in the namespace \"team\""
        );
        let e = forbidden(&user, &attrs("list", "", "secrets", None, None, None));
        assert_eq!(
            e.message,
            "secrets is forbidden: User \"system:serviceaccount:portico-system:portico\" cannot list resource \"secrets\" in API group \"\" at the cluster scope"
        );
        assert_eq!(e.code, 403);
    }

    #[test]
    fn selectors() {
        let role = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        assert!(selector_matches(&json!({"matchLabels": {"a": "1"}}), &role));
        assert!(!selector_matches(&json!({"matchLabels": {"a": "2"}}), &role));
        assert!(selector_matches(&json!({"matchExpressions": [{"key": "b", "operator": "In", "values": ["2", "3"]}]}), &role));
        assert!(selector_matches(&json!({"matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}), &role));
        assert!(!selector_matches(&json!({"matchExpressions": [{"key": "c", "operator": "Exists"}]}), &role));
    }
}
