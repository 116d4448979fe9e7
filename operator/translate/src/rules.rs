//! Route rules checked against what the provider can express, and compiled to IR pieces.
//! A rule that asks for something the platform cannot do is dropped with a message naming the
//! field and the provider; the route's other rules are unaffected.

use portico_model::ir::{
    Header, HeaderModifier, HttpAction, HttpFilter, HttpMatch, PathMatch, PathRewrite, Redirect, RequestMirror, Retry, SessionPersistence, Timeouts,
    UrlRewrite, ValueMatch, ValueMatchType, WeightedBackend,
};
use portico_model::{Capabilities, Fact, Feature};

use crate::backends::{ResolvedBackends, forward_action};
use crate::policies;
use crate::routes::{FilterSpec, HeaderModifierSpec, MatchSpec, PathModifierSpec, PathSpec, Rule};

/// Why a rule cannot be programmed.
#[derive(Debug, Clone)]
pub struct RuleProblem {
    /// True for filter combinations the spec calls incompatible.
    pub incompatible: bool,
    pub message: String,
}

pub struct CompiledRule {
    pub matches: Vec<HttpMatch>,
    /// Per match, GRPCRoute's (service, method) lengths for its precedence rules.
    pub grpc_lengths: Vec<Option<(usize, usize)>>,
    pub filters: Vec<HttpFilter>,
    pub action: std::sync::Arc<HttpAction>,
    pub timeouts: Option<Timeouts>,
    pub retry: Option<Retry>,
    pub session_persistence: Option<SessionPersistence>,
}

/// Backends of a rule that would get traffic (weight above 0).
fn live_backends(rule: &Rule) -> usize {
    rule.backends.iter().filter(|b| b.weight > 0).count()
}

pub(crate) struct Checker<'c> {
    pub(crate) caps: &'c Capabilities,
    pub(crate) field: String,
}

impl<'c> Checker<'c> {
    /// The checker of a field below this one (`<field>.<sub>`).
    pub(crate) fn at(&self, sub: &str) -> Checker<'c> {
        Checker { caps: self.caps, field: format!("{}.{sub}", self.field) }
    }

    pub(crate) fn unsupported(&self, what: &str) -> RuleProblem {
        RuleProblem { incompatible: false, message: format!("{}: {what} is not supported by {}", self.field, self.caps.platform_name()) }
    }

    pub(crate) fn require_feature(&self, feature: Feature, what: &str) -> Result<(), RuleProblem> {
        if self.caps.supports(feature) { Ok(()) } else { Err(self.unsupported(what)) }
    }

    pub(crate) fn require_fact(&self, fact: Fact, what: &str) -> Result<(), RuleProblem> {
        if self.caps.has(fact) { Ok(()) } else { Err(self.unsupported(what)) }
    }

    pub(crate) fn invalid(&self, message: impl std::fmt::Display) -> RuleProblem {
        RuleProblem { incompatible: false, message: format!("{}: {message}", self.field) }
    }
}

/// Compile one HTTP/gRPC rule. `has_host` tells whether native rules will carry a host condition.
pub fn compile_http_rule(
    rule_index: usize,
    rule: &Rule,
    resolved: &ResolvedBackends,
    caps: &Capabilities,
    has_host: bool,
) -> Result<CompiledRule, RuleProblem> {
    let field = format!("spec.rules[{rule_index}]");
    let matches = compile_matches(&field, rule, caps, has_host)?;
    check_filter_combination(&field, &rule.filters)?;
    let mut filters = Vec::new();
    let mut redirect = None;
    for (i, filter) in rule.filters.iter().enumerate() {
        let checker = Checker { caps, field: format!("{field}.filters[{i}]") };
        match compile_filter(&checker, filter, rule)? {
            CompiledFilter::Filter(f) => filters.push(f),
            CompiledFilter::Redirect(r) => redirect = Some(r),
            CompiledFilter::Mirror(numerator, denominator) => {
                // An unresolvable mirror backend is reported in ResolvedRefs and not mirrored.
                if let Some(id) = resolved.mirrors[rule_index].get(&i) {
                    filters.push(HttpFilter::RequestMirror(RequestMirror { backend: id.clone(), numerator, denominator }));
                }
            }
        }
    }
    let mirrors = filters.iter().filter(|f| matches!(f, HttpFilter::RequestMirror(_))).count();
    if mirrors > 1 {
        Checker { caps, field: field.clone() }.require_feature(Feature::HttpRouteRequestMultipleMirrors, "more than one RequestMirror")?;
    }
    let timeouts = compile_timeouts(&Checker { caps, field: format!("{field}.timeouts") }, rule)?;
    let deadline = timeouts.as_ref().and_then(|t| t.request_ms).is_some_and(|ms| ms > 0);
    let retry = rule.retry.as_ref().map(|r| policies::retry(&Checker { caps, field: format!("{field}.retry") }, r, deadline)).transpose()?;
    let session_persistence = rule
        .session_persistence
        .as_ref()
        .map(|p| policies::session_persistence(&Checker { caps, field: format!("{field}.sessionPersistence") }, p, live_backends(rule)))
        .transpose()?;
    let action = match redirect {
        Some(redirect) => HttpAction::Redirect(Box::new(redirect)),
        None => {
            let targets = compile_backends(&field, rule, &resolved.rules[rule_index], caps)?;
            forward_action(&targets)
        }
    };
    Ok(CompiledRule { grpc_lengths: grpc_lengths(rule), matches, filters, action: action.into(), timeouts, retry, session_persistence })
}

