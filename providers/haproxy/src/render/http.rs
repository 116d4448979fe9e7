//! HTTP and HTTPS frontends.
//!
//! Selection happens once per request, in two steps that mirror the IR's contract:
//! 1. `txn.vh` = index of the first virtual host whose hostname matches the Host header (without
//!    port, lower-cased): exact, `*.suffix` (at least one label before the suffix) or `*`.
//! 2. `txn.rule` = number of the first route entry of that virtual host whose match succeeds.
//!
//! Both use `set-var ... if !{ var(...) -m found } ...` in list order, so the first match wins and
//! nothing falls through to a less specific virtual host. No rule -> 404. Every later action is
//! guarded by `{ var(txn.rule) -m int N }`; see [`super::actions`] for the actions.

use std::collections::BTreeMap;

use portico_model::ir::{HttpMatch, HttpRouteEntry, PathMatch, Port, ValueMatch, ValueMatchType};

use super::Ctx;
use super::actions;
use super::names::frontend_name;
use super::text::{Output, anchored, arg, is_fetch_name, is_host_name, refuse};

/// A route entry with its virtual host index and its frontend-wide rule number.
pub(crate) struct Rule<'a> {
    pub(crate) vhost: usize,
    pub(crate) number: usize,
    pub(crate) entry: &'a HttpRouteEntry,
}

impl Rule<'_> {
    /// The condition that this rule was selected.
    pub(crate) fn guard(&self) -> String {
        format!("{{ var(txn.rule) -m int {} }}", self.number)
    }
}

/// Renders the frontend of an HTTP port, or of an HTTPS port when `crt_list` is given.
pub(crate) fn frontend(ctx: &Ctx<'_>, out: &mut Output, port: &Port, bind: &str, crt_list: Option<&str>) {
    frontend_named(ctx, out, port, &frontend_name(&ctx.gw.gateway, port.port), bind, crt_list);
}

/// The HTTP(S) frontend under a given name (the HTTPS half of a port shared with TLS
/// passthrough listens on an internal socket behind the SNI router).
pub(crate) fn frontend_named(ctx: &Ctx<'_>, out: &mut Output, port: &Port, name: &str, bind: &str, crt_list: Option<&str>) {
    out.section(&format!("frontend {name}"));
    out.comment(&format!("listeners: {}", port.listeners.join(", ")));
    out.line("mode http");
    match crt_list {
        Some(list) => out.line(&format!("bind {bind} ssl crt-list {list} alpn h2,http/1.1")),
        None => out.line(&format!("bind {bind}")),
    }
    let rules = numbered_rules(port);
    out.line("http-request set-var(txn.host) req.hdr(host),field(1,:),lower");
    let dispatch = super::dispatch::render(ctx, out, port, &rules);
    let by_lines: Vec<&Rule<'_>> = rules.iter().filter(|r| !dispatch.mapped[r.vhost]).collect();
    for rule in &by_lines {
        for acl in path_acls(rule.number, &rule.entry.matcher.path) {
            out.line(&acl);
        }
    }
    for rule in &by_lines {
        let mut conds = vec!["!{ var(txn.rule) -m found }".to_string(), format!("{{ var(txn.vh) -m int {} }}", rule.vhost)];
        conds.extend(match_conds(rule.number, &rule.entry.matcher));
        out.line(&format!("http-request set-var(txn.rule) int({}) if {}", rule.number, conds.join(" ")));
    }
    out.line("http-request return status 404 if !{ var(txn.rule) -m found }");
    let context = actions::Context { tls: crt_list.is_some(), listener_port: port.port };
    let mut use_backends = Vec::new();
    let (mut plain, mut weighted) = (false, false);
    let mut grouped = super::grouped::Grouped::default();
    for rule in &rules {
        if super::dispatch::plain_backend(ctx, rule.entry).is_some() {
            plain = true;
        } else if super::dispatch::weighted_picks(ctx, rule.entry).is_some() {
            weighted = true;
        } else {
            actions::render(ctx, out, &context, rule, &mut use_backends);
            continue;
        }
        grouped.add(rule.number, rule.entry);
    }
    grouped.render(ctx, out, port);
    if plain || weighted {
        use_backends.push(super::dispatch::use_plain_backend(ctx, out, port, weighted));
    }
    for line in use_backends {
        out.line(&line);
    }
}

