//! Continuous posture over several workers sharing a PostgreSQL store: one account, one
//! watcher.
//!
//! Every worker with `posture:` queues the configuration changes its CloudTrail sources read
//! in the store (`PostureHistory::queue_change`). The worker holding the posture lease
//! ([`TASK`], a cursor in the store's `deliveries` like the incident correlation's, renewed
//! while it lives and taken over 10 s after it dies) is the one that scans: it reads every
//! worker's queued changes after its cursor, re-checks them as one process would (settling a
//! burst into one re-read per area), stores the alerts and the history record, and only then
//! moves its cursor. So N workers make one full scan per period and one alert per verdict that
//! moved, whichever worker read the change.
//!
//! A worker taking the lease (at start, or after its holder died) scans the account and
//! compares the result with the last evaluation any worker recorded in the shared history,
//! naming the changes queued since the cursor: what moved while nobody watched is alerted,
//! what the previous holder already alerted is not. That scan is recorded as a re-check of
//! the last one (the first ever is the baseline).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use harrier_alerts::store::{AlertStore, StoreError};
use harrier_posture::history::PostureHistory;
use harrier_posture::Status;

use super::{diff, settled, Baseline, Change, Out, Verdicts, Watch, MAX_PENDING};

/// The posture watcher's name among the store's cursors (its position in the queue of
/// changes).
pub const TASK: &str = "~posture";

/// Changes read from the queue at a time.
const PAGE: u32 = 500;

/// How often a worker checks (and renews) the lease and reads the queue.
const TICK: Duration = Duration::from_secs(1);

/// What the lease holder keeps.
struct Held {
    base: Baseline,
    /// The queue position read up to.
    read: i64,
    /// The queue position committed (its changes re-checked and their alerts stored).
    committed: i64,
}

/// Opens a connection to the shared store, for the lease.
pub type OpenLease<'a> = &'a (dyn Fn() -> Result<Box<dyn AlertStore>, StoreError> + Sync);

/// Runs until `stop` (see the module's documentation).
pub(super) fn run(
    w: &Watch,
    rx: Receiver<Change>,
    emit: &mut dyn FnMut(&[Out]) -> Result<(), String>,
    stop: &AtomicBool,
    open_lease: OpenLease<'_>,
) -> Result<(), String> {
    let mut history: Option<Box<dyn PostureHistory>> = None;
    // The connection holding (or trying for) the lease; dropped to release it.
    let mut lease: Option<Box<dyn AlertStore>> = None;
    let mut outbox: VecDeque<String> = VecDeque::new();
    let mut held: Option<Held> = None;
    let mut pending: Vec<Change> = Vec::new();
    let mut next_tick = Instant::now();
    // A worker whose scan failed stays out of the race until then (another may scan).
    let mut next_scan = Instant::now();
    let mut backoff = Duration::from_secs(5);
    while !stop.load(Ordering::Relaxed) {
        // This worker's changes, for whichever worker watches.
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => outbox.push_back(c.to_json()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while let Ok(c) = rx.try_recv() {
            outbox.push_back(c.to_json());
        }
        if outbox.len() > MAX_PENDING {
            let dropped = outbox.len() - MAX_PENDING;
            outbox.drain(..dropped);
            tracing::warn!(
                dropped,
                "posture: changes not queued (the store is unreachable); the next full scan sees them"
            );
        }
        queue(w, &mut history, &mut outbox);
        if Instant::now() < next_tick {
            continue;
        }
        next_tick = Instant::now() + TICK;
        if lease.is_none() {
            if Instant::now() < next_scan {
                continue;
            }
            match open_lease().and_then(|l| l.register_output(TASK, true).map(|()| l)) {
                Ok(l) => lease = Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "posture: cannot reach the watcher's lease");
                    continue;
                }
            }
        }
        let Some(l) = lease.as_deref() else { continue };
        let cursor = match l.lease(TASK) {
            Ok(Some(c)) => c,
            Ok(None) => {
                if held.take().is_some() {
                    tracing::info!("posture: another worker watches now");
                }
                pending.clear();
                continue;
            }
            Err(e) => {
                // Kept: a moment's outage is not a reason to scan the account again.
                tracing::warn!(error = %e, "posture: cannot check the watcher's lease");
                continue;
            }
        };
        // Taking over (or the cursor moved under another holder meanwhile): scan, and compare
        // with the last evaluation recorded.
        if held.as_ref().is_none_or(|h| h.committed != cursor) {
            pending.clear();
            held = None;
            match take_over(w, &mut history, cursor, emit) {
                Ok(h) => {
                    backoff = Duration::from_secs(5);
                    held = Some(h);
                }
                Err(e) => {
                    // Released, so that a worker able to scan watches meanwhile.
                    tracing::warn!(error = %e, retry_in = ?backoff, "posture: the full scan failed; another worker may watch");
                    lease = None;
                    history = None;
                    next_scan = Instant::now() + backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                    continue;
                }
            }
        }
        let Some(h) = held.as_mut() else { continue };
        // Every worker's changes since the cursor.
        match open(&mut history, w)
            .and_then(|hist| hist.queued_changes(h.read, PAGE).map_err(|e| e.to_string()))
        {
            Ok(page) => {
                for (seq, text) in page {
                    h.read = seq;
                    match Change::from_json(&text) {
                        Some(c) => {
                            h.base.take(w, c, &mut pending);
                        }
                        None => tracing::warn!(
                            position = seq,
                            "posture: a queued change is not one; skipped"
                        ),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "posture: cannot read the queued changes");
                history = None;
            }
        }
        if settled(&pending, w.settle) {
            let batch = std::mem::take(&mut pending);
            if let Some(outs) = w.recheck(&mut h.base, &batch) {
                emit(&outs)?;
                w.record(&h.base.account, &h.base.findings, Some(&outs));
            }
        }
        if let Some(outs) = w.periodic(&mut h.base) {
            emit(&outs)?;
            w.record(&h.base.account, &h.base.findings, None);
        }
        // What is read is re-checked (or not this account's): the cursor follows.
        if pending.is_empty() && h.read > h.committed {
            match l.mark_delivered(TASK, h.read, 0) {
                Ok(()) => h.committed = h.read,
                Err(e) if e.is_lease_lost() => {
                    tracing::info!("posture: another worker watches now");
                    held = None;
                }
                // Tried again at the next tick.
                Err(e) => tracing::warn!(error = %e, "posture: cannot move the watcher's cursor"),
            }
        }
    }
    // What this worker read last is queued before it stops (once: the store may be gone).
    while let Ok(c) = rx.try_recv() {
        outbox.push_back(c.to_json());
    }
    queue(w, &mut history, &mut outbox);
    if !outbox.is_empty() {
        tracing::warn!(
            changes = outbox.len(),
            "posture: changes not queued at stop; the next full scan sees them"
        );
    }
    Ok(())
}

