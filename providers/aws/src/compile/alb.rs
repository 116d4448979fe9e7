//! IR HTTP routing -> ALB listener rules: conditions, actions and transforms for one IR entry,
//! compaction of a route's neighbouring entries, and listener-hostname isolation.

use portico_model::ir::{self, HttpAction, HttpFilter, HttpRouteEntry, PathMatch, PathRewrite, ValueMatchType, VirtualHost};

use crate::native::{Action, Condition, Rule, Transform};

/// ALB glob characters: a literal value containing them must be written as a regex.
fn has_glob(text: &str) -> bool {
    text.contains('*') || text.contains('?')
}

/// A regular expression matching `text` literally.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Gateway API prefixes ignore one trailing slash: `/foo/` is the prefix `/foo`.
fn trimmed_prefix(prefix: &str) -> &str {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// The path condition. A segment-aware prefix `/foo` is the two globs `/foo` and `/foo/*`, or
/// one regex when `compact` (the rule is short of condition values) or the prefix has glob
/// characters; an exact path with glob characters is a regex, never a wider glob.
fn path_condition(path: &PathMatch, compact: bool) -> Option<Condition> {
    let (values, regex) = match path {
        PathMatch::Prefix(p) if trimmed_prefix(p) == "/" => return None,
        PathMatch::Prefix(p) => {
            let p = trimmed_prefix(p);
            if has_glob(p) || compact { (vec![], vec![format!("^{}(/.*)?$", regex_escape(p))]) } else { (vec![p.to_string(), format!("{p}/*")], vec![]) }
        }
        PathMatch::Exact(p) if has_glob(p) => (vec![], vec![format!("^{}$", regex_escape(p))]),
        PathMatch::Exact(p) => (vec![p.clone()], vec![]),
        PathMatch::RegularExpression(r) => (vec![], vec![r.clone()]),
    };
    Some(Condition::Path { values, regex })
}

/// `\`-escape ALB query-string wildcards so the value matches literally.
fn query_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The conditions of one IR entry on a virtual host.
pub fn conditions(host: &str, matcher: &ir::HttpMatch, max_values: usize) -> Vec<Condition> {
    let mut out = Vec::new();
    if host != "*" {
        out.push(Condition::Host { values: vec![host.to_string()] });
    }
    if let Some(method) = &matcher.method {
        out.push(Condition::Method { values: vec![method.clone()] });
    }
    for header in &matcher.headers {
        let (values, regex) = match header.match_type {
            ValueMatchType::Exact if has_glob(&header.value) => (vec![], vec![format!("^{}$", regex_escape(&header.value))]),
            ValueMatchType::Exact => (vec![header.value.clone()], vec![]),
            ValueMatchType::RegularExpression => (vec![], vec![header.value.clone()]),
        };
        out.push(Condition::Header { name: header.name.clone(), values, regex });
    }
    if !matcher.query_params.is_empty() {
        let pairs = matcher.query_params.iter().map(|q| (q.name.clone(), query_literal(&q.value))).collect();
        out.push(Condition::Query { pairs });
    }
    let others: usize = out.iter().map(Condition::value_count).sum();
    if let Some(path) = path_condition(&matcher.path, others + 2 > max_values) {
        out.push(path);
    }
    if out.is_empty() {
        // An ALB rule needs a condition: "any path" is the match-everything one.
        out.push(Condition::Path { values: vec!["/*".into()], regex: vec![] });
    }
    out.sort();
    out
}

/// Scale Gateway API weights (0..=1,000,000) to ALB's 0..=999 without turning a non-zero weight
/// into zero.
pub fn scale_weights(weights: &[u32]) -> Vec<i32> {
    let max = weights.iter().copied().max().unwrap_or(0);
    if max <= 999 {
        return weights.iter().map(|w| *w as i32).collect();
    }
    weights.iter().map(|w| if *w == 0 { 0 } else { ((u64::from(*w) * 999 / u64::from(max)) as i32).max(1) }).collect()
}

/// The ALB redirect for a Gateway API redirect on a listener of `listener_protocol`.
fn redirect(r: &ir::Redirect, matcher: &ir::HttpMatch) -> (Action, Vec<Transform>) {
    let protocol = r.scheme.as_ref().map_or("#{protocol}".to_string(), |s| s.to_ascii_uppercase());
    let port = match (r.port, &r.scheme) {
        (Some(port), _) => port.to_string(),
        (None, Some(s)) if s.eq_ignore_ascii_case("https") => "443".into(),
        (None, Some(_)) => "80".into(),
        (None, None) => "#{port}".into(),
    };
    let mut transforms = Vec::new();
    let path = match &r.path {
        None => "/#{path}".to_string(),
        Some(PathRewrite::ReplaceFullPath(p)) => p.clone(),
        Some(PathRewrite::ReplacePrefixMatch(new)) => {
            transforms.push(prefix_rewrite(matcher, new));
            "/#{path}".to_string()
        }
    };
    let action = Action::Redirect {
        protocol,
        host: r.hostname.clone().unwrap_or_else(|| "#{host}".into()),
        port,
        path,
        query: "#{query}".into(),
        status_code: format!("HTTP_{}", r.status_code),
    };
    (action, transforms)
}

/// A url-rewrite transform that replaces the matched (segment-aware) prefix with `new`.
fn prefix_rewrite(matcher: &ir::HttpMatch, new: &str) -> Transform {
    let prefix = match &matcher.path {
        PathMatch::Prefix(p) => trimmed_prefix(p).to_string(),
        _ => "/".into(),
    };
    let new = new.trim_end_matches('/');
    if prefix == "/" {
        return Transform::UrlRewrite { regex: "^/(.*)$".into(), replace: format!("{new}/$1") };
    }
    if new.is_empty() {
        return Transform::UrlRewrite { regex: format!("^{}/?(.*)$", regex_escape(&prefix)), replace: "/$1".into() };
    }
    Transform::UrlRewrite { regex: format!("^{}(/.*)?$", regex_escape(&prefix)), replace: format!("{new}$1") }
}

/// Transforms for the entry's URLRewrite filter.
fn rewrite_transforms(entry: &HttpRouteEntry) -> Vec<Transform> {
    let mut out = Vec::new();
    for filter in &entry.filters {
        let HttpFilter::UrlRewrite(rewrite) = filter else { continue };
        if let Some(host) = &rewrite.hostname {
            out.push(Transform::HostHeaderRewrite { regex: "^.*$".into(), replace: host.clone() });
        }
        match &rewrite.path {
            Some(PathRewrite::ReplaceFullPath(p)) => out.push(Transform::UrlRewrite { regex: "^.*$".into(), replace: p.clone() }),
            Some(PathRewrite::ReplacePrefixMatch(new)) => out.push(prefix_rewrite(&entry.matcher, new)),
            None => {}
        }
    }
    out
}

/// Where a backend of a forward action goes: its target group, or the one without targets.
pub trait TargetGroupNames {
    fn for_backend(&mut self, backend_id: &str) -> Option<String>;
    fn unavailable(&mut self) -> String;
}

/// The action (and transforms) of one IR entry.
pub fn action(entry: &HttpRouteEntry, groups: &mut dyn TargetGroupNames) -> (Action, Vec<Transform>) {
    match &*entry.action {
        HttpAction::FixedResponse { status, reason } => (Action::fixed(*status, reason), Vec::new()),
        HttpAction::Redirect(r) => redirect(r, &entry.matcher),
        HttpAction::Forward { backends } => {
            let weights: Vec<u32> = backends.iter().map(|b| b.weight).collect();
            let mut target_groups: Vec<(String, i32)> = Vec::new();
            for (backend, weight) in backends.iter().zip(scale_weights(&weights)) {
                let name = match &backend.target {
                    ir::BackendTarget::Backend { id } => groups.for_backend(id),
                    ir::BackendTarget::Invalid { .. } => None,
                };
                let name = name.unwrap_or_else(|| groups.unavailable());
                match target_groups.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, w)) => *w = (*w + weight).min(999),
                    None => target_groups.push((name, weight)),
                }
            }
            if target_groups.iter().all(|(_, w)| *w == 0) {
                return (Action::fixed(500, "no backend is available for this route"), Vec::new());
            }
            target_groups.sort();
            (Action::Forward { target_groups }, rewrite_transforms(entry))
        }
    }
}

