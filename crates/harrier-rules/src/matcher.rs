//! Compiled conditions: the matcher tree every rule language compiles to.
//!
//! Everything that can be decided at load time is: field names are resolved to table indexes,
//! lists become hash sets, many-pattern substring tests become one Aho-Corasick automaton,
//! regexes are compiled once. Evaluating a rule allocates only when a transformer or an escaped
//! string forces it.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;
use harrier_events::{Event, FieldRef, FieldType, Value};
use memchr::memmem::Finder;
use regex::Regex;
use rustc_hash::FxHashSet;

use crate::ast::Transformer;
use crate::glob::Glob;

/// A compiled boolean condition.
#[derive(Debug, Clone)]
pub enum Node {
    /// All children hold.
    And(Box<[Node]>),
    /// One child holds.
    Or(Box<[Node]>),
    /// Negation.
    Not(Box<Node>),
    /// A constant.
    Const(bool),
    /// A field test.
    Check(Box<CompiledCheck>),
}

/// A field, resolved, with its transformers.
#[derive(Debug, Clone)]
pub struct CompiledOperand {
    /// The field.
    pub field: FieldRef,
    /// Transformers, innermost first (the order they apply).
    pub transformers: Box<[Transformer]>,
    /// Type of the value after the transformers.
    pub ty: FieldType,
    /// As written, for messages.
    pub text: String,
}

/// One test of one field.
#[derive(Debug, Clone)]
pub struct CompiledCheck {
    /// The field tested.
    pub operand: CompiledOperand,
    /// The test.
    pub test: Test,
}

/// Numeric and ordering comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
        }
    }
}

/// A compiled test on a value.
#[derive(Debug, Clone)]
pub enum Test {
    /// The field has a value.
    Exists,
    /// String comparison (`=`, `!=`, `<`, ...), byte-wise.
    Str(Cmp, Box<str>),
    /// Number comparison.
    Num(Cmp, i128),
    /// Value is one of a set (`in`, `intersects`, `= oneof`).
    Set(FxHashSet<Box<str>>),
    /// Number is one of a set.
    NumSet(FxHashSet<i128>),
    /// Substring.
    Contains(Finder<'static>),
    /// Any of several substrings, optionally ASCII case-insensitive (also `icontains`).
    ContainsAny(AhoCorasick),
    /// Prefix.
    StartsWith(Box<str>),
    /// Suffix.
    EndsWith(Box<str>),
    /// Byte substring (`bcontains`).
    BContains(Finder<'static>),
    /// Byte prefix (`bstartswith`).
    BStartsWith(Box<[u8]>),
    /// `glob` / `iglob`.
    Glob(Glob),
    /// `regex`: the whole value must match.
    Regex(Regex),
    /// Path-prefix match against any of the paths (`pmatch`).
    Pmatch(Box<[Box<str>]>),
    /// For list fields: every element is in the set (`in`).
    ListIn(FxHashSet<Box<str>>),
    /// For list fields: some element is in the set (`intersects`).
    ListIntersects(FxHashSet<Box<str>>),
    /// Any sub-test holds (`anyof` modifiers).
    Any(Box<[Test]>),
    /// Every sub-test holds (`allof` modifiers).
    All(Box<[Test]>),
    /// Compare with another field of the same event (`val(...)`).
    Field(FieldOp, Box<CompiledOperand>),
    /// Equality ignoring ASCII case (the value is stored lower-cased).
    IEq(Box<str>),
    /// One of a set, ignoring ASCII case (values stored lower-cased).
    ISet(FxHashSet<Box<str>>),
    /// Prefix, ignoring ASCII case (stored lower-cased).
    IStartsWith(Box<str>),
    /// Suffix, ignoring ASCII case (stored lower-cased).
    IEndsWith(Box<str>),
    /// The value is an IP address inside one of the networks.
    Cidr(Box<[(std::net::IpAddr, u8)]>),
    /// The field is absent or JSON `null` (Sigma's `null`).
    Null,
    /// Numeric comparison of a value read as a decimal number (Sigma's `lt`, `gte`...).
    Float(Cmp, f64),
    /// Regex that may match anywhere in the value (Sigma's `re`).
    Search(Regex),
    /// For multi-valued fields: some element passes the inner test (Sigma field semantics).
    AnyElement(Box<Test>),
}

/// Operators allowed against another field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FieldOp {
    Cmp(Cmp),
    Contains,
    IContains,
    StartsWith,
    EndsWith,
}

impl Node {
    /// Evaluates the condition on an event.
    pub fn eval<E: Event + ?Sized>(&self, ev: &E) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(ev)),
            Node::Or(items) => items.iter().any(|n| n.eval(ev)),
            Node::Not(n) => !n.eval(ev),
            Node::Const(b) => *b,
            Node::Check(c) => c.eval(ev),
        }
    }
}

