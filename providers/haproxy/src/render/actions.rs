//! The actions of a selected HTTP rule: filters, timeouts, then exactly one of forward (weighted,
//! with `Invalid` shares answered 500), redirect or fixed response. Every line is guarded by the
//! rule's condition, plus the backend's share of `txn.pick` for per-backend filters.

use portico_model::ir::{BackendTarget, HeaderModifier, HttpAction, HttpFilter, PathMatch, PathRewrite, Redirect, WeightedBackend};

use super::Ctx;
use super::http::Rule;
use super::names::{Policy, backend_name, policy_backend_name};
use super::text::{Output, arg, is_fetch_name, lf, refuse, regex_literal};

/// What the actions need to know about the frontend.
pub(crate) struct Context {
    /// The port terminates TLS (the current scheme is `https`).
    pub(crate) tls: bool,
    /// The Gateway listener port (used by redirects that keep the port).
    pub(crate) listener_port: u16,
}

/// Largest total weight passed to `rand()`; larger totals are scaled down.
const MAX_TOTAL_WEIGHT: u64 = 1 << 30;

/// Renders one rule's actions; `use_backend` lines are collected into `use_backends`.
pub(crate) fn render(ctx: &Ctx<'_>, out: &mut Output, context: &Context, rule: &Rule<'_>, use_backends: &mut Vec<String>) {
    let entry = rule.entry;
    let guard = rule.guard();
    out.comment(&format!(
        "rule {}: {} {}/{} rule {} match {}",
        rule.number, entry.source.kind, entry.source.namespace, entry.source.name, entry.source.rule, entry.source.r#match
    ));
    for filter in &entry.filters {
        filter_lines(out, filter, &entry.matcher.path, &guard);
    }
    if let Some(timeouts) = &entry.timeouts {
        let limits = [timeouts.backend_request_ms, timeouts.request_ms];
        if let Some(ms) = limits.into_iter().flatten().filter(|ms| *ms > 0).min() {
            out.line(&format!("http-request set-var(txn.tmo) int({ms}) if {guard}"));
        }
    }
    match &*entry.action {
        HttpAction::Forward { backends } => forward(ctx, out, rule, backends, use_backends),
        HttpAction::Redirect(redirect) => redirect_lines(out, context, redirect, &entry.matcher.path, &guard),
        HttpAction::FixedResponse { status, reason } => {
            out.comment(&format!("fixed response: {reason}"));
            out.line(&format!("http-request return status {} if {guard}", return_status(*status)));
        }
    }
}

/// HAProxy's `return` accepts 200..=599; anything else becomes 500.
fn return_status(status: u16) -> u16 {
    if (200..=599).contains(&status) { status } else { 500 }
}

/// Weighted forwarding: one `rand()` draw per request in `txn.pick`, each backend owning the range
/// `[previous cumulative, cumulative)`. `Invalid` (or unknown) targets answer 500 for their range.
fn forward(ctx: &Ctx<'_>, out: &mut Output, rule: &Rule<'_>, backends: &[WeightedBackend], use_backends: &mut Vec<String>) {
    let guard = rule.guard();
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        out.comment("no backend has a weight: 500");
        out.line(&format!("http-request return status 500 if {guard}"));
        return;
    }
    let scale = total / MAX_TOTAL_WEIGHT + 1;
    let weights: Vec<u64> = backends.iter().map(|b| u64::from(b.weight) / scale).collect();
    let total: u64 = weights.iter().sum();
    let single = weights.iter().filter(|w| **w > 0).count() == 1;
    if !single {
        out.line(&format!("http-request set-var(txn.pick) rand({total}) if {guard}"));
    }
    let mut low = 0;
    for (backend, weight) in backends.iter().zip(weights) {
        if weight == 0 {
            continue;
        }
        let high = low + weight;
        let cond = if single { guard.clone() } else { pick_cond(&guard, low, high) };
        low = high;
        for filter in &backend.filters {
            filter_lines(out, filter, &rule.entry.matcher.path, &cond);
        }
        match &backend.target {
            BackendTarget::Backend { id } if ctx.gw.backends.contains_key(id) => {
                let name = match Policy::of(rule.entry) {
                    Some(policy) => policy_backend_name(&ctx.gw.gateway, id, &policy),
                    None => backend_name(&ctx.gw.gateway, id),
                };
                use_backends.push(format!("use_backend {name} if {cond}"));
            }
            BackendTarget::Backend { id } => {
                out.comment(&format!("backend {id} is not in the IR: 500 for its share"));
                out.line(&format!("http-request return status 500 if {cond}"));
            }
            BackendTarget::Invalid { reason } => {
                out.comment(&format!("invalid backend ({reason}): 500 for its share"));
                out.line(&format!("http-request return status 500 if {cond}"));
            }
        }
    }
}

/// `guard` plus `low <= txn.pick < high`.
fn pick_cond(guard: &str, low: u64, high: u64) -> String {
    let upper = format!("{{ var(txn.pick) -m int lt {high} }}");
    if low == 0 { format!("{guard} {upper}") } else { format!("{guard} {{ var(txn.pick) -m int ge {low} }} {upper}") }
}

