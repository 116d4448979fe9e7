//! HTTPRoute -> [`Route`].

use gateway_api::experimental::httproutes::HttpRoute;
use portico_model::RouteKind;
use serde::Serialize;

use super::{
    FilterSpec, MatchSpec, PathModifierSpec, PathSpec, RedirectSpec, RetrySpec, RewriteSpec, Route, Rule, TimeoutSpec, ValueMatchSpec, backend_ref, base,
    existing_parents, parent_refs, session_persistence,
};

pub fn convert(route: &HttpRoute) -> Route {
    let mut out = base(RouteKind::Http, &route.metadata);
    out.parent_refs = parent_refs!(route.spec.parent_refs.iter().flatten(), out.key.namespace);
    out.hostnames = route.spec.hostnames.clone().unwrap_or_default();
    out.rules = route
        .spec
        .rules
        .iter()
        .flatten()
        .map(|rule| Rule {
            name: rule.name.clone(),
            matches: rule.matches.iter().flatten().map(convert_match).collect(),
            filters: rule.filters.iter().flatten().map(|f| http_filter!(f)).collect(),
            backends: rule.backend_refs.iter().flatten().map(|b| backend_ref!(b, b.filters.iter().flatten().map(|f| http_filter!(f)).collect())).collect(),
            timeouts: rule.timeouts.as_ref().map(|t| TimeoutSpec { request: t.request.clone(), backend_request: t.backend_request.clone() }),
            retry: rule.retry.as_ref().map(|r| RetrySpec { attempts: r.attempts, backoff: r.backoff.clone(), codes: r.codes.clone().unwrap_or_default() }),
            session_persistence: session_persistence!(rule.session_persistence),
        })
        .collect();
    if out.rules.is_empty() {
        // The spec's default: one rule matching every path, with no backends (a 500).
        out.rules.push(Rule::default());
    }
    out.existing_parents = existing_parents(route.status.as_ref().map(|s| &s.parents));
    out
}

