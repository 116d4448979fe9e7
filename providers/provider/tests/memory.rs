//! The shared provider suite against the in-memory platform, bare and behind the
//! fault-injecting wrapper; and the wrapper's own promises (it forwards every method, an
//! injected failure replaces exactly the call it is aimed at).

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{Gateway, ObjectRef};
use portico_provider::conformance;
use portico_provider::faulty::{Call, Faulty};
use portico_provider::memory::MemoryProvider;
use portico_provider::{Desired, DynProvider, Provider, ProviderError};

fn desired(name: &str) -> Desired {
    let ir: Gateway = serde_json::from_value(serde_json::json!({
        "gateway": {"namespace": "t", "name": name}, "gatewayClass": "memory", "provider": "memory",
        "requestedAddresses": [], "infrastructureLabels": {}, "backends": {},
        "ports": [{"port": 80, "protocol": "HTTP", "listeners": ["http"], "virtualHosts": [], "certificates": [], "tlsRoutes": [], "l4Routes": []}]
    }))
    .expect("a valid IR");
    Desired::bare(ir)
}

fn throttled() -> ProviderError {
    ProviderError::Throttled { platform: "memory".into(), operation: "put".into(), message: "slow down".into() }
}

#[tokio::test]
async fn the_shared_suite_passes_on_memory() {
    let provider = MemoryProvider::default();
    conformance::apply_is_idempotent(&provider, &desired("a")).await.unwrap();
    conformance::delete_removes_everything(&provider, &desired("b")).await.unwrap();
    conformance::delete_of_nothing_succeeds(&provider, &ObjectRef::new("t", "never")).await.unwrap();
}

#[tokio::test]
async fn the_shared_suite_passes_behind_the_fault_injector() {
    let provider = Faulty::new(MemoryProvider::default());
    conformance::apply_is_idempotent(&provider, &desired("a")).await.unwrap();
    conformance::delete_removes_everything(&provider, &desired("b")).await.unwrap();
}

#[tokio::test]
async fn an_injected_failure_replaces_one_call_and_the_next_converges() {
    let provider = Faulty::new(MemoryProvider::default());
    let gateway = desired("a");
    provider.inject(Call::Apply, throttled());
    let all: BTreeMap<ObjectRef, Desired> = [(gateway.ir.gateway.clone(), gateway.clone())].into();
    let changed: BTreeSet<ObjectRef> = all.keys().cloned().collect();
    let first = DynProvider::apply_all(&provider, &all, &changed).await;
    let error = first[&gateway.ir.gateway].as_ref().unwrap_err();
    assert!(error.retryable(), "{error}");
    assert!(provider.inner.gateways().is_empty(), "the failed call reached the platform");
    assert_eq!(provider.pending(), 0);
    let second = DynProvider::apply_all(&provider, &all, &changed).await;
    let applied = second[&gateway.ir.gateway].as_ref().unwrap();
    assert_eq!(applied.addresses[0].value, "192.0.2.1");
    assert!(applied.ready);
    // Nothing changed: nothing is programmed again.
    let none = DynProvider::apply_all(&provider, &all, &BTreeSet::new()).await;
    assert!(none.is_empty());
    assert_eq!(provider.inner.calls.snapshot().get("memory.put"), Some(&1));
    // Delete failures are injected too, and the platform keeps the Gateway until one succeeds.
    provider.inject(Call::Delete, throttled());
    assert!(Provider::delete(&provider, &gateway.ir.gateway).await.is_err());
    assert_eq!(provider.inner.gateways().len(), 1);
    Provider::delete(&provider, &gateway.ir.gateway).await.unwrap();
    assert!(provider.inner.gateways().is_empty());
}

#[tokio::test]
async fn addresses_are_stable_and_distinct() {
    let provider = MemoryProvider::default();
    let all: BTreeMap<ObjectRef, Desired> = ["a", "b"].map(|n| (ObjectRef::new("t", n), desired(n))).into();
    let changed: BTreeSet<ObjectRef> = all.keys().cloned().collect();
    let first = DynProvider::apply_all(&provider, &all, &changed).await;
    let second = DynProvider::apply_all(&provider, &all, &changed).await;
    let address = |results: &BTreeMap<ObjectRef, Result<portico_provider::Applied, ProviderError>>, n: &str| {
        results[&ObjectRef::new("t", n)].as_ref().unwrap().addresses[0].value.clone()
    };
    assert_ne!(address(&first, "a"), address(&first, "b"));
    assert_eq!(address(&first, "a"), address(&second, "a"));
    assert_eq!(address(&first, "b"), address(&second, "b"));
}
