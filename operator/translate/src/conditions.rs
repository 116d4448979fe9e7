//! Every condition Portico writes, built by named constructors so that types, reasons and
//! statuses are spelled in exactly one place. The Gateway API crate has no route condition
//! constants, so ours live here.

use serde::{Deserialize, Serialize};

/// A `metav1.Condition`. `last_transition_time` is left empty by translation (it has no clock)
/// unless the object already had this condition with the same status, in which case the old
/// time is kept; the status writer stamps the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub condition_type: String,
    pub status: String,
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    pub reason: String,
    pub message: String,
}

impl Condition {
    fn new(condition_type: &str, status: &str, reason: &str, generation: i64, message: impl Into<String>) -> Self {
        Condition {
            condition_type: condition_type.to_string(),
            status: status.to_string(),
            observed_generation: generation,
            last_transition_time: None,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    pub fn is_true(&self) -> bool {
        self.status == TRUE
    }

    /// Whether this condition reports something wrong ([`is_problem`]).
    pub fn is_problem(&self) -> bool {
        is_problem(&self.condition_type, &self.status)
    }
}

/// Whether a condition of this type and status reports something wrong: `True` for the
/// negative-polarity types (`Conflicted`, `PartiallyInvalid`), `False` for every other type.
/// `Unknown` (e.g. `Programmed` while pending) is not a problem.
pub fn is_problem(condition_type: &str, status: &str) -> bool {
    match condition_type {
        CONFLICTED | PARTIALLY_INVALID => status == TRUE,
        _ => status == FALSE,
    }
}

const TRUE: &str = "True";
const FALSE: &str = "False";
const UNKNOWN: &str = "Unknown";

pub const ACCEPTED: &str = "Accepted";
pub const PROGRAMMED: &str = "Programmed";
pub const RESOLVED_REFS: &str = "ResolvedRefs";
pub const CONFLICTED: &str = "Conflicted";
pub const PARTIALLY_INVALID: &str = "PartiallyInvalid";

/// Reasons, as the Gateway API spells them.
pub mod reason {
    pub const ACCEPTED: &str = "Accepted";
    pub const INVALID_PARAMETERS: &str = "InvalidParameters";
    pub const PENDING: &str = "Pending";
    pub const PROGRAMMED: &str = "Programmed";
    pub const INVALID: &str = "Invalid";
    pub const LISTENERS_NOT_VALID: &str = "ListenersNotValid";
    pub const UNSUPPORTED_ADDRESS: &str = "UnsupportedAddress";
    pub const ADDRESS_NOT_USABLE: &str = "AddressNotUsable";
    pub const UNSUPPORTED_PROTOCOL: &str = "UnsupportedProtocol";
    pub const INVALID_ROUTE_KINDS: &str = "InvalidRouteKinds";
    pub const INVALID_CERTIFICATE_REF: &str = "InvalidCertificateRef";
    pub const REF_NOT_PERMITTED: &str = "RefNotPermitted";
    pub const RESOLVED_REFS: &str = "ResolvedRefs";
    pub const HOSTNAME_CONFLICT: &str = "HostnameConflict";
    pub const PROTOCOL_CONFLICT: &str = "ProtocolConflict";
    pub const NO_CONFLICTS: &str = "NoConflicts";
    pub const NO_MATCHING_PARENT: &str = "NoMatchingParent";
    pub const NOT_ALLOWED_BY_LISTENERS: &str = "NotAllowedByListeners";
    pub const NO_MATCHING_LISTENER_HOSTNAME: &str = "NoMatchingListenerHostname";
    pub const UNSUPPORTED_VALUE: &str = "UnsupportedValue";
    pub const INCOMPATIBLE_FILTERS: &str = "IncompatibleFilters";
    pub const BACKEND_NOT_FOUND: &str = "BackendNotFound";
    pub const INVALID_KIND: &str = "InvalidKind";
    pub const INVALID_CA_CERTIFICATE_REF: &str = "InvalidCACertificateRef";
    pub const INVALID_CA_CERTIFICATE_KIND: &str = "InvalidCACertificateKind";
    pub const NO_VALID_CA_CERTIFICATE: &str = "NoValidCACertificate";
    pub const NOT_ALLOWED: &str = "NotAllowed";
    pub const PARENT_NOT_ACCEPTED: &str = "ParentNotAccepted";
    pub const PARENT_NOT_PROGRAMMED: &str = "ParentNotProgrammed";
    pub const CONFLICTED: &str = "Conflicted";
    pub const INVALID_CLIENT_CERTIFICATE_REF: &str = "InvalidClientCertificateRef";
    /// A route's reference to a Service whose BackendTLSPolicy cannot be honoured (Portico's
    /// reason: the spec names none for it).
    pub const INVALID_BACKEND_TLS_POLICY: &str = "InvalidBackendTLSPolicy";
    /// A listener the platform's per-load-balancer limits leave out (the spec's reason for a port
    /// that cannot be used on the Gateway).
    pub const PORT_UNAVAILABLE: &str = "PortUnavailable";

    /// Every reason above, for documentation checks.
    pub const ALL: &[&str] = &[
        ACCEPTED,
        PORT_UNAVAILABLE,
        INVALID_PARAMETERS,
        PENDING,
        PROGRAMMED,
        INVALID,
        LISTENERS_NOT_VALID,
        UNSUPPORTED_ADDRESS,
        ADDRESS_NOT_USABLE,
        UNSUPPORTED_PROTOCOL,
        INVALID_ROUTE_KINDS,
        INVALID_CERTIFICATE_REF,
        REF_NOT_PERMITTED,
        RESOLVED_REFS,
        HOSTNAME_CONFLICT,
        PROTOCOL_CONFLICT,
        NO_CONFLICTS,
        NO_MATCHING_PARENT,
        NOT_ALLOWED_BY_LISTENERS,
        NO_MATCHING_LISTENER_HOSTNAME,
        UNSUPPORTED_VALUE,
        INCOMPATIBLE_FILTERS,
        BACKEND_NOT_FOUND,
        INVALID_KIND,
        INVALID_CA_CERTIFICATE_REF,
        INVALID_CA_CERTIFICATE_KIND,
        NO_VALID_CA_CERTIFICATE,
        NOT_ALLOWED,
        PARENT_NOT_ACCEPTED,
        PARENT_NOT_PROGRAMMED,
        CONFLICTED,
        INVALID_BACKEND_TLS_POLICY,
        INVALID_CLIENT_CERTIFICATE_REF,
    ];
}

// ---- GatewayClass ----

pub fn class_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "Portico accepts this GatewayClass")
}