/// Queues `outbox` in the store, oldest first, until one fails (kept for the next call).
fn queue(w: &Watch, history: &mut Option<Box<dyn PostureHistory>>, outbox: &mut VecDeque<String>) {
    while let Some(c) = outbox.front() {
        match open(history, w).and_then(|h| h.queue_change(c).map_err(|e| e.to_string())) {
            Ok(()) => {
                outbox.pop_front();
            }
            Err(e) => {
                tracing::warn!(error = %e, "posture: cannot queue a change; trying again");
                *history = None;
                return;
            }
        }
    }
}

/// Opens the history once (again after a failure).
fn open<'a>(
    history: &'a mut Option<Box<dyn PostureHistory>>,
    w: &Watch,
) -> Result<&'a mut Box<dyn PostureHistory>, String> {
    if history.is_none() {
        *history = Some(w.history.open_history().map_err(|e| e.to_string())?);
    }
    Ok(history.as_mut().expect("just opened"))
}

/// Takes the watch over at queue position `cursor`: a full scan, compared with the last
/// evaluation of the account in the shared history (none: the scan is the baseline), the
/// changes queued since `cursor` naming who made them. Records the scan.
fn take_over(
    w: &Watch,
    history: &mut Option<Box<dyn PostureHistory>>,
    cursor: i64,
    emit: &mut dyn FnMut(&[Out]) -> Result<(), String>,
) -> Result<Held, String> {
    let hist = open(history, w)?;
    let mut queued = Vec::new();
    let mut read = cursor;
    loop {
        let page = hist.queued_changes(read, PAGE).map_err(|e| e.to_string())?;
        let Some(&(last, _)) = page.last() else { break };
        read = last;
        queued.extend(page.iter().filter_map(|(_, t)| Change::from_json(t)));
        if queued.len() >= MAX_PENDING {
            break;
        }
    }
    let (snap, findings) = w.full_scan()?;
    let base = Baseline::new(snap, findings);
    queued.retain(|c| c.account.as_deref().is_none_or(|a| a == base.account));
    let before = last_verdicts(hist.as_ref(), &base.account)?;
    let outs = match &before {
        Some((last, before)) => {
            // Named like the re-check of the same changes by a holder that died before moving
            // its cursor (its first change's id), or after the cursor and the evaluation
            // compared with, so that an alert stored by a holder that died before recording
            // its scan, or by another worker taking over at the same point, is stored once.
            let id = queued
                .first()
                .map(|c| c.event_id.clone())
                .unwrap_or_else(|| format!("takeover-{cursor}-{last}"));
            diff(before, &base.findings, &queued, &base.account, &id)
        }
        None => Vec::new(),
    };
    emit(&outs)?;
    // The watch goes on: compared with a previous evaluation, the scan is recorded as a
    // re-check with what moved, so the changes since the last full scan stay whole.
    w.record(
        &base.account,
        &base.findings,
        before.is_some().then_some(&outs[..]),
    );
    tracing::info!(
        account = %base.account,
        compared = before.is_some(),
        alerts = outs.len(),
        "posture: this worker watches the account now"
    );
    base.announce();
    Ok(Held {
        base,
        read,
        committed: cursor,
    })
}

/// The id and verdicts of the account's last recorded evaluation (any worker's).
fn last_verdicts(
    hist: &dyn PostureHistory,
    account: &str,
) -> Result<Option<(i64, Verdicts)>, String> {
    let Some(last) = hist
        .scans(Some(account), 1)
        .map_err(|e| e.to_string())?
        .pop()
    else {
        return Ok(None);
    };
    let rows = hist.statuses(last.id).map_err(|e| e.to_string())?;
    let mut v = Verdicts::new();
    for (check, region, resource, status) in rows {
        // Verdicts are keyed by the check's static id: a check this build no longer has is
        // not compared.
        let Some(c) = harrier_posture::check(&check) else {
            continue;
        };
        let status = match status.as_str() {
            "fail" => Status::Fail,
            "pass" => Status::Pass,
            _ => Status::Unknown,
        };
        v.insert((c.id, region, resource), (status, String::new()));
    }
    Ok(Some((last.id, v)))
}
