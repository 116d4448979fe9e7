//! What the Gateway API CRDs themselves enforce (OpenAPI patterns, bounds, list sizes and CEL
//! rules), checked again here: a cluster may run older or hand-edited CRDs, and `portico plan`
//! reads raw files. A route that breaks one of these rules is one the API server should have
//! refused, so the whole route is rejected (`Accepted=False`, `UnsupportedValue`) with a message
//! naming the field; the route's neighbours are unaffected.

use portico_model::RouteKind;

use crate::hostnames;
use crate::routes::{BackendRefSpec, FilterSpec, HeaderModifierSpec, MatchSpec, PathModifierSpec, PathSpec, Route, Rule};

// The CRDs' `maxItems` (the same for every route kind that has the list).
const MAX_PARENT_REFS: usize = 32;
const MAX_HOSTNAMES: usize = 16;
const MAX_RULES: usize = 16;
const MAX_MATCHES: usize = 64;
const MAX_TOTAL_MATCHES: usize = 128;
const MAX_LIST: usize = 16;
const MAX_WEIGHT: i32 = 1_000_000;

type Checked = Result<(), String>;

fn at_most(field: &str, len: usize, max: usize) -> Checked {
    if len > max { Err(format!("{field}: {len} items, the API allows at most {max}")) } else { Ok(()) }
}

/// The first CRD rule `route` breaks, as "<field>: <why>".
pub fn route(route: &Route) -> Checked {
    at_most("spec.parentRefs", route.parent_refs.len(), MAX_PARENT_REFS)?;
    for (i, parent) in route.parent_refs.iter().enumerate() {
        if let Some(port) = parent.port {
            port_number(&format!("spec.parentRefs[{i}].port"), port)?;
        }
        if let Some(section) = parent.section_name.as_deref().filter(|s| !is_section_name(s)) {
            return Err(format!("spec.parentRefs[{i}].sectionName: {} is not a valid section name", quoted(section)));
        }
    }
    at_most("spec.hostnames", route.hostnames.len(), MAX_HOSTNAMES)?;
    for (i, host) in route.hostnames.iter().enumerate() {
        if !hostnames::is_valid(host) {
            return Err(format!(
                "spec.hostnames[{i}]: {} is not a valid hostname (lower-case RFC 1123 labels, an optional leading `*.`, at most 253 characters)",
                quoted(host)
            ));
        }
    }
    at_most("spec.rules", route.rules.len(), MAX_RULES)?;
    let total: usize = route.rules.iter().map(|r| r.matches.len()).sum();
    if total > MAX_TOTAL_MATCHES {
        return Err(format!("spec.rules: {total} matches in all, the API allows at most {MAX_TOTAL_MATCHES} per route"));
    }
    for (i, rule) in route.rules.iter().enumerate() {
        check_rule(&format!("spec.rules[{i}]"), rule, route.key.kind)?;
    }
    Ok(())
}

fn check_rule(field: &str, rule: &Rule, kind: RouteKind) -> Checked {
    at_most(&format!("{field}.matches"), rule.matches.len(), MAX_MATCHES)?;
    for (m, spec) in rule.matches.iter().enumerate() {
        check_match(&format!("{field}.matches[{m}]"), spec, kind)?;
    }
    at_most(&format!("{field}.filters"), rule.filters.len(), MAX_LIST)?;
    for (f, filter) in rule.filters.iter().enumerate() {
        check_filter(&format!("{field}.filters[{f}]"), filter)?;
    }
    at_most(&format!("{field}.backendRefs"), rule.backends.len(), MAX_LIST)?;
    for (b, backend) in rule.backends.iter().enumerate() {
        let field = format!("{field}.backendRefs[{b}]");
        check_backend(&field, backend)?;
        if !(0..=MAX_WEIGHT).contains(&backend.weight) {
            return Err(format!("{field}.weight: {} is out of range 0..{MAX_WEIGHT}", backend.weight));
        }
        at_most(&format!("{field}.filters"), backend.filters.len(), MAX_LIST)?;
        for (f, filter) in backend.filters.iter().enumerate() {
            check_filter(&format!("{field}.filters[{f}]"), filter)?;
        }
    }
    Ok(())
}

fn check_backend(field: &str, backend: &BackendRefSpec) -> Checked {
    if backend.name.is_empty() || backend.name.len() > 253 || has_control(&backend.name) {
        return Err(format!("{field}.name: {} is not a valid object name", quoted(&backend.name)));
    }
    match backend.port {
        Some(port) => port_number(&format!("{field}.port"), port),
        None => Ok(()),
    }
}

