//! Address ownership across Gateways: an address one Gateway holds cannot be taken by another.
//!
//! Decided here, purely and across every Gateway of one provider (addresses of one platform are
//! one space, whichever parameters object or HAProxy instance a Gateway uses), so `portico plan`
//! and `portico run` agree. A Gateway *holds* an address its status already reports (it was
//! programmed there) as long as it still wants it: it requests it in `spec.addresses`, or it
//! requests no particular address (it was given one from the pool). A Gateway *claims* the
//! addresses it requests. For each contested address the oldest holder keeps it; with no holder,
//! the oldest claimant. Every other claimant gets `Programmed=False/AddressNotUsable` and is not
//! programmed; the message names the holder only when the requester may see it (same namespace).

use std::collections::BTreeMap;

use portico_model::ProviderKind;
use portico_model::ir::ObjectRef;

use crate::gateway::GatewayState;

/// A Gateway's place in age order: creation time (unknown last), then namespace/name.
type Age = (bool, Option<String>, ObjectRef);

struct Contender {
    key: ObjectRef,
    age: Age,
    holds: bool,
    claims: bool,
}

/// Mark every Gateway that asks for an address another Gateway keeps.
pub fn settle(gateways: &mut BTreeMap<ObjectRef, GatewayState<'_>>) {
    let mut contested: BTreeMap<(ProviderKind, String, String), Vec<Contender>> = BTreeMap::new();
    for (key, gw) in gateways.iter() {
        if gw.rejection.is_some() {
            continue;
        }
        let requested: Vec<&portico_model::ir::Address> = gw.addresses.iter().filter(|a| !a.value.is_empty()).collect();
        let age: Age = (gw.created.is_none(), gw.created.clone(), key.clone());
        let mut wanted: BTreeMap<(String, String), (bool, bool)> = BTreeMap::new();
        for address in &requested {
            wanted.entry((address.address_type.clone(), address.value.clone())).or_default().1 = true;
        }
        for address in &gw.reported_addresses {
            let id = (address.address_type.clone(), address.value.clone());
            let still_wanted = requested.is_empty() || wanted.contains_key(&id);
            if still_wanted {
                wanted.entry(id).or_default().0 = true;
            }
        }
        for ((address_type, value), (holds, claims)) in wanted {
            let contender = Contender { key: key.clone(), age: age.clone(), holds, claims };
            contested.entry((gw.caps.provider, address_type, value)).or_default().push(contender);
        }
    }
    for ((_, _, value), mut contenders) in contested {
        if contenders.len() < 2 {
            continue;
        }
        contenders.sort_by(|a, b| b.holds.cmp(&a.holds).then_with(|| a.age.cmp(&b.age)));
        let winner = contenders[0].key.clone();
        for loser in contenders.iter().skip(1).filter(|c| c.claims) {
            let Some(gw) = gateways.get_mut(&loser.key) else { continue };
            let message = if winner.namespace == loser.key.namespace {
                format!("address {value} is already in use by Gateway {winner}")
            } else {
                format!("address {value} is already in use by another Gateway")
            };
            gw.address_problem.get_or_insert(message);
        }
    }
}
