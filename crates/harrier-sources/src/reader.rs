//! Splitting a byte stream into JSON records, in bounded memory.
//!
//! Accepted layouts, detected from the content (not the file name), and mixable in one stream:
//! - CloudTrail files: `{"Records": [ {...}, ... ]}`;
//! - a JSON array of records: `[ {...}, ... ]`;
//! - JSON Lines, or records simply written one after another (pretty-printed or not).
//!
//! Gzip is detected by its magic bytes. Memory is bounded by the largest record
//! ([`MAX_RECORD_BYTES`]) plus one read chunk, whatever the size of the input.

use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use harrier_events::json::{self, JsonError, JsonErrorKind};

/// Largest record accepted; a larger one is reported and skipped.
pub const MAX_RECORD_BYTES: usize = 16 << 20;
const CHUNK: usize = 256 << 10;

/// A problem in the input, at a byte offset of the (decompressed) stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {kind}")]
pub struct ReadError {
    /// Offset in the decompressed stream.
    pub offset: u64,
    /// What was wrong.
    pub kind: ReadErrorKind,
}

/// Kinds of input problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// Invalid JSON.
    #[error("invalid JSON: {0}")]
    Json(JsonErrorKind),
    /// Something other than a JSON object where a record was expected.
    #[error("expected a JSON object (a record), found {0}")]
    NotAnObject(String),
    /// A record over [`MAX_RECORD_BYTES`].
    #[error("record larger than {} MiB: skipped", MAX_RECORD_BYTES >> 20)]
    TooLarge,
    /// An oversized record inside an array, after which the rest of the file cannot be split.
    #[error("record larger than {} MiB inside an array: rest of the file skipped", MAX_RECORD_BYTES >> 20)]
    TooLargeInArray,
    /// The stream ended inside a record.
    #[error("input ends inside a record (truncated?)")]
    Truncated,
    /// Reading failed (including a corrupt or truncated gzip stream).
    #[error("read failed: {0}")]
    Io(String),
}

impl ReadErrorKind {
    /// Whether reading the stream cannot go on after this error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ReadErrorKind::Io(_) | ReadErrorKind::TooLargeInArray | ReadErrorKind::Truncated
        )
    }
}

/// One record: its bytes and where it starts in the stream.
#[derive(Debug)]
pub struct Record<'a> {
    /// The record's JSON text.
    pub bytes: &'a [u8],
    /// Offset of its first byte in the (decompressed) stream.
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    Top,
    /// Inside an array of records; `wrapped` for CloudTrail's `{"Records": [`.
    Array {
        wrapped: bool,
        first: bool,
    },
    Done,
}

/// Reads records from a stream. Call [`next_record`](RecordReader::next_record) until `None`.
pub struct RecordReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    eof: bool,
    state: State,
    io_error: Option<String>,
    /// Whether the stream is JSON Lines, decided by its first top-level record.
    jsonl: Option<bool>,
}

/// Opens a reader over raw bytes, decompressing when they start with the gzip magic.
pub fn open(
    mut r: impl BufRead + Send + 'static,
) -> std::io::Result<RecordReader<Box<dyn Read + Send>>> {
    let head = r.fill_buf()?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn Read + Send> = if gz {
        Box::new(BufReader::with_capacity(CHUNK, MultiGzDecoder::new(r)))
    } else {
        Box::new(r)
    };
    Ok(RecordReader::new(inner))
}

impl<R: Read> RecordReader<R> {
    /// Reads records from `inner` (uncompressed).
    pub fn new(inner: R) -> Self {
        RecordReader {
            inner,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            base: 0,
            eof: false,
            state: State::Top,
            io_error: None,
            jsonl: None,
        }
    }

    fn offset(&self, i: usize) -> u64 {
        self.base + i as u64
    }