/// The lines of one filter under `cond`.
fn filter_lines(out: &mut Output, filter: &HttpFilter, path: &PathMatch, cond: &str) {
    match filter {
        HttpFilter::RequestHeaderModifier(modifier) => header_lines(out, "http-request", modifier, cond),
        HttpFilter::ResponseHeaderModifier(modifier) => header_lines(out, "http-response", modifier, cond),
        HttpFilter::UrlRewrite(rewrite) => {
            if let Some(hostname) = &rewrite.hostname {
                out.line(&format!("http-request set-header host {} if {cond}", arg(&lf(hostname))));
            }
            if let Some(rewrite) = &rewrite.path {
                path_lines(out, rewrite, path, cond);
            }
        }
        HttpFilter::RequestMirror(mirror) => {
            out.comment(&format!("request mirroring to {} is not supported: skipped", mirror.backend));
        }
        HttpFilter::Cors(cors) => super::cors::lines(out, cors, cond),
    }
}

/// `set-header`, `add-header` and `del-header` lines, in that order (the Gateway API's).
fn header_lines(out: &mut Output, directive: &str, modifier: &HeaderModifier, cond: &str) {
    for header in &modifier.set {
        out.line(&format!("{directive} set-header {} {} if {cond}", header_name(&header.name), arg(&lf(&header.value))));
    }
    for header in &modifier.add {
        out.line(&format!("{directive} add-header {} {} if {cond}", header_name(&header.name), arg(&lf(&header.value))));
    }
    for name in &modifier.remove {
        out.line(&format!("{directive} del-header {} if {cond}", header_name(name)));
    }
}

/// A header name as written, or refused when it is not a plain token.
fn header_name(name: &str) -> String {
    if is_fetch_name(name) { name.to_string() } else { refuse(&format!("the header name {name:?} is not a plain token")) }
}

/// Rewrites the request path: `set-path` for a full path, `replace-path` for a prefix.
fn path_lines(out: &mut Output, rewrite: &PathRewrite, path: &PathMatch, cond: &str) {
    match rewrite {
        PathRewrite::ReplaceFullPath(full) => out.line(&format!("http-request set-path {} if {cond}", arg(&lf(full)))),
        PathRewrite::ReplacePrefixMatch(replacement) => {
            let prefix = match path {
                PathMatch::Prefix(prefix) | PathMatch::Exact(prefix) => prefix,
                PathMatch::RegularExpression(_) => {
                    out.comment("prefix replacement needs a path prefix match: skipped");
                    return;
                }
            };
            if let Some((regex, format)) = prefix_rewrite(prefix, replacement) {
                out.line(&format!("http-request replace-path {} {} if {cond}", arg(&regex), arg(&format)));
            }
        }
    }
}

/// The `replace-path` regex and format replacing the matched prefix by `replacement` while keeping
/// the remainder, never producing `//` (`/foo` -> `/bar`: `/foo/x` -> `/bar/x`; -> `/`: `/x`).
/// `None` when the rewrite changes nothing.
fn prefix_rewrite(prefix: &str, replacement: &str) -> Option<(String, String)> {
    let old = regex_literal(prefix.trim_end_matches('/'));
    let new = lf(replacement.trim_end_matches('/'));
    match (old.is_empty(), new.is_empty()) {
        (true, true) => None,
        (false, true) => Some((format!("^{old}/?(.*)$"), "/\\1".to_string())),
        (true, false) => Some(("^(/.+|)/?$".to_string(), format!("{new}\\1"))),
        (false, false) => Some((format!("^{old}((?:/.*)?)$"), format!("{new}\\1"))),
    }
}

/// A redirect: the path is rewritten first (the request goes nowhere else), then the location is
/// built from scheme, hostname, port and `pathq`, keeping what the redirect does not replace.
/// Ports that are the scheme's default are left out.
fn redirect_lines(out: &mut Output, context: &Context, redirect: &Redirect, path: &PathMatch, guard: &str) {
    if let Some(rewrite) = &redirect.path {
        path_lines(out, rewrite, path, guard);
    }
    let current = if context.tls { "https" } else { "http" };
    let scheme = match &redirect.scheme {
        Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) => s.to_ascii_lowercase(),
        Some(s) => refuse(&format!("the redirect scheme {s:?} is not a URI scheme")),
        None => current.to_string(),
    };
    let port = redirect.port.or(if redirect.scheme.is_some() { default_port(&scheme) } else { Some(context.listener_port) });
    let port = match port {
        Some(port) if Some(port) != default_port(&scheme) => format!(":{port}"),
        _ => String::new(),
    };
    let host = match &redirect.hostname {
        Some(hostname) => lf(hostname),
        None => "%[req.hdr(host),field(1,:)]".to_string(),
    };
    let code = if matches!(redirect.status_code, 301 | 302 | 303 | 307 | 308) {
        redirect.status_code.to_string()
    } else {
        refuse(&format!("redirect status code {} is not one HAProxy sends", redirect.status_code))
    };
    let location = format!("{scheme}://{host}{port}%[pathq]");
    out.line(&format!("http-request redirect location {} code {code} if {guard}", arg(&location)));
}

/// The well-known port of a scheme.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}
