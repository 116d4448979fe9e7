//! A provider wrapper that injects failures (throttling, 5xx, crashes) into any provider, for
//! tests of retries and convergence. It implements the same trait as what it wraps and forwards
//! every method; an injected failure replaces the platform call it is aimed at.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use portico_model::ir::ObjectRef;

use crate::{Applied, Desired, Planner, Provider, ProviderError};

/// Which call an injected failure hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Observe,
    Apply,
    Delete,
}

pub struct Faulty<P> {
    pub inner: P,
    failures: Mutex<VecDeque<(Call, ProviderError)>>,
}

impl<P> Faulty<P> {
    pub fn new(inner: P) -> Self {
        Faulty { inner, failures: Mutex::new(VecDeque::new()) }
    }

    /// The next call of this kind fails with `error` instead of reaching the platform.
    pub fn inject(&self, call: Call, error: ProviderError) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.push_back((call, error));
        }
    }

    /// Failures injected and not yet delivered.
    pub fn pending(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }

    fn take(&self, call: Call) -> Result<(), ProviderError> {
        let Ok(mut failures) = self.failures.lock() else { return Ok(()) };
        match failures.iter().position(|(c, _)| *c == call) {
            Some(at) => failures.remove(at).map_or(Ok(()), |(_, e)| Err(e)),
            None => Ok(()),
        }
    }

    /// The next queued observe or apply failure, for a Gateway programmed through `apply_all`.
    fn take_programming(&self) -> Result<(), ProviderError> {
        self.take(Call::Observe).and_then(|()| self.take(Call::Apply))
    }
}

impl<P: Provider> Provider for Faulty<P> {
    type Observed = P::Observed;
    type Plan = P::Plan;

    fn planner(&self) -> &dyn Planner {
        self.inner.planner()
    }

    fn prepare(&self, desired: &Desired) {
        self.inner.prepare(desired)
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        self.take(Call::Observe)?;
        self.inner.observe(gateway).await
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> Self::Plan {
        self.inner.plan(desired, observed)
    }

    fn plan_is_empty(&self, plan: &Self::Plan) -> bool {
        self.inner.plan_is_empty(plan)
    }

    async fn apply(&self, plan: &Self::Plan) -> Result<Applied, ProviderError> {
        self.take(Call::Apply)?;
        self.inner.apply(plan).await
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        self.take(Call::Delete)?;
        self.inner.delete(gateway).await
    }

    /// A queued observe or apply failure replaces the whole programming call: every changed
    /// Gateway gets it and the wrapped provider is not reached (platforms that write one
    /// configuration for many Gateways fail them together). Otherwise the wrapped provider's own
    /// `apply_all` runs.
    async fn apply_all(&self, desired: &BTreeMap<ObjectRef, Desired>, changed: &BTreeSet<ObjectRef>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        match self.take_programming() {
            Err(error) => desired.keys().filter(|k| changed.contains(*k)).map(|k| (k.clone(), Err(error.clone()))).collect(),
            Ok(()) => self.inner.apply_all(desired, changed).await,
        }
    }
}
