//! Python version ordering (PEP 440), with pre-, post-, dev-releases and local labels, and the
//! legacy (non-PEP 440) versions old packages carry, which sort before every valid version.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Str(String),
    Num(u64),
}

/// A parsed PEP 440 version, ordered as `packaging` orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct V {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
}

fn num(s: &str) -> Option<(u64, &str)> {
    let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().unwrap_or(u64::MAX), &s[n..]))
}

fn sep(s: &str) -> &str {
    s.strip_prefix(['.', '-', '_']).unwrap_or(s)
}

fn parse(v: &str) -> Option<V> {
    let s = v.trim().to_ascii_lowercase();
    let s = s.strip_prefix('v').unwrap_or(&s);
    let (main, local) = match s.split_once('+') {
        Some((m, l)) => (m, Some(l)),
        None => (s, None),
    };
    let (epoch, mut rest) = match main.split_once('!') {
        Some((e, r)) => (e.parse().ok()?, r),
        None => (0, main),
    };
    let mut release = Vec::new();
    loop {
        let (n, r) = num(rest)?;
        release.push(n);
        rest = r;
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            _ => break,
        }
    }
    let mut pre = None;
    let mut post = None;
    let mut dev = None;
    // Pre-release.
    let t = sep(rest);
    for (word, kind) in [
        ("alpha", 0u8),
        ("a", 0),
        ("beta", 1),
        ("b", 1),
        ("preview", 2),
        ("pre", 2),
        ("rc", 2),
        ("c", 2),
    ] {
        if let Some(r) = t.strip_prefix(word) {
            let r2 = sep(r);
            let (n, r3) = num(r2).unwrap_or((0, r));
            pre = Some((kind, n));
            rest = r3;
            break;
        }
    }
    // Post-release: `-N`, or post/rev/r.
    if let Some(r) = rest.strip_prefix('-') {
        if let Some((n, r2)) = num(r) {
            post = Some(n);
            rest = r2;
        }
    }
    if post.is_none() {
        let t = sep(rest);
        for word in ["post", "rev", "r"] {
            if let Some(r) = t.strip_prefix(word) {
                let r2 = sep(r);
                let (n, r3) = num(r2).unwrap_or((0, r));
                post = Some(n);
                rest = r3;
                break;
            }
        }
    }
    // Dev-release.
    let t = sep(rest);
    if let Some(r) = t.strip_prefix("dev") {
        let r2 = sep(r);
        let (n, r3) = num(r2).unwrap_or((0, r));
        dev = Some(n);
        rest = r3;
    }
    if !rest.is_empty() {
        return None;
    }
    let mut loc = Vec::new();
    if let Some(l) = local {
        for p in l.split(['.', '-', '_']) {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            loc.push(match p.parse::<u64>() {
                Ok(n) => Local::Num(n),
                Err(_) => Local::Str(p.to_string()),
            });
        }
    }
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    Some(V {
        epoch,
        release,
        pre,
        post,
        dev,
        local: loc,
    })
}

/// `packaging`'s comparison key, with its infinities as enum orderings.
fn key(v: &V) -> impl Ord + '_ {
    // Pre: a dev-only release sorts before its pre-releases; no pre-release sorts after them.
    let pre: (i8, u8, u64) = match (v.pre, v.post, v.dev) {
        (None, None, Some(_)) => (-1, 0, 0),
        (None, _, _) => (1, 0, 0),
        (Some((k, n)), _, _) => (0, k, n),
    };
    let post: (i8, u64) = v.post.map_or((-1, 0), |n| (0, n));
    let dev: (i8, u64) = v.dev.map_or((1, 0), |n| (0, n));
    (v.epoch, &v.release, pre, post, dev, &v.local)
}

/// setuptools' key for a legacy version: numbers zero-padded, words marked, `-` as `final-`.
fn legacy_key(v: &str) -> Vec<String> {
    let s = v.to_ascii_lowercase();
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        let mut t = String::new();
        if c.is_ascii_digit() {
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                t.push(d);
                chars.next();
            }
        } else if c.is_ascii_lowercase() {
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_lowercase()) {
                t.push(d);
                chars.next();
            }
        } else if c == '.' || c == '-' {
            t.push(c);
            chars.next();
        } else {
            while let Some(&d) = chars
                .peek()
                .filter(|d| !d.is_ascii_alphanumeric() && **d != '.' && **d != '-')
            {
                t.push(d);
                chars.next();
            }
        }
        tokens.push(t);
    }
    let mut parts: Vec<String> = Vec::new();
    for t in tokens {
        let t = match t.as_str() {
            "pre" | "preview" | "rc" => "c".to_string(),
            "-" => "final-".to_string(),
            "dev" => "@".to_string(),
            _ => t,
        };
        if t.is_empty() || t == "." {
            continue;
        }
        let part = if t.starts_with(|c: char| c.is_ascii_digit()) {
            format!("{t:0>8}")
        } else {
            format!("*{t}")
        };
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().map(String::as_str) == Some("*final-") {
                    parts.pop();
                }
            }
            while parts.last().map(String::as_str) == Some("00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts.push("*final".into());
    parts
}

/// Compares two Python versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => key(&x).cmp(&key(&y)),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => legacy_key(a).cmp(&legacy_key(b)),
    }
}
