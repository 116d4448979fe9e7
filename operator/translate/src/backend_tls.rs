//! BackendTLSPolicy (Gateway API v1, standard): TLS from the load balancer to a Service's
//! endpoints, verified against the policy's CA certificates (or the system's) for its hostname.
//!
//! A policy applies to the Service port named by its `sectionName`, or to every port of the
//! Service without one (a port's own policy wins over the Service-wide one). Of two policies for
//! the same target the older keeps it (`Conflicted` on the other). Nothing is ever sent in clear
//! to a backend a policy covers: a policy that cannot be used (no usable CA, unknown well-known
//! CA set, options Portico does not define) or a platform that cannot verify backends makes the
//! route's reference to that Service unresolved, and its share of traffic answers 500.
//!
//! Status: one `status.ancestors[]` entry per Gateway of ours whose routes reference a Service
//! the policy targets, with `Accepted` and `ResolvedRefs`; other controllers' entries are kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gateway_api::backendtlspolicies::{BackendTlsPolicy, BackendTlsPolicyValidationSubjectAltNamesType as SanType};
use portico_model::ir::{BackendTls, ObjectRef, SubjectAltName};
use portico_model::{Capabilities, Feature, GATEWAY_GROUP, Snapshot};
use serde::Serialize;

use crate::client_validation::{CaRef, resolve_one};
use crate::conditions::{self, Condition, reason};
use crate::index::Index;

/// The well-known CA set Portico knows (the platform's system trust store).
const SYSTEM: &str = "System";

/// One policy, evaluated once per translation.
pub struct PolicyState<'a> {
    pub key: ObjectRef,
    generation: i64,
    /// Usable TLS settings, or why the policy cannot be used: (Accepted reason, message).
    pub tls: Result<BackendTls, (&'static str, String)>,
    /// CA references left out: (ResolvedRefs reason, message).
    ref_problems: Vec<(&'static str, String)>,
    /// Targets an older policy holds: (Service, sectionName, that policy). Conflicts are per
    /// target: the policy still applies where it holds the target.
    lost: Vec<(String, Option<String>, ObjectRef)>,
    object: &'a BackendTlsPolicy,
}

/// Every policy of the snapshot and what it targets.
#[derive(Default)]
pub struct Policies<'a> {
    states: Vec<PolicyState<'a>>,
    /// (namespace, Service, sectionName) -> policies in precedence order.
    targets: HashMap<(String, String, Option<String>), Vec<usize>>,
}

impl<'a> Policies<'a> {
    pub fn new(snapshot: &'a Snapshot, index: &Index<'_>) -> Self {
        let mut order: Vec<&BackendTlsPolicy> = snapshot.backend_tls_policies.iter().collect();
        order.sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(), key_of(p)));
        let mut out = Policies::default();
        for policy in order {
            let i = out.states.len();
            out.states.push(evaluate(policy, index));
            for target in policy.spec.target_refs.iter().filter(|t| t.group.is_empty() && t.kind == "Service") {
                let key = (out.states[i].key.namespace.clone(), target.name.clone(), target.section_name.clone());
                let holders = out.targets.entry(key).or_default();
                if let Some(&winner) = holders.first() {
                    let winner = out.states[winner].key.clone();
                    out.states[i].lost.push((target.name.clone(), target.section_name.clone(), winner));
                }
                holders.push(i);
            }
        }
        out
    }

    /// The policy for one Service port (`port_name`: the port's name, if it has one): the port's
    /// own, else the Service-wide one; never a conflicted one.
    pub fn for_port(&self, namespace: &str, service: &str, port_name: Option<&str>) -> Option<&PolicyState<'a>> {
        let holder = |section: Option<&str>| {
            let key = (namespace.to_string(), service.to_string(), section.map(str::to_string));
            self.targets.get(&key).and_then(|v| v.first()).map(|&i| &self.states[i])
        };
        port_name.and_then(|name| holder(Some(name))).or_else(|| holder(None))
    }

    /// Policies that target `service` at all (any port), for status ancestors.
    fn targeting(&self, service: &ObjectRef) -> impl Iterator<Item = &PolicyState<'a>> {
        self.states.iter().filter(move |s| {
            s.key.namespace == service.namespace
                && s.object.spec.target_refs.iter().any(|t| t.group.is_empty() && t.kind == "Service" && t.name == service.name)
        })
    }
}

