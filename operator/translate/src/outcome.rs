//! Folding what platforms say back into the statuses translation computed, as pure functions:
//! their checks before programming ([`checked`]), and the outcome of programming ([`fold`]):
//! applied (with the address), still provisioning, failed, or routes left out.

use std::collections::BTreeMap;

use portico_model::ir::{Address, ObjectRef};
use portico_model::{ProviderKind, Snapshot};
use portico_provider::{Applied, Check, Desired, ProviderError, RouteOverflow};

use crate::conditions;
use crate::status::{GatewayStatus, ParentStatusEntry, Statuses};
use crate::{CapabilitySet, Translation};

/// The desired state of every translated Gateway, after its platform's checks: routes that do
/// not fit get `Accepted=False` on that Gateway (reason UnsupportedValue, the message naming the
/// quota); listeners that do not fit the platform's per-load-balancer limits are translated again
/// as not accepted (`PortUnavailable`, lowest precedence first), so no tenant's ListenerSet can
/// push a Gateway past a limit; a Gateway its platform refuses (an address it cannot honour) gets
/// `Programmed=False` with the refusal's reason and is left out, so nothing is programmed for it.
pub fn checked(
    snapshot: &Snapshot,
    capabilities: &CapabilitySet,
    translation: &mut Translation,
    check: impl Fn(&Desired) -> Check,
) -> BTreeMap<ObjectRef, Desired> {
    let checks = checked_listeners(snapshot, capabilities, translation, &check);
    let mut out = BTreeMap::new();
    let mut refused = Vec::new();
    for (key, (desired, Check { overflows, refusal, left_out, .. })) in checks {
        let provider = desired.ir.provider;
        if let Some(status) = translation.statuses.gateways.get_mut(&key) {
            accepted_without(status, &left_out);
        }
        let label = capabilities.get(provider).map_or("the platform", |c| c.label.as_str());
        reject_overflows(&mut translation.statuses, &key, label, &overflows);
        carry_route_times(snapshot, &mut translation.statuses, &overflows);
        match refusal {
            Some(error) => refused.push((key, error)),
            None => {
                out.insert(key, desired);
            }
        }
    }
    for (key, error) in refused {
        translation.gateways.remove(&key);
        if let Some(status) = translation.statuses.gateways.get_mut(&key) {
            not_programmed(status, &error);
            let why = match error {
                ProviderError::AddressNotUsable { .. } => "The Gateway's address is not usable".to_string(),
                _ => format!("The Gateway cannot be programmed: {error}"),
            };
            status.listeners_not_programmed(&why);
            carry_gateway_times(snapshot, &key, status);
        }
    }
    crate::listener_sets::follow_gateways(&mut translation.statuses);
    out
}

/// Every Gateway's desired state and check, once the listeners its platform cannot fit are
/// translated as excluded: each pass that finds a new overflow translates again with it, so the
/// passes end within one per listener (a freed port can let a lower-precedence listener in that
/// then overflows too).
fn checked_listeners(
    snapshot: &Snapshot,
    capabilities: &CapabilitySet,
    translation: &mut Translation,
    check: &impl Fn(&Desired) -> Check,
) -> BTreeMap<ObjectRef, (Desired, Check)> {
    let mut excluded = crate::Exclusions::new();
    loop {
        let checks: BTreeMap<ObjectRef, (Desired, Check)> = translation
            .gateways
            .iter()
            .map(|(key, ir)| {
                let desired = crate::desired::desired_for(snapshot, capabilities, translation, key, ir);
                let check = check(&desired);
                (key.clone(), (desired, check))
            })
            .collect();
        let mut more = false;
        for (key, (_, check)) in &checks {
            for overflow in &check.listener_overflows {
                more |= excluded.entry(key.clone()).or_default().insert(overflow.listener.clone(), overflow.message.clone()).is_none();
            }
        }
        if !more {
            return checks;
        }
        *translation = crate::translate_excluding(snapshot, capabilities, &excluded);
    }
}

