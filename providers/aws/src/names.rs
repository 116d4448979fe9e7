//! Deterministic AWS names (within AWS's length and character rules) and ownership tags.
//!
//! Every name starts with `pt` and carries a hash of (cluster, Gateway, what it is), so two
//! clusters or Gateways never collide and a resource can be found again by name after a crash.
//! Ownership is proven by tags, never by the name alone.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use sha2::{Digest, Sha256};

use crate::native::Role;

pub const TAG_CLUSTER: &str = "portico.dev/cluster";
pub const TAG_GATEWAY: &str = "portico.dev/gateway";
pub const TAG_RESOURCE: &str = "portico.dev/resource";
/// On imported certificates: the fingerprint of the Secret's PEM.
#[cfg_attr(not(feature = "sdk"), allow(dead_code))]
pub const TAG_FINGERPRINT: &str = "portico.dev/fingerprint";

/// Hex SHA-256 of the parts, joined by NUL.
pub fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fingerprint of certificate material (stored as a tag, compared on every reconcile).
pub fn fingerprint(pem: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(pem);
    hasher.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Lower-case letters, digits and single hyphens.
fn readable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out
}

/// `prefix-hash-readable`, cut to 32 characters without a trailing hyphen.
fn compose(prefix: &str, hash: &str, text: &str) -> String {
    let mut name = format!("{prefix}-{}-{}", &hash[..8], readable(text));
    name.truncate(32);
    name.trim_end_matches('-').to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namer {
    pub cluster: String,
    pub gateway: ObjectRef,
}

impl Namer {
    pub fn new(cluster: &str, gateway: &ObjectRef) -> Self {
        Namer { cluster: cluster.to_string(), gateway: gateway.clone() }
    }

    fn hash(&self, what: &str) -> String {
        digest(&[&self.cluster, &self.gateway.namespace, &self.gateway.name, what])
    }

    /// `pta-…` for the ALB, `ptn-…` for the NLB (32 characters at most).
    pub fn load_balancer(&self, role: Role) -> String {
        let prefix = match role {
            Role::Alb => "pta",
            Role::Nlb => "ptn",
        };
        compose(prefix, &self.hash(prefix), &format!("{}-{}", self.gateway.namespace, self.gateway.name))
    }

    /// `ptg-` and six hex digits shared by all of this Gateway's target groups, so they can be
    /// listed without reading every target group's tags.
    pub fn target_group_prefix(&self) -> String {
        format!("ptg-{}", &self.hash("target-groups")[..6])
    }

    /// One target group per (Service port, protocol) per load balancer; `what` holds everything
    /// AWS cannot change in place (protocol, version, port), so a change makes a new group.
    pub fn target_group(&self, what: &str, service: &str, port: u16) -> String {
        let mut name = format!("{}{}-{}", self.target_group_prefix(), &digest(&[what])[..4], readable(&format!("{service}-{port}")));
        name.truncate(32);
        name.trim_end_matches('-').to_string()
    }

    pub fn security_group(&self) -> String {
        let mut name = format!("pt-{}-{}-{}", readable(&self.cluster), readable(&self.gateway.namespace), readable(&self.gateway.name));
        name.truncate(200);
        name
    }

    /// The ownership tags of a resource, plus the user's extra tags (ownership wins).
    pub fn tags(&self, resource: &str, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = extra.clone();
        tags.insert(TAG_CLUSTER.into(), self.cluster.clone());
        tags.insert(TAG_GATEWAY.into(), self.gateway.to_string());
        tags.insert(TAG_RESOURCE.into(), resource.to_string());
        tags
    }

    /// Whether observed tags say this Gateway of this cluster owns the resource.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(TAG_CLUSTER) == Some(&self.cluster) && tags.get(TAG_GATEWAY) == Some(&self.gateway.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_aws_rules_and_are_stable() {
        let namer = Namer::new("prod", &ObjectRef::new("a-very-long-namespace-name", "and-a-very-long-gateway-name"));
        for name in [namer.load_balancer(Role::Alb), namer.load_balancer(Role::Nlb), namer.target_group("application:ns/svc:80", "svc", 80)] {
            assert!(name.len() <= 32, "{name}");
            assert!(!name.ends_with('-') && name.starts_with("pt"), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{name}");
        }
        assert_eq!(namer.load_balancer(Role::Alb), namer.load_balancer(Role::Alb));
        assert_ne!(namer.load_balancer(Role::Alb), namer.load_balancer(Role::Nlb));
        let other = Namer::new("staging", &ObjectRef::new("a-very-long-namespace-name", "and-a-very-long-gateway-name"));
        assert_ne!(namer.load_balancer(Role::Alb), other.load_balancer(Role::Alb));
    }

    #[test]
    fn ownership_needs_cluster_and_gateway() {
        let namer = Namer::new("prod", &ObjectRef::new("ns", "gw"));
        let tags = namer.tags("alb", &BTreeMap::from([(TAG_CLUSTER.to_string(), "spoofed".to_string())]));
        assert!(namer.owns(&tags));
        assert!(!Namer::new("other", &ObjectRef::new("ns", "gw")).owns(&tags));
        assert!(!Namer::new("prod", &ObjectRef::new("ns", "gw2")).owns(&tags));
    }
}
