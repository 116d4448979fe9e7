//! Regular expressions checked against the dialect of the engine that will run them
//! ([`RegexDialect`]), before a route is accepted: a pattern is parsed once (regex-syntax, close to
//! RE2) and then refused wherever the target engine would reject it or read it differently.
//! What is accepted here is what the engine accepts with the same meaning; anything in doubt is
//! refused with a message saying why, never passed on for the load balancer to reject.

use portico_model::RegexDialect;
use regex_syntax::ast::{self, Ast, Visitor};

/// Why `pattern` cannot be used with `dialect`, or `Ok`.
pub fn check(pattern: &str, dialect: RegexDialect) -> Result<(), String> {
    if let Some(c) = pattern.chars().find(|c| c.is_control()) {
        return Err(format!("contains the control character {c:?}; write it as an escape such as \\n or \\x0a"));
    }
    let max_len = match dialect {
        RegexDialect::Alb => 128,
        _ => 1024,
    };
    if pattern.len() > max_len {
        return Err(format!("is {} bytes long; {dialect} takes at most {max_len}", pattern.len()));
    }
    if dialect != RegexDialect::Re2 && !pattern.is_ascii() {
        return Err(format!("contains non-ASCII characters, which {dialect} matches byte by byte; use \\x escapes"));
    }
    let parsed = ast::parse::ParserBuilder::new().nest_limit(64).build().parse(pattern);
    let ast = parsed.map_err(|e| format!("is not a valid regular expression: {}", e.kind()))?;
    ast::visit(&ast, DialectRules { dialect, pattern })
}

struct DialectRules<'a> {
    dialect: RegexDialect,
    pattern: &'a str,
}

impl DialectRules<'_> {
    fn refuse<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("uses {what}, which {} does not accept with the same meaning", self.dialect))
    }

    fn max_count(&self) -> u32 {
        match self.dialect {
            RegexDialect::Pcre2 => 65_535,
            _ => 1_000,
        }
    }

    fn repetition(&self, rep: &ast::Repetition) -> Result<(), String> {
        if matches!(*rep.ast, Ast::Repetition(_)) {
            return self.refuse("a quantifier applied to a quantifier (e.g. `a**`, `a{2}{3}`; group it: `(?:a{2}){3}`)");
        }
        let ast::RepetitionKind::Range(range) = &rep.op.kind else { return Ok(()) };
        let op = self.pattern.get(rep.op.span.start.offset..rep.op.span.end.offset).unwrap_or("");
        if op.starts_with("{,") {
            return self.refuse("a count without a lower bound (`{,n}`; write `{0,n}`)");
        }
        let (ast::RepetitionRange::Exactly(n) | ast::RepetitionRange::AtLeast(n) | ast::RepetitionRange::Bounded(_, n)) = range;
        if *n > self.max_count() {
            return self.refuse(&format!("a repetition count of {n} (at most {})", self.max_count()));
        }
        Ok(())
    }

    fn literal(&self, literal: &ast::Literal) -> Result<(), String> {
        use ast::{HexLiteralKind, LiteralKind, SpecialLiteralKind};
        match &literal.kind {
            LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
            | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => self.refuse("a \\u or \\U escape"),
            LiteralKind::Octal => self.refuse("an octal escape"),
            // PCRE2 reads `\v` as "any vertical whitespace", not a vertical tab.
            LiteralKind::Special(SpecialLiteralKind::VerticalTab) if self.dialect != RegexDialect::Re2 => self.refuse("\\v"),
            LiteralKind::Special(SpecialLiteralKind::Space) => self.refuse("an escaped space"),
            _ => Ok(()),
        }
    }

    fn flags(&self, flags: &ast::Flags) -> Result<(), String> {
        for item in &flags.items {
            if let ast::FlagsItemKind::Flag(flag) = &item.kind
                && !matches!(flag, ast::Flag::CaseInsensitive | ast::Flag::MultiLine | ast::Flag::DotMatchesNewLine)
            {
                return self.refuse("a flag other than i, m and s");
            }
        }
        Ok(())
    }

    fn assertion(&self, assertion: &ast::Assertion) -> Result<(), String> {
        use ast::AssertionKind::*;
        match assertion.kind {
            StartLine | EndLine | StartText | EndText | WordBoundary | NotWordBoundary => Ok(()),
            _ => self.refuse("a word-boundary form other than \\b and \\B"),
        }
    }

    fn unicode_class(&self) -> Result<(), String> {
        match self.dialect {
            RegexDialect::Re2 | RegexDialect::Pcre2 => Ok(()),
            _ => self.refuse("a Unicode class (\\p{...})"),
        }
    }
}