/// Adds what the platform leaves out to the Gateway's `Accepted` message, as translation words it
/// ("accepted without: ..."); an accepted Gateway with nothing else to say takes reason
/// `UnsupportedValue`, as for the fields translation itself finds left out.
fn accepted_without(status: &mut GatewayStatus, left_out: &[String]) {
    if left_out.is_empty() {
        return;
    }
    let Some(accepted) = status.conditions.iter_mut().find(|c| c.condition_type == conditions::ACCEPTED && c.status == "True") else { return };
    let more = left_out.join("; ");
    if accepted.reason == conditions::reason::ACCEPTED {
        // Still Accepted=True: the transition time translation carried stays.
        let since = accepted.last_transition_time.take();
        *accepted = conditions::gateway_accepted_unsupported(accepted.observed_generation, format!("accepted without: {more}"));
        accepted.last_transition_time = since;
    } else {
        let joint = if accepted.message.contains("accepted without: ") { "; " } else { "; accepted without: " };
        accepted.message = format!("{}{joint}{more}", accepted.message);
    }
}

/// `Programmed=False` on a Gateway with the error's reason and message.
fn not_programmed(status: &mut GatewayStatus, error: &ProviderError) {
    let generation = status.conditions.first().map_or(1, |c| c.observed_generation);
    status.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
    let condition = match error {
        ProviderError::AddressNotUsable { .. } => conditions::gateway_address_not_usable(generation, error.to_string()),
        _ => conditions::gateway_not_programmed(generation, error.condition_reason(), error.to_string()),
    };
    status.conditions.push(condition);
}

/// Replace our `Accepted` condition for `gateway` on each route the platform left out.
pub fn reject_overflows(statuses: &mut Statuses, gateway: &ObjectRef, platform: &str, overflows: &[RouteOverflow]) {
    let sets = &statuses.listener_sets;
    for overflow in overflows {
        let Some(status) = statuses.routes.get_mut(&overflow.route) else { continue };
        for parent in status.parents.iter_mut() {
            let ParentStatusEntry::Ours(parent) = parent else { continue };
            let named = ObjectRef::new(&parent.parent_ref.namespace, &parent.parent_ref.name);
            let on_gateway = match parent.parent_ref.kind.as_str() {
                "Gateway" => named == *gateway,
                "ListenerSet" => sets.get(&named).is_some_and(|s| s.gateway == *gateway),
                _ => false,
            };
            if !on_gateway {
                continue;
            }
            for condition in parent.conditions.iter_mut().filter(|c| c.condition_type == conditions::ACCEPTED) {
                let message = format!("not programmed on {platform}: {}", overflow.message);
                *condition = conditions::unsupported_value(condition.observed_generation, message);
            }
        }
    }
}

/// Every platform's last programming outcome, folded into the translated statuses ([`fold`]),
/// as the operator does after programming: `outcomes` names each Gateway, the platform that
/// programmed it and the result. Gateways translation keeps from their platform (e.g. their
/// address is refused) show translation's `Programmed`, not an outcome from before.
pub fn fold_all<'a>(
    snapshot: &Snapshot,
    capabilities: &CapabilitySet,
    translation: &mut Translation,
    outcomes: impl IntoIterator<Item = (&'a ObjectRef, ProviderKind, &'a Result<Applied, ProviderError>)>,
) {
    for (key, provider, result) in outcomes {
        if !translation.gateways.contains_key(key) {
            continue;
        }
        let label = capabilities.get(provider).map_or("the platform", |c| c.label.as_str());
        let reported = crate::desired::current_addresses(snapshot, key);
        fold(&mut translation.statuses, key, label, result, reported);
        if let Ok(applied) = result {
            carry_route_times(snapshot, &mut translation.statuses, &applied.rejected_routes);
        }
        if let Some(status) = translation.statuses.gateways.get_mut(key) {
            carry_gateway_times(snapshot, key, status);
        }
    }
    crate::listener_sets::follow_gateways(&mut translation.statuses);
}

