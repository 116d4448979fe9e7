//! The AWS provider itself: the pure planner plus the SDK clients.

use std::sync::{Arc, Mutex};

use portico_model::ir::ObjectRef;
use portico_provider::{Applied, Connect, Context, Desired, DynProvider, Planner, Provider, ProviderError};

use crate::sdk::{self, Clients, Settings};
use crate::{AwsArgs, AwsPlan, AwsPlanner, names, observed, plan_for};

/// ALB and NLB through the AWS APIs.
pub struct AwsProvider {
    clients: Clients,
    planner: AwsPlanner,
    /// Crash tests: stop the next apply after this many steps.
    pub interrupt_after: Mutex<Option<usize>>,
}

impl AwsProvider {
    pub async fn connect(settings: &Settings) -> AwsProvider {
        AwsProvider::with_clients(Clients::connect(settings).await, &settings.cluster)
    }

    pub fn with_clients(clients: Clients, cluster: &str) -> AwsProvider {
        AwsProvider { clients, planner: AwsPlanner::new(cluster), interrupt_after: Mutex::new(None) }
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn cluster(&self) -> &str {
        &self.planner.cluster
    }
}

impl Provider for AwsProvider {
    type Observed = (ObjectRef, observed::Observed);
    type Plan = AwsPlan;

    fn planner(&self) -> &dyn Planner {
        &self.planner
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        let observed = sdk::observe::observe(&self.clients, &names::Namer::new(self.cluster(), gateway)).await?;
        Ok((gateway.clone(), observed))
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> AwsPlan {
        plan_for(self.cluster(), &observed.0, desired, &observed.1)
    }

    fn plan_is_empty(&self, plan: &AwsPlan) -> bool {
        plan.is_empty()
    }

    async fn apply(&self, plan: &AwsPlan) -> Result<Applied, ProviderError> {
        if let Some(message) = &plan.error {
            return Err(ProviderError::Rejected { platform: "AWS".into(), operation: "plan".into(), message: message.clone() });
        }
        let stop_after = self.interrupt_after.lock().ok().and_then(|mut i| i.take());
        let inputs = sdk::apply::Inputs { plan: &plan.plan, pems: &plan.pems, params: &plan.params, stop_after };
        sdk::apply::apply(&self.clients, inputs).await
    }

    async fn delete(&self, gateway: &ObjectRef) -> Result<(), ProviderError> {
        let observed = self.observe(gateway).await?;
        let plan = self.plan(None, &observed);
        self.apply(&plan).await.map(|_| ())
    }
}

impl AwsArgs {
    /// Starts the provider with these flags.
    pub fn connect(self) -> Connect {
        Box::new(move |context: Context| {
            Box::pin(async move {
                let settings = Settings {
                    cluster: context.cluster.clone(),
                    region: self.aws_region,
                    endpoint: self.aws_endpoint,
                    max_attempts: None,
                    concurrent_calls: Some(usize::from(self.aws_concurrent_calls)),
                };
                let mut clients = Clients::connect(&settings).await;
                let on_call = context.on_call.clone();
                clients.on_call = Some(Arc::new(move |operation: &str| on_call(operation)));
                Ok(Arc::new(AwsProvider::with_clients(clients, &context.cluster)) as Arc<dyn DynProvider>)
            })
        })
    }
}
