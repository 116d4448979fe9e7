//! Gateway fields beyond listeners that a platform may lack: `spec.tls` (client certificate
//! validation, the client certificate for backends), `spec.infrastructure` labels and annotations,
//! `spec.allowedListeners` and `spec.defaultScope`.
//!
//! Client certificate validation, which decides whether listeners are served, is in
//! [`crate::client_validation`]. What only leaves something out (annotations, ListenerSets,
//! default Gateways) keeps the Gateway accepted and names the fields in its `Accepted` condition.

use gateway_api::experimental::gateways::{Gateway, GatewayAllowedListenersNamespacesFrom};
use portico_model::{Capabilities, Fact, Feature};

/// The fields the platform leaves out, each named with why: empty when it carries out them all.
pub fn left_out(gw: &Gateway, caps: &Capabilities) -> Vec<String> {
    let platform = caps.platform_name();
    let mut out = Vec::new();
    let annotations = gw.spec.infrastructure.as_ref().and_then(|i| i.annotations.as_ref()).filter(|a| !a.is_empty());
    if annotations.is_some() && !caps.has(Fact::InfrastructureAnnotations) {
        out.push(format!("spec.infrastructure.annotations: not supported by {platform}; the load balancer carries none of them"));
    }
    let labels = gw.spec.infrastructure.as_ref().and_then(|i| i.labels.as_ref()).filter(|l| !l.is_empty());
    if labels.is_some() && !caps.supports(Feature::GatewayInfrastructurePropagation) {
        out.push(format!("spec.infrastructure.labels: not supported by {platform}; the load balancer carries none of them"));
    }
    let from = gw.spec.allowed_listeners.as_ref().and_then(|a| a.namespaces.as_ref()).and_then(|n| n.from.as_ref());
    if from.is_some_and(|f| *f != GatewayAllowedListenersNamespacesFrom::None) && !caps.supports(Feature::ListenerSet) {
        out.push(format!("spec.allowedListeners: ListenerSets are not supported by {platform}; no ListenerSet is attached"));
    }
    if gw.spec.default_scope.is_some() {
        out.push(format!("spec.defaultScope: default Gateways are not supported by {platform}; routes attach only through their parentRefs"));
    }
    let client_certificate = gw.spec.tls.as_ref().and_then(|t| t.backend.as_ref()).and_then(|b| b.client_certificate_ref.as_ref());
    if client_certificate.is_some() && !caps.supports(Feature::GatewayBackendClientCertificate) {
        out.push(format!("spec.tls.backend.clientCertificateRef: a client certificate towards backends is not supported by {platform}; none is presented"));
    }
    out
}
