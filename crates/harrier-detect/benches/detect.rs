//! Detection throughput against JSON parse-only baselines, measured in the same run on the same
//! input: the CloudTrail records of ../shared/corpus, one per line, repeated to >= 100 MB.
//!
//! Run: `cargo bench -p harrier-detect --bench detect` (single-threaded; prints a Markdown table
//! for docs/benchmarks.md). `HARRIER_BENCH_MB` changes the input size.

mod common;

use std::time::Duration;

use common::*;
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use harrier_sources::RecordReader;

fn main() {
    let (input, records, distinct) = input(target_mb());
    // HARRIER_BENCH_ONLY=plain|incidents runs that variant alone (for profilers).
    let only = std::env::var("HARRIER_BENCH_ONLY").ok();
    let mb = input.len() as f64 / (1 << 20) as f64;
    eprintln!("input: {distinct} distinct records, {records} records, {mb:.1} MiB");

    let rules_text =
        std::fs::read_to_string(shared("rules/falco/aws_cloudtrail_rules.yaml")).unwrap();
    let (rules, diags) = RuleSet::load([("aws_cloudtrail_rules.yaml", rules_text.as_str())]);
    assert!(diags.iter().all(|d| !d.is_error()));
    let rss_before = peak_rss_kb();

    if let Some(which) = only.as_deref() {
        let rules_text =
            std::fs::read_to_string(shared("rules/falco/aws_cloudtrail_rules.yaml")).unwrap();
        let (rules, _) = RuleSet::load([("r.yaml", rules_text.as_str())]);
        let mut sink = NullSink {
            buf: String::new(),
            alerts: 0,
        };
        let mut d = Detector::new(&rules, "bench", Options::default());
        if which == "incidents" {
            d.enable_incidents(harrier_incidents::Options::default());
        }
        let t = std::time::Instant::now();
        let mut reader = RecordReader::new(&input[..]);
        while let Some(item) = reader.next_record() {
            let rec = item.unwrap();
            d.process_record(rec.bytes, rec.offset, "bench", &mut sink, &mut |p| {
                panic!("{p}")
            })
            .unwrap();
        }
        let n = d.incidents().len();
        eprintln!(
            "{which}: {} alerts, {n} incidents, {:?}",
            sink.alerts,
            t.elapsed()
        );
        return;
    }
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

    let detect = |rules: &RuleSet, options: Options, incidents: bool, anomalies: bool| {
        let mut sink = NullSink {
            buf: String::new(),
            alerts: 0,
        };
        let mut d = Detector::new(rules, "bench", options);
        if incidents {
            d.enable_incidents(harrier_incidents::Options::default());
        }
        if anomalies {
            d.enable_anomalies(harrier_incidents::BaselineOptions::default());
        }
        let mut reader = RecordReader::new(&input[..]);
        while let Some(item) = reader.next_record() {
            let rec = item.unwrap();
            d.process_record(rec.bytes, rec.offset, "bench", &mut sink, &mut |p| {
                panic!("{p}")
            })
            .unwrap();
        }
        assert_eq!(d.stats.evaluated, records);
        if incidents {
            assert!(!d.incidents().is_empty());
        }
        sink.alerts
    };
    let (t_detect, alerts) = best_of(3, || detect(&rules, Options::default(), false, false));
    let (t_strict, _) = best_of(3, || {
        detect(
            &rules,
            Options {
                validate_all: true,
                ..Options::default()
            },
            false,
            false,
        )
    });
    let (t_incidents, _) = best_of(3, || detect(&rules, Options::default(), true, false));
    let (t_anomalies, _) = best_of(3, || detect(&rules, Options::default(), true, true));
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
    println!("Input: {records} CloudTrail records ({distinct} distinct), {mb:.1} MiB, one per line; single thread; best of 3.\n");
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
    row(
        "harrier detect --incidents (entities of every alert's event, correlated)",
        t_incidents,
    );
    row(
        "harrier detect --incidents --anomalies (and every record teaches the baselines)",
        t_anomalies,
    );
    println!(
        "\nAlerts per pass: {alerts}. Peak RSS: {} MiB before the runs (input held in memory), {} MiB after.",
        rss_before / 1024,
        rss_after / 1024
    );
}