fn route_id(source: &ir::RouteSource) -> ir::RouteKey {
    source.route()
}

/// The rules of one virtual host, in order. Neighbouring entries of the same route whose
/// conditions differ only in path globs, with the same action, share one rule while the
/// condition-value quota allows.
pub fn virtual_host_rules(vhost: &VirtualHost, max_values: usize, groups: &mut dyn TargetGroupNames) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for entry in &vhost.routes {
        let (action, transforms) = action(entry, groups);
        let rule = Rule { conditions: conditions(&vhost.hostname, &entry.matcher, max_values), action, transforms, routes: vec![route_id(&entry.source)] };
        if let Some(last) = rules.last_mut()
            && last.routes == rule.routes
            && merge_paths(last, &rule, max_values)
        {
            continue;
        }
        rules.push(rule);
    }
    rules
}

/// Fold `next`'s path globs into `into` when that is all that differs.
fn merge_paths(into: &mut Rule, next: &Rule, max_values: usize) -> bool {
    if into.action != next.action || !into.transforms.is_empty() || !next.transforms.is_empty() {
        return false;
    }
    let split = |r: &Rule| {
        let (paths, rest): (Vec<&Condition>, Vec<&Condition>) = r.conditions.iter().partition(|c| matches!(c, Condition::Path { .. }));
        (paths.into_iter().cloned().collect::<Vec<_>>(), rest.into_iter().cloned().collect::<Vec<_>>())
    };
    let (mine, my_rest) = split(into);
    let (theirs, their_rest) = split(next);
    let globs = |c: &[Condition]| match c {
        [Condition::Path { values, regex }] if regex.is_empty() => Some(values.clone()),
        _ => None,
    };
    let (Some(mut values), Some(more)) = (globs(&mine), globs(&theirs)) else { return false };
    let total: usize = my_rest.iter().map(Condition::value_count).sum::<usize>() + values.len() + more.len();
    if my_rest != their_rest || total > max_values {
        return false;
    }
    values.extend(more);
    into.conditions = my_rest;
    into.conditions.push(Condition::Path { values, regex: vec![] });
    into.conditions.sort();
    true
}

