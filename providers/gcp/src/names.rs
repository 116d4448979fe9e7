//! Deterministic GCP names (RFC 1035, at most 63 characters) and the ownership record.
//!
//! Every name of one Gateway starts with `pg` + a hash of (cluster, Gateway), so observing lists
//! one prefix and two clusters or Gateways never collide. Ownership is proven by the resource's
//! description (and labels where the resource has them), never by the name alone.

use std::collections::BTreeMap;

use portico_model::ir::ObjectRef;
use sha2::{Digest, Sha256};

/// The label on labelled resources naming the owner (the Gateway's name prefix).
pub const LABEL_OWNER: &str = "portico-owner";
const MAX_NAME: usize = 63;

/// Hex SHA-256 of the parts, joined by NUL.
pub fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
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
    out.trim_end_matches('-').to_string()
}

/// Names and ownership records of one Gateway's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namer {
    pub cluster: String,
    pub gateway: ObjectRef,
    prefix: String,
}

impl Namer {
    pub fn new(cluster: &str, gateway: &ObjectRef) -> Namer {
        let hash = digest(&[cluster, &gateway.namespace, &gateway.name]);
        Namer { cluster: cluster.into(), gateway: gateway.clone(), prefix: format!("pg{}", &hash[..8]) }
    }

    /// `pg<hash>`: every name of this Gateway starts with it followed by `-`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `pg<hash>-<code>-<readable>`; when too long, cut and ended by a hash of the whole text.
    pub fn name(&self, code: &str, text: &str) -> String {
        let readable = readable(text);
        let full = if readable.is_empty() { format!("{}-{code}", self.prefix) } else { format!("{}-{code}-{readable}", self.prefix) };
        if full.len() <= MAX_NAME {
            return full;
        }
        let tail = &digest(&[text])[..8];
        let mut cut = full[..MAX_NAME - 9].to_string();
        while cut.ends_with('-') {
            cut.pop();
        }
        format!("{cut}-{tail}")
    }

    /// The description every owned resource carries.
    pub fn description(&self, what: &str) -> String {
        format!("{} Managed by Portico; do not edit. {what}", self.owner_marker())
    }

    /// The ownership record inside descriptions.
    pub fn owner_marker(&self) -> String {
        format!("[portico.dev cluster={} gateway={}/{}]", self.cluster, self.gateway.namespace, self.gateway.name)
    }

    /// Whether a resource with one of our names is ours.
    pub fn owns(&self, description: Option<&str>) -> bool {
        description.is_some_and(|d| d.contains(&self.owner_marker()))
    }

    /// Labels of labelled resources: the user's, then ours (ours win).
    pub fn labels(&self, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut labels = extra.clone();
        labels.insert(LABEL_OWNER.into(), self.prefix.clone());
        labels
    }
}

/// Short fingerprint of certificate material: part of the certificate's name, so a rotated
/// Secret becomes a new (immutable) SSL certificate.
pub fn fingerprint(pem: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(pem);
    hasher.finalize().iter().take(5).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namer() -> Namer {
        Namer::new("prod", &ObjectRef { namespace: "infra".into(), name: "edge".into() })
    }

    #[test]
    fn names_follow_gcp_rules_and_stay_unique_when_cut() {
        let n = namer();
        let short = n.name("bs", "default/web:80");
        assert!(short.starts_with(n.prefix()) && short.ends_with("-bs-default-web-80"), "{short}");
        let a = n.name("bs", &format!("{}/web:80", "a".repeat(80)));
        let b = n.name("bs", &format!("{}/web:81", "a".repeat(80)));
        for name in [&short, &a, &b] {
            assert!(name.len() <= 63 && name.chars().next().unwrap().is_ascii_lowercase(), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !name.ends_with('-'), "{name}");
        }
        assert_ne!(a, b);
    }

    #[test]
    fn ownership_is_the_description_marker_of_this_cluster_and_gateway() {
        let n = namer();
        assert!(n.owns(Some(&n.description("URL map of port 80"))));
        assert!(!n.owns(None));
        let other = Namer::new("staging", &n.gateway);
        assert!(!other.owns(Some(&n.description("x"))));
        assert_ne!(other.prefix(), n.prefix());
    }
}
