//! Map dispatch: a request's virtual host, and its rule on a virtual host whose rules match on
//! the path alone, are found by HAProxy map lookups instead of one `set-var ... if` line per
//! entry, so a request costs the same at 10,000 routes as at one.
//!
//! Exactness: every key's value is computed here as the IR's first match for any request the key
//! can catch, so the lookups give the same selection as walking the IR in order:
//! - `hosts.map` (`map_str`, exact): hostname -> the first virtual host matching it;
//! - `wildcards.map` (`map_end`, longest suffix first): `.suffix` -> the first virtual host
//!   matching any host under it (wildcards that are suffixes of it, and `*`); hosts starting
//!   with `.` never use it, as `*.suffix` needs a label before the suffix;
//! - `*` -> its index, when no key matched;
//! - `paths.map` (`map_str`): `<vh>|<path>` -> the first rule matching exactly that path;
//! - `prefixes.map` (`map_beg`, longest first): `<vh>|<prefix>/` -> the first rule matching any
//!   path under it (every prefix rule whose prefix is a segment prefix of it).
//!
//! A virtual host with a rule matching more than the path (method, headers, query, regex) keeps
//! the line-per-rule selection of [`super::http`]. Rules that forward to one backend with nothing
//! else to do take their backend from `backends.map`: no line of their own at all.

use std::collections::{BTreeMap, HashMap, HashSet};

use portico_model::ir::{BackendTarget, HttpAction, HttpRouteEntry, PathMatch, Port, VirtualHost};

use super::Ctx;
use super::http::Rule;
use super::names::{backend_name, frontend_name};
use super::text::{Output, refuse};

/// What the maps select, as data: the renderer writes it, and tests evaluate it the way HAProxy
/// does ([`Dispatch::select`]) against the IR's first match.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub hosts: BTreeMap<String, usize>,
    /// Longest suffix first (`.example.com`).
    pub wildcards: Vec<(String, usize)>,
    pub any_host: Option<usize>,
    pub paths: BTreeMap<String, usize>,
    /// Longest key first (`<vh>|/foo/`).
    pub prefixes: Vec<(String, usize)>,
    /// Virtual hosts whose rules the maps select.
    pub mapped: Vec<bool>,
}

/// A path the map files can carry as a key: no whitespace, `#` or `\`.
fn key_safe(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == '\\')
}

/// The virtual host's rules match on the path alone (exact or prefix), with keys the maps carry.
fn path_only(vhost: &VirtualHost) -> bool {
    vhost.routes.iter().all(|entry| {
        let m = &entry.matcher;
        let path = match &m.path {
            PathMatch::Exact(path) | PathMatch::Prefix(path) => path,
            PathMatch::RegularExpression(_) => return false,
        };
        m.method.is_none() && m.headers.is_empty() && m.query_params.is_empty() && key_safe(path) && path.starts_with('/')
    })
}

/// A prefix without its trailing slashes (`/` becomes empty: it matches every path).
fn trimmed(prefix: &str) -> &str {
    prefix.trim_end_matches('/')
}

/// Does `prefix` (trimmed) match `path` segment-wise?
#[cfg(test)]
fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix.is_empty() || path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// The host part of a wildcard hostname (`*.example.com` -> `.example.com`).
fn wildcard_suffix(hostname: &str) -> Option<&str> {
    hostname.strip_prefix('*').filter(|s| s.starts_with('.'))
}

/// Does virtual host `hostname` take `host` (lower-case, no port)? The tests' oracle for
/// [`FirstHost`].
#[cfg(test)]
fn host_matches(hostname: &str, host: &str) -> bool {
    match wildcard_suffix(hostname) {
        _ if hostname == "*" => true,
        Some(suffix) => host.ends_with(suffix) && !host.starts_with('.'),
        None => hostname == host,
    }
}

