//! A rule's traffic policies beyond filters: `retry` and `sessionPersistence`, each checked
//! against what the platform can honour exactly (a "not supported by" condition naming the
//! field otherwise, so the rule is never programmed with weaker behaviour than asked).

use portico_model::ir::{Retry, SessionPersistence};
use portico_model::{Fact, Feature};

use crate::routes::{RetrySpec, SessionPersistenceSpec};
use crate::rules::{Checker, RuleProblem, parse_duration};

/// The cookie name when `sessionName` is not set (the spec leaves it to implementations).
pub const DEFAULT_SESSION_COOKIE: &str = "portico-session";

/// `retry`: the feature, status codes the platform can retry on, no `backoff` unless the platform
/// can wait between attempts (the spec forbids retrying sooner than it), and no request timeout
/// unless the platform ends all attempts at that deadline (the spec requires it).
pub fn retry(checker: &Checker<'_>, r: &RetrySpec, deadline: bool) -> Result<Retry, RuleProblem> {
    let classes = !checker.caps.supports(Feature::HttpRouteRetry);
    if classes {
        checker.require_fact(Fact::RetryCodeClasses, "retry")?;
    }
    if r.backoff.is_some() {
        checker.at("backoff").require_fact(Fact::RetryBackoff, "a minimum backoff between retries")?;
    }
    if deadline {
        checker.require_fact(Fact::RetryWithinRequestTimeout, "retry together with timeouts.request (ending every attempt at the request's deadline)")?;
    }
    let mut codes = Vec::new();
    for code in &r.codes {
        match u16::try_from(*code).ok().filter(|c| (400..=599).contains(c)) {
            Some(c) if classes || checker.caps.retry_status_codes.contains(&c) => codes.push(c),
            Some(c) => return Err(checker.at("codes").unsupported(&format!("retrying on status code {c}"))),
            None => return Err(checker.at("codes").invalid(format!("{code} is not a status code between 400 and 599"))),
        }
    }
    codes.sort_unstable();
    codes.dedup();
    if classes && !code_classes(&codes) {
        let what = "retrying on exactly these status codes (the platform retries 409, 502-504 or every 5xx as classes: list one class or a union of them)";
        return Err(checker.at("codes").unsupported(what));
    }
    let attempts = match r.attempts {
        None => None,
        Some(n) if n >= 1 => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        Some(n) => return Err(checker.at("attempts").invalid(format!("{n} is below the minimum of 1"))),
    };
    Ok(Retry { attempts, codes })
}

/// Codes a platform retrying by classes ([`Fact::RetryCodeClasses`]) honours exactly: no 5xx,
/// 502-504 alone or every 5xx, with or without 409, and no other 4xx.
pub fn code_classes(codes: &[u16]) -> bool {
    let server: Vec<u16> = codes.iter().copied().filter(|c| (500..=599).contains(c)).collect();
    let client_ok = codes.iter().all(|c| *c == 409 || (500..=599).contains(c));
    client_ok && (server.is_empty() || server == [502, 503, 504] || server.len() == 100)
}

/// The CORS filter on a platform without `HTTPRouteCORS` but with [`Fact::CorsExactOrigins`]:
/// every origin exact or `*` alone, no `*` in methods, headers or expose headers with credentials
/// (it would be sent literally, where the spec asks to echo the request), and a rule that forwards (the platform's CORS policy is part of the route action).
pub fn cors_exact_origins(checker: &Checker<'_>, cors: &portico_model::ir::Cors, rule: &crate::routes::Rule) -> Result<(), RuleProblem> {
    checker.require_fact(Fact::CorsExactOrigins, "the CORS filter")?;
    if let Some(origin) = cors.allow_origins.iter().find(|o| o.as_str() != "*" && o.contains('*')) {
        let what = format!("the wildcard origin {} (only exact origins, or `*` alone)", crate::validate::quoted(origin));
        return Err(checker.at("allowOrigins").unsupported(&what));
    }
    let lists = [("allowMethods", &cors.allow_methods), ("allowHeaders", &cors.allow_headers), ("exposeHeaders", &cors.expose_headers)];
    if let Some((field, _)) = lists.iter().find(|(_, list)| cors.allow_credentials && list.iter().any(|v| v == "*")) {
        return Err(checker.at(field).unsupported("`*` together with allowCredentials (it would be sent literally, which browsers ignore with credentials)"));
    }
    if rule.filters.iter().any(|f| matches!(f, crate::routes::FilterSpec::RequestRedirect(_))) {
        return Err(checker.unsupported("the CORS filter on a rule that redirects"));
    }
    Ok(())
}

/// `sessionPersistence`: cookie-based where the platform has it (header-based needs its own
/// fact), on a rule whose traffic goes to one backend (stickiness across weighted backends needs
/// its own fact), with the CRD's rules on names, durations and lifetimes.
pub fn session_persistence(checker: &Checker<'_>, p: &SessionPersistenceSpec, live_backends: usize) -> Result<SessionPersistence, RuleProblem> {
    match p.kind.as_str() {
        "Cookie" => checker.require_fact(Fact::SessionPersistence, "cookie-based session persistence")?,
        "Header" => checker.at("type").require_fact(Fact::HeaderSessionPersistence, "header-based session persistence")?,
        other => return Err(checker.at("type").invalid(format!("{} is not Cookie or Header", crate::validate::quoted(other)))),
    }
    if live_backends > 1 {
        checker.require_fact(Fact::SessionPersistenceAcrossBackends, "session persistence across several weighted backends")?;
    }
    let name = p.session_name.clone().unwrap_or_else(|| DEFAULT_SESSION_COOKIE.to_string());
    if name.len() > 128 || !crate::validate::is_token(&name) {
        return Err(checker.at("sessionName").invalid(format!("{} is not a cookie name (1 to 128 token characters)", crate::validate::quoted(&name))));
    }
    let duration = |field: &str, value: &Option<String>| -> Result<Option<u64>, RuleProblem> {
        let parsed = value
            .as_deref()
            .map(|v| parse_duration(v).filter(|ms| *ms > 0).ok_or_else(|| checker.at(field).invalid(format!("{v:?} is not a positive Gateway API duration"))));
        parsed.transpose()
    };
    let absolute_timeout_ms = duration("absoluteTimeout", &p.absolute_timeout)?;
    let idle_timeout_ms = duration("idleTimeout", &p.idle_timeout)?;
    let permanent = match p.lifetime.as_deref() {
        None | Some("Session") => false,
        Some("Permanent") if absolute_timeout_ms.is_some() => true,
        Some("Permanent") => return Err(checker.at("absoluteTimeout").invalid("must be set when cookieConfig.lifetimeType is Permanent")),
        Some(other) => return Err(checker.at("cookieConfig.lifetimeType").invalid(format!("{} is not Session or Permanent", crate::validate::quoted(other)))),
    };
    Ok(SessionPersistence { cookie_name: name, absolute_timeout_ms, idle_timeout_ms, permanent })
}
