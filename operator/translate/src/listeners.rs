//! Listener validation: protocol support, allowed route kinds, TLS certificate references and
//! conflicts between listeners that share a port.

use gateway_api::experimental::gateways::{GatewayListeners, GatewayListenersAllowedRoutesNamespacesFrom as From, GatewayListenersTlsMode};
use portico_model::ir::{self, ObjectRef};
use portico_model::{Capabilities, Fact, Feature, GATEWAY_GROUP, ListenerProtocol, RouteKind};

use crate::conditions::{self, reason};
use crate::index::{Index, Selector};
use crate::status::{ListenerStatus, RouteGroupKind};

/// Where a listener is declared: the Gateway's own `spec.listeners`, or the ListenerSet at this
/// index of the Gateway's attached sets (`GatewayState::sets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Gateway,
    Set(usize),
}

/// The object that declares a list of listeners: its certificate references and
/// `allowedRoutes.namespaces.from: Same` are relative to it.
pub struct Owner<'s> {
    /// `Gateway` or `ListenerSet`: the `from` kind a ReferenceGrant must name.
    pub kind: &'static str,
    pub namespace: &'s str,
    pub origin: Origin,
    /// What the IR names its listeners after (`<namespace>/<name>/` for a ListenerSet, whose
    /// listener names need only be unique within the set).
    pub ir_prefix: String,
}

/// Which namespaces may attach routes to a listener.
pub enum NamespacePolicy<'a> {
    Same,
    All,
    Selector(Selector<'a>),
}