/// The first virtual host (in the IR's order) taking a host: what [`host_matches`] over every
/// name in order finds, by lookups (a host's candidates are itself, its `.suffix`es and `*`).
struct FirstHost<'n> {
    exact: HashMap<&'n str, usize>,
    wildcards: HashMap<&'n str, usize>,
    any: Option<usize>,
}

impl<'n> FirstHost<'n> {
    fn new(names: &'n [String]) -> Self {
        let mut first = FirstHost { exact: HashMap::new(), wildcards: HashMap::new(), any: None };
        for (index, name) in names.iter().enumerate() {
            match wildcard_suffix(name) {
                _ if name == "*" => first.any = first.any.or(Some(index)),
                Some(suffix) => _ = first.wildcards.entry(suffix).or_insert(index),
                None => _ = first.exact.entry(name.as_str()).or_insert(index),
            }
        }
        first
    }

    fn of(&self, host: &str) -> Option<usize> {
        let exact = self.exact.get(host).copied();
        let under = (!host.starts_with('.')).then(|| host.match_indices('.').filter_map(|(at, _)| self.wildcards.get(&host[at..]).copied()).min()).flatten();
        [exact, under, self.any].into_iter().flatten().min()
    }
}

/// The first rule (in the given order) whose path matches a path, for path-only rules: what
/// [`entry_matches`] over every rule in order finds, by lookups (a path's candidates are the
/// exact path and every segment prefix of it, the empty prefix included).
struct FirstRule<'r> {
    exact: HashMap<&'r str, (usize, usize)>,
    prefixes: HashMap<&'r str, (usize, usize)>,
}

