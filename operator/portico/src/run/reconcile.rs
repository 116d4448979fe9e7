//! One reconcile of the whole snapshot: translate, each platform's checks, programming through
//! every registered provider alike, finalizers, status. The API writes are in `writes.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use kube::Client;
use portico_model::ir::ObjectRef;
use portico_model::{ProviderKind, Snapshot};
use portico_provider::{Applied, Desired, DynProvider, ProviderError};
use portico_translate::{CapabilitySet, Translation, translate};
use serde_json::Value;

use super::metrics::Metrics;
use super::stores::Stores;

/// What a Gateway was last programmed with, and the outcome.
pub(super) struct Programmed {
    pub fingerprint: Option<Fingerprint>,
    pub result: Result<Applied, ProviderError>,
    pub provider: ProviderKind,
}

pub struct Reconciler {
    pub(super) client: Client,
    pub(super) stores: Stores,
    pub(super) metrics: Arc<Metrics>,
    capabilities: CapabilitySet,
    providers: BTreeMap<ProviderKind, Arc<dyn DynProvider>>,
    pub(super) applied: BTreeMap<ObjectRef, Programmed>,
    /// The Gateways (with their fingerprints and provider) being programmed right now: blamed
    /// if the pass panics.
    in_flight: std::sync::Mutex<Vec<(ObjectRef, Option<Fingerprint>, ProviderKind)>>,
    /// Gateways whose programming panicked: skipped until their desired state changes.
    quarantined: BTreeMap<ObjectRef, Option<Fingerprint>>,
    /// Per route, the resourceVersion at which its status was seen to equal the computed one,
    /// and that computed status: unchanged routes are skipped without serializing them.
    pub(super) confirmed_routes: std::sync::Mutex<std::collections::HashMap<portico_model::ir::RouteKey, (String, portico_translate::status::RouteStatus)>>,
    /// kube's event recorder (`events.k8s.io/v1`): repeats of an event become one Event's series.
    pub(super) recorder: kube::runtime::events::Recorder,
}

impl Reconciler {
    pub fn new(client: Client, stores: Stores, metrics: Arc<Metrics>, providers: BTreeMap<ProviderKind, Arc<dyn DynProvider>>) -> Self {
        let capabilities = CapabilitySet::new(providers.values().map(|p| p.planner().capabilities().clone()));
        let recorder = kube::runtime::events::Recorder::new(client.clone(), "portico".into());
        Reconciler {
            client,
            stores,
            metrics,
            capabilities,
            providers,
            applied: BTreeMap::new(),
            in_flight: Default::default(),
            quarantined: BTreeMap::new(),
            confirmed_routes: Default::default(),
            recorder,
        }
    }

    /// One pass; returns true when something failed and should be retried (with backoff).
    pub async fn reconcile(&mut self, force: bool) -> bool {
        let started = Instant::now();
        let mut phases = Phases::new();
        self.set_in_flight(Vec::new());
        self.stores.changed.forget_writes();
        let snapshot = self.stores.snapshot();
        phases.mark("snapshot");
        // Route kinds whose CRDs are missing are neither supported on listeners nor claimed.
        let missing = self.stores.missing_route_kinds();
        let unserved = self.stores.missing_policy_features();
        self.capabilities = CapabilitySet::new(self.providers.values().map(|p| {
            let mut caps = p.planner().capabilities().without_route_kinds(&missing);
            caps.features.retain(|f| !unserved.contains(f));
            caps
        }));
        let mut translation = translate(&snapshot, &self.capabilities);
        let providers = &self.providers;
        let mut desired = portico_translate::outcome::checked(&snapshot, &self.capabilities, &mut translation, |d| {
            providers.get(&d.ir.provider).map(|p| p.planner().check(d)).unwrap_or_default()
        });
        phases.mark("translate");
        self.skip_quarantined(&mut desired);
        let deleting = self.finalize(&snapshot, &translation).await;
        desired.retain(|k, _| !deleting.contains(k));
        let wanted: BTreeSet<ObjectRef> = desired.keys().cloned().collect();
        let mut by_kind: BTreeMap<ProviderKind, BTreeMap<ObjectRef, Desired>> = BTreeMap::new();
        for (key, d) in desired {
            by_kind.entry(d.ir.provider).or_default().insert(key, d);
        }
        let kinds: Vec<ProviderKind> = self.providers.keys().copied().collect();
        for kind in kinds {
            self.program(kind, by_kind.remove(&kind).unwrap_or_default(), force).await;
            self.remove(kind, &snapshot, &deleting).await;
        }
        // Gateways being deleted whose platform this replica does not run hold nothing of ours.
        for key in deleting.iter().filter(|k| provider_of(&snapshot, k).is_none_or(|p| !self.providers.contains_key(&p))) {
            self.remove_finalizer(&snapshot, key).await;
        }
        self.applied.retain(|k, _| wanted.contains(k) || deleting.contains(k));
        phases.mark("program");
        self.fold(&snapshot, &mut translation);
        let ok = self.write_statuses(&snapshot, &translation, &deleting).await;
        phases.mark("status");
        tracing::debug!(phases = %phases, routes = translation.statuses.routes.len(), "reconciled");
        self.metrics.reconciled(ok, started.elapsed().as_secs_f64());
        // Failures and load balancers still provisioning are looked at again soon.
        let provider_pending = self.applied.values().any(|p| !p.result.as_ref().is_ok_and(|a| a.ready));
        !ok || provider_pending
    }

