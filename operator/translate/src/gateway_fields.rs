//! Gateway fields beyond listeners that a platform may lack: `spec.tls` (client certificate
//! validation, the client certificate for backends), `spec.infrastructure` labels and annotations,
//! `spec.allowedListeners` and `spec.defaultScope`.
//!
//! What would let in clients the Gateway was told to refuse is never programmed: an HTTPS
//! listener under a client certificate validation the platform cannot enforce is rejected
//! (`UnsupportedValue`). What only leaves something out (annotations, ListenerSets, default
//! Gateways) keeps the Gateway accepted and names the fields in its `Accepted` condition.

use gateway_api::experimental::gateways::{Gateway, GatewayAllowedListenersNamespacesFrom};
use portico_model::{Capabilities, Fact, Feature, ListenerProtocol};

use crate::conditions::reason;
use crate::listeners::ListenerState;

/// Reject the HTTPS listeners that a `spec.tls.frontend` validation applies to when the platform
/// cannot validate client certificates (or cannot fall back as `AllowInsecureFallback` asks).
pub fn reject_unenforceable_validation(gw: &Gateway, caps: &Capabilities, listeners: &mut [ListenerState<'_>]) {
    let Some(frontend) = gw.spec.tls.as_ref().and_then(|t| t.frontend.as_ref()) else { return };
    for listener in listeners.iter_mut().filter(|l| l.protocol == Some(ListenerProtocol::Https) && l.rejection.is_none()) {
        let per_port = frontend.per_port.iter().flatten().position(|p| p.port == i32::from(listener.port));
        // The two validation types have the same fields: only whether one is set, and its mode.
        let mode_of = |mode: Option<String>| mode.unwrap_or_else(|| "AllowValidOnly".into());
        let (field, mode) = match per_port {
            Some(i) => {
                let validation = frontend.per_port.as_ref().and_then(|p| p[i].tls.validation.as_ref());
                (format!("spec.tls.frontend.perPort[{i}]"), validation.map(|v| mode_of(v.mode.as_ref().map(crate::routes::json_text))))
            }
            None => {
                let validation = frontend.default.validation.as_ref();
                ("spec.tls.frontend.default".to_string(), validation.map(|v| mode_of(v.mode.as_ref().map(crate::routes::json_text))))
            }
        };
        let Some(mode) = mode else { continue };
        let fallback = mode == "AllowInsecureFallback";
        let (feature, what) = if fallback {
            (Feature::GatewayFrontendClientCertificateValidationInsecureFallback, "client certificate validation with mode AllowInsecureFallback")
        } else {
            (Feature::GatewayFrontendClientCertificateValidation, "client certificate validation")
        };
        if !caps.supports(feature) {
            let message = format!(
                "{field}.validation: {what} is not supported by {} ({}); the listener is not programmed rather than let clients in unverified",
                caps.platform,
                caps.provider.controller_name()
            );
            listener.rejection = Some((reason::UNSUPPORTED_VALUE, message));
        }
    }
}

/// The fields the platform leaves out, each named with why: empty when it carries out them all.
pub fn left_out(gw: &Gateway, caps: &Capabilities) -> Vec<String> {
    let platform = format!("{} ({})", caps.platform, caps.provider.controller_name());
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
