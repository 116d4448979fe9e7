#![forbid(unsafe_code)]
//! Gateway API semantics, as one pure function: [`translate`] takes a [`Snapshot`] and the
//! enabled providers' [`Capabilities`] and returns each owned Gateway's IR plus the status every
//! owned GatewayClass, Gateway and route must show. No I/O, no clock, no client.

pub mod conditions;
pub mod desired;
pub mod document;
pub mod golden;
pub mod outcome;
pub mod status;
pub mod summary;

mod addresses;
mod attach;
pub mod backend_tls;
mod backends;
mod build;
mod client_validation;
mod endpoints;
mod gateway;
mod gateway_fields;
mod hostnames;
mod index;
mod listener_sets;
mod listeners;
mod pem;
mod policies;
pub mod privilege;
mod regex;
mod routes;
mod rules;
mod validate;

use std::collections::BTreeMap;

use portico_model::ir::{self, ObjectRef};
use portico_model::{Capabilities, ProviderKind, Snapshot};

pub use gateway::NAMED_ADDRESS_TYPE;
pub use rules::parse_duration;
use status::{ParentStatusEntry, RouteParentStatus, RouteStatus, Statuses};

/// The capabilities of every enabled provider. GatewayClasses of providers not in the set are
/// left alone, as if they belonged to another controller.
#[derive(Debug, Clone, Default)]
pub struct CapabilitySet {
    providers: BTreeMap<ProviderKind, Capabilities>,
}

impl CapabilitySet {
    pub fn new(capabilities: impl IntoIterator<Item = Capabilities>) -> Self {
        CapabilitySet { providers: capabilities.into_iter().map(|c| (c.provider, c)).collect() }
    }

    pub fn get(&self, provider: ProviderKind) -> Option<&Capabilities> {
        self.providers.get(&provider)
    }

    pub fn controller_names(&self) -> impl Iterator<Item = String> + '_ {
        self.providers.keys().map(|p| p.controller_name())
    }
}

/// The result of one translation.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// The IR of every accepted Gateway Portico owns.
    /// Shared (not copied) with each Gateway's [`portico_provider::Desired`].
    pub gateways: BTreeMap<ObjectRef, std::sync::Arc<ir::Gateway>>,
    pub statuses: Statuses,
    /// Every route's age rank (oldest first; the spec's tie-breakers), computed once here: when a
    /// platform's quota cannot fit every route, the oldest keep their place.
    pub route_ranks: BTreeMap<status::RouteKey, usize>,
    /// Each Gateway's listener precedence (IR listener name -> rank: its own listeners first,
    /// then its ListenerSets' oldest first), for platform limits that cannot fit every listener.
    pub listener_ranks: BTreeMap<ObjectRef, BTreeMap<String, usize>>,
}

/// Listeners each Gateway's platform leaves out (IR listener name -> why), from its checks.
pub type Exclusions = BTreeMap<ObjectRef, BTreeMap<String, String>>;

/// Translate a snapshot for the enabled providers.
pub fn translate(snapshot: &Snapshot, capabilities: &CapabilitySet) -> Translation {
    translate_excluding(snapshot, capabilities, &Exclusions::new())
}

