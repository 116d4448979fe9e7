//! What the operator watches: every namespace, the listed ones (`--watch-namespace`), and only
//! namespaces whose labels match `--watch-selector`.

use std::collections::BTreeMap;
use std::time::Duration;

pub use super::stores::Scope;

/// The watch settings `Stores` start from.
#[derive(Clone, Debug, Default)]
pub struct Watch {
    pub scope: Scope,
    pub selector: Option<Selector>,
    /// How often missing route CRDs are looked for again.
    pub discovery: Duration,
}

/// A label selector in kubectl's equality form: `key=value`, `key!=value`, `key`, `!key`,
/// comma separated, all of which must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector(Vec<Term>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let term = if let Some((k, v)) = part.split_once("!=") {
                Term::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Term::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Term::Absent(k.trim().into())
            } else {
                Term::Exists(part.into())
            };
            let key = match &term {
                Term::Equals(k, _) | Term::NotEquals(k, _) | Term::Exists(k) | Term::Absent(k) => k,
            };
            if key.is_empty() || key.contains(|c: char| c.is_whitespace() || "()!=".contains(c)) {
                return Err(format!("invalid label selector term {part:?} (use key=value, key!=value, key or !key)"));
            }
            terms.push(term);
        }
        if terms.is_empty() {
            return Err("an empty label selector".into());
        }
        Ok(Selector(terms))
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|term| match term {
            Term::Equals(k, v) => labels.get(k) == Some(v),
            Term::NotEquals(k, v) => labels.get(k) != Some(v),
            Term::Exists(k) => labels.contains_key(k),
            Term::Absent(k) => !labels.contains_key(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Selector;

    #[test]
    fn equality_selectors() {
        let labels = [("team".to_string(), "shop".to_string()), ("tier".to_string(), "prod".to_string())].into();
        assert!(Selector::parse("team=shop").unwrap().matches(&labels));
        assert!(Selector::parse("team==shop, tier").unwrap().matches(&labels));
        assert!(!Selector::parse("team=shop,tier!=prod").unwrap().matches(&labels));
        assert!(Selector::parse("!legacy").unwrap().matches(&labels));
        assert!(!Selector::parse("legacy").unwrap().matches(&labels));
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("team in (a)").is_err());
    }
}
