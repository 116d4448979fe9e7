//! Text helpers: the config being written, and the quoting rules of HAProxy's config parser,
//! log-format strings and regular expressions. Nothing from the IR reaches the config unquoted
//! unless it consists only of characters that cannot change the meaning of a line.

use std::collections::BTreeMap;

/// The config text and the files written next to it, built up section by section.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) config: String,
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

impl Output {
    /// Starts a section (`global`, `frontend x`, ...) after a blank line.
    pub(crate) fn section(&mut self, header: &str) {
        if !self.config.is_empty() {
            self.config.push('\n');
        }
        self.config.push_str(header);
        self.config.push('\n');
    }

    /// A directive inside the current section.
    pub(crate) fn line(&mut self, text: &str) {
        self.config.push_str("    ");
        self.config.push_str(text);
        self.config.push('\n');
    }

    /// A comment inside the current section; control characters are dropped.
    pub(crate) fn comment(&mut self, text: &str) {
        self.line(&format!("# {}", clean(text)));
    }

    /// A comment at the top level (outside sections).
    /// A blank line separates it from what comes before.
    pub(crate) fn top_comment(&mut self, text: &str) {
        if !self.config.is_empty() && !self.config.ends_with("\n\n") {
            self.config.push('\n');
        }
        self.config.push_str("# ");
        self.config.push_str(&clean(text));
        self.config.push('\n');
    }
}

/// Removes control characters (newlines could otherwise inject directives).
pub(crate) fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Characters that are safe in a bare config word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._:/@+=,-*".contains(c)
}

/// One config argument: bare when harmless, else single-quoted (nothing is interpreted inside),
/// else double-quoted with `\`, `"`, `$` and `#` escaped. Control characters are dropped.
pub(crate) fn arg(value: &str) -> String {
    let value = clean(value);
    if !value.is_empty() && value.chars().all(is_plain) {
        return value;
    }
    if !value.contains('\'') {
        return format!("'{value}'");
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$' | '#') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Escapes a literal for a log-format string (`%` starts a variable there).
pub(crate) fn lf(value: &str) -> String {
    value.replace('%', "%%")
}

/// Escapes a literal for a PCRE regular expression (every ASCII punctuation character).
pub(crate) fn regex_literal(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if c.is_ascii_punctuation() || c == ' ' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Anchors a user regular expression so that it must match the whole value (RE2 full-match
/// semantics, as Envoy-based implementations apply them).
pub(crate) fn anchored(regex: &str) -> String {
    format!("^(?:{regex})$")
}

/// True for a name that can be used inside a sample fetch argument, e.g. `req.fhdr(<name>)`.
pub(crate) fn is_fetch_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-~".contains(c))
}

/// True for a DNS-like host name (letters, digits, dots, dashes, a leading `*.` allowed).
pub(crate) fn is_host_name(name: &str) -> bool {
    let body = name.strip_prefix("*.").unwrap_or(name);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
}
