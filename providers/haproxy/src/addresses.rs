//! Which address each Gateway of one HAProxy instance binds to: pure, so `portico plan` shows
//! the same refusals `portico run` reports.
//!
//! HAProxy binds a Gateway to exactly one address. Every entry of `spec.addresses` is honoured
//! or refused: an address outside the instance's pool, or a second address, makes the Gateway
//! `Programmed=False/AddressNotUsable` (nothing is bound for it). A Gateway that requests no
//! particular address (or an `IPAddress` without a value) gets one from the pool: the one it
//! already has, else the one its status reports, else the first free one. Requested addresses
//! are granted first, so a pool assignment never takes an address someone asked for. Which
//! Gateway may have a contested address is decided before this, across all Gateways, in
//! translation (`Programmed=False/AddressNotUsable` on the newer claimant).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use portico_model::ir::{Address, ObjectRef};
use portico_provider::{Desired, ProviderError};

/// The one address a Gateway asks for (`None`: any address from the pool), or why its request
/// cannot be honoured.
pub fn check_requested(pool: &[IpAddr], pool_text: &[String], requested: &[Address]) -> Result<Option<IpAddr>, ProviderError> {
    let refuse = |address: &str, message: String| ProviderError::AddressNotUsable { address: address.to_string(), message };
    let mut wanted = Vec::new();
    for address in requested {
        if address.address_type != "IPAddress" {
            return Err(refuse(&address.value, format!("HAProxy binds IP addresses only, not {}", address.address_type)));
        }
        if address.value.is_empty() {
            wanted.push(None);
            continue;
        }
        let ip: IpAddr = address.value.parse().map_err(|_| refuse(&address.value, "not an IP address".into()))?;
        if !pool.contains(&ip) {
            return Err(refuse(&address.value, format!("not in the address pool {pool_text:?}")));
        }
        wanted.push(Some(ip));
    }
    if wanted.len() > 1 {
        let all: Vec<&str> = requested.iter().map(|a| if a.value.is_empty() { "(any)" } else { a.value.as_str() }).collect();
        let message = format!("HAProxy binds a Gateway to one address, but spec.addresses asks for {} ({})", wanted.len(), all.join(", "));
        return Err(refuse(all[1], message));
    }
    Ok(wanted.into_iter().next().flatten())
}

