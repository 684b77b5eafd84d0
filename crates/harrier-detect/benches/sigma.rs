//! Sigma throughput: Harrier and rsigma (the fastest Rust Sigma engine we know) on the same
//! SigmaHQ CloudTrail rules and the same events, against parse-only baselines, in one run; and
//! the hits of both engines per rule, compared.
//!
//! Run: `cargo bench -p harrier-detect --bench sigma`.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use harrier_sources::RecordReader;

fn yml_files(dir: PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    v.sort();
    v
}

fn texts(files: &[PathBuf]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect()
}

fn main() {
    let (input, records, distinct) = input(target_mb());
    let mb = input.len() as f64 / (1 << 20) as f64;
    let sigma_ct = yml_files(shared("rules/sigma/aws_cloudtrail"));
    let mut all_sigma = sigma_ct.clone();
    for d in ["rules/sigma/aws_other", "rules/sigma/kubernetes_audit"] {
        all_sigma.extend(yml_files(shared(d)));
    }
    let pack: Vec<PathBuf> =
        yml_files(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules/aws"));

    let load = |files: &[PathBuf]| {
        let t = texts(files);
        let (rules, diags) = RuleSet::load(t.iter().map(|(a, b)| (a.as_str(), b.as_str())));
        assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
        rules
    };
    let harrier_ct = load(&sigma_ct);
    let harrier_pack = load(&pack);
    let harrier_falco = load(&[shared("rules/falco/aws_cloudtrail_rules.yaml")]);
    let mut everything = pack.clone();
    everything.push(shared("rules/falco/aws_cloudtrail_rules.yaml"));
    everything.extend(all_sigma.iter().cloned());
    let harrier_all = load(&everything);
    eprintln!(
        "unindexed rules: {:?}",
        harrier_all.unindexed("aws_cloudtrail")
    );

    match std::env::var("HARRIER_BENCH_PROFILE").as_deref() {
        Ok("perf") => {
            // For a sampling profiler: matching only, everything loaded, five passes.
            let scratch = harrier_events::cloudtrail::Scratch::default();
            let mut out = Vec::new();
            let mut n = 0;
            for _ in 0..5 {
                for l in lines_of(&input) {
                    let ev = harrier_events::cloudtrail::CloudTrailEvent::new(l, 0, &scratch);
                    out.clear();
                    harrier_all.matching(&ev, &mut out);
                    n += out.len();
                }
            }
            println!("{n} matches");
            return;
        }
        Ok(_) => {
            profile(&harrier_all, &input);
            return;
        }
        Err(_) => {}
    }

    // rsigma with the same 57 CloudTrail rules.
    let mut engine = rsigma_eval::Engine::new();
    for f in &sigma_ct {
        let coll = rsigma_parser::parse_sigma_yaml(&std::fs::read_to_string(f).unwrap()).unwrap();
        engine.add_collection(&coll).unwrap();
    }

    let (t_serde, _) = best_of(3, || {
        let mut n = 0;
        for l in lines_of(&input) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            n += v.is_object() as u64;
        }
        n
    });
    let (t_sonic, _) = best_of(3, || {
        let mut n = 0;
        for l in lines_of(&input) {
            let v: sonic_rs::Value = sonic_rs::from_slice(l).unwrap();
            n += sonic_rs::JsonValueTrait::is_object(&v) as u64;
        }
        n
    });
    let mut rsigma_hits: BTreeMap<String, u64> = BTreeMap::new();
    let (t_rsigma, _) = best_of(3, || {
        rsigma_hits.clear();
        let mut n = 0;
        for l in lines_of(&input) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let ev = rsigma_eval::JsonEvent::borrow(&v);
            for r in engine.evaluate(&ev) {
                *rsigma_hits.entry(r.header.rule_title.clone()).or_default() += 1;
                n += 1;
            }
        }
        n
    });
    let mut harrier_hits: BTreeMap<String, u64> = BTreeMap::new();
    let run = |rules: &RuleSet, hits: Option<&mut BTreeMap<String, u64>>| {
        let mut sink = NullSink {
            buf: String::new(),
            alerts: 0,
        };
        let mut d = Detector::new(rules, "bench", Options::default());
        let mut reader = RecordReader::new(&input[..]);
        let mut names: Vec<u32> = Vec::new();
        while let Some(item) = reader.next_record() {
            let rec = item.unwrap();
            d.process_record(rec.bytes, rec.offset, "bench", &mut sink, &mut |p| {
                panic!("{p}")
            })
            .unwrap();
            let _ = &mut names;
        }
        if let Some(h) = hits {
            // Hits per rule, counted on a second, unmeasured pass.
            h.clear();
            let scratch = harrier_events::cloudtrail::Scratch::default();
            let mut out = Vec::new();
            for l in lines_of(&input) {
                let ev = harrier_events::cloudtrail::CloudTrailEvent::new(l, 0, &scratch);
                out.clear();
                rules.matching(&ev, &mut out);
                for i in &out {
                    *h.entry(rules.rule(*i).name.clone()).or_default() += 1;
                }
            }
        }
        sink.alerts
    };
    let eval_only = |rules: &RuleSet| {
        let scratch = harrier_events::cloudtrail::Scratch::default();
        let mut out = Vec::new();
        let mut n = 0u64;
        let mut reader = RecordReader::new(&input[..]);
        while let Some(item) = reader.next_record() {
            let rec = item.unwrap();
            let ev = harrier_events::cloudtrail::CloudTrailEvent::new(rec.bytes, 0, &scratch);
            out.clear();
            rules.matching(&ev, &mut out);
            n += out.len() as u64;
        }
        n
    };
    let (t_eval_all, _) = best_of(3, || eval_only(&harrier_all));
    let (t_falco, a_falco) = best_of(3, || run(&harrier_falco, None));
    let (t_pack, a_pack) = best_of(3, || run(&harrier_pack, None));
    let (t_ct, a_ct) = best_of(3, || run(&harrier_ct, None));
    let (t_all, a_all) = best_of(3, || run(&harrier_all, None));
    run(&harrier_ct, Some(&mut harrier_hits));

    let rate = |t: Duration| records as f64 / t.as_secs_f64();
    println!("Input: {records} CloudTrail records ({distinct} distinct), {mb:.1} MiB, one per line; single thread; best of 3.\n");
    println!("| measurement | records/s | vs serde_json Value | vs sonic-rs Value | vs rsigma |");
    println!("|---|---:|---:|---:|---:|");
    for (name, t) in [
        ("parse-only: serde_json to Value", t_serde),
        ("parse-only: sonic-rs to Value (best parse-only baseline)", t_sonic),
        ("rsigma 0.23 (serde_json Value + Engine::evaluate), 57 SigmaHQ CloudTrail rules", t_rsigma),
        ("harrier, the same 57 SigmaHQ CloudTrail rules", t_ct),
        ("harrier, Falco's aws_cloudtrail_rules.yaml", t_falco),
        ("harrier, the built-in pack (rules/aws)", t_pack),
        ("harrier, everything: the built-in pack, Falco's CloudTrail rules, all of ../shared/rules/sigma", t_all),
        ("harrier, everything, matching only (no alert rendering)", t_eval_all),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} |",
            rate(t),
            rate(t) / rate(t_serde),
            rate(t) / rate(t_sonic),
            rate(t) / rate(t_rsigma)
        );
    }
    println!("\nAlerts per pass: harrier 57 Sigma rules {a_ct}, Falco's {a_falco}, the pack {a_pack}, everything {a_all}.\n");
    println!("| rule | rsigma hits | harrier hits |\n|---|---:|---:|");
    let mut names: Vec<&String> = rsigma_hits.keys().chain(harrier_hits.keys()).collect();
    names.sort();
    names.dedup();
    let mut same = true;
    for n in names {
        let (r, h) = (
            rsigma_hits.get(n).copied().unwrap_or(0),
            harrier_hits.get(n).copied().unwrap_or(0),
        );
        same &= r == h;
        println!(
            "| {n} | {r} | {h} |{}",
            if r == h { "" } else { " differs" }
        );
    }
    println!("\nSame hits on every rule: {same}");
}