/// [`translate`], with the listeners platform limits leave out (see [`outcome::checked`]) not
/// accepted (`PortUnavailable`): routes do not attach to them and they are not in the IR.
pub fn translate_excluding(snapshot: &Snapshot, capabilities: &CapabilitySet, excluded: &Exclusions) -> Translation {
    let index = index::Index::new(snapshot);
    let classes = gateway::evaluate_classes(&snapshot.gateway_classes, capabilities, &index);
    let sets = listener_sets::prepare(snapshot);
    let mut gateways = gateway::evaluate_gateways(&snapshot.gateways, &sets, &classes, &index, excluded);
    let set_parents = listener_sets::parents(&gateways);
    let mut builders: BTreeMap<ObjectRef, build::GatewayBuilder> = BTreeMap::new();
    let mut route_statuses = BTreeMap::new();
    let our_controllers: Vec<String> = capabilities.controller_names().collect();
    let policies = backend_tls::Policies::new(snapshot, &index);
    let mut backend_cache = backends::BackendCache::new(&policies);
    let mut service_uses: BTreeMap<ObjectRef, (std::collections::BTreeSet<ObjectRef>, &Capabilities)> = BTreeMap::new();
    let routes = routes::collect(snapshot);
    let route_ranks = routes.iter().map(|r| (r.key.clone(), r.rank)).collect();
    for route in routes {
        let mut ours = Vec::new();
        let mut resolved = None;
        for (n, parent) in route.parent_refs.iter().enumerate() {
            // Two refs that name the same parent once defaults are applied are one parent.
            if route.parent_refs[..n].contains(parent) {
                continue;
            }
            let Some((key, origin)) = attach::parent_target(parent, &set_parents) else { continue };
            let Some(gw) = gateways.get_mut(&key) else { continue };
            let resolved = resolved.get_or_insert_with(|| backends::resolve_route(&route, &index, &mut backend_cache));
            let builder = builders.entry(key.clone()).or_default();
            let conditions = attach::evaluate_parent(&route, parent, origin, gw, resolved, &index, builder);
            // BackendTLSPolicies cover HTTPRoute and GRPCRoute backends only.
            if conditions.first().is_some_and(|c| c.is_true()) && matches!(route.key.kind, portico_model::RouteKind::Http | portico_model::RouteKind::Grpc) {
                service_uses.entry(key.clone()).or_insert_with(|| (Default::default(), gw.caps)).0.extend(resolved.services.iter().cloned());
            }
            let controller_name = gw.caps.provider.controller_name();
            ours.push(RouteParentStatus { parent_ref: attach::parent_ref_status(parent), controller_name, conditions });
        }
        let had_ours = route.existing_parents.iter().any(|p| is_ours(p, &our_controllers));
        if ours.is_empty() && !had_ours {
            continue;
        }
        route_statuses.insert(route.key.clone(), merge_parents(&route.existing_parents, ours, &our_controllers));
    }
    let mut statuses = Statuses { routes: route_statuses, ..Statuses::default() };
    statuses.backend_tls_policies = backend_tls::statuses(&policies, &service_uses, &our_controllers);
    statuses.gateway_classes = classes.into_iter().map(|(name, class)| (name, class.status)).collect();
    let mut irs = BTreeMap::new();
    let mut listener_ranks = BTreeMap::new();
    for (key, gw) in &gateways {
        listener_ranks.insert(key.clone(), gw.listeners.iter().enumerate().map(|(i, l)| (l.ir_name.clone(), i)).collect());
        statuses.gateways.insert(key.clone(), gw.status());
        statuses.listener_sets.extend(listener_sets::statuses(gw));
        if gw.programmable() {
            let builder = builders.remove(key).unwrap_or_default();
            irs.insert(key.clone(), std::sync::Arc::new(builder.assemble(gw)));
        }
    }
    listener_sets::follow_gateways(&mut statuses);
    Translation { gateways: irs, statuses, route_ranks, listener_ranks }
}

/// A status entry (route parent, policy ancestor) written by one of `controllers`.
pub(crate) fn is_ours(entry: &serde_json::Value, controllers: &[String]) -> bool {
    entry.get("controllerName").and_then(|c| c.as_str()).is_some_and(|c| controllers.iter().any(|o| o == c))
}

/// Other controllers' entries are kept as they were; ours are replaced, keeping each
/// condition's `lastTransitionTime` when its status did not change.
fn merge_parents(existing: &[serde_json::Value], mut ours: Vec<RouteParentStatus>, controllers: &[String]) -> RouteStatus {
    for entry in &mut ours {
        if let Some(previous) = previous_parent(existing, entry).filter(|p| is_ours(p, controllers)) {
            conditions::carry_transition_times(&mut entry.conditions, &conditions::from_json(previous.get("conditions")));
        }
    }
    let mut parents: Vec<ParentStatusEntry> =
        existing.iter().filter(|p| !is_ours(p, controllers) && well_formed(p)).cloned().map(ParentStatusEntry::Kept).collect();
    parents.extend(ours.into_iter().map(ParentStatusEntry::Ours));
    RouteStatus { parents }
}

/// The entry a route's existing status holds for the same controller and parent as `entry`.
pub(crate) fn previous_parent<'a>(existing: &'a [serde_json::Value], entry: &RouteParentStatus) -> Option<&'a serde_json::Value> {
    existing.iter().find(|p| {
        p.get("controllerName").and_then(|c| c.as_str()) == Some(entry.controller_name.as_str()) && same_parent(p.get("parentRef"), &entry.parent_ref)
    })
}

/// A parent entry as the schema requires it (a controllerName and a named parentRef). Anything
/// else is no controller's entry (e.g. one an API server pruned to `{}` because an older CRD did
/// not declare its fields) and is dropped, so such leftovers never pile up.
fn well_formed(entry: &serde_json::Value) -> bool {
    let controller = entry.get("controllerName").and_then(|c| c.as_str()).is_some_and(|c| !c.is_empty());
    let parent = entry.get("parentRef").and_then(|p| p.get("name")).and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty());
    controller && parent
}

fn same_parent(previous: Option<&serde_json::Value>, ours: &status::ParentRefStatus) -> bool {
    let Some(previous) = previous else { return false };
    let text = |field: &str| previous.get(field).and_then(|v| v.as_str()).map(str::to_string);
    text("name").as_deref() == Some(ours.name.as_str())
        && text("namespace").is_none_or(|ns| ns == ours.namespace)
        && text("sectionName") == ours.section_name
        && previous.get("port").and_then(|p| p.as_i64()).map(|p| p as i32) == ours.port
}