/// Every Gateway's address. `sticky` holds what each was given before (kept stable).
pub fn allocate(
    pool: &[IpAddr],
    pool_text: &[String],
    desired: &BTreeMap<ObjectRef, Desired>,
    sticky: &BTreeMap<ObjectRef, IpAddr>,
) -> BTreeMap<ObjectRef, Result<IpAddr, ProviderError>> {
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<IpAddr, ObjectRef> = BTreeMap::new();
    let mut from_pool = Vec::new();
    for (key, gateway) in desired {
        match check_requested(pool, pool_text, &gateway.ir.requested_addresses) {
            Ok(Some(ip)) => match taken.get(&ip) {
                // Translation refuses contested addresses across Gateways; this only guards.
                Some(_) => {
                    let message = "already in use by another Gateway".to_string();
                    out.insert(key.clone(), Err(ProviderError::AddressNotUsable { address: ip.to_string(), message }));
                }
                None => {
                    taken.insert(ip, key.clone());
                    out.insert(key.clone(), Ok(ip));
                }
            },
            Ok(None) => from_pool.push((key, gateway)),
            Err(error) => {
                out.insert(key.clone(), Err(error));
            }
        }
    }
    let requested: BTreeSet<IpAddr> = taken.keys().copied().collect();
    // First every Gateway keeps the address it has (or reports), so a new Gateway that sorts
    // earlier never takes an existing Gateway's address; then the others get free ones.
    let mut unplaced = Vec::new();
    for (key, gateway) in from_pool {
        let reported = gateway.current_addresses.iter().filter_map(|a| a.value.parse::<IpAddr>().ok());
        let free = |ip: &IpAddr| pool.contains(ip) && !taken.contains_key(ip) && !requested.contains(ip);
        match sticky.get(key).copied().into_iter().chain(reported).find(|ip| free(ip)) {
            Some(ip) => {
                taken.insert(ip, key.clone());
                out.insert(key.clone(), Ok(ip));
            }
            None => unplaced.push(key),
        }
    }
    for key in unplaced {
        let choice = pool.iter().copied().find(|ip| !taken.contains_key(ip) && !requested.contains(ip));
        let result =
            choice.ok_or_else(|| ProviderError::AddressNotUsable { address: "(any)".into(), message: format!("the address pool {pool_text:?} is exhausted") });
        if let Ok(ip) = &result {
            taken.insert(*ip, key.clone());
        }
        out.insert(key.clone(), result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_gateway_that_sorts_first_never_takes_an_existing_gateways_address() {
        let pool = vec![ip("10.0.0.1"), ip("10.0.0.2")];
        let (new, old) = (gateway("a-new", &[], &[]), gateway("z-old", &[], &["10.0.0.1"]));
        let (new_key, old_key) = (new.0.clone(), old.0.clone());
        let desired: BTreeMap<ObjectRef, Desired> = [new.clone(), old].into_iter().collect();
        let out = allocate(&pool, &[], &desired, &BTreeMap::new());
        assert_eq!(out[&old_key].as_ref().unwrap(), &ip("10.0.0.1"), "the reported address stays");
        assert_eq!(out[&new_key].as_ref().unwrap(), &ip("10.0.0.2"));
        let sticky: BTreeMap<ObjectRef, IpAddr> = [(old_key.clone(), ip("10.0.0.1"))].into_iter().collect();
        let desired: BTreeMap<ObjectRef, Desired> = [new, gateway("z-old", &[], &[])].into_iter().collect();
        let out = allocate(&pool, &[], &desired, &sticky);
        assert_eq!(out[&old_key].as_ref().unwrap(), &ip("10.0.0.1"), "the assigned address stays");
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn address(value: &str) -> Address {
        Address { address_type: "IPAddress".into(), value: value.into() }
    }

    fn gateway(name: &str, requested: &[&str], current: &[&str]) -> (ObjectRef, Desired) {
        let key = ObjectRef::new("ns", name);
        let ir: portico_model::ir::Gateway = serde_json::from_value(serde_json::json!({
            "gateway": {"namespace": "ns", "name": name}, "gatewayClass": "c", "provider": "haproxy", "requestedAddresses": [],
            "infrastructureLabels": {}, "ports": [], "backends": {}
        }))
        .unwrap();
        let mut desired = Desired::bare(ir);
        std::sync::Arc::make_mut(&mut desired.ir).requested_addresses = requested.iter().map(|a| address(a)).collect();
        desired.current_addresses = current.iter().map(|a| address(a)).collect();
        (key, desired)
    }

    const POOL: &[&str] = &["10.0.0.1", "10.0.0.2", "10.0.0.3"];

    fn pool() -> Vec<IpAddr> {
        POOL.iter().map(|a| ip(a)).collect()
    }

    #[test]
    fn every_requested_address_is_honoured_or_refused() {
        let text = vec!["10.0.0.1-10.0.0.3".to_string()];
        assert_eq!(check_requested(&pool(), &text, &[address("10.0.0.2")]).unwrap(), Some(ip("10.0.0.2")));
        assert_eq!(check_requested(&pool(), &text, &[address("")]).unwrap(), None);
        // One unusable and one usable, in either order: refused, naming the unusable one.
        for pair in [["10.0.0.2", "192.0.2.9"], ["192.0.2.9", "10.0.0.2"]] {
            let error = check_requested(&pool(), &text, &[address(pair[0]), address(pair[1])]).unwrap_err();
            assert!(matches!(&error, ProviderError::AddressNotUsable { address, .. } if address == "192.0.2.9"), "{error}");
        }
        // Two usable ones: HAProxy binds one, so the request is refused rather than half-honoured.
        let error = check_requested(&pool(), &text, &[address("10.0.0.1"), address("10.0.0.2")]).unwrap_err();
        assert!(error.to_string().contains("one address"), "{error}");
    }

    #[test]
    fn requested_addresses_are_never_handed_out_from_the_pool() {
        let text = vec!["pool".to_string()];
        let desired: BTreeMap<_, _> = [gateway("a-any", &[], &[]), gateway("b-fixed", &["10.0.0.1"], &[])].into_iter().collect();
        let out = allocate(&pool(), &text, &desired, &BTreeMap::new());
        assert_eq!(out[&ObjectRef::new("ns", "b-fixed")].as_ref().unwrap(), &ip("10.0.0.1"));
        assert_eq!(out[&ObjectRef::new("ns", "a-any")].as_ref().unwrap(), &ip("10.0.0.2"));
    }

    #[test]
    fn pool_addresses_stay_put_and_the_reported_one_is_kept_after_a_restart() {
        let text = vec!["pool".to_string()];
        let desired: BTreeMap<_, _> = [gateway("a", &[], &["10.0.0.3"]), gateway("b", &[], &[])].into_iter().collect();
        let out = allocate(&pool(), &text, &desired, &BTreeMap::new());
        assert_eq!(out[&ObjectRef::new("ns", "a")].as_ref().unwrap(), &ip("10.0.0.3"));
        assert_eq!(out[&ObjectRef::new("ns", "b")].as_ref().unwrap(), &ip("10.0.0.1"));
        let sticky = [(ObjectRef::new("ns", "b"), ip("10.0.0.2"))].into_iter().collect();
        let out = allocate(&pool(), &text, &desired, &sticky);
        assert_eq!(out[&ObjectRef::new("ns", "b")].as_ref().unwrap(), &ip("10.0.0.2"));
    }

    #[test]
    fn one_address_is_never_given_twice() {
        let text = vec!["pool".to_string()];
        let desired: BTreeMap<_, _> = [gateway("a", &["10.0.0.1"], &[]), gateway("b", &["10.0.0.1"], &[])].into_iter().collect();
        let out = allocate(&pool(), &text, &desired, &BTreeMap::new());
        assert!(out[&ObjectRef::new("ns", "a")].is_ok());
        assert!(matches!(out[&ObjectRef::new("ns", "b")], Err(ProviderError::AddressNotUsable { .. })));
        let small = vec![ip("10.0.0.1")];
        let desired: BTreeMap<_, _> = [gateway("a", &[], &[]), gateway("b", &[], &[])].into_iter().collect();
        let out = allocate(&small, &text, &desired, &BTreeMap::new());
        assert!(out[&ObjectRef::new("ns", "b")].as_ref().unwrap_err().to_string().contains("exhausted"));
    }
}