/// Where the "everything" run's matching time goes: per rule, the time of its evaluations and
/// how many records met it (its index candidates), in one pass; the event's lazy index is paid
/// by the first rule that reads a field, as in a real run.
fn profile(rules: &RuleSet, input: &[u8]) {
    use std::time::Instant;
    let scratch = harrier_events::cloudtrail::Scratch::default();
    let mut per: BTreeMap<u32, (Duration, u64, u64)> = BTreeMap::new();
    let mut t_index = Duration::ZERO;
    let mut records = 0u64;
    let t0 = Instant::now();
    for l in lines_of(input) {
        records += 1;
        let ev = harrier_events::cloudtrail::CloudTrailEvent::new(l, 0, &scratch);
        let t = Instant::now();
        let cands = rules.candidates(&ev);
        t_index += t.elapsed();
        for &r in &cands {
            let t = Instant::now();
            let hit = rules.eval_rule(r, &ev);
            let e = per.entry(r).or_default();
            e.0 += t.elapsed();
            e.1 += 1;
            e.2 += hit as u64;
        }
    }
    let total = t0.elapsed();
    let mut v: Vec<_> = per.into_iter().collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.1 .0));
    println!(
        "{records} records, {total:?} in all, {t_index:?} finding candidates (type key included)\n"
    );
    println!("| rule | file | records met | hits | time | ns/record met |\n|---|---|---:|---:|---:|---:|");
    for (r, (t, n, h)) in v.iter().take(40) {
        let rule = rules.rule(*r);
        let file = rule.file.rsplit('/').next().unwrap_or("");
        println!(
            "| {} | {file} | {n} | {h} | {:.1} ms | {:.0} |",
            rule.name,
            t.as_secs_f64() * 1e3,
            t.as_nanos() as f64 / *n as f64
        );
    }
}
