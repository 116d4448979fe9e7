//! Everything translation reads: plain data, the same whether it came from reflector stores
//! (the operator) or from YAML files (`portico plan`, golden tests).

use gateway_api::backendtlspolicies::BackendTlsPolicy;
use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use gateway_api::experimental::grpcroutes::GrpcRoute;
use gateway_api::experimental::httproutes::HttpRoute;
use gateway_api::experimental::listenersets::ListenerSet;
use gateway_api::experimental::referencegrants::ReferenceGrant;
use gateway_api::experimental::tlsroutes::TlsRoute;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::{Deserialize, Serialize};

use crate::l4routes::{TcpRoute, UdpRoute};

/// A provider parameters object (`portico.dev` group). Translation only needs to know that it
/// exists and what kind it is; providers read the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParametersObject {
    pub group: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub spec: serde_json::Value,
}

/// The key of a ConfigMap that holds a PEM CA bundle (the Gateway API's core support for
/// `caCertificateRefs`).
pub const CA_BUNDLE_KEY: &str = "ca.crt";

/// The one Secret type Portico reads (certificates); the operator caches no other, and
/// translation ignores Secrets of other types so `portico plan` agrees with it.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// All inputs of one translation.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub gateway_classes: Vec<GatewayClass>,
    pub gateways: Vec<Gateway>,
    /// ListenerSets (skipped by the operator when the cluster does not serve their CRD).
    pub listener_sets: Vec<ListenerSet>,
    pub http_routes: Vec<HttpRoute>,
    pub grpc_routes: Vec<GrpcRoute>,
    pub tls_routes: Vec<TlsRoute>,
    pub tcp_routes: Vec<TcpRoute>,
    pub udp_routes: Vec<UdpRoute>,
    pub reference_grants: Vec<ReferenceGrant>,
    /// BackendTLSPolicies (skipped by the operator when the cluster does not serve their CRD).
    pub backend_tls_policies: Vec<BackendTlsPolicy>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
    pub secrets: Vec<Secret>,
    /// ConfigMaps, for the CA bundles (`ca.crt`) of client certificate validation; the operator
    /// keeps only that key of each.
    pub config_maps: Vec<ConfigMap>,
    pub namespaces: Vec<Namespace>,
    pub parameters: Vec<ParametersObject>,
}

/// A route of any kind as stored: its key, metadata, the whole object and its current status.
pub struct RouteObject<'a> {
    pub key: crate::ir::RouteKey,
    pub metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    pub object: serde_json::Value,
    pub status: Option<serde_json::Value>,
}

/// A route's key and metadata, with its object and status serialized only when asked for (what
/// writing statuses needs costs next to nothing for routes whose status is unchanged).
pub struct RouteHead<'a> {
    pub key: crate::ir::RouteKey,
    pub metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    object: Box<dyn Fn() -> serde_json::Value + Send + Sync + 'a>,
    status: Box<dyn Fn() -> Option<serde_json::Value> + Send + Sync + 'a>,
}

impl RouteHead<'_> {
    /// The route's current status as JSON.
    pub fn status(&self) -> Option<serde_json::Value> {
        (self.status)()
    }
}

impl Snapshot {
    /// Keep only the namespaced objects of namespaces `keep` accepts (cluster-scoped
    /// GatewayClasses and Namespaces stay): what an operator scoped to some namespaces sees.
    pub fn retain_namespaces(&mut self, keep: impl Fn(&str) -> bool) {
        fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
            meta.namespace.as_deref().unwrap_or("")
        }
        self.gateways.retain(|o| keep(namespace_of(&o.metadata)));
        self.listener_sets.retain(|o| keep(namespace_of(&o.metadata)));
        self.http_routes.retain(|o| keep(namespace_of(&o.metadata)));
        self.grpc_routes.retain(|o| keep(namespace_of(&o.metadata)));
        self.tls_routes.retain(|o| keep(namespace_of(&o.metadata)));
        self.tcp_routes.retain(|o| keep(namespace_of(&o.metadata)));
        self.udp_routes.retain(|o| keep(namespace_of(&o.metadata)));
        self.reference_grants.retain(|o| keep(namespace_of(&o.metadata)));
        self.backend_tls_policies.retain(|o| keep(namespace_of(&o.metadata)));
        self.services.retain(|o| keep(namespace_of(&o.metadata)));
        self.endpoint_slices.retain(|o| keep(namespace_of(&o.metadata)));
        self.secrets.retain(|o| keep(namespace_of(&o.metadata)));
        self.config_maps.retain(|o| keep(namespace_of(&o.metadata)));
        self.parameters.retain(|p| p.namespace.as_deref().is_none_or(&keep));
    }

    /// Every route of every kind, in kind order, serialized.
    pub fn routes(&self) -> Vec<RouteObject<'_>> {
        self.route_heads().into_iter().map(|h| RouteObject { object: (h.object)(), status: h.status(), key: h.key, metadata: h.metadata }).collect()
    }

    /// Every route's [`RouteHead`], in kind order (the one place outside translation that lists
    /// the route kinds' fields).
    pub fn route_heads(&self) -> Vec<RouteHead<'_>> {
        use crate::RouteKind;
        fn head<'a, T: Serialize + Sync, S: Serialize + Sync>(
            kind: RouteKind,
            metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            object: &'a T,
            status: Option<&'a S>,
        ) -> RouteHead<'a> {
            let key = crate::ir::RouteKey::new(kind, metadata.namespace.clone().unwrap_or_else(|| "default".into()), metadata.name.clone().unwrap_or_default());
            RouteHead {
                key,
                metadata,
                object: Box::new(move || serde_json::to_value(object).unwrap_or_default()),
                status: Box::new(move || status.and_then(|s| serde_json::to_value(s).ok())),
            }
        }
        let mut out = Vec::new();
        out.extend(self.http_routes.iter().map(|r| head(RouteKind::Http, &r.metadata, r, r.status.as_ref())));
        out.extend(self.grpc_routes.iter().map(|r| head(RouteKind::Grpc, &r.metadata, r, r.status.as_ref())));
        out.extend(self.tls_routes.iter().map(|r| head(RouteKind::Tls, &r.metadata, r, r.status.as_ref())));
        out.extend(self.tcp_routes.iter().map(|r| head(RouteKind::Tcp, &r.metadata, r, r.status.as_ref())));
        out.extend(self.udp_routes.iter().map(|r| head(RouteKind::Udp, &r.metadata, r, r.status.as_ref())));
        out
    }
}
