//! Pure: one HTTP(S) port of the IR -> one URL map.
//!
//! Each virtual host becomes a host rule and a path matcher; each IR entry becomes route rules
//! whose priorities follow the IR's order (unique per path matcher, as GCP requires). Prefixes
//! are segment-aware: `/foo` becomes `fullPathMatch: /foo` plus `prefixMatch: /foo/`, so it never
//! matches `/foobar`. Methods are `:method` header matches. Invalid backends and unmatched
//! requests go to the sink backend service with an injected abort (500 / 404).

use portico_model::ir::{self, HttpAction, HttpFilter, PathMatch, PathRewrite, ValueMatchType};
use serde_json::{Map, Value, json};

use crate::names::digest;

/// What the compiler needs to know about backend services.
pub trait BackendLinks {
    /// The backend service link of an IR backend id (`None`: not programmable; the sink is used).
    fn backend(&self, id: &str) -> Option<String>;
    /// The sink: a backend service without backends, used with injected aborts.
    fn sink(&self) -> String;
}

/// The route rules of one IR route on one path matcher (before priorities are assigned).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteRules {
    /// `Kind/namespace/name` of the route.
    pub route: portico_model::ir::RouteKey,
    pub rules: Vec<Value>,
}

/// One path matcher's content before admission.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRules {
    pub hostname: String,
    pub matcher: String,
    pub routes: Vec<RouteRules>,
}

/// Route rules of every virtual host of a port, grouped by route in IR order.
pub fn host_rules(port: &ir::Port, links: &dyn BackendLinks) -> Vec<HostRules> {
    port.virtual_hosts.iter().map(|vhost| host(vhost, links)).collect()
}

fn host(vhost: &ir::VirtualHost, links: &dyn BackendLinks) -> HostRules {
    let mut routes: Vec<RouteRules> = Vec::new();
    for entry in &vhost.routes {
        let route = entry.source.route();
        let rules = entry_rules(entry, links);
        match routes.last_mut() {
            Some(last) if last.route == route => last.rules.extend(rules),
            _ => routes.push(RouteRules { route, rules }),
        }
    }
    HostRules { hostname: vhost.hostname.clone(), matcher: format!("h-{}", &digest(&[&vhost.hostname])[..12]), routes }
}

/// The URL map body for admitted route rules (priorities assigned in order).
pub fn url_map(name: &str, description: &str, hosts: &[HostRules], links: &dyn BackendLinks) -> Value {
    let mut host_rules = Vec::new();
    let mut matchers = Vec::new();
    for host in hosts {
        host_rules.push(json!({ "hosts": [host.hostname], "pathMatcher": host.matcher }));
        let rules: Vec<Value> = host.routes.iter().flat_map(|r| r.rules.iter().cloned()).enumerate().map(|(i, rule)| with_priority(rule, i)).collect();
        let mut matcher = json!({ "name": host.matcher, "defaultService": links.sink(), "defaultRouteAction": abort(404) });
        if !rules.is_empty() {
            matcher["routeRules"] = Value::Array(rules);
        }
        matchers.push(matcher);
    }
    json!({
        "name": name,
        "description": description,
        "defaultService": links.sink(),
        "defaultRouteAction": abort(404),
        "hostRules": host_rules,
        "pathMatchers": matchers,
    })
}

fn with_priority(mut rule: Value, priority: usize) -> Value {
    if let Some(object) = rule.as_object_mut() {
        object.insert("priority".into(), json!(priority));
    }
    rule
}

/// A fault-injection action that answers every request with `status`.
fn abort(status: u16) -> Value {
    json!({ "faultInjectionPolicy": { "abort": { "httpStatus": status, "percentage": 100.0 } } })
}

/// How one match rule's path was written, for prefix rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathPiece {
    /// The whole path matched (`fullPathMatch` / `regexMatch`).
    Whole,
    /// A `prefixMatch` that ends with `/`.
    SlashPrefix,
}

/// The route rules of one IR entry: one rule, or one per path piece when a prefix rewrite
/// must differ between `/foo` and `/foo/...`.
fn entry_rules(entry: &ir::HttpRouteEntry, links: &dyn BackendLinks) -> Vec<Value> {
    let pieces = match_rules(&entry.matcher);
    let per_piece = needs_piece_rewrite(entry);
    let groups: Vec<Vec<(Value, PathPiece)>> = if per_piece { pieces.into_iter().map(|p| vec![p]).collect() } else { vec![pieces] };
    groups.into_iter().map(|group| rule(entry, &group, links)).collect()
}

