//! Alerts correlated per second through the shared store (what the worker holding the
//! correlation's lease does: read pages after its cursor, correlate, commit notices, incidents
//! and the cursor) against the same alerts correlated in memory (one process, no store), and
//! what a takeover costs (rebuilding the open incidents from the store). Used by
//! scripts/bench-store; see docs/benchmarks.md.
//!
//! usage: bench_correlation ADMIN_URL   (ADMIN_URL: a PostgreSQL database that may create others)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use harrier_alerts::outputs::Wake;
use harrier_alerts::store::{AlertStore, Throttle};
use harrier_alerts::AlertRecord;
use harrier_incidents::incident::AlertEntry;
use harrier_incidents::{Correlator, Entity, Kind};
use harrier_rules::Priority;
use harrier_serve::incidents::{run_store_correlation, StoreCorrelation, TASK};
use harrier_store_pg::PgStore;

/// Alerts, in stories of [`STORY`] that share an access key (and an address per story).
const TOTAL: usize = 20_000;
const STORY: usize = 50;

fn alerts() -> Vec<(AlertRecord, Vec<Entity>)> {
    let t0 = 1_700_000_000 * 1_000_000_000i64;
    (0..TOTAL)
        .map(|i| {
            let story = i % (TOTAL / STORY);
            let e = vec![
                Entity::new(Kind::AccessKey, format!("AKIA{story:016}")).unwrap(),
                Entity::new(
                    Kind::SourceIp,
                    format!("203.0.{}.{}", story / 250, story % 250),
                )
                .unwrap(),
                Entity::new(Kind::Region, "us-east-1").unwrap(),
            ];
            let rule = [
                "Key Created",
                "User Created",
                "Policy Attached",
                "Trail Stopped",
            ][i % 4];
            let tag = [
                "mitre_persistence",
                "mitre_privilege_escalation",
                "mitre_defense_evasion",
            ][i % 3];
            let a = AlertRecord {
                time_ns: t0 + i as i64 * 1_000_000_000,
                rule: rule.into(),
                priority: Priority::Warning,
                source: "aws_cloudtrail".into(),
                output: format!("{rule} by story {story} (#{i})"),
                output_fields: vec![],
                tags: vec![tag.into()],
                hostname: "bench".into(),
                event_id: Some(format!("ev-{i}")),
                rule_file: "bench.yaml".into(),
                event: None,
                entities: Some(harrier_incidents::entity::encode(&e)),
            };
            (a, e)
        })
        .collect()
}

fn main() {
    let admin = std::env::args()
        .nth(1)
        .expect("usage: bench_correlation ADMIN_URL");
    let all = alerts();

    // Baseline: the same alerts through one correlator in memory.
    let t = Instant::now();
    let mut c = Correlator::new(harrier_incidents::Options::default());
    for (a, e) in &all {
        c.observe_entry(AlertEntry::of(a), e.clone());
    }
    let incidents = c.take_changed().len();
    let memory = TOTAL as f64 / t.elapsed().as_secs_f64();

    // The alerts stored with their entities (not timed), then correlated through the store.
    let mut db = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    db.batch_execute("DROP DATABASE IF EXISTS bench_correlation")
        .unwrap();
    db.batch_execute("CREATE DATABASE bench_correlation")
        .unwrap();
    let url = admin.replace("dbname=postgres", "dbname=bench_correlation");
    let mut w = PgStore::connect(&url).unwrap();
    let records: Vec<AlertRecord> = all.iter().map(|(a, _)| a.clone()).collect();
    for chunk in records.chunks(500) {
        w.insert(chunk, &Throttle::default(), None).unwrap();
    }
    let last = w.last_seq().unwrap();
    let wake = Wake::default();
    let metrics = harrier_serve::metrics::CorrelationMetrics::default();
    let cfg = StoreCorrelation {
        options: harrier_incidents::Options::default(),
        notices: true,
        throttle: Throttle::default(),
        hostname: "bench",
        wake: &wake,
        metrics: &metrics,
    };
    let read = |s: &PgStore| {
        s.deliveries()
            .unwrap()
            .into_iter()
            .find(|d| d.output == TASK)
            .map_or(0, |d| d.seq)
    };
    let run = |label: &str| -> f64 {
        let stop = AtomicBool::new(false);
        let t = Instant::now();
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                run_store_correlation(Box::new(PgStore::connect(&url).unwrap()), &cfg, &stop)
            });
            let probe = PgStore::connect(&url).unwrap();
            while read(&probe) < last {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            stop.store(true, Ordering::Relaxed);
            h.join().unwrap().unwrap();
        });
        let secs = t.elapsed().as_secs_f64();
        eprintln!("{label}: {secs:.2} s");
        secs
    };
    let through = TOTAL as f64 / run("through the store");
    let stored = PgStore::connect(&url)
        .unwrap()
        .incidents(u64::MAX)
        .unwrap()
        .len();
    assert_eq!(stored, incidents, "the same incidents either way");

    // A takeover: the next holder rebuilds the open incidents (every alert here is within
    // the window) before it reads on; nothing is left to read, so this is the rebuild alone.
    let c = postgres::Client::connect(&url, postgres::NoTls);
    c.unwrap()
        .batch_execute("UPDATE deliveries SET seq = seq - 1 WHERE output = '~incidents'")
        .unwrap();
    let rebuild = run("takeover (rebuild, then one alert)");

    println!("| correlation of {TOTAL} alerts ({incidents} incidents) | alerts/s | vs in memory |");
    println!("|---|---:|---:|");
    println!("| in memory, one process (baseline) | {memory:.0} | 1.00x |");
    println!(
        "| through PostgreSQL, the lease holder | {through:.0} | {:.3}x |",
        through / memory
    );
    println!(
        "| takeover: rebuild of {TOTAL} open alerts | {:.0} | {:.3}x |",
        TOTAL as f64 / rebuild,
        TOTAL as f64 / rebuild / memory
    );
}