    /// Program one platform's Gateways: the ones whose desired state changed since they were
    /// last programmed well (all of them on a drift tick), and those still provisioning.
    async fn program(&mut self, kind: ProviderKind, desired: BTreeMap<ObjectRef, Desired>, force: bool) {
        let Some(provider) = self.providers.get(&kind).cloned() else { return };
        let changed: BTreeSet<ObjectRef> = desired.iter().filter(|(k, d)| force || !self.serving(k, d)).map(|(k, _)| k.clone()).collect();
        let left = self.applied.iter().any(|(k, p)| p.provider == kind && !desired.contains_key(k));
        if changed.is_empty() && !left {
            return;
        }
        let span = tracing::info_span!("program", provider = kind.name(), gateways = ?changed.iter().map(ToString::to_string).collect::<Vec<_>>());
        let _entered = span.enter();
        desired.values().for_each(|d| provider.prepare(d));
        self.set_in_flight(changed.iter().map(|k| (k.clone(), desired.get(k).map(Fingerprint::of), kind)).collect());
        self.metrics.provider_call(kind.name(), "apply");
        let results = provider.apply_all(&desired, &changed).await;
        self.set_in_flight(Vec::new());
        self.applied.retain(|k, p| p.provider != kind || desired.contains_key(k));
        for (key, result) in results {
            let wanted = desired.get(&key);
            match &result {
                Err(error) => {
                    self.metrics.error("provider");
                    tracing::warn!(gateway = %key, %error, retryable = error.retryable(), provider = kind.name(), "programming failed");
                    self.event(&key, error).await;
                }
                // A Normal Event when a Gateway's current desired state first becomes ready.
                Ok(applied) if applied.ready && wanted.is_some_and(|d| !self.serving(&key, d)) => {
                    self.programmed_event(&key, kind.name(), &applied.addresses).await;
                }
                Ok(_) => {}
            }
            self.applied.insert(key, Programmed { fingerprint: wanted.map(Fingerprint::of), result, provider: kind });
        }
    }

    /// Whether the Gateway was last programmed from this desired state and came out ready.
    fn serving(&self, key: &ObjectRef, desired: &Desired) -> bool {
        self.applied.get(key).is_some_and(|p| p.fingerprint.as_ref().is_some_and(|f| f.matches(desired)) && p.result.as_ref().is_ok_and(|a| a.ready))
    }

    /// Remove what this platform holds for Gateways being deleted; their finalizer goes once
    /// that succeeded.
    async fn remove(&mut self, kind: ProviderKind, snapshot: &Snapshot, deleting: &[ObjectRef]) {
        let Some(provider) = self.providers.get(&kind).cloned() else { return };
        for key in deleting.iter().filter(|k| provider_of(snapshot, k) == Some(kind)) {
            match provider.delete(key).await {
                Ok(()) => {
                    self.applied.remove(key);
                    self.remove_finalizer(snapshot, key).await;
                }
                Err(error) => {
                    self.metrics.error("provider");
                    tracing::warn!(gateway = %key, %error, provider = kind.name(), "removing the load balancer failed");
                    self.event(key, &error).await;
                    self.applied.insert(key.clone(), Programmed { fingerprint: None, result: Err(error), provider: kind });
                }
            }
        }
    }