fn grpc_lengths(rule: &Rule) -> Vec<Option<(usize, usize)>> {
    if rule.matches.is_empty() { vec![None] } else { rule.matches.iter().map(|m| m.grpc_lengths).collect() }
}

/// A rule that cannot be programmed as written but whose matches can: it keeps its matches and
/// answers 500, so its requests are never served by another rule with the filter skipped (the
/// spec forbids skipping a filter). `None` when even the matches cannot be expressed.
pub fn compile_failed_rule(rule_index: usize, rule: &Rule, caps: &Capabilities, has_host: bool, problem: &RuleProblem) -> Option<CompiledRule> {
    let matches = compile_matches(&format!("spec.rules[{rule_index}]"), rule, caps, has_host).ok()?;
    let action = HttpAction::FixedResponse { status: 500, reason: format!("rule not programmed: {}", problem.message) };
    Some(CompiledRule {
        grpc_lengths: grpc_lengths(rule),
        matches,
        filters: Vec::new(),
        action: action.into(),
        timeouts: None,
        retry: None,
        session_persistence: None,
    })
}

/// Compile the backends of a TLS/TCP/UDP rule (weights and backend count checked).
pub fn compile_l4_rule(rule_index: usize, rule: &Rule, resolved: &ResolvedBackends, caps: &Capabilities) -> Result<Vec<WeightedBackend>, RuleProblem> {
    let field = format!("spec.rules[{rule_index}]");
    let targets = compile_backends(&field, rule, &resolved.rules[rule_index], caps)?;
    Ok(targets.into_iter().filter(|t| t.weight > 0).collect())
}

fn compile_backends(field: &str, rule: &Rule, targets: &[WeightedBackend], caps: &Capabilities) -> Result<Vec<WeightedBackend>, RuleProblem> {
    let checker = Checker { caps, field: format!("{field}.backendRefs") };
    let live = targets.iter().filter(|t| t.weight > 0).count();
    if live > 1 {
        checker.require_fact(Fact::WeightedBackends, "splitting traffic across several backends")?;
    }
    if let Some(limit) = caps.limits.max_backends_per_rule.filter(|l| live > *l as usize) {
        return Err(checker.invalid(format!("{live} weighted backends exceed the limit of {limit} per rule on {}", caps.platform)));
    }
    let mut out = targets.to_vec();
    for (b, backend) in rule.backends.iter().enumerate() {
        for (f, filter) in backend.filters.iter().enumerate() {
            let checker = Checker { caps, field: format!("{field}.backendRefs[{b}].filters[{f}]") };
            let compiled = match filter {
                FilterSpec::RequestHeaderModifier(m) => {
                    checker.require_feature(Feature::HttpRouteBackendRequestHeaderModification, "a backend-level RequestHeaderModifier")?;
                    HttpFilter::RequestHeaderModifier(checked_modifier(&checker, m)?)
                }
                FilterSpec::ResponseHeaderModifier(m) => {
                    checker.require_feature(Feature::HttpRouteBackendRequestHeaderModification, "a backend-level ResponseHeaderModifier")?;
                    HttpFilter::ResponseHeaderModifier(checked_modifier(&checker, m)?)
                }
                other => return Err(checker.unsupported(&format!("a backend-level {} filter", other.type_name()))),
            };
            out[b].filters.push(compiled);
        }
    }
    Ok(out)
}

