//! Shared by the benchmarks: the corpus, a sink that drops alerts, timing helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harrier_alerts::{Alert, AlertSink, Format, SinkError};

pub fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// Every CloudTrail record of the corpora, compact, one per line, with its members in the
/// order CloudTrail wrote them (`eventVersion`, `userIdentity`, `eventTime`, ...).
/// HARRIER_BENCH_SORTED=1 gives the input of the benchmarks before 2026-12-03: each record
/// re-serialised through serde_json, which sorts members by name (`userIdentity` last).
pub fn corpus_lines() -> Vec<String> {
    let lines = corpus_lines_delivered();
    if std::env::var_os("HARRIER_BENCH_SORTED").is_none() {
        return lines;
    }
    lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .to_string()
        })
        .collect()
}

fn corpus_lines_delivered() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "corpus/cloudtrail/stratus-red-team",
        "corpus/cloudtrail/invictus-ir",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(shared(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "json"))
        {
            let data = std::fs::read(f).unwrap();
            let mut reader = harrier_sources::RecordReader::new(&data[..]);
            while let Some(Ok(rec)) = reader.next_record() {
                out.push(compact(rec.bytes));
            }
        }
    }
    let panther = std::fs::read(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    for line in panther.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let Ok(Some(ev)) = harrier_events::json::find_member(line, 0, b"event") else {
            continue;
        };
        let ev = &line[ev];
        let named = harrier_events::json::find_member(ev, 0, b"eventName")
            .ok()
            .flatten()
            .is_some_and(|r| ev[r.start] == b'"');
        if named {
            out.push(compact(ev));
        }
    }
    out
}

/// One JSON value's text without the whitespace outside its strings.
fn compact(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for &c in raw {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    String::from_utf8(out).unwrap()
}

/// A sink that formats every alert as JSON (as a real output would) and drops it.
pub struct NullSink {
    pub buf: String,
    pub alerts: u64,
}

impl AlertSink for NullSink {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.buf.clear();
        alert.write_to(Format::Json, &mut self.buf);
        self.alerts += 1;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

pub fn lines_of(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    input.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

pub fn best_of<F: FnMut() -> u64>(runs: usize, mut f: F) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// The corpus repeated to at least `mb` MiB: (bytes, records, distinct records).
pub fn input(mb: usize) -> (Vec<u8>, u64, usize) {
    let lines = corpus_lines();
    let mut input = Vec::with_capacity(mb << 20);
    let mut records = 0u64;
    while input.len() < mb << 20 {
        for l in &lines {
            input.extend_from_slice(l.as_bytes());
            input.push(b'\n');
            records += 1;
        }
    }
    (input, records, lines.len())
}

/// Input size from HARRIER_BENCH_MB (default 100).
pub fn target_mb() -> usize {
    std::env::var("HARRIER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}
