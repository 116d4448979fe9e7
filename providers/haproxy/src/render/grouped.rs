//! Rule actions carried by maps instead of lines: a header a rule sets, adds or removes, and a
//! rule's timeout, are written as one line per header name and operation (not per rule), whose
//! value is looked up by the selected rule's number in a map file. A request then pays for the
//! header names in use on the port, not for the rules, and editing a value or a rule's headers
//! changes map files only (applied through the runtime API, no reload).
//!
//! A rule qualifies when all its filters are header modifiers whose names are plain tokens, each
//! name appears once per direction (so the order of set, add and remove cannot matter), and
//! every value reads back unchanged from a map file (not empty, no control character, no leading
//! or trailing blank: the map format strips those). Anything else keeps its guarded lines
//! ([`super::actions`]).

use std::collections::{BTreeMap, BTreeSet};

use portico_model::ir::{HeaderModifier, HttpFilter, HttpRouteEntry, Port};

use super::Ctx;
use super::text::{Output, is_fetch_name};

/// A header operation, in the order the lines are written (set, then add, then remove).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Set,
    Add,
    Remove,
}

/// `http-request` or `http-response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    Request,
    Response,
}

/// What the maps carry for one port: per (direction, operation, header name), rule -> value;
/// per rule, its timeout in milliseconds.
#[derive(Debug, Default)]
pub(crate) struct Grouped {
    headers: BTreeMap<(Direction, Op, String), Vec<(usize, String)>>,
    timeouts: Vec<(usize, u64)>,
}

/// A value a map file gives back exactly as written.
fn map_safe(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(char::is_control) && !value.starts_with([' ', '\t']) && !value.ends_with([' ', '\t'])
}

/// The header operations of one modifier, when they can all be carried by maps; `names` collects
/// the (lower-cased) names already used in this direction.
fn modifier_ops(modifier: &HeaderModifier, names: &mut BTreeSet<String>) -> Option<Vec<(Op, String, String)>> {
    let sets = modifier.set.iter().map(|h| (Op::Set, &h.name, Some(&h.value)));
    let adds = modifier.add.iter().map(|h| (Op::Add, &h.name, Some(&h.value)));
    let removes = modifier.remove.iter().map(|n| (Op::Remove, n, None));
    let mut out = Vec::new();
    for (op, name, value) in sets.chain(adds).chain(removes) {
        if !is_fetch_name(name) || !names.insert(name.to_ascii_lowercase()) || value.is_some_and(|v| !map_safe(v)) {
            return None;
        }
        out.push((op, name.clone(), value.cloned().unwrap_or_else(|| "1".into())));
    }
    Some(out)
}

/// The rule's header operations when every filter of it can be carried by maps.
fn header_ops(entry: &HttpRouteEntry) -> Option<Vec<(Direction, Op, String, String)>> {
    let (mut request, mut response) = (BTreeSet::new(), BTreeSet::new());
    let mut out = Vec::new();
    for filter in &entry.filters {
        let (direction, names, modifier) = match filter {
            HttpFilter::RequestHeaderModifier(m) => (Direction::Request, &mut request, m),
            HttpFilter::ResponseHeaderModifier(m) => (Direction::Response, &mut response, m),
            _ => return None,
        };
        out.extend(modifier_ops(modifier, names)?.into_iter().map(|(op, name, value)| (direction, op, name, value)));
    }
    Some(out)
}

/// The timeout a rule's lines would set (the smaller of its two, when set).
pub(crate) fn timeout_ms(entry: &HttpRouteEntry) -> Option<u64> {
    let timeouts = entry.timeouts.as_ref()?;
    [timeouts.backend_request_ms, timeouts.request_ms].into_iter().flatten().filter(|ms| *ms > 0).min()
}

/// Whether a rule's filters and timeouts can all be carried by maps (its forwarding is decided
/// separately, see [`super::dispatch`]).
pub(crate) fn mappable(entry: &HttpRouteEntry) -> bool {
    entry.retry.is_none() && entry.session_persistence.is_none() && header_ops(entry).is_some()
}

