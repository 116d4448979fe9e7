//! A small backtracking matcher for the part of RE2 syntax that list filters use in practice:
//! literals, `.`, bracket classes, `\d \w \s`, groups with `|`, and the `* + ? {n,m}`
//! quantifiers. Matching is always anchored at both ends, as the Compute API's `eq`/`ne` are.

/// Why a pattern could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("unbalanced parenthesis")]
    UnbalancedParenthesis,
    #[error("unterminated character class")]
    UnterminatedClass,
    #[error("a quantifier has nothing to repeat")]
    NothingToRepeat,
    #[error("trailing backslash")]
    TrailingBackslash,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    alternatives: Vec<Sequence>,
}

type Sequence = Vec<Piece>;

#[derive(Debug, Clone)]
struct Piece {
    atom: Atom,
    min: usize,
    max: Option<usize>,
}

#[derive(Debug, Clone)]
enum Atom {
    Char(char),
    Any,
    Class { ranges: Vec<(char, char)>, negated: bool },
    Group(Vec<Sequence>),
}

impl Pattern {
    /// Parse an RE2-style regular expression.
    pub fn parse(source: &str) -> Result<Pattern, PatternError> {
        let mut parser = Parser { chars: source.chars().collect(), position: 0 };
        let alternatives = parser.alternatives()?;
        if parser.position < parser.chars.len() {
            return Err(PatternError::UnbalancedParenthesis);
        }
        Ok(Pattern { alternatives })
    }

    /// A literal text in which `*` stands for any run of characters.
    pub fn glob(source: &str) -> Pattern {
        let pieces = source
            .chars()
            .map(|c| match c {
                '*' => Piece { atom: Atom::Any, min: 0, max: None },
                other => Piece { atom: Atom::Char(other), min: 1, max: Some(1) },
            })
            .collect();
        Pattern { alternatives: vec![pieces] }
    }

    /// Whether the whole of `text` matches.
    pub fn full_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let at_end = |end: usize| end == chars.len();
        self.alternatives.iter().any(|sequence| match_sequence(sequence, &chars, 0, &at_end))
    }
}

struct Parser {
    chars: Vec<char>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek();
        self.position += usize::from(next.is_some());
        next
    }

    fn alternatives(&mut self) -> Result<Vec<Sequence>, PatternError> {
        let mut alternatives = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.position += 1;
            alternatives.push(self.sequence()?);
        }
        Ok(alternatives)
    }

    fn sequence(&mut self) -> Result<Sequence, PatternError> {
        let mut pieces = Vec::new();
        while let Some(next) = self.peek() {
            if next == '|' || next == ')' {
                break;
            }
            let atom = self.atom()?;
            let (min, max) = self.quantifier();
            pieces.push(Piece { atom, min, max });
        }
        Ok(pieces)
    }

    fn atom(&mut self) -> Result<Atom, PatternError> {
        match self.bump() {
            Some('.') => Ok(Atom::Any),
            Some('(') => {
                if self.chars[self.position..].starts_with(&['?', ':']) {
                    self.position += 2;
                }
                let inner = self.alternatives()?;
                match self.bump() {
                    Some(')') => Ok(Atom::Group(inner)),
                    _ => Err(PatternError::UnbalancedParenthesis),
                }
            }
            Some('[') => self.class(),
            Some('\\') => self.escape(),
            Some('*' | '+' | '?' | '{') => Err(PatternError::NothingToRepeat),
            // Anchors are implied: the match always spans the whole text.
            Some('^' | '$') => Ok(Atom::Group(vec![Vec::new()])),
            Some(other) => Ok(Atom::Char(other)),
            None => Err(PatternError::UnbalancedParenthesis),
        }
    }

    fn escape(&mut self) -> Result<Atom, PatternError> {
        match self.bump() {
            None => Err(PatternError::TrailingBackslash),
            Some(letter) => Ok(shorthand_class(letter).unwrap_or(Atom::Char(letter))),
        }
    }

    fn class(&mut self) -> Result<Atom, PatternError> {
        let negated = self.peek() == Some('^');
        self.position += usize::from(negated);
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let start = match self.bump() {
                None => return Err(PatternError::UnterminatedClass),
                Some(']') if !first => return Ok(Atom::Class { ranges, negated }),
                Some('\\') => match self.bump() {
                    None => return Err(PatternError::TrailingBackslash),
                    Some(letter) => match shorthand_class(letter) {
                        Some(Atom::Class { ranges: more, .. }) => {
                            ranges.extend(more);
                            first = false;
                            continue;
                        }
                        _ => letter,
                    },
                },
                Some(other) => other,
            };
            first = false;
            let is_range = self.peek() == Some('-') && self.chars.get(self.position + 1).is_some_and(|c| *c != ']');
            if is_range {
                self.position += 1;
                let end = self.bump().ok_or(PatternError::UnterminatedClass)?;
                ranges.push((start, end));
            } else {
                ranges.push((start, start));
            }
        }
    }

    fn quantifier(&mut self) -> (usize, Option<usize>) {
        let bounds = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => match self.counted_bounds() {
                Some(bounds) => return bounds,
                None => return (1, Some(1)),
            },
            _ => return (1, Some(1)),
        };
        self.position += 1;
        // Laziness does not change whether a full match exists.
        if self.peek() == Some('?') {
            self.position += 1;
        }
        bounds
    }

    /// `{n}`, `{n,}` or `{n,m}`; `None` (and nothing consumed) for anything else.
    fn counted_bounds(&mut self) -> Option<(usize, Option<usize>)> {
        let rest: String = self.chars[self.position..].iter().collect();
        let close = rest.find('}')?;
        let inside = &rest[1..close];
        let bounds = match inside.split_once(',') {
            None => {
                let exact = inside.parse().ok()?;
                (exact, Some(exact))
            }
            Some((low, "")) => (low.parse().ok()?, None),
            Some((low, high)) => (low.parse().ok()?, Some(high.parse().ok()?)),
        };
        self.position += rest[..=close].chars().count();
        Some(bounds)
    }
}