/// The routes a platform left out keep the `lastTransitionTime` of each of our conditions whose
/// status did not change since the route's current status (as translation does for the rest).
fn carry_route_times(snapshot: &Snapshot, statuses: &mut Statuses, overflows: &[RouteOverflow]) {
    if overflows.is_empty() {
        return;
    }
    for route in snapshot.routes().into_iter().filter(|r| overflows.iter().any(|o| o.route == r.key)) {
        let Some(status) = statuses.routes.get_mut(&route.key) else { continue };
        let existing = route.status.as_ref().and_then(|s| s.get("parents")).and_then(|p| p.as_array()).cloned().unwrap_or_default();
        for parent in status.parents.iter_mut() {
            let ParentStatusEntry::Ours(parent) = parent else { continue };
            if let Some(previous) = crate::previous_parent(&existing, parent) {
                conditions::carry_transition_times(&mut parent.conditions, &conditions::from_json(previous.get("conditions")));
            }
        }
    }
}

/// Conditions set after translation (by a platform's check or outcome) keep the
/// `lastTransitionTime` the Gateway shows now when their status did not change.
fn carry_gateway_times(snapshot: &Snapshot, key: &ObjectRef, status: &mut GatewayStatus) {
    let previous = snapshot
        .gateways
        .iter()
        .find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name))
        .and_then(|g| g.status.as_ref());
    let Some(previous) = previous else { return };
    conditions::carry_transition_times(&mut status.conditions, &conditions::from_k8s(previous.conditions.as_ref()));
    for listener in &mut status.listeners {
        if let Some(before) = previous.listeners.iter().flatten().find(|p| p.name == listener.name) {
            conditions::carry_transition_times(&mut listener.conditions, &conditions::from_k8s(Some(&before.conditions)));
        }
    }
}

/// A platform's last programming outcome for one Gateway, folded into the statuses:
/// `Programmed` and the addresses on the Gateway, listeners programmed once the load balancer
/// is ready, and routes the platform refused not accepted there. `reported` are the addresses
/// the Gateway's status shows now: a failed apply leaves the last good configuration serving,
/// so they stay reported (and held: another Gateway cannot take an address because its holder's
/// latest change failed), unless the address itself is what failed. Gateways that are not
/// accepted keep translation's status.
pub fn fold(statuses: &mut Statuses, gateway: &ObjectRef, platform: &str, outcome: &Result<Applied, ProviderError>, reported: Vec<Address>) {
    if let Ok(applied) = outcome {
        reject_overflows(statuses, gateway, platform, &applied.rejected_routes);
    }
    let Some(status) = statuses.gateways.get_mut(gateway) else { return };
    if !status.conditions.iter().any(|c| c.condition_type == conditions::ACCEPTED && c.is_true()) {
        return;
    }
    let generation = status.conditions.first().map_or(1, |c| c.observed_generation);
    let programmed = match outcome {
        Ok(applied) => {
            status.addresses = applied.addresses.clone();
            let at = applied.addresses.iter().map(|a| a.value.as_str()).collect::<Vec<_>>().join(", ");
            if applied.ready {
                conditions::gateway_programmed(generation, format!("Programmed at {at}"))
            } else {
                conditions::gateway_not_programmed(generation, conditions::reason::PENDING, format!("the load balancer at {at} is still provisioning"))
            }
        }
        Err(error) => {
            if !matches!(error, ProviderError::AddressNotUsable { .. }) {
                status.addresses = reported;
            }
            conditions::gateway_not_programmed(generation, error.condition_reason(), error.to_string())
        }
    };
    status.conditions.retain(|c| c.condition_type != conditions::PROGRAMMED);
    status.conditions.push(programmed);
    if outcome.as_ref().is_ok_and(|a| a.ready) {
        for condition in status.listeners.iter_mut().flat_map(|l| l.conditions.iter_mut()) {
            if condition.condition_type == conditions::PROGRAMMED && condition.status == "Unknown" {
                *condition = conditions::listener_programmed(condition.observed_generation);
            }
        }
    }
}