fn convert_match(m: &gateway_api::experimental::httproutes::HttpRouteRulesMatches) -> MatchSpec {
    use gateway_api::experimental::httproutes::HttpRouteRulesMatchesQueryParamsType as Q;
    use gateway_api::experimental::httproutes::{HttpRouteRulesMatchesHeadersType as H, HttpRouteRulesMatchesPathType as P};
    MatchSpec {
        path: m.path.as_ref().map(|p| {
            let value = p.value.clone().unwrap_or_else(|| "/".into());
            match p.r#type.as_ref().unwrap_or(&P::PathPrefix) {
                P::Exact => PathSpec::Exact(value),
                P::PathPrefix => PathSpec::Prefix(value),
                P::RegularExpression => PathSpec::Regex(value),
            }
        }),
        method: m.method.as_ref().map(json_text),
        headers: m
            .headers
            .iter()
            .flatten()
            .map(|h| ValueMatchSpec { name: h.name.clone(), regex: h.r#type == Some(H::RegularExpression), value: h.value.clone() })
            .collect(),
        query_params: m
            .query_params
            .iter()
            .flatten()
            .map(|q| ValueMatchSpec { name: q.name.clone(), regex: q.r#type == Some(Q::RegularExpression), value: q.value.clone() })
            .collect(),
        grpc_lengths: None,
    }
}

/// An enum's serialised spelling ("GET", "https", "ReplaceFullPath", "301").
pub(crate) fn json_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Header modifier, request mirror and the unsupported kinds: shared by HTTP and gRPC filters
/// (rule-level and backend-level types have identical fields but distinct Rust types).
macro_rules! common_filter {
    ($f:expr, $type_name:expr) => {{
        use crate::routes::{FilterSpec, HeaderModifierSpec, MirrorSpec};
        macro_rules! header_modifier {
            ($m:expr) => {
                HeaderModifierSpec {
                    set: $m.set.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect(),
                    add: $m.add.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect(),
                    remove: $m.remove.clone().unwrap_or_default(),
                }
            };
        }
        match ($type_name.as_str(), $f) {
            ("RequestHeaderModifier", f) if f.request_header_modifier.is_some() => {
                Some(FilterSpec::RequestHeaderModifier(header_modifier!(f.request_header_modifier.as_ref().unwrap())))
            }
            ("ResponseHeaderModifier", f) if f.response_header_modifier.is_some() => {
                Some(FilterSpec::ResponseHeaderModifier(header_modifier!(f.response_header_modifier.as_ref().unwrap())))
            }
            ("RequestMirror", f) if f.request_mirror.is_some() => {
                let m = f.request_mirror.as_ref().unwrap();
                let b = &m.backend_ref;
                let (numerator, denominator) = match (&m.fraction, m.percent) {
                    (Some(fraction), _) => (i64::from(fraction.numerator), i64::from(fraction.denominator.unwrap_or(100))),
                    (None, Some(percent)) => (i64::from(percent), 100),
                    (None, None) => (100, 100),
                };
                let backend = crate::routes::BackendRefSpec {
                    group: b.group.clone().unwrap_or_default(),
                    kind: b.kind.clone().unwrap_or_else(|| "Service".to_string()),
                    name: b.name.clone(),
                    namespace: b.namespace.clone(),
                    port: b.port,
                    weight: 1,
                    filters: Vec::new(),
                };
                Some(FilterSpec::RequestMirror(MirrorSpec { backend, numerator, denominator }))
            }
            _ => None,
        }
    }};
}
pub(super) use common_filter;

macro_rules! http_filter {
    ($f:expr) => {{
        let f = $f;
        let type_name = json_text(&f.r#type);
        match common_filter!(f, type_name) {
            Some(spec) => spec,
            None => match type_name.as_str() {
                "RequestRedirect" if f.request_redirect.is_some() => {
                    let r = f.request_redirect.as_ref().unwrap();
                    FilterSpec::RequestRedirect(RedirectSpec {
                        scheme: r.scheme.as_ref().map(json_text),
                        hostname: r.hostname.clone(),
                        path: r.path.as_ref().map(|p| path_modifier(&json_text(&p.r#type), &p.replace_full_path, &p.replace_prefix_match)),
                        port: r.port,
                        status_code: r.status_code.as_ref().map(json_text).and_then(|code| code.parse().ok()),
                    })
                }
                "URLRewrite" if f.url_rewrite.is_some() => {
                    let r = f.url_rewrite.as_ref().unwrap();
                    FilterSpec::UrlRewrite(RewriteSpec {
                        hostname: r.hostname.clone(),
                        path: r.path.as_ref().map(|p| path_modifier(&json_text(&p.r#type), &p.replace_full_path, &p.replace_prefix_match)),
                    })
                }
                "CORS" if f.cors.is_some() => {
                    let c = f.cors.as_ref().unwrap();
                    FilterSpec::Cors(portico_model::ir::Cors {
                        allow_origins: c.allow_origins.clone().unwrap_or_default(),
                        allow_methods: c.allow_methods.clone().unwrap_or_default(),
                        allow_headers: c.allow_headers.clone().unwrap_or_default(),
                        expose_headers: c.expose_headers.clone().unwrap_or_default(),
                        allow_credentials: c.allow_credentials.unwrap_or(false),
                        // The CRD's default; below its minimum of 1 is refused by validation.
                        max_age_seconds: c.max_age.map_or(5, |age| u32::try_from(age).unwrap_or(0)),
                    })
                }
                other => FilterSpec::Unsupported(other.to_string()),
            },
        }
    }};
}
use http_filter;

fn path_modifier(kind: &str, full: &Option<String>, prefix: &Option<String>) -> PathModifierSpec {
    if kind == "ReplaceFullPath" {
        PathModifierSpec::Full(full.clone().unwrap_or_default())
    } else {
        PathModifierSpec::Prefix(prefix.clone().unwrap_or_default())
    }
}
