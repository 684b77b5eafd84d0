//! Many inputs, or one large input, on every core, with the output of one thread reading them
//! in order.
//!
//! Work comes in units: a whole file ([`run_inputs`]: decompression included), or a batch of
//! records of one stream ([`run_stream`]: the workers take turns reading the next batch, so
//! decompressing and splitting one part overlaps detecting the others). Each worker has its
//! own [`Detector`] and buffers a unit's alerts and problems; the caller's thread hands them on
//! in unit order, so alerts reach the sink exactly as a single detector would have written them
//! (the test compares the bytes). The once-per-request rule of Kubernetes audit stages,
//! which can span files, is applied there too, over the ordered stream, with the same memory a
//! single detector has. Workers run at most a few inputs ahead of the output, so memory stays
//! bounded by the inputs in flight, not by the run.
//!
//! Incidents and anomalies need one detector that sees every event in order; callers keep
//! those runs on one thread.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

use harrier_alerts::{Alert, AlertRecord, AlertSink, SinkError};
use harrier_rules::RuleSet;
use harrier_sources::{Input, ReadError, RecordReader};

use crate::{Detector, Options, Problem, RecentKeys, Stats, K8S_STAGE_MEMORY};

/// Buffers one input's alerts.
struct Buffer(Vec<AlertRecord>);

impl AlertSink for Buffer {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(alert.to_record());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What one input gave.
struct Done {
    alerts: Vec<AlertRecord>,
    problems: Vec<Problem>,
}

/// The number of threads to use for `requested` (0: every core).
pub fn threads(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What every worker of a parallel run shares: the rules, the detector's settings, how many
/// threads.
#[derive(Clone, Copy)]
pub struct Pool<'a> {
    /// The rules.
    pub rules: &'a RuleSet,
    /// The host name alerts carry.
    pub hostname: &'a str,
    /// Each worker's detector options.
    pub options: &'a Options,
    /// Worker threads (at least one).
    pub threads: usize,
}

/// One unit's work: its detector, the unit, where its alerts and problems go. A failed alert
/// write cannot happen (the worker's sink is a buffer).
pub type Work<'w, U> =
    dyn Fn(&mut Detector<'_>, U, &mut dyn AlertSink, &mut dyn FnMut(Problem)) + Sync + 'w;

/// Reads `inputs` with the pool's workers into `sink` (and problems to `on_problem`) in input
/// order; returns the counts of the whole run. The only error is a failed alert write.
pub fn run_inputs(
    pool: Pool<'_>,
    inputs: &[Input],
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    let threads = pool.threads.max(1).min(inputs.len().max(1));
    let mut next = 0usize;
    let source = Mutex::new(move || {
        let i = next;
        next += 1;
        (i < inputs.len()).then_some(i)
    });
    run_units(
        Pool { threads, ..pool },
        &source,
        &|det: &mut Detector<'_>, i: usize, buf, problems| {
            let _ = det.process_input(&inputs[i], buf, problems);
        },
        &|want| {
            inputs
                .get(want)
                .map_or_else(|| "an input".to_string(), Input::display)
        },
        sink,
        on_problem,
    )
}

/// Reads one input with [`run_stream`]; an input that cannot be opened is counted and reported
/// as [`Detector::process_input`] does.
pub fn run_input_stream(
    pool: Pool<'_>,
    input: &Input,
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    match input.open() {
        Ok(reader) => run_stream(pool, &input.display(), reader, sink, on_problem),
        Err(_) => {
            let mut det = Detector::new(pool.rules, pool.hostname, pool.options.clone());
            det.process_input(input, sink, on_problem)?;
            Ok(det.stats)
        }
    }
}

/// Records per batch of [`run_stream`], and the most bytes one batch holds (a batch ends at
/// the record that passes either).
const BATCH_RECORDS: usize = 2048;
const BATCH_BYTES: usize = 2 << 20;

/// One batch of a stream's records, copied out of the reader's buffer.
struct Batch {
    data: Vec<u8>,
    items: Vec<Item>,
}

enum Item {
    Record { end: usize, offset: u64 },
    Error(ReadError),
}

/// Reads one stream (a large file, stdin, an S3 object: plain or gzip, any record layout)
/// named `name` with `threads` workers: they take turns splitting off the next batch of
/// records (decompressing as they go) and detect batches in parallel; alerts and problems reach
/// `sink` and `on_problem` in stream order, as one detector would give them. Returns the
/// counts; the only error is a failed alert write.
pub fn run_stream<R: std::io::Read + Send>(
    pool: Pool<'_>,
    name: &str,
    mut reader: RecordReader<R>,
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    let mut finished = false;
    let source = Mutex::new(move || {
        if finished {
            return None;
        }
        let mut b = Batch {
            data: Vec::new(),
            items: Vec::new(),
        };
        while b.items.len() < BATCH_RECORDS && b.data.len() < BATCH_BYTES {
            match reader.next_record() {
                Some(Ok(rec)) => {
                    b.data.extend_from_slice(rec.bytes);
                    b.items.push(Item::Record {
                        end: b.data.len(),
                        offset: rec.offset,
                    });
                }
                Some(Err(e)) => b.items.push(Item::Error(e)),
                None => {
                    finished = true;
                    break;
                }
            }
        }
        (!b.items.is_empty()).then_some(b)
    });
    let mut stats = run_units(
        Pool {
            threads: pool.threads.max(1),
            ..pool
        },
        &source,
        &|det: &mut Detector<'_>, b: Batch, buf, problems| {
            let mut start = 0;
            for item in b.items {
                match item {
                    Item::Record { end, offset } => {
                        let _ =
                            det.process_record(&b.data[start..end], offset, name, buf, problems);
                        start = end;
                    }
                    Item::Error(e) => det.read_error(e, name, problems),
                }
            }
        },
        &|_| name.to_string(),
        sink,
        on_problem,
    )?;
    stats.inputs += 1;
    Ok(stats)
}