pub fn class_invalid_parameters(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::INVALID_PARAMETERS, generation, message)
}

// ---- Gateway ----

pub fn gateway_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "Gateway is valid")
}

/// Accepted and programmed, without some fields the platform cannot carry out (named in
/// `message`); none of them weakens what the Gateway lets in.
pub fn gateway_accepted_unsupported(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::UNSUPPORTED_VALUE, generation, message)
}

/// Some listeners are invalid: `accepted` tells whether at least one valid listener remains.
pub fn gateway_listeners_not_valid(generation: i64, accepted: bool, message: impl Into<String>) -> Condition {
    let status = if accepted { TRUE } else { FALSE };
    Condition::new(ACCEPTED, status, reason::LISTENERS_NOT_VALID, generation, message)
}

pub fn gateway_invalid_parameters(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::INVALID_PARAMETERS, generation, message)
}

pub fn gateway_unsupported_address(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::UNSUPPORTED_ADDRESS, generation, message)
}

/// A requested address cannot be used (another Gateway holds it, it is outside the pool, or the
/// platform honours fewer addresses than requested).
pub fn gateway_address_not_usable(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(PROGRAMMED, FALSE, reason::ADDRESS_NOT_USABLE, generation, message)
}

/// The Gateway's own references (`spec.tls.backend.clientCertificateRef`) resolved.
pub fn gateway_resolved_refs(generation: i64) -> Condition {
    Condition::new(RESOLVED_REFS, TRUE, reason::RESOLVED_REFS, generation, "All references resolved")
}

