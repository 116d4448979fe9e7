//! Renders the IR of the Gateways served by one HAProxy into a complete `haproxy.cfg` (HAProxy
//! 2.6 syntax) plus the certificate and crt-list files it references.
//!
//! Layout of the generated config:
//! - `global` / `defaults`, then per Gateway (in the order given) one frontend per port, the
//!   backends of its HTTP routes (one per IR backend) and one combined TCP backend per L4/SNI route.
//! - HTTP ports select exactly one virtual host (`txn.vh`), then exactly one rule (`txn.rule`),
//!   each "first match wins" with no fall-through; every action is guarded by the chosen rule.
//!   See [`http`] for details.
//! - TLS ports route by SNI, TCP ports forward to their first L4 route; see [`tcp`].
//! - Client certificate validation is a property of the HTTPS bind (`ca-file`, `verify`), so it
//!   covers every handshake on the port, TLS listeners terminating there included.
//!
//! Not handled (each is left out with a comment in the config where it would apply):
//! - TLS routes on an HTTPS port (HTTPS and TLS listeners sharing a port);
//! - passthrough and terminate TLS listeners mixed on one TLS port (only passthrough is served);
//! - request mirroring; UDP ports (HAProxy cannot proxy UDP);
//! - the whole-request timeout is approximated by HAProxy's server timeout.

mod actions;
mod backend;
mod cors;
pub mod dispatch;
mod grouped;
mod http;
mod names;
mod tcp;
mod text;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use portico_model::ir::{Gateway, ObjectRef, Port, PortProtocol};

pub use names::backend_name;
use text::{Output, arg};

/// The rule number of each route entry of an HTTP(S) port, in the IR's order (virtual host by
/// virtual host): what `txn.rule` holds and the maps carry.
pub fn rule_numbers(port: &Port) -> Vec<usize> {
    http::numbered_rules(port).iter().map(|r| r.number).collect()
}

/// How the HAProxy instance runs; filled from the HAProxyParameters object by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSettings {
    /// Directory where certificate files are written (referenced from the config).
    pub cert_dir: PathBuf,
    /// Added to every listener port when binding (e.g. 8000 for unprivileged runs: 80 -> 8080). 0 = none.
    pub port_offset: u16,
    pub timeout_connect_ms: u64,
    pub timeout_client_ms: u64,
    pub timeout_server_ms: u64,
    /// Path of the stats/runtime API socket (`stats socket ... level admin`).
    pub runtime_socket: PathBuf,
}

/// One Gateway to render, with the address it was given from the pool.
pub struct GatewayInput<'a> {
    pub ir: &'a Gateway,
    pub address: IpAddr,
}

/// The result: the config text and the certificate files (name relative to cert_dir -> PEM bytes,
/// cert+key concatenated). crt-list files are included too (`<frontend>.crtlist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub config: String,
    pub cert_files: BTreeMap<String, Vec<u8>>,
    /// Gateways left out of `config` whole, with the reason: something in their IR cannot be
    /// written into HAProxy's configuration unchanged (the renderer refuses rather than alter
    /// it). Translation refuses such values first, so this stays empty for translated IR.
    pub refused: BTreeMap<ObjectRef, String>,
}

/// Everything the per-Gateway renderers need.
pub(crate) struct Ctx<'a> {
    pub(crate) gw: &'a Gateway,
    pub(crate) address: IpAddr,
    pub(crate) settings: &'a RenderSettings,
    pub(crate) certificates: &'a BTreeMap<ObjectRef, Vec<u8>>,
}

/// Renders the config for `gateways` (in the order given). `certificates`: PEM (certificate chain
/// followed by private key) per Secret referenced by the IR. The output is deterministic.
pub fn render(gateways: &[GatewayInput<'_>], certificates: &BTreeMap<ObjectRef, Vec<u8>>, settings: &RenderSettings) -> Rendered {
    let parts: Vec<GatewayText> = gateways.iter().map(|input| gateway_text(&Ctx { gw: input.ir, address: input.address, settings, certificates })).collect();
    assemble(settings, gateways.iter().map(|g| &g.ir.gateway).zip(&parts))
}

/// One Gateway's part of the configuration: its text (from its top comment on), its files, or
/// why it was left out.
#[derive(Debug, Clone)]
struct GatewayText {
    text: String,
    files: BTreeMap<String, Vec<u8>>,
    refused: Option<String>,
}

/// What the previous content always ends with (a line), so a Gateway rendered on its own is
/// exactly the text it would add after it.
const BEFORE: &str = "#\n";

fn gateway_text(ctx: &Ctx<'_>) -> GatewayText {
    let mut out = Output { config: BEFORE.to_string(), files: BTreeMap::new() };
    gateway(ctx, &mut out);
    let text = out.config.split_off(BEFORE.len());
    let Some(why) = text::refusal(&text).map(str::to_string) else { return GatewayText { text, files: out.files, refused: None } };
    let mut out = Output { config: BEFORE.to_string(), files: BTreeMap::new() };
    out.top_comment(&format!("Gateway {} not rendered: {why}", ctx.gw.gateway));
    GatewayText { text: out.config.split_off(BEFORE.len()), files: BTreeMap::new(), refused: Some(why) }
}

/// `global` and `defaults`, then each Gateway's part in order.
fn assemble<'a>(settings: &RenderSettings, parts: impl Iterator<Item = (&'a ObjectRef, &'a GatewayText)>) -> Rendered {
    let mut out = Output::default();
    global(&mut out, settings);
    let mut refused = BTreeMap::new();
    for (key, part) in parts {
        out.config.push_str(&part.text);
        out.files.extend(part.files.iter().map(|(name, bytes)| (name.clone(), bytes.clone())));
        if let Some(why) = &part.refused {
            refused.insert(key.clone(), why.clone());
        }
    }
    Rendered { config: out.config, cert_files: out.files, refused }
}

