//! GatewayClass and Gateway evaluation: ownership, parameters, addresses and the Gateway-level
//! conditions that summarise its listeners.

use std::collections::BTreeMap;

use gateway_api::experimental::gatewayclasses::GatewayClass;
use gateway_api::experimental::gateways::Gateway;
use portico_model::capabilities::PORTICO_GROUP;
use portico_model::ir::{Address, ObjectRef, ParametersRef};
use portico_model::{Capabilities, Fact, Feature, ProviderKind};

use crate::CapabilitySet;
use crate::conditions::{self, Condition};
use crate::index::Index;
use crate::listeners::{self, ListenerState, Origin, Owner};
use crate::status::{GatewayClassStatus, GatewayStatus, SupportedFeature};

/// The address type for a reserved address named by the provider (GCP: a global address name).
pub const NAMED_ADDRESS_TYPE: &str = "portico.dev/named-address";

pub struct ClassState<'a> {
    pub caps: &'a Capabilities,
    pub parameters: Option<ParametersRef>,
    /// Why the class is not accepted.
    pub problem: Option<String>,
    pub status: GatewayClassStatus,
}

/// Evaluate every GatewayClass whose controllerName is one of the enabled providers'.
pub fn evaluate_classes<'a>(classes: &'a [GatewayClass], caps: &'a CapabilitySet, index: &Index<'_>) -> BTreeMap<String, ClassState<'a>> {
    let mut out = BTreeMap::new();
    for class in classes {
        let Some(provider) = ProviderKind::from_controller_name(&class.spec.controller_name) else { continue };
        let Some(provider_caps) = caps.get(provider) else { continue };
        let generation = class.metadata.generation.unwrap_or(1);
        let parameters = class.spec.parameters_ref.as_ref().map(|p| ParametersRef {
            group: p.group.clone(),
            kind: p.kind.clone(),
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        });
        let problem = parameters.as_ref().and_then(|p| check_parameters(p, provider_caps, index).err());
        let mut conditions = vec![match &problem {
            Some(message) => conditions::class_invalid_parameters(generation, message.clone()),
            None => conditions::class_accepted(generation),
        }];
        let previous = conditions::from_k8s(class.status.as_ref().and_then(|s| s.conditions.as_ref()));
        conditions::carry_transition_times(&mut conditions, &previous);
        let supported_features = provider_caps.supported_feature_names().into_iter().map(|name| SupportedFeature { name: name.into() }).collect();
        let name = class.metadata.name.clone().unwrap_or_default();
        let status = GatewayClassStatus { conditions, supported_features };
        out.insert(name, ClassState { caps: provider_caps, parameters, problem, status });
    }
    out
}

/// A parameters reference must name an existing object of the provider's parameters kind.
fn check_parameters(p: &ParametersRef, caps: &Capabilities, index: &Index<'_>) -> Result<(), String> {
    let want = &caps.parameters_kind;
    let provider = caps.provider;
    if p.group != PORTICO_GROUP || p.kind != *want {
        return Err(format!(
            "parametersRef {}/{} is not supported: {} takes {PORTICO_GROUP}/{want}",
            if p.group.is_empty() { "core" } else { &p.group },
            p.kind,
            provider.controller_name()
        ));
    }
    if index.parameters(&p.kind, p.namespace.as_deref(), &p.name).is_none() {
        let place = p.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
        return Err(format!("parametersRef {}/{} {place}{} not found", p.group, p.kind, p.name));
    }
    Ok(())
}

pub struct GatewayState<'a> {
    pub key: ObjectRef,
    pub class: String,
    pub generation: i64,
    pub caps: &'a Capabilities,
    pub listeners: Vec<ListenerState<'a>>,
    /// A Gateway-level rejection (Accepted=False) other than "no valid listener".
    pub rejection: Option<Condition>,
    pub parameters: Option<ParametersRef>,
    pub addresses: Vec<Address>,
    /// The addresses the Gateway's status reports (where it was last programmed).
    pub reported_addresses: Vec<Address>,
    /// `metadata.creationTimestamp`, for "the older Gateway keeps an address".
    pub created: Option<String>,
    /// Why a requested address cannot be used (another Gateway holds it): Programmed=False.
    pub address_problem: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Fields the platform leaves out (see `gateway_fields::left_out`), for `Accepted`.
    pub left_out: Vec<String>,
    /// The Gateway as stored (its `spec.tls` and `spec.allowedListeners` apply to ListenerSets).
    pub object: &'a Gateway,
    /// ListenerSets naming this Gateway as parent, in precedence order.
    pub sets: Vec<crate::listener_sets::SetState<'a>>,
    /// `spec.tls.backend.clientCertificateRef`, where the platform presents one.
    pub backend_client_certificate: Option<Result<ObjectRef, (&'static str, String)>>,
    previous: Option<&'a gateway_api::experimental::gateways::GatewayStatus>,
}