impl CompiledOperand {
    /// Extracts the field and applies the transformers.
    pub fn value<'e, E: Event + ?Sized>(&self, ev: &'e E) -> Option<Value<'e>> {
        let mut v = ev.extract(&self.field)?;
        for t in self.transformers.iter() {
            v = transform(v, *t)?;
        }
        Some(v)
    }
}

impl CompiledCheck {
    fn eval<E: Event + ?Sized>(&self, ev: &E) -> bool {
        let Some(v) = self.operand.value(ev) else {
            return self.test.matches_missing();
        };
        match &self.test {
            Test::Field(op, other) => match other.value(ev) {
                Some(o) => field_cmp(*op, &v, &o),
                None => false,
            },
            t => t.matches(&v),
        }
    }
}

impl Test {
    /// Whether an absent field passes the test (only Sigma's `null` does).
    pub fn matches_missing(&self) -> bool {
        match self {
            Test::Null => true,
            Test::AnyElement(t) => t.matches_missing(),
            Test::Any(ts) => ts.iter().any(Test::matches_missing),
            Test::All(ts) => !ts.is_empty() && ts.iter().all(Test::matches_missing),
            _ => false,
        }
    }

    /// Whether a value passes the test.
    pub fn matches(&self, v: &Value<'_>) -> bool {
        match v {
            Value::Multi(items) => {
                let inner = match self {
                    Test::AnyElement(t) => t,
                    t => t,
                };
                match inner {
                    Test::Exists => true,
                    t => items.iter().any(|i| match i {
                        Some(s) => t.matches_str(s),
                        None => matches!(t, Test::Null),
                    }),
                }
            }
            Value::Str(s) => self.matches_str(s),
            Value::U64(n) => match self {
                Test::Exists => true,
                Test::Num(c, x) => c.holds((*n as i128).cmp(x)),
                Test::NumSet(set) => set.contains(&(*n as i128)),
                Test::Any(ts) => ts.iter().any(|t| t.matches(v)),
                Test::All(ts) => ts.iter().all(|t| t.matches(v)),
                _ => self.matches_str(&n.to_string()),
            },
            Value::List(items) => match self {
                Test::Exists => true,
                Test::ListIn(set) => !items.is_empty() && items.iter().all(|i| set.contains(&**i)),
                Test::ListIntersects(set) => items.iter().any(|i| set.contains(&**i)),
                _ => false,
            },
        }
    }

    pub(crate) fn matches_str(&self, s: &str) -> bool {
        match self {
            Test::Exists => true,
            Test::Str(c, x) => c.holds(s.as_bytes().cmp(x.as_bytes())),
            Test::Num(c, x) => parse_num(s).is_some_and(|n| c.holds(n.cmp(x))),
            Test::Set(set) => set.contains(s),
            Test::NumSet(set) => parse_num(s).is_some_and(|n| set.contains(&n)),
            Test::Contains(f) | Test::BContains(f) => f.find(s.as_bytes()).is_some(),
            Test::ContainsAny(ac) => ac.is_match(s),
            Test::StartsWith(p) => s.starts_with(&**p),
            Test::EndsWith(p) => s.ends_with(&**p),
            Test::BStartsWith(p) => s.as_bytes().starts_with(p),
            Test::Glob(g) => g.is_match(s),
            Test::Regex(r) => r.is_match(s),
            Test::Pmatch(paths) => paths.iter().any(|p| path_prefix(p, s)),
            Test::ListIn(set) => set.contains(s),
            Test::ListIntersects(set) => set.contains(s),
            Test::Any(ts) => ts.iter().any(|t| t.matches_str(s)),
            Test::All(ts) => ts.iter().all(|t| t.matches_str(s)),
            Test::Field(..) | Test::Null => false,
            Test::IEq(x) => s.eq_ignore_ascii_case(x),
            Test::ISet(set) => {
                if s.bytes().any(|c| c.is_ascii_uppercase()) {
                    set.contains(s.to_ascii_lowercase().as_str())
                } else {
                    set.contains(s)
                }
            }
            Test::IStartsWith(p) => {
                s.len() >= p.len() && s.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
            Test::IEndsWith(p) => {
                s.len() >= p.len()
                    && s.as_bytes()[s.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
            }
            Test::Cidr(nets) => s
                .trim()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| in_net(ip, *n))),
            Test::Float(c, x) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|v| v.partial_cmp(x))
                .is_some_and(|o| c.holds(o)),
            Test::Search(r) => r.is_match(s),
            Test::AnyElement(t) => t.matches_str(s),
        }
    }
}

