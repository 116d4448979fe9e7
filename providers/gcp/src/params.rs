//! `GCPLoadBalancerParameters` (group `portico.dev`): how Portico builds a Gateway's Google Cloud
//! load balancer. Referenced by `GatewayClass.spec.parametersRef` (class-wide) or
//! `Gateway.spec.infrastructure.parametersRef` (one Gateway: it overrides the class's fields in
//! [`GATEWAY_TUNABLE`] and those the class lists in `gatewayOverrides`, nothing else).

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which kind of Google Cloud load balancer a Gateway becomes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Scope {
    /// Global external Application Load Balancer (and global external proxy NLB for TCP).
    #[default]
    GlobalExternalManaged,
    /// Regional external Application Load Balancer (needs a proxy-only subnet in the region).
    RegionalExternalManaged,
    /// Regional internal Application Load Balancer (needs a proxy-only subnet in the region).
    RegionalInternalManaged,
}

impl Scope {
    pub fn is_regional(self) -> bool {
        self != Scope::GlobalExternalManaged
    }

    /// The `loadBalancingScheme` of backend services and forwarding rules.
    pub fn load_balancing_scheme(self) -> &'static str {
        match self {
            Scope::RegionalInternalManaged => "INTERNAL_MANAGED",
            _ => "EXTERNAL_MANAGED",
        }
    }
}

/// How Pods are reached.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, JsonSchema, PartialEq, Eq, Default)]
pub enum BackendMode {
    /// Standalone zonal `GCE_VM_IP_PORT` NEGs that Portico fills from EndpointSlices.
    #[default]
    NetworkEndpointGroups,
    /// Instance groups on the Service's NodePort (not implemented yet: reported as invalid).
    InstanceGroups,
}

/// What the managed firewall rule applies to. Without targets Portico creates no firewall
/// rule (it never opens ports to a whole network).
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FirewallTargets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
}

impl FirewallTargets {
    pub fn is_empty(&self) -> bool {
        self.network_tags.is_empty() && self.service_accounts.is_empty()
    }
}

/// A health check. The default is a TCP connect on the serving port, which any app that
/// accepts connections passes.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// `TCP` (default), `HTTP`, `HTTPS`, `HTTP2` or `GRPC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Request path for HTTP/HTTPS/HTTP2 checks (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_path: Option<String>,
    /// A fixed port; default: the endpoint's serving port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_interval_sec: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_sec: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<u32>,
}

/// A health check for one Service (all its ports, or one).
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceHealthCheck {
    /// `namespace/name` of the Service.
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(flatten)]
    pub check: HealthCheck,
}

/// GCP limits checked before calling GCP; raise them here when your project's quotas are raised.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    /// Route rules per path matcher, i.e. per listener hostname (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_rules_per_path_matcher: Option<u32>,
    /// Size of one URL map's JSON in bytes (GCP's limit: 1 MiB... kept a little under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_map_bytes: Option<u32>,
    /// SSL certificates per target HTTPS proxy when no certificate map is used (GCP's limit: 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_certificates_per_target_proxy: Option<u32>,
}

/// The quotas in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub route_rules_per_path_matcher: u32,
    pub url_map_bytes: u32,
    pub ssl_certificates_per_target_proxy: u32,
}

impl Quotas {
    pub fn limits(&self) -> Limits {
        Limits {
            route_rules_per_path_matcher: self.route_rules_per_path_matcher.unwrap_or(200),
            url_map_bytes: self.url_map_bytes.unwrap_or(1_000_000),
            ssl_certificates_per_target_proxy: self.ssl_certificates_per_target_proxy.unwrap_or(15),
        }
    }
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema, PartialEq, Eq, Default)]
#[kube(group = "portico.dev", version = "v1alpha1", kind = "GCPLoadBalancerParameters", plural = "gcploadbalancerparameters", namespaced)]
#[kube(shortname = "gcplbp", printcolumn = r#"{"name": "Scope", "type": "string", "jsonPath": ".spec.scope"}"#)]
#[kube(printcolumn = r#"{"name": "Region", "type": "string", "jsonPath": ".spec.region"}"#)]
#[kube(printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#)]
#[serde(rename_all = "camelCase")]
pub struct GCPLoadBalancerParametersSpec {
    /// The project that holds the load balancer (default: the operator's `--gcp-project`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default)]
    pub scope: Scope,
    /// Region of regional scopes (default: the operator's `--gcp-region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// VPC network name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Subnetwork of internal addresses (regional internal scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnetwork: Option<String>,
    /// CIDR of the region's proxy-only subnet (regional scopes): opened to the backends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_subnet_ranges: Vec<String>,
    #[serde(default)]
    pub backend_mode: BackendMode,
    /// Zone of endpoints whose EndpointSlice names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_zone: Option<String>,
    #[serde(default)]
    pub firewall_targets: FirewallTargets,
    /// Name of an SSL policy for HTTPS proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Name of a Cloud Armor security policy for every backend service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_policy: Option<String>,
    /// A Certificate Manager certificate map (global scope) used instead of certificates
    /// from Secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_map: Option<String>,
    /// The health check of every backend service, unless `serviceHealthChecks` names one.
    #[serde(default)]
    pub default_health_check: HealthCheck,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_health_checks: Vec<ServiceHealthCheck>,
    /// Extra labels on resources that carry labels (ownership labels always win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub quotas: Quotas,
    /// Class-level only: further fields a Gateway-level `spec.infrastructure.parametersRef` may
    /// set (by their camelCase name), beyond the ones every Gateway may tune. See docs/gcp.md.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_overrides: Vec<String>,
}

/// Fields a Gateway-level GCPLoadBalancerParameters may set without delegation: health checks of
/// its own backend services and extra labels. Project, region, scope, network, subnetwork, proxy
/// subnet ranges, firewall targets, SSL and security policies, certificate maps, backend mode,
/// default zone and quotas are class-only.
pub const GATEWAY_TUNABLE: &[&str] = &["defaultHealthCheck", "serviceHealthChecks", "labels"];

impl GCPLoadBalancerParametersSpec {
    /// The spec from the operator's `Desired.parameters` (`null` means defaults).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        if value.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(value.clone()).map_err(|e| format!("invalid GCPLoadBalancerParameters: {e}"))
    }

    /// The health check for one Service port.
    pub fn health_check_for(&self, service: &str, port: u16) -> &HealthCheck {
        let specific = self.service_health_checks.iter().find(|c| c.service == service && c.port.is_none_or(|p| p == port));
        specific.map_or(&self.default_health_check, |c| &c.check)
    }
}
