//! A small, allocation-free JSON scanner used to read events lazily.
//!
//! Harrier never builds a JSON tree for an event. A record stays as the bytes it arrived in;
//! fields are found by walking those bytes only as far as a rule or an output needs, and strings
//! are unescaped only when they contain escapes. Every walk is iterative with a hard nesting limit
//! ([`MAX_DEPTH`]), so hostile input (a million `[`) is an error, never a stack overflow.

use std::borrow::Cow;
use std::ops::Range;

mod blocks;

/// Deepest nesting of arrays and objects accepted in one record.
pub const MAX_DEPTH: usize = 512;

/// A syntax error in JSON input, with the byte offset (relative to the scanned buffer) where it
/// was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct JsonError {
    /// Byte offset of the problem, relative to the start of the scanned buffer.
    pub offset: usize,
    /// What was wrong.
    pub kind: JsonErrorKind,
}

/// The kinds of JSON syntax error the scanner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The input ended inside a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected {0}")]
    Unexpected(ByteDisplay),
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A bad escape sequence inside a string.
    #[error("invalid escape sequence in string")]
    BadEscape,
    /// A string that is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    BadUtf8,
    /// Something that looked like `true`, `false`, `null` or a number but was not.
    #[error("invalid literal")]
    BadLiteral,
    /// An object key that is not a string.
    #[error("expected a string key")]
    ExpectedKey,
    /// Expected `:` after an object key.
    #[error("expected ':' after object key")]
    ExpectedColon,
}

/// A byte shown readably in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteDisplay(pub u8);

impl std::fmt::Display for ByteDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            b if b.is_ascii_graphic() => write!(f, "'{}'", b as char),
            b => write!(f, "byte 0x{b:02x}"),
        }
    }
}

fn err(offset: usize, kind: JsonErrorKind) -> JsonError {
    JsonError { offset, kind }
}

/// Returns the index of the first non-whitespace byte at or after `i`.
#[inline]
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        i += 1;
    }
    i
}

/// The index of the next `"` or `\\` at or after `j`. Most strings in audit logs are short: a
/// plain loop over the first bytes beats setting up a vectorised search.
#[inline(always)]
fn next_quote_or_backslash(b: &[u8], j: usize) -> Option<usize> {
    // Eight bytes at a time in a machine word: most strings of a record are short, and a call
    // into a search routine costs more than they do.
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte of `x` that is zero, exactly (no borrow between bytes).
    let zero_bytes = |x: u64| !(((x & LOW).wrapping_add(LOW)) | x | LOW);
    let mut k = j;
    while let Some(chunk) = b.get(k..k + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let hits = zero_bytes(w ^ 0x2222_2222_2222_2222) | zero_bytes(w ^ 0x5c5c_5c5c_5c5c_5c5c);
        if hits != 0 {
            return Some(k + (hits.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    b.get(k..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| k + p)
}

/// Scans the string whose opening quote is at `i`. Returns the index just past the closing
/// quote and whether the string contains backslash escapes.
#[inline]
pub fn scan_string(b: &[u8], i: usize) -> Result<(usize, bool), JsonError> {
    debug_assert_eq!(b.get(i), Some(&b'"'));
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match next_quote_or_backslash(b, j) {
            None => return Err(err(b.len(), JsonErrorKind::UnexpectedEnd)),
            Some(at) => {
                if b[at] == b'"' {
                    return Ok((at + 1, escaped));
                }
                escaped = true;
                match b.get(at + 1) {
                    None => return Err(err(b.len(), JsonErrorKind::UnexpectedEnd)),
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j = at + 2,
                    Some(b'u') => {
                        let hex = b
                            .get(at + 2..at + 6)
                            .ok_or(err(at, JsonErrorKind::BadEscape))?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return Err(err(at, JsonErrorKind::BadEscape));
                        }
                        j = at + 6;
                    }
                    Some(_) => return Err(err(at, JsonErrorKind::BadEscape)),
                }
            }
        }
    }
}

#[inline]
fn scan_scalar(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let c = b[i];
    let lit: &[u8] = match c {
        b't' => b"true",
        b'f' => b"false",
        b'n' => b"null",
        b'-' | b'0'..=b'9' => {
            let mut j = i + 1;
            while let Some(&d) = b.get(j) {
                if !matches!(d, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    break;
                }
                j += 1;
            }
            if c == b'-' && j == i + 1 {
                return Err(err(i, JsonErrorKind::BadLiteral));
            }
            return Ok(j);
        }
        other => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(other)))),
    };
    if b.get(i..i + lit.len()) == Some(lit) {
        Ok(i + lit.len())
    } else if b.len() < i + lit.len() && lit.starts_with(&b[i..]) {
        Err(err(b.len(), JsonErrorKind::UnexpectedEnd))
    } else {
        Err(err(i, JsonErrorKind::BadLiteral))
    }
}

