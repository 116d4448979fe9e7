//! HAProxy through the one provider contract. Gateways that share a parameters object share an
//! HAProxy process ([`Instance`]); the provider keeps one instance per parameters object and
//! writes each instance's configuration once for all its Gateways (`apply_all`). Per Gateway,
//! `observe` reports what its instance serves for it, `plan` says whether that must change, and
//! `apply` re-programs the instance with the change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use portico_model::ir::ObjectRef;
use portico_provider::{Applied, Capabilities, Check, Desired, Planner, Provider, ProviderError};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::params::{HAProxyMode, HAProxyParametersSpec, expand_pool};
use crate::runtime::Instance;

/// The pure part: HAProxy's capabilities and its address check.
pub struct HaproxyPlanner {
    capabilities: Capabilities,
}

impl Default for HaproxyPlanner {
    fn default() -> Self {
        HaproxyPlanner { capabilities: crate::capabilities() }
    }
}

impl Planner for HaproxyPlanner {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// `spec.addresses` the instance cannot honour (outside its pool, more than one address):
    /// the Gateway is refused (`Programmed=False/AddressNotUsable`) and nothing is bound for it.
    fn check(&self, desired: &Desired) -> Check {
        let mut check = Check::default();
        if desired.ir.requested_addresses.is_empty() {
            return check;
        }
        let spec: HAProxyParametersSpec = serde_json::from_value(desired.parameters.clone()).unwrap_or_default();
        if let Ok(pool) = expand_pool(&spec.address_pool) {
            check.refusal = crate::addresses::check_requested(&pool, &spec.address_pool, &desired.ir.requested_addresses).err();
        }
        check
    }
}

/// What one instance was last programmed with.
#[derive(Default)]
struct Synced {
    desired: BTreeMap<ObjectRef, Desired>,
    results: BTreeMap<ObjectRef, Result<Applied, ProviderError>>,
}

#[derive(Default)]
struct State {
    instances: BTreeMap<String, Arc<Instance>>,
    synced: BTreeMap<String, Synced>,
}

/// The HAProxy platform: every managed (or external) HAProxy instance of this operator.
pub struct HaproxyProvider {
    planner: HaproxyPlanner,
    state_dir: PathBuf,
    state: Mutex<State>,
}

/// What HAProxy serves for one Gateway.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub gateway: Option<ObjectRef>,
    /// The instance the Gateway is programmed on, and what with.
    pub programmed: Option<(String, Desired)>,
    /// Whether that instance's HAProxy is running (an external one always counts as running).
    pub running: bool,
}

/// The change for one Gateway.
#[derive(Debug, Clone, Serialize)]
pub struct HaproxyPlan {
    pub gateway: Option<ObjectRef>,
    /// `none`, `create`, `update` (also: the instance is not running) or `remove`.
    pub change: &'static str,
    #[serde(skip)]
    wanted: Option<Desired>,
    #[serde(skip)]
    instance: Option<String>,
}

impl HaproxyProvider {
    /// Instances keep their files under `state_dir/<instance>` unless their parameters name a
    /// directory.
    pub fn new(state_dir: impl Into<PathBuf>) -> HaproxyProvider {
        HaproxyProvider { planner: HaproxyPlanner::default(), state_dir: state_dir.into(), state: Mutex::new(State::default()) }
    }

    /// The instance serving a parameters object (`namespace/name`, or `default`), if started.
    pub async fn instance(&self, name: &str) -> Option<Arc<Instance>> {
        self.state.lock().await.instances.get(name).cloned()
    }

    /// Every running instance, by parameters object.
    pub async fn instances(&self) -> BTreeMap<String, Arc<Instance>> {
        self.state.lock().await.instances.clone()
    }

    /// Program one instance with exactly `desired` (all of its Gateways); an instance left
    /// with none is stopped.
    async fn sync(&self, state: &mut State, name: &str, desired: BTreeMap<ObjectRef, Desired>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        let spec: HAProxyParametersSpec = desired.values().next().and_then(|d| serde_json::from_value(d.parameters.clone()).ok()).unwrap_or_default();
        let dir = self.state_dir.join(sanitize(name));
        let instance = state.instances.entry(name.to_string()).or_insert_with(|| Arc::new(Instance::new(spec, &dir))).clone();
        let reserved = state.synced.iter().filter(|(n, _)| n.as_str() != name).flat_map(|(_, s)| s.results.values());
        instance.reserve(reserved.filter_map(|r| r.as_ref().ok()).flat_map(|a| a.addresses.iter().filter_map(|x| x.value.parse().ok())).collect());
        let results = instance.sync(&desired).await;
        if desired.is_empty() {
            instance.stop().await;
            state.instances.remove(name);
            state.synced.remove(name);
        } else {
            state.synced.insert(name.to_string(), Synced { desired, results: results.clone() });
        }
        results
    }