fn needs_piece_rewrite(entry: &ir::HttpRouteEntry) -> bool {
    let prefix_rewrite = |p: &Option<PathRewrite>| matches!(p, Some(PathRewrite::ReplacePrefixMatch(_)));
    let in_filters = entry.filters.iter().any(|f| matches!(f, HttpFilter::UrlRewrite(r) if prefix_rewrite(&r.path)));
    in_filters || matches!(&*entry.action, HttpAction::Redirect(r) if prefix_rewrite(&r.path))
}

fn rule(entry: &ir::HttpRouteEntry, pieces: &[(Value, PathPiece)], links: &dyn BackendLinks) -> Value {
    let piece = pieces.first().map_or(PathPiece::Whole, |p| p.1);
    let mut rule = Map::new();
    rule.insert("matchRules".into(), Value::Array(pieces.iter().map(|p| p.0.clone()).collect()));
    rule.insert("description".into(), json!(format!("{}/{}/{} rule {}", entry.source.kind, entry.source.namespace, entry.source.name, entry.source.rule)));
    if let Some(headers) = header_action(&entry.filters) {
        rule.insert("headerAction".into(), headers);
    }
    match &*entry.action {
        HttpAction::Redirect(redirect) => {
            rule.insert("urlRedirect".into(), url_redirect(redirect, piece));
        }
        HttpAction::Forward { backends } => {
            rule.insert("routeAction".into(), forward(entry, backends, piece, links));
        }
        HttpAction::FixedResponse { status, .. } => {
            let mut action = abort(*status);
            action["weightedBackendServices"] = json!([{ "backendService": links.sink(), "weight": 1000 }]);
            rule.insert("routeAction".into(), action);
        }
    }
    Value::Object(rule)
}

/// Match rules of an IR match: a segment-aware prefix needs two (ORed within the route rule).
fn match_rules(matcher: &ir::HttpMatch) -> Vec<(Value, PathPiece)> {
    let paths: Vec<(Value, PathPiece)> = match &matcher.path {
        PathMatch::Exact(path) => vec![(json!({ "fullPathMatch": path }), PathPiece::Whole)],
        PathMatch::RegularExpression(regex) => vec![(json!({ "regexMatch": regex }), PathPiece::Whole)],
        PathMatch::Prefix(prefix) => {
            let trimmed = prefix.trim_end_matches('/');
            if trimmed.is_empty() {
                vec![(json!({ "prefixMatch": "/" }), PathPiece::SlashPrefix)]
            } else {
                vec![(json!({ "fullPathMatch": trimmed }), PathPiece::Whole), (json!({ "prefixMatch": format!("{trimmed}/") }), PathPiece::SlashPrefix)]
            }
        }
    };
    let mut headers: Vec<Value> = matcher.method.iter().map(|m| json!({ "headerName": ":method", "exactMatch": m })).collect();
    headers.extend(matcher.headers.iter().map(|h| value_match("headerName", h)));
    let queries: Vec<Value> = matcher.query_params.iter().map(|q| value_match("name", q)).collect();
    paths
        .into_iter()
        .map(|(mut rule, piece)| {
            if !headers.is_empty() {
                rule["headerMatches"] = Value::Array(headers.clone());
            }
            if !queries.is_empty() {
                rule["queryParameterMatches"] = Value::Array(queries.clone());
            }
            (rule, piece)
        })
        .collect()
}

fn value_match(name_field: &str, value: &ir::ValueMatch) -> Value {
    let kind = match value.match_type {
        ValueMatchType::Exact => "exactMatch",
        ValueMatchType::RegularExpression => "regexMatch",
    };
    let mut out = Map::new();
    out.insert(name_field.into(), json!(value.name));
    out.insert(kind.into(), json!(value.value));
    Value::Object(out)
}

/// The replacement for a matched prefix on one path piece: `/foo` itself becomes the
/// replacement, `/foo/...` keeps exactly one `/` between the replacement and the rest.
fn replaced_prefix(replacement: &str, piece: PathPiece) -> String {
    match piece {
        PathPiece::Whole if replacement.is_empty() => "/".into(),
        PathPiece::Whole => replacement.into(),
        PathPiece::SlashPrefix => format!("{}/", replacement.trim_end_matches('/')),
    }
}