/// Numbers the route entries of all virtual hosts, in the IR's order, with numbers that do not
/// depend on the other routes: a hash of the virtual host (hostname, listener) and the entry's
/// source, so adding, removing or reordering routes changes only the map entries and lines of the
/// routes it touches (and a map-only edit needs no reload). Collisions are resolved by taking the
/// next free number, in an order that depends only on the colliding entries.
pub(crate) fn numbered_rules(port: &Port) -> Vec<Rule<'_>> {
    let mut keyed: Vec<(u64, String, usize, &HttpRouteEntry)> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (vhost, host) in port.virtual_hosts.iter().enumerate() {
        for entry in &host.routes {
            let s = &entry.source;
            let base = format!("{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}", host.hostname, host.listener, s.kind, s.namespace, s.name, s.rule, s.r#match);
            let occurrence = seen.entry(base.clone()).or_default();
            let key = format!("{base}\u{0}{occurrence}");
            *occurrence += 1;
            keyed.push((fnv1a(&key) % RULE_NUMBERS, key, vhost, entry));
        }
    }
    let mut order: Vec<usize> = (0..keyed.len()).collect();
    order.sort_by(|&a, &b| (keyed[a].0, &keyed[a].1).cmp(&(keyed[b].0, &keyed[b].1)));
    let mut taken = std::collections::BTreeSet::new();
    let mut numbers = vec![0; keyed.len()];
    for i in order {
        let mut number = keyed[i].0;
        while !taken.insert(number) {
            number = (number + 1) % RULE_NUMBERS;
        }
        numbers[i] = number;
    }
    keyed.iter().zip(numbers).map(|((_, _, vhost, entry), number)| Rule { vhost: *vhost, number: number as usize, entry }).collect()
}

/// Rule numbers are below 2^31 (HAProxy's integers are 64-bit; this keeps them readable).
const RULE_NUMBERS: u64 = 1 << 31;

/// FNV-1a: a hash that is the same in every build and run.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Conditions for a hostname match on `fetch`: exact, `*.suffix` (one or more labels before the
/// suffix) or `*` (no condition). `None` for a hostname that is not a host name.
pub(crate) fn host_conds(fetch: &str, hostname: &str) -> Option<Vec<String>> {
    if hostname == "*" {
        return Some(Vec::new());
    }
    if !is_host_name(hostname) {
        return Some(vec![refuse(&format!("the hostname {hostname:?} is not a DNS name"))]);
    }
    Some(match hostname.strip_prefix('*') {
        Some(suffix) => vec![format!("{{ {fetch} -m end -i {suffix} }}"), format!("!{{ {fetch} -m beg . }}")],
        None => vec![format!("{{ {fetch} -m str -i {hostname} }}")],
    })
}

/// The named ACL for a segment-aware prefix: `path <p>` OR `path_beg <p>/` (none for `/`).
fn path_acls(number: usize, path: &PathMatch) -> Vec<String> {
    let PathMatch::Prefix(prefix) = path else { return Vec::new() };
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return Vec::new();
    }
    vec![format!("acl r{number}_path path {}", arg(prefix)), format!("acl r{number}_path path_beg {}", arg(&format!("{prefix}/")))]
}

/// The conditions (ANDed) of a route entry's match.
fn match_conds(number: usize, matcher: &HttpMatch) -> Vec<String> {
    let mut conds = Vec::new();
    match &matcher.path {
        PathMatch::Exact(path) => conds.push(format!("{{ path -m str {} }}", arg(path))),
        PathMatch::Prefix(prefix) if prefix.trim_end_matches('/').is_empty() => {}
        PathMatch::Prefix(_) => conds.push(format!("r{number}_path")),
        PathMatch::RegularExpression(regex) => conds.push(format!("{{ path_reg {} }}", arg(&anchored(regex)))),
    }
    if let Some(method) = &matcher.method {
        conds.push(format!("{{ method {} }}", arg(method)));
    }
    for header in &matcher.headers {
        conds.push(value_cond("req.fhdr", header));
    }
    for param in &matcher.query_params {
        conds.push(value_cond("urlp", param));
    }
    conds
}

/// `{ <fetch>(<name>) -m str|reg <value> }`; a name that is not a plain token is refused.
fn value_cond(fetch: &str, value: &ValueMatch) -> String {
    if !is_fetch_name(&value.name) {
        return refuse(&format!("the match name {:?} is not a plain token", value.name));
    }
    let (method, pattern) = match value.match_type {
        ValueMatchType::Exact => ("str", value.value.clone()),
        ValueMatchType::RegularExpression => ("reg", anchored(&value.value)),
    };
    format!("{{ {fetch}({}) -m {method} {} }}", value.name, arg(&pattern))
}
