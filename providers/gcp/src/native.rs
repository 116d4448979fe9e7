//! The native model: the Compute resources one Gateway needs, as the JSON bodies the Compute
//! REST API takes (camelCase fields), keyed so that the diff is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::ObjectRef;
use serde::Serialize;
use serde_json::Value;

/// Resource kinds in creation order (a resource only refers to kinds before it); deletion runs
/// in the reverse order: forwarding rule, proxy, URL map, backend service, health check, NEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Firewall,
    Address,
    SslCertificate,
    HealthCheck,
    NetworkEndpointGroup,
    BackendService,
    UrlMap,
    TargetHttpProxy,
    TargetHttpsProxy,
    TargetTcpProxy,
    ForwardingRule,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Firewall,
        Kind::Address,
        Kind::SslCertificate,
        Kind::HealthCheck,
        Kind::NetworkEndpointGroup,
        Kind::BackendService,
        Kind::UrlMap,
        Kind::TargetHttpProxy,
        Kind::TargetHttpsProxy,
        Kind::TargetTcpProxy,
        Kind::ForwardingRule,
    ];

    /// The REST collection.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Firewall => "firewalls",
            Kind::Address => "addresses",
            Kind::SslCertificate => "sslCertificates",
            Kind::HealthCheck => "healthChecks",
            Kind::NetworkEndpointGroup => "networkEndpointGroups",
            Kind::BackendService => "backendServices",
            Kind::UrlMap => "urlMaps",
            Kind::TargetHttpProxy => "targetHttpProxies",
            Kind::TargetHttpsProxy => "targetHttpsProxies",
            Kind::TargetTcpProxy => "targetTcpProxies",
            Kind::ForwardingRule => "forwardingRules",
        }
    }

    /// The code in resource names.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Firewall => "fw",
            Kind::Address => "ip",
            Kind::SslCertificate => "crt",
            Kind::HealthCheck => "hc",
            Kind::NetworkEndpointGroup => "neg",
            Kind::BackendService => "bs",
            Kind::UrlMap => "um",
            Kind::TargetHttpProxy => "thp",
            Kind::TargetHttpsProxy => "tsp",
            Kind::TargetTcpProxy => "ttp",
            Kind::ForwardingRule => "fr",
        }
    }

    /// Whether an existing resource can be changed in place; the others are replaced.
    pub fn updatable(self) -> bool {
        matches!(self, Kind::Firewall | Kind::HealthCheck | Kind::BackendService | Kind::UrlMap | Kind::TargetHttpProxy | Kind::TargetHttpsProxy)
    }
}

/// Where a resource lives: `global`, `regions/<region>` or `zones/<zone>`.
pub type Location = String;

/// Which resource: kind, location and name. Prints as `<collection> <location>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub kind: Kind,
    pub location: Location,
    pub name: String,
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind.collection(), self.location, self.name)
    }
}

impl Serialize for ResourceKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl ResourceKey {
    pub fn new(kind: Kind, location: &str, name: &str) -> ResourceKey {
        ResourceKey { kind, location: location.into(), name: name.into() }
    }

    /// `projects/<p>/<location>/<collection>/<name>`: how bodies refer to each other.
    pub fn link(&self, project: &str) -> String {
        format!("projects/{project}/{}/{}/{}", self.location, self.kind.collection(), self.name)
    }
}

/// One endpoint of a `GCE_VM_IP_PORT` NEG.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkEndpoint {
    pub ip_address: String,
    pub port: u16,
    pub instance: String,
}

/// Everything one Gateway needs on GCP.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Native {
    pub project: String,
    /// Bodies by key, in creation order.
    pub resources: BTreeMap<ResourceKey, Value>,
    /// Endpoints of each NEG (by the NEG's key).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<ResourceKey, BTreeSet<NetworkEndpoint>>,
    /// The Secret whose PEM each SSL certificate is made from (bodies carry no key material).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub certificate_sources: BTreeMap<String, ObjectRef>,
    /// The Cloud Armor policy of backend services that have one (set with its own call:
    /// GCP ignores the field in inserts and updates).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub security_policies: BTreeMap<ResourceKey, String>,
}
