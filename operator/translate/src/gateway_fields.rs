//! Gateway fields beyond listeners that a platform may lack: `spec.tls` (client certificate
//! validation, the client certificate for backends), `spec.infrastructure` labels and annotations,
//! `spec.allowedListeners` and `spec.defaultScope`.
//!
//! Client certificate validation, which decides whether listeners are served, is in
//! [`crate::client_validation`]. What only leaves something out (annotations, ListenerSets,
//! default Gateways) keeps the Gateway accepted and names the fields in its `Accepted` condition.

use gateway_api::experimental::gateways::{Gateway, GatewayAllowedListenersNamespacesFrom};
use portico_model::ir::ObjectRef;
use portico_model::{Capabilities, Fact, Feature, GATEWAY_GROUP};

use crate::conditions::reason;
use crate::index::Index;

/// `spec.allowedListeners` lets some namespace's ListenerSets attach (`from` other than `None`).
pub fn allows_listener_sets(gw: &Gateway) -> bool {
    let from = gw.spec.allowed_listeners.as_ref().and_then(|a| a.namespaces.as_ref()).and_then(|n| n.from.as_ref());
    from.is_some_and(|f| *f != GatewayAllowedListenersNamespacesFrom::None)
}

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
    if allows_listener_sets(gw) && !caps.supports(Feature::ListenerSet) {
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

/// The certificate presented to TLS backends (`spec.tls.backend.clientCertificateRef`), where the
/// platform presents one: `None` when unset (or left out, see [`left_out`]), else the Secret or
/// why it cannot be used (the Gateway's `ResolvedRefs` reason and message).
pub fn backend_client_certificate(gw: &Gateway, caps: &Capabilities, index: &Index<'_>) -> Option<Result<ObjectRef, (&'static str, String)>> {
    let reference = gw.spec.tls.as_ref()?.backend.as_ref()?.client_certificate_ref.as_ref()?;
    if !caps.supports(Feature::GatewayBackendClientCertificate) {
        return None;
    }
    let gateway_namespace = gw.metadata.namespace.as_deref().unwrap_or("default");
    let field = "spec.tls.backend.clientCertificateRef";
    let (group, kind) = (reference.group.as_deref().unwrap_or(""), reference.kind.as_deref().unwrap_or("Secret"));
    if !group.is_empty() || kind != "Secret" {
        let group = if group.is_empty() { "core" } else { group };
        return Some(Err((reason::INVALID_CLIENT_CERTIFICATE_REF, format!("{field}: {group}/{kind} is not a supported certificate kind (use a core Secret)"))));
    }
    let namespace = reference.namespace.as_deref().unwrap_or(gateway_namespace);
    if namespace != gateway_namespace && !index.grant_allows((GATEWAY_GROUP, "Gateway", gateway_namespace), namespace, ("", "Secret", &reference.name)) {
        let message = format!("{field}: Secret {namespace}/{} is in another namespace and no ReferenceGrant there allows it", reference.name);
        return Some(Err((reason::REF_NOT_PERMITTED, message)));
    }
    let Some(secret) = index.secret(namespace, &reference.name) else {
        let message = format!("{field}: Secret {namespace}/{} not found (Portico reads only Secrets of type kubernetes.io/tls)", reference.name);
        return Some(Err((reason::INVALID_CLIENT_CERTIFICATE_REF, message)));
    };
    Some(match crate::pem::check_tls_secret(secret) {
        Ok(()) => Ok(ObjectRef::new(namespace, &reference.name)),
        Err(problem) => {
            Err((reason::INVALID_CLIENT_CERTIFICATE_REF, format!("{field}: Secret {namespace}/{} is not a valid TLS secret: {problem}", reference.name)))
        }
    })
}
