//! Lazily indexed JSON records, shared by every event source.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ops::Range;

use crate::json::{self, JsonError, Member, Members};

/// Reusable scratch space for lazily indexing one record at a time, so that reading a stream of
/// records allocates nothing per record.
#[derive(Debug, Default)]
pub struct Scratch {
    members: RefCell<Vec<Member>>,
    pos: Cell<usize>,
    started: Cell<bool>,
    done: Cell<bool>,
    error: Cell<Option<JsonError>>,
    /// Lazy member indexes of nested objects (`userIdentity`, `requestParameters`...), reused
    /// across records; the first `nested_len` are live.
    nested: RefCell<Vec<NestedIndex>>,
    nested_len: Cell<usize>,
    validated: Cell<bool>,
}

/// Most nested objects indexed per record; lookups in further objects are not cached.
const MAX_NESTED: usize = 16;

#[derive(Debug, Default)]
struct NestedIndex {
    start: usize,
    members: Vec<Member>,
    pos: usize,
    started: bool,
    done: bool,
}

/// One JSON record read lazily: top-level members (and members of nested objects) are indexed
/// only as far as the lookups made so far require. Every source's event wraps one.
pub struct Record<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) scratch: &'a Scratch,
}

impl<'a> Record<'a> {
    /// Wraps the bytes of one record (a JSON object), resetting `scratch` for it.
    pub fn new(buf: &'a [u8], scratch: &'a Scratch) -> Self {
        scratch.members.borrow_mut().clear();
        scratch.pos.set(0);
        scratch.started.set(false);
        scratch.done.set(false);
        scratch.error.set(None);
        scratch.nested_len.set(0);
        scratch.validated.set(false);
        Record { buf, scratch }
    }

