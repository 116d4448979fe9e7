//! The CORS filter (Gateway API semantics) as HAProxy rules under the chosen rule's condition:
//!
//! - `txn.cors` is set when the request's `Origin` is allowed (one case-insensitive regex over
//!   all of `allowOrigins`; an origin without a port matches the scheme's default port too);
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered 204 by
//!   HAProxy: with the CORS headers when the origin is allowed, without them otherwise, and never
//!   reaches a backend;
//! - any other request from an allowed origin gets `Access-Control-Allow-Origin` (the origin,
//!   echoed), `-Allow-Credentials` and `-Expose-Headers` on its response.
//!
//! With `allowCredentials` a wildcard is never sent: the request's method and headers are echoed
//! instead, and a wildcard `exposeHeaders` is left out, as the spec asks.

use portico_model::ir::Cors;

use super::text::{Output, arg, lf, regex_literal};

const PREFLIGHT: &str = "METH_OPTIONS { req.hdr(origin) -m found } { req.hdr(access-control-request-method) -m found }";
const ALLOWED: &str = "{ var(txn.cors) -m bool }";

/// The lines of one CORS filter under `cond`.
pub(crate) fn lines(out: &mut Output, cors: &Cors, cond: &str) {
    match origin_condition(&cors.allow_origins) {
        Some(origin) => out.line(&format!("http-request set-var(txn.cors) bool(true) if {cond} {origin}")),
        None => out.comment("CORS: no origin is allowed"),
    }
    out.line(&format!("http-request set-var(txn.origin) req.fhdr(origin) if {cond} {ALLOWED}"));
    let echo_headers = cors.allow_credentials && cors.allow_headers.iter().any(|h| h == "*");
    if echo_headers {
        // The requested headers are echoed only when the preflight names some.
        let with = preflight_headers(cors, Some("%[req.fhdr(access-control-request-headers)]"));
        out.line(&format!("http-request return status 204{with} if {cond} {PREFLIGHT} {ALLOWED} {{ req.hdr(access-control-request-headers) -m found }}"));
        let without = preflight_headers(cors, None);
        out.line(&format!("http-request return status 204{without} if {cond} {PREFLIGHT} {ALLOWED}"));
    } else {
        let allow_headers = joined(&cors.allow_headers);
        let headers = preflight_headers(cors, allow_headers.as_deref());
        out.line(&format!("http-request return status 204{headers} if {cond} {PREFLIGHT} {ALLOWED}"));
    }
    out.line(&format!("http-request return status 204 hdr Vary Origin if {cond} {PREFLIGHT}"));
    let allowed = format!("{cond} {ALLOWED}");
    out.line(&format!("http-response set-header Access-Control-Allow-Origin %[var(txn.origin)] if {allowed}"));
    if cors.allow_credentials {
        out.line(&format!("http-response set-header Access-Control-Allow-Credentials true if {allowed}"));
    }
    if let Some(expose) = expose_headers(cors) {
        out.line(&format!("http-response set-header Access-Control-Expose-Headers {} if {allowed}", arg(&expose)));
    }
    out.line(&format!("http-response add-header Vary Origin if {allowed}"));
}

/// The `hdr` arguments of an allowed preflight's answer; `allow_headers` is the value of
/// `Access-Control-Allow-Headers` (none: the header is left out).
fn preflight_headers(cors: &Cors, allow_headers: Option<&str>) -> String {
    let mut headers = vec![("Access-Control-Allow-Origin", "%[req.fhdr(origin)]".to_string())];
    let methods = match cors.allow_methods.as_slice() {
        [] => None,
        [star] if star == "*" && cors.allow_credentials => Some("%[req.hdr(access-control-request-method)]".to_string()),
        list => Some(list.join(", ")),
    };
    headers.extend(methods.map(|m| ("Access-Control-Allow-Methods", m)));
    headers.extend(allow_headers.map(|h| ("Access-Control-Allow-Headers", h.to_string())));
    headers.extend(expose_headers(cors).map(|h| ("Access-Control-Expose-Headers", h)));
    if cors.allow_credentials {
        headers.push(("Access-Control-Allow-Credentials", "true".into()));
    }
    headers.push(("Access-Control-Max-Age", cors.max_age_seconds.to_string()));
    headers.push(("Vary", "Origin".into()));
    headers.iter().map(|(name, value)| format!(" hdr {name} {}", arg(value))).collect()
}

/// A header list joined with ", " (`*` passed through); `None` when empty.
fn joined(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| list.iter().map(|h| lf(h)).collect::<Vec<_>>().join(", "))
}

/// `Access-Control-Expose-Headers`: the list, except a wildcard when credentials are allowed.
fn expose_headers(cors: &Cors) -> Option<String> {
    if cors.allow_credentials && cors.expose_headers.iter().any(|h| h == "*") {
        return None;
    }
    joined(&cors.expose_headers)
}

/// The condition that the request's `Origin` is allowed; `None` when no origin is.
fn origin_condition(origins: &[String]) -> Option<String> {
    if origins.iter().any(|o| o == "*") {
        return Some("{ req.hdr(origin) -m found }".into());
    }
    let alternatives: Vec<String> = origins.iter().filter_map(|o| origin_regex(o)).collect();
    if alternatives.is_empty() {
        return None;
    }
    Some(format!("{{ req.fhdr(origin) -m reg -i {} }}", arg(&format!("^({})$", alternatives.join("|")))))
}

/// One allowed origin as a regex: the scheme, the host (`*` alone: any host; a leading `*.`: one
/// or more labels), and the port (the scheme's default may be written or not).
fn origin_regex(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let default = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host = if host == "*" {
        "[^/:]+".to_string()
    } else if let Some(suffix) = host.strip_prefix("*.") {
        format!("[^/:]+\\.{}", regex_literal(suffix))
    } else {
        regex_literal(host)
    };
    let port = match port {
        Some(port) if port != default => format!(":{}", regex_literal(port)),
        _ => format!("(:{default})?"),
    };
    Some(format!("{scheme}://{host}{port}"))
}

#[cfg(test)]
mod tests {
    use super::origin_regex;

    #[test]
    fn origins_become_anchored_alternatives() {
        assert_eq!(origin_regex("https://www.foo.com").as_deref(), Some("https://www\\.foo\\.com(:443)?"));
        assert_eq!(origin_regex("http://*.bar.com:8080").as_deref(), Some("http://[^/:]+\\.bar\\.com:8080"));
        assert_eq!(origin_regex("https://*:443").as_deref(), Some("https://[^/:]+(:443)?"));
        assert_eq!(origin_regex("ftp://x"), None);
    }
}
