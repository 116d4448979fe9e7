//! ListenerSets (Gateway API v1.5, standard): listeners declared beside a Gateway, in another
//! object (and possibly another namespace), merged into their parent Gateway when it allows them.
//!
//! The merged list is validated as one Gateway's, in the spec's precedence: the Gateway's own
//! listeners, then ListenerSets oldest first (then by `namespace/name`). A ListenerSet listener
//! that conflicts with an earlier one is the one marked `Conflicted` (the earlier keeps its
//! place); a ListenerSet with no valid listener is not attached (`ListenersNotValid`). Routes
//! attach to a ListenerSet's listeners only through a `ListenerSet` parentRef, never through the
//! Gateway.

use std::collections::BTreeMap;

use gateway_api::experimental::gateways::{GatewayAllowedListenersNamespacesFrom as From, GatewayListeners};
use gateway_api::experimental::listenersets::ListenerSetStatus as ObjectStatus;
use portico_model::ir::ObjectRef;
use portico_model::{Feature, GATEWAY_GROUP, Snapshot};

use crate::conditions::{self, Condition, reason};
use crate::gateway::GatewayState;
use crate::index::Index;
use crate::listeners::{self, ListenerState, Origin, Owner};
use crate::status::ListenerSetStatus;

/// A ListenerSet as translation reads it, its listeners in the Gateway's listener type (the two
/// generated types have the same fields).
pub struct Prepared<'s> {
    pub key: ObjectRef,
    generation: i64,
    created: String,
    /// The Gateway its parentRef names (`None`: the parentRef names another kind).
    parent: Option<ObjectRef>,
    listeners: Vec<GatewayListeners>,
    /// The listeners could not be read as listeners (never for objects the CRD admitted).
    unreadable: Option<String>,
    previous: Option<&'s ObjectStatus>,
}

/// Every ListenerSet of the snapshot, in the spec's precedence order (oldest first, then by
/// `namespace/name`).
pub fn prepare(snapshot: &Snapshot) -> Vec<Prepared<'_>> {
    let mut out: Vec<Prepared<'_>> = snapshot
        .listener_sets
        .iter()
        .map(|set| {
            let namespace = set.metadata.namespace.clone().unwrap_or_else(|| "default".into());
            let key = ObjectRef::new(&namespace, set.metadata.name.clone().unwrap_or_default());
            let parent_ref = &set.spec.parent_ref;
            let is_gateway =
                parent_ref.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP && parent_ref.kind.as_deref().unwrap_or("Gateway") == "Gateway";
            let parent = is_gateway.then(|| ObjectRef::new(parent_ref.namespace.as_deref().unwrap_or(&namespace), &parent_ref.name));
            let converted = serde_json::to_value(&set.spec.listeners).and_then(serde_json::from_value::<Vec<GatewayListeners>>);
            let (listeners, unreadable) = match converted {
                Ok(listeners) => (listeners, None),
                Err(error) => (Vec::new(), Some(format!("spec.listeners cannot be read: {error}"))),
            };
            Prepared {
                key,
                generation: set.metadata.generation.unwrap_or(1),
                created: set.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
                parent,
                listeners,
                unreadable,
                previous: set.status.as_ref(),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.created, &a.key).cmp(&(&b.created, &b.key)));
    out
}

/// One ListenerSet whose parent is a Gateway of ours.
pub struct SetState<'a> {
    pub key: ObjectRef,
    pub generation: i64,
    /// Attached, or why not: (reason, message).
    pub attached: Result<(), (&'static str, String)>,
    /// The listeners of a set that is not attached (still reported in its status); an attached
    /// set's listeners are in the Gateway's list, with `Origin::Set`.
    pub detached: Vec<ListenerState<'a>>,
    previous: Option<&'a ObjectStatus>,
}