fn compile_matches(field: &str, rule: &Rule, caps: &Capabilities, has_host: bool) -> Result<Vec<HttpMatch>, RuleProblem> {
    let defaults = [MatchSpec::default()];
    let specs: &[MatchSpec] = if rule.matches.is_empty() { &defaults } else { &rule.matches };
    let mut out = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let checker = Checker { caps, field: format!("{field}.matches[{i}]") };
        let compiled = compile_match(&checker, spec)?;
        if let Some(limit) = caps.limits.max_condition_values_per_rule {
            let count = condition_values(&compiled, has_host);
            if count > limit as usize {
                return Err(checker.invalid(format!(
                    "needs {count} condition values (host, path, method, headers, query parameters) but {} allows {limit} per rule",
                    caps.platform
                )));
            }
        }
        out.push(compiled);
    }
    Ok(out)
}

fn condition_values(m: &HttpMatch, has_host: bool) -> usize {
    let path = usize::from(m.path != PathMatch::Prefix("/".into()));
    usize::from(has_host) + path + usize::from(m.method.is_some()) + m.headers.len() + m.query_params.len()
}

fn compile_match(checker: &Checker<'_>, spec: &MatchSpec) -> Result<HttpMatch, RuleProblem> {
    let path = match spec.path.clone().unwrap_or(PathSpec::Prefix("/".into())) {
        PathSpec::Exact(p) => PathMatch::Exact(check_path(checker, p)?),
        PathSpec::Prefix(p) => PathMatch::Prefix(normalise_prefix(check_path(checker, p)?)),
        PathSpec::Regex(p) => {
            checker.require_fact(Fact::PathRegexMatch, "path type RegularExpression")?;
            check_regex(checker, "path", &p)?;
            PathMatch::RegularExpression(p)
        }
    };
    if spec.method.is_some() {
        checker.require_feature(Feature::HttpRouteMethodMatching, "method matching")?;
    }
    let mut headers = Vec::with_capacity(spec.headers.len());
    for h in &spec.headers {
        check_plain_name(checker, "header", &h.name)?;
        if h.regex {
            checker.require_fact(Fact::HeaderRegexMatch, "header match type RegularExpression")?;
            check_regex(checker, "header", &h.value)?;
        }
        headers.push(value_match(h.name.to_ascii_lowercase(), h.regex, &h.value));
    }
    let mut query_params = Vec::with_capacity(spec.query_params.len());
    for q in &spec.query_params {
        checker.require_feature(Feature::HttpRouteQueryParamMatching, "query parameter matching")?;
        check_plain_name(checker, "query parameter", &q.name)?;
        if q.regex {
            checker.require_fact(Fact::QueryParamRegexMatch, "query parameter match type RegularExpression")?;
            check_regex(checker, "query parameter", &q.value)?;
        }
        query_params.push(value_match(q.name.clone(), q.regex, &q.value));
    }
    // The first match of a repeated header/query name wins, as the spec requires.
    dedup_first(&mut headers);
    dedup_first(&mut query_params);
    Ok(HttpMatch { path, method: spec.method.clone(), headers, query_params })
}

fn dedup_first(matches: &mut Vec<ValueMatch>) {
    let mut seen = std::collections::BTreeSet::new();
    matches.retain(|m| seen.insert(m.name.to_ascii_lowercase()));
    matches.sort();
}

fn value_match(name: String, regex: bool, value: &str) -> ValueMatch {
    let match_type = if regex { ValueMatchType::RegularExpression } else { ValueMatchType::Exact };
    ValueMatch { name, match_type, value: value.to_string() }
}

/// Header and query parameter names Portico programs: letters, digits and `-_.~`. The API also
/// allows `!#$%&'*+^`|` in a token, which no real header uses and which some platforms' match
/// syntax (HAProxy's sample fetch arguments) cannot carry unchanged.
fn check_plain_name(checker: &Checker<'_>, what: &str, name: &str) -> Result<(), RuleProblem> {
    if name.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(&c)) {
        return Ok(());
    }
    Err(checker
        .invalid(format!("{what} name {} has characters other than letters, digits and -_.~, which Portico does not program", crate::validate::quoted(name))))
}

fn check_path(checker: &Checker<'_>, path: String) -> Result<String, RuleProblem> {
    if !path.starts_with('/') || path.contains("//") || path.contains("/./") || path.contains("/../") || path.ends_with("/..") {
        return Err(checker.invalid(format!("path {path:?} must be an absolute, normalised path")));
    }
    Ok(path)
}