/// `reason`: InvalidClientCertificateRef or RefNotPermitted.
pub fn gateway_unresolved_refs(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(RESOLVED_REFS, FALSE, reason, generation, message)
}

pub fn gateway_programmed_pending(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, UNKNOWN, reason::PENDING, generation, "Waiting for the provider to program the load balancer")
}

pub fn gateway_programmed(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(PROGRAMMED, TRUE, reason::PROGRAMMED, generation, message)
}

pub fn gateway_not_programmed(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(PROGRAMMED, FALSE, reason, generation, message)
}

// ---- Listeners ----

pub fn listener_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "Listener is valid")
}

pub fn listener_unsupported_protocol(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::UNSUPPORTED_PROTOCOL, generation, message)
}

/// A listener value the platform or the Gateway API CRD refuses (a TLS mode the provider lacks,
/// a port out of range, a malformed hostname): it supports no route kinds.
pub fn listener_unsupported_value(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::UNSUPPORTED_VALUE, generation, message)
}

/// Client certificate validation applies to the listener and none of its CA certificate
/// references is usable: the listener is not programmed (never served without the validation).
pub fn listener_no_valid_ca_certificate(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::NO_VALID_CA_CERTIFICATE, generation, message)
}

/// The platform cannot program the listener: a per-load-balancer limit (listeners, certificates
/// per listener) is used up by listeners of higher precedence.
pub fn listener_port_unavailable(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::PORT_UNAVAILABLE, generation, message)
}

/// A conflicted listener is neither accepted nor programmed; `reason` is the conflict reason.
pub fn listener_not_accepted_conflict(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason, generation, message)
}

/// A conflicted listener is not programmed either, with the conflict's reason (as upstream's
/// ListenerSet conformance expects).
pub fn listener_not_programmed_conflict(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(PROGRAMMED, FALSE, reason, generation, message)
}

pub fn listener_conflicted(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(CONFLICTED, TRUE, reason, generation, message)
}

pub fn listener_no_conflicts(generation: i64) -> Condition {
    Condition::new(CONFLICTED, FALSE, reason::NO_CONFLICTS, generation, "No conflicts")
}

pub fn listener_resolved_refs(generation: i64) -> Condition {
    Condition::new(RESOLVED_REFS, TRUE, reason::RESOLVED_REFS, generation, "All references resolved")
}

/// `reason` is InvalidCertificateRef, RefNotPermitted, InvalidRouteKinds, InvalidCACertificateRef
/// or InvalidCACertificateKind.
pub fn listener_unresolved_refs(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(RESOLVED_REFS, FALSE, reason, generation, message)
}

pub fn listener_programmed_pending(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, UNKNOWN, reason::PENDING, generation, "Waiting for the provider to program the listener")
}

pub fn listener_programmed(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, TRUE, reason::PROGRAMMED, generation, "Listener is programmed")
}

pub fn listener_invalid(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(PROGRAMMED, FALSE, reason::INVALID, generation, message)
}

// ---- ListenerSets ----

pub fn listener_set_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "ListenerSet is attached to its Gateway")
}

/// Accepted, with some listeners not valid (they are named in `message`).
pub fn listener_set_accepted_partly(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::LISTENERS_NOT_VALID, generation, message)
}

/// The ListenerSet is not attached (`reason`: NotAllowed, ParentNotAccepted, ListenersNotValid):
/// its `Accepted` and `Programmed` conditions, both False with that reason.
pub fn listener_set_not_attached(generation: i64, reason: &str, message: impl Into<String>) -> [Condition; 2] {
    let message = message.into();
    [Condition::new(ACCEPTED, FALSE, reason, generation, message.clone()), Condition::new(PROGRAMMED, FALSE, reason, generation, message)]
}

pub fn listener_set_programmed_pending(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, UNKNOWN, reason::PENDING, generation, "Waiting for the parent Gateway to be programmed")
}

pub fn listener_set_programmed(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, TRUE, reason::PROGRAMMED, generation, "Programmed with the parent Gateway")
}

