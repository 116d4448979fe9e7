//! Client certificate validation (`spec.tls.frontend`): which validation applies to each HTTPS
//! listener (its port's `perPort` entry, else the default), whether the platform can enforce it,
//! and the CA bundles its `caCertificateRefs` resolve to.
//!
//! Nothing here ever lets in a client the Gateway was told to refuse: a validation the platform
//! cannot enforce, or one whose references are all unusable, keeps the listener unprogrammed
//! (`Accepted=False`: `UnsupportedValue`, `NoValidCACertificate`). Unusable references beside a
//! usable one make `ResolvedRefs` False (the spec's reasons) and are left out of the trust anchors,
//! so the listener trusts fewer CAs, never more.

use gateway_api::experimental::gateways::Gateway;
use portico_model::ir::{CaBundle, ClientValidation, ClientValidationMode, ObjectRef};
use portico_model::snapshot::CA_BUNDLE_KEY;
use portico_model::{Capabilities, Feature, GATEWAY_GROUP, ListenerProtocol};

use crate::conditions::reason;
use crate::index::Index;
use crate::listeners::ListenerState;

/// One `caCertificateRefs` entry, whichever of the two generated types it came from.
pub(crate) struct CaRef<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
}

/// The validation that applies to one port, with the path of the field it came from.
struct Validation<'a> {
    field: String,
    mode: ClientValidationMode,
    refs: Vec<CaRef<'a>>,
}

/// The default and per-port validations have identical fields in distinct generated types.
macro_rules! validation_view {
    ($field:expr, $validation:expr, $fallback:path) => {{
        let v = $validation;
        let mode = if matches!(v.mode, Some($fallback)) { ClientValidationMode::AllowInsecureFallback } else { ClientValidationMode::AllowValidOnly };
        let refs = v
            .ca_certificate_refs
            .iter()
            .map(|r| CaRef { group: r.group.as_str(), kind: r.kind.as_str(), name: r.name.as_str(), namespace: r.namespace.as_deref() })
            .collect();
        Validation { field: $field, mode, refs }
    }};
}

/// The validation for listeners on `port`: a `perPort` entry for the port overrides the default
/// (an entry without `validation` turns validation off for that port).
fn validation_for(gw: &Gateway, port: u16) -> Option<Validation<'_>> {
    use gateway_api::experimental::gateways::{GatewayTlsFrontendDefaultValidationMode as D, GatewayTlsFrontendPerPortTlsValidationMode as P};
    let frontend = gw.spec.tls.as_ref()?.frontend.as_ref()?;
    let per_port = frontend.per_port.iter().flatten().enumerate().find(|(_, p)| p.port == i32::from(port));
    match per_port {
        Some((i, entry)) => {
            let validation = entry.tls.validation.as_ref()?;
            Some(validation_view!(format!("spec.tls.frontend.perPort[{i}].tls.validation"), validation, P::AllowInsecureFallback))
        }
        None => {
            let validation = frontend.default.validation.as_ref()?;
            Some(validation_view!("spec.tls.frontend.default.validation".to_string(), validation, D::AllowInsecureFallback))
        }
    }
}

/// Decide client certificate validation for every HTTPS listener not already rejected.
pub fn apply(gw: &Gateway, caps: &Capabilities, index: &Index<'_>, listeners: &mut [ListenerState<'_>]) {
    let namespace = gw.metadata.namespace.as_deref().unwrap_or("default");
    for listener in listeners.iter_mut().filter(|l| l.protocol == Some(ListenerProtocol::Https) && l.rejection.is_none()) {
        let Some(validation) = validation_for(gw, listener.port) else { continue };
        if let Some(message) = unenforceable(&validation, caps) {
            listener.rejection = Some((reason::UNSUPPORTED_VALUE, message));
            continue;
        }
        let (bundles, problems) = resolve(&validation, namespace, index);
        if bundles.is_empty() {
            let why = problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            let message = format!("{}: no usable CA certificate, so no client could be verified; the listener is not programmed: {why}", validation.field);
            listener.rejection = Some((reason::NO_VALID_CA_CERTIFICATE, message));
        } else {
            listener.client_validation = Some(ClientValidation { mode: validation.mode, ca_certificates: bundles });
        }
        listener.ca_problems = problems;
    }
}

/// Why the platform cannot enforce `validation`, if it cannot.
fn unenforceable(validation: &Validation<'_>, caps: &Capabilities) -> Option<String> {
    let (feature, what) = match validation.mode {
        ClientValidationMode::AllowInsecureFallback => {
            (Feature::GatewayFrontendClientCertificateValidationInsecureFallback, "client certificate validation with mode AllowInsecureFallback")
        }
        ClientValidationMode::AllowValidOnly => (Feature::GatewayFrontendClientCertificateValidation, "client certificate validation"),
    };
    (!caps.supports(feature)).then(|| {
        format!(
            "{}: {what} is not supported by {}; the listener is not programmed rather than let clients in unverified",
            validation.field,
            caps.platform_name()
        )
    })
}

/// The usable CA bundles of a validation and the problems of the others: (reason, message).
fn resolve(validation: &Validation<'_>, gateway_namespace: &str, index: &Index<'_>) -> (Vec<CaBundle>, Vec<(&'static str, String)>) {
    let (mut bundles, mut problems) = (Vec::new(), Vec::new());
    for (i, r) in validation.refs.iter().enumerate() {
        let field = format!("{}.caCertificateRefs[{i}]", validation.field);
        match resolve_one(r, gateway_namespace, index) {
            Ok(bundle) => bundles.push(bundle),
            Err((reason, why)) => problems.push((reason, format!("{field}: {why}"))),
        }
    }
    (bundles, problems)
}

pub(crate) fn resolve_one(r: &CaRef<'_>, gateway_namespace: &str, index: &Index<'_>) -> Result<CaBundle, (&'static str, String)> {
    if !r.group.is_empty() || r.kind != "ConfigMap" {
        let group = if r.group.is_empty() { "core" } else { r.group };
        let why = format!("{group}/{} is not a supported CA certificate kind (use a core ConfigMap with the bundle under {CA_BUNDLE_KEY})", r.kind);
        return Err((reason::INVALID_CA_CERTIFICATE_KIND, why));
    }
    let namespace = r.namespace.unwrap_or(gateway_namespace);
    if namespace != gateway_namespace && !index.grant_allows((GATEWAY_GROUP, "Gateway", gateway_namespace), namespace, ("", "ConfigMap", r.name)) {
        let why = format!("ConfigMap {namespace}/{} is in another namespace and no ReferenceGrant there allows it", r.name);
        return Err((reason::REF_NOT_PERMITTED, why));
    }
    let Some(map) = index.config_map(namespace, r.name) else {
        return Err((reason::INVALID_CA_CERTIFICATE_REF, format!("ConfigMap {namespace}/{} not found", r.name)));
    };
    let Some(pem) = map.data.as_ref().and_then(|d| d.get(CA_BUNDLE_KEY)) else {
        return Err((reason::INVALID_CA_CERTIFICATE_REF, format!("ConfigMap {namespace}/{} has no key {CA_BUNDLE_KEY}", r.name)));
    };
    crate::pem::check_ca_bundle(pem.as_bytes())
        .map_err(|problem| (reason::INVALID_CA_CERTIFICATE_REF, format!("ConfigMap {namespace}/{} {CA_BUNDLE_KEY}: {problem}", r.name)))?;
    Ok(CaBundle { config_map: ObjectRef::new(namespace, r.name), pem: pem.clone() })
}