/// `/foo/` and `/foo` select the same requests for a segment-aware prefix.
fn normalise_prefix(path: String) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() }
}

fn check_regex(checker: &Checker<'_>, what: &str, pattern: &str) -> Result<(), RuleProblem> {
    crate::regex::check(pattern, checker.caps.limits.regex_dialect)
        .map_err(|why| checker.invalid(format!("{what} regular expression {} {why}", crate::validate::quoted(pattern))))
}

fn check_filter_combination(field: &str, filters: &[FilterSpec]) -> Result<(), RuleProblem> {
    let mut seen: Vec<&str> = Vec::new();
    for filter in filters {
        let name = filter.type_name();
        if seen.contains(&name) && !matches!(filter, FilterSpec::RequestMirror(_) | FilterSpec::Unsupported(_)) {
            return Err(RuleProblem { incompatible: true, message: format!("{field}.filters: {name} appears more than once") });
        }
        seen.push(name);
    }
    if seen.contains(&"RequestRedirect") && seen.contains(&"URLRewrite") {
        return Err(RuleProblem { incompatible: true, message: format!("{field}.filters: RequestRedirect and URLRewrite cannot be combined") });
    }
    Ok(())
}

enum CompiledFilter {
    Filter(HttpFilter),
    Redirect(Redirect),
    Mirror(u32, u32),
}

fn compile_filter(checker: &Checker<'_>, filter: &FilterSpec, rule: &Rule) -> Result<CompiledFilter, RuleProblem> {
    match filter {
        FilterSpec::RequestHeaderModifier(m) => {
            checker.require_fact(Fact::RequestHeaderModification, "RequestHeaderModifier")?;
            Ok(CompiledFilter::Filter(HttpFilter::RequestHeaderModifier(checked_modifier(checker, m)?)))
        }
        FilterSpec::ResponseHeaderModifier(m) => {
            checker.require_feature(Feature::HttpRouteResponseHeaderModification, "ResponseHeaderModifier")?;
            Ok(CompiledFilter::Filter(HttpFilter::ResponseHeaderModifier(checked_modifier(checker, m)?)))
        }
        FilterSpec::RequestRedirect(r) => compile_redirect(checker, r, rule).map(CompiledFilter::Redirect),
        FilterSpec::UrlRewrite(r) => {
            if r.hostname.is_some() {
                checker.require_feature(Feature::HttpRouteHostRewrite, "URLRewrite of the hostname")?;
            }
            let path = r.path.as_ref().map(|p| compile_path_modifier(checker, p, rule, Feature::HttpRoutePathRewrite, "URLRewrite")).transpose()?;
            if matches!(path, Some(PathRewrite::ReplaceFullPath(_))) {
                checker.require_fact(Fact::FullPathRewrite, "URLRewrite with ReplaceFullPath")?;
            }
            Ok(CompiledFilter::Filter(HttpFilter::UrlRewrite(UrlRewrite { hostname: r.hostname.clone(), path })))
        }
        FilterSpec::RequestMirror(m) => {
            checker.require_feature(Feature::HttpRouteRequestMirror, "RequestMirror")?;
            if m.denominator <= 0 || m.numerator < 0 || m.numerator > m.denominator {
                return Err(checker.invalid(format!("mirror fraction {}/{} is not a valid share", m.numerator, m.denominator)));
            }
            if m.numerator != m.denominator {
                checker.require_feature(Feature::HttpRouteRequestPercentageMirror, "mirroring a share of requests")?;
            }
            Ok(CompiledFilter::Mirror(m.numerator as u32, m.denominator as u32))
        }
        FilterSpec::Cors(cors) => {
            if !checker.caps.supports(Feature::HttpRouteCors) {
                crate::policies::cors_exact_origins(checker, cors, rule)?;
            }
            Ok(CompiledFilter::Filter(HttpFilter::Cors(cors.clone())))
        }
        FilterSpec::Unsupported(name) => {
            Err(RuleProblem { incompatible: false, message: format!("{}: filter type {name} is not supported by Portico", checker.field) })
        }
    }
}