fn shorthand_class(letter: char) -> Option<Atom> {
    let ranges = match letter {
        'd' => vec![('0', '9')],
        'w' => vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')],
        's' => vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')],
        _ => return None,
    };
    Some(Atom::Class { ranges, negated: false })
}

fn match_sequence(pieces: &[Piece], text: &[char], position: usize, done: &dyn Fn(usize) -> bool) -> bool {
    match pieces.split_first() {
        None => done(position),
        Some((piece, rest)) => match_piece(piece, rest, text, position, 0, done),
    }
}

/// Greedy repetition with backtracking: try one more occurrence first, then move on.
fn match_piece(piece: &Piece, rest: &[Piece], text: &[char], position: usize, count: usize, done: &dyn Fn(usize) -> bool) -> bool {
    let may_repeat = piece.max.is_none_or(|max| count < max);
    let after_one_more = |next: usize| {
        // An empty occurrence past the minimum would repeat forever.
        (next > position || count < piece.min) && match_piece(piece, rest, text, next, count + 1, done)
    };
    if may_repeat && match_atom(&piece.atom, text, position, &after_one_more) {
        return true;
    }
    count >= piece.min && match_sequence(rest, text, position, done)
}

fn match_atom(atom: &Atom, text: &[char], position: usize, done: &dyn Fn(usize) -> bool) -> bool {
    let current = text.get(position).copied();
    match atom {
        Atom::Char(expected) => current == Some(*expected) && done(position + 1),
        Atom::Any => current.is_some_and(|c| c != '\n') && done(position + 1),
        Atom::Class { ranges, negated } => {
            let inside = |c: char| ranges.iter().any(|(low, high)| (*low..=*high).contains(&c));
            current.is_some_and(|c| inside(c) != *negated) && done(position + 1)
        }
        Atom::Group(alternatives) => alternatives.iter().any(|sequence| match_sequence(sequence, text, position, done)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Pattern, PatternError};

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::parse(pattern).expect("pattern parses").full_match(text)
    }

    #[test]
    fn prefix_patterns_match_whole_names_only() {
        assert!(matches("ptg-abc.*", "ptg-abc-route-1"));
        assert!(matches("ptg-abc.*", "ptg-abc"));
        assert!(!matches("ptg-abc.*", "x-ptg-abc"));
        assert!(!matches("ptg-abc", "ptg-abcd"));
    }

    #[test]
    fn classes_groups_and_counts() {
        let gcp_name = "[a-z]([-a-z0-9]{0,61}[a-z0-9])?";
        assert!(matches(gcp_name, "a"));
        assert!(matches(gcp_name, "ptg-1"));
        assert!(!matches(gcp_name, "ptg-"));
        assert!(!matches(gcp_name, "Ptg"));
        assert!(matches("(one|two)-\\d+", "two-42"));
        assert!(!matches("(one|two)-\\d+", "three-42"));
        assert!(matches("[^.]+\\.example", "www.example"));
        assert!(matches("a{2}b{1,}", "aabbb"));
        assert!(!matches("a{2}", "aaa"));
    }

    #[test]
    fn globs_and_errors() {
        assert!(Pattern::glob("ptg-*-x").full_match("ptg-1-2-x"));
        assert!(!Pattern::glob("ptg.*").full_match("ptg-1"));
        assert_eq!(Pattern::parse("(a").unwrap_err(), PatternError::UnbalancedParenthesis);
        assert_eq!(Pattern::parse("*a").unwrap_err(), PatternError::NothingToRepeat);
        assert_eq!(Pattern::parse("[a-").unwrap_err(), PatternError::UnterminatedClass);
    }
}