/// Nesting stack as a bit set: bit set = object, clear = array.
struct Stack {
    bits: [u64; MAX_DEPTH / 64],
    depth: usize,
}

impl Stack {
    fn new() -> Self {
        Stack {
            bits: [0; MAX_DEPTH / 64],
            depth: 0,
        }
    }
    #[inline]
    fn push(&mut self, object: bool, at: usize) -> Result<(), JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(err(at, JsonErrorKind::TooDeep));
        }
        let (w, bit) = (self.depth / 64, self.depth % 64);
        if object {
            self.bits[w] |= 1 << bit;
        } else {
            self.bits[w] &= !(1 << bit);
        }
        self.depth += 1;
        Ok(())
    }
    #[inline]
    fn top_is_object(&self) -> bool {
        let d = self.depth - 1;
        self.bits[d / 64] & (1 << (d % 64)) != 0
    }
}

#[inline]
fn expect_key(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let i = skip_ws(b, i);
    match b.get(i) {
        Some(b'"') => {}
        Some(_) => return Err(err(i, JsonErrorKind::ExpectedKey)),
        None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
    }
    let (i, _) = scan_string(b, i)?;
    let i = skip_ws(b, i);
    match b.get(i) {
        Some(b':') => Ok(i + 1),
        Some(_) => Err(err(i, JsonErrorKind::ExpectedColon)),
        None => Err(err(i, JsonErrorKind::UnexpectedEnd)),
    }
}

/// Validates the structure of the value that starts at or after `start` (leading whitespace is
/// skipped) and returns the index just past it.
///
/// Brackets must match, strings must be terminated with valid escapes, and literals must be
/// well-formed. Numbers are checked only for their character set.
pub fn skip_value(b: &[u8], start: usize) -> Result<usize, JsonError> {
    let mut i = start;
    let mut stack = Stack::new();
    'value: loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
            Some(b'{') => {
                stack.push(true, i)?;
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    stack.depth -= 1;
                    i += 1;
                } else {
                    i = expect_key(b, i)?;
                    continue 'value;
                }
            }
            Some(b'[') => {
                stack.push(false, i)?;
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    stack.depth -= 1;
                    i += 1;
                } else {
                    continue 'value;
                }
            }
            Some(b'"') => i = scan_string(b, i)?.0,
            Some(_) => i = scan_scalar(b, i)?,
        }
        // After a value: close containers or move to the next element.
        loop {
            if stack.depth == 0 {
                return Ok(i);
            }
            i = skip_ws(b, i);
            let object = stack.top_is_object();
            match b.get(i) {
                Some(b',') => {
                    i = if object { expect_key(b, i + 1)? } else { i + 1 };
                    continue 'value;
                }
                Some(b'}') if object => {
                    stack.depth -= 1;
                    i += 1;
                }
                Some(b']') if !object => {
                    stack.depth -= 1;
                    i += 1;
                }
                Some(&c) => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(c)))),
                None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
            }
        }
    }
}

/// Finds the end of the value at `start` by matching brackets and skipping strings, without
/// checking the grammar between them (keys, colons, commas, literals inside containers). Much
/// cheaper than [`skip_value`]; a caller relying on it must check a record with [`skip_value`]
/// before trusting more than its boundaries. Nesting is still limited to [`MAX_DEPTH`].
pub fn skip_value_fast(b: &[u8], start: usize) -> Result<usize, JsonError> {
    let i = skip_ws(b, start);
    match b.get(i) {
        None => Err(err(i, JsonErrorKind::UnexpectedEnd)),
        Some(b'"') => Ok(scan_string(b, i)?.0),
        Some(b'{' | b'[') => match blocks::skip_container(b, i) {
            Some(end) => Ok(end),
            None => skip_container_scalar(b, i),
        },
        Some(_) => scan_scalar(b, i),
    }
}

/// [`skip_value_fast`] for the object or array at `i`, a byte at a time: the reference for
/// [`blocks::skip_container`], and what reports errors.
fn skip_container_scalar(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j = scan_string(b, j)?.0;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(err(j, JsonErrorKind::TooDeep));
                }
            }
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(err(b.len(), JsonErrorKind::UnexpectedEnd))
}