fn key_of(policy: &BackendTlsPolicy) -> ObjectRef {
    ObjectRef::new(policy.metadata.namespace.as_deref().unwrap_or("default"), policy.metadata.name.as_deref().unwrap_or(""))
}

fn evaluate<'a>(policy: &'a BackendTlsPolicy, index: &Index<'_>) -> PolicyState<'a> {
    let key = key_of(policy);
    let validation = &policy.spec.validation;
    let mut ref_problems = Vec::new();
    let mut bundles = Vec::new();
    for (i, r) in validation.ca_certificate_refs.iter().flatten().enumerate() {
        let reference = CaRef { group: &r.group, kind: &r.kind, name: &r.name, namespace: None };
        match resolve_one(&reference, &key.namespace, index) {
            Ok(bundle) => bundles.push(bundle),
            Err((why, message)) => {
                let why = if why == reason::INVALID_CA_CERTIFICATE_KIND { reason::INVALID_KIND } else { reason::INVALID_CA_CERTIFICATE_REF };
                ref_problems.push((why, format!("spec.validation.caCertificateRefs[{i}]: {message}")));
            }
        }
    }
    let tls = settings(policy, &key, bundles, &ref_problems);
    PolicyState { key, generation: policy.metadata.generation.unwrap_or(1), tls, ref_problems, lost: Vec::new(), object: policy }
}

fn settings(
    policy: &BackendTlsPolicy,
    key: &ObjectRef,
    bundles: Vec<portico_model::ir::CaBundle>,
    problems: &[(&str, String)],
) -> Result<BackendTls, (&'static str, String)> {
    let validation = &policy.spec.validation;
    let refs = validation.ca_certificate_refs.as_ref().is_some_and(|r| !r.is_empty());
    let invalid = |message: String| Err((reason::INVALID, message));
    match (&validation.well_known_ca_certificates, refs) {
        (Some(_), true) => return invalid("spec.validation: caCertificateRefs and wellKnownCACertificates must not both be set".into()),
        (None, false) => return invalid("spec.validation: one of caCertificateRefs and wellKnownCACertificates is required".into()),
        (Some(known), false) if known != SYSTEM => {
            return invalid(format!("spec.validation.wellKnownCACertificates: {known:?} is not a CA set Portico knows (only {SYSTEM})"));
        }
        (None, true) if bundles.is_empty() => {
            let why = problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            return Err((reason::NO_VALID_CA_CERTIFICATE, format!("no usable CA certificate, so no backend could be verified: {why}")));
        }
        _ => {}
    }
    if let Some(options) = policy.spec.options.as_ref().filter(|o| !o.is_empty()) {
        let keys = options.keys().map(|k| crate::validate::quoted(k)).collect::<Vec<_>>().join(", ");
        return invalid(format!("spec.options: {keys} not supported: Portico defines no BackendTLSPolicy option keys"));
    }
    let hostname = validation.hostname.clone();
    if !crate::hostnames::is_valid(&hostname) || hostname.starts_with('*') {
        return invalid(format!("spec.validation.hostname: {} is not a precise hostname", crate::validate::quoted(&hostname)));
    }
    let subject_alt_names = validation
        .subject_alt_names
        .iter()
        .flatten()
        .map(|san| match san.r#type {
            SanType::Hostname => SubjectAltName::Hostname(san.hostname.clone().unwrap_or_default()),
            SanType::Uri => SubjectAltName::Uri(san.uri.clone().unwrap_or_default()),
        })
        .collect();
    Ok(BackendTls { policy: key.clone(), hostname, ca_certificates: bundles, subject_alt_names })
}

/// What a platform lacks to honour `tls` (it must then not reach the backend at all).
pub fn unsupported(tls: &BackendTls, caps: &Capabilities) -> Option<String> {
    let platform = caps.platform_name();
    if !caps.supports(Feature::BackendTlsPolicy) {
        return Some(format!("BackendTLSPolicy {}: verified TLS to backends is not supported by {platform}", tls.policy));
    }
    if !tls.subject_alt_names.is_empty() && !caps.supports(Feature::BackendTlsPolicySanValidation) {
        return Some(format!("BackendTLSPolicy {}: spec.validation.subjectAltNames is not supported by {platform}", tls.policy));
    }
    None
}

/// `status` of a policy as written: our ancestor entries, and those of other controllers kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyStatus {
    pub ancestors: Vec<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ancestor<'c> {
    ancestor_ref: AncestorRef<'c>,
    controller_name: String,
    conditions: Vec<Condition>,
}

