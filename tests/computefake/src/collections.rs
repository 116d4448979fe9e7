//! What differs between collections: kinds, server-filled defaults, fields only the server
//! sets, setter verbs, and the URL map checks. Everything else is generic.

use serde_json::{Map, Value, json};

use crate::errors::ApiError;

/// Fields the server owns: kept from the stored resource whatever an update or patch says.
pub const SERVER_OWNED: &[&str] = &["kind", "id", "name", "selfLink", "creationTimestamp", "region", "zone"];

/// The load-balancing collections whose references must point at stored resources.
const CHECKED_REFERENCES: &[&str] = &[
    "addresses",
    "forwardingRules",
    "targetHttpProxies",
    "targetHttpsProxies",
    "targetTcpProxies",
    "targetSslProxies",
    "targetGrpcProxies",
    "urlMaps",
    "backendServices",
    "healthChecks",
    "networkEndpointGroups",
    "sslCertificates",
];

/// GCP rejects URL maps larger than this (the real limit counts differently; this is loose).
pub const URL_MAP_SIZE_LIMIT: usize = 1024 * 1024;

/// `urlMaps` -> `urlMap`, `addresses` -> `address`, `targetHttpProxies` -> `targetHttpProxy`.
pub fn singular(collection: &str) -> String {
    if let Some(stem) = collection.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = collection.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        collection.strip_suffix('s').unwrap_or(collection).to_string()
    }
}

/// `compute#urlMap`.
pub fn kind(collection: &str) -> String {
    format!("compute#{}", singular(collection))
}

/// Server-owned fields particular to one collection.
pub fn extra_server_owned(collection: &str) -> &'static [&'static str] {
    match collection {
        "networkEndpointGroups" => &["size"],
        _ => &[],
    }
}

/// Whether patch and update must carry the current fingerprint (GCP documents this for the
/// target proxies; URL maps, backend services and the rest accept a missing one).
pub fn fingerprint_required(collection: &str) -> bool {
    matches!(collection, "targetHttpProxies" | "targetHttpsProxies")
}

/// Whether a reference to this collection must name a stored resource.
pub fn references_checked(collection: &str) -> bool {
    CHECKED_REFERENCES.contains(&collection)
}

/// Whether resources of this collection always carry a `labelFingerprint`.
pub fn always_labelled(collection: &str) -> bool {
    matches!(collection, "forwardingRules" | "addresses")
}

/// The fields a setter verb replaces, e.g. `setUrlMap` sets `urlMap`.
pub fn setter_fields(collection: &str, verb: &str) -> Option<&'static [&'static str]> {
    let proxy = matches!(collection, "targetHttpProxies" | "targetHttpsProxies" | "targetGrpcProxies");
    let tls_proxy = matches!(collection, "targetHttpsProxies" | "targetSslProxies");
    let stream_proxy = matches!(collection, "targetTcpProxies" | "targetSslProxies");
    let fields: &'static [&'static str] = match verb {
        "setUrlMap" if proxy => &["urlMap"],
        "setSslCertificates" if tls_proxy => &["sslCertificates"],
        "setCertificateMap" if tls_proxy => &["certificateMap"],
        "setSslPolicy" if tls_proxy => &["sslPolicy"],
        "setQuicOverride" if collection == "targetHttpsProxies" => &["quicOverride"],
        "setBackendService" if stream_proxy => &["service"],
        "setProxyHeader" if stream_proxy => &["proxyHeader"],
        "setTarget" if collection == "forwardingRules" => &["target"],
        "setSecurityPolicy" if collection == "backendServices" => &["securityPolicy"],
        "setEdgeSecurityPolicy" if collection == "backendServices" => &["edgeSecurityPolicy"],
        _ => return None,
    };
    Some(fields)
}

/// Fill what GCP fills when the client leaves it out.
pub fn fill_defaults(collection: &str, resource: &mut Map<String, Value>) {
    let defaults = match collection {
        "backendServices" => json!({
            "protocol": "HTTP",
            "loadBalancingScheme": "EXTERNAL",
            "timeoutSec": 30,
            "sessionAffinity": "NONE",
            "connectionDraining": {"drainingTimeoutSec": 0},
        }),
        "healthChecks" => json!({"checkIntervalSec": 5, "timeoutSec": 5, "healthyThreshold": 2, "unhealthyThreshold": 2}),
        "forwardingRules" => json!({"IPProtocol": "TCP", "loadBalancingScheme": "EXTERNAL"}),
        "addresses" => json!({"addressType": "EXTERNAL", "status": "RESERVED"}),
        "networkEndpointGroups" => json!({"networkEndpointType": "GCE_VM_IP_PORT", "size": 0}),
        "firewalls" => json!({"direction": "INGRESS", "priority": 1000, "disabled": false}),
        "targetHttpsProxies" => json!({"quicOverride": "NONE"}),
        _ => return,
    };
    if let Value::Object(defaults) = defaults {
        for (field, value) in defaults {
            resource.entry(field).or_insert(value);
        }
    }
}

