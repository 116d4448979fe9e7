//! The GCP provider itself: the pure planner plus the Compute clients.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use portico_model::ir::ObjectRef;
use portico_provider::{Applied, Connect, Context, Desired, DynProvider, Planner, Provider, ProviderError};

use crate::sdk::{self, Clients, Settings};
use crate::{Defaults, GcpArgs, GcpPlan, GcpPlanner, names, params, plan, plan_for};

/// Google Cloud load balancers through the Compute API.
pub struct GcpProvider {
    clients: Clients,
    planner: GcpPlanner,
    /// The project each Gateway was last planned in (parameters may name another than the
    /// default); observe and delete look there.
    projects: Mutex<BTreeMap<ObjectRef, String>>,
    /// Crash tests: stop the next apply after this many steps.
    pub interrupt_after: Mutex<Option<usize>>,
}

impl GcpProvider {
    pub async fn connect(settings: &Settings) -> Result<GcpProvider, String> {
        Ok(GcpProvider::with_clients(Clients::connect(settings).await?, settings))
    }

    pub fn with_clients(clients: Clients, settings: &Settings) -> GcpProvider {
        let defaults = Defaults { cluster: settings.cluster.clone(), project: settings.project.clone(), region: settings.region.clone() };
        GcpProvider { clients, planner: GcpPlanner::new(defaults), projects: Mutex::new(BTreeMap::new()), interrupt_after: Mutex::new(None) }
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn defaults(&self) -> &Defaults {
        &self.planner.defaults
    }

    fn project_of(&self, gateway: &ObjectRef) -> Option<String> {
        let remembered = self.projects.lock().ok().and_then(|p| p.get(gateway).cloned());
        remembered.or_else(|| self.defaults().project.clone())
    }
}

impl Provider for GcpProvider {
    type Observed = (ObjectRef, String, plan::Observed);
    type Plan = GcpPlan;

    fn planner(&self) -> &dyn Planner {
        &self.planner
    }

    /// Remember the project the parameters name, so observe and delete look there.
    fn prepare(&self, desired: &Desired) {
        let named = params::GCPLoadBalancerParametersSpec::from_value(&desired.parameters).ok().and_then(|p| p.project);
        if let (Some(project), Ok(mut projects)) = (named.or_else(|| self.defaults().project.clone()), self.projects.lock()) {
            projects.insert(desired.ir.gateway.clone(), project);
        }
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        let Some(project) = self.project_of(gateway) else {
            return Err(ProviderError::Rejected {
                platform: "GCP".into(),
                operation: "observe".into(),
                message: "no GCP project: set --gcp-project or spec.project".into(),
            });
        };
        let namer = names::Namer::new(&self.defaults().cluster, gateway);
        let observed = sdk::observe::observe(&self.clients, &project, &namer).await?;
        Ok((gateway.clone(), project, observed))
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> GcpPlan {
        let mut plan = plan_for(self.defaults(), &observed.0, desired, &observed.2);
        // Removal, or a plan that could not be compiled: the project it was observed in.
        if plan.plan.project.is_empty() {
            plan.plan.project = observed.1.clone();
        }
        // A compiled plan's project is the one its parameters name: remember it.
        if let (Some(desired), None) = (desired, &plan.error) {
            Provider::prepare(self, desired);
        }
        plan
    }

    fn plan_is_empty(&self, plan: &GcpPlan) -> bool {
        plan.is_empty()
    }

    async fn apply(&self, plan: &GcpPlan) -> Result<Applied, ProviderError> {
        if let Some(message) = &plan.error {
            return Err(ProviderError::Rejected { platform: "GCP".into(), operation: "plan".into(), message: message.clone() });
        }
        if let Some((address, message)) = &plan.address_error {
            return Err(ProviderError::AddressNotUsable { address: address.clone(), message: message.clone() });
        }
        let stop_after = self.interrupt_after.lock().ok().and_then(|mut i| i.take());
        let inputs = sdk::apply::Inputs { plan: &plan.plan, pems: &plan.pems, address: &plan.address, stop_after };
        sdk::apply::apply(&self.clients, inputs).await
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        let observed = self.observe(gateway).await?;
        let plan = self.plan(None, &observed);
        self.apply(&plan).await.map(|_| ())
    }
}

impl GcpArgs {
    /// Starts the provider with these flags.
    pub fn connect(self) -> Connect {
        Box::new(move |context: Context| {
            Box::pin(async move {
                let settings = Settings {
                    cluster: context.cluster.clone(),
                    project: self.gcp_project,
                    region: self.gcp_region,
                    endpoint: self.gcp_endpoint,
                    anonymous: self.gcp_anonymous,
                    max_attempts: None,
                    concurrent_calls: Some(usize::from(self.gcp_concurrent_calls)),
                };
                let mut clients = Clients::connect(&settings).await.map_err(|e| format!("cannot set up the GCP clients: {e}"))?;
                let on_call = context.on_call.clone();
                clients.on_call = Some(Arc::new(move |operation: &str| on_call(operation)));
                Ok(Arc::new(GcpProvider::with_clients(clients, &settings)) as Arc<dyn DynProvider>)
            })
        })
    }
}