impl<'r> FirstRule<'r> {
    fn new(rules: &[(usize, &'r HttpRouteEntry)]) -> Self {
        let mut first = FirstRule { exact: HashMap::new(), prefixes: HashMap::new() };
        for (position, (number, entry)) in rules.iter().enumerate() {
            match &entry.matcher.path {
                PathMatch::Exact(path) => _ = first.exact.entry(path.as_str()).or_insert((position, *number)),
                PathMatch::Prefix(prefix) => _ = first.prefixes.entry(trimmed(prefix)).or_insert((position, *number)),
                PathMatch::RegularExpression(_) => {}
            }
        }
        first
    }

    fn of(&self, path: &str) -> Option<usize> {
        let segments = path.match_indices('/').map(|(at, _)| &path[..at]).chain([path]);
        let prefix = segments.filter_map(|p| self.prefixes.get(p)).min().copied();
        [self.exact.get(path).copied(), prefix].into_iter().flatten().min().map(|(_, number)| number)
    }
}

impl Dispatch {
    /// Builds the maps of a port's virtual hosts (`rules` numbered as the frontend numbers them).
    /// Linear in virtual hosts and rules: every key's first match is found by lookups.
    pub fn new(vhosts: &[VirtualHost], rules: &[(usize, usize, &HttpRouteEntry)]) -> Dispatch {
        let names: Vec<String> = vhosts.iter().map(|v| v.hostname.to_ascii_lowercase()).collect();
        let first_host = FirstHost::new(&names);
        let mut out = Dispatch { any_host: first_host.any, mapped: vhosts.iter().map(path_only).collect(), ..Dispatch::default() };
        for name in &names {
            match wildcard_suffix(name) {
                // A host just under the suffix (a label no DNS name has) stands for every host
                // under it.
                Some(suffix) => out.wildcards.push((suffix.to_string(), first_host.of(&format!("\u{1}{suffix}")).unwrap_or(0))),
                None if name != "*" => {
                    out.hosts.entry(name.clone()).or_insert_with(|| first_host.of(name).unwrap_or(0));
                }
                None => {}
            }
        }
        out.wildcards.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        out.wildcards.dedup_by(|a, b| a.0 == b.0);
        let mut by_vhost: BTreeMap<usize, Vec<(usize, &HttpRouteEntry)>> = BTreeMap::new();
        for (vh, number, entry) in rules {
            if out.mapped.get(*vh).copied().unwrap_or(false) {
                by_vhost.entry(*vh).or_default().push((*number, *entry));
            }
        }
        let mapped: Vec<usize> = (0..vhosts.len()).filter(|vh| out.mapped[*vh]).collect();
        for vh in mapped {
            out.add_paths(vh, by_vhost.get(&vh).map(Vec::as_slice).unwrap_or(&[]));
        }
        out.prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        out
    }

    /// The keys of one path-only virtual host: each exact path and each prefix (as a path), and
    /// each prefix followed by `/` (every path under it).
    fn add_paths(&mut self, vh: usize, rules: &[(usize, &HttpRouteEntry)]) {
        let first = FirstRule::new(rules);
        let mut prefixes: HashSet<String> = HashSet::new();
        for (_, entry) in rules {
            let (path, prefix) = match &entry.matcher.path {
                PathMatch::Exact(path) => (path.as_str(), None),
                PathMatch::Prefix(prefix) => (trimmed(prefix), Some(trimmed(prefix))),
                PathMatch::RegularExpression(_) => continue,
            };
            if !path.is_empty()
                && let Some(rule) = first.of(path)
            {
                self.paths.entry(format!("{vh}|{path}")).or_insert(rule);
            }
            if let Some(prefix) = prefix {
                // Any path under the prefix: the first rule matching `<prefix>/<something>`
                // that no longer key catches (a longer key exists for longer prefixes).
                let probe = format!("{prefix}/\u{1}");
                if let Some(rule) = first.of(&probe) {
                    let key = format!("{vh}|{prefix}/");
                    if prefixes.insert(key.clone()) {
                        self.prefixes.push((key, rule));
                    }
                }
            }
        }
    }

    /// The rule HAProxy's lookups select for `host` (lower-case, no port) and `path`: `None` for
    /// a 404, `Some(Err(vh))` when virtual host `vh` selects by its own lines.
    #[cfg(test)]
    pub fn select(&self, host: &str, path: &str) -> Option<Result<usize, usize>> {
        let wildcard = || (!host.starts_with('.')).then(|| self.wildcards.iter().find(|(s, _)| host.ends_with(s.as_str())).map(|(_, v)| *v)).flatten();
        let vh = self.hosts.get(host).copied().or_else(wildcard).or(self.any_host)?;
        if !self.mapped.get(vh).copied().unwrap_or(false) {
            return Some(Err(vh));
        }
        let key = format!("{vh}|{path}");
        let rule = self.paths.get(&key).copied().or_else(|| self.prefixes.iter().find(|(k, _)| key.starts_with(k.as_str())).map(|(_, r)| *r))?;
        Some(Ok(rule))
    }
}

/// Does the entry's path match `path` (path-only entries)? The tests' oracle for [`FirstRule`].
#[cfg(test)]
fn entry_matches(entry: &HttpRouteEntry, path: &str) -> bool {
    match &entry.matcher.path {
        PathMatch::Exact(exact) => exact == path,
        PathMatch::Prefix(prefix) => prefix_matches(trimmed(prefix), path),
        PathMatch::RegularExpression(_) => false,
    }
}

/// The backends (HAProxy names) and weights of a rule that forwards with nothing the maps cannot
/// carry: its filters and timeout carried by maps ([`super::grouped`]), no policy, every backend
/// with a weight known to the IR and without filters of its own. Such a rule needs no line of
/// its own: the maps pick its backend.
fn forward_targets(ctx: &Ctx<'_>, entry: &HttpRouteEntry) -> Option<Vec<(String, u64)>> {
    if !super::grouped::mappable(entry) {
        return None;
    }
    let HttpAction::Forward { backends } = &*entry.action else { return None };
    let mut targets = Vec::new();
    for backend in backends.iter().filter(|b| b.weight > 0) {
        match &backend.target {
            BackendTarget::Backend { id } if backend.filters.is_empty() && ctx.gw.backends.contains_key(id) => {
                targets.push((backend_name(&ctx.gw.gateway, id), u64::from(backend.weight)));
            }
            _ => return None,
        }
    }
    (!targets.is_empty()).then_some(targets)
}

/// The backend of a rule that forwards all its traffic to one backend, with nothing the maps
/// cannot carry: it needs no line of its own (`backends.map`).
pub(crate) fn plain_backend(ctx: &Ctx<'_>, entry: &HttpRouteEntry) -> Option<String> {
    let mut targets = forward_targets(ctx, entry)?;
    (targets.len() == 1).then(|| targets.remove(0).0)
}

/// Digits of the weighted draw: `rand(1000000)`, so each backend's share is exact when the total
/// weight divides 1,000,000 and within one millionth otherwise.
const PICK_DIGITS: u32 = 6;
const PICKS: u64 = 10u64.pow(PICK_DIGITS);

/// The `picks.map` entries of a rule that only forwards, to more than one backend: each
/// backend owns the draws `[cumulative weight before it, cumulative with it) * PICKS / total`,
/// written as the decimal prefixes that cover exactly that range (the draw is looked up as
/// `1` + its six digits, longest prefix first). `None` when a backend's share would round to no
/// draw at all: that rule keeps its exact `rand(total)` lines ([`super::actions`]).
pub(crate) fn weighted_picks(ctx: &Ctx<'_>, entry: &HttpRouteEntry) -> Option<Vec<(String, String)>> {
    picks_for(forward_targets(ctx, entry)?)
}

/// [`weighted_picks`] of (backend, weight) pairs.
fn picks_for(targets: Vec<(String, u64)>) -> Option<Vec<(String, String)>> {
    if targets.len() < 2 {
        return None;
    }
    let total: u128 = targets.iter().map(|(_, w)| u128::from(*w)).sum();
    let mut out = Vec::new();
    let (mut cumulative, mut low) = (0u128, 0u64);
    for (backend, weight) in targets {
        cumulative += u128::from(weight);
        let high = u64::try_from(cumulative * u128::from(PICKS) / total).ok()?;
        if high <= low {
            return None;
        }
        out.extend(decimal_cover(low, high).into_iter().map(|prefix| (prefix, backend.clone())));
        low = high;
    }
    Some(out)
}

/// The shortest set of decimal prefixes (of `PICK_DIGITS`-digit draws, zero-padded) whose draws
/// are exactly `[low, high)`.
fn decimal_cover(low: u64, high: u64) -> Vec<String> {
    fn walk(value: u64, len: u32, low: u64, high: u64, out: &mut Vec<String>) {
        let size = 10u64.pow(PICK_DIGITS - len);
        let (start, end) = (value * size, value * size + size);
        if high <= start || end <= low {
            return;
        }
        if low <= start && end <= high {
            out.push(if len == 0 { String::new() } else { format!("{value:0width$}", width = len as usize) });
            return;
        }
        for digit in 0..10 {
            walk(value * 10 + digit, len + 1, low, high, out);
        }
    }
    let mut out = Vec::new();
    walk(0, 0, low, high, &mut out);
    out
}

/// The map file's path, refused when it could break the sample expression it appears in.
pub(crate) fn map_path(ctx: &Ctx<'_>, name: &str) -> String {
    let path = ctx.settings.cert_dir.join(name).to_string_lossy().into_owned();
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "/._:-".contains(c)) {
        path
    } else {
        refuse(&format!("the map file path {path:?} has characters a sample expression cannot carry"))
    }
}

/// The name of one of a port's map files (`<frontend>.<kind>.map`).
pub(crate) fn map_file(ctx: &Ctx<'_>, port: &Port, kind: &str) -> String {
    format!("{}.{kind}.map", frontend_name(&ctx.gw.gateway, port.port))
}

pub(crate) fn write_map(out: &mut Output, name: &str, entries: impl Iterator<Item = (String, String)>) {
    let mut text = String::new();
    for (key, value) in entries {
        text.push_str(&key);
        text.push(' ');
        text.push_str(&value);
        text.push('\n');
    }
    out.files.insert(name.to_string(), text.into_bytes());
}

/// Writes the map files and the lookup lines (virtual host, then rule for mapped virtual hosts);
/// returns the dispatch so the frontend renders lines only for what the maps do not cover.
pub(crate) fn render(ctx: &Ctx<'_>, out: &mut Output, port: &Port, rules: &[Rule<'_>]) -> Dispatch {
    let numbered: Vec<(usize, usize, &HttpRouteEntry)> = rules.iter().map(|r| (r.vhost, r.number, r.entry)).collect();
    let dispatch = Dispatch::new(&port.virtual_hosts, &numbered);
    for (index, vhost) in port.virtual_hosts.iter().enumerate() {
        let mode = if dispatch.mapped[index] { "maps" } else { "lines" };
        out.comment(&format!("virtual host {index}: {} (listener {}), rules by {mode}", vhost.hostname.to_ascii_lowercase(), vhost.listener));
    }
    if let Some(bad) = port.virtual_hosts.iter().map(|v| v.hostname.to_ascii_lowercase()).find(|h| h != "*" && !super::text::is_host_name(h)) {
        out.line(&refuse(&format!("the hostname {bad:?} is not a DNS name")));
    }
    let file = |kind: &str| map_file(ctx, port, kind);
    let (hosts, wildcards, paths, prefixes, backends) = (file("hosts"), file("wildcards"), file("paths"), file("prefixes"), file("backends"));
    write_map(out, &hosts, dispatch.hosts.iter().map(|(k, v)| (k.clone(), v.to_string())));
    write_map(out, &wildcards, dispatch.wildcards.iter().map(|(k, v)| (k.clone(), v.to_string())));
    write_map(out, &paths, dispatch.paths.iter().map(|(k, v)| (k.clone(), v.to_string())));
    write_map(out, &prefixes, dispatch.prefixes.iter().map(|(k, v)| (k.clone(), v.to_string())));
    let plain: Vec<(String, String)> = rules.iter().filter_map(|r| plain_backend(ctx, r.entry).map(|b| (r.number.to_string(), b))).collect();
    write_map(out, &backends, plain.into_iter());
    let picks = rules.iter().filter_map(|r| Some((r.number, weighted_picks(ctx, r.entry)?)));
    let picks: Vec<(String, String)> =
        picks.flat_map(|(number, entries)| entries.into_iter().map(move |(prefix, b)| (format!("{number}|1{prefix}"), b))).collect();
    write_map(out, &file("picks"), picks.into_iter());
    out.line(&format!("http-request set-var(txn.vh) var(txn.host),map_str_int({})", map_path(ctx, &hosts)));
    out.line(&format!(
        "http-request set-var(txn.vh) var(txn.host),map_end_int({}) if !{{ var(txn.vh) -m found }} !{{ var(txn.host) -m beg . }}",
        map_path(ctx, &wildcards)
    ));
    if let Some(any) = dispatch.any_host {
        out.line(&format!("http-request set-var(txn.vh) int({any}) if !{{ var(txn.vh) -m found }}"));
    }
    out.line("http-request set-var(txn.path) path");
    out.line("http-request set-var(txn.key) var(txn.vh),concat(|,txn.path,) if { var(txn.vh) -m found }");
    out.line(&format!("http-request set-var(txn.rule) var(txn.key),map_str_int({}) if {{ var(txn.key) -m found }}", map_path(ctx, &paths)));
    out.line(&format!(
        "http-request set-var(txn.rule) var(txn.key),map_beg_int({}) if !{{ var(txn.rule) -m found }} {{ var(txn.key) -m found }}",
        map_path(ctx, &prefixes)
    ));
    dispatch
}

