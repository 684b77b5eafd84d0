//! Sigma values and modifiers compiled to tests.
//!
//! Semantics (docs/rules.md, "Sigma"): matching is ASCII case-insensitive unless `cased`; `*`
//! and `?` are wildcards (`\*`, `\?`, `\\` escape them); `null` matches an absent field or a JSON
//! null; numbers and booleans in the event match the rule's text (`'443'`, `'true'`); a field
//! holding several values (through arrays) matches when one of them does.

use aho_corasick::AhoCorasickBuilder;
use memchr::memmem::Finder;
use regex::RegexBuilder;
use rustc_hash::FxHashSet;

use crate::glob::Glob;
use crate::matcher::{Cmp, Test};

/// A scalar value from a detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    /// Text (numbers and booleans become their text).
    Text(String),
    /// YAML null.
    Null,
}

/// The modifiers of one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mods {
    /// Modifier `contains`.
    pub contains: bool,
    /// Modifier `startswith`.
    pub startswith: bool,
    /// Modifier `endswith`.
    pub endswith: bool,
    /// Modifier `all`.
    pub all: bool,
    /// Modifier `cased`.
    pub cased: bool,
    /// Modifier `exists`.
    pub exists: bool,
    /// Modifier `neq`.
    pub neq: bool,
    /// Modifier `windash`.
    pub windash: bool,
    /// Modifier `re`.
    pub re: bool,
    /// `re` sub-modifier `i` (case-insensitive)
    pub re_i: bool,
    /// `re` sub-modifier `m` (multi-line)
    pub re_m: bool,
    /// `re` sub-modifier `s` (dot matches newline)
    pub re_s: bool,
    /// Modifier `base64`.
    pub base64: bool,
    /// Modifier `base64offset`.
    pub base64offset: bool,
    /// UTF-16 encoding before base64
    pub utf16: Option<Utf16>,
    /// `lt`, `lte`, `gt` or `gte`
    pub cmp: Option<Cmp>,
    /// Modifier `cidr`.
    pub cidr: bool,
    /// Modifier `fieldref`.
    pub fieldref: bool,
}

/// UTF-16 encodings for the base64 modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    /// Little-endian (`utf16le`, `wide`).
    Le,
    /// Big-endian.
    Be,
    /// Little-endian with a byte-order mark.
    Bom,
}

/// Why a modifier list cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModError {
    /// Not a Sigma modifier.
    Unknown(String),
    /// A Sigma modifier Harrier does not implement.
    Unsupported(String),
}

impl Mods {
    /// Parses the modifiers after the field name (`field|contains|all`).
    pub fn parse(list: &[&str]) -> Result<Mods, ModError> {
        let mut m = Mods::default();
        for &name in list {
            match name {
                "contains" => m.contains = true,
                "startswith" => m.startswith = true,
                "endswith" => m.endswith = true,
                "all" => m.all = true,
                "cased" => m.cased = true,
                "exists" => m.exists = true,
                "neq" => m.neq = true,
                "windash" => m.windash = true,
                "re" => m.re = true,
                "i" => m.re_i = true,
                "m" => m.re_m = true,
                "s" => m.re_s = true,
                "base64" => m.base64 = true,
                "base64offset" => m.base64offset = true,
                "utf16le" | "wide" => m.utf16 = Some(Utf16::Le),
                "utf16be" => m.utf16 = Some(Utf16::Be),
                "utf16" => m.utf16 = Some(Utf16::Bom),
                "lt" => m.cmp = Some(Cmp::Lt),
                "lte" => m.cmp = Some(Cmp::Le),
                "gt" => m.cmp = Some(Cmp::Gt),
                "gte" => m.cmp = Some(Cmp::Ge),
                "cidr" => m.cidr = true,
                "fieldref" => m.fieldref = true,
                "expand" | "minute" | "hour" | "day" | "week" | "month" | "year" => {
                    return Err(ModError::Unsupported(name.to_string()))
                }
                other => return Err(ModError::Unknown(other.to_string())),
            }
        }
        if (m.re_i || m.re_m || m.re_s) && !m.re {
            return Err(ModError::Unknown("i/m/s without re".into()));
        }
        Ok(m)
    }
}

/// Wildcard pattern pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(char),
    Star,
    One,
}

fn pieces(v: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    out.push(Piece::Lit(n));
                    chars.next();
                }
                _ => out.push(Piece::Lit('\\')),
            },
            '*' => out.push(Piece::Star),
            '?' => out.push(Piece::One),
            c => out.push(Piece::Lit(c)),
        }
    }
    out
}