/// Attach every ListenerSet to its parent Gateway of ours (those naming other Gateways are not
/// ours to answer), in precedence order.
pub fn attach<'a>(gateways: &mut BTreeMap<ObjectRef, GatewayState<'a>>, sets: &'a [Prepared<'a>], index: &Index<'_>, excluded: &crate::Exclusions) {
    for set in sets {
        let Some(gw) = set.parent.as_ref().and_then(|p| gateways.get_mut(p)) else { continue };
        let position = gw.sets.len();
        let mut state = SetState { key: set.key.clone(), generation: set.generation, attached: Ok(()), detached: Vec::new(), previous: set.previous };
        if let Err(why) = admitted(gw, set, index) {
            state.attached = Err(why);
            gw.sets.push(state);
            continue;
        }
        let owner = Owner {
            kind: "ListenerSet",
            namespace: &set.key.namespace,
            origin: Origin::Set(position),
            ir_prefix: format!("{}/{}/", set.key.namespace, set.key.name),
        };
        let mut listeners = listeners::evaluate(&set.listeners, &owner, gw.caps, index);
        crate::client_validation::apply(gw.object, gw.caps, index, &mut listeners);
        // The Gateway's own listeners keep their ports and hostnames even when they are broken
        // (a tenant must not take over a hostname whose listener is conflicted or refused).
        // So do listeners a platform limit left out: the limit is used by others, so a newer
        // ListenerSet must not take over their hostnames either.
        // (even when that left their whole ListenerSet unattached).
        let limited = |l: &ListenerState<'_>| l.rejection.as_ref().is_some_and(|(r, _)| *r == reason::PORT_UNAVAILABLE);
        let detached = gw.sets.iter().flat_map(|s| &s.detached).filter(|l| limited(l));
        let higher: Vec<&ListenerState<'_>> =
            gw.listeners.iter().filter(|l| l.origin == Origin::Gateway || l.attachable() || limited(l)).chain(detached).collect();
        listeners::mark_conflicts_after(&higher, &mut listeners, gw.caps);
        listeners::exclude(&mut listeners, excluded.get(&gw.key));
        if listeners.iter().any(ListenerState::programmable) {
            gw.listeners.extend(listeners);
        } else {
            let message = format!("no listener of this ListenerSet is valid: {}", invalid_listeners(&listeners.iter().collect::<Vec<_>>()));
            state.attached = Err((reason::LISTENERS_NOT_VALID, message));
            state.detached = listeners;
        }
        gw.sets.push(state);
    }
}

/// Whether the parent Gateway takes this ListenerSet at all (before its listeners are looked at).
fn admitted(gw: &GatewayState<'_>, set: &Prepared<'_>, index: &Index<'_>) -> Result<(), (&'static str, String)> {
    if let Some(problem) = &set.unreadable {
        return Err((reason::INVALID, problem.clone()));
    }
    if !gw.caps.supports(Feature::ListenerSet) {
        return Err((reason::NOT_ALLOWED, format!("ListenerSets are not supported by {}", gw.caps.platform_name())));
    }
    let namespaces = gw.object.spec.allowed_listeners.as_ref().and_then(|a| a.namespaces.as_ref());
    let namespace = set.key.namespace.as_str();
    let allowed = match namespaces.and_then(|n| n.from.as_ref()) {
        Some(From::All) => true,
        Some(From::Same) => namespace == gw.key.namespace,
        Some(From::Selector) => crate::index::selector_view!(namespaces.and_then(|n| n.selector.as_ref())).matches(&index.namespace_labels(namespace)),
        Some(From::None) | None => false,
    };
    if !allowed {
        let from = match namespaces.and_then(|n| n.from.as_ref()) {
            Some(From::All) => "All",
            Some(From::Same) => "Same",
            Some(From::Selector) => "Selector",
            Some(From::None) => "None",
            None => "None (the default)",
        };
        let message = format!("Gateway {} does not allow ListenerSets from namespace {namespace} (spec.allowedListeners.namespaces.from: {from})", gw.key);
        return Err((reason::NOT_ALLOWED, message));
    }
    if !gw.accepted() {
        return Err((reason::PARENT_NOT_ACCEPTED, format!("Gateway {} is not accepted", gw.key)));
    }
    Ok(())
}