fn url_redirect(redirect: &ir::Redirect, piece: PathPiece) -> Value {
    let code = match redirect.status_code {
        301 => "MOVED_PERMANENTLY_DEFAULT",
        303 => "SEE_OTHER",
        307 => "TEMPORARY_REDIRECT",
        308 => "PERMANENT_REDIRECT",
        _ => "FOUND",
    };
    let mut out = json!({ "redirectResponseCode": code, "stripQuery": false });
    if redirect.scheme.as_deref() == Some("https") {
        out["httpsRedirect"] = json!(true);
    }
    if let Some(host) = &redirect.hostname {
        out["hostRedirect"] = json!(host);
    }
    match &redirect.path {
        Some(PathRewrite::ReplaceFullPath(path)) => out["pathRedirect"] = json!(path),
        // The whole path matched: the new path is the replacement itself.
        Some(PathRewrite::ReplacePrefixMatch(prefix)) if piece == PathPiece::Whole => out["pathRedirect"] = json!(replaced_prefix(prefix, piece)),
        Some(PathRewrite::ReplacePrefixMatch(prefix)) => out["prefixRedirect"] = json!(replaced_prefix(prefix, piece)),
        None => {}
    }
    out
}

fn forward(entry: &ir::HttpRouteEntry, backends: &[ir::WeightedBackend], piece: PathPiece, links: &dyn BackendLinks) -> Value {
    let weights = scale_weights(&backends.iter().map(|b| b.weight).collect::<Vec<_>>());
    let mut services = Vec::new();
    for (backend, weight) in backends.iter().zip(weights) {
        let link = match &backend.target {
            ir::BackendTarget::Backend { id } => links.backend(id).unwrap_or_else(|| links.sink()),
            ir::BackendTarget::Invalid { .. } => links.sink(),
        };
        let mut service = json!({ "backendService": link, "weight": weight });
        if let Some(headers) = header_action(&backend.filters) {
            service["headerAction"] = headers;
        }
        services.push(service);
    }
    let mut action = json!({ "weightedBackendServices": services });
    if services_all_zero(&action) {
        return json!({ "weightedBackendServices": [{ "backendService": links.sink(), "weight": 1000 }], "faultInjectionPolicy": abort(500)["faultInjectionPolicy"] });
    }
    for filter in &entry.filters {
        match filter {
            HttpFilter::UrlRewrite(rewrite) => action["urlRewrite"] = url_rewrite(rewrite, piece),
            HttpFilter::Cors(cors) => action["corsPolicy"] = cors_policy(cors),
            HttpFilter::RequestMirror(mirror) if action.get("requestMirrorPolicy").is_none() => {
                let link = links.backend(&mirror.backend).unwrap_or_else(|| links.sink());
                let mut policy = json!({ "backendService": link });
                if mirror.numerator < mirror.denominator {
                    policy["mirrorPercent"] = json!(f64::from(mirror.numerator) * 100.0 / f64::from(mirror.denominator.max(1)));
                }
                action["requestMirrorPolicy"] = policy;
            }
            _ => {}
        }
    }
    if let Some(retry) = &entry.retry {
        action["retryPolicy"] = retry_policy(retry);
    }
    if let Some(ms) = entry.timeouts.as_ref().and_then(|t| t.request_ms).filter(|ms| *ms > 0) {
        action["timeout"] = json!({ "seconds": (ms / 1000).to_string() });
        if ms % 1000 > 0 {
            action["timeout"]["nanos"] = json!((ms % 1000) * 1_000_000);
        }
    }
    action
}

/// The CORS filter as the route action's CORS policy: the load balancer answers preflights from
/// allowed origins and adds the CORS headers to their responses (translation admits only exact
/// origins or `*`, which the policy matches as given).
fn cors_policy(cors: &ir::Cors) -> Value {
    let mut policy = json!({ "maxAge": cors.max_age_seconds, "allowCredentials": cors.allow_credentials });
    let lists = [
        ("allowOrigins", &cors.allow_origins),
        ("allowMethods", &cors.allow_methods),
        ("allowHeaders", &cors.allow_headers),
        ("exposeHeaders", &cors.expose_headers),
    ];
    for (field, list) in lists.into_iter().filter(|(_, l)| !l.is_empty()) {
        policy[field] = json!(list);
    }
    // Browsers send an origin without its scheme's default port; GCP compares origins as strings.
    if !cors.allow_origins.is_empty() {
        policy["allowOrigins"] = json!(cors.allow_origins.iter().map(|o| without_default_port(o)).collect::<Vec<_>>());
    }
    policy
}

/// `https://a.test:443` -> `https://a.test` (and `:80` for `http`).
fn without_default_port(origin: &str) -> &str {
    let https = origin.strip_suffix(":443").filter(|_| origin.starts_with("https://"));
    https.or_else(|| origin.strip_suffix(":80").filter(|_| origin.starts_with("http://"))).unwrap_or(origin)
}

