//! Route attachment: which listeners of a parent Gateway a route binds to (sectionName, port,
//! allowed kinds and namespaces, hostname intersection), and the per-parent route status.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use portico_model::{Fact, GATEWAY_GROUP, RouteKind};

use crate::backends::ResolvedBackends;
use crate::build::GatewayBuilder;
use crate::conditions::{self, Condition};
use crate::gateway::GatewayState;
use crate::hostnames;
use crate::index::Index;
use crate::listeners::{NamespacePolicy, Origin};
use crate::routes::{ParentRef, Route};
use crate::rules::RuleProblem;

/// The listeners a route binds to on one parent, each with the hostnames it serves there.
pub type Binding = Vec<(usize, Vec<String>)>;

/// Select the listeners of `gw` that `parent` binds `route` to, or the Accepted=False condition
/// that says precisely why none.
pub fn select_listeners(route: &Route, parent: &ParentRef, origin: Origin, gw: &GatewayState<'_>, index: &Index<'_>) -> Result<Binding, Condition> {
    let generation = route.generation;
    let parent_name = match origin {
        Origin::Gateway => format!("Gateway {}", gw.key),
        Origin::Set(i) => format!("ListenerSet {}", gw.sets[i].key),
    };
    if let Origin::Set(i) = origin
        && let Err((reason, _)) = &gw.sets[i].attached
    {
        return Err(conditions::no_matching_parent(generation, format!("{parent_name} is not attached to Gateway {} ({reason})", gw.key)));
    }
    if !gw.accepted() {
        return Err(conditions::no_matching_parent(generation, format!("Gateway {} is not accepted", gw.key)));
    }
    // A Gateway parent reaches its own listeners only; a ListenerSet parent only the set's.
    let candidates: Vec<usize> = (0..gw.listeners.len())
        .filter(|&i| {
            let l = &gw.listeners[i];
            l.origin == origin && parent.section_name.as_ref().is_none_or(|s| *s == l.name) && parent.port.is_none_or(|p| i32::from(l.port) == p)
        })
        .collect();
    if candidates.is_empty() {
        let what = match (&parent.section_name, parent.port) {
            (Some(s), Some(p)) => format!("no listener named {s} on port {p}"),
            (Some(s), None) => format!("no listener named {s}"),
            (None, Some(p)) => format!("no listener on port {p}"),
            (None, None) => "no listeners".to_string(),
        };
        return Err(conditions::no_matching_parent(generation, format!("{parent_name} has {what}")));
    }
    // Attachment depends only on allowedRoutes and parentRefs, not on the listener's own
    // conditions (a conflicted listener still counts its routes; it is just not programmed).
    let mut refusals = Vec::new();
    let allowed: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| match allows(route, gw, i, index) {
            Ok(()) => true,
            Err(why) => {
                refusals.push(why);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(conditions::not_allowed_by_listeners(generation, refusals.join("; ")));
    }
    let uses_hostnames = matches!(route.key.kind, RouteKind::Http | RouteKind::Grpc | RouteKind::Tls);
    let binding: Binding = allowed
        .iter()
        .filter_map(|&i| {
            if !uses_hostnames {
                return Some((i, vec!["*".to_string()]));
            }
            hostnames::intersect(gw.listeners[i].hostname.as_deref(), &route.hostnames).map(|h| (i, h))
        })
        .collect();
    if binding.is_empty() {
        let listener_hosts: Vec<String> = allowed.iter().map(|&i| gw.listeners[i].hostname.clone().unwrap_or_else(|| "*".into())).collect();
        let message = format!("none of the route's hostnames [{}] matches the listener hostnames [{}]", route.hostnames.join(", "), listener_hosts.join(", "));
        return Err(conditions::no_matching_listener_hostname(generation, message));
    }
    Ok(binding)
}

fn allows(route: &Route, gw: &GatewayState<'_>, listener: usize, index: &Index<'_>) -> Result<(), String> {
    let l = &gw.listeners[listener];
    if let Some((reason, _)) = &l.rejection {
        return Err(format!("listener {} is not accepted ({reason}) and takes no routes", l.name));
    }
    if !l.supported_kinds.contains(&route.key.kind) {
        let kinds: Vec<&str> = l.supported_kinds.iter().map(|k| k.name()).collect();
        return Err(format!("listener {} does not allow {} (allows [{}])", l.name, route.key.kind, kinds.join(", ")));
    }
    let namespace = &route.key.namespace;
    let ok = match &l.namespaces {
        NamespacePolicy::All => true,
        NamespacePolicy::Same => *namespace == l.namespace,
        NamespacePolicy::Selector(selector) => selector.matches(&index.namespace_labels(namespace)),
    };
    if ok {
        Ok(())
    } else {
        let policy = match &l.namespaces {
            NamespacePolicy::Same => "Same",
            NamespacePolicy::All => "All",
            NamespacePolicy::Selector(_) => "Selector",
        };
        Err(format!("listener {} does not allow routes from namespace {namespace} (from: {policy})", l.name))
    }
}

/// The conditions of one parent entry, attaching the route's rules to `builder` when accepted.
pub fn evaluate_parent(
    route: &Route,
    parent: &ParentRef,
    origin: Origin,
    gw: &mut GatewayState<'_>,
    resolved: &ResolvedBackends,
    index: &Index<'_>,
    builder: &mut GatewayBuilder,
) -> Vec<Condition> {
    let generation = route.generation;
    let problems: Vec<_> = resolved.problems.iter().cloned().chain(crate::backends::protocol_problems(route, resolved, gw.caps)).collect();
    let resolved_refs = match problems.first() {
        None => conditions::route_resolved_refs(generation),
        Some((reason, _)) => {
            let message = problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            conditions::route_unresolved_refs(generation, reason, message)
        }
    };
    if let Some(problem) = &route.invalid {
        return vec![conditions::unsupported_value(generation, problem.clone()), resolved_refs];
    }
    let binding = match select_listeners(route, parent, origin, gw, index).and_then(|b| http_and_grpc_apart(route, gw, b)) {
        Ok(binding) => binding,
        Err(rejected) => return vec![rejected, resolved_refs],
    };
    let has_host = !route.hostnames.is_empty() || binding.iter().any(|(i, _)| gw.listeners[*i].hostname.is_some());
    let compiled = crate::build::compile_route(route, resolved, gw.caps, has_host);
    if compiled.valid_rules == 0 {
        return vec![rejection(generation, &compiled.dropped), resolved_refs];
    }
    let exclusive = forwards_to_one_route(route, gw);
    let mut unbound = Vec::new();
    for (listener, hostnames) in &binding {
        let state = &mut gw.listeners[*listener];
        state.attached_routes.insert(route.key.clone());
        if matches!(route.key.kind, RouteKind::Http | RouteKind::Grpc) {
            state.claimed_hosts.entry(route.key.kind).or_default().extend(hostnames.iter().map(|h| (h.clone(), route.key.clone())));
        }
        if exclusive {
            match &state.forwards_to {
                Some(owner) if *owner != route.key => {
                    unbound.push(*listener);
                    continue;
                }
                Some(_) => {}
                None => state.forwards_to = Some(route.key.clone()),
            }
        }
        if state.programmable() {
            builder.place(route, *listener, state, hostnames, &compiled, resolved);
        }
    }
    let accepted = match unbound_message(route, gw, &unbound) {
        Some(message) => conditions::route_accepted_unbound(generation, message),
        None => conditions::route_accepted(generation),
    };
    let mut out = vec![accepted, resolved_refs];
    if !compiled.dropped.is_empty() {
        let dropped: Vec<String> = compiled.dropped.iter().map(|(_, p)| p.message.clone()).collect();
        out.push(conditions::partially_invalid(generation, format!("Dropped Rule(s): {}", dropped.join("; "))));
    }
    out
}

/// A TCP or UDP listener (and a TLS listener on a platform that cannot route by SNI) forwards
/// everything to one route: every route allowed there attaches (`Accepted=True`, counted in
/// `attachedRoutes`), but only the oldest is bound and gets traffic, as the Gateway API's
/// conflict rules say. Routes are evaluated oldest first, so the first to claim the listener
/// keeps it.
fn forwards_to_one_route(route: &Route, gw: &GatewayState<'_>) -> bool {
    match route.key.kind {
        RouteKind::Tcp | RouteKind::Udp => true,
        RouteKind::Tls => !gw.caps.has(Fact::SniRouting),
        RouteKind::Http | RouteKind::Grpc => false,
    }
}

/// Why the route gets no traffic on some of its listeners (another, older route is bound there).
fn unbound_message(route: &Route, gw: &GatewayState<'_>, unbound: &[usize]) -> Option<String> {
    let parts: Vec<String> = unbound
        .iter()
        .filter_map(|&i| {
            let listener = &gw.listeners[i];
            let owner = listener.forwards_to.as_ref()?;
            Some(format!(
                "listener {} forwards every connection to the oldest route attached to it ({owner}); {} gets no traffic there",
                listener.name, route.key
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Route is accepted, but {}", parts.join("; ")))
}

/// An HTTPRoute and a GRPCRoute may not serve intersecting hostnames on one listener: the older
/// route keeps them (routes are evaluated oldest first, then by namespace/name).
fn http_and_grpc_apart(route: &Route, gw: &GatewayState<'_>, binding: Binding) -> Result<Binding, Condition> {
    if !matches!(route.key.kind, RouteKind::Http | RouteKind::Grpc) {
        return Ok(binding);
    }
    let mut clashes = Vec::new();
    let free: Binding = binding
        .into_iter()
        .filter_map(|(i, hosts)| {
            let listener = &gw.listeners[i];
            let clash = |host: &String| {
                let mut others = listener.claimed_hosts.iter().filter(|(kind, _)| **kind != route.key.kind).flat_map(|(_, claims)| claims);
                others.find(|(claimed, _)| claimed == "*" || host == "*" || hostnames::matches(claimed, host) || hostnames::matches(host, claimed))
            };
            let kept: Vec<String> = hosts
                .into_iter()
                .filter(|host| match clash(host) {
                    Some((claimed, owner)) => {
                        clashes.push(format!("hostname {host} on listener {} is already served by {owner} ({claimed})", listener.name));
                        false
                    }
                    None => true,
                })
                .collect();
            (!kept.is_empty()).then_some((i, kept))
        })
        .collect();
    if free.is_empty() {
        let message = format!("{}: an HTTPRoute and a GRPCRoute cannot share a hostname on one listener", clashes.join("; "));
        return Err(conditions::not_allowed_by_listeners(route.generation, message));
    }
    Ok(free)
}

fn rejection(generation: i64, dropped: &[(usize, RuleProblem)]) -> Condition {
    let message = dropped.iter().map(|(_, p)| p.message.as_str()).collect::<Vec<_>>().join("; ");
    if dropped.iter().any(|(_, p)| p.incompatible) {
        conditions::incompatible_filters(generation, message)
    } else if dropped.is_empty() {
        conditions::unsupported_value(generation, "route has no rules")
    } else {
        conditions::unsupported_value(generation, message)
    }
}

/// The parentRef as written into status.
pub fn parent_ref_status(parent: &ParentRef) -> crate::status::ParentRefStatus {
    crate::status::ParentRefStatus {
        group: parent.group.clone(),
        kind: parent.kind.clone(),
        namespace: parent.namespace.clone(),
        name: parent.name.clone(),
        section_name: parent.section_name.clone(),
        port: parent.port,
    }
}

/// The Gateway a parentRef reaches and which of its listeners: a Gateway's own, or those of one
/// of its ListenerSets (`sets`: each ListenerSet of ours with its Gateway and position there).
pub fn parent_target(parent: &ParentRef, sets: &BTreeMap<ObjectRef, (ObjectRef, usize)>) -> Option<(ObjectRef, Origin)> {
    if parent.group != GATEWAY_GROUP {
        return None;
    }
    let key = ObjectRef::new(&parent.namespace, &parent.name);
    match parent.kind.as_str() {
        "Gateway" => Some((key, Origin::Gateway)),
        "ListenerSet" => sets.get(&key).map(|(gateway, i)| (gateway.clone(), Origin::Set(*i))),
        _ => None,
    }
}
