//! Hostname intersection and precedence, as the Gateway API defines them: a wildcard label
//! `*.` matches one or more labels (`*.example.com` matches `a.example.com` and
//! `a.b.example.com`, not `example.com`).

use std::cmp::Ordering;

/// Does `pattern` (exact or `*.` wildcard) match the concrete or wildcard name `name`?
/// For two wildcards this is "is `name`'s set contained in `pattern`'s set".
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern.eq_ignore_ascii_case(name) {
        return true;
    }
    let Some(suffix) = pattern.strip_prefix('*') else { return false };
    // `suffix` is ".example.com": `name` needs at least one more label in front of it. A wildcard
    // `name` ("*.a.example.com") is contained when its own suffix is strictly longer.
    let body = name.strip_prefix('*').unwrap_or(name);
    body.len() > suffix.len() && ends_with_ignore_case(body, suffix)
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The hostnames a route serves on a listener: the intersection of the listener's hostname
/// (None = any) with the route's hostnames (empty = any). `None` means "no intersection".
/// `Some(["*"])` means any host.
pub fn intersect(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    match (listener, route.is_empty()) {
        (None, true) => Some(vec!["*".to_string()]),
        (Some(l), true) => Some(vec![l.to_ascii_lowercase()]),
        (None, false) => Some(sorted_unique(route.iter().map(|h| h.to_ascii_lowercase()).collect())),
        (Some(l), false) => {
            let mut out = Vec::new();
            for r in route {
                if matches(l, r) {
                    out.push(r.to_ascii_lowercase());
                } else if matches(r, l) {
                    out.push(l.to_ascii_lowercase());
                }
            }
            if out.is_empty() { None } else { Some(sorted_unique(out)) }
        }
    }
}

fn sorted_unique(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}

/// Most specific first: exact names (alphabetically), then wildcards with more labels first,
/// then longer, then `*` last.
pub fn precedence(a: &str, b: &str) -> Ordering {
    specificity(b).cmp(&specificity(a)).then_with(|| a.cmp(b))
}

/// A comparable rank: exact > wildcard (by labels, then length) > any.
pub fn specificity(name: &str) -> (u8, usize, usize) {
    if name == "*" || name.is_empty() {
        (0, 0, 0)
    } else if name.starts_with("*.") {
        (1, name.matches('.').count(), name.len())
    } else {
        (2, name.matches('.').count(), name.len())
    }
}

/// Validate a hostname as RFC 1123 with an optional leading `*.` label; IPs are not hostnames.
pub fn is_valid(name: &str) -> bool {
    let body = name.strip_prefix("*.").unwrap_or(name);
    if body.is_empty() || name.len() > 253 || body.parse::<std::net::IpAddr>().is_ok() {
        return false;
    }
    body.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_table() {
        let cases: &[(Option<&str>, &[&str], Option<&[&str]>)] = &[
            (None, &[], Some(&["*"])),
            (Some("foo.com"), &[], Some(&["foo.com"])),
            (Some("foo.com"), &["foo.com", "bar.com"], Some(&["foo.com"])),
            (Some("*.example.com"), &["a.example.com", "a.b.example.com", "example.com"], Some(&["a.b.example.com", "a.example.com"])),
            (Some("a.example.com"), &["*.example.com"], Some(&["a.example.com"])),
            (Some("*.example.com"), &["*.a.example.com"], Some(&["*.a.example.com"])),
            (Some("*.a.example.com"), &["*.example.com"], Some(&["*.a.example.com"])),
            (Some("*.example.com"), &["*.other.com"], None),
            (Some("very.specific.com"), &["specific.but.wrong.com", "wildcard.io"], None),
            (Some("*.wildcard.io"), &["wildcard.io"], None),
        ];
        for (listener, route, want) in cases {
            let route: Vec<String> = route.iter().map(|s| s.to_string()).collect();
            let got = intersect(*listener, &route);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "listener {listener:?} route {route:?}");
        }
    }

    #[test]
    fn precedence_orders_exact_then_wildcards_then_any() {
        let mut names = vec!["*", "*.example.com", "a.example.com", "*.a.example.com", "b.com"];
        names.sort_by(|a, b| precedence(a, b));
        assert_eq!(names, vec!["a.example.com", "b.com", "*.a.example.com", "*.example.com", "*"]);
    }

    #[test]
    fn validity() {
        assert!(is_valid("foo.example.com"));
        assert!(is_valid("*.example.com"));
        assert!(!is_valid("1.2.3.4"));
        assert!(!is_valid("foo..com"));
        assert!(!is_valid("-foo.com"));
        assert!(!is_valid("*"));
    }
}
