//! TLS (SNI-routed) and TCP frontends, in `mode tcp`.
//!
//! Each SNI or L4 route gets one combined backend whose servers carry the route's weights
//! (backend weight spread over its endpoints, scaled to HAProxy's 1..=256). The share of
//! `Invalid` targets is rejected with one `rand()` draw, since TCP has no 500.

use portico_model::ir::{BackendTarget, Port, WeightedBackend};

use super::Ctx;
use super::backend::{crt_list, servers};
use super::http::host_conds;
use super::names::{frontend_name, l4_backend_name};
use super::text::Output;

/// A TLS port: passthrough routes by `req_ssl_sni` after waiting for the ClientHello, terminate
/// routes by `ssl_fc_sni` on an `ssl` bind. First match wins in list order (via `sess.rule`).
pub(crate) fn tls_frontend(ctx: &Ctx<'_>, out: &mut Output, port: &Port, bind: &str) {
    let passthrough = port.tls_routes.iter().any(|r| !r.terminate);
    let routes: Vec<_> = port.tls_routes.iter().filter(|r| r.terminate != passthrough).collect();
    let name = frontend_name(&ctx.gw.gateway, port.port);
    let bind_line = if passthrough {
        format!("bind {bind}")
    } else {
        match crt_list(ctx, out, port) {
            Some(list) => format!("bind {bind} ssl crt-list {list}"),
            None => return out.top_comment(&format!("port {}/TLS: no usable certificate, not served", port.port)),
        }
    };
    out.section(&format!("frontend {name}"));
    out.comment(&format!("listeners: {}", port.listeners.join(", ")));
    out.line("mode tcp");
    out.line(&bind_line);
    if routes.len() < port.tls_routes.len() {
        out.comment("terminating TLS routes mixed with passthrough on one port are not supported: skipped");
    }
    let (fetch, hello) = if passthrough {
        out.line("tcp-request inspect-delay 5s");
        ("req_ssl_sni", "{ req_ssl_hello_type 1 } ")
    } else {
        ("ssl_fc_sni", "")
    };
    for (index, route) in routes.iter().enumerate() {
        let Some(sni) = host_conds(fetch, &route.hostname.to_ascii_lowercase()) else {
            out.comment(&format!("route {index}: invalid hostname, never matches"));
            continue;
        };
        out.comment(&format!("route {index}: {} {}/{} for {}", route.source.kind, route.source.namespace, route.source.name, route.hostname));
        let conds = format!("{hello}!{{ var(sess.rule) -m found }} {}", sni.join(" "));
        out.line(&format!("tcp-request content set-var(sess.rule) int({index}) if {}", conds.trim_end()));
    }
    let mut targets = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let guard = format!("{{ var(sess.rule) -m int {index} }}");
        if reject_invalid_share(ctx, out, &route.backends, &guard) {
            targets.push((l4_backend_name(&ctx.gw.gateway, port.port, index), guard, &route.backends));
        }
    }
    if passthrough {
        out.line("tcp-request content accept if { req_ssl_hello_type 1 }");
    }
    for (backend, guard, _) in &targets {
        out.line(&format!("use_backend {backend} if {guard}"));
    }
    for (backend, _, weighted) in targets {
        combined_backend(ctx, out, &backend, weighted);
    }
}

/// The public side of an HTTPS port shared with TLS passthrough listeners: passthrough SNI
/// routes go to their backends; every other connection to the HTTPS frontend at `internal`.
pub(crate) fn sni_router(ctx: &Ctx<'_>, out: &mut Output, port: &Port, bind: &str, internal: &str) {
    let name = frontend_name(&ctx.gw.gateway, port.port);
    let routes: Vec<_> = port.tls_routes.iter().filter(|r| !r.terminate).collect();
    out.section(&format!("frontend {name}"));
    out.comment(&format!("listeners: {} (SNI router: TLS passthrough, else HTTPS)", port.listeners.join(", ")));
    out.line("mode tcp");
    out.line(&format!("bind {bind}"));
    out.line("tcp-request inspect-delay 5s");
    let mut targets = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let Some(sni) = host_conds("req_ssl_sni", &route.hostname.to_ascii_lowercase()) else { continue };
        out.comment(&format!("route {index}: {} {}/{} for {}", route.source.kind, route.source.namespace, route.source.name, route.hostname));
        out.line(&format!(
            "tcp-request content set-var(sess.rule) int({index}) if {{ req_ssl_hello_type 1 }} !{{ var(sess.rule) -m found }} {}",
            sni.join(" ")
        ));
        let guard = format!("{{ var(sess.rule) -m int {index} }}");
        if reject_invalid_share(ctx, out, &route.backends, &guard) {
            targets.push((l4_backend_name(&ctx.gw.gateway, port.port, index), guard, &route.backends));
        }
    }
    out.line("tcp-request content accept if { req_ssl_hello_type 1 }");
    for (backend, guard, _) in &targets {
        out.line(&format!("use_backend {backend} if {guard}"));
    }
    let loopback = format!("{name}_to_https");
    out.line(&format!("default_backend {loopback}"));
    out.section(&format!("backend {loopback}"));
    out.line("mode tcp");
    out.line(&format!("server https {internal} send-proxy-v2"));
    for (backend, _, weighted) in targets {
        combined_backend(ctx, out, &backend, weighted);
    }
}