impl GatewayState<'_> {
    /// Routes can attach: nothing rejects the Gateway and at least one of its own listeners is
    /// usable.
    pub fn accepted(&self) -> bool {
        self.rejection.is_none() && self.own_listeners().any(ListenerState::attachable)
    }

    /// The listeners of the Gateway's own `spec.listeners` (the rest come from ListenerSets).
    pub fn own_listeners(&self) -> impl Iterator<Item = &ListenerState<'_>> {
        self.listeners.iter().filter(|l| l.origin == Origin::Gateway)
    }

    /// Accepted, with an address it may use and at least one listener to program: it gets an IR.
    pub fn programmable(&self) -> bool {
        self.accepted() && self.address_problem.is_none() && self.listeners.iter().any(ListenerState::programmable)
    }

    pub fn status(&self) -> GatewayStatus {
        let generation = self.generation;
        let accepted = self.accepted_condition();
        let programmed = if !accepted.is_true() {
            conditions::gateway_not_programmed(generation, conditions::reason::INVALID, "Gateway is not accepted")
        } else if let Some(problem) = &self.address_problem {
            conditions::gateway_address_not_usable(generation, problem.clone())
        } else if !self.listeners.iter().any(ListenerState::programmable) {
            conditions::gateway_not_programmed(generation, conditions::reason::INVALID, "No listener can be programmed")
        } else {
            conditions::gateway_programmed_pending(generation)
        };
        let mut gateway_conditions = vec![accepted, programmed];
        match &self.backend_client_certificate {
            Some(Ok(_)) => gateway_conditions.push(conditions::gateway_resolved_refs(generation)),
            Some(Err((reason, message))) => gateway_conditions.push(conditions::gateway_unresolved_refs(generation, reason, message.clone())),
            None => {}
        }
        let previous = conditions::from_k8s(self.previous.and_then(|s| s.conditions.as_ref()));
        conditions::carry_transition_times(&mut gateway_conditions, &previous);
        let previous_listeners = self.previous.and_then(|s| s.listeners.as_ref());
        let listeners = self
            .own_listeners()
            .map(|l| {
                let mut status = l.status(generation, self.accepted());
                let before = previous_listeners.into_iter().flatten().find(|p| p.name == l.name);
                if let Some(before) = before {
                    conditions::carry_transition_times(&mut status.conditions, &conditions::from_k8s(Some(&before.conditions)));
                }
                status
            })
            .collect();
        let mut status = GatewayStatus { addresses: Vec::new(), conditions: gateway_conditions, listeners, attached_listener_sets: self.attached_sets() };
        if self.address_problem.is_some() {
            status.listeners_not_programmed("The Gateway's address is not usable");
        }
        status
    }

    /// `status.attachedListenerSets`, once the Gateway allows ListenerSets (or one names it).
    fn attached_sets(&self) -> Option<i32> {
        let allows = crate::gateway_fields::allows_listener_sets(self.object);
        (allows || !self.sets.is_empty()).then(|| i32::try_from(self.sets.iter().filter(|s| s.attached.is_ok()).count()).unwrap_or(i32::MAX))
    }

    fn accepted_condition(&self) -> Condition {
        if let Some(rejection) = &self.rejection {
            return rejection.clone();
        }
        let invalid: Vec<String> = self.own_listeners().filter(|l| !l.valid()).map(ListenerState::invalid_summary).collect();
        let left_out = self.left_out.join("; ");
        if invalid.is_empty() {
            if left_out.is_empty() {
                return conditions::gateway_accepted(self.generation);
            }
            return conditions::gateway_accepted_unsupported(self.generation, format!("accepted without: {left_out}"));
        }
        let any_usable = self.own_listeners().any(ListenerState::attachable);
        let mut message = format!("invalid listeners: {}", invalid.join(", "));
        if !left_out.is_empty() {
            message.push_str(&format!("; accepted without: {left_out}"));
        }
        conditions::gateway_listeners_not_valid(self.generation, any_usable, message)
    }
}