/// The lines that pick the backend of every rule that only forwards (one backend:
/// `backends.map`; several: a draw looked up in `picks.map`), and the `use_backend` line they
/// feed. Constant work per request, whatever the number of rules.
pub(crate) fn use_plain_backend(ctx: &Ctx<'_>, out: &mut Output, port: &Port, weighted: bool) -> String {
    let name = map_file(ctx, port, "backends");
    // Looked up as a string (`map_str`: a tree); `map_int` would scan a list.
    out.line(&format!("http-request set-var(txn.be) var(txn.rule),map_str({}) if {{ var(txn.rule) -m found }}", map_path(ctx, &name)));
    if weighted {
        let picks = map_path(ctx, &map_file(ctx, port, "picks"));
        out.line(&format!("http-request set-var(txn.draw) rand({PICKS}),add({PICKS}) if {{ var(txn.rule) -m found }} !{{ var(txn.be) -m found }}"));
        out.line("http-request set-var(txn.drawkey) var(txn.rule),concat(|,txn.draw,) if { var(txn.draw) -m found }");
        out.line(&format!("http-request set-var(txn.be) var(txn.drawkey),map_beg({picks}) if {{ var(txn.draw) -m found }}"));
    }
    "use_backend %[var(txn.be)] if { var(txn.be) -m found }".to_string()
}