    /// The record's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn fail(&self, e: JsonError) {
        if self.scratch.error.get().is_none() {
            self.scratch.error.set(Some(e));
        }
    }

    pub(crate) fn ok<T>(&self, r: Result<T, JsonError>) -> Option<T> {
        r.map_err(|e| self.fail(e)).ok()
    }

    /// Scans the whole record, so that any syntax error in it is found. Returns the error.
    ///
    /// Lookups index the record with a cheap scan that only finds boundaries; this checks the
    /// full grammar of the whole record (once per record).
    pub fn validate(&self) -> Option<JsonError> {
        if self.scratch.error.get().is_some() || self.scratch.validated.get() {
            return self.scratch.error.get();
        }
        self.scratch.validated.set(true);
        let start = json::skip_ws(self.buf, 0);
        let checked = match self.buf.get(start) {
            Some(b'{') => json::skip_value(self.buf, start).and_then(|end| {
                let rest = json::skip_ws(self.buf, end);
                match self.buf.get(rest) {
                    None => Ok(()),
                    Some(&c) => Err(JsonError {
                        offset: rest,
                        kind: json::JsonErrorKind::Unexpected(json::ByteDisplay(c)),
                    }),
                }
            }),
            Some(&c) => Err(JsonError {
                offset: start,
                kind: json::JsonErrorKind::Unexpected(json::ByteDisplay(c)),
            }),
            None => Err(JsonError {
                offset: start,
                kind: json::JsonErrorKind::UnexpectedEnd,
            }),
        };
        if let Err(e) = checked {
            self.fail(e);
        }
        self.scratch.error.get()
    }

    fn scan_next(&self) -> Option<Member> {
        let s = self.scratch;
        let mut it = if s.started.get() {
            Members::resume(self.buf, s.pos.get()).fast()
        } else {
            s.started.set(true);
            Members::new(self.buf, 0).fast()
        };
        match it.next() {
            Some(Ok(m)) => {
                s.pos.set(it.position());
                s.members.borrow_mut().push(m.clone());
                Some(m)
            }
            Some(Err(e)) => {
                s.done.set(true);
                self.fail(e);
                None
            }
            None => {
                s.done.set(true);
                // Anything but whitespace after the record's closing brace is an error.
                let end = json::skip_ws(self.buf, it.position());
                if end < self.buf.len() {
                    self.fail(JsonError {
                        offset: end,
                        kind: json::JsonErrorKind::Unexpected(json::ByteDisplay(self.buf[end])),
                    });
                }
                None
            }
        }
    }

    /// Range of top-level member `key`.
    pub fn top(&self, key: &str) -> Option<Range<usize>> {
        let kb = key.as_bytes();
        if let Some(m) = self
            .scratch
            .members
            .borrow()
            .iter()
            .find(|m| m.key_is(self.buf, kb))
        {
            return Some(m.value.clone());
        }
        while !self.scratch.done.get() {
            if let Some(m) = self.scan_next() {
                if m.key_is(self.buf, kb) {
                    return Some(m.value);
                }
            }
        }
        None
    }

    /// Member `key` of the nested object starting at `obj`, through a per-record lazy index so
    /// that several fields of one object (`userIdentity.type`, `.arn`, ...) scan it once.
    pub fn member_of(&self, obj: usize, key: &str) -> Option<Range<usize>> {
        let kb = key.as_bytes();
        let mut nested = self.scratch.nested.borrow_mut();
        let live = self.scratch.nested_len.get();
        let idx = match nested[..live].iter().position(|n| n.start == obj) {
            Some(i) => i,
            None if live < MAX_NESTED => {
                if nested.len() == live {
                    nested.push(NestedIndex::default());
                }
                let n = &mut nested[live];
                n.start = obj;
                n.members.clear();
                n.pos = obj;
                n.started = false;
                n.done = false;
                self.scratch.nested_len.set(live + 1);
                live
            }
            None => {
                drop(nested);
                return self.ok(json::find_member(self.buf, obj, kb))?;
            }
        };
        let n = &mut nested[idx];
        if let Some(m) = n.members.iter().find(|m| m.key_is(self.buf, kb)) {
            return Some(m.value.clone());
        }
        while !n.done {
            let mut it = if n.started {
                Members::resume(self.buf, n.pos).fast()
            } else {
                Members::new(self.buf, obj).fast()
            };
            n.started = true;
            match it.next() {
                Some(Ok(m)) => {
                    n.pos = it.position();
                    let hit = m.key_is(self.buf, kb);
                    let value = m.value.clone();
                    n.members.push(m);
                    if hit {
                        return Some(value);
                    }
                }
                Some(Err(e)) => {
                    n.done = true;
                    self.fail(e);
                }
                None => n.done = true,
            }
        }
        None
    }

    /// Range of the value at an object path.
    pub fn path(&self, path: &[&str]) -> Option<Range<usize>> {
        let (first, rest) = path.split_first()?;
        let mut cur = self.top(first)?;
        for k in rest {
            if json::kind_at(self.buf, cur.start) != json::Kind::Object {
                return None;
            }
            cur = self.member_of(cur.start, k)?;
        }
        Some(cur)
    }

    /// The string at an object path; `None` if missing or not a string.
    pub fn str_at(&self, path: &[&str]) -> Option<Cow<'a, str>> {
        let r = self.path(path)?;
        if json::kind_at(self.buf, r.start) != json::Kind::String {
            return None;
        }
        self.ok(json::decode_string(self.buf, r))
    }

    /// The value at an object path as text: strings decoded, anything else compact JSON.
    pub fn json_at(&self, path: &[&str]) -> Option<Cow<'a, str>> {
        let r = self.path(path)?;
        self.ok(json::value_text(self.buf, r))
    }

    /// A JSON boolean at an object path.
    pub fn bool_at(&self, path: &[&str]) -> Option<bool> {
        let r = self.path(path)?;
        match &self.buf[r] {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// A JSON number at an object path, truncated to an unsigned integer.
    pub fn u64_at(&self, path: &[&str]) -> Option<u64> {
        let r = self.path(path)?;
        if json::kind_at(self.buf, r.start) != json::Kind::Number {
            return None;
        }
        let t = std::str::from_utf8(&self.buf[r]).ok()?;
        t.parse::<u64>()
            .ok()
            .or_else(|| t.parse::<f64>().ok().map(|f| f.max(0.0) as u64))
    }

    /// The first syntax error met so far.
    pub fn error(&self) -> Option<JsonError> {
        self.scratch.error.get()
    }

    /// Follows a JSON pointer from the record's root: objects on the way through the cached
    /// indexes (several pointers into `userIdentity` scan it once), the generic walk from the
    /// first array on.
    pub fn pointer(&self, tokens: &[String]) -> Option<Range<usize>> {
        let Some((first, rest)) = tokens.split_first() else {
            return Some(json::skip_ws(self.buf, 0)..self.buf.len());
        };
        let mut r = self.top(first)?;
        let mut i = 0;
        while i < rest.len() && json::kind_at(self.buf, r.start) == json::Kind::Object {
            r = self.member_of(r.start, &rest[i])?;
            i += 1;
        }
        self.ok(json::pointer(self.buf, r, &rest[i..]))?
    }

    /// Every value at a dotted path (through arrays), as a field value.
    pub fn path_values(&self, tokens: &[String]) -> Option<crate::Value<'a>> {
        // Objects on the way come from the cached indexes; the generic walk takes over at the
        // first array.
        let (first, rest) = tokens.split_first()?;
        let mut r = self.top(first)?;
        let mut i = 0;
        while i < rest.len() && json::kind_at(self.buf, r.start) == json::Kind::Object {
            r = self.member_of(r.start, &rest[i])?;
            i += 1;
        }
        self.ok(json::path_values(self.buf, r, &rest[i..]))?
    }
}