pub struct ListenerState<'a> {
    pub name: String,
    /// The listener's name in the IR: unique across the Gateway and its ListenerSets.
    pub ir_name: String,
    pub origin: Origin,
    /// The namespace of the object that declares it (`from: Same` means this one).
    pub namespace: String,
    pub port: u16,
    /// `None` when the protocol is not one the provider supports.
    pub protocol: Option<ListenerProtocol>,
    pub hostname: Option<String>,
    /// TLS is terminated here (HTTPS, or TLS in Terminate mode).
    pub terminates_tls: bool,
    pub certificates: Vec<ObjectRef>,
    pub supported_kinds: Vec<RouteKind>,
    pub namespaces: NamespacePolicy<'a>,
    /// Set by conflict detection: (reason, message).
    pub conflict: Option<(&'static str, String)>,
    /// Why the listener itself is not accepted (besides conflicts): (reason, message).
    pub rejection: Option<(&'static str, String)>,
    /// Unresolved references: (reason, message), in the order found.
    pub ref_problems: Vec<(&'static str, String)>,
    /// Client certificate validation in effect on this listener (see `client_validation`).
    pub client_validation: Option<ir::ClientValidation>,
    /// Unusable CA certificate references of that validation: (reason, message). They make
    /// `ResolvedRefs` False without stopping the listener while another CA is usable.
    pub ca_problems: Vec<(&'static str, String)>,
    /// Routes attached (filled in by attachment).
    pub attached_routes: std::collections::BTreeSet<crate::status::RouteKey>,
    /// Hostnames claimed by attached HTTPRoutes and GRPCRoutes (they may not share one), by
    /// route kind: a route is checked against the other kind's claims only.
    pub claimed_hosts: std::collections::BTreeMap<portico_model::RouteKind, Vec<(String, crate::status::RouteKey)>>,
    /// On a listener that forwards everything to one route (TCP, UDP, TLS without SNI routing):
    /// the route it forwards to, the oldest attached one.
    pub forwards_to: Option<crate::status::RouteKey>,
}

impl ListenerState<'_> {
    /// Routes may attach: the listener is accepted and not conflicted.
    pub fn attachable(&self) -> bool {
        self.protocol.is_some() && self.rejection.is_none() && self.conflict.is_none()
    }

    /// The listener goes into the IR: attachable, its certificates resolved and at least one
    /// route kind left (route kinds it cannot take do not stop the ones it can).
    pub fn programmable(&self) -> bool {
        self.attachable() && self.ref_problems.iter().all(|(reason, _)| *reason == reason::INVALID_ROUTE_KINDS) && !self.supported_kinds.is_empty()
    }

    /// Fully valid, for the Gateway's `ListenersNotValid`.
    pub fn valid(&self) -> bool {
        self.programmable() && self.ref_problems.is_empty()
    }

    /// `name (reason)`, the first reason it is not valid, for `ListenersNotValid` messages.
    pub fn invalid_summary(&self) -> String {
        let why = self.rejection.as_ref().or(self.conflict.as_ref()).or(self.ref_problems.first()).map(|(r, _)| *r);
        format!("{} ({})", self.name, why.unwrap_or(reason::INVALID))
    }

    /// `gateway_accepted`: a listener of a rejected Gateway is never programmed.
    pub fn status(&self, generation: i64, gateway_accepted: bool) -> ListenerStatus {
        let accepted = match (&self.rejection, &self.conflict) {
            (Some((reason, message)), _) if *reason == reason::UNSUPPORTED_PROTOCOL => conditions::listener_unsupported_protocol(generation, message.clone()),
            (Some((reason, message)), _) if *reason == reason::UNSUPPORTED_VALUE => conditions::listener_unsupported_value(generation, message.clone()),
            (Some((reason, message)), _) if *reason == reason::NO_VALID_CA_CERTIFICATE => {
                conditions::listener_no_valid_ca_certificate(generation, message.clone())
            }
            (Some((reason, message)), _) if *reason == reason::PORT_UNAVAILABLE => conditions::listener_port_unavailable(generation, message.clone()),
            (Some((reason, message)), _) => conditions::listener_not_accepted_conflict(generation, reason, message.clone()),
            (None, Some((reason, message))) => conditions::listener_not_accepted_conflict(generation, reason, message.clone()),
            (None, None) => conditions::listener_accepted(generation),
        };
        let conflicted = match &self.conflict {
            Some((reason, message)) => conditions::listener_conflicted(generation, reason, message.clone()),
            None => conditions::listener_no_conflicts(generation),
        };
        let problems: Vec<_> = self.ref_problems.iter().chain(&self.ca_problems).collect();
        let resolved = match problems.first() {
            Some((reason, _)) => {
                let message = problems.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
                conditions::listener_unresolved_refs(generation, reason, message)
            }
            None => conditions::listener_resolved_refs(generation),
        };
        let programmed = if let Some((reason, message)) = self.conflict.as_ref().filter(|_| self.rejection.is_none()) {
            conditions::listener_not_programmed_conflict(generation, reason, message.clone())
        } else if !self.attachable() {
            conditions::listener_invalid(generation, "Listener is not accepted")
        } else if !gateway_accepted {
            conditions::listener_invalid(generation, "The Gateway is not accepted")
        } else if self.supported_kinds.is_empty() {
            conditions::listener_invalid(generation, "Listener supports no route kind")
        } else if !self.programmable() {
            conditions::listener_invalid(generation, "Listener has unresolved certificate references")
        } else {
            conditions::listener_programmed_pending(generation)
        };
        ListenerStatus {
            name: self.name.clone(),
            supported_kinds: self.supported_kinds.iter().map(|k| RouteGroupKind { group: GATEWAY_GROUP.into(), kind: k.name().into() }).collect(),
            attached_routes: i32::try_from(self.attached_routes.len()).unwrap_or(i32::MAX),
            conditions: vec![accepted, conflicted, resolved, programmed],
        }
    }
}

/// Evaluate every listener of a Gateway or ListenerSet, conflicts excluded (see
/// [`mark_conflicts`] and [`mark_conflicts_after`]).
pub fn evaluate<'a>(listeners: &'a [GatewayListeners], owner: &Owner<'_>, caps: &Capabilities, index: &Index<'_>) -> Vec<ListenerState<'a>> {
    let mut states: Vec<ListenerState<'a>> = listeners.iter().map(|l| evaluate_one(l, owner, caps, index)).collect();
    reject_beyond_the_api(&mut states);
    states
}

