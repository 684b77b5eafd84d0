//! Detection throughput against JSON parse-only baselines, measured in the same run on the same
//! input: the CloudTrail records of ../shared/corpus, one per line, repeated to >= 100 MB.
//!
//! Run: `cargo bench -p harrier-detect --bench detect` (single-threaded; prints a Markdown table
//! for docs/benchmarks.md). `HARRIER_BENCH_MB` changes the input size.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harrier_alerts::{Alert, AlertSink, Format, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use harrier_sources::RecordReader;

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// Every CloudTrail record of the corpora, compact, one per line.
fn corpus_lines() -> Vec<String> {
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
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
            let recs = match v {
                serde_json::Value::Array(a) => a,
                mut o => o["Records"].take().as_array().cloned().unwrap_or_default(),
            };
            out.extend(recs.iter().map(|r| serde_json::to_string(r).unwrap()));
        }
    }
    let panther =
        std::fs::read_to_string(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    for line in panther.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event"]["eventName"].is_string() {
            out.push(serde_json::to_string(&v["event"]).unwrap());
        }
    }
    out
}

/// A sink that formats every alert as JSON (as a real output would) and drops it.
struct NullSink {
    buf: String,
    alerts: u64,
}

impl AlertSink for NullSink {
    fn send(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.buf.clear();
        alert.write_to(Format::Json, &mut self.buf);
        self.alerts += 1;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn lines_of(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    input.split(|&b| b == b'\n').filter(|l| !l.is_empty())
}

fn best_of<F: FnMut() -> u64>(runs: usize, mut f: F) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn peak_rss_kb() -> u64 {
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

fn main() {
    let target_mb: usize = std::env::var("HARRIER_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let lines = corpus_lines();
    let mut input = Vec::with_capacity(target_mb << 20);
    let mut records = 0u64;
    while input.len() < target_mb << 20 {
        for l in &lines {
            input.extend_from_slice(l.as_bytes());
            input.push(b'\n');
            records += 1;
        }
    }
    let mb = input.len() as f64 / (1 << 20) as f64;
    eprintln!(
        "input: {} distinct records, {records} records, {mb:.1} MiB",
        lines.len()
    );

    let rules_text =
        std::fs::read_to_string(shared("rules/falco/aws_cloudtrail_rules.yaml")).unwrap();
    let (rules, diags) = RuleSet::load([("aws_cloudtrail_rules.yaml", rules_text.as_str())]);
    assert!(diags.iter().all(|d| !d.is_error()));

    let rss_before = peak_rss_kb();

    let (t_serde, n_serde) = best_of(3, || {
        let mut n = 0;
        for l in lines_of(&input) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            n += v.is_object() as u64;
        }
        n
    });
    let (t_sonic, n_sonic) = best_of(3, || {
        let mut n = 0;
        for l in lines_of(&input) {
            let v: sonic_rs::Value = sonic_rs::from_slice(l).unwrap();
            n += sonic_rs::JsonValueTrait::is_object(&v) as u64;
        }
        n
    });
    let (t_memmem, n_memmem) = best_of(3, || {
        memchr::memmem::find_iter(&input, b"\"eventName\"").count() as u64
    });

    let detect = |rules: &RuleSet, options: Options| {
        let mut sink = NullSink {
            buf: String::new(),
            alerts: 0,
        };
        let mut d = Detector::new(rules, "bench", options);
        let mut reader = RecordReader::new(&input[..]);
        while let Some(item) = reader.next_record() {
            let rec = item.unwrap();
            d.process_record(rec.bytes, rec.offset, "bench", &mut sink, &mut |p| {
                panic!("{p}")
            })
            .unwrap();
        }
        assert_eq!(d.stats.evaluated, records);
        sink.alerts
    };
    let (t_detect, alerts) = best_of(3, || detect(&rules, Options::default()));
    let (t_strict, _) = best_of(3, || detect(&rules, Options { validate_all: true }));
    let rss_after = peak_rss_kb();
    assert_eq!(n_serde, records);
    assert_eq!(n_sonic, records);
    assert!(n_memmem >= records, "every record has an eventName key");

    let rate = |t: Duration| records as f64 / t.as_secs_f64();
    let row = |name: &str, t: Duration| {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.2} |",
            rate(t),
            mb / t.as_secs_f64(),
            rate(t) / rate(t_serde),
            rate(t) / rate(t_sonic)
        )
    };
    println!("Input: {records} CloudTrail records ({} distinct), {mb:.1} MiB, one per line; single thread; best of 3.\n", lines.len());
    println!("| measurement | records/s | MiB/s | vs serde_json Value | vs sonic-rs Value |");
    println!("|---|---:|---:|---:|---:|");
    row("parse-only: serde_json to Value", t_serde);
    row(
        "parse-only: sonic-rs to Value (best parse-only baseline)",
        t_sonic,
    );
    row("scan-only: memmem for \"eventName\"", t_memmem);
    row(
        "harrier detect, Falco aws_cloudtrail_rules.yaml (22 rules)",
        t_detect,
    );
    row(
        "harrier detect --validate-all (every record fully syntax-checked)",
        t_strict,
    );
    println!("\nAlerts per pass: {alerts}. Peak RSS: {} MiB before the runs (input held in memory), {} MiB after.", rss_before / 1024, rss_after / 1024);
}