/// One member of an object: where its key and value are in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key's bytes between the quotes (still escaped if `key_escaped`).
    pub key: Range<usize>,
    /// Whether the key contains backslash escapes.
    pub key_escaped: bool,
    /// The value, from its first to just past its last byte.
    pub value: Range<usize>,
}

impl Member {
    /// Whether this member's key equals `name` (compared unescaped).
    #[inline]
    pub fn key_is(&self, b: &[u8], name: &[u8]) -> bool {
        let raw = &b[self.key.clone()];
        if !self.key_escaped {
            // Lengths, then the last byte (keys of a record often share a length and a first
            // word: eventName, eventTime), before comparing the rest.
            raw.len() == name.len() && raw.last() == name.last() && raw == name
        } else {
            unescape(raw).map(|k| k.as_bytes() == name).unwrap_or(false)
        }
    }
}

/// Iterates over the members of the object that starts at `start` (whitespace allowed before).
///
/// Each call to [`next`](Iterator::next) scans exactly one member; stop early and the rest of the
/// object is never read.
pub struct Members<'a> {
    b: &'a [u8],
    pos: usize,
    state: MembersState,
    fast: bool,
}

#[derive(PartialEq, Eq)]
enum MembersState {
    Start,
    Next,
    Done,
}

impl<'a> Members<'a> {
    /// Starts iterating the object at `start`.
    pub fn new(b: &'a [u8], start: usize) -> Self {
        Members {
            b,
            pos: start,
            state: MembersState::Start,
            fast: false,
        }
    }

    /// Continues iterating an object whose members up to `pos` were already read (`pos` is just
    /// past the last member's value).
    pub fn resume(b: &'a [u8], pos: usize) -> Self {
        Members {
            b,
            pos,
            state: MembersState::Next,
            fast: false,
        }
    }

    /// Skips member values with [`skip_value_fast`] (brackets and strings only) instead of
    /// checking their grammar: for indexing records whose syntax is checked in full elsewhere.
    pub fn fast(mut self) -> Self {
        self.fast = true;
        self
    }

    /// The position scanning has reached.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether the closing brace has been seen.
    pub fn is_done(&self) -> bool {
        self.state == MembersState::Done
    }

    fn step(&mut self) -> Result<Option<Member>, JsonError> {
        let b = self.b;
        let mut i = skip_ws(b, self.pos);
        match self.state {
            MembersState::Done => return Ok(None),
            MembersState::Start => {
                match b.get(i) {
                    Some(b'{') => {}
                    Some(&c) => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(c)))),
                    None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
                }
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    self.state = MembersState::Done;
                    self.pos = i + 1;
                    return Ok(None);
                }
            }
            MembersState::Next => match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    self.state = MembersState::Done;
                    self.pos = i + 1;
                    return Ok(None);
                }
                Some(&c) => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(c)))),
                None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
            },
        }
        match b.get(i) {
            Some(b'"') => {}
            Some(_) => return Err(err(i, JsonErrorKind::ExpectedKey)),
            None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
        }
        let (kend, key_escaped) = scan_string(b, i)?;
        let key = i + 1..kend - 1;
        let c = skip_ws(b, kend);
        match b.get(c) {
            Some(b':') => {}
            Some(_) => return Err(err(c, JsonErrorKind::ExpectedColon)),
            None => return Err(err(c, JsonErrorKind::UnexpectedEnd)),
        }
        let vstart = skip_ws(b, c + 1);
        let vend = if self.fast {
            skip_value_fast(b, vstart)?
        } else {
            skip_value(b, vstart)?
        };
        self.pos = vend;
        self.state = MembersState::Next;
        Ok(Some(Member {
            key,
            key_escaped,
            value: vstart..vend,
        }))
    }
}

impl Iterator for Members<'_> {
    type Item = Result<Member, JsonError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) => None,
            Err(e) => {
                self.state = MembersState::Done;
                Some(Err(e))
            }
        }
    }
}

/// Iterates over the elements of the array that starts at `start`, yielding each element's range.
pub struct Elements<'a> {
    b: &'a [u8],
    pos: usize,
    state: MembersState,
}

impl<'a> Elements<'a> {
    /// Starts iterating the array at `start`.
    pub fn new(b: &'a [u8], start: usize) -> Self {
        Elements {
            b,
            pos: start,
            state: MembersState::Start,
        }
    }

