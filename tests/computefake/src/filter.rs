//! The `filter` parameter of list calls.
//!
//! Supported: `FIELD eq REGEX` and `FIELD ne REGEX` (RE2 full match, value quoted or bare),
//! `FIELD = VALUE` / `FIELD != VALUE` (literal, `*` as a wildcard), `FIELD:*` (present) and
//! `FIELD:VALUE`, optionally parenthesized and joined by `AND` (or juxtaposition) and `OR`
//! (`AND` binds tighter). `FIELD` is a dotted path into the resource, e.g. `labels.team`.

use serde_json::Value;

use crate::errors::ApiError;
use crate::pattern::Pattern;

/// A parsed filter: any one group whose conditions all hold.
#[derive(Debug, Clone)]
pub struct Filter {
    any_of: Vec<Vec<Condition>>,
}

#[derive(Debug, Clone)]
struct Condition {
    path: Vec<String>,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Matches(Pattern),
    DoesNotMatch(Pattern),
    Present,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, ApiError> {
        let mut cursor = Cursor { chars: text.chars().collect(), position: 0 };
        let mut any_of = vec![Vec::new()];
        loop {
            cursor.skip_separators();
            if cursor.at_end() {
                break;
            }
            if cursor.eat_keyword("AND") {
                continue;
            }
            if cursor.eat_keyword("OR") {
                any_of.push(Vec::new());
                continue;
            }
            let condition = cursor.condition().map_err(|problem| invalid_filter(text, &problem))?;
            if let Some(group) = any_of.last_mut() {
                group.push(condition);
            }
        }
        Ok(Filter { any_of })
    }

    pub fn accepts(&self, resource: &Value) -> bool {
        self.any_of.iter().any(|group| group.iter().all(|condition| condition.holds(resource)))
    }
}

impl Condition {
    fn holds(&self, resource: &Value) -> bool {
        let field = self.path.iter().try_fold(resource, |value, key| value.get(key));
        let text = field.and_then(scalar_text);
        match &self.test {
            Test::Present => field.is_some_and(|value| !value.is_null()),
            Test::Matches(pattern) => text.is_some_and(|text| pattern.full_match(&text)),
            Test::DoesNotMatch(pattern) => !text.is_some_and(|text| pattern.full_match(&text)),
        }
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn invalid_filter(filter: &str, problem: &str) -> ApiError {
    ApiError::Invalid(format!("Invalid list filter expression '{filter}': {problem}."))
}

struct Cursor {
    chars: Vec<char>,
    position: usize,
}

impl Cursor {
    fn at_end(&self) -> bool {
        self.position >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    /// Whitespace and parentheses between conditions.
    fn skip_separators(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace() || c == '(' || c == ')') {
            self.position += 1;
        }
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let end = self.position + keyword.len();
        let word: String = self.chars.iter().skip(self.position).take(keyword.len()).collect();
        let bounded = self.chars.get(end).is_none_or(|c| c.is_whitespace() || *c == '(');
        if word == keyword && bounded {
            self.position = end;
            return true;
        }
        false
    }

    fn condition(&mut self) -> Result<Condition, String> {
        let field = self.take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if field.is_empty() {
            return Err(format!("expected a field name at offset {}", self.position));
        }
        self.skip_whitespace();
        let operator = self.operator().ok_or_else(|| format!("expected eq, ne, =, != or : after '{field}'"))?;
        self.skip_whitespace();
        let value = self.value().ok_or_else(|| format!("expected a value after '{field} {operator}'"))?;
        let path = field.split('.').map(str::to_string).collect();
        let compile = |source: &str| Pattern::parse(source).map_err(|error| format!("bad regular expression '{source}': {error}"));
        let test = match (operator.as_str(), value.as_str()) {
            ("eq", source) => Test::Matches(compile(source)?),
            ("ne", source) => Test::DoesNotMatch(compile(source)?),
            (":", "*") => Test::Present,
            ("=" | ":", literal) => Test::Matches(Pattern::glob(literal)),
            (_, literal) => Test::DoesNotMatch(Pattern::glob(literal)),
        };
        Ok(Condition { path, test })
    }

    fn operator(&mut self) -> Option<String> {
        for symbol in ["!=", "=", ":"] {
            if self.chars[self.position..].starts_with(&symbol.chars().collect::<Vec<_>>()) {
                self.position += symbol.len();
                return Some(symbol.to_string());
            }
        }
        for word in ["eq", "ne"] {
            if self.eat_keyword(word) {
                return Some(word.to_string());
            }
        }
        None
    }

    /// A double-quoted value (with `\"` escapes) or a bare one up to whitespace; a bare value
    /// loses the closing parentheses it does not open itself.
    fn value(&mut self) -> Option<String> {
        if self.peek() == Some('"') {
            self.position += 1;
            let mut value = String::new();
            while let Some(c) = self.peek() {
                self.position += 1;
                match c {
                    '"' => return Some(value),
                    '\\' if self.peek() == Some('"') => {
                        value.push('"');
                        self.position += 1;
                    }
                    other => value.push(other),
                }
            }
            return None;
        }
        let mut value = self.take_while(|c| !c.is_whitespace());
        while value.ends_with(')') && value.matches(')').count() > value.matches('(').count() {
            value.pop();
            self.position -= 1;
        }
        (!value.is_empty()).then_some(value)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.position;
        while self.peek().is_some_and(&keep) {
            self.position += 1;
        }
        self.chars[start..self.position].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Filter;

    fn accepts(filter: &str, resource: serde_json::Value) -> bool {
        Filter::parse(filter).expect("filter parses").accepts(&resource)
    }

    #[test]
    fn name_regex_in_every_spelling() {
        let map = json!({"name": "ptg-abc-1"});
        assert!(accepts("name eq ptg-abc.*", map.clone()));
        assert!(accepts("name eq \"ptg-abc.*\"", map.clone()));
        assert!(accepts("(name eq ptg-abc.*)", map.clone()));
        assert!(!accepts("name eq ptg-ab", map.clone()));
        assert!(accepts("name ne other.*", map.clone()));
        assert!(accepts("name = \"ptg-*\"", map.clone()));
        assert!(!accepts("name != ptg-abc-1", map));
    }

    #[test]
    fn labels_conjunctions_and_alternatives() {
        let rule = json!({"name": "fr-1", "labels": {"portico-gateway": "default_web", "team": "a"}});
        assert!(accepts("labels.portico-gateway eq default_web", rule.clone()));
        assert!(accepts("(labels.team eq a) (name eq fr-.*)", rule.clone()));
        assert!(accepts("labels.team = a AND name = fr-1", rule.clone()));
        assert!(!accepts("(labels.team eq b) (name eq fr-.*)", rule.clone()));
        assert!(accepts("(labels.team eq b) OR (name eq fr-.*)", rule.clone()));
        assert!(accepts("labels.team:*", rule.clone()));
        assert!(!accepts("labels.owner:*", rule.clone()));
        assert!(accepts("name eq (fr-1|fr-2)", rule));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Filter::parse("name").is_err());
        assert!(Filter::parse("name eq (unclosed").is_err());
        assert!(Filter::parse("= x").is_err());
    }
}
