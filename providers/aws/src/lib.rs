#![forbid(unsafe_code)]
//! The AWS provider (`portico.dev/aws`): HTTP/HTTPS listeners on an Application Load Balancer,
//! TCP/UDP/TLS listeners on a Network Load Balancer, through ELBv2, EC2 (subnets, the managed
//! security group) and ACM (certificates imported from Secrets).
//!
//! `observe` reads what exists (by deterministic names, confirmed by ownership tags), `plan`
//! compiles the IR into the native model (checking AWS quotas first) and diffs it, `apply` runs
//! the steps in dependency order. See `docs/aws.md`.

pub(crate) mod compile;
pub(crate) mod names;
pub(crate) mod native;
pub(crate) mod observed;
pub mod params;
pub mod permissions;
pub(crate) mod plan;
#[cfg(feature = "sdk")]
mod provider;
#[cfg(feature = "sdk")]
pub(crate) mod sdk;

use std::collections::BTreeMap;

use portico_model::capabilities::{Capabilities, Fact, Feature, Limits, ListenerProtocol, ProviderKind, RegexDialect};
use portico_model::ir::ObjectRef;
use portico_provider::{Check, Connect, Descriptor, Desired, Planner, RouteOverflow};
use serde::Serialize;

#[cfg(feature = "sdk")]
pub use provider::AwsProvider;
#[cfg(feature = "sdk")]
pub use sdk::{CallCounts, Clients, Settings, http_client};
/// The SDK crates, for callers and tests that build clients or inspect AWS directly.
#[cfg(feature = "sdk")]
pub use {aws_config, aws_sdk_acm, aws_sdk_ec2, aws_sdk_elasticloadbalancingv2, aws_smithy_types};
/// The native model and its plan steps (what `portico plan` prints), and resource names.
pub use {
    names::Namer,
    native::{Action, Role},
    observed::Observed,
    plan::Step,
};

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

/// The pure part: AWS's capabilities, its quota check and plans, for one cluster name.
pub struct AwsPlanner {
    pub(crate) cluster: String,
    capabilities: Capabilities,
}

impl AwsPlanner {
    pub fn new(cluster: &str) -> AwsPlanner {
        AwsPlanner { cluster: cluster.to_string(), capabilities: capabilities() }
    }
}

impl Planner for AwsPlanner {
    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Listeners past the per-load-balancer quotas, routes that do not fit the ALB's rule and
    /// condition quotas, and infrastructure labels or annotations AWS cannot take as tags.
    fn check(&self, desired: &Desired) -> Check {
        let (overflows, listener_overflows) = compile::compile(desired, &self.cluster).map(|c| (c.overflows, c.listener_overflows)).unwrap_or_default();
        Check { overflows, listener_overflows, refusal: None, left_out: compile::untaggable(&desired.ir) }
    }

    fn plan_from_empty(&self, desired: &Desired) -> Option<serde_json::Value> {
        serde_json::to_value(plan_for(&self.cluster, &desired.ir.gateway, Some(desired), &observed::Observed::default())).ok()
    }
}

/// `portico run`'s AWS flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region (default: the standard chain, `AWS_REGION`, profile, instance metadata).
    #[arg(long, env = "PORTICO_AWS_REGION")]
    pub aws_region: Option<String>,
    /// One endpoint for ELBv2, EC2 and ACM (a proxy, LocalStack or moto); default: AWS's.
    #[arg(long, env = "PORTICO_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    /// Independent calls of one kind sent to AWS at once (target groups, their targets, listener
    /// rules); 1 applies every step one after another.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32), env = "PORTICO_AWS_CONCURRENT_CALLS")]
    pub aws_concurrent_calls: u16,
}

/// The AWS platform, for the operator's registry.
pub static DESCRIPTOR: Descriptor = Descriptor {
    kind: ProviderKind::Aws,
    capabilities,
    parameters_crd,
    uses_cluster_name: true,
    args: <AwsArgs as clap::Args>::augment_args,
    configure,
    planner: |cluster| Box::new(AwsPlanner::new(cluster)),
    permissions: |cluster| serde_json::to_string_pretty(&permissions::policy_document(&permissions::Scope::any(cluster))).ok().map(|t| t + "\n"),
};

#[cfg(feature = "sdk")]
fn configure(matches: &clap::ArgMatches) -> Result<Connect, String> {
    <AwsArgs as clap::FromArgMatches>::from_arg_matches(matches).map(AwsArgs::connect).map_err(|e| e.to_string())
}

#[cfg(not(feature = "sdk"))]
fn configure(_: &clap::ArgMatches) -> Result<Connect, String> {
    Err("this build of portico-aws has no AWS SDK (feature `sdk`)".into())
}

fn parameters_crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    <params::AWSLoadBalancerParameters as kube::CustomResourceExt>::crd()
}

/// What ALB and NLB can express.
pub fn capabilities() -> Capabilities {
    use Feature::*;
    Capabilities {
        provider: ProviderKind::Aws,
        platform: "AWS Application/Network Load Balancer".into(),
        label: "AWS".into(),
        parameters_kind: "AWSLoadBalancerParameters".into(),
        protocols: [ListenerProtocol::Http, ListenerProtocol::Https, ListenerProtocol::Tls, ListenerProtocol::Tcp, ListenerProtocol::Udp].into(),
        features: [
            Gateway,
            GatewayPort8080,
            ListenerSet,
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
            HttpRouteNamedRouteRule,
            GrpcRoute,
            GrpcRouteNamedRouteRule,
            TlsRoute,
            TlsRouteModeTerminate,
            TcpRoute,
            UdpRoute,
        ]
        .into(),
        // ALB cannot add or set arbitrary request/response headers, mirror requests or apply
        // per-rule timeouts; query-string conditions take wildcards, not regular expressions;
        // an NLB listener forwards to one target group, so TLS listeners cannot split by SNI.
        facts: [
            Fact::InfrastructureAnnotations,
            Fact::PathRegexMatch,
            Fact::HeaderRegexMatch,
            Fact::WeightedBackends,
            Fact::FullPathRewrite,
            Fact::TlsPassthrough,
        ]
        .into(),
        redirect_status_codes: [301, 302].into(),
        retry_status_codes: Default::default(),
        limits: Limits { max_condition_values_per_rule: Some(5), max_backends_per_rule: Some(5), regex_dialect: RegexDialect::Alb },
        gateway_parameters: params::GATEWAY_TUNABLE.iter().map(|f| (*f).to_string()).collect(),
        parameter_defaults: serde_json::to_value(params::AWSLoadBalancerParametersSpec::default())
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default(),
    }
}
