//! HTTP backends (one per IR backend used by HTTP routes), server lines shared with the TCP
//! renderer, and certificate / crt-list files for terminating ports.

use std::collections::BTreeSet;
use std::net::IpAddr;

use portico_model::ir::{
    Backend, BackendProtocol, BackendTarget, ClientValidation, ClientValidationMode, HttpAction, HttpRouteEntry, Port, PortProtocol, SessionPersistence,
};

use super::Ctx;
use super::names::{Policy, backend_name, cert_file_name, frontend_name, policy_backend_name};
use super::text::{Output, arg, is_host_name};

/// One backend per IR backend that HTTP routes can reach: HTTP and H2C backends, plus TCP ones
/// that an HTTP route references. UDP backends never appear. No endpoints -> no servers (503).
/// Then one copy per (backend, policies) that rules with `retry` or session persistence forward to.
pub(crate) fn http_backends(ctx: &Ctx<'_>, out: &mut Output) {
    let referenced = http_referenced(ctx);
    for (id, backend) in &ctx.gw.backends {
        let wanted = match backend.protocol {
            BackendProtocol::Http | BackendProtocol::H2c => true,
            BackendProtocol::Tcp => referenced.contains(id.as_str()),
            BackendProtocol::Udp => false,
        };
        if wanted {
            http_backend(ctx, out, &backend_name(&ctx.gw.gateway, id), backend, None);
        }
    }
    for (id, policy) in with_policies(ctx) {
        if let Some(backend) = ctx.gw.backends.get(id) {
            http_backend(ctx, out, &policy_backend_name(&ctx.gw.gateway, id, &policy), backend, Some(&policy));
        }
    }
}

/// HAProxy's default number of retries, used when `retry.attempts` is not set.
const DEFAULT_RETRIES: u32 = 3;

/// One HTTP backend section, with a rule's policies: with `retry`, failed attempts (connection
/// failures, an empty or timed-out response, the listed status codes) are retried, on another
/// server when there is one; with session persistence, a cookie names the server that answered.
fn http_backend(ctx: &Ctx<'_>, out: &mut Output, name: &str, backend: &Backend, policy: Option<&Policy<'_>>) {
    out.section(&format!("backend {name}"));
    out.comment(&format!("service {}:{} ({:?})", backend.service, backend.port, backend.protocol));
    out.line("mode http");
    out.line("balance roundrobin");
    out.line("http-request set-timeout server var(txn.tmo) if { var(txn.tmo) -m found }");
    let session = policy.and_then(|p| p.session);
    if let Some(session) = session {
        out.line(&session_cookie(session));
    }
    if let Some(retry) = policy.and_then(|p| p.retry) {
        let codes: String = retry.codes.iter().map(|c| format!(" {c}")).collect();
        out.line(&format!("retries {}", retry.attempts.unwrap_or(DEFAULT_RETRIES)));
        out.line(&format!("retry-on conn-failure empty-response response-timeout{codes}"));
        out.line("option redispatch 1");
    }
    let tls = origination(ctx, out, backend);
    // HTTP/2 over TLS is negotiated with ALPN (servers such as grpc-go insist on it).
    let proto = match backend.protocol {
        BackendProtocol::H2c if !tls.is_empty() => format!("{tls} alpn h2 proto h2"),
        BackendProtocol::H2c => format!("{tls} proto h2"),
        _ => tls,
    };
    // With session persistence each server's cookie value is its slot name.
    let cookie = |index: usize| if session.is_some() { format!(" cookie s{index}") } else { String::new() };
    let servers = servers(backend);
    for (index, server) in servers.iter().enumerate() {
        match server {
            Some(address) => out.line(&format!("server s{index} {address}{proto}{}", cookie(index))),
            None => out.comment(&format!("endpoint {index}: unusable address, skipped")),
        }
    }
    // Spare slots: endpoint changes within the capacity go through the runtime API
    // (`set server ... addr/state`) without a reload.
    if backend.external_name.is_none() {
        for index in servers.len()..slot_capacity(servers.len()) {
            out.line(&format!("server s{index} 127.0.0.1:1 disabled{proto}{}", cookie(index)));
        }
    }
}