/// Collection-specific rewriting that needs no other resource.
pub fn normalize(collection: &str, resource: &mut Map<String, Value>, expire_time: &str) {
    match collection {
        "sslCertificates" => normalize_certificate(resource, expire_time),
        "forwardingRules" => {
            // A single port comes back as a range of one.
            if let Some(Value::String(range)) = resource.get_mut("portRange")
                && !range.contains('-')
            {
                *range = format!("{range}-{range}");
            }
        }
        _ => {}
    }
}

/// Keep the certificate, drop the private key (GCP never returns it), and fill `type`.
fn normalize_certificate(resource: &mut Map<String, Value>, expire_time: &str) {
    resource.remove("privateKey");
    if let Some(Value::Object(self_managed)) = resource.get_mut("selfManaged") {
        self_managed.remove("privateKey");
    }
    let certificate_type = if resource.contains_key("managed") { "MANAGED" } else { "SELF_MANAGED" };
    resource.entry("type").or_insert_with(|| json!(certificate_type));
    resource.entry("expireTime").or_insert_with(|| json!(expire_time));
    if let Some(Value::Object(managed)) = resource.get_mut("managed") {
        managed.entry("status").or_insert_with(|| json!("PROVISIONING"));
    }
}

/// The checks GCP makes on a URL map as a whole.
pub fn check_url_map(url_map: &Value) -> Result<(), ApiError> {
    let size = url_map.to_string().len();
    if size > URL_MAP_SIZE_LIMIT {
        return Err(ApiError::Invalid(format!("URL map exceeds the size limit: {size} bytes of configuration, at most {URL_MAP_SIZE_LIMIT} allowed.")));
    }
    let path_matchers = url_map.get("pathMatchers").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    for matcher in path_matchers {
        check_route_priorities(matcher)?;
    }
    Ok(())
}

fn check_route_priorities(matcher: &Value) -> Result<(), ApiError> {
    let rules = matcher.get("routeRules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let mut seen = std::collections::BTreeSet::new();
    for priority in rules.iter().filter_map(|rule| rule.get("priority")).filter_map(Value::as_i64) {
        if !seen.insert(priority) {
            let matcher_name = matcher.get("name").and_then(Value::as_str).unwrap_or("");
            return Err(ApiError::Invalid(format!(
                "Invalid value for field 'resource.pathMatchers.routeRules.priority': '{priority}'. \
                 Route rule priorities must be unique within path matcher '{matcher_name}'."
            )));
        }
    }
    Ok(())
}

/// GCP's resource name rule, `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let inner_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63 && first.is_ascii_lowercase() && (last.is_ascii_lowercase() || last.is_ascii_digit()) && bytes.iter().all(inner_ok)
        }
        _ => false,
    }
}

/// An IP address for an insert that did not name one.
pub fn allocate_ip(number: u64, location: &str, internal: bool, ipv6: bool) -> String {
    let (third, fourth) = ((number / 250) % 250, number % 250 + 1);
    if ipv6 {
        format!("2600:1901:0:{number:x}::")
    } else if internal {
        format!("10.128.{third}.{fourth}")
    } else if location == "global" {
        format!("34.120.{third}.{fourth}")
    } else {
        format!("35.200.{third}.{fourth}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_follow_the_collection_names() {
        assert_eq!(kind("urlMaps"), "compute#urlMap");
        assert_eq!(kind("addresses"), "compute#address");
        assert_eq!(kind("targetHttpsProxies"), "compute#targetHttpsProxy");
        assert_eq!(kind("backendServices"), "compute#backendService");
        assert_eq!(kind("networkEndpointGroups"), "compute#networkEndpointGroup");
        assert_eq!(kind("operations"), "compute#operation");
    }

    #[test]
    fn names_follow_the_gcp_rule() {
        for good in ["a", "ptg-0123", "a1", &"a".repeat(63)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn duplicate_route_priorities_are_rejected() {
        let map = json!({"pathMatchers": [{"name": "pm", "routeRules": [{"priority": 1}, {"priority": 1}]}]});
        let error = check_url_map(&map).unwrap_err();
        assert!(error.to_string().contains("'1'") && error.to_string().contains("'pm'"), "{error}");
        assert!(check_url_map(&json!({"pathMatchers": [{"routeRules": [{"priority": 1}, {"priority": 2}]}]})).is_ok());
    }

    #[test]
    fn certificates_lose_their_private_key() {
        let mut certificate = json!({"certificate": "PEM", "privateKey": "KEY"});
        let fields = certificate.as_object_mut().expect("object");
        normalize("sslCertificates", fields, "2099-01-01T00:00:00.000Z");
        assert_eq!(certificate, json!({"certificate": "PEM", "type": "SELF_MANAGED", "expireTime": "2099-01-01T00:00:00.000Z"}));
    }
}