fn invalid_listeners(listeners: &[&ListenerState<'_>]) -> String {
    listeners.iter().filter(|l| !l.valid()).map(|l| l.invalid_summary()).collect::<Vec<_>>().join(", ")
}

/// The parent Gateway and the set's position there, for every ListenerSet of ours.
pub fn parents(gateways: &BTreeMap<ObjectRef, GatewayState<'_>>) -> BTreeMap<ObjectRef, (ObjectRef, usize)> {
    let mut out = BTreeMap::new();
    for (key, gw) in gateways {
        for (i, set) in gw.sets.iter().enumerate() {
            out.insert(set.key.clone(), (key.clone(), i));
        }
    }
    out
}

/// The status of every ListenerSet of one Gateway, after routes attached.
pub fn statuses(gw: &GatewayState<'_>) -> Vec<(ObjectRef, ListenerSetStatus)> {
    let gateway_accepted = gw.accepted();
    gw.sets
        .iter()
        .enumerate()
        .map(|(i, set)| {
            let generation = set.generation;
            let (conditions, listeners) = match &set.attached {
                Ok(()) => {
                    let mine: Vec<&ListenerState<'_>> = gw.listeners.iter().filter(|l| l.origin == Origin::Set(i)).collect();
                    let accepted = if mine.iter().all(|l| l.valid()) {
                        conditions::listener_set_accepted(generation)
                    } else {
                        conditions::listener_set_accepted_partly(generation, format!("attached, without its invalid listeners: {}", invalid_listeners(&mine)))
                    };
                    let programmed = if gw.programmable() {
                        conditions::listener_set_programmed_pending(generation)
                    } else {
                        conditions::listener_set_parent_not_programmed(generation)
                    };
                    (vec![accepted, programmed], mine.iter().map(|l| l.status(generation, gateway_accepted)).collect())
                }
                Err((reason, message)) => {
                    let detached = set.detached.iter().map(|l| {
                        let mut status = l.status(generation, gateway_accepted);
                        for c in status.conditions.iter_mut().filter(|c| c.condition_type == conditions::PROGRAMMED && c.status == "Unknown") {
                            *c = conditions::listener_invalid(generation, "The ListenerSet is not attached to its Gateway");
                        }
                        status
                    });
                    (conditions::listener_set_not_attached(generation, reason, message.clone()).to_vec(), detached.collect())
                }
            };
            let previous = set.previous;
            let status = ListenerSetStatus {
                conditions,
                listeners,
                gateway: gw.key.clone(),
                attached: set.attached.is_ok(),
                previous: conditions::from_k8s(previous.and_then(|p| p.conditions.as_ref())),
                previous_listeners: previous
                    .and_then(|p| p.listeners.as_ref())
                    .into_iter()
                    .flatten()
                    .map(|l| (l.name.clone(), conditions::from_k8s(Some(&l.conditions))))
                    .collect(),
            };
            (set.key.clone(), status)
        })
        .collect()
}

/// Each attached ListenerSet's `Programmed` follows its parent Gateway's, as the Gateway's own
/// listeners do: run after translation, after the platforms' checks and after programming
/// outcomes are folded in. Conditions whose status holds keep the object's transition time.
pub fn follow_gateways(statuses: &mut crate::status::Statuses) {
    for set in statuses.listener_sets.values_mut() {
        if set.attached {
            let gateway = statuses.gateways.get(&set.gateway).and_then(|g| g.conditions.iter().find(|c| c.condition_type == conditions::PROGRAMMED));
            follow(set, gateway);
        }
        conditions::carry_transition_times(&mut set.conditions, &set.previous);
        for listener in &mut set.listeners {
            if let Some(before) = set.previous_listeners.get(&listener.name) {
                conditions::carry_transition_times(&mut listener.conditions, before);
            }
        }
    }
}

fn follow(set: &mut ListenerSetStatus, gateway: Option<&Condition>) {
    let generation = set.conditions.first().map_or(1, |c| c.observed_generation);
    let (programmed, listeners): (Condition, Option<bool>) = match gateway {
        Some(c) if c.is_true() => (conditions::listener_set_programmed(generation), Some(true)),
        Some(c) if c.status == "False" => (conditions::listener_set_parent_not_programmed(generation), Some(false)),
        _ => (conditions::listener_set_programmed_pending(generation), None),
    };
    set.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
    set.conditions.push(programmed);
    let Some(ready) = listeners else { return };
    for condition in set.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()) {
        if condition.condition_type == conditions::PROGRAMMED && condition.status == "Unknown" {
            let generation = condition.observed_generation;
            *condition = if ready {
                conditions::listener_programmed(generation)
            } else {
                conditions::listener_invalid(generation, "The parent Gateway is not programmed")
            };
        }
    }
}