/// Whether `ip` lies in network `(addr, prefix)`.
pub fn in_net(ip: std::net::IpAddr, (net, prefix): (std::net::IpAddr, u8)) -> bool {
    use std::net::IpAddr;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix.min(32))
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix.min(128))
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// `pmatch`: `s` is `prefix` or lies under it (`/etc` matches `/etc` and `/etc/passwd`, not
/// `/etcd`). A prefix containing glob characters is matched as a glob against `s` and its parents.
fn path_prefix(prefix: &str, s: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    if p.contains(['*', '?', '[']) {
        let g = Glob::new(p, false);
        let mut cur = s;
        loop {
            if g.is_match(cur) {
                return true;
            }
            match cur.rfind('/') {
                Some(0) | None => return false,
                Some(i) => cur = &cur[..i],
            }
        }
    }
    if p.is_empty() {
        return s.starts_with('/');
    }
    s == p || (s.starts_with(p) && s.as_bytes().get(p.len()) == Some(&b'/'))
}

/// A number as rules compare them: decimal (signed, as `fd.num` and `evt.rawres` are) or `0x` hex.
pub(crate) fn parse_num(s: &str) -> Option<i128> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok().map(i128::from),
        None => s
            .parse::<i64>()
            .ok()
            .map(i128::from)
            .or_else(|| s.parse::<u64>().ok().map(i128::from)),
    }
}

fn field_cmp(op: FieldOp, a: &Value<'_>, b: &Value<'_>) -> bool {
    if let (Value::U64(x), Value::U64(y)) = (a, b) {
        if let FieldOp::Cmp(c) = op {
            return c.holds(x.cmp(y));
        }
    }
    let (a, b) = (a.to_string(), b.to_string());
    match op {
        FieldOp::Cmp(c) => c.holds(a.as_bytes().cmp(b.as_bytes())),
        FieldOp::Contains => a.contains(&b),
        FieldOp::IContains => a.to_ascii_lowercase().contains(&b.to_ascii_lowercase()),
        FieldOp::StartsWith => a.starts_with(&b),
        FieldOp::EndsWith => a.ends_with(&b),
    }
}

/// Applies one transformer.
pub fn transform(v: Value<'_>, t: Transformer) -> Option<Value<'_>> {
    let map_str = |v: Value<'_>, f: &dyn Fn(&str) -> Option<String>| -> Option<Value<'static>> {
        match v {
            Value::Str(s) => f(&s).map(|s| Value::Str(Cow::Owned(s))),
            Value::List(items) => Some(Value::List(
                items.iter().filter_map(|s| f(s).map(Cow::Owned)).collect(),
            )),
            Value::U64(n) => f(&n.to_string()).map(|s| Value::Str(Cow::Owned(s))),
            Value::Multi(items) => Some(Value::Multi(
                items
                    .iter()
                    .map(|i| i.as_deref().and_then(f).map(Cow::Owned))
                    .collect(),
            )),
        }
    };
    match t {
        Transformer::ToLower => map_str(v, &|s| Some(s.to_ascii_lowercase())),
        Transformer::ToUpper => map_str(v, &|s| Some(s.to_ascii_uppercase())),
        Transformer::B64 => map_str(v, &|s| {
            b64_decode(s).map(|b| String::from_utf8_lossy(&b).into_owned())
        }),
        Transformer::Basename => {
            map_str(v, &|s| Some(s.rsplit('/').next().unwrap_or("").to_string()))
        }
        Transformer::Len => Some(Value::U64(match &v {
            Value::Str(s) => s.len() as u64,
            Value::List(items) => items.len() as u64,
            Value::Multi(items) => items.len() as u64,
            Value::U64(n) => n.to_string().len() as u64,
        })),
    }
}

/// Decodes standard base64 (padding optional); `None` on any invalid character.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    harrier_events::base64::decode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pmatch_is_a_path_prefix() {
        assert!(path_prefix("/etc", "/etc"));
        assert!(path_prefix("/etc", "/etc/passwd"));
        assert!(path_prefix("/etc/", "/etc/passwd"));
        assert!(!path_prefix("/etc", "/etcd/x"));
        assert!(path_prefix("/var/*/log", "/var/x/log/y"));
        assert!(!path_prefix("/var/*/log", "/var/x/lug/y"));
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(b64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(b64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert!(b64_decode("a$==").is_none());
    }

    #[test]
    fn transformers_apply() {
        let v = Value::Str(Cow::Borrowed("/usr/BIN/Xmrig"));
        assert_eq!(
            transform(v.clone(), Transformer::Basename),
            Some(Value::Str("Xmrig".into()))
        );
        assert_eq!(
            transform(v.clone(), Transformer::ToLower),
            Some(Value::Str("/usr/bin/xmrig".into()))
        );
        assert_eq!(transform(v, Transformer::Len), Some(Value::U64(14)));
    }
}