    /// Every platform's last outcome, folded into the translated statuses.
    fn fold(&self, snapshot: &Snapshot, translation: &mut Translation) {
        let outcomes = self.applied.iter().map(|(key, programmed)| (key, programmed.provider, &programmed.result));
        portico_translate::outcome::fold_all(snapshot, &self.capabilities, translation, outcomes);
    }

    fn set_in_flight(&self, gateways: Vec<(ObjectRef, Option<Fingerprint>, ProviderKind)>) {
        if let Ok(mut slot) = self.in_flight.lock() {
            *slot = gateways;
        }
    }

    /// Leave out Gateways whose programming panicked, until their desired state changes.
    fn skip_quarantined(&mut self, desired: &mut BTreeMap<ObjectRef, Desired>) {
        self.quarantined.retain(|k, f| desired.get(k).is_none_or(|d| f.as_ref().is_some_and(|f| f.matches(d))));
        desired.retain(|k, _| !self.quarantined.contains_key(k));
    }

    /// A pass panicked: blame the Gateways being programmed (Programmed=False, a Warning Event,
    /// skipped until they change) and keep serving the others.
    pub async fn contain_panic(&mut self, message: &str) {
        self.metrics.error("panic");
        let blamed = self.in_flight.lock().map(|mut slot| std::mem::take(&mut *slot)).unwrap_or_default();
        tracing::error!(panic = %message, gateways = ?blamed.iter().map(|(k, _, _)| k.to_string()).collect::<Vec<_>>(), "a reconcile pass panicked; the operator keeps running");
        for (key, fingerprint, provider) in blamed {
            let error = ProviderError::Rejected {
                platform: "Portico".into(),
                operation: "program".into(),
                message: format!("internal error while programming this Gateway ({message}); it is skipped until it changes"),
            };
            self.event(&key, &error).await;
            self.quarantined.insert(key.clone(), fingerprint.clone());
            self.applied.insert(key, Programmed { fingerprint, result: Err(error), provider });
        }
        self.stores.changed.notify_one();
    }
}

/// How long each phase of a pass took (logged at debug level).
struct Phases {
    last: Instant,
    spent: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    fn new() -> Self {
        Phases { last: Instant::now(), spent: Vec::new() }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.spent.push((phase, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.spent.iter().map(|(phase, time)| format!("{phase} {:.1} ms", time.as_secs_f64() * 1e3)).collect();
        f.write_str(&parts.join(", "))
    }
}

/// What a Gateway was programmed from (current addresses excluded: they follow from it). A
/// change here means the provider must apply again. Kept as it was and compared field by field
/// (serializing every Gateway's IR on every pass cost more than translating it).
#[derive(Clone)]
pub(super) struct Fingerprint {
    ir: Arc<portico_model::ir::Gateway>,
    certificates: BTreeMap<ObjectRef, Vec<u8>>,
    parameters: Value,
    instance: String,
}

impl Fingerprint {
    fn of(desired: &Desired) -> Fingerprint {
        Fingerprint {
            ir: Arc::clone(&desired.ir),
            certificates: desired.certificates.clone(),
            parameters: desired.parameters.clone(),
            instance: desired.instance.clone(),
        }
    }

    fn matches(&self, desired: &Desired) -> bool {
        (Arc::ptr_eq(&self.ir, &desired.ir) || self.ir == desired.ir)
            && self.certificates == desired.certificates
            && self.parameters == desired.parameters
            && self.instance == desired.instance
    }
}

/// The provider of a Gateway's class.
pub(super) fn provider_of(snapshot: &Snapshot, key: &ObjectRef) -> Option<ProviderKind> {
    let gateway =
        snapshot.gateways.iter().find(|g| g.metadata.namespace.as_deref() == Some(&key.namespace) && g.metadata.name.as_deref() == Some(&key.name))?;
    let class = snapshot.gateway_classes.iter().find(|c| c.metadata.name.as_deref() == Some(gateway.spec.gateway_class_name.as_str()))?;
    ProviderKind::from_controller_name(&class.spec.controller_name)
}