/// The `cookie` line of session persistence: inserted by HAProxy (never forwarded to the
/// backend, never cached), `maxlife`/`maxidle` for the absolute and idle timeouts (HAProxy checks
/// them from dates it keeps in the cookie), `Max-Age` for a permanent cookie.
fn session_cookie(session: &SessionPersistence) -> String {
    let seconds = |ms: u64| ms.div_ceil(1000).max(1);
    let mut line = format!("cookie {} insert indirect nocache httponly", arg(&session.cookie_name));
    if let Some(ms) = session.idle_timeout_ms {
        line.push_str(&format!(" maxidle {}s", seconds(ms)));
    }
    if let Some(ms) = session.absolute_timeout_ms {
        line.push_str(&format!(" maxlife {}s", seconds(ms)));
        if session.permanent {
            line.push_str(&format!(" attr Max-Age={}", seconds(ms)));
        }
    }
    line
}

/// (backend id, policies) pairs that HTTP rules with policies forward to, deduplicated.
fn with_policies<'a>(ctx: &Ctx<'a>) -> BTreeSet<(&'a str, Policy<'a>)> {
    http_forwards(ctx).filter_map(|(entry, id)| Policy::of(entry).map(|policy| (id, policy))).collect()
}

/// Server slots per backend: the endpoints rounded up to a power of two, at least 4.
pub(crate) fn slot_capacity(endpoints: usize) -> usize {
    endpoints.max(4).next_power_of_two()
}

/// Backend ids referenced by `Forward` actions on HTTP/HTTPS ports.
fn http_referenced<'a>(ctx: &Ctx<'a>) -> BTreeSet<&'a str> {
    http_forwards(ctx).map(|(_, id)| id).collect()
}

/// Every (route entry, backend id) a `Forward` action on an HTTP/HTTPS port sends traffic to.
fn http_forwards<'a>(ctx: &Ctx<'a>) -> impl Iterator<Item = (&'a HttpRouteEntry, &'a str)> {
    let http_ports = ctx.gw.ports.iter().filter(|p| matches!(p.protocol, PortProtocol::Http | PortProtocol::Https));
    http_ports.flat_map(|p| &p.virtual_hosts).flat_map(|v| &v.routes).flat_map(|entry| {
        let backends = match &*entry.action {
            HttpAction::Forward { backends } => backends.as_slice(),
            _ => &[],
        };
        backends.iter().filter_map(move |weighted| match &weighted.target {
            BackendTarget::Backend { id } => Some((entry, id.as_str())),
            BackendTarget::Invalid { .. } => None,
        })
    })
}

/// The server options of TLS origination when a BackendTLSPolicy covers the backend (empty
/// otherwise): `ssl verify required` against the policy's CA bundles (written beside the
/// configuration as `<backend>.ca.pem`) or the system's trust store, the policy's hostname as SNI
/// and as the name the certificate must carry (`verifyhost`), and the Gateway's client
/// certificate (`crt`) when it has one. Subject alternative names are never
/// here: translation keeps such backends away from HAProxy, which checks one name only.
pub(crate) fn origination(ctx: &Ctx<'_>, out: &mut Output, backend: &Backend) -> String {
    let Some(tls) = &backend.tls else { return String::new() };
    let ca = if tls.ca_certificates.is_empty() {
        "@system-ca".to_string()
    } else {
        let mut bundle = String::new();
        for ca in &tls.ca_certificates {
            bundle.push_str(ca.pem.trim_end());
            bundle.push('\n');
        }
        let id = Backend::id_for(&backend.service, backend.port, backend.protocol);
        let name = format!("{}.ca.pem", backend_name(&ctx.gw.gateway, &id));
        out.files.insert(name.clone(), bundle.into_bytes());
        arg(&ctx.settings.cert_dir.join(name).to_string_lossy())
    };
    let host = &tls.hostname;
    let mut options = format!(" ssl verify required ca-file {ca} sni str({host}) verifyhost {host}");
    // The Gateway's client certificate (`spec.tls.backend`), for backends that ask for one.
    if let Some((secret, pem)) = ctx.gw.backend_client_certificate.as_ref().and_then(|s| ctx.certificates.get(s).map(|pem| (s, pem))) {
        let file = cert_file_name(secret);
        out.files.insert(file.clone(), pem.clone());
        options.push_str(&format!(" crt {}", arg(&ctx.settings.cert_dir.join(file).to_string_lossy())));
    }
    options
}

