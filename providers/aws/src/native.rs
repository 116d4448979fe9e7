//! The native AWS model of one Gateway: what its ALB/NLB, listeners, rules, target groups,
//! certificates and security group should look like. Compiled from the IR by [`crate::compile`],
//! read back from AWS by the observer, and diffed by [`crate::plan`]. Target groups and
//! certificates are referred to by name/Secret here, never by ARN, so a desired model can be
//! compared with an observed one directly.

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::ObjectRef;
use serde::Serialize;

/// Which of the Gateway's two load balancers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Application Load Balancer: HTTP and HTTPS listeners.
    Alb,
    /// Network Load Balancer: TCP, UDP and TLS listeners.
    Nlb,
}

impl Role {
    pub fn aws_type(self) -> &'static str {
        match self {
            Role::Alb => "application",
            Role::Nlb => "network",
        }
    }
}

/// Everything Portico owns for one Gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NativeGateway {
    pub gateway: Option<ObjectRef>,
    pub load_balancers: BTreeMap<Role, LoadBalancer>,
    /// By target group name.
    pub target_groups: BTreeMap<String, TargetGroup>,
    /// Certificates imported from Secrets, by Secret.
    pub certificates: BTreeMap<ObjectRef, Certificate>,
    /// The managed security group (absent when the parameters name security groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group: Option<SecurityGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub name: String,
    pub scheme: String,
    pub ip_address_type: String,
    /// Subnet IDs, sorted; empty in a desired model means "discover by tags".
    pub subnets: Vec<String>,
    /// Security group IDs; `managed` stands for the managed group.
    pub security_groups: Vec<String>,
    /// Only the attributes Portico manages.
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub listeners: BTreeMap<u16, Listener>,
}

/// The placeholder for the managed security group in a desired model.
pub const MANAGED_SECURITY_GROUP: &str = "managed";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub port: u16,
    /// `HTTP`, `HTTPS`, `TCP`, `UDP` or `TLS`.
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// The first is the listener's default certificate; the rest are served by SNI.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateRef>,
    pub default_action: Action,
    /// Rules in evaluation order (priorities are assigned by the plan).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CertificateRef {
    /// Imported into ACM from this Secret.
    Secret(ObjectRef),
    /// An existing ACM certificate named in the parameters.
    Arn(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub conditions: Vec<Condition>,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// The routes this rule serves (`Kind/namespace/name`), for messages; not compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<portico_model::ir::RouteKey>,
}

impl Rule {
    /// Same conditions, action and transforms (what AWS stores).
    pub fn same_on_aws(&self, other: &Rule) -> bool {
        self.conditions == other.conditions && self.action == other.action && self.transforms == other.transforms
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase", tag = "field")]
pub enum Condition {
    #[serde(rename = "host-header")]
    Host { values: Vec<String> },
    /// `values` are ALB glob patterns, `regex` are regular expressions.
    #[serde(rename = "path-pattern")]
    Path {
        #[serde(skip_serializing_if = "Vec::is_empty")]
        values: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        regex: Vec<String>,
    },
    #[serde(rename = "http-header")]
    Header {
        name: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        values: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        regex: Vec<String>,
    },
    #[serde(rename = "http-request-method")]
    Method { values: Vec<String> },
    /// Key/value pairs; a value's `*`, `?` and `\` are escaped with `\`.
    #[serde(rename = "query-string")]
    Query { pairs: Vec<(String, String)> },
}

impl Condition {
    /// How many condition values this condition uses against the per-rule quota.
    pub fn value_count(&self) -> usize {
        match self {
            Condition::Host { values } | Condition::Method { values } => values.len(),
            Condition::Path { values, regex } | Condition::Header { values, regex, .. } => values.len() + regex.len(),
            Condition::Query { pairs } => pairs.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Action {
    /// Weighted target groups, by name.
    #[serde(rename = "forward")]
    Forward { target_groups: Vec<(String, i32)> },
    #[serde(rename = "redirect")]
    Redirect { protocol: String, host: String, port: String, path: String, query: String, status_code: String },
    #[serde(rename = "fixed-response")]
    FixedResponse { status_code: String, content_type: String, message_body: String },
}

impl Action {
    /// ALB takes at most 1,024 characters of body: cut on a character boundary at 1,024 bytes
    /// or fewer, so a multi-byte character is never split (and the limit holds in either unit).
    pub fn fixed(status: u16, body: &str) -> Action {
        let mut end = body.len().min(1024);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        let body = body[..end].to_string();
        Action::FixedResponse { status_code: status.to_string(), content_type: "text/plain".into(), message_body: body }
    }

    pub fn target_groups(&self) -> impl Iterator<Item = &str> {
        let groups: &[(String, i32)] = match self {
            Action::Forward { target_groups } => target_groups,
            _ => &[],
        };
        groups.iter().map(|(name, _)| name.as_str())
    }
}

/// ALB request transforms (applied before the action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Transform {
    #[serde(rename = "host-header-rewrite")]
    HostHeaderRewrite { regex: String, replace: String },
    #[serde(rename = "url-rewrite")]
    UrlRewrite { regex: String, replace: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroup {
    pub name: String,
    /// Which load balancer uses it.
    pub role: Role,
    /// `HTTP`, `TCP`, `UDP`.
    pub protocol: String,
    /// ALB only: `HTTP1`, `HTTP2` or `GRPC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub port: u16,
    pub target_type: String,
    pub health_check: HealthCheckSpec,
    /// `ip:port` of every ready endpoint.
    pub targets: BTreeSet<(String, u16)>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckSpec {
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub port: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_codes: Option<String>,
}

/// An ACM certificate imported from a Secret; `fingerprint` tells when the Secret changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    pub secret: ObjectRef,
    pub fingerprint: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub name: String,
    /// (protocol, port, CIDR) ingress permissions.
    pub ingress: BTreeSet<(String, u16, String)>,
    pub tags: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn fixed_body_is_cut_on_a_character_boundary() {
        // 1,023 ASCII bytes then a two-byte character across the 1,024-byte limit.
        let body = format!("{}é and more", "a".repeat(1023));
        let Action::FixedResponse { message_body, .. } = Action::fixed(500, &body) else { unreachable!() };
        assert_eq!(message_body, "a".repeat(1023));
        let Action::FixedResponse { message_body, .. } = Action::fixed(500, "ééé") else { unreachable!() };
        assert_eq!(message_body, "ééé");
    }
}