/// Listeners the platform's limits leave out (IR name -> message, from its check): not accepted,
/// `PortUnavailable`. Listeners already refused or conflicted keep their own reason.
pub fn exclude(states: &mut [ListenerState<'_>], excluded: Option<&std::collections::BTreeMap<String, String>>) {
    let Some(excluded) = excluded else { return };
    for state in states.iter_mut().filter(|s| s.rejection.is_none() && s.conflict.is_none()) {
        if let Some(message) = excluded.get(&state.ir_name) {
            state.rejection = Some((reason::PORT_UNAVAILABLE, message.clone()));
        }
    }
}

/// The CRD's own listener rules beyond one listener's fields: at most 64 listeners, and names
/// unique within the Gateway (a repeated name and every listener past the 64th are rejected).
fn reject_beyond_the_api(states: &mut [ListenerState<'_>]) {
    for i in 0..states.len() {
        let repeated = states[..i].iter().any(|earlier| earlier.name == states[i].name);
        let why = if i >= 64 {
            format!("listener {} is beyond the 64 listeners the API allows", i + 1)
        } else if repeated {
            let owner = if states[i].origin == Origin::Gateway { "Gateway" } else { "ListenerSet" };
            format!("listener name {} is used by an earlier listener of this {owner}", crate::validate::quoted(&states[i].name))
        } else {
            continue;
        };
        states[i].rejection = Some((reason::UNSUPPORTED_VALUE, why));
    }
}

fn evaluate_one<'a>(listener: &'a GatewayListeners, owner: &Owner<'_>, caps: &Capabilities, index: &Index<'_>) -> ListenerState<'a> {
    let mut state = ListenerState {
        name: listener.name.clone(),
        ir_name: format!("{}{}", owner.ir_prefix, listener.name),
        origin: owner.origin,
        namespace: owner.namespace.to_string(),
        port: u16::try_from(listener.port).unwrap_or(0),
        protocol: None,
        hostname: listener.hostname.clone().filter(|h| !h.is_empty()),
        terminates_tls: false,
        certificates: Vec::new(),
        supported_kinds: Vec::new(),
        namespaces: namespace_policy(listener),
        conflict: None,
        rejection: None,
        ref_problems: Vec::new(),
        client_validation: None,
        ca_problems: Vec::new(),
        attached_routes: Default::default(),
        claimed_hosts: Default::default(),
        forwards_to: None,
    };
    let protocol = match ListenerProtocol::from_name(&listener.protocol) {
        Some(p) if caps.supports_protocol(p) => p,
        _ => {
            let message = format!("protocol {} is not supported by {}", listener.protocol, caps.platform_name());
            state.rejection = Some((reason::UNSUPPORTED_PROTOCOL, message));
            return state;
        }
    };
    state.protocol = Some(protocol);
    if let Err(message) = check_port_and_hostname(listener, protocol) {
        state.rejection = Some((reason::UNSUPPORTED_VALUE, message));
        return state;
    }
    if let Err((reason, message)) = check_tls_mode(listener, protocol, caps, &mut state) {
        state.rejection = Some((reason, message));
        return state;
    }
    if let Some(options) = listener.tls.as_ref().and_then(|t| t.options.as_ref()).filter(|o| !o.is_empty()) {
        let keys = options.keys().map(|k| crate::validate::quoted(k)).collect::<Vec<_>>().join(", ");
        let message = format!(
            "tls.options: {keys} not supported by {}: Portico defines no TLS option keys, and a TLS setting left out could weaken the listener",
            caps.platform_name()
        );
        state.rejection = Some((reason::UNSUPPORTED_VALUE, message));
        return state;
    }
    if state.terminates_tls {
        check_certificates(listener, owner, index, &mut state);
    }
    resolve_kinds(listener, protocol, caps, &mut state);
    state
}

/// The CRD's own rules for a listener's port (1..65535) and hostname (a valid `Hostname`, and
/// none on TCP and UDP listeners).
fn check_port_and_hostname(listener: &GatewayListeners, protocol: ListenerProtocol) -> Result<(), String> {
    if !(1..=65535).contains(&listener.port) {
        return Err(format!("port {} is out of range 1..65535", listener.port));
    }
    let Some(hostname) = listener.hostname.as_deref().filter(|h| !h.is_empty()) else { return Ok(()) };
    if matches!(protocol, ListenerProtocol::Tcp | ListenerProtocol::Udp) {
        return Err(format!("hostname must not be set on a {protocol} listener"));
    }
    if !crate::hostnames::is_valid(hostname) {
        return Err(format!(
            "hostname {} is not a valid hostname (lower-case RFC 1123 labels, an optional leading `*.`, at most 253 characters)",
            crate::validate::quoted(hostname)
        ));
    }
    Ok(())
}