    fn step(&mut self) -> Result<Option<Range<usize>>, JsonError> {
        let b = self.b;
        let mut i = skip_ws(b, self.pos);
        match self.state {
            MembersState::Done => return Ok(None),
            MembersState::Start => {
                match b.get(i) {
                    Some(b'[') => {}
                    Some(&c) => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(c)))),
                    None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
                }
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    self.state = MembersState::Done;
                    return Ok(None);
                }
            }
            MembersState::Next => match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b']') => {
                    self.state = MembersState::Done;
                    return Ok(None);
                }
                Some(&c) => return Err(err(i, JsonErrorKind::Unexpected(ByteDisplay(c)))),
                None => return Err(err(i, JsonErrorKind::UnexpectedEnd)),
            },
        }
        let end = skip_value(b, i)?;
        self.pos = end;
        self.state = MembersState::Next;
        Ok(Some(i..end))
    }
}

impl Iterator for Elements<'_> {
    type Item = Result<Range<usize>, JsonError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) => None,
            Err(e) => {
                self.state = MembersState::Done;
                Some(Err(e))
            }
        }
    }
}

/// Finds member `name` of the object at `start`; the first one wins if a key repeats.
pub fn find_member(b: &[u8], start: usize, name: &[u8]) -> Result<Option<Range<usize>>, JsonError> {
    for m in Members::new(b, start) {
        let m = m?;
        if m.key_is(b, name) {
            return Ok(Some(m.value));
        }
    }
    Ok(None)
}

/// The JSON type of the value starting at `b[start]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// The kind of the value at `b[start]` (which must be the value's first byte).
pub fn kind_at(b: &[u8], start: usize) -> Kind {
    match b.get(start) {
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b'"') => Kind::String,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        _ => Kind::Number,
    }
}

/// Follows a JSON pointer (already split into unescaped tokens) from the value at `range`.
pub fn pointer<S: AsRef<str>>(
    b: &[u8],
    range: Range<usize>,
    tokens: &[S],
) -> Result<Option<Range<usize>>, JsonError> {
    let mut cur = range;
    for t in tokens {
        let t = t.as_ref();
        let next = match kind_at(b, cur.start) {
            Kind::Object => find_member(b, cur.start, t.as_bytes())?,
            Kind::Array => match t.parse::<usize>() {
                Ok(n) if !t.starts_with('+') => nth_element(b, cur.start, n)?,
                _ => None,
            },
            _ => None,
        };
        match next {
            Some(r) => cur = r,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// Most values [`collect_path`] returns for one path.
pub const MAX_PATH_VALUES: usize = 4096;

/// Every value reached by following `tokens` (object keys) from the value at `range`, going
/// through arrays: an array met on the way is searched element by element, and an array at the
/// end contributes its elements. Iterative and bounded by [`MAX_PATH_VALUES`].
pub fn collect_path<S: AsRef<str>>(
    b: &[u8],
    range: Range<usize>,
    tokens: &[S],
) -> Result<Vec<Range<usize>>, JsonError> {
    let mut out = Vec::new();
    // (value, next token, whether this value is the element of an array at the path's end)
    let mut stack = vec![(range, 0usize)];
    while let Some((r, i)) = stack.pop() {
        if out.len() >= MAX_PATH_VALUES {
            break;
        }
        match kind_at(b, r.start) {
            Kind::Array => {
                let mut elems = Vec::new();
                for e in Elements::new(b, r.start) {
                    elems.push(e?);
                    if elems.len() > MAX_PATH_VALUES {
                        break;
                    }
                }
                // Keep document order: the stack pops the last pushed first.
                stack.extend(elems.into_iter().rev().map(|e| (e, i)));
            }
            Kind::Object if i < tokens.len() => {
                if let Some(m) = find_member(b, r.start, tokens[i].as_ref().as_bytes())? {
                    stack.push((m, i + 1));
                }
            }
            _ if i == tokens.len() => out.push(r),
            _ => {}
        }
    }
    Ok(out)
}

/// [`collect_path`] as a field value: strings decoded, other scalars as their text, `null` as
/// `None`, objects as compact JSON; `Ok(None)` when the path reaches nothing.
pub fn path_values<'b, S: AsRef<str>>(
    b: &'b [u8],
    range: Range<usize>,
    tokens: &[S],
) -> Result<Option<crate::Value<'b>>, JsonError> {
    // Fast path: no array on the way, one value.
    let mut cur = range.clone();
    let mut simple = true;
    for t in tokens {
        match kind_at(b, cur.start) {
            Kind::Object => match find_member(b, cur.start, t.as_ref().as_bytes())? {
                Some(m) => cur = m,
                None => return Ok(None),
            },
            Kind::Array => {
                simple = false;
                break;
            }
            _ => return Ok(None),
        }
    }
    if simple {
        return Ok(match kind_at(b, cur.start) {
            Kind::Null => Some(crate::Value::Multi(vec![None])),
            Kind::Array => Some(multi(b, collect_path(b, cur, &[] as &[&str])?)?),
            _ => Some(crate::Value::Str(value_text(b, cur)?)),
        });
    }
    let ranges = collect_path(b, range, tokens)?;
    if ranges.is_empty() {
        return Ok(None);
    }
    multi(b, ranges).map(Some)
}

fn multi(b: &[u8], ranges: Vec<Range<usize>>) -> Result<crate::Value<'_>, JsonError> {
    let mut vals = Vec::with_capacity(ranges.len());
    for r in ranges {
        vals.push(match kind_at(b, r.start) {
            Kind::Null => None,
            _ => Some(value_text(b, r)?),
        });
    }
    Ok(crate::Value::Multi(vals))
}

