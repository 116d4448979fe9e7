//! GRPCRoute -> [`Route`]. gRPC method matches become HTTP/2 path matches
//! (`/<service>/<method>`), which is what every load balancer matches on.

use gateway_api::experimental::grpcroutes::{GrpcRoute, GrpcRouteRulesMatches};
use portico_model::RouteKind;

use super::http::{common_filter, json_text};
use super::{FilterSpec, MatchSpec, PathSpec, Route, Rule, ValueMatchSpec, backend_ref, base, existing_parents, parent_refs, session_persistence};

pub fn convert(route: &GrpcRoute) -> Route {
    let mut out = base(RouteKind::Grpc, &route.metadata);
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
            filters: rule.filters.iter().flatten().map(grpc_filter).collect(),
            backends: rule.backend_refs.iter().flatten().map(|b| backend_ref!(b, b.filters.iter().flatten().map(grpc_backend_filter).collect())).collect(),
            timeouts: None,
            retry: None,
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

fn grpc_filter(f: &gateway_api::experimental::grpcroutes::GrpcRouteRulesFilters) -> FilterSpec {
    let type_name = json_text(&f.r#type);
    common_filter!(f, type_name).unwrap_or(FilterSpec::Unsupported(type_name))
}

fn grpc_backend_filter(f: &gateway_api::experimental::grpcroutes::GrpcRouteRulesBackendRefsFilters) -> FilterSpec {
    let type_name = json_text(&f.r#type);
    common_filter!(f, type_name).unwrap_or(FilterSpec::Unsupported(type_name))
}

fn convert_match(m: &GrpcRouteRulesMatches) -> MatchSpec {
    use gateway_api::experimental::grpcroutes::{GrpcRouteRulesMatchesHeadersType as H, GrpcRouteRulesMatchesMethodType as M};
    let path = m.method.as_ref().map(|method| {
        let regex = method.r#type == Some(M::RegularExpression);
        match (&method.service, &method.method, regex) {
            (Some(s), Some(m), false) => PathSpec::Exact(format!("/{s}/{m}")),
            (Some(s), None, false) => PathSpec::Prefix(format!("/{s}")),
            (None, Some(m), false) => PathSpec::Regex(format!("/[^/]+/{}", escape_regex(m))),
            (None, None, _) => PathSpec::Prefix("/".into()),
            (s, m, true) => PathSpec::Regex(format!("/{}/{}", s.as_deref().unwrap_or("[^/]+"), m.as_deref().unwrap_or("[^/]+"))),
        }
    });
    let grpc_lengths = m.method.as_ref().map(|method| (method.service.as_deref().map_or(0, str::len), method.method.as_deref().map_or(0, str::len)));
    MatchSpec {
        path,
        method: None,
        grpc_lengths: Some(grpc_lengths.unwrap_or((0, 0))),
        headers: m
            .headers
            .iter()
            .flatten()
            .map(|h| ValueMatchSpec { name: h.name.clone(), regex: h.r#type == Some(H::RegularExpression), value: h.value.clone() })
            .collect(),
        query_params: Vec::new(),
    }
}

fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