fn check_match(field: &str, spec: &MatchSpec, kind: RouteKind) -> Checked {
    // GRPCRoute method matches arrive here as the HTTP/2 path they select.
    let path_field = if kind == RouteKind::Grpc { format!("{field}.method") } else { format!("{field}.path.value") };
    match &spec.path {
        Some(PathSpec::Exact(path) | PathSpec::Prefix(path)) => check_path(&path_field, path)?,
        Some(PathSpec::Regex(regex)) if regex.len() > 1024 => {
            return Err(format!("{path_field}: {} characters, the API allows at most 1024", regex.len()));
        }
        Some(PathSpec::Regex(_)) | None => {}
    }
    at_most(&format!("{field}.headers"), spec.headers.len(), MAX_LIST)?;
    for (h, header) in spec.headers.iter().enumerate() {
        header_name(&format!("{field}.headers[{h}].name"), &header.name)?;
        header_value(&format!("{field}.headers[{h}].value"), &header.value, 4096)?;
    }
    at_most(&format!("{field}.queryParams"), spec.query_params.len(), MAX_LIST)?;
    for (q, query) in spec.query_params.iter().enumerate() {
        header_name(&format!("{field}.queryParams[{q}].name"), &query.name)?;
        header_value(&format!("{field}.queryParams[{q}].value"), &query.value, 1024)?;
    }
    Ok(())
}

/// The CEL rules of `HTTPPathMatch` for `Exact` and `PathPrefix`.
fn check_path(field: &str, path: &str) -> Checked {
    let why = if path.len() > 1024 {
        Some("is longer than 1024 characters")
    } else if !path.starts_with('/') {
        Some("must be an absolute path starting with '/'")
    } else if ["//", "/./", "/../", "%2f", "%2F", "#"].iter().any(|bad| path.contains(bad)) {
        Some("must not contain '//', '/./', '/../', '%2f' or '#'")
    } else if path.ends_with("/..") || path.ends_with("/.") {
        Some("must not end with '/..' or '/.'")
    } else if !path_characters_valid(path) {
        Some("may only contain URL path characters (letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes)")
    } else {
        None
    };
    match why {
        Some(why) => Err(format!("{field}: {} {why}", quoted(path))),
        None => Ok(()),
    }
}

/// `^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`
fn path_characters_valid(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            let hex = bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !hex {
                return false;
            }
            i += 3;
        } else if c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c) {
            i += 1;
        } else {
            return false;
        }
    }
    !bytes.is_empty()
}

fn check_filter(field: &str, filter: &FilterSpec) -> Checked {
    match filter {
        FilterSpec::RequestHeaderModifier(m) => check_modifier(&format!("{field}.requestHeaderModifier"), m),
        FilterSpec::ResponseHeaderModifier(m) => check_modifier(&format!("{field}.responseHeaderModifier"), m),
        FilterSpec::RequestRedirect(r) => {
            let field = format!("{field}.requestRedirect");
            if let Some(host) = &r.hostname {
                precise_hostname(&format!("{field}.hostname"), host)?;
            }
            if let Some(port) = r.port {
                port_number(&format!("{field}.port"), port)?;
            }
            if let Some(scheme) = r.scheme.as_deref().filter(|s| *s != "http" && *s != "https") {
                return Err(format!("{field}.scheme: {} is not one of http, https", quoted(scheme)));
            }
            check_path_modifier(&format!("{field}.path"), r.path.as_ref())
        }
        FilterSpec::UrlRewrite(r) => {
            let field = format!("{field}.urlRewrite");
            if let Some(host) = &r.hostname {
                precise_hostname(&format!("{field}.hostname"), host)?;
            }
            check_path_modifier(&format!("{field}.path"), r.path.as_ref())
        }
        FilterSpec::RequestMirror(m) => {
            let field = format!("{field}.requestMirror");
            check_backend(&format!("{field}.backendRef"), &m.backend)?;
            if m.denominator < 1 || m.numerator < 0 || m.numerator > m.denominator {
                return Err(format!("{field}: {}/{} is not a share between 0 and 1", m.numerator, m.denominator));
            }
            Ok(())
        }
        FilterSpec::Cors(cors) => check_cors(&format!("{field}.cors"), cors),
        FilterSpec::Unsupported(name) if name.len() > 253 || has_control(name) => Err(format!("{field}.type: {} is not a filter type", quoted(name))),
        FilterSpec::Unsupported(_) => Ok(()),
    }
}

/// The CRD's rules for the CORS filter: origins, methods and header names, `*` only alone,
/// list sizes, and `maxAge` of at least 1.
fn check_cors(field: &str, cors: &portico_model::ir::Cors) -> Checked {
    const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"];
    let lists = [
        ("allowOrigins", &cors.allow_origins, 64),
        ("allowMethods", &cors.allow_methods, 9),
        ("allowHeaders", &cors.allow_headers, 64),
        ("exposeHeaders", &cors.expose_headers, 64),
    ];
    for (name, list, max) in lists {
        at_most(&format!("{field}.{name}"), list.len(), max)?;
        if list.len() > 1 && list.iter().any(|v| v == "*") {
            return Err(format!("{field}.{name}: '*' cannot appear alongside other values"));
        }
    }
    for (i, origin) in cors.allow_origins.iter().enumerate() {
        if !cors_origin(origin) {
            return Err(format!("{field}.allowOrigins[{i}]: {} is not `*` or an origin `http(s)://host[:port]`", quoted(origin)));
        }
    }
    for (i, method) in cors.allow_methods.iter().enumerate() {
        if !METHODS.contains(&method.as_str()) {
            return Err(format!("{field}.allowMethods[{i}]: {} is not one of {}", quoted(method), METHODS.join(", ")));
        }
    }
    for (name, list) in [("allowHeaders", &cors.allow_headers), ("exposeHeaders", &cors.expose_headers)] {
        for (i, header) in list.iter().enumerate() {
            header_name(&format!("{field}.{name}[{i}]"), header)?;
        }
    }
    if cors.max_age_seconds < 1 {
        return Err(format!("{field}.maxAge: must be at least 1"));
    }
    Ok(())
}

