//! Many inputs on every core, with the output of one thread reading them in order.
//!
//! Each worker has its own [`Detector`] and takes the next unread input (a whole file:
//! decompression included), buffering its alerts and problems; the caller's thread hands them
//! on in input order, so alerts reach the sink exactly as a single detector would have written
//! them (the test compares the bytes). The once-per-request rule of Kubernetes audit stages,
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
use harrier_sources::Input;

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

/// Reads `inputs` with `threads` workers into `sink` (and problems to `on_problem`) in input
/// order; returns the counts of the whole run. The only error is a failed alert write.
pub fn run_inputs(
    rules: &RuleSet,
    hostname: &str,
    options: &Options,
    inputs: &[Input],
    threads: usize,
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<Stats, SinkError> {
    let threads = threads.max(1).min(inputs.len().max(1));
    let ahead = threads * 4;
    let next = AtomicUsize::new(0);
    // How many inputs the caller's thread has handed on; workers wait to stay within `ahead`.
    let emitted = (Mutex::new(0usize), Condvar::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Done)>();
    // Alerts dropped as repeated stages, by priority, and how many.
    let mut repeats = [0u64; 8];
    let mut repeated = 0u64;
    let worker_stats: Mutex<Vec<Stats>> = Mutex::new(Vec::new());
    let result = std::thread::scope(|s| -> Result<(), SinkError> {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, emitted, stop, worker_stats) = (&next, &emitted, &stop, &worker_stats);
            s.spawn(move || {
                // A worker that panics stops the others (its input never comes) and wakes them.
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
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= inputs.len() {
                        break;
                    }
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
                    let mut buf = Buffer(Vec::new());
                    let mut problems = Vec::new();
                    // A buffer cannot fail to take an alert.
                    let _ = det.process_input(&inputs[i], &mut buf, &mut |p| problems.push(p));
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
        if r.is_ok() && want < inputs.len() {
            r = Err(SinkError {
                output: "detect".into(),
                source: std::io::Error::other(format!(
                    "a reading thread stopped before {} was read",
                    inputs[want].display()
                )),
            });
        }
        if r.is_err() {
            // Let the workers finish the input they hold and stop (set under the lock they
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
