//! TCPRoute and UDPRoute as Gateway API v1.6 serves them (`gateway.networking.k8s.io/v1`).
//!
//! The `gateway-api` crate (Gateway API v1.5) has them only as `v1alpha2`; the shape is the
//! same, so documents of either version deserialize into these types.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A reference from a route to its parent (a Gateway, by default).
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct L4ParentReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct L4BackendRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct L4RouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub backend_refs: Vec<L4BackendRef>,
}

/// Route status as every route kind shares it. Entries are kept as JSON (other controllers'
/// entries are written back as they were), but the schema is the Gateway API's full
/// `RouteParentStatus`: an API server prunes fields its schema does not declare, so an
/// `items: {}` schema would strip every entry to `{}`.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct L4RouteStatus {
    #[serde(default)]
    #[schemars(with = "Vec<gateway_api::experimental::tlsroutes::TlsRouteStatusParents>")]
    pub parents: Vec<serde_json::Value>,
}

/// TCPRoute: forward a TCP listener's connections to backends.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[kube(group = "gateway.networking.k8s.io", version = "v1", kind = "TCPRoute", root = "TcpRoute", plural = "tcproutes", namespaced, status = "L4RouteStatus")]
#[serde(rename_all = "camelCase")]
pub struct TcpRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<L4ParentReference>,
    #[serde(default)]
    pub rules: Vec<L4RouteRule>,
}

/// UDPRoute: forward a UDP listener's datagrams to backends.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema, Default, PartialEq)]
#[kube(group = "gateway.networking.k8s.io", version = "v1", kind = "UDPRoute", root = "UdpRoute", plural = "udproutes", namespaced, status = "L4RouteStatus")]
#[serde(rename_all = "camelCase")]
pub struct UdpRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<L4ParentReference>,
    #[serde(default)]
    pub rules: Vec<L4RouteRule>,
}