/// `*`, or `http(s)://host[:port]` where host is `*`, or DNS labels optionally after `*.`, and the
/// port has 1 to 5 digits (the CRD's pattern).
pub(crate) fn cors_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    if origin.len() > 253 {
        return false;
    }
    let Some(rest) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else { return false };
    let (host, port) = rest.rsplit_once(':').map_or((rest, None), |(h, p)| (h, Some(p)));
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let labels = host.strip_prefix("*.").unwrap_or(host);
    host == "*" || (!labels.is_empty() && labels.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')))
}

fn check_modifier(field: &str, m: &HeaderModifierSpec) -> Checked {
    for (list, headers) in [("set", &m.set), ("add", &m.add)] {
        at_most(&format!("{field}.{list}"), headers.len(), MAX_LIST)?;
        for (i, (name, value)) in headers.iter().enumerate() {
            header_name(&format!("{field}.{list}[{i}].name"), name)?;
            header_value(&format!("{field}.{list}[{i}].value"), value, 4096)?;
        }
    }
    at_most(&format!("{field}.remove"), m.remove.len(), MAX_LIST)?;
    for (i, name) in m.remove.iter().enumerate() {
        header_name(&format!("{field}.remove[{i}]"), name)?;
    }
    Ok(())
}

fn check_path_modifier(field: &str, modifier: Option<&PathModifierSpec>) -> Checked {
    let (name, value) = match modifier {
        None => return Ok(()),
        Some(PathModifierSpec::Full(v)) => ("replaceFullPath", v),
        Some(PathModifierSpec::Prefix(v)) => ("replacePrefixMatch", v),
    };
    if value.len() > 1024 {
        return Err(format!("{field}.{name}: {} characters, the API allows at most 1024", value.len()));
    }
    if has_control(value) {
        return Err(format!("{field}.{name}: {} contains control characters", quoted(value)));
    }
    Ok(())
}

/// `PortNumber`: 1..65535.
fn port_number(field: &str, port: i32) -> Checked {
    if (1..=65535).contains(&port) { Ok(()) } else { Err(format!("{field}: {port} is out of range 1..65535")) }
}

fn precise_hostname(field: &str, host: &str) -> Checked {
    if hostnames::is_precise(host) {
        Ok(())
    } else {
        Err(format!("{field}: {} is not a valid hostname (lower-case RFC 1123 labels, no wildcard)", quoted(host)))
    }
}

/// `HTTPHeaderName`: 1..256 token characters (RFC 7230).
fn header_name(field: &str, name: &str) -> Checked {
    if name.len() > 256 || !is_token(name) {
        return Err(format!("{field}: {} is not a valid HTTP header name", quoted(name)));
    }
    Ok(())
}

/// An RFC 7230 token (header names, cookie names): one or more of letters, digits and
/// ``!#$%&'*+-.^_`|~``.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Header and query values: 1..`max` characters, no control characters but tab (a CR or LF
/// would end the header line).
fn header_value(field: &str, value: &str, max: usize) -> Checked {
    if value.is_empty() || value.len() > max {
        return Err(format!("{field}: must be 1 to {max} characters long"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("{field}: {} contains control characters (CR, LF, NUL, ...)", quoted(value)));
    }
    Ok(())
}

/// `SectionName`: a DNS subdomain (lower-case labels separated by dots), 1..253 characters.
pub fn is_section_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A value quoted for a message: escaped (control characters become visible) and cut to a
/// readable length on a character boundary.
pub fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    let shown: String = text.chars().take(MAX).collect();
    let more = if text.chars().count() > MAX { "..." } else { "" };
    format!("{:?}{more}", shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(check_path("f", "/a/b-c_d.e~f%20").is_ok());
        for bad in ["a", "//", "/a//b", "/./", "/a/..", "/a/.", "/%2f", "/#x", "/a b", "/é", "/a\n", "/%zz", "/%4"] {
            assert!(check_path("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_names_and_values() {
        assert!(header_name("f", "X-Foo_Bar").is_ok());
        for bad in ["", "a b", "a:b", "é", "a\r\nb"] {
            assert!(header_name("f", bad).is_err(), "{bad:?}");
        }
        assert!(header_value("f", "a\tb é", 10).is_ok());
        for bad in ["", "a\r\nX-Evil: 1", "a\0", "01234567890"] {
            assert!(header_value("f", bad, 10).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoting_cuts_on_characters() {
        let long = "é".repeat(100);
        assert!(quoted(&long).ends_with("\"..."));
        assert_eq!(quoted("a\nb"), "\"a\\nb\"");
    }
}