/// The `n`th element (from 0) of the array at `start`.
pub fn nth_element(b: &[u8], start: usize, n: usize) -> Result<Option<Range<usize>>, JsonError> {
    for (k, e) in Elements::new(b, start).enumerate() {
        let e = e?;
        if k == n {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Decodes the string value at `range` (quotes included) into text, borrowing when it has no
/// escapes.
pub fn decode_string(b: &[u8], range: Range<usize>) -> Result<Cow<'_, str>, JsonError> {
    let raw = &b[range.start + 1..range.end - 1];
    if memchr::memchr(b'\\', raw).is_none() {
        std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|e| err(range.start + 1 + e.valid_up_to(), JsonErrorKind::BadUtf8))
    } else {
        unescape(raw).map(Cow::Owned).map_err(|mut e| {
            e.offset += range.start + 1;
            e
        })
    }
}

/// Unescapes the bytes of a JSON string (without its quotes).
pub fn unescape(raw: &[u8]) -> Result<String, JsonError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1).ok_or(err(i, JsonErrorKind::BadEscape))?;
        i += 2;
        let ch = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(raw, i)?;
                i += 4;
                if (0xD800..0xDC00).contains(&hi) && raw.get(i..i + 2) == Some(b"\\u") {
                    let lo = hex4(raw, i + 2)?;
                    if (0xDC00..0xE000).contains(&lo) {
                        i += 6;
                        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(cp).unwrap_or('\u{FFFD}')
                    } else {
                        '\u{FFFD}'
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            _ => return Err(err(i - 2, JsonErrorKind::BadEscape)),
        };
        let mut tmp = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
    }
    String::from_utf8(out).map_err(|e| err(e.utf8_error().valid_up_to(), JsonErrorKind::BadUtf8))
}

fn hex4(raw: &[u8], i: usize) -> Result<u32, JsonError> {
    let h = raw.get(i..i + 4).ok_or(err(i, JsonErrorKind::BadEscape))?;
    let s = std::str::from_utf8(h).map_err(|_| err(i, JsonErrorKind::BadEscape))?;
    u32::from_str_radix(s, 16).map_err(|_| err(i, JsonErrorKind::BadEscape))
}

/// Appends the value at `range` to `out` without insignificant whitespace (strings are copied
/// verbatim, escapes included). This is the "re-serialised JSON" text of a field such as
/// `ct.request`.
pub fn write_compact(b: &[u8], range: Range<usize>, out: &mut String) {
    let raw = &b[range];
    let mut i = 0;
    let mut bytes = Vec::with_capacity(raw.len());
    while i < raw.len() {
        let c = raw[i];
        if c == b'"' {
            let end = scan_string(raw, i).map(|(e, _)| e).unwrap_or(raw.len());
            bytes.extend_from_slice(&raw[i..end]);
            i = end;
        } else {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                bytes.push(c);
            }
            i += 1;
        }
    }
    // The buffer was valid UTF-8 in its strings (checked on decode) and ASCII elsewhere; fall
    // back to a lossy conversion rather than trusting that.
    out.push_str(&String::from_utf8_lossy(&bytes));
}