/// `address:port` (plus options) per server of a backend: its endpoints, or the ExternalName
/// resolved at start-up when there are none. `None` for an address that is not an IP.
pub(crate) fn servers(backend: &Backend) -> Vec<Option<String>> {
    if backend.endpoints.is_empty() {
        return match &backend.external_name {
            Some(host) if is_host_name(host) && !host.starts_with('*') => {
                vec![Some(format!("{host}:{} init-addr libc,none", backend.port))]
            }
            Some(_) => vec![None],
            None => Vec::new(),
        };
    }
    backend.endpoints.iter().map(|e| socket_address(&e.address, e.port)).collect()
}

/// `a.b.c.d:port` or `[v6]:port`; `None` if `address` is not an IP address.
fn socket_address(address: &str, port: u16) -> Option<String> {
    match address.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(format!("{v4}:{port}")),
        IpAddr::V6(v6) => Some(format!("[{v6}]:{port}")),
    }
}

/// Writes the certificates of a terminating port and its crt-list (`<frontend>.crtlist`), and
/// returns the crt-list's path, or `None` when no certificate is available. The listener with
/// hostname `*` comes first, so its certificate is the default; the others carry an SNI filter.
pub(crate) fn crt_list(ctx: &Ctx<'_>, out: &mut Output, port: &Port) -> Option<String> {
    let dir = &ctx.settings.cert_dir;
    let (default, named): (Vec<_>, Vec<_>) = port.certificates.iter().partition(|b| b.hostname == "*");
    let mut lines = String::new();
    for binding in default.into_iter().chain(named) {
        let filter = if binding.hostname == "*" { String::new() } else { binding.hostname.to_ascii_lowercase() };
        if !filter.is_empty() && !is_host_name(&filter) {
            continue;
        }
        for secret in &binding.secrets {
            let Some(pem) = ctx.certificates.get(secret) else { continue };
            let file = cert_file_name(secret);
            out.files.insert(file.clone(), pem.clone());
            let path = dir.join(&file).to_string_lossy().into_owned();
            lines.push_str(format!("{path} {filter}").trim_end());
            lines.push('\n');
        }
    }
    if lines.is_empty() {
        return None;
    }
    let name = format!("{}.crtlist", frontend_name(&ctx.gw.gateway, port.port));
    out.files.insert(name.clone(), lines.into_bytes());
    Some(arg(&dir.join(name).to_string_lossy()))
}

/// Writes the port's trust anchors (`<frontend>.ca.pem`, the bundles concatenated in order) and
/// returns the bind options that verify clients against them: `verify required`, or for
/// `AllowInsecureFallback` `verify optional` with every verification error ignored (a client
/// without a certificate, or with one that fails, still gets through, as the mode asks).
pub(crate) fn client_verification(ctx: &Ctx<'_>, out: &mut Output, port: &Port, validation: &ClientValidation) -> String {
    let mut bundle = String::new();
    for ca in &validation.ca_certificates {
        bundle.push_str(ca.pem.trim_end());
        bundle.push('\n');
    }
    let name = format!("{}.ca.pem", frontend_name(&ctx.gw.gateway, port.port));
    out.files.insert(name.clone(), bundle.into_bytes());
    let path = arg(&ctx.settings.cert_dir.join(name).to_string_lossy());
    match validation.mode {
        ClientValidationMode::AllowValidOnly => format!(" ca-file {path} verify required"),
        ClientValidationMode::AllowInsecureFallback => format!(" ca-file {path} verify optional ca-ignore-err all crt-ignore-err all"),
    }
}