#[cfg(test)]
mod tests {
    use portico_model::ir::{HttpMatch, RouteSource};
    use proptest::prelude::*;

    use super::*;

    fn entry(path: PathMatch) -> HttpRouteEntry {
        HttpRouteEntry {
            source: RouteSource { kind: portico_model::RouteKind::Http, namespace: "ns".into(), name: "r".into(), rule: 0, rule_name: None, r#match: 0 },
            matcher: HttpMatch { path, ..HttpMatch::default() },
            filters: Vec::new(),
            action: HttpAction::FixedResponse { status: 200, reason: String::new() }.into(),
            timeouts: None,
            retry: None,
            session_persistence: None,
        }
    }

    /// The IR's contract, walked in order: the first virtual host taking the host, then its
    /// first rule matching the path.
    fn reference(vhosts: &[VirtualHost], host: &str, path: &str) -> Option<usize> {
        let vh = vhosts.iter().position(|v| host_matches(&v.hostname, host))?;
        let before: usize = vhosts[..vh].iter().map(|v| v.routes.len()).sum();
        vhosts[vh].routes.iter().position(|e| entry_matches(e, path)).map(|i| before + i)
    }

    fn numbered(vhosts: &[VirtualHost]) -> Vec<(usize, usize, &HttpRouteEntry)> {
        let mut out = Vec::new();
        for (vh, host) in vhosts.iter().enumerate() {
            for entry in &host.routes {
                out.push((vh, out.len(), entry));
            }
        }
        out
    }

    const HOSTS: &[&str] = &["a.test", "b.a.test", "x.b.a.test", "*.a.test", "*.b.a.test", "*.test", "*"];
    const PATHS: &[&str] = &["/", "/a", "/a/", "/a/b", "/ab", "/a/b/c", "/b"];

    fn vhosts() -> impl Strategy<Value = Vec<VirtualHost>> {
        let path =
            (any::<bool>(), 0..PATHS.len()).prop_map(|(exact, i)| if exact { PathMatch::Exact(PATHS[i].into()) } else { PathMatch::Prefix(PATHS[i].into()) });
        let vhost = (0..HOSTS.len(), prop::collection::vec(path, 0..6)).prop_map(|(h, paths)| VirtualHost {
            hostname: HOSTS[h].into(),
            listener: "l".into(),
            routes: paths.into_iter().map(entry).collect(),
        });
        prop::collection::vec(vhost, 0..5)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        /// The maps select exactly what the IR's first-match order selects, in any order of
        /// virtual hosts and rules (not only the order translation sorts them in).
        #[test]
        fn the_maps_select_the_irs_first_match(vhosts in vhosts()) {
            let dispatch = Dispatch::new(&vhosts, &numbered(&vhosts));
            let hosts = ["a.test", "b.a.test", "x.b.a.test", "y.x.b.a.test", "test", "other.test", "c.a.test", ".a.test", "elsewhere"];
            let paths = ["/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/a/bc", "/ab", "/b", "/b/x", "/c"];
            for host in hosts {
                for path in paths {
                    let got = dispatch.select(host, path).map(|r| r.expect("path-only virtual hosts are mapped"));
                    prop_assert_eq!(got, reference(&vhosts, host, path), "host {} path {}: {:?}", host, path, dispatch);
                }
            }
        }
    }

    /// The backend HAProxy's `map_beg` lookup of draw `draw` gives (the longest matching prefix).
    fn drawn(picks: &[(String, String)], draw: u64) -> Option<&str> {
        let digits = format!("{draw:06}");
        picks.iter().filter(|(prefix, _)| digits.starts_with(prefix.as_str())).max_by_key(|(prefix, _)| prefix.len()).map(|(_, b)| b.as_str())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

        /// Every draw has exactly one prefix, and each backend owns `PICKS * weight / total`
        /// draws, rounded down at each cumulative boundary: exact when the total divides
        /// 1,000,000, never off by more than one draw in a million otherwise; a share that
        /// would round to nothing keeps the rule on its exact lines instead.
        #[test]
        fn weighted_draws_give_each_backend_its_share(weights in prop::collection::vec(1u64..2_000_000, 2..5)) {
            let targets: Vec<(String, u64)> = weights.iter().enumerate().map(|(i, w)| (format!("b{i}"), *w)).collect();
            let total: u64 = weights.iter().sum();
            let Some(picks) = picks_for(targets) else {
                prop_assert!(weights.iter().any(|w| u128::from(*w) * u128::from(PICKS) < u128::from(total)));
                return Ok(());
            };
            let mut low = 0u64;
            let mut cumulative = 0u64;
            for (i, weight) in weights.iter().enumerate() {
                cumulative += weight;
                let high = u64::try_from(u128::from(cumulative) * u128::from(PICKS) / u128::from(total)).unwrap();
                let name = format!("b{i}");
                let owned: u64 = picks.iter().filter(|(_, b)| *b == name).map(|(p, _)| 10u64.pow(PICK_DIGITS - p.len() as u32)).sum();
                prop_assert_eq!(owned, high - low);
                let share = owned as f64 / PICKS as f64 - *weight as f64 / total as f64;
                prop_assert!(share.abs() <= 1.0 / PICKS as f64, "backend {} share off by {}", i, share);
                for draw in [low, (low + high) / 2, high - 1] {
                    prop_assert_eq!(drawn(&picks, draw), Some(name.as_str()), "draw {}", draw);
                }
                low = high;
            }
            prop_assert_eq!(low, PICKS);
            for (n, (a, _)) in picks.iter().enumerate() {
                prop_assert!(!picks[n + 1..].iter().any(|(b, _)| a.starts_with(b.as_str()) || b.starts_with(a.as_str())), "overlapping prefixes");
            }
        }
    }

    #[test]
    fn seventy_thirty_is_ten_prefixes() {
        let picks = picks_for(vec![("a".into(), 70), ("b".into(), 30)]).unwrap();
        let expected: Vec<(String, String)> = (0..10).map(|d| (d.to_string(), if d < 7 { "a" } else { "b" }.to_string())).collect();
        assert_eq!(picks, expected);
        assert_eq!(picks_for(vec![("a".into(), 1), ("b".into(), 3_000_000)]), None, "a share below one draw keeps the exact lines");
    }

    #[test]
    fn a_rule_matching_more_than_the_path_keeps_its_virtual_host_on_lines() {
        let mut with_method = entry(PathMatch::Prefix("/".into()));
        with_method.matcher.method = Some("GET".into());
        let vhosts = vec![VirtualHost { hostname: "*".into(), listener: "l".into(), routes: vec![with_method] }];
        let dispatch = Dispatch::new(&vhosts, &numbered(&vhosts));
        assert_eq!(dispatch.select("any", "/"), Some(Err(0)));
    }
}