    fn find(state: &State, gateway: &ObjectRef) -> Option<(String, Desired)> {
        state.synced.iter().find_map(|(name, s)| s.desired.get(gateway).map(|d| (name.clone(), d.clone())))
    }
}

fn sanitize(group: &str) -> String {
    group.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

impl Provider for HaproxyProvider {
    type Observed = Observed;
    type Plan = HaproxyPlan;

    fn planner(&self) -> &dyn Planner {
        &self.planner
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Observed, ProviderError> {
        let state = self.state.lock().await;
        let programmed = Self::find(&state, gateway);
        let instance = programmed.as_ref().and_then(|(name, _)| state.instances.get(name));
        let running = instance.is_some_and(|i| i.spec.mode == HAProxyMode::External || i.master_pid().is_some());
        Ok(Observed { gateway: Some(gateway.clone()), programmed, running })
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Observed) -> HaproxyPlan {
        let gateway = desired.map(|d| d.ir.gateway.clone()).or_else(|| observed.gateway.clone());
        let current = observed.programmed.as_ref();
        let change = match (desired, current) {
            (None, None) => "none",
            (None, Some(_)) => "remove",
            (Some(_), None) => "create",
            (Some(d), Some((name, c))) if *name == d.instance && c == d && observed.running => "none",
            (Some(_), Some(_)) => "update",
        };
        let instance = desired.map(|d| d.instance.clone()).or_else(|| current.map(|(name, _)| name.clone()));
        HaproxyPlan { gateway, change, wanted: desired.cloned(), instance }
    }

    fn plan_is_empty(&self, plan: &HaproxyPlan) -> bool {
        plan.change == "none"
    }

    async fn apply(&self, plan: &HaproxyPlan) -> Result<Applied, ProviderError> {
        let (Some(gateway), Some(instance)) = (&plan.gateway, &plan.instance) else { return Ok(Applied { ready: true, ..Applied::default() }) };
        let mut state = self.state.lock().await;
        // A Gateway that moved to another instance leaves its old one first.
        if let Some((old, _)) = Self::find(&state, gateway).filter(|(old, _)| old != instance) {
            let mut rest = state.synced.get(&old).map(|s| s.desired.clone()).unwrap_or_default();
            rest.remove(gateway);
            self.sync(&mut state, &old, rest).await;
        }
        let mut members = state.synced.get(instance).map(|s| s.desired.clone()).unwrap_or_default();
        match &plan.wanted {
            Some(wanted) => members.insert(gateway.clone(), wanted.clone()),
            None => members.remove(gateway),
        };
        let mut results = self.sync(&mut state, instance, members).await;
        match plan.wanted {
            Some(_) => results.remove(gateway).unwrap_or_else(|| Ok(Applied { ready: true, ..Applied::default() })),
            None => Ok(Applied { ready: true, ..Applied::default() }),
        }
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        let observed = self.observe(gateway).await?;
        let plan = self.plan(None, &observed);
        if !self.plan_is_empty(&plan) {
            self.apply(&plan).await?;
        }
        Ok(())
    }

    /// Every instance that has a changed Gateway, or whose Gateways are not the ones it was
    /// last programmed with, is written once with all its Gateways; instances left with none
    /// stop.
    async fn apply_all(&self, desired: &BTreeMap<ObjectRef, Desired>, changed: &BTreeSet<ObjectRef>) -> BTreeMap<ObjectRef, Result<Applied, ProviderError>> {
        let mut groups: BTreeMap<String, BTreeMap<ObjectRef, Desired>> = BTreeMap::new();
        for (key, gateway) in desired {
            groups.entry(gateway.instance.clone()).or_default().insert(key.clone(), gateway.clone());
        }
        let mut state = self.state.lock().await;
        for name in state.synced.keys() {
            groups.entry(name.clone()).or_default();
        }
        let mut out = BTreeMap::new();
        for (name, members) in groups {
            let before: BTreeSet<&ObjectRef> = state.synced.get(&name).map(|s| s.desired.keys().collect()).unwrap_or_default();
            let moved = before != members.keys().collect::<BTreeSet<_>>();
            if !moved && !members.keys().any(|k| changed.contains(k)) {
                continue;
            }
            out.extend(self.sync(&mut state, &name, members).await);
        }
        out
    }
}
