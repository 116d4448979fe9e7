//! `AWSLoadBalancerParameters` (group `portico.dev`): how Portico builds the ALB/NLB of a Gateway.
//! Referenced by `GatewayClass.spec.parametersRef` (class-wide) or
//! `Gateway.spec.infrastructure.parametersRef` (one Gateway: it overrides the class's fields in
//! [`GATEWAY_TUNABLE`] and those the class lists in `gatewayOverrides`, nothing else).

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    #[default]
    InternetFacing,
    Internal,
}

impl Scheme {
    pub fn as_aws(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "internet-facing",
            Scheme::Internal => "internal",
        }
    }

    /// The subnet tag that marks subnets for this scheme.
    pub fn subnet_role_tag(self) -> &'static str {
        match self {
            Scheme::InternetFacing => "kubernetes.io/role/elb",
            Scheme::Internal => "kubernetes.io/role/internal-elb",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    #[default]
    Ipv4,
    Dualstack,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// Pod IPs from EndpointSlices.
    #[default]
    Ip,
    /// Node instances on the Service's NodePort (not implemented yet: reported as invalid).
    Instance,
}

/// Subnets by ID, or discovered by tags (the standard `kubernetes.io/role/elb` /
/// `kubernetes.io/role/internal-elb` tag for the scheme, plus any tags given here).
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Subnets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Security groups of the load balancers. By default Portico manages one per load balancer,
/// opened only to the listener ports from `sourceRanges`.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroups {
    /// Existing security group IDs to use instead of a managed one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// CIDRs allowed to reach the listener ports of the managed group (default `0.0.0.0/0`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ranges: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `HTTP`, `HTTPS` or `TCP`; default `HTTP` for ALB target groups, `TCP` for NLB ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Default `/` (HTTP checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A port number or `traffic-port` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<i32>,
    /// HTTP codes counted as healthy, e.g. `200-399` (default `200-399`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_codes: Option<String>,
}

/// AWS quotas checked before calling AWS; raise them here when your account's quotas are raised.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    /// Listeners per load balancer, for the ALB and the NLB each (AWS default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listeners_per_load_balancer: Option<u32>,
    /// Rules per load balancer, every listener's default rule excluded (AWS's "Rules per
    /// Application Load Balancer", default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_per_load_balancer: Option<u32>,
    /// Rules per ALB listener, the default rule excluded (Portico's own cap, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_per_listener: Option<u32>,
    /// Condition values per rule (AWS default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_values_per_rule: Option<u32>,
    /// Target groups per load balancer (AWS default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_groups_per_load_balancer: Option<u32>,
    /// Target groups per forward action (AWS default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_groups_per_action: Option<u32>,
    /// Certificates per load balancer, ALB and NLB each, each listener's default certificate
    /// excluded (AWS's "Certificates per Application Load Balancer", default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_per_load_balancer: Option<u32>,
    /// Certificates per listener, the default one included (Portico's own cap, default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates_per_listener: Option<u32>,
}

/// The quotas in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub listeners_per_load_balancer: u32,
    pub rules_per_listener: u32,
    pub rules_per_load_balancer: u32,
    pub condition_values_per_rule: u32,
    pub target_groups_per_load_balancer: u32,
    pub target_groups_per_action: u32,
    pub certificates_per_listener: u32,
    pub certificates_per_load_balancer: u32,
}

impl Quotas {
    pub fn limits(&self) -> Limits {
        Limits {
            listeners_per_load_balancer: self.listeners_per_load_balancer.unwrap_or(50),
            rules_per_listener: self.rules_per_listener.unwrap_or(100),
            rules_per_load_balancer: self.rules_per_load_balancer.unwrap_or(100),
            condition_values_per_rule: self.condition_values_per_rule.unwrap_or(5),
            target_groups_per_load_balancer: self.target_groups_per_load_balancer.unwrap_or(100),
            target_groups_per_action: self.target_groups_per_action.unwrap_or(5),
            certificates_per_listener: self.certificates_per_listener.unwrap_or(25),
            certificates_per_load_balancer: self.certificates_per_load_balancer.unwrap_or(25),
        }
    }
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[kube(group = "portico.dev", version = "v1alpha1", kind = "AWSLoadBalancerParameters", plural = "awsloadbalancerparameters", namespaced)]
#[kube(shortname = "awslbp", printcolumn = r#"{"name": "Scheme", "type": "string", "jsonPath": ".spec.scheme"}"#)]
#[kube(printcolumn = r#"{"name": "Address type", "type": "string", "jsonPath": ".spec.ipAddressType"}"#)]
#[kube(printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#)]
#[serde(rename_all = "camelCase")]
pub struct AWSLoadBalancerParametersSpec {
    #[serde(default)]
    pub scheme: Scheme,
    #[serde(default)]
    pub subnets: Subnets,
    #[serde(default)]
    pub security_groups: SecurityGroups,
    #[serde(default)]
    pub ip_address_type: IpAddressType,
    /// ALB attributes (`idle_timeout.timeout_seconds`, `routing.http2.enabled`, ...). Only the
    /// keys given are managed; the others keep AWS's values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alb_attributes: BTreeMap<String, String>,
    /// NLB attributes (`load_balancing.cross_zone.enabled`, ...), managed the same way.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nlb_attributes: BTreeMap<String, String>,
    /// Extra tags on every resource Portico creates (ownership tags always win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub quotas: Quotas,
    #[serde(default)]
    pub target_type: TargetType,
    #[serde(default)]
    pub health_check: HealthCheck,
    /// ELB security policy of HTTPS/TLS listeners (default `ELBSecurityPolicy-TLS13-1-2-2021-06`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Existing ACM certificates added to every HTTPS/TLS listener besides those from Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_arns: Vec<String>,
    /// Class-level only: further fields a Gateway-level `spec.infrastructure.parametersRef` may
    /// set (by their camelCase name), beyond the ones every Gateway may tune. See docs/aws.md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_overrides: Vec<String>,
}

/// Fields a Gateway-level AWSLoadBalancerParameters may set without delegation: they only touch
/// the Gateway's own target groups and tags (ownership tags always win). Scheme, subnets,
/// security groups and source ranges, address type, attributes (access logs name buckets), SSL
/// policy, ACM certificates, target type and quotas are class-only.
pub const GATEWAY_TUNABLE: &[&str] = &["healthCheck", "tags"];

impl AWSLoadBalancerParametersSpec {
    /// The spec from the operator's `Desired.parameters` (`null` means defaults).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        if value.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(value.clone()).map_err(|e| format!("invalid AWSLoadBalancerParameters: {e}"))
    }

    pub fn ssl_policy(&self) -> String {
        self.ssl_policy.clone().unwrap_or_else(|| "ELBSecurityPolicy-TLS13-1-2-2021-06".into())
    }
}
