#![forbid(unsafe_code)]
//! The AWS provider (`portico.dev/aws`): HTTP/HTTPS listeners on an Application Load Balancer,
//! TCP/UDP/TLS listeners on a Network Load Balancer, through ELBv2, EC2 (subnets, the managed
//! security group) and ACM (certificates imported from Secrets).
//!
//! `observe` reads what exists (by deterministic names, confirmed by ownership tags), `plan`
//! compiles the IR into the native model (checking AWS quotas first) and diffs it, `apply` runs
//! the steps in dependency order. See `docs/aws.md`.

pub mod compile;
pub mod names;
pub mod native;
pub mod observed;
pub mod params;
pub mod plan;
pub mod sdk;

use std::collections::BTreeMap;
use std::sync::Mutex;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind, RegexDialect};
use portico_model::ir::ObjectRef;
use portico_provider::{Applied, Desired, Provider, ProviderError, RouteOverflow};
use serde::Serialize;

pub use sdk::{CallCounts, Clients, Settings};
/// The SDK crates, for callers and tests that build clients or inspect AWS directly.
pub use {aws_config, aws_sdk_acm, aws_sdk_ec2, aws_sdk_elasticloadbalancingv2, aws_smithy_types};

/// The native plan of one Gateway: the steps, the routes that did not fit, or why the
/// parameters cannot be used.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsPlan {
    pub gateway: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overflows: Vec<RouteOverflow>,
    #[serde(flatten)]
    pub plan: plan::Plan,
    #[serde(skip)]
    pems: BTreeMap<ObjectRef, Vec<u8>>,
    #[serde(skip)]
    params: params::AWSLoadBalancerParametersSpec,
}

impl AwsPlan {
    pub fn is_empty(&self) -> bool {
        self.error.is_none() && self.plan.steps.is_empty()
    }
}

/// Pure: the plan for `desired` against `observed` (`desired: None` removes everything).
pub fn plan_for(cluster: &str, gateway: &ObjectRef, desired: Option<&Desired>, observed: &observed::Observed) -> AwsPlan {
    let mut out = AwsPlan { gateway: Some(gateway.clone()), ..AwsPlan::default() };
    let Some(desired) = desired else {
        out.plan = plan::plan(None, observed);
        return out;
    };
    out.params = params::AWSLoadBalancerParametersSpec::from_value(&desired.parameters).unwrap_or_default();
    match compile::compile(desired, cluster) {
        Ok(compiled) => {
            out.plan = plan::plan(Some(&compiled.native), observed);
            out.overflows = compiled.overflows;
            out.pems = desired.certificates.clone();
        }
        Err(message) => out.error = Some(message),
    }
    out
}

/// ALB and NLB through the AWS APIs.
pub struct AwsProvider {
    clients: Clients,
    cluster: String,
    capabilities: Capabilities,
    /// Crash tests: stop the next apply after this many steps.
    pub interrupt_after: Mutex<Option<usize>>,
}

impl AwsProvider {
    pub async fn connect(settings: &Settings) -> AwsProvider {
        AwsProvider::with_clients(Clients::connect(settings).await, &settings.cluster)
    }

    pub fn with_clients(clients: Clients, cluster: &str) -> AwsProvider {
        AwsProvider { clients, cluster: cluster.to_string(), capabilities: capabilities(), interrupt_after: Mutex::new(None) }
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }
}

impl Provider for AwsProvider {
    type Observed = (ObjectRef, observed::Observed);
    type Plan = AwsPlan;

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn observe(&self, gateway: &ObjectRef) -> Result<Self::Observed, ProviderError> {
        let observed = sdk::observe::observe(&self.clients, &names::Namer::new(&self.cluster, gateway)).await?;
        Ok((gateway.clone(), observed))
    }

    fn plan(&self, desired: Option<&Desired>, observed: &Self::Observed) -> AwsPlan {
        plan_for(&self.cluster, &observed.0, desired, &observed.1)
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

    fn overflows(&self, desired: &Desired) -> Vec<RouteOverflow> {
        compile::compile(desired, &self.cluster).map(|c| c.overflows).unwrap_or_default()
    }
}

/// What ALB and NLB can express.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Aws,
        platform: "AWS Application/Network Load Balancer".into(),
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tls, ListenerProtocol::Tcp, ListenerProtocol::Udp].into(),
        features: [
            Gateway,
            GatewayPort8080,
            GatewayHttpListenerIsolation,
            GatewayInfrastructurePropagation,
            ReferenceGrant,
            HttpRoute,
            HttpRouteQueryParamMatching,
            HttpRouteMethodMatching,
            HttpRoutePortRedirect,
            HttpRouteSchemeRedirect,
            HttpRoutePathRedirect,
            HttpRouteHostRewrite,
            HttpRoutePathRewrite,
            HttpRouteParentRefPort,
            HttpRouteDestinationPortMatching,
            GrpcRoute,
            TlsRoute,
            TlsRouteModeTerminate,
            TcpRoute,
            UdpRoute,
        ]
        .into(),
        // ALB cannot add or set arbitrary request/response headers, mirror requests or apply
        // per-rule timeouts; query-string conditions take wildcards, not regular expressions;
        // an NLB listener forwards to one target group, so TLS listeners cannot split by SNI.
        facts: [Fact::PathRegexMatch, Fact::HeaderRegexMatch, Fact::WeightedBackends, Fact::FullPathRewrite, Fact::TlsPassthrough].into(),
        redirect_status_codes: [301, 302].into(),
        limits: Limits { max_condition_values_per_rule: Some(5), max_backends_per_rule: Some(5), regex_dialect: RegexDialect::Alb },
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::AWSLoadBalancerParametersSpec::default())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
    }
}