pub fn listener_set_parent_not_programmed(generation: i64) -> Condition {
    Condition::new(PROGRAMMED, FALSE, reason::PARENT_NOT_PROGRAMMED, generation, "The parent Gateway is not programmed")
}

// ---- Policies (BackendTLSPolicy, per ancestor Gateway) ----

pub fn policy_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "Policy is accepted")
}

/// `reason`: Conflicted, Invalid or NoValidCACertificate.
pub fn policy_not_accepted(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason, generation, message)
}

pub fn policy_resolved_refs(generation: i64) -> Condition {
    Condition::new(RESOLVED_REFS, TRUE, reason::RESOLVED_REFS, generation, "All references resolved")
}

/// `reason`: InvalidCACertificateRef or InvalidKind.
pub fn policy_unresolved_refs(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(RESOLVED_REFS, FALSE, reason, generation, message)
}

// ---- Routes (per parent) ----

pub fn route_accepted(generation: i64) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, "Route is accepted")
}

/// Accepted, but not bound on some listener: a TCP/UDP listener (or a TLS listener without SNI
/// routing) forwards to its oldest route only. The spec keeps such routes `Accepted=True`.
pub fn route_accepted_unbound(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, TRUE, reason::ACCEPTED, generation, message)
}

pub fn no_matching_parent(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::NO_MATCHING_PARENT, generation, message)
}

pub fn not_allowed_by_listeners(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::NOT_ALLOWED_BY_LISTENERS, generation, message)
}

pub fn no_matching_listener_hostname(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::NO_MATCHING_LISTENER_HOSTNAME, generation, message)
}

/// A value Portico or the platform cannot take, or one the Gateway API CRD would have refused
/// (the message names the field).
pub fn unsupported_value(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::UNSUPPORTED_VALUE, generation, message)
}

pub fn incompatible_filters(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(ACCEPTED, FALSE, reason::INCOMPATIBLE_FILTERS, generation, message)
}

/// Some rules were dropped; the message starts with "Dropped Rule" as the spec requires.
pub fn partially_invalid(generation: i64, message: impl Into<String>) -> Condition {
    Condition::new(PARTIALLY_INVALID, TRUE, reason::UNSUPPORTED_VALUE, generation, message)
}

pub fn route_resolved_refs(generation: i64) -> Condition {
    Condition::new(RESOLVED_REFS, TRUE, reason::RESOLVED_REFS, generation, "All references resolved")
}

/// `reason` is BackendNotFound, InvalidKind or RefNotPermitted.
pub fn route_unresolved_refs(generation: i64, reason: &str, message: impl Into<String>) -> Condition {
    Condition::new(RESOLVED_REFS, FALSE, reason, generation, message)
}

/// Keep `lastTransitionTime` from `previous` for every condition whose status did not change.
pub fn carry_transition_times(conditions: &mut [Condition], previous: &[Condition]) {
    for condition in conditions {
        let earlier = previous.iter().find(|p| p.condition_type == condition.condition_type);
        if let Some(earlier) = earlier.filter(|p| p.status == condition.status) {
            condition.last_transition_time = earlier.last_transition_time.clone();
        }
    }
}

/// Read conditions from an object's existing status (any JSON shape with the metav1 fields).
pub fn from_json(conditions: Option<&serde_json::Value>) -> Vec<Condition> {
    let Some(serde_json::Value::Array(items)) = conditions else { return Vec::new() };
    items.iter().filter_map(|item| serde_json::from_value(item.clone()).ok()).collect()
}

/// Conditions from `k8s-openapi` types, as `gateway-api` objects carry them.
pub fn from_k8s(conditions: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>) -> Vec<Condition> {
    conditions
        .into_iter()
        .flatten()
        .map(|c| Condition {
            condition_type: c.type_.clone(),
            status: c.status.clone(),
            observed_generation: c.observed_generation.unwrap_or(0),
            last_transition_time: Some(c.last_transition_time.0.to_string()),
            reason: c.reason.clone(),
            message: c.message.clone(),
        })
        .collect()
}
