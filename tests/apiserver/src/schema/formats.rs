//! String formats as kube-apiserver's OpenAPI validator checks them (its default format
//! registry). A format applies to string values only, whatever the schema's `type`; numeric
//! formats such as `int32` are not checked, and unknown format names are ignored.

use super::compiled_pattern;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Returns whether `text` satisfies `format`; formats this registry does not check pass.
pub fn string_format_ok(format: &str, text: &str) -> bool {
    match format {
        "date-time" | "datetime" => is_date_time(text),
        "date" => is_date(text),
        "hostname" => is_hostname(text),
        "ipv4" => is_ipv4(text),
        "ipv6" => is_ipv6(text),
        "cidr" => is_cidr(text),
        "uuid" => matches(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", text),
        "uuid3" => matches(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$", text),
        "uuid4" => matches(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", text),
        "uuid5" => matches(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$", text),
        "mac" => is_mac(text),
        "byte" => is_base64(text),
        "hexcolor" => matches(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", text),
        "bsonobjectid" => matches(r"^[0-9a-fA-F]{24}$", text),
        "email" => is_email(text),
        "uri" => is_request_uri(text),
        "duration" => is_duration(text),
        _ => true,
    }
}

/// Returns whether `pattern` (a fixed, valid expression) matches `text`.
fn matches(pattern: &str, text: &str) -> bool {
    compiled_pattern(pattern).is_some_and(|regex| regex.is_match(text))
}

/// Returns the number of days in `month` of `year` (Gregorian calendar).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns whether `text` is an RFC 3339 date-time such as `2024-05-01T12:00:00.5Z`
/// (a `+HHMM` offset without colon is also accepted, as Go's parser does).
fn is_date_time(text: &str) -> bool {
    const LAYOUT: &str = r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):?([0-9]{2}))$";
    let Some(parts) = compiled_pattern(LAYOUT).and_then(|layout| layout.captures(text)) else {
        return false;
    };
    let field = |index: usize| parts.get(index).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let numbers: Option<Vec<u32>> = [1, 2, 3, 4, 5, 6, 9, 10].iter().map(|index| field(*index)).collect();
    let Some([year, month, day, hour, minute, second, zone_hour, zone_minute]) = numbers.as_deref() else {
        return false;
    };
    (1..=12).contains(month)
        && (1..=days_in_month(*year, *month)).contains(day)
        && *hour <= 23
        && *minute <= 59
        && *second <= 60
        && *zone_hour <= 23
        && *zone_minute <= 59
}

/// Returns whether `text` is a full date `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let Some(parts) = compiled_pattern(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$").and_then(|layout| layout.captures(text)) else {
        return false;
    };
    let number = |index: usize| parts.get(index).and_then(|m| m.as_str().parse::<u32>().ok()).unwrap_or(0);
    let (year, month, day) = (number(1), number(2), number(3));
    (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)
}

/// Returns whether `text` is a host name as kube-openapi's `hostname` format accepts it: one
/// label, or dotted labels ending in an alphabetic top-level label of 2 to 63 letters.
fn is_hostname(text: &str) -> bool {
    const HOSTNAME: &str = r"^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$";
    static REGEX: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let regex = REGEX.get_or_init(|| regex::RegexBuilder::new(HOSTNAME).size_limit(1 << 27).build().ok());
    regex.as_ref().is_some_and(|regex| regex.is_match(text)) && text.len() <= 255 && text.split('.').all(|label| label.len() <= 63)
}

/// Returns whether `text` is a dotted-quad IPv4 address (leading zeros allowed, as the
/// sloppy parser kube-apiserver uses for this format allows them).
fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// Returns whether `text` is an IPv6 address (an embedded IPv4 tail is allowed).
fn is_ipv6(text: &str) -> bool {
    text.contains(':') && text.parse::<Ipv6Addr>().is_ok()
}

/// Returns whether `text` is an IPv4 or IPv6 CIDR such as `10.0.0.0/8`.
fn is_cidr(text: &str) -> bool {
    let Some((address, bits)) = text.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    if address.contains(':') { address.parse::<Ipv6Addr>().is_ok() && bits <= 128 } else { address.parse::<Ipv4Addr>().is_ok() && bits <= 32 }
}

/// Returns whether `text` is a MAC address: 6 or 8 octets separated by `:` or `-`, or
/// dotted groups of four hex digits.
fn is_mac(text: &str) -> bool {
    matches(r"^([0-9a-fA-F]{2}[:-]){5}([0-9a-fA-F]{2})$", text)
        || matches(r"^([0-9a-fA-F]{2}[:-]){7}([0-9a-fA-F]{2})$", text)
        || matches(r"^([0-9a-fA-F]{4}\.){2}([0-9a-fA-F]{4})$", text)
        || matches(r"^([0-9a-fA-F]{4}\.){3}([0-9a-fA-F]{4})$", text)
}

/// Returns whether `text` is standard base64 (padded).
fn is_base64(text: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).is_ok()
}

