//! TLSRoute, TCPRoute and UDPRoute -> [`Route`]: no matches, only backends.

use gateway_api::experimental::tlsroutes::TlsRoute;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use portico_model::RouteKind;
use portico_model::l4routes::{L4ParentReference, L4RouteRule};

use super::{Route, Rule, backend_ref, base, existing_parents, parent_refs};

pub fn convert_tls(route: &TlsRoute) -> Route {
    let mut out = base(RouteKind::Tls, &route.metadata);
    out.parent_refs = parent_refs!(route.spec.parent_refs.iter().flatten(), out.key.namespace);
    out.hostnames = route.spec.hostnames.clone();
    out.rules = route
        .spec
        .rules
        .iter()
        .map(|rule| Rule { name: rule.name.clone(), backends: rule.backend_refs.iter().map(|b| backend_ref!(b, Vec::new())).collect(), ..Rule::default() })
        .collect();
    out.existing_parents = existing_parents(route.status.as_ref().map(|s| &s.parents));
    out
}

pub fn convert_l4(kind: RouteKind, meta: &ObjectMeta, parents: &[L4ParentReference], rules: &[L4RouteRule], status: Option<&Vec<serde_json::Value>>) -> Route {
    let mut out = base(kind, meta);
    out.parent_refs = parent_refs!(parents.iter(), out.key.namespace);
    out.rules = rules
        .iter()
        .map(|rule| Rule { name: rule.name.clone(), backends: rule.backend_refs.iter().map(|b| backend_ref!(b, Vec::new())).collect(), ..Rule::default() })
        .collect();
    out.existing_parents = status.cloned().unwrap_or_default();
    out
}
