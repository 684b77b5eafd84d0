//! Glob patterns as Falco's `glob`/`iglob` operators use them (fnmatch without `FNM_PATHNAME`:
//! `*` also matches `/`).

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Tok>,
    case_insensitive: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(u8),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

impl Glob {
    /// Compiles `pattern`. `\x` escapes `x`; `[...]` classes accept ranges and `!`/`^` negation.
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        let fold = |c: u8| {
            if case_insensitive {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let p = pattern.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                b'*' => {
                    if tokens.last() != Some(&Tok::Star) {
                        tokens.push(Tok::Star);
                    }
                    i += 1;
                }
                b'?' => {
                    tokens.push(Tok::Any);
                    i += 1;
                }
                b'\\' if i + 1 < p.len() => {
                    tokens.push(Tok::Lit(fold(p[i + 1])));
                    i += 2;
                }
                b'[' => match parse_class(p, i, &fold) {
                    Some((tok, next)) => {
                        tokens.push(tok);
                        i = next;
                    }
                    None => {
                        tokens.push(Tok::Lit(b'['));
                        i += 1;
                    }
                },
                c => {
                    tokens.push(Tok::Lit(fold(c)));
                    i += 1;
                }
            }
        }
        Glob {
            tokens,
            case_insensitive,
        }
    }

    /// The literal text every match starts with (empty when the pattern starts with a
    /// wildcard; `None` for a case-insensitive pattern, whose matches need not share it).
    pub fn literal_prefix(&self) -> Option<String> {
        if self.case_insensitive {
            return None;
        }
        let bytes: Vec<u8> = self
            .tokens
            .iter()
            .map_while(|t| match t {
                Tok::Lit(c) => Some(*c),
                _ => None,
            })
            .collect();
        // Cut back to a character boundary (a literal may end inside a UTF-8 sequence).
        let mut end = bytes.len();
        while std::str::from_utf8(&bytes[..end]).is_err() {
            end -= 1;
        }
        Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        let s = s.as_bytes();
        let fold = |c: u8| {
            if self.case_insensitive {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        // Iterative matcher with single-star backtracking: linear in practice, never recursive.
        let (mut ti, mut si) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            let c = fold(s[si]);
            match self.tokens.get(ti) {
                Some(Tok::Star) => {
                    star = Some((ti, si));
                    ti += 1;
                    continue;
                }
                Some(Tok::Any) => {
                    ti += 1;
                    si += 1;
                    continue;
                }
                Some(Tok::Lit(l)) if *l == c => {
                    ti += 1;
                    si += 1;
                    continue;
                }
                Some(Tok::Class { negated, ranges }) => {
                    let hit = ranges.iter().any(|&(a, b)| a <= c && c <= b);
                    if hit != *negated {
                        ti += 1;
                        si += 1;
                        continue;
                    }
                }
                _ => {}
            }
            match star {
                Some((st, ss)) => {
                    ti = st + 1;
                    si = ss + 1;
                    star = Some((st, ss + 1));
                }
                None => return false,
            }
        }
        self.tokens[ti..].iter().all(|t| *t == Tok::Star)
    }
}

fn parse_class(p: &[u8], start: usize, fold: &dyn Fn(u8) -> u8) -> Option<(Tok, usize)> {
    let mut i = start + 1;
    let negated = matches!(p.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < p.len() {
        let c = p[i];
        if c == b']' && !first {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            ranges.push((fold(c), fold(p[i + 2])));
            i += 3;
        } else {
            ranges.push((fold(c), fold(c)));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_fnmatch() {
        let g = |p: &str, s: &str| Glob::new(p, false).is_match(s);
        assert!(g("/etc/*", "/etc/a/b"));
        assert!(g("*.json", "x.json"));
        assert!(!g("*.json", "x.json.gz"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[!a-c]x", "bx"));
        assert!(g("\\*", "*"));
        assert!(!g("\\*", "a"));
        assert!(g("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!g("*a*b*c*", "xxaxxcxxbxx"));
        assert!(g("", ""));
        assert!(Glob::new("AB*", true).is_match("abc"));
        assert!(!Glob::new("AB*", false).is_match("abc"));
    }

    #[test]
    fn literal_prefix_stops_at_the_first_wildcard() {
        assert_eq!(
            Glob::new("/etc/*.conf", false).literal_prefix().as_deref(),
            Some("/etc/")
        );
        assert_eq!(
            Glob::new("/e\\*x", false).literal_prefix().as_deref(),
            Some("/e*x")
        );
        assert_eq!(
            Glob::new("?etc", false).literal_prefix().as_deref(),
            Some("")
        );
        assert_eq!(Glob::new("/etc/*", true).literal_prefix(), None);
    }
}