/// A TCP port: forwards to the first L4 route (the only one served).
pub(crate) fn tcp_frontend(ctx: &Ctx<'_>, out: &mut Output, port: &Port, bind: &str) {
    out.section(&format!("frontend {}", frontend_name(&ctx.gw.gateway, port.port)));
    out.comment(&format!("listeners: {}", port.listeners.join(", ")));
    out.line("mode tcp");
    out.line(&format!("bind {bind}"));
    let Some(route) = port.l4_routes.first() else {
        out.comment("no route: connections are closed");
        return;
    };
    out.comment(&format!("route: {} {}/{}", route.source.kind, route.source.namespace, route.source.name));
    if port.l4_routes.len() > 1 {
        out.comment("further routes on this port are not served (only the first one is)");
    }
    let backend = l4_backend_name(&ctx.gw.gateway, port.port, 0);
    if reject_invalid_share(ctx, out, &route.backends, "") {
        out.line(&format!("default_backend {backend}"));
        combined_backend(ctx, out, &backend, &route.backends);
    }
}

/// True when `target` names a backend of this Gateway.
fn is_valid(ctx: &Ctx<'_>, target: &BackendTarget) -> bool {
    matches!(target, BackendTarget::Backend { id } if ctx.gw.backends.contains_key(id))
}

/// Rejects the share of connections that belongs to invalid targets (under `guard`). Returns
/// false when nothing is left to forward to (everything rejected).
fn reject_invalid_share(ctx: &Ctx<'_>, out: &mut Output, backends: &[WeightedBackend], guard: &str) -> bool {
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    let invalid: u64 = backends.iter().filter(|b| !is_valid(ctx, &b.target)).map(|b| u64::from(b.weight)).sum();
    let guard = if guard.is_empty() { String::new() } else { format!(" if {guard}") };
    if total == 0 || invalid == total {
        out.comment("no valid weighted backend: connections are rejected");
        out.line(&format!("tcp-request content reject{guard}"));
        return false;
    }
    if invalid > 0 {
        let scale = total / (1 << 30) + 1;
        let joiner = if guard.is_empty() { " if" } else { "" };
        out.comment("invalid backends: their share of connections is rejected");
        out.line(&format!("tcp-request content reject{guard}{joiner} {{ rand({}) -m int lt {} }}", total / scale, invalid / scale));
    }
    true
}

/// One `mode tcp` backend holding the servers of all valid weighted backends of a route.
fn combined_backend(ctx: &Ctx<'_>, out: &mut Output, name: &str, weighted: &[WeightedBackend]) {
    out.section(&format!("backend {name}"));
    out.line("mode tcp");
    out.line("balance roundrobin");
    let groups: Vec<_> = weighted
        .iter()
        .enumerate()
        .filter_map(|(index, w)| match &w.target {
            BackendTarget::Backend { id } if w.weight > 0 => ctx.gw.backends.get(id).map(|b| (index, id, w.weight, servers(b))),
            _ => None,
        })
        .collect();
    let shares: Vec<f64> = groups.iter().map(|(_, _, weight, s)| f64::from(*weight) / s.len().max(1) as f64).collect();
    let max_share = shares.iter().copied().fold(0.0_f64, f64::max);
    for ((index, id, _, servers), share) in groups.iter().zip(shares) {
        out.comment(&format!("backend {index}: {id}"));
        let weight = ((256.0 * share / max_share).round() as u32).clamp(1, 256);
        for (number, server) in servers.iter().enumerate() {
            match server {
                Some(address) => out.line(&format!("server b{index}s{number} {address} weight {weight}")),
                None => out.comment(&format!("endpoint {number}: unusable address, skipped")),
            }
        }
    }
}
