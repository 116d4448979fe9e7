//! The trait-object form of [`Provider`]: what the operator holds, one per platform, in a map by
//! kind. Every `Provider` is a `DynProvider`; the typed observe/plan/apply steps stay inside.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use portico_model::ir::ObjectRef;

use crate::{Applied, Desired, Planner, Provider, ProviderError};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A platform, erased: see [`Provider`] for what each method means.
pub trait DynProvider: Send + Sync {
    fn planner(&self) -> &dyn Planner;

    fn prepare(&self, desired: &Desired);

    fn apply_all<'a>(
        &'a self,
        desired: &'a BTreeMap<ObjectRef, Desired>,
        changed: &'a BTreeSet<ObjectRef>,
    ) -> BoxFuture<'a, BTreeMap<ObjectRef, Result<Applied, ProviderError>>>;

    fn delete<'a>(&'a self, gateway: &'a ObjectRef) -> BoxFuture<'a, Result<(), ProviderError>>;
}

impl<P: Provider> DynProvider for P {
    fn planner(&self) -> &dyn Planner {
        Provider::planner(self)
    }

    fn prepare(&self, desired: &Desired) {
        Provider::prepare(self, desired)
    }

    fn apply_all<'a>(
        &'a self,
        desired: &'a BTreeMap<ObjectRef, Desired>,
        changed: &'a BTreeSet<ObjectRef>,
    ) -> BoxFuture<'a, BTreeMap<ObjectRef, Result<Applied, ProviderError>>> {
        Box::pin(Provider::apply_all(self, desired, changed))
    }

    fn delete<'a>(&'a self, gateway: &'a ObjectRef) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(Provider::delete(self, gateway))
    }
}
