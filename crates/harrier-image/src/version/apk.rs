//! Alpine version ordering, following apk-tools' tokenizer: digits, a letter, `_suffix[N]`
//! (pre-release `alpha`, `beta`, `pre`, `rc` sort before the release; `cvs`, `svn`, `git`,
//! `hg`, `p` after), and `-rN` revisions.

use std::cmp::Ordering;

// Token kinds, in apk-tools' order (the order matters for the comparisons below).
const INVALID: i32 = -1;
const DIGIT_OR_ZERO: i32 = 0;
const DIGIT: i32 = 1;
const LETTER: i32 = 2;
const SUFFIX: i32 = 3;
const SUFFIX_NO: i32 = 4;
const REVISION_NO: i32 = 5;
const END: i32 = 6;

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Cursor<'a> {
    s: &'a [u8],
}

impl Cursor<'_> {
    /// Reads the separator after a token and decides the next token's kind.
    fn next_kind(&mut self, kind: &mut i32) {
        let mut n = INVALID;
        match self.s.first() {
            None | Some(0) => n = END,
            Some(c) if (*kind == DIGIT || *kind == DIGIT_OR_ZERO) && c.is_ascii_lowercase() => {
                n = LETTER
            }
            Some(c) if *kind == LETTER && c.is_ascii_digit() => n = DIGIT,
            Some(c) if *kind == SUFFIX && c.is_ascii_digit() => n = SUFFIX_NO,
            Some(c) => {
                match c {
                    b'.' => n = DIGIT_OR_ZERO,
                    b'_' => n = SUFFIX,
                    b'-' if self.s.get(1) == Some(&b'r') => {
                        n = REVISION_NO;
                        self.s = &self.s[1..];
                    }
                    _ => {}
                }
                self.s = &self.s[1..];
            }
        }
        if n < *kind
            && !((n == DIGIT_OR_ZERO && *kind == DIGIT)
                || (n == SUFFIX && *kind == SUFFIX_NO)
                || (n == DIGIT && *kind == LETTER))
        {
            n = INVALID;
        }
        *kind = n;
    }

    /// Reads one token of kind `*kind`, returns its value (`None` when the token itself
    /// cannot be read) and moves `*kind` to the next kind.
    fn token(&mut self, kind: &mut i32) -> Option<i64> {
        if self.s.is_empty() {
            *kind = END;
            return Some(0);
        }
        let v: i64;
        let mut i = 0;
        let mut next = INVALID;
        let digits = |s: &[u8], i: &mut usize| {
            let mut v: i64 = 0;
            while *i < s.len() && s[*i].is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add((s[*i] - b'0') as i64);
                *i += 1;
            }
            v
        };
        match *kind {
            DIGIT_OR_ZERO if self.s[0] == b'0' => {
                // Leading zeros: a fractional-looking component sorts by its zero count.
                while i < self.s.len() && self.s[i] == b'0' {
                    i += 1;
                }
                next = DIGIT;
                v = -(i as i64);
            }
            // A number where a letter stands (`1.r2`, `1-ruff`) cannot be read.
            DIGIT_OR_ZERO | SUFFIX_NO | REVISION_NO if self.s[0].is_ascii_alphabetic() => {
                *kind = INVALID;
                return None;
            }
            DIGIT_OR_ZERO | DIGIT | SUFFIX_NO | REVISION_NO => {
                v = digits(self.s, &mut i);
            }
            LETTER => {
                v = self.s[0] as i64;
                i = 1;
            }
            SUFFIX => {
                if let Some(p) = PRE.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    v = p as i64 - PRE.len() as i64;
                    i = PRE[p].len();
                } else if let Some(p) = POST.iter().position(|p| self.s.starts_with(p.as_bytes())) {
                    v = p as i64;
                    i = POST[p].len();
                } else {
                    *kind = INVALID;
                    return None;
                }
            }
            _ => {
                *kind = INVALID;
                return None;
            }
        }
        self.s = &self.s[i..];
        if self.s.is_empty() {
            *kind = END;
        } else if next != INVALID {
            *kind = next;
        } else {
            self.next_kind(kind);
        }
        Some(v)
    }
}

/// Compares two Alpine versions. Where they differ, a part apk-tools cannot read sorts before
/// a readable one, and two unreadable parts are equal.
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut ca = Cursor {
        s: a.trim().as_bytes(),
    };
    let mut cb = Cursor {
        s: b.trim().as_bytes(),
    };
    let (mut at, mut bt) = (DIGIT, DIGIT);
    let (mut av, mut bv) = (Some(0i64), Some(0i64));
    let mut last_kind = at;
    while at == bt && at != END && at != INVALID && av == bv {
        last_kind = at;
        av = ca.token(&mut at);
        bv = cb.token(&mut bt);
    }
    match (av, bv) {
        // Both unreadable at the same component (`1.2.r2`, `1.2.r1`): the rest compares as text.
        (None, None) if last_kind == DIGIT_OR_ZERO => return ca.s.cmp(cb.s),
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (Some(x), Some(y)) if x != y => return x.cmp(&y),
        _ => {}
    }
    if at == bt {
        return Ordering::Equal;
    }
    // Equal so far. What comes next decides: an unreadable part loses; otherwise the longer
    // version is greater, unless what follows is a pre-release suffix.
    let peek = |c: &Cursor<'_>, kind: i32| -> Option<i64> {
        if kind == INVALID {
            return None;
        }
        if kind == END {
            return Some(0);
        }
        let mut c = Cursor { s: c.s };
        let mut k = kind;
        c.token(&mut k)
    };
    let (na, nb) = (peek(&ca, at), peek(&cb, bt));
    match (na, nb) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        _ => {}
    }
    if at == SUFFIX && na.is_some_and(|v| v < 0) {
        return Ordering::Less;
    }
    if bt == SUFFIX && nb.is_some_and(|v| v < 0) {
        return Ordering::Greater;
    }
    bt.cmp(&at)
}
