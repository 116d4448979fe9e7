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

    /// A comment inside the current section; control characters are shown escaped.
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

/// Shows control characters escaped (`\u{a}`), for comments only: a newline could otherwise
/// inject directives, and dropping it would misreport the value.
pub(crate) fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// Marks a value the config cannot carry unchanged. The renderer never alters or drops what
/// the IR asks for: a Gateway whose config contains this marker is left out whole (see
/// [`super::render`]), with `why` as the reason. NUL cannot appear in a config otherwise.
pub(crate) fn refuse(why: &str) -> String {
    format!("\u{0}{}\u{0}", why.replace('\u{0}', ""))
}

/// The reason of the first [`refuse`] marker in `config`, if any.
pub(crate) fn refusal(config: &str) -> Option<&str> {
    let start = config.find('\u{0}')? + 1;
    let end = config[start..].find('\u{0}').map_or(config.len(), |e| start + e);
    Some(&config[start..end])
}

/// Characters that are safe in a bare config word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._:/@+=,-*".contains(c)
}

/// One config argument: bare when harmless, else single-quoted (nothing is interpreted inside),
/// else double-quoted with `\`, `"`, `$` and `#` escaped. A value with control characters is
/// refused (a newline would end the directive; dropping it would change the value).
pub(crate) fn arg(value: &str) -> String {
    if value.chars().any(char::is_control) {
        return refuse(&format!("the value {:?} contains control characters", value.chars().take(60).collect::<String>()));
    }
    if !value.is_empty() && value.chars().all(is_plain) {
        return value.to_string();
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

/// True for a DNS-like host name (letters, digits, dots, dashes, a leading `*.` allowed); never
/// starting with `-` or `.`, which HAProxy would read as a flag or an empty label.
pub(crate) fn is_host_name(name: &str) -> bool {
    let body = name.strip_prefix("*.").unwrap_or(name);
    !body.is_empty() && !body.starts_with(['-', '.']) && body.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
}