/// Each Gateway's last rendering, reused while its IR, address, the settings and the
/// certificates stay the same: an edit of one Gateway re-renders that Gateway only.
#[derive(Debug, Default)]
pub struct RenderCache {
    world: Option<(RenderSettings, BTreeMap<ObjectRef, Vec<u8>>)>,
    gateways: HashMap<ObjectRef, (Arc<Gateway>, IpAddr, GatewayText)>,
    /// Gateways the last call rendered afresh (the others were reused).
    pub rendered: usize,
}

/// [`render`], reusing the renderings in `cache` of Gateways whose input did not change; the
/// result is always exactly what [`render`] returns.
pub fn render_cached(
    cache: &mut RenderCache,
    gateways: &[(&Arc<Gateway>, IpAddr)],
    certificates: &BTreeMap<ObjectRef, Vec<u8>>,
    settings: &RenderSettings,
) -> Rendered {
    if cache.world.as_ref().is_none_or(|(s, c)| s != settings || c != certificates) {
        cache.gateways.clear();
        cache.world = Some((settings.clone(), certificates.clone()));
    }
    cache.rendered = 0;
    let mut kept = HashMap::new();
    for (ir, address) in gateways {
        let same = |(old, at, _): &(Arc<Gateway>, IpAddr, GatewayText)| at == address && (Arc::ptr_eq(old, ir) || **old == ***ir);
        let part = match cache.gateways.remove(&ir.gateway).filter(same) {
            Some((_, _, part)) => part,
            None => {
                cache.rendered += 1;
                gateway_text(&Ctx { gw: ir, address: *address, settings, certificates })
            }
        };
        kept.insert(ir.gateway.clone(), (Arc::clone(ir), *address, part));
    }
    // Gateways are distinct (each is one key of the instance's parts).
    let rendered = assemble(settings, gateways.iter().filter_map(|(ir, _)| kept.get_key_value(&ir.gateway).map(|(key, (_, _, part))| (key, part))));
    cache.gateways = kept;
    rendered
}

/// The `global` and `defaults` sections.
fn global(out: &mut Output, settings: &RenderSettings) {
    out.top_comment("Generated by Portico (portico-haproxy). Do not edit: it is rewritten on every change.");
    out.section("global");
    out.line("master-worker");
    let socket = arg(&settings.runtime_socket.to_string_lossy());
    out.line(&format!("stats socket {socket} mode 600 level admin expose-fd listeners"));
    out.section("defaults");
    out.line("mode http");
    out.line("option dontlognull");
    out.line(&format!("timeout connect {}ms", settings.timeout_connect_ms));
    out.line(&format!("timeout client {}ms", settings.timeout_client_ms));
    out.line(&format!("timeout server {}ms", settings.timeout_server_ms));
    out.line(&format!("timeout http-request {}ms", settings.timeout_client_ms));
    out.line(&format!("timeout tunnel {}ms", settings.timeout_server_ms.max(settings.timeout_client_ms)));
}

/// All frontends and backends of one Gateway.
fn gateway(ctx: &Ctx<'_>, out: &mut Output) {
    out.top_comment(&format!("Gateway {} (address {})", ctx.gw.gateway, ctx.address));
    for port in &ctx.gw.ports {
        let Some(bind) = bind_address(ctx, port.port) else {
            out.top_comment(&format!("port {}: port + offset exceeds 65535, not served", port.port));
            continue;
        };
        match port.protocol {
            PortProtocol::Http => http::frontend(ctx, out, port, &bind, None),
            PortProtocol::Https => https_frontend(ctx, out, port, &bind),
            PortProtocol::Tls => tcp::tls_frontend(ctx, out, port, &bind),
            PortProtocol::Tcp => tcp::tcp_frontend(ctx, out, port, &bind),
            PortProtocol::Udp => out.top_comment(&format!("port {}/UDP: HAProxy cannot proxy UDP, not served", port.port)),
        }
    }
    backend::http_backends(ctx, out);
}

/// An HTTPS port: writes the crt-list, then renders the HTTP frontend with TLS. When TLS
/// passthrough listeners share the port, an SNI router takes the public bind: passthrough names go
/// to their backends, everything else to the HTTPS frontend on an internal socket (PROXY protocol
/// keeps the client address).
fn https_frontend(ctx: &Ctx<'_>, out: &mut Output, port: &Port, bind: &str) {
    // The bind's TLS options: the crt-list, then client verification if the port asks for it.
    let Some(mut crt_list) = backend::crt_list(ctx, out, port) else {
        return out.top_comment(&format!("port {}/HTTPS: no usable certificate, not served", port.port));
    };
    if let Some(validation) = &port.client_validation {
        crt_list.push_str(&backend::client_verification(ctx, out, port, validation));
    }
    if port.tls_routes.iter().all(|r| r.terminate) {
        return http::frontend(ctx, out, port, bind, Some(&crt_list));
    }
    let https = format!("{}_https", names::frontend_name(&ctx.gw.gateway, port.port));
    let internal = format!("abns@{https}");
    tcp::sni_router(ctx, out, port, bind, &internal);
    http::frontend_named(ctx, out, port, &https, &format!("{internal} accept-proxy"), Some(&crt_list));
}

/// `<address>:<port + offset>` (IPv6 in brackets), or `None` when the port would overflow.
fn bind_address(ctx: &Ctx<'_>, port: u16) -> Option<String> {
    let port = port.checked_add(ctx.settings.port_offset)?;
    Some(match ctx.address {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    })
}