/// A TLS mode the platform lacks is an unsupported value (the spec's `UnsupportedValue`: such a
/// listener supports no route kinds); Passthrough on HTTPS is not a valid protocol combination.
fn check_tls_mode(
    listener: &GatewayListeners,
    protocol: ListenerProtocol,
    caps: &Capabilities,
    state: &mut ListenerState<'_>,
) -> Result<(), (&'static str, String)> {
    let passthrough = listener.tls.as_ref().and_then(|t| t.mode.as_ref()) == Some(&GatewayListenersTlsMode::Passthrough);
    let unsupported = |mode: &str| (reason::UNSUPPORTED_VALUE, format!("TLS mode {mode} is not supported by {}", caps.platform_name()));
    match protocol {
        ListenerProtocol::Https if passthrough => Err((reason::UNSUPPORTED_PROTOCOL, "an HTTPS listener must use TLS mode Terminate".into())),
        ListenerProtocol::Https => {
            state.terminates_tls = true;
            Ok(())
        }
        ListenerProtocol::Tls if passthrough && !caps.has(Fact::TlsPassthrough) => Err(unsupported("Passthrough")),
        ListenerProtocol::Tls if !passthrough && !caps.supports(Feature::TlsRouteModeTerminate) => Err(unsupported("Terminate")),
        ListenerProtocol::Tls => {
            state.terminates_tls = !passthrough;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn namespace_policy(listener: &GatewayListeners) -> NamespacePolicy<'_> {
    let namespaces = listener.allowed_routes.as_ref().and_then(|a| a.namespaces.as_ref());
    match namespaces.and_then(|n| n.from.as_ref()) {
        Some(From::All) => NamespacePolicy::All,
        Some(From::Selector) => NamespacePolicy::Selector(crate::index::selector_view!(namespaces.and_then(|n| n.selector.as_ref()))),
        Some(From::Same) | None => NamespacePolicy::Same,
    }
}

fn resolve_kinds(listener: &GatewayListeners, protocol: ListenerProtocol, caps: &Capabilities, state: &mut ListenerState<'_>) {
    let compatible = RouteKind::for_protocol(protocol);
    let requested = listener.allowed_routes.as_ref().and_then(|a| a.kinds.as_ref());
    let Some(requested) = requested else {
        state.supported_kinds = compatible.iter().copied().filter(|k| caps.supports_route_kind(*k)).collect();
        return;
    };
    let mut invalid = Vec::new();
    for kind in requested {
        let group = kind.group.as_deref().unwrap_or(GATEWAY_GROUP);
        let known = RouteKind::from_name(&kind.kind).filter(|_| group == GATEWAY_GROUP);
        match known {
            Some(k) if compatible.contains(&k) && caps.supports_route_kind(k) => {
                if !state.supported_kinds.contains(&k) {
                    state.supported_kinds.push(k);
                }
            }
            _ => invalid.push(format!("{group}/{}", kind.kind)),
        }
    }
    if !invalid.is_empty() {
        let message = format!("route kinds {} are not supported on a {} listener by {}", invalid.join(", "), protocol, caps.provider.controller_name());
        state.ref_problems.push((reason::INVALID_ROUTE_KINDS, message));
    }
}

fn check_certificates(listener: &GatewayListeners, owner: &Owner<'_>, index: &Index<'_>, state: &mut ListenerState<'_>) {
    let owner_namespace = owner.namespace;
    let refs = listener.tls.as_ref().and_then(|t| t.certificate_refs.as_ref()).filter(|r| !r.is_empty());
    let Some(refs) = refs else {
        state.ref_problems.push((reason::INVALID_CERTIFICATE_REF, "tls.certificateRefs is empty: a terminating listener needs a certificate".into()));
        return;
    };
    for (i, cert) in refs.iter().enumerate() {
        let group = cert.group.as_deref().unwrap_or("");
        let kind = cert.kind.as_deref().unwrap_or("Secret");
        let namespace = cert.namespace.as_deref().unwrap_or(owner_namespace);
        let field = format!("tls.certificateRefs[{i}]");
        if !group.is_empty() || kind != "Secret" {
            let group = if group.is_empty() { "core" } else { group };
            let message = format!("{field}: {group}/{kind} is not a supported certificate kind (use a core Secret)");
            state.ref_problems.push((reason::INVALID_CERTIFICATE_REF, message));
            continue;
        }
        if namespace != owner_namespace && !index.grant_allows((GATEWAY_GROUP, owner.kind, owner_namespace), namespace, ("", "Secret", &cert.name)) {
            let message = format!("{field}: Secret {namespace}/{} is in another namespace and no ReferenceGrant there allows it", cert.name);
            state.ref_problems.push((reason::REF_NOT_PERMITTED, message));
            continue;
        }
        match index.secret(namespace, &cert.name) {
            None => {
                let message = format!("{field}: Secret {namespace}/{} not found (Portico reads only Secrets of type kubernetes.io/tls)", cert.name);
                state.ref_problems.push((reason::INVALID_CERTIFICATE_REF, message));
            }
            Some(secret) => match crate::pem::check_tls_secret(secret) {
                Ok(()) => state.certificates.push(ObjectRef::new(namespace, &cert.name)),
                Err(problem) => {
                    let message = format!("{field}: Secret {namespace}/{} is not a valid TLS secret: {problem}", cert.name);
                    state.ref_problems.push((reason::INVALID_CERTIFICATE_REF, message));
                }
            },
        }
    }
}

/// A TLS listener in Terminate mode shares its port with a passthrough TLS listener or an HTTPS
/// listener: that needs `TLSRouteModeMixed` (one port, two ways of handling the handshake).
fn mixed_termination(me: &ListenerState<'_>, others: &[&ListenerState<'_>], caps: &Capabilities) -> Option<String> {
    use ListenerProtocol::{Https, Tls};
    if caps.supports(Feature::TlsRouteModeMixed) {
        return None;
    }
    let mode = |l: &ListenerState<'_>| match l.protocol {
        Some(Tls) if l.terminates_tls => Some("TLS/Terminate"),
        Some(Tls) => Some("TLS/Passthrough"),
        Some(Https) => Some("HTTPS"),
        _ => None,
    };
    let mine = mode(me)?;
    let (other, theirs) =
        others.iter().filter_map(|o| mode(o).map(|m| (o, m))).find(|(_, theirs)| *theirs != mine && (mine == "TLS/Terminate" || *theirs == "TLS/Terminate"))?;
    Some(format!(
        "port {} mixes {mine} (listener {}) with {theirs} (listener {}): {} does not support TLSRouteModeMixed",
        me.port, me.name, other.name, caps.platform
    ))
}

