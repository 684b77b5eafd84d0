//! Alerts stored per second by 1, 2 and 4 workers (threads, each with its own connection, as
//! `serve` workers have), PostgreSQL against SQLite, and how long a stored alert takes to reach
//! an output's read. Used by scripts/bench-store; see docs/benchmarks.md.
//!
//! usage: bench_store ADMIN_URL DIR   (ADMIN_URL: a PostgreSQL database that may create others)

use std::time::{Duration, Instant};

use harrier_alerts::store::{contract, AlertStore, Store, Throttle};
use harrier_rules::Priority;
use harrier_store_pg::PgStore;

const TOTAL: usize = 40_000;
/// Alerts per transaction: what one SQS message of CloudTrail typically raises, with its
/// checkpoint.
const BATCH: usize = 10;

fn open(backend: &str, admin: &str, dir: &std::path::Path, name: &str) -> Box<dyn AlertStore> {
    match backend {
        "sqlite" => Box::new(Store::open(&dir.join(format!("{name}.db"))).unwrap()),
        _ => {
            let url = admin.replace("dbname=postgres", &format!("dbname={name}"));
            Box::new(PgStore::connect(&url).unwrap())
        }
    }
}

fn fresh(backend: &str, admin: &str, name: &str) {
    if backend == "postgres" {
        let mut c = postgres::Client::connect(admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (admin, dir) = (&args[1], std::path::Path::new(&args[2]));
    println!("| store | workers | alerts/s | x 1 worker |");
    println!("|---|---:|---:|---:|");
    for backend in ["sqlite", "postgres"] {
        let mut one = 0.0;
        for workers in [1usize, 2, 4] {
            let name = format!("bench_{backend}_{workers}");
            fresh(backend, admin, &name);
            // Schema made once before the clock starts.
            drop(open(backend, admin, dir, &name));
            let t = Instant::now();
            std::thread::scope(|s| {
                for w in 0..workers {
                    let name = &name;
                    s.spawn(move || {
                        let mut st = open(backend, admin, dir, name);
                        let per = TOTAL / workers;
                        let throttle = Throttle::default();
                        for b in 0..per / BATCH {
                            let alerts: Vec<_> = (0..BATCH)
                                .map(|i| {
                                    let n = (w * per + b * BATCH + i) as i64;
                                    contract::alert(
                                        "Bench Rule",
                                        &format!("w{w}-e{n}"),
                                        n,
                                        "alice",
                                        Priority::Warning,
                                    )
                                })
                                .collect();
                            let cp = format!("{b}");
                            st.insert(&alerts, &throttle, Some((&format!("sqs-{w}"), &cp)))
                                .unwrap();
                        }
                    });
                }
            });
            let rate = TOTAL as f64 / t.elapsed().as_secs_f64();
            if workers == 1 {
                one = rate;
            }
            println!("| {backend} | {workers} | {rate:.0} | {:.2}x |", rate / one);
        }
    }

    println!();
    println!("| store | stored -> an output's read, median | p99 |");
    println!("|---|---:|---:|");
    for backend in ["sqlite", "postgres"] {
        let name = format!("bench_{backend}_latency");
        fresh(backend, admin, &name);
        let w = open(backend, admin, dir, &name);
        w.register_output("out", true).unwrap();
        drop(w);
        let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
        let mut lat = Vec::new();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut st = open(backend, admin, dir, &name);
                for n in 0..500i64 {
                    let a = contract::alert(
                        "Bench Rule",
                        &format!("l{n}"),
                        n,
                        "alice",
                        Priority::Warning,
                    );
                    st.insert(std::slice::from_ref(&a), &Throttle::default(), None)
                        .unwrap();
                    tx.send((a.id(), Instant::now())).unwrap();
                    std::thread::sleep(Duration::from_millis(4));
                }
                drop(tx);
            });
            // The output's loop, polling every millisecond.
            let st = open(backend, admin, dir, &name);
            let mut stored = std::collections::HashMap::new();
            let mut seen = 0;
            while seen < 500 {
                while let Ok((id, at)) = rx.try_recv() {
                    stored.insert(id, at);
                }
                let batch = st.pending("out", 100).unwrap();
                for a in &batch {
                    while !stored.contains_key(&a.id) {
                        let (id, at) = rx.recv().unwrap();
                        stored.insert(id, at);
                    }
                    lat.push(stored[&a.id].elapsed());
                    seen += 1;
                }
                if let Some(last) = batch.last() {
                    st.mark_delivered("out", last.seq, batch.len() as u64)
                        .unwrap();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        lat.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {backend} | {:.2} ms | {:.2} ms |",
            ms(lat[lat.len() / 2]),
            ms(lat[lat.len() * 99 / 100])
        );
    }
}
