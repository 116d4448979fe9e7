//! A provider wrapper that injects failures (throttling, 5xx, crashes) into any provider, for
//! tests of retries and convergence. It implements the same trait as what it wraps.

use std::collections::VecDeque;
use std::sync::Mutex;

use portico_model::ir::ObjectRef;

use crate::{Applied, Capabilities, Desired, Provider, ProviderError, RouteOverflow};

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

    fn take(&self, call: Call) -> Result<(), ProviderError> {
        let Ok(mut failures) = self.failures.lock() else { return Ok(()) };
        match failures.iter().position(|(c, _)| *c == call) {
            Some(at) => Err(failures.remove(at).map(|(_, e)| e).expect("position is in range")),
            None => Ok(()),
        }
    }
}

impl<P: Provider> Provider for Faulty<P> {
    type Observed = P::Observed;
    type Plan = P::Plan;

    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
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

    fn overflows(&self, desired: &Desired) -> Vec<RouteOverflow> {
        self.inner.overflows(desired)
    }
}