/// Returns whether `text` loosely is an e-mail address (`local@domain`, no spaces).
fn is_email(text: &str) -> bool {
    let address = text.rsplit_once('<').map_or(text, |(_, rest)| rest.trim_end_matches('>'));
    matches(r"^[^\s@]+@[^\s@]+$", address.trim())
}

/// Returns whether `text` is an absolute URI or an absolute path, as Go's
/// `url.ParseRequestURI` accepts them.
fn is_request_uri(text: &str) -> bool {
    text.starts_with('/') && !text.contains(char::is_whitespace) || matches(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$", text)
}

/// Returns whether `text` is a duration as the `duration` format accepts it (`1h30m`,
/// `500ms`, `2 days`...).
fn is_duration(text: &str) -> bool {
    const UNITS: &str = r"(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|minutes?|hours?|days?|weeks?)";
    matches(&format!(r"^(-?[0-9]+(\.[0-9]+)?\s*{UNITS}\s*)+$"), text)
}

#[cfg(test)]
mod tests {
    use super::string_format_ok;

    #[test]
    fn ip_formats_follow_kube_openapi() {
        assert!(string_format_ok("ipv4", "10.0.0.1"));
        assert!(string_format_ok("ipv4", "010.000.000.001"));
        assert!(!string_format_ok("ipv4", "10.0.0"));
        assert!(!string_format_ok("ipv4", "256.0.0.1"));
        assert!(!string_format_ok("ipv4", "example.com"));
        assert!(string_format_ok("ipv6", "2001:db8::1"));
        assert!(string_format_ok("ipv6", "::ffff:10.0.0.1"));
        assert!(!string_format_ok("ipv6", "10.0.0.1"));
        assert!(!string_format_ok("ipv6", "2001:db8::g"));
        assert!(string_format_ok("cidr", "10.0.0.0/8"));
        assert!(string_format_ok("cidr", "2001:db8::/32"));
        assert!(!string_format_ok("cidr", "10.0.0.0/33"));
    }

    #[test]
    fn other_registry_formats() {
        assert!(string_format_ok("uuid", "3F2504E0-4F89-11D3-9A0C-0305E82C3301"));
        assert!(!string_format_ok("uuid", "not-a-uuid"));
        assert!(string_format_ok("hostname", "example.com"));
        assert!(string_format_ok("hostname", "localhost"));
        assert!(!string_format_ok("hostname", "example.c0m"));
        assert!(!string_format_ok("hostname", "-bad.example.com"));
        assert!(string_format_ok("byte", "aGVsbG8="));
        assert!(!string_format_ok("byte", "not base64!"));
        assert!(string_format_ok("date", "2024-02-29"));
        assert!(!string_format_ok("date", "2023-02-29"));
        assert!(string_format_ok("mac", "00:1a:2b:3c:4d:5e"));
        assert!(!string_format_ok("mac", "00:1a:2b"));
        assert!(string_format_ok("int32", "anything"));
        assert!(string_format_ok("isbn", "not checked"));
    }
}