/// Listener-hostname isolation: a request for a host that a more specific virtual host serves
/// must not fall through to a wider one's rules (ALB evaluates all rules in one list), so the
/// specific host ends with a 404 for everything its own rules do not match.
pub fn isolation_rule(vhost: &VirtualHost, later: &[VirtualHost]) -> Option<Rule> {
    if vhost.hostname == "*" || !later.iter().any(|l| covers(&l.hostname, &vhost.hostname)) {
        return None;
    }
    let conditions = vec![Condition::Host { values: vec![vhost.hostname.clone()] }];
    Some(Rule { conditions, action: Action::fixed(404, "no route matches"), transforms: Vec::new(), routes: Vec::new() })
}

/// Whether the virtual host `wide` also serves some host `narrow` serves.
fn covers(wide: &str, narrow: &str) -> bool {
    if wide == "*" {
        return true;
    }
    match wide.strip_prefix('*') {
        Some(suffix) => narrow.ends_with(suffix) && narrow.len() > suffix.len(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_keep_non_zero_shares() {
        assert_eq!(scale_weights(&[1, 1_000_000]), vec![1, 999]);
        assert_eq!(scale_weights(&[0, 20, 80]), vec![0, 20, 80]);
        assert_eq!(scale_weights(&[500_000, 500_000, 0]), vec![999, 999, 0]);
    }

    #[test]
    fn prefixes_are_segment_aware_and_exact_globs_become_regex() {
        let cond = |p: PathMatch| path_condition(&p, false);
        assert_eq!(cond(PathMatch::Prefix("/foo/".into())), Some(Condition::Path { values: vec!["/foo".into(), "/foo/*".into()], regex: vec![] }));
        assert_eq!(cond(PathMatch::Prefix("/".into())), None);
        assert_eq!(cond(PathMatch::Exact("/a*b".into())), Some(Condition::Path { values: vec![], regex: vec!["^/a\\*b$".into()] }));
        assert_eq!(path_condition(&PathMatch::Prefix("/foo".into()), true), Some(Condition::Path { values: vec![], regex: vec!["^/foo(/.*)?$".into()] }));
    }

    #[test]
    fn wildcard_hosts_cover_subdomains_only() {
        assert!(covers("*.example.com", "a.example.com"));
        assert!(covers("*", "a.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("b.example.com", "a.example.com"));
    }
}