impl Visitor for DialectRules<'_> {
    type Output = ();
    type Err = String;

    fn finish(self) -> Result<(), String> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), String> {
        match ast {
            Ast::Repetition(rep) => self.repetition(rep),
            Ast::Literal(literal) => self.literal(literal),
            Ast::Flags(set) => self.flags(&set.flags),
            Ast::Group(group) => match &group.kind {
                ast::GroupKind::NonCapturing(flags) => self.flags(flags),
                _ => Ok(()),
            },
            Ast::Assertion(assertion) => self.assertion(assertion),
            Ast::ClassUnicode(_) => self.unicode_class(),
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ast::ClassSetItem) -> Result<(), String> {
        match item {
            ast::ClassSetItem::Bracketed(_) => self.refuse("a class inside a class (`[a[b]]`)"),
            ast::ClassSetItem::Unicode(_) => self.unicode_class(),
            ast::ClassSetItem::Literal(literal) => self.literal(literal),
            ast::ClassSetItem::Range(range) => self.literal(&range.start).and_then(|()| self.literal(&range.end)),
            _ => Ok(()),
        }
    }

    fn visit_class_set_binary_op_pre(&mut self, _op: &ast::ClassSetBinaryOp) -> Result<(), String> {
        self.refuse("a class set operation (`&&`, `--`, `~~`)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [RegexDialect; 4] = [RegexDialect::Portable, RegexDialect::Pcre2, RegexDialect::Re2, RegexDialect::Alb];

    #[test]
    fn accepted_everywhere() {
        for pattern in ["/api/v[0-9]+/.*", "^a$", "(?i)abc", "(?:a{2}){3}", "a{1,3}?", "[[:alpha:]_-]+", "\\d\\w\\s\\.", "(?P<n>x)|y", "a\\x41", ""] {
            for dialect in ALL {
                assert_eq!(check(pattern, dialect), Ok(()), "{pattern:?} on {dialect}");
            }
        }
    }

    #[test]
    fn refused_everywhere() {
        for pattern in ["a{2}{3}", "a**", "a*+", "a\nb", "a\0", "a{,3}", "[a&&b]", "[a[b]]", "(?x)a b", "\\u0041", "\\<a", "(?=a)", "\\1", "("] {
            for dialect in ALL {
                assert!(check(pattern, dialect).is_err(), "{pattern:?} on {dialect}");
            }
        }
    }

    #[test]
    fn dialect_differences() {
        assert!(check("\\pL", RegexDialect::Pcre2).is_ok());
        assert!(check("\\pL", RegexDialect::Re2).is_ok());
        assert!(check("\\pL", RegexDialect::Alb).is_err());
        assert!(check("é", RegexDialect::Re2).is_ok());
        assert!(check("é", RegexDialect::Pcre2).is_err());
        assert!(check("a{2000}", RegexDialect::Pcre2).is_ok());
        assert!(check("a{65536}", RegexDialect::Pcre2).is_err());
        assert!(check(&"a".repeat(129), RegexDialect::Alb).is_err());
        assert!(check(&"a".repeat(129), RegexDialect::Re2).is_ok());
    }

    #[test]
    fn messages_say_why() {
        let why = check("a{2}{3}", RegexDialect::Pcre2).unwrap_err();
        assert!(why.contains("quantifier applied to a quantifier") && why.contains("PCRE2"), "{why}");
        assert!(check("a\nb", RegexDialect::Pcre2).unwrap_err().contains("control character"));
    }

    /// `haproxy -c` on a config matching the path against `pattern` as the renderer writes it
    /// (anchored, single-quoted); `None` when HAProxy is not installed.
    fn haproxy_accepts(pattern: &str) -> Option<bool> {
        let dir = std::env::temp_dir().join(format!("portico-regex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let file = dir.join(format!("{:x}.cfg", pattern.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))));
        let config = format!(
            "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:18080\n    http-request deny if {{ path_reg '^(?:{pattern})$' }}\n"
        );
        std::fs::write(&file, config).ok()?;
        let out = std::process::Command::new("haproxy").arg("-c").arg("-q").arg("-f").arg(&file).output().ok()?;
        Some(out.status.success())
    }

    /// What we accept for HAProxy, real HAProxy (PCRE2) accepts; what we refuse because PCRE2
    /// does, it refuses. Skipped only when `haproxy` is not installed.
    #[test]
    fn haproxy_agrees_with_the_pcre2_and_portable_dialects() {
        if haproxy_accepts("a").is_none() {
            eprintln!("haproxy not installed: skipped");
            return;
        }
        let accepted = [
            "/api/v[0-9]+/.*",
            "(?i)abc",
            "(?:a{2}){3}",
            "a{1,3}?",
            "[[:alpha:]_-]+",
            "\\d\\w\\s\\.",
            "(?P<n>x)|y",
            "a\\x41",
            "",
            "\\pL",
            "a{65535}",
            "(?s).",
            "(?m)^a$",
            "a|",
            "()",
            "[]a]",
            "\\ba\\B",
            "\\Aa\\z",
            "[^/]+/x",
        ];
        for pattern in accepted {
            for dialect in [RegexDialect::Pcre2, RegexDialect::Portable] {
                if check(pattern, dialect).is_ok() {
                    assert_eq!(haproxy_accepts(pattern), Some(true), "{pattern:?} passes {dialect} but haproxy -c refuses it");
                }
            }
            assert!(check(pattern, RegexDialect::Pcre2).is_ok(), "{pattern:?} should pass PCRE2");
        }
        for pattern in ["a{2}{3}", "a**", "a{65536}", "("] {
            assert!(check(pattern, RegexDialect::Pcre2).is_err(), "{pattern:?}");
            assert!(check(pattern, RegexDialect::Portable).is_err(), "{pattern:?}");
            assert_eq!(haproxy_accepts(pattern), Some(false), "haproxy -c accepts {pattern:?}: the refusal is not needed");
        }
    }
}