/// Detects units of any kind, handed out in order by `next` (S3 objects as a backfill
/// downloads them, say), with the pool's workers: `work` reads one unit into a worker's
/// detector; alerts and problems reach `sink` and `on_problem` in unit order. `name` names a
/// unit (by position) that a stopped worker left unread.
pub fn run_ordered<U: Send>(
    pool: Pool<'_>,
    next: impl FnMut() -> Option<U> + Send,
    work: &Work<'_, U>,
    name: &(dyn Fn(usize) -> String + Sync),
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    run_units(
        Pool {
            threads: pool.threads.max(1),
            ..pool
        },
        &Mutex::new(next),
        work,
        name,
        sink,
        on_problem,
    )
}

/// The shared core: `threads` workers take units from `source` (called under its lock, in
/// order) and `work` them into buffers, which this thread hands on in unit order. `name` names
/// the unit a stopped worker left unread.
fn run_units<U: Send>(
    pool: Pool<'_>,
    source: &Mutex<impl FnMut() -> Option<U> + Send>,
    work: &Work<'_, U>,
    name: &(dyn Fn(usize) -> String + Sync),
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    let Pool {
        rules,
        hostname,
        options,
        threads,
    } = pool;
    let ahead = threads * 4;
    // The number of units taken so far (the next unit's position); read and moved under the
    // source's lock.
    let taken = AtomicUsize::new(0);
    // How many units the caller's thread has handed on; workers wait to stay within `ahead`.
    let emitted = (Mutex::new(0usize), Condvar::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let exhausted = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    // Alerts dropped as repeated stages, by priority, and how many.
    let mut repeats = [0u64; 8];
    let mut repeated = 0u64;
    let worker_stats: Mutex<Vec<Stats>> = Mutex::new(Vec::new());
    let result = std::thread::scope(|s| -> Result<(), SinkError> {
        for _ in 0..threads {
            let tx = tx.clone();
            let (taken, emitted, stop, exhausted, worker_stats) =
                (&taken, &emitted, &stop, &exhausted, &worker_stats);
            s.spawn(move || {
                // A worker that panics stops the others (its unit never comes) and wakes them.
                struct OnPanic<'a>(
                    &'a std::sync::atomic::AtomicBool,
                    &'a (Mutex<usize>, Condvar),
                );
                impl Drop for OnPanic<'_> {
                    fn drop(&mut self) {
                        if std::thread::panicking() {
                            let _g = self.1 .0.lock().unwrap_or_else(|p| p.into_inner());
                            self.0.store(true, Ordering::SeqCst);
                            self.1 .1.notify_all();
                        }
                    }
                }
                let _guard = OnPanic(stop, emitted);
                let mut det = Detector::new(
                    rules,
                    hostname,
                    Options {
                        k8s_stages_left_to_caller: true,
                        ..options.clone()
                    },
                );
                loop {
                    let (i, unit) = {
                        let mut next = source.lock().unwrap_or_else(|p| p.into_inner());
                        if exhausted.load(Ordering::SeqCst) {
                            break;
                        }
                        let i = taken.load(Ordering::SeqCst);
                        {
                            let (m, cv) = emitted;
                            let mut done = m.lock().unwrap_or_else(|p| p.into_inner());
                            while i >= *done + ahead && !stop.load(Ordering::Relaxed) {
                                done = cv.wait(done).unwrap_or_else(|p| p.into_inner());
                            }
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match next() {
                            Some(u) => {
                                taken.store(i + 1, Ordering::SeqCst);
                                (i, u)
                            }
                            None => {
                                exhausted.store(true, Ordering::SeqCst);
                                break;
                            }
                        }
                    };
                    let mut buf = Buffer(Vec::new());
                    let mut problems = Vec::new();
                    work(&mut det, unit, &mut buf, &mut |p| problems.push(p));
                    if tx
                        .send((
                            i,
                            Done {
                                alerts: buf.0,
                                problems,
                            },
                        ))
                        .is_err()
                    {
                        break;
                    }
                }
                worker_stats
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(det.stats);
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Done> = BTreeMap::new();
        let mut seen = RecentKeys::<(String, String)>::new(K8S_STAGE_MEMORY);
        let mut want = 0usize;
        let mut out = || -> Result<(), SinkError> {
            for (i, d) in rx.iter() {
                waiting.insert(i, d);
                while let Some(d) = waiting.remove(&want) {
                    for a in &d.alerts {
                        if a.source == "k8s_audit" {
                            if let Some(id) = a.event_id.as_deref() {
                                if !seen.insert_key((a.rule.clone(), id.to_string())) {
                                    repeats[a.priority as usize] += 1;
                                    repeated += 1;
                                    continue;
                                }
                            }
                        }
                        sink.send(&a.as_alert())?;
                    }
                    for p in d.problems {
                        on_problem(p);
                    }
                    want += 1;
                    let (m, cv) = &emitted;
                    *m.lock().unwrap_or_else(|p| p.into_inner()) = want;
                    cv.notify_all();
                }
            }
            Ok(())
        };
        let mut r = out();
        if r.is_ok() && want < taken.load(Ordering::SeqCst) {
            r = Err(SinkError {
                output: "detect".into(),
                source: std::io::Error::other(format!(
                    "a reading thread stopped before {} was read",
                    name(want)
                )),
            });
        }
        if r.is_err() {
            // Let the workers finish the unit they hold and stop (set under the lock they
            // wait with, so none misses it).
            let _g = emitted.0.lock().unwrap_or_else(|p| p.into_inner());
            stop.store(true, Ordering::SeqCst);
            emitted.1.notify_all();
        }
        r
    });
    // The workers' counts, less the repeats found above.
    let mut stats = Stats::default();
    for w in worker_stats.into_inner().unwrap_or_else(|p| p.into_inner()) {
        stats.merge(&w);
    }
    for (a, d) in stats.alerts.iter_mut().zip(repeats) {
        *a = a.saturating_sub(d);
    }
    stats.k8s_repeated_stages += repeated;
    result.map(|_| stats)
}