/// The test for one string under the matching mode and case rules.
fn text_test(p: Vec<Piece>, cased: bool) -> Result<Test, String> {
    let lits = |ps: &[Piece]| -> Option<String> {
        ps.iter()
            .map(|p| match p {
                Piece::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    };
    let n = p.len();
    let lead = n > 0 && p[0] == Piece::Star;
    let trail = n > 1 && p[n - 1] == Piece::Star || (n == 1 && lead);
    let inner = &p[lead as usize..n - (trail && !(n == 1 && lead)) as usize];
    if let Some(s) = lits(inner) {
        let low = |s: &str| -> Box<str> { s.to_ascii_lowercase().into() };
        return Ok(match (lead, trail, cased) {
            (false, false, true) => Test::Str(Cmp::Eq, s.into()),
            (false, false, false) => Test::IEq(low(&s)),
            (false, true, true) => Test::StartsWith(s.into()),
            (false, true, false) => Test::IStartsWith(low(&s)),
            (true, false, true) => Test::EndsWith(s.into()),
            (true, false, false) => Test::IEndsWith(low(&s)),
            (true, true, true) => Test::Contains(Finder::new(s.as_bytes()).into_owned()),
            (true, true, false) => Test::ContainsAny(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .build([s])
                    .map_err(|e| e.to_string())?,
            ),
        });
    }
    // Wildcards inside: a glob, with the glob's own special characters escaped.
    let mut g = String::new();
    for piece in &p {
        match piece {
            Piece::Star => g.push('*'),
            Piece::One => g.push('?'),
            Piece::Lit(c) => {
                if matches!(c, '*' | '?' | '[' | '\\') {
                    g.push('\\');
                }
                g.push(*c);
            }
        }
    }
    Ok(Test::Glob(Glob::new(&g, !cased)))
}

fn b64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn encode(v: &str, utf16: Option<Utf16>) -> Vec<u8> {
    match utf16 {
        None => v.as_bytes().to_vec(),
        Some(Utf16::Le) => v.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some(Utf16::Be) => v.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some(Utf16::Bom) => [0xFF, 0xFE]
            .into_iter()
            .chain(v.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
    }
}

/// The three base64 forms of `bytes` at offsets 0, 1 and 2 of a longer encoded string.
fn b64_offsets(bytes: &[u8]) -> Vec<String> {
    (0..3)
        .map(|i| {
            let mut padded = vec![0u8; i];
            padded.extend_from_slice(bytes);
            let enc = b64(&padded);
            let start = [0, 2, 3][i];
            let cut = [0, 3, 2][(bytes.len() + i) % 3];
            enc.get(start..enc.len().saturating_sub(cut))
                .unwrap_or("")
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every spelling of a command-line flag: `-`, `/`, en dash, em dash, horizontal bar.
fn windash(v: &str) -> Result<Vec<String>, String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let positions = v.chars().filter(|c| DASHES.contains(c)).count();
    if positions > 4 {
        return Err("windash: more than 4 dashes in one value".into());
    }
    let mut out = vec![String::new()];
    for c in v.chars() {
        if DASHES.contains(&c) {
            out = out
                .iter()
                .flat_map(|s| DASHES.iter().map(move |d| format!("{s}{d}")))
                .collect();
        } else {
            for s in &mut out {
                s.push(c);
            }
        }
    }
    Ok(out)
}

/// Compiles one scalar under `m` into the tests that any of which must hold.
pub fn value_tests(v: &Scalar, m: &Mods) -> Result<Vec<Test>, String> {
    let text = match v {
        Scalar::Null => return Ok(vec![Test::Null]),
        Scalar::Text(t) => t,
    };
    if let Some(c) = m.cmp {
        let n: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("expected a number for '{:?}', found '{text}'", c))?;
        return Ok(vec![Test::Float(c, n)]);
    }
    if m.cidr {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let ip: std::net::IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("invalid CIDR '{text}'"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .map_err(|_| format!("invalid CIDR '{text}'"))?
        };
        if prefix > max {
            return Err(format!("invalid CIDR '{text}'"));
        }
        return Ok(vec![Test::Cidr(Box::new([(ip, prefix)]))]);
    }
    if m.re {
        let r = RegexBuilder::new(text)
            .case_insensitive(m.re_i)
            .multi_line(m.re_m)
            .dot_matches_new_line(m.re_s)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("invalid regex '{text}': {e}"))?;
        return Ok(vec![Test::Search(r)]);
    }
    let variants = if m.windash {
        windash(text)?
    } else {
        vec![text.clone()]
    };
    let mut tests = Vec::new();
    for var in variants {
        let mut ps = if m.base64 || m.base64offset {
            let bytes = encode(&var, m.utf16);
            let encoded = if m.base64offset {
                b64_offsets(&bytes)
            } else {
                vec![b64(&bytes)]
            };
            // Encoded text is matched literally and with its case (base64 is case-sensitive).
            for e in encoded {
                let mut p: Vec<Piece> = e.chars().map(Piece::Lit).collect();
                wrap(&mut p, m);
                tests.push(text_test(p, true)?);
            }
            continue;
        } else {
            if m.utf16.is_some() {
                return Err("utf16 modifiers need base64 or base64offset".into());
            }
            pieces(&var)
        };
        wrap(&mut ps, m);
        tests.push(text_test(ps, m.cased)?);
    }
    Ok(tests)
}

fn wrap(p: &mut Vec<Piece>, m: &Mods) {
    if (m.contains || m.endswith) && p.first() != Some(&Piece::Star) {
        p.insert(0, Piece::Star);
    }
    if (m.contains || m.startswith) && p.last() != Some(&Piece::Star) {
        p.push(Piece::Star);
    }
}

/// Merges the tests of a value list: OR by default, AND with `all`, with plain equalities and
/// substrings folded into one set or one automaton.
pub fn merge(tests: Vec<Test>, all: bool) -> Test {
    if tests.len() == 1 {
        return tests.into_iter().next().unwrap_or(Test::Any(Box::new([])));
    }
    if all {
        return Test::All(tests.into());
    }
    if tests.iter().all(|t| matches!(t, Test::IEq(_))) {
        let set: FxHashSet<Box<str>> = tests
            .into_iter()
            .filter_map(|t| match t {
                Test::IEq(v) => Some(v),
                _ => None,
            })
            .collect();
        return Test::ISet(set);
    }
    if tests.iter().all(|t| matches!(t, Test::Str(Cmp::Eq, _))) {
        let set: FxHashSet<Box<str>> = tests
            .into_iter()
            .filter_map(|t| match t {
                Test::Str(_, v) => Some(v),
                _ => None,
            })
            .collect();
        return Test::Set(set);
    }
    Test::Any(tests.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms() {
        assert_eq!(b64(b"hello"), "aGVsbG8=");
        assert_eq!(b64(b"hi"), "aGk=");
        // pySigma's documented base64offset of "/bin/bash": L2Jpbi9iYXNo, 9iaW4vYmFza, vYmluL2Jhc2
        assert_eq!(
            b64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn windash_permutes() {
        let v = windash("-a -b").unwrap();
        assert_eq!(v.len(), 25);
        assert!(v.contains(&"/a /b".to_string()));
        assert!(windash("-a-b-c-d-e").is_err());
    }

    #[test]
    fn wildcards_and_escapes() {
        let t = |v: &str, m: &Mods, s: &str| {
            value_tests(&Scalar::Text(v.into()), m)
                .unwrap()
                .iter()
                .any(|t| t.matches_str(s))
        };
        let d = Mods::default();
        assert!(t("CreateUser", &d, "createuser"));
        assert!(!t(
            "CreateUser",
            &Mods {
                cased: true,
                ..d.clone()
            },
            "createuser"
        ));
        assert!(t("list*", &d, "ListBuckets"));
        assert!(t("*bucket*", &d, "ListBuckets"));
        assert!(t("a?c", &d, "ABC"));
        assert!(t("a\\*c", &d, "a*c") && !t("a\\*c", &d, "abc"));
        assert!(t("C:\\\\Windows", &d, "c:\\windows"));
        assert!(t("C:\\Windows", &d, "c:\\windows"));
        assert!(t("x[1]*", &d, "X[1]yz"));
        let c = Mods {
            contains: true,
            ..d.clone()
        };
        assert!(t("iam:", &c, "arn:IAM::1"));
        let re = Mods {
            re: true,
            ..d.clone()
        };
        assert!(t(
            ".+:assumed-role/aws:.+",
            &re,
            "arn:aws:sts::1:assumed-role/aws:x/y"
        ));
        assert!(!t("^ABC", &re, "abc"));
        assert!(t(
            "^ABC",
            &Mods {
                re: true,
                re_i: true,
                ..d.clone()
            },
            "abc"
        ));
        let gt = Mods {
            cmp: Some(Cmp::Gt),
            ..d.clone()
        };
        assert!(t("10", &gt, "10.5") && !t("10", &gt, "9"));
        let cidr = Mods {
            cidr: true,
            ..d.clone()
        };
        assert!(t("10.0.0.0/8", &cidr, "10.2.3.4") && !t("10.0.0.0/8", &cidr, "11.0.0.1"));
        assert!(t("2001:db8::/32", &cidr, "2001:db8::1"));
        let b = Mods {
            base64: true,
            contains: true,
            ..d.clone()
        };
        assert!(t("hello", &b, "xx aGVsbG8= yy") && !t("hello", &b, "AGVSBG8="));
        let bo = Mods {
            base64offset: true,
            contains: true,
            ..d.clone()
        };
        assert!(
            t("/bin/bash", &bo, "ZWNobyAvYmluL2Jhc2g="),
            "echo /bin/bash"
        );
        let w = Mods {
            base64: true,
            utf16: Some(Utf16::Le),
            ..d.clone()
        };
        assert!(t("cmd", &w, "YwBtAGQA"));
    }

    #[test]
    fn modifiers_parse() {
        assert!(Mods::parse(&["contains", "all"]).unwrap().all);
        assert_eq!(
            Mods::parse(&["containz"]),
            Err(ModError::Unknown("containz".into()))
        );
        assert_eq!(
            Mods::parse(&["expand"]),
            Err(ModError::Unsupported("expand".into()))
        );
        assert!(Mods::parse(&["i"]).is_err());
    }
}