/// `retry` as the route action's retry policy: the status codes as GCP's classes (translation
/// admits only codes the classes cover exactly) and connection failures, which the spec asks to
/// retry whenever a rule retries; `attempts` retries (GCP's default, 1, when unset).
fn retry_policy(retry: &ir::Retry) -> Value {
    let server: Vec<u16> = retry.codes.iter().copied().filter(|c| (500..=599).contains(c)).collect();
    let mut conditions = vec!["connect-failure"];
    if server.len() == 100 {
        conditions.push("5xx");
    } else if !server.is_empty() {
        conditions.push("gateway-error");
    }
    if retry.codes.contains(&409) {
        conditions.push("retriable-4xx");
    }
    let mut policy = json!({ "retryConditions": conditions });
    if let Some(attempts) = retry.attempts {
        policy["numRetries"] = json!(attempts);
    }
    policy
}

fn services_all_zero(action: &Value) -> bool {
    action["weightedBackendServices"].as_array().is_none_or(|s| s.iter().all(|s| s["weight"].as_u64() == Some(0)))
}

fn url_rewrite(rewrite: &ir::UrlRewrite, piece: PathPiece) -> Value {
    let mut out = json!({});
    if let Some(host) = &rewrite.hostname {
        out["hostRewrite"] = json!(host);
    }
    match &rewrite.path {
        Some(PathRewrite::ReplacePrefixMatch(prefix)) => out["pathPrefixRewrite"] = json!(replaced_prefix(prefix, piece)),
        // Only reachable for exact and regex matches (capabilities claim no full-path rewrite
        // on prefixes): the whole path is the matched part there.
        Some(PathRewrite::ReplaceFullPath(path)) if piece == PathPiece::Whole => out["pathPrefixRewrite"] = json!(path),
        _ => {}
    }
    out
}

/// Request/response header changes of the filters (`set` replaces, `add` appends).
fn header_action(filters: &[HttpFilter]) -> Option<Value> {
    let mut out = Map::new();
    for filter in filters {
        let (modifier, add_key, remove_key) = match filter {
            HttpFilter::RequestHeaderModifier(m) => (m, "requestHeadersToAdd", "requestHeadersToRemove"),
            HttpFilter::ResponseHeaderModifier(m) => (m, "responseHeadersToAdd", "responseHeadersToRemove"),
            _ => continue,
        };
        let set = modifier.set.iter().map(|h| json!({ "headerName": h.name, "headerValue": h.value, "replace": true }));
        let add = modifier.add.iter().map(|h| json!({ "headerName": h.name, "headerValue": h.value, "replace": false }));
        let headers: Vec<Value> = set.chain(add).collect();
        if !headers.is_empty() {
            out.insert(add_key.into(), Value::Array(headers));
        }
        if !modifier.remove.is_empty() {
            out.insert(remove_key.into(), json!(modifier.remove));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// GCP weights are 0..=1000 and relative: scale down only when needed, never turning a
/// non-zero weight into zero.
pub fn scale_weights(weights: &[u32]) -> Vec<u32> {
    let max = weights.iter().copied().max().unwrap_or(0);
    if max <= 1000 {
        return weights.to_vec();
    }
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    weights
        .iter()
        .map(|w| match *w {
            0 => 0,
            w => ((u64::from(w) * 1000 / total) as u32).clamp(1, 1000),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_keep_small_shares_and_fit_the_range() {
        assert_eq!(scale_weights(&[80, 20]), vec![80, 20]);
        assert_eq!(scale_weights(&[1_000_000, 1, 0]), vec![999, 1, 0]);
        assert!(scale_weights(&[5000, 5000]).iter().all(|w| *w == 500));
    }

    #[test]
    fn retry_codes_become_classes_and_connection_failures_are_always_retried() {
        let policy = |codes: Vec<u16>, attempts| retry_policy(&ir::Retry { attempts, codes });
        assert_eq!(policy(vec![], None), serde_json::json!({ "retryConditions": ["connect-failure"] }));
        assert_eq!(
            policy(vec![409, 502, 503, 504], Some(3)),
            serde_json::json!({ "retryConditions": ["connect-failure", "gateway-error", "retriable-4xx"], "numRetries": 3 })
        );
        assert_eq!(policy((500..=599).collect(), None)["retryConditions"], serde_json::json!(["connect-failure", "5xx"]));
    }

    #[test]
    fn prefix_replacement_keeps_one_slash() {
        assert_eq!(replaced_prefix("/", PathPiece::SlashPrefix), "/");
        assert_eq!(replaced_prefix("/bar", PathPiece::SlashPrefix), "/bar/");
        assert_eq!(replaced_prefix("/bar/", PathPiece::Whole), "/bar/");
        assert_eq!(replaced_prefix("", PathPiece::Whole), "/");
    }
}