/// One conflict found: the listener `at`, the reason and message, and whether it is a mode
/// combination the platform cannot serve (`mixed`).
struct Found {
    at: usize,
    reason: &'static str,
    message: String,
    mixed: bool,
}

/// Listeners sharing a port must be distinct (Gateway API: port + protocol + hostname) and
/// their protocols compatible. Within one Gateway (or one ListenerSet) indistinct listeners are
/// all marked; none is picked as winner.
pub fn mark_conflicts(states: &mut [ListenerState<'_>], caps: &Capabilities) {
    let found = find_conflicts(&states.iter().collect::<Vec<_>>(), caps, 0);
    apply_conflicts(states, found, 0);
}

/// A ListenerSet's listeners against the listeners already merged into the Gateway (`higher`:
/// the Gateway's own, whatever their state, then older ListenerSets' accepted ones): the Gateway API's
/// precedence makes the earlier listener win, so only the set's listener is marked, and the message
/// does not describe the winner (it may belong to an object the set's owner cannot read). The
/// set's remaining listeners are then checked among themselves, as one Gateway's are.
pub fn mark_conflicts_after(higher: &[&ListenerState<'_>], new: &mut [ListenerState<'_>], caps: &Capabilities) {
    let n = higher.len();
    let mut lost = Vec::new();
    for (i, me) in new.iter().enumerate() {
        let all: Vec<&ListenerState<'_>> = higher.iter().copied().chain([me]).collect();
        if let Some(mut f) = find_conflicts(&all, caps, n).into_iter().find(|f| f.at == n) {
            f.message = precedence_message(me, f.reason);
            f.at = i;
            lost.push(f);
        }
    }
    apply_conflicts(new, lost, 0);
    let remaining: Vec<usize> = (0..new.len()).filter(|&i| new[i].conflict.is_none()).collect();
    let among: Vec<&ListenerState<'_>> = remaining.iter().map(|&i| &new[i]).collect();
    let mut found = find_conflicts(&among, caps, 0);
    for f in &mut found {
        f.at = remaining[f.at];
    }
    apply_conflicts(new, found, 0);
}

fn precedence_message(me: &ListenerState<'_>, why: &str) -> String {
    let higher = "a listener of higher precedence (the parent Gateway's or an older ListenerSet's)";
    if why == reason::HOSTNAME_CONFLICT {
        format!("port {} with hostname {} is already used by {higher}", me.port, me.hostname.as_deref().unwrap_or("(any hostname)"))
    } else {
        format!("port {} is already used by {higher} that {} cannot share it with", me.port, me.protocol.map_or("this protocol", |p| p.name()))
    }
}

fn apply_conflicts(states: &mut [ListenerState<'_>], found: Vec<Found>, offset: usize) {
    for f in found {
        let state = &mut states[f.at - offset];
        state.conflict = Some((f.reason, f.message));
        if f.mixed {
            state.supported_kinds.clear();
        }
    }
}

/// `held`: the first listeners hold their port and hostname even when they are rejected or
/// conflicted themselves (a Gateway's own listeners, against its ListenerSets).
fn find_conflicts(states: &[&ListenerState<'_>], caps: &Capabilities, held: usize) -> Vec<Found> {
    use ListenerProtocol::*;
    let live: Vec<usize> = (0..states.len()).filter(|&i| states[i].protocol.is_some() && (i < held || states[i].rejection.is_none())).collect();
    let mut found = Vec::new();
    for &i in &live {
        let me = states[i];
        let me_protocol = me.protocol.unwrap_or(Tcp);
        let others: Vec<usize> = live.iter().copied().filter(|&j| j != i && states[j].port == me.port).collect();
        let tls_family = |p: ListenerProtocol| p == Https || p == Tls;
        // The same protocol first (two TCP listeners on one port), else the first in order.
        let incompatible = others.iter().copied().filter(|&j| {
            let p = states[j].protocol.unwrap_or(Tcp);
            match (me_protocol, p) {
                (Udp, Udp) | (Tcp, Tcp) => true,
                (Udp, _) | (_, Udp) => false,
                (Tcp, _) | (_, Tcp) => true,
                (Http, Http) => false,
                (Http, _) | (_, Http) => true,
                (a, b) if tls_family(a) && tls_family(b) && a != b => !caps.has(Fact::HttpsAndTlsShareAPort),
                _ => false,
            }
        });
        if let Some(j) = incompatible.min_by_key(|&j| states[j].protocol != Some(me_protocol)) {
            let theirs = states[j].protocol.unwrap_or(Tcp);
            let message = if theirs == me_protocol {
                format!("port {} is used by more than one {} listener", me.port, me_protocol)
            } else {
                format!("port {} is also used by a {} listener; {} cannot share it", me.port, theirs.name(), me_protocol)
            };
            found.push(Found { at: i, reason: reason::PROTOCOL_CONFLICT, message, mixed: false });
            continue;
        }
        let other_refs: Vec<&ListenerState<'_>> = others.iter().map(|&j| states[j]).collect();
        if let Some(message) = mixed_termination(me, &other_refs, caps) {
            found.push(Found { at: i, reason: reason::PROTOCOL_CONFLICT, message, mixed: true });
            continue;
        }
        let clash = others.iter().copied().find(|&j| {
            let o = states[j];
            o.protocol.is_some_and(|p| p == me_protocol || (tls_family(p) && tls_family(me_protocol)))
                && o.hostname.as_deref().map(str::to_ascii_lowercase) == me.hostname.as_deref().map(str::to_ascii_lowercase)
        });
        if let Some(j) = clash {
            let host = me.hostname.as_deref().unwrap_or("(any hostname)");
            let message = format!("listener {} also uses port {} with hostname {host}", states[j].name, me.port);
            found.push(Found { at: i, reason: reason::HOSTNAME_CONFLICT, message, mixed: false });
        }
    }
    found
}
