//! What exists on AWS for one Gateway, as read by the observer: the native model plus the ARNs,
//! priorities and states that only AWS knows.

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::ObjectRef;
use serde::Serialize;

use crate::native::{Action, CertificateRef, HealthCheckSpec, Role, Rule};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    pub load_balancers: BTreeMap<Role, ObservedLoadBalancer>,
    pub target_groups: BTreeMap<String, ObservedTargetGroup>,
    pub certificates: BTreeMap<ObjectRef, ObservedCertificate>,
    pub security_group: Option<ObservedSecurityGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedLoadBalancer {
    pub arn: String,
    pub name: String,
    pub dns_name: String,
    /// `active`, `provisioning`, `active_impaired` or `failed`.
    pub state: String,
    pub scheme: String,
    pub ip_address_type: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub listeners: BTreeMap<u16, ObservedListener>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedListener {
    pub arn: String,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    /// Default certificate first.
    pub certificates: Vec<CertificateRef>,
    pub default_action: Action,
    /// Non-default rules by ascending priority.
    pub rules: Vec<ObservedRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRule {
    pub arn: String,
    pub priority: i32,
    pub rule: Rule,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTargetGroup {
    pub arn: String,
    pub protocol: String,
    pub port: u16,
    pub health_check: HealthCheckSpec,
    pub targets: BTreeSet<(String, u16)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedCertificate {
    pub arn: String,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedSecurityGroup {
    pub id: String,
    pub ingress: BTreeSet<(String, u16, String)>,
}