    /// Reads more input; returns false at end of input.
    fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    self.eof = true;
                    return false;
                }
                Ok(n) => {
                    self.buf.truncate(old + n);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    self.eof = true;
                    self.io_error = Some(e.to_string());
                    return false;
                }
            }
        }
    }

    /// Skips whitespace (reading more as needed); returns the next byte, if any.
    fn peek_nonws(&mut self) -> Option<u8> {
        loop {
            self.pos = json::skip_ws(&self.buf, self.pos);
            if self.pos < self.buf.len() {
                return Some(self.buf[self.pos]);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    fn err(&self, at: usize, kind: ReadErrorKind) -> ReadError {
        ReadError {
            offset: self.offset(at),
            kind,
        }
    }

    fn fatal_io(&mut self) -> Option<ReadError> {
        self.io_error.take().map(|e| {
            self.state = State::Done;
            self.err(self.buf.len(), ReadErrorKind::Io(e))
        })
    }

    /// Whether the bytes at `pos` open CloudTrail's `{"Records": [` wrapper; consumes it if so.
    fn take_records_prefix(&mut self) -> bool {
        while self.buf.len() - self.pos < 64 && self.fill() {}
        let b = &self.buf[self.pos..];
        let mut i = json::skip_ws(b, 1);
        if !b[i..].starts_with(b"\"Records\"") {
            return false;
        }
        i = json::skip_ws(b, i + 9);
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = json::skip_ws(b, i + 1);
        if b.get(i) != Some(&b'[') {
            return false;
        }
        self.pos += i + 1;
        true
    }

    /// Skips to the start of the next line (for resynchronising after bad input).
    fn skip_line(&mut self) {
        loop {
            if let Some(k) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
                self.pos += k + 1;
                return;
            }
            self.pos = self.buf.len();
            if !self.fill() {
                return;
            }
        }
    }

    /// Finds the end of the value at `pos`, reading more input as needed. Values over the size
    /// limit give `TooLarge`.
    fn value_end(&mut self, top_level: bool) -> Result<usize, ReadError> {
        // JSON Lines fast path: once the first line proved to hold exactly one record, a line
        // that starts with '{' and ends with '}' is the record, found with one memchr.
        if top_level && self.jsonl != Some(false) {
            // Bytes after `pos` already searched for a newline (relative: `fill` may move `pos`).
            let mut searched = 0;
            loop {
                if let Some(k) = memchr::memchr(b'\n', &self.buf[self.pos + searched..]) {
                    let nl = self.pos + searched + k;
                    let line = &self.buf[self.pos..nl];
                    let last = line
                        .iter()
                        .rposition(|c| !c.is_ascii_whitespace())
                        .unwrap_or(0);
                    if line.first() == Some(&b'{') && line[last] == b'}' {
                        let end = self.pos + last + 1;
                        match self.jsonl {
                            Some(true) => return Ok(end),
                            _ => {
                                let whole =
                                    json::skip_value(&self.buf[..end], self.pos).ok() == Some(end);
                                self.jsonl = Some(whole);
                                if whole {
                                    return Ok(end);
                                }
                            }
                        }
                    } else if self.jsonl.is_none() {
                        self.jsonl = Some(false);
                    }
                    break;
                }
                searched = self.buf.len() - self.pos;
                if self.buf.len() - self.pos > MAX_RECORD_BYTES || !self.fill() {
                    break;
                }
            }
        }
        loop {
            match json::skip_value(&self.buf, self.pos) {
                Ok(end) => return Ok(end),
                Err(JsonError {
                    kind: JsonErrorKind::UnexpectedEnd,
                    ..
                }) => {
                    if self.buf.len() - self.pos > MAX_RECORD_BYTES {
                        return Err(self.err(self.pos, ReadErrorKind::TooLarge));
                    }
                    if !self.fill() {
                        if let Some(e) = self.fatal_io() {
                            return Err(e);
                        }
                        return Err(self.err(self.pos, ReadErrorKind::Truncated));
                    }
                }
                Err(e) => {
                    return Err(ReadError {
                        offset: self.offset(e.offset),
                        kind: ReadErrorKind::Json(e.kind),
                    })
                }
            }
        }
    }

    /// The next record, or the next problem; `None` at the end of the input.
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, ReadError>> {
        loop {
            match self.state {
                State::Done => return None,
                State::Top => {
                    let Some(c) = self.peek_nonws() else {
                        self.state = State::Done;
                        return self.fatal_io().map(Err);
                    };
                    match c {
                        b'[' if self.jsonl != Some(true) => {
                            self.pos += 1;
                            self.state = State::Array {
                                wrapped: false,
                                first: true,
                            };
                        }
                        b'{' if self.take_records_prefix() => {
                            self.state = State::Array {
                                wrapped: true,
                                first: true,
                            };
                        }
                        b'{' => return Some(self.take_record(false)),
                        _ => {
                            let e = self.err(self.pos, ReadErrorKind::NotAnObject(self.snippet()));
                            self.skip_line();
                            return Some(Err(e));
                        }
                    }
                }
                State::Array { wrapped, first } => {
                    let Some(c) = self.peek_nonws() else {
                        self.state = State::Done;
                        let e = self
                            .fatal_io()
                            .unwrap_or_else(|| self.err(self.pos, ReadErrorKind::Truncated));
                        return Some(Err(e));
                    };
                    if c == b']' {
                        self.pos += 1;
                        if wrapped {
                            match self.peek_nonws() {
                                Some(b'}') => self.pos += 1,
                                other => {
                                    self.state = State::Done;
                                    if let Some(e) = self.fatal_io() {
                                        return Some(Err(e));
                                    }
                                    let what =
                                        other.map(describe).unwrap_or_else(|| "the end".into());
                                    let kind = ReadErrorKind::NotAnObject(format!(
                                        "{what} after the Records array"
                                    ));
                                    return Some(Err(self.err(self.pos, kind)));
                                }
                            }
                        }
                        self.state = State::Top;
                        continue;
                    }
                    if !first {
                        if c != b',' {
                            self.state = State::Done;
                            let kind = ReadErrorKind::Json(JsonErrorKind::Unexpected(
                                json::ByteDisplay(c),
                            ));
                            return Some(Err(self.err(self.pos, kind)));
                        }
                        self.pos += 1;
                        if self.peek_nonws().is_none() {
                            self.state = State::Done;
                            let e = self
                                .fatal_io()
                                .unwrap_or_else(|| self.err(self.pos, ReadErrorKind::Truncated));
                            return Some(Err(e));
                        }
                    }
                    self.state = State::Array {
                        wrapped,
                        first: false,
                    };
                    return Some(self.take_record(true));
                }
            }
        }
    }

    fn take_record(&mut self, in_array: bool) -> Result<Record<'_>, ReadError> {
        let first = self.buf[self.pos];
        // `value_end` may read more input and move the buffer: `pos` stays the record's start,
        // but any index taken before the call would be stale.
        let found = self.value_end(!in_array);
        let start = self.pos;
        match found {
            Ok(end) => {
                self.pos = end;
                if first != b'{' {
                    return Err(self.err(start, ReadErrorKind::NotAnObject(describe(first))));
                }
                Ok(Record {
                    bytes: &self.buf[start..end],
                    offset: self.offset(start),
                })
            }
            Err(mut e) => {
                if e.kind.is_fatal() {
                    self.state = State::Done;
                } else if in_array {
                    // Inside an array there is no line structure to resynchronise on.
                    self.state = State::Done;
                    if e.kind == ReadErrorKind::TooLarge {
                        e.kind = ReadErrorKind::TooLargeInArray;
                    }
                } else {
                    self.skip_line();
                    // Drop everything up to here so a huge line does not stay buffered.
                    self.buf.drain(..self.pos);
                    self.base += self.pos as u64;
                    self.pos = 0;
                }
                Err(e)
            }
        }
    }
}

impl<R> RecordReader<R> {
    /// The start of the current line, quoted, for messages.
    fn snippet(&self) -> String {
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        let end = rest
            .iter()
            .take(40)
            .position(|&c| c == b'\n' || c == b'\r')
            .unwrap_or(rest.len().min(40));
        format!("'{}'", String::from_utf8_lossy(&rest[..end]).escape_debug())
    }
}

fn describe(c: u8) -> String {
    match c {
        b'[' => "an array".into(),
        b'"' => "a string".into(),
        b't' | b'f' => "a boolean".into(),
        b'n' => "null".into(),
        b'-' | b'0'..=b'9' => "a number".into(),
        c if c.is_ascii_graphic() => format!("'{}'", c as char),
        c => format!("byte 0x{c:02x}"),
    }
}
