//! Every route kind, seen through one shape. The per-kind files only convert; everything after
//! (attachment, rule validation, backends, precedence) is written once against [`Route`].

mod grpc;
mod http;
mod l4;

use portico_model::{RouteKind, Snapshot};
use serde_json::Value;

use crate::status::RouteKey;

/// A route of any kind, normalised.
#[derive(Debug, Clone)]
pub struct Route {
    pub key: RouteKey,
    /// Position in (creationTimestamp, namespace, name, kind) order: the spec's tie-breakers.
    pub rank: usize,
    pub generation: i64,
    /// RFC 3339 creation time; empty when unknown (sorts as oldest).
    pub created: String,
    pub parent_refs: Vec<ParentRef>,
    pub hostnames: Vec<String>,
    pub rules: Vec<Rule>,
    /// The existing `status.parents`, as written by whichever controllers.
    pub existing_parents: Vec<Value>,
    /// The first rule of the Gateway API CRDs this route breaks (see `validate`): it is
    /// rejected on every parent.
    pub invalid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i32>,
}

#[derive(Debug, Clone, Default)]
pub struct Rule {
    pub name: Option<String>,
    /// Empty means "match everything" (`PathPrefix /`), as the spec defaults it.
    pub matches: Vec<MatchSpec>,
    pub filters: Vec<FilterSpec>,
    pub backends: Vec<BackendRefSpec>,
    pub timeouts: Option<TimeoutSpec>,
    /// `retry` (HTTPRoute, experimental channel).
    pub retry: Option<RetrySpec>,
    /// `sessionPersistence` (HTTPRoute and GRPCRoute, experimental channel).
    pub session_persistence: Option<SessionPersistenceSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetrySpec {
    pub attempts: Option<i64>,
    pub backoff: Option<String>,
    pub codes: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPersistenceSpec {
    /// `Cookie` (the default) or `Header`.
    pub kind: String,
    pub session_name: Option<String>,
    pub absolute_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    /// `cookieConfig.lifetimeType`: `Session` (the default) or `Permanent`.
    pub lifetime: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    Exact(String),
    Prefix(String),
    Regex(String),
}

#[derive(Debug, Clone, Default)]
pub struct MatchSpec {
    pub path: Option<PathSpec>,
    pub method: Option<String>,
    pub headers: Vec<ValueMatchSpec>,
    pub query_params: Vec<ValueMatchSpec>,
    /// For GRPCRoute: characters in the service and method matched, its own precedence keys.
    pub grpc_lengths: Option<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct ValueMatchSpec {
    pub name: String,
    pub regex: bool,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct HeaderModifierSpec {
    pub set: Vec<(String, String)>,
    pub add: Vec<(String, String)>,
    pub remove: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum PathModifierSpec {
    Full(String),
    Prefix(String),
}

#[derive(Debug, Clone)]
pub struct RedirectSpec {
    pub scheme: Option<String>,
    pub hostname: Option<String>,
    pub path: Option<PathModifierSpec>,
    pub port: Option<i32>,
    pub status_code: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct RewriteSpec {
    pub hostname: Option<String>,
    pub path: Option<PathModifierSpec>,
}

#[derive(Debug, Clone)]
pub struct MirrorSpec {
    pub backend: BackendRefSpec,
    pub numerator: i64,
    pub denominator: i64,
}

#[derive(Debug, Clone)]
pub enum FilterSpec {
    RequestHeaderModifier(HeaderModifierSpec),
    ResponseHeaderModifier(HeaderModifierSpec),
    RequestRedirect(RedirectSpec),
    UrlRewrite(RewriteSpec),
    RequestMirror(MirrorSpec),
    Cors(portico_model::ir::Cors),
    /// A filter type Portico does not implement (ExtensionRef, ExternalAuth, ...).
    Unsupported(String),
}

impl FilterSpec {
    pub fn type_name(&self) -> &str {
        match self {
            FilterSpec::RequestHeaderModifier(_) => "RequestHeaderModifier",
            FilterSpec::ResponseHeaderModifier(_) => "ResponseHeaderModifier",
            FilterSpec::RequestRedirect(_) => "RequestRedirect",
            FilterSpec::UrlRewrite(_) => "URLRewrite",
            FilterSpec::RequestMirror(_) => "RequestMirror",
            FilterSpec::Cors(_) => "CORS",
            FilterSpec::Unsupported(name) => name,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BackendRefSpec {
    pub group: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub port: Option<i32>,
    pub weight: i32,
    pub filters: Vec<FilterSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct TimeoutSpec {
    pub request: Option<String>,
    pub backend_request: Option<String>,
}

/// All routes of every kind in the snapshot.
pub fn collect(snapshot: &Snapshot) -> Vec<Route> {
    let mut routes = Vec::with_capacity(
        snapshot.http_routes.len() + snapshot.grpc_routes.len() + snapshot.tls_routes.len() + snapshot.tcp_routes.len() + snapshot.udp_routes.len(),
    );
    routes.extend(snapshot.http_routes.iter().map(http::convert));
    routes.extend(snapshot.grpc_routes.iter().map(grpc::convert));
    routes.extend(snapshot.tls_routes.iter().map(l4::convert_tls));
    routes.extend(
        snapshot
            .tcp_routes
            .iter()
            .map(|r| l4::convert_l4(RouteKind::Tcp, &r.metadata, &r.spec.parent_refs, &r.spec.rules, r.status.as_ref().map(|s| &s.parents))),
    );
    routes.extend(
        snapshot
            .udp_routes
            .iter()
            .map(|r| l4::convert_l4(RouteKind::Udp, &r.metadata, &r.spec.parent_refs, &r.spec.rules, r.status.as_ref().map(|s| &s.parents))),
    );
    // The spec's tie-breakers: oldest first, then "{namespace}/{name}" alphabetically (as one
    // string: `team-x/r` sorts before `team/r`).
    routes.sort_by_cached_key(|r| (r.created.clone(), format!("{}/{}", r.key.namespace, r.key.name), r.key.kind));
    for (rank, route) in routes.iter_mut().enumerate() {
        route.rank = rank;
        route.invalid = crate::validate::route(route).err();
    }
    routes
}

/// Common metadata handling for every kind.
fn base(kind: RouteKind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Route {
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    Route {
        key: RouteKey { kind, namespace, name: meta.name.clone().unwrap_or_default() },
        rank: 0,
        generation: meta.generation.unwrap_or(1),
        created: meta.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
        parent_refs: Vec::new(),
        hostnames: Vec::new(),
        rules: Vec::new(),
        existing_parents: Vec::new(),
        invalid: None,
    }
}

/// Parent refs with the spec's defaults applied (group, kind, namespace).
macro_rules! parent_refs {
    ($refs:expr, $route_ns:expr) => {
        $refs
            .map(|p| crate::routes::ParentRef {
                group: p.group.clone().unwrap_or_else(|| portico_model::GATEWAY_GROUP.to_string()),
                kind: p.kind.clone().unwrap_or_else(|| "Gateway".to_string()),
                namespace: p.namespace.clone().unwrap_or_else(|| $route_ns.clone()),
                name: p.name.clone(),
                section_name: p.section_name.clone(),
                port: p.port,
            })
            .collect::<Vec<_>>()
    };
}
pub(crate) use parent_refs;

/// A backendRef (any kind's shape) with the spec's defaults applied.
macro_rules! backend_ref {
    ($b:expr, $filters:expr) => {
        crate::routes::BackendRefSpec {
            group: $b.group.clone().unwrap_or_default(),
            kind: $b.kind.clone().unwrap_or_else(|| "Service".to_string()),
            name: $b.name.clone(),
            namespace: $b.namespace.clone(),
            port: $b.port,
            weight: $b.weight.unwrap_or(1),
            filters: $filters,
        }
    };
}
pub(crate) use backend_ref;

/// `sessionPersistence` of HTTPRoute and GRPCRoute rules (identical fields, distinct types).
macro_rules! session_persistence {
    ($s:expr) => {
        $s.as_ref().map(|s| crate::routes::SessionPersistenceSpec {
            kind: s.r#type.as_ref().map(crate::routes::http::json_text).unwrap_or_else(|| "Cookie".to_string()),
            session_name: s.session_name.clone(),
            absolute_timeout: s.absolute_timeout.clone(),
            idle_timeout: s.idle_timeout.clone(),
            lifetime: s.cookie_config.as_ref().and_then(|c| c.lifetime_type.as_ref()).map(crate::routes::http::json_text),
        })
    };
}
pub(crate) use session_persistence;

/// Existing `status.parents` of any kind, as JSON.
fn existing_parents<T: serde::Serialize>(parents: Option<&Vec<T>>) -> Vec<Value> {
    parents.into_iter().flatten().filter_map(|p| serde_json::to_value(p).ok()).collect()
}