fn compile_redirect(checker: &Checker<'_>, r: &crate::routes::RedirectSpec, rule: &Rule) -> Result<Redirect, RuleProblem> {
    if r.scheme.is_some() {
        checker.require_feature(Feature::HttpRouteSchemeRedirect, "RequestRedirect of the scheme")?;
    }
    if r.port.is_some() {
        checker.require_feature(Feature::HttpRoutePortRedirect, "RequestRedirect of the port")?;
    }
    let path = r.path.as_ref().map(|p| compile_path_modifier(checker, p, rule, Feature::HttpRoutePathRedirect, "RequestRedirect")).transpose()?;
    let status_code = r.status_code.unwrap_or(302);
    let feature = match status_code {
        301 | 302 => None,
        303 => Some(Feature::HttpRoute303RedirectStatusCode),
        307 => Some(Feature::HttpRoute307RedirectStatusCode),
        308 => Some(Feature::HttpRoute308RedirectStatusCode),
        other => return Err(checker.invalid(format!("redirect status code {other} is not one of 301, 302, 303, 307, 308"))),
    };
    let code = status_code as u16;
    if feature.is_some_and(|f| !checker.caps.supports(f)) || !checker.caps.redirect_status_codes.contains(&code) {
        return Err(checker.unsupported(&format!("redirect status code {code}")));
    }
    Ok(Redirect { scheme: r.scheme.clone(), hostname: r.hostname.clone(), path, port: r.port.and_then(|p| u16::try_from(p).ok()), status_code: code })
}

fn compile_path_modifier(checker: &Checker<'_>, p: &PathModifierSpec, rule: &Rule, feature: Feature, filter: &str) -> Result<PathRewrite, RuleProblem> {
    checker.require_feature(feature, &format!("{filter} of the path"))?;
    match p {
        PathModifierSpec::Full(path) => Ok(PathRewrite::ReplaceFullPath(path.clone())),
        PathModifierSpec::Prefix(prefix) => {
            let all_prefix = !rule.matches.is_empty() && rule.matches.iter().all(|m| matches!(m.path, None | Some(PathSpec::Prefix(_))));
            if !all_prefix && !rule.matches.is_empty() {
                return Err(checker.invalid("ReplacePrefixMatch needs every match of the rule to be a PathPrefix match"));
            }
            Ok(PathRewrite::ReplacePrefixMatch(prefix.clone()))
        }
    }
}

/// A header modifier whose names Portico can program (see [`check_plain_name`]).
fn checked_modifier(checker: &Checker<'_>, m: &HeaderModifierSpec) -> Result<HeaderModifier, RuleProblem> {
    let names = m.set.iter().chain(&m.add).map(|(name, _)| name).chain(&m.remove);
    for name in names {
        check_plain_name(checker, "header", name)?;
    }
    Ok(header_modifier(m))
}

fn header_modifier(m: &HeaderModifierSpec) -> HeaderModifier {
    let headers = |list: &[(String, String)]| list.iter().map(|(name, value)| Header { name: name.clone(), value: value.clone() }).collect();
    HeaderModifier { set: headers(&m.set), add: headers(&m.add), remove: m.remove.clone() }
}

fn compile_timeouts(checker: &Checker<'_>, rule: &Rule) -> Result<Option<Timeouts>, RuleProblem> {
    let Some(spec) = &rule.timeouts else { return Ok(None) };
    let parse = |name: &str, value: &Option<String>| -> Result<Option<u64>, RuleProblem> {
        value.as_deref().map(|v| parse_duration(v).ok_or_else(|| checker.invalid(format!("{name} {v:?} is not a Gateway API duration")))).transpose()
    };
    let request_ms = parse("request", &spec.request)?;
    let backend_request_ms = parse("backendRequest", &spec.backend_request)?;
    if request_ms.is_some() {
        checker.require_feature(Feature::HttpRouteRequestTimeout, "a request timeout")?;
    }
    if backend_request_ms.is_some() {
        checker.require_feature(Feature::HttpRouteBackendTimeout, "a backendRequest timeout")?;
    }
    if let (Some(request), Some(backend)) = (request_ms, backend_request_ms)
        && request != 0
        && backend > request
    {
        return Err(checker.invalid(format!("backendRequest ({backend}ms) must not exceed request ({request}ms)")));
    }
    Ok(Some(Timeouts { request_ms, backend_request_ms }))
}

/// GEP-2257 durations: one to four `<1-5 digits><h|m|s|ms>` parts, e.g. `1h30m`, `500ms`.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut parts = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return None;
        };
        rest = &rest[len..];
        total = total.checked_add(number.checked_mul(unit_ms)?)?;
        parts += 1;
    }
    (1..=4).contains(&parts).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(10_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("1.5s"), None);
        assert_eq!(parse_duration("100000s"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1h1m1s1ms1h"), None);
    }
}