/// Text of the value at `range` as a field value: strings decoded, anything else compact JSON.
pub fn value_text(b: &[u8], range: Range<usize>) -> Result<Cow<'_, str>, JsonError> {
    match kind_at(b, range.start) {
        Kind::String => decode_string(b, range),
        Kind::Number | Kind::Bool | Kind::Null => std::str::from_utf8(&b[range.clone()])
            .map(Cow::Borrowed)
            .map_err(|_| err(range.start, JsonErrorKind::BadUtf8)),
        Kind::Object | Kind::Array => {
            let mut s = String::with_capacity(range.len());
            write_compact(b, range, &mut s);
            Ok(Cow::Owned(s))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(s: &str) -> Result<usize, JsonError> {
        skip_value(s.as_bytes(), 0)
    }

    #[test]
    fn skips_nested_values() {
        let s = r#" {"a": [1, 2.5e3, -3, {"b": "x\"}]"}], "c": null, "d": true} tail"#;
        assert_eq!(skip(s).unwrap(), s.find(" tail").unwrap());
        assert_eq!(skip("[]").unwrap(), 2);
        assert_eq!(skip("{}").unwrap(), 2);
        assert_eq!(skip("\"\\u00e9\"").unwrap(), 8);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            skip("{\"a\":1").unwrap_err().kind,
            JsonErrorKind::UnexpectedEnd
        );
        assert_eq!(
            skip("{\"a\" 1}").unwrap_err().kind,
            JsonErrorKind::ExpectedColon
        );
        assert_eq!(skip("{1:2}").unwrap_err().kind, JsonErrorKind::ExpectedKey);
        assert_eq!(skip("[1}").unwrap_err().offset, 2);
        assert_eq!(skip("tru").unwrap_err().kind, JsonErrorKind::UnexpectedEnd);
        assert_eq!(skip("trux").unwrap_err().kind, JsonErrorKind::BadLiteral);
        assert_eq!(skip("\"a\\x\"").unwrap_err().kind, JsonErrorKind::BadEscape);
        assert_eq!(skip("-").unwrap_err().kind, JsonErrorKind::BadLiteral);
        assert!(matches!(
            skip("@").unwrap_err().kind,
            JsonErrorKind::Unexpected(_)
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "[".repeat(1_000_000);
        let e = skip(&s).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::TooDeep);
        assert_eq!(e.offset, MAX_DEPTH);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(skip(&ok).unwrap(), ok.len());
    }

    #[test]
    fn members_are_found_lazily() {
        let s = br#"{"x": {"y": [10, {"z": "hi"}]}, "e\u0041": 1, "bad": }"#;
        let r = pointer(s, 0..s.len(), &["x", "y", "1", "z"])
            .unwrap()
            .unwrap();
        assert_eq!(decode_string(s, r).unwrap(), "hi");
        // An escaped key compares unescaped; the broken member after it is never read.
        let r = find_member(s, 0, b"eA").unwrap().unwrap();
        assert_eq!(&s[r], b"1");
        assert!(find_member(s, 0, b"nope").is_err());
        assert_eq!(pointer(s, 0..s.len(), &["x", "y", "7"]).unwrap(), None);
    }

    #[test]
    fn paths_go_through_arrays() {
        let s = br#"{"a":[{"b":1},{"b":[2,3]},{"c":4},{"b":{"d":5}}],"e":null}"#;
        let texts = |toks: &[&str]| -> Vec<String> {
            collect_path(s, 0..s.len(), toks)
                .unwrap()
                .into_iter()
                .map(|r| String::from_utf8(s[r].to_vec()).unwrap())
                .collect()
        };
        assert_eq!(texts(&["a", "b"]), vec!["1", "2", "3", r#"{"d":5}"#]);
        assert_eq!(texts(&["a", "b", "d"]), vec!["5"]);
        assert_eq!(texts(&["e"]), vec!["null"]);
        assert!(texts(&["a", "x"]).is_empty());
        assert!(texts(&["e", "x"]).is_empty());
    }

    #[test]
    fn unescapes_strings() {
        assert_eq!(
            unescape(br#"a\"b\\c\/\n\u00e9\ud83d\ude00"#).unwrap(),
            "a\"b\\c/\né😀"
        );
        assert_eq!(unescape(br"\ud800x").unwrap(), "\u{FFFD}x");
    }

    #[test]
    fn compact_text_drops_whitespace_outside_strings() {
        let s = b"{ \"a\" : [ 1 , \"x y\" ],\n \"b\": false }";
        let mut out = String::new();
        write_compact(s, 0..s.len(), &mut out);
        assert_eq!(out, r#"{"a":[1,"x y"],"b":false}"#);
    }
}