impl Grouped {
    /// Records what rule `number` needs (only for a [`mappable`] rule).
    pub(crate) fn add(&mut self, number: usize, entry: &HttpRouteEntry) {
        for (direction, op, name, value) in header_ops(entry).unwrap_or_default() {
            self.headers.entry((direction, op, name)).or_default().push((number, value));
        }
        if let Some(ms) = timeout_ms(entry) {
            self.timeouts.push((number, ms));
        }
    }

    /// Writes the map files and their lines: the timeout first (so the backend's `set-timeout`
    /// sees it), then request headers, then response headers, each set, add, remove.
    pub(crate) fn render(&self, ctx: &Ctx<'_>, out: &mut Output, port: &Port) {
        if !self.timeouts.is_empty() {
            let file = super::dispatch::map_file(ctx, port, "timeouts");
            let path = super::dispatch::map_path(ctx, &file);
            super::dispatch::write_map(out, &file, self.timeouts.iter().map(|(n, ms)| (n.to_string(), ms.to_string())));
            out.line(&format!("http-request set-var(txn.tmo) var(txn.rule),map_str_int({path}) if {{ var(txn.rule),map_str_int({path}) -m found }}"));
        }
        for (n, ((direction, op, name), entries)) in self.headers.iter().enumerate() {
            let file = super::dispatch::map_file(ctx, port, &format!("header{n}"));
            let path = super::dispatch::map_path(ctx, &file);
            super::dispatch::write_map(out, &file, entries.iter().map(|(number, value)| (number.to_string(), value.clone())));
            let directive = match direction {
                Direction::Request => "http-request",
                Direction::Response => "http-response",
            };
            let found = format!("{{ var(txn.rule),map_str({path}) -m found }}");
            let line = match op {
                Op::Set => format!("{directive} set-header {name} %[var(txn.rule),map_str({path})] if {found}"),
                Op::Add => format!("{directive} add-header {name} %[var(txn.rule),map_str({path})] if {found}"),
                Op::Remove => format!("{directive} del-header {name} if {found}"),
            };
            out.line(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use portico_model::ir::{Header, HttpAction, HttpMatch, RouteSource, UrlRewrite};

    use super::*;

    fn entry(filters: Vec<HttpFilter>) -> HttpRouteEntry {
        HttpRouteEntry {
            source: RouteSource { kind: portico_model::RouteKind::Http, namespace: "ns".into(), name: "r".into(), rule: 0, rule_name: None, r#match: 0 },
            matcher: HttpMatch::default(),
            filters,
            action: HttpAction::Forward { backends: Vec::new() }.into(),
            timeouts: None,
            retry: None,
            session_persistence: None,
        }
    }

    fn modifier(set: &[(&str, &str)], remove: &[&str]) -> HeaderModifier {
        HeaderModifier {
            set: set.iter().map(|(name, value)| Header { name: name.to_string(), value: value.to_string() }).collect(),
            add: Vec::new(),
            remove: remove.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn only_what_a_map_gives_back_unchanged_and_in_any_order_is_grouped() {
        let request = |set: &[(&str, &str)], remove: &[&str]| entry(vec![HttpFilter::RequestHeaderModifier(modifier(set, remove))]);
        assert!(mappable(&request(&[("x-a", "a b%c")], &["x-b"])));
        // The same name in two operations: their order matters, so lines keep it.
        assert!(!mappable(&request(&[("x-a", "1")], &["X-A"])));
        for value in ["", " lead", "trail ", "tab\tin\u{7}"] {
            assert!(!mappable(&request(&[("x-a", value)], &[])), "{value:?}");
        }
        assert!(!mappable(&request(&[("x a", "1")], &[])));
        // The same name once per direction is fine.
        let both =
            entry(vec![HttpFilter::RequestHeaderModifier(modifier(&[("x-a", "1")], &[])), HttpFilter::ResponseHeaderModifier(modifier(&[("x-a", "2")], &[]))]);
        assert!(mappable(&both));
        let rewrite = entry(vec![HttpFilter::UrlRewrite(UrlRewrite { hostname: Some("h".into()), path: None })]);
        assert!(!mappable(&rewrite));
    }
}