/// Evaluate every Gateway of an accepted-or-not class of ours.
pub fn evaluate_gateways<'a>(
    gateways: &'a [Gateway],
    sets: &'a [crate::listener_sets::Prepared<'a>],
    classes: &BTreeMap<String, ClassState<'a>>,
    index: &Index<'_>,
    excluded: &crate::Exclusions,
) -> BTreeMap<ObjectRef, GatewayState<'a>> {
    let mut out = BTreeMap::new();
    for gw in gateways {
        let Some(class) = classes.get(&gw.spec.gateway_class_name) else { continue };
        let namespace = gw.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let key = ObjectRef::new(&namespace, gw.metadata.name.clone().unwrap_or_default());
        let generation = gw.metadata.generation.unwrap_or(1);
        let caps = class.caps;
        let infrastructure = gw.spec.infrastructure.as_ref();
        let own_parameters = infrastructure.and_then(|i| i.parameters_ref.as_ref()).map(|p| ParametersRef {
            group: p.group.clone(),
            kind: p.kind.clone(),
            namespace: Some(namespace.clone()),
            name: p.name.clone(),
        });
        let addresses = check_addresses(gw, caps);
        let rejection = if let Some(problem) = &class.problem {
            let message = format!("GatewayClass {} is not accepted: {problem}", gw.spec.gateway_class_name);
            Some(conditions::gateway_invalid_parameters(generation, message))
        } else if let Some(Err(problem)) = own_parameters.as_ref().map(|p| check_parameters(p, caps, index)) {
            Some(conditions::gateway_invalid_parameters(generation, format!("spec.infrastructure.{problem}")))
        } else if let Some(Err(problem)) = own_parameters.as_ref().map(|p| check_privilege(p, class, index)) {
            Some(conditions::gateway_invalid_parameters(generation, problem))
        } else if let Err(problem) = &addresses {
            Some(conditions::gateway_unsupported_address(generation, problem.clone()))
        } else {
            None
        };
        let owner = Owner { kind: "Gateway", namespace: &namespace, origin: Origin::Gateway, ir_prefix: String::new() };
        let mut listeners = listeners::evaluate(&gw.spec.listeners, &owner, caps, index);
        listeners::mark_conflicts(&mut listeners, caps);
        crate::client_validation::apply(gw, caps, index, &mut listeners);
        listeners::exclude(&mut listeners, excluded.get(&key));
        let state = GatewayState {
            listeners,
            left_out: crate::gateway_fields::left_out(gw, caps),
            key: key.clone(),
            class: gw.spec.gateway_class_name.clone(),
            generation,
            caps,
            rejection,
            parameters: own_parameters.or_else(|| class.parameters.clone()),
            addresses: addresses.unwrap_or_default(),
            reported_addresses: reported_addresses(gw),
            created: gw.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
            address_problem: None,
            labels: infrastructure.and_then(|i| i.labels.clone()).unwrap_or_default(),
            annotations: infrastructure
                .filter(|_| caps.has(portico_model::Fact::InfrastructureAnnotations))
                .and_then(|i| i.annotations.clone())
                .unwrap_or_default(),
            object: gw,
            sets: Vec::new(),
            backend_client_certificate: crate::gateway_fields::backend_client_certificate(gw, caps, index),
            previous: gw.status.as_ref(),
        };
        out.insert(key, state);
    }
    crate::addresses::settle(&mut out);
    crate::listener_sets::attach(&mut out, sets, index, excluded);
    out
}

fn reported_addresses(gw: &Gateway) -> Vec<Address> {
    let reported = gw.status.as_ref().and_then(|s| s.addresses.as_ref());
    reported.into_iter().flatten().map(|a| Address { address_type: a.r#type.clone().unwrap_or_else(|| "IPAddress".into()), value: a.value.clone() }).collect()
}

/// A Gateway-level parameters object may only set what the class allows (see `privilege`).
fn check_privilege(own: &ParametersRef, class: &ClassState<'_>, index: &Index<'_>) -> Result<(), String> {
    let Some(object) = index.parameters(&own.kind, own.namespace.as_deref(), &own.name) else { return Ok(()) };
    let class_object = class.parameters.as_ref().and_then(|p| index.parameters(&p.kind, p.namespace.as_deref(), &p.name));
    crate::privilege::check_gateway_parameters(object, class_object, class.caps)
}

fn check_addresses(gw: &Gateway, caps: &Capabilities) -> Result<Vec<Address>, String> {
    let count = gw.spec.addresses.as_ref().map_or(0, Vec::len);
    if count > 16 {
        return Err(format!("spec.addresses: {count} items, the API allows at most 16"));
    }
    let mut out = Vec::new();
    for (i, address) in gw.spec.addresses.iter().flatten().enumerate() {
        let address_type = address.r#type.clone().unwrap_or_else(|| "IPAddress".into());
        let value = address.value.clone().unwrap_or_default();
        let provider = caps.provider.controller_name();
        let field = format!("spec.addresses[{i}]");
        let supported = match address_type.as_str() {
            "IPAddress" => caps.supports(Feature::GatewayStaticAddresses),
            "Hostname" => caps.has(Fact::HostnameAddresses),
            NAMED_ADDRESS_TYPE => caps.has(Fact::NamedAddresses),
            _ => false,
        };
        if !supported {
            return Err(format!("{field}: address type {address_type} is not supported by {} ({provider})", caps.platform));
        }
        let well_formed = value.is_empty()
            || match address_type.as_str() {
                "IPAddress" => value.parse::<std::net::IpAddr>().is_ok(),
                "Hostname" => crate::hostnames::is_valid(&value) && !value.starts_with('*'),
                _ => true,
            };
        if !well_formed {
            return Err(format!("{field}: {value:?} is not a valid {address_type}"));
        }
        out.push(Address { address_type, value });
    }
    out.sort();
    out.dedup();
    Ok(out)
}
