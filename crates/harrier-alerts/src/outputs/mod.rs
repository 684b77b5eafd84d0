//! Outputs: where stored alerts are delivered.
//!
//! Every output runs on its own thread ([`run_output`]) and reads the alert store from its own
//! cursor, so a slow or dead output falls behind without holding up the others or the sources;
//! its queue is the store itself, bounded by disk, and nothing is lost when the process stops:
//! delivery resumes from the cursor. A failed delivery is retried with exponential backoff;
//! failures are counted ([`OutputStats`]) and the last error is kept in the store
//! (`harrier alerts outputs`). Delivery is at least once; alert ids let receivers drop repeats.

#[cfg(feature = "aws")]
pub mod aws;
mod file;
mod formats;
mod http;
mod route;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use file::{FileOutput, FileShape, Rotation};
pub use formats::{asff_finding, ocsf_detection_finding, slack_message, AlertView};
pub use http::{SlackOutput, WebhookOutput};
pub use route::{Route, ACCOUNT_FIELDS, NAMESPACE_FIELDS};

use crate::store::{AlertStore, StoredAlert};

/// What one delivery attempt achieved: the first `delivered` alerts of the batch went out; when
/// `error` is set, the rest did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Alerts delivered, from the start of the batch.
    pub delivered: usize,
    /// Why the rest was not.
    pub error: Option<String>,
}

impl Attempt {
    /// Everything delivered.
    pub fn all(n: usize) -> Attempt {
        Attempt {
            delivered: n,
            error: None,
        }
    }

    /// `delivered` went out, then `error`.
    pub fn partial(delivered: usize, error: impl Into<String>) -> Attempt {
        Attempt {
            delivered,
            error: Some(error.into()),
        }
    }
}

/// An alert destination.
pub trait Output: Send {
    /// Unique name (the store keys the cursor by it).
    fn name(&self) -> &str;
    /// Delivers `batch`, oldest first, stopping at the first failure.
    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt;
    /// Largest batch handed to [`Output::deliver`].
    fn max_batch(&self) -> usize {
        100
    }
    /// Which alerts it receives (`None`: all). [`run_output`] passes over the others: they
    /// are never handed to [`Output::deliver`], and the cursor moves past them.
    fn route(&self) -> Option<&Route> {
        None
    }
}

/// An output with a [`Route`]: only the alerts the route admits reach it.
pub struct Routed {
    inner: Box<dyn Output>,
    route: Route,
}

impl Routed {
    /// `inner`, sent only what `route` admits (an all-admitting route adds no work).
    pub fn wrap(inner: Box<dyn Output>, route: Route) -> Box<dyn Output> {
        if route.is_all() {
            inner
        } else {
            Box::new(Routed { inner, route })
        }
    }
}

impl Output for Routed {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        self.inner.deliver(batch)
    }
    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }
    fn route(&self) -> Option<&Route> {
        Some(&self.route)
    }
}

/// Counters of one output, read by metrics.
#[derive(Debug, Default)]
pub struct OutputStats {
    /// Alerts delivered.
    pub delivered: AtomicU64,
    /// Failed attempts.
    pub failures: AtomicU64,
    /// Alerts stored but not yet delivered, at the last look.
    pub behind: AtomicU64,
    /// The last error.
    pub last_error: Mutex<Option<String>>,
}

/// How an output is driven.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Pause when there is nothing to deliver.
    pub idle: Duration,
    /// First retry delay; doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// After stop, keep delivering for at most this long.
    pub drain: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            idle: Duration::from_millis(200),
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            drain: Duration::from_secs(10),
        }
    }
}

/// Wakes idle outputs when new alerts are committed (within this process; alerts written by
/// other processes are found at the next idle poll).
#[derive(Debug, Default)]
pub struct Wake {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wake {
    /// New alerts were committed.
    pub fn notify(&self) {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.cv.notify_all();
    }

    /// Waits for a notification after `seen`, or `timeout`; returns the generation now.
    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        let g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        if *g != seen {
            return *g;
        }
        let (g, _) = self
            .cv
            .wait_timeout(g, timeout)
            .unwrap_or_else(|p| p.into_inner());
        *g
    }

    fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Delivers from `store` to `output` until `stop` is set and everything is delivered (or the
/// drain time is over).
pub fn run_output(
    store: impl AlertStore,
    mut output: Box<dyn Output>,
    stats: Arc<OutputStats>,
    stop: &AtomicBool,
    wake: &Wake,
    opts: DriveOptions,
) {
    let name = output.name().to_string();
    let mut seen = wake.current();
    let mut backoff = opts.backoff;
    let mut stopping_since: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) && stopping_since.is_none() {
            stopping_since = Some(Instant::now());
        }
        if stopping_since.is_some_and(|t| t.elapsed() >= opts.drain) {
            return;
        }
        let batch = match store.pending(&name, output.max_batch() as u32) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(output = %name, error = %e, "cannot read the alert store");
                pause(
                    opts.max_backoff.min(Duration::from_secs(5)),
                    stop,
                    stopping_since.is_some(),
                );
                continue;
            }
        };
        if let (Ok(last), Some(b)) = (store.last_seq(), batch.first()) {
            stats
                .behind
                .store((last - b.seq + 1).max(0) as u64, Ordering::Relaxed);
        }
        if batch.is_empty() {
            stats.behind.store(0, Ordering::Relaxed);
            if stopping_since.is_some() {
                return;
            }
            seen = wake.wait(seen, opts.idle);
            continue;
        }
        // With a route, only the admitted alerts are sent; `positions` maps them back.
        let routed: Option<(Vec<StoredAlert>, Vec<usize>)> = output.route().map(|r| {
            let positions: Vec<usize> = (0..batch.len()).filter(|&i| r.admits(&batch[i])).collect();
            (
                positions.iter().map(|&i| batch[i].clone()).collect(),
                positions,
            )
        });
        let (to_send, positions) = match &routed {
            Some((sel, pos)) => (&sel[..], Some(&pos[..])),
            None => (&batch[..], None),
        };
        let a = if to_send.is_empty() {
            Attempt::all(0)
        } else {
            output.deliver(to_send)
        };
        let sent = a.delivered.min(to_send.len());
        // The cursor may move past everything before the first alert not sent.
        let advance = match positions {
            Some(p) if sent < p.len() => p[sent],
            Some(_) => batch.len(),
            None => sent,
        };
        if advance > 0 {
            let last = &batch[advance - 1];
            // The store may be down for a moment (a restarted server): recording the delivery
            // is tried again for a while, since giving up means delivering the batch again.
            let mut tries = 0;
            while let Err(e) = store.mark_delivered(&name, last.seq, sent as u64) {
                tries += 1;
                if tries >= 20 || e.is_lease_lost() {
                    tracing::error!(output = %name, error = %e, "cannot record a delivery (it will be repeated)");
                    break;
                }
                tracing::warn!(output = %name, error = %e, "cannot record a delivery yet; trying again");
                pause(Duration::from_millis(500), stop, true);
            }
            stats.delivered.fetch_add(sent as u64, Ordering::Relaxed);
        }
        match a.error {
            None => backoff = opts.backoff,
            Some(err) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(output = %name, error = %err, retry_in = ?backoff, "delivery failed");
                let _ = store.record_failure(&name, &err);
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
                pause(backoff, stop, stopping_since.is_some());
                backoff = (backoff * 2).min(opts.max_backoff);
            }
        }
    }
}

/// Sleeps `d`, in small steps so a stop is noticed (unless already stopping: then the pause is
/// part of the drain).
fn pause(d: Duration, stop: &AtomicBool, stopping: bool) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && (stopping || !stop.load(Ordering::Relaxed)) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

/// Writes alerts to standard output, one per line (JSON, or Falco-style text).
pub struct StdoutOutput {
    name: String,
    json: bool,
}

impl StdoutOutput {
    /// Text or JSON lines; `name` keys its delivery cursor (two stdout outputs with different
    /// names each get every alert).
    pub fn new(name: &str, json: bool) -> Self {
        StdoutOutput {
            name: name.to_string(),
            json,
        }
    }
}

impl Output for StdoutOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        use std::io::Write;
        let mut out = String::new();
        for a in batch {
            if self.json {
                out.push_str(&a.json);
            } else {
                let v = AlertView::parse(a);
                out.push_str(&format!("{}: {} {}", v.time, a.priority, v.output));
            }
            out.push('\n');
        }
        let mut so = std::io::stdout().lock();
        match so.write_all(out.as_bytes()).and_then(|_| so.flush()) {
            Ok(()) => Attempt::all(batch.len()),
            Err(e) => Attempt::partial(0, format!("stdout: {e}")),
        }
    }
}