#[derive(Serialize)]
struct AncestorRef<'c> {
    group: &'static str,
    kind: &'static str,
    namespace: &'c str,
    name: &'c str,
}

/// The statuses of every policy that has (or had) an ancestor of ours: `uses` names, per Gateway
/// of ours, the Services its attached routes reference and the platform's capabilities.
pub fn statuses(
    policies: &Policies<'_>,
    uses: &BTreeMap<ObjectRef, (BTreeSet<ObjectRef>, &Capabilities)>,
    ours: &[String],
) -> BTreeMap<ObjectRef, PolicyStatus> {
    let mut entries: BTreeMap<ObjectRef, Vec<serde_json::Value>> = BTreeMap::new();
    for (gateway, (services, caps)) in uses {
        let mut seen = BTreeSet::new();
        for policy in services.iter().flat_map(|s| policies.targeting(s)) {
            if !seen.insert(policy.key.clone()) {
                continue;
            }
            let mut conditions = policy_conditions(policy, caps, services);
            let previous = previous_entry(policy.object, gateway, &caps.provider.controller_name());
            conditions::carry_transition_times(&mut conditions, &conditions::from_json(previous.as_ref().and_then(|p| p.get("conditions"))));
            let entry = Ancestor {
                ancestor_ref: AncestorRef { group: GATEWAY_GROUP, kind: "Gateway", namespace: &gateway.namespace, name: &gateway.name },
                controller_name: caps.provider.controller_name(),
                conditions,
            };
            entries.entry(policy.key.clone()).or_default().push(serde_json::to_value(entry).unwrap_or_default());
        }
    }
    let mut out = BTreeMap::new();
    for state in &policies.states {
        let existing = existing_ancestors(state.object);
        let had_ours = existing.iter().any(|a| crate::is_ours(a, ours));
        let mine = entries.remove(&state.key).unwrap_or_default();
        if mine.is_empty() && !had_ours {
            continue;
        }
        let mut ancestors: Vec<serde_json::Value> = existing.into_iter().filter(|a| !crate::is_ours(a, ours)).collect();
        ancestors.extend(mine);
        out.insert(state.key.clone(), PolicyStatus { ancestors });
    }
    out
}

/// The conditions for one ancestor Gateway, whose routes use `services`: Conflicted when an older
/// policy holds a target the Gateway uses.
fn policy_conditions(policy: &PolicyState<'_>, caps: &Capabilities, services: &BTreeSet<ObjectRef>) -> Vec<Condition> {
    let generation = policy.generation;
    let lost = policy.lost.iter().find(|(service, _, _)| services.contains(&ObjectRef::new(&policy.key.namespace, service)));
    let accepted = if let Some((service, section, winner)) = lost {
        let port = section.as_ref().map(|s| format!(" port {s}")).unwrap_or_default();
        conditions::policy_not_accepted(
            generation,
            reason::CONFLICTED,
            format!("BackendTLSPolicy {winner} is older and targets the same Service {service}{port}"),
        )
    } else {
        match &policy.tls {
            Err((why, message)) => conditions::policy_not_accepted(generation, why, message.clone()),
            Ok(tls) => match unsupported(tls, caps) {
                Some(message) => conditions::policy_not_accepted(generation, reason::INVALID, message),
                None => conditions::policy_accepted(generation),
            },
        }
    };
    let resolved = match policy.ref_problems.first() {
        None => conditions::policy_resolved_refs(generation),
        Some((why, _)) => {
            let message = policy.ref_problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
            conditions::policy_unresolved_refs(generation, why, message)
        }
    };
    vec![accepted, resolved]
}

fn existing_ancestors(policy: &BackendTlsPolicy) -> Vec<serde_json::Value> {
    policy.status.as_ref().map(|s| s.ancestors.iter().filter_map(|a| serde_json::to_value(a).ok()).collect()).unwrap_or_default()
}

fn previous_entry(policy: &BackendTlsPolicy, gateway: &ObjectRef, controller: &str) -> Option<serde_json::Value> {
    existing_ancestors(policy).into_iter().find(|a| {
        a["controllerName"] == controller
            && a["ancestorRef"]["name"] == gateway.name.as_str()
            && a["ancestorRef"]["namespace"].as_str().is_none_or(|n| n == gateway.namespace)
    })
}
