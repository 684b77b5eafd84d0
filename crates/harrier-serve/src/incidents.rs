//! Incidents in the service, correlated one of two ways:
//!
//! - **here** ([`Linking::Here`]), with the embedded store: one correlator in memory for every
//!   source of this process, its incidents written to the store every second
//!   ([`write_incidents`]);
//! - **through the store** ([`Linking::Store`]), when several workers share a PostgreSQL
//!   store: each alert is stored with its event's entities, and the one worker holding the
//!   correlation's lease ([`TASK`]) reads alerts in store order after its cursor, correlates
//!   them, and stores the incidents they changed, their "Incident Opened/Escalated" notices
//!   and its new cursor in one transaction that checks it still holds the lease
//!   ([`run_store_correlation`]). A worker that lost the lease (paused past it) writes
//!   nothing; one whose cursor moved under another holder rebuilds first. The notices have
//!   deterministic ids and incidents are written whole, so work redone after a failure or a
//!   takeover stores nothing twice. A worker that takes the lease over (its holder stopped or
//!   died) first replays the alerts the incidents still open were built from, so it goes on
//!   with the same incidents, under the same ids. So one attacker's events read by three
//!   workers are one incident, as with one worker.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harrier_alerts::outputs::Wake;
use harrier_alerts::store::{AlertStore, CorrelationStep, LinkedAlert, StoreSink, Throttle};
use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_incidents::incident::AlertEntry;
use harrier_incidents::{Correlator, Entity, Notice};

use crate::metrics::CorrelationMetrics;

/// The correlation's name among the store's delivery cursors (the configuration refuses output
/// names starting with `~`).
pub const TASK: &str = "~incidents";

/// How many alerts the correlating worker reads at a time.
const PAGE: u32 = 500;

/// How alerts with entities reach the correlator.
pub enum Linking {
    /// One correlator in this process.
    Here(Arc<Mutex<Correlator>>),
    /// Stored with their entities, for the worker correlating through the store.
    Store,
}

impl Linking {
    /// Sends `alert` to `sink` and correlates it with `entities`.
    pub fn send(
        &self,
        sink: &mut StoreSink,
        alert: &Alert<'_>,
        entities: &[Entity],
    ) -> Result<(), SinkError> {
        match self {
            Linking::Here(c) => {
                sink.send(alert)?;
                let entry = AlertEntry::from_alert(alert);
                c.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .observe_entry(entry, entities.to_vec());
                Ok(())
            }
            Linking::Store => sink.send_linked(alert, &harrier_incidents::entity::encode(entities)),
        }
    }
}

/// Stores the incidents that changed, every second, until `stop` (then once more). One that
/// cannot be written (the store busy or down for a moment) is tried again each second until
/// it is, unless a newer state of it came meanwhile.
pub fn write_incidents(
    correlator: &Mutex<Correlator>,
    mut store: Box<dyn AlertStore>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut unwritten: BTreeMap<String, harrier_alerts::store::StoredIncident> = BTreeMap::new();
    loop {
        let last = stop.load(Ordering::Relaxed);
        let changed = correlator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_changed();
        for i in changed {
            unwritten.insert(i.id.clone(), i.to_stored());
        }
        unwritten.retain(|id, i| match store.put_incident(i) {
            Ok(()) => false,
            Err(e) => {
                tracing::warn!(incident = %id, error = %e, "cannot store an incident; trying again");
                true
            }
        });
        if last {
            // Said, not dropped: the service stops with this failure.
            return match unwritten.len() {
                0 => Ok(()),
                n => Err(format!("{n} incident(s) could not be stored at stop")),
            };
        }
        pause(stop, Duration::from_secs(1));
    }
}

/// Sleeps `d` in steps that notice `stop`.
fn pause(stop: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(left));
        left = left.saturating_sub(step);
    }
}

/// What the correlation through the store needs.
pub struct StoreCorrelation<'a> {
    /// Correlation settings (the window).
    pub options: harrier_incidents::Options,
    /// Raise "Incident Opened/Escalated" alerts.
    pub notices: bool,
    /// The service's throttling, for the notices.
    pub throttle: Throttle,
    /// This worker's host name, for the notices.
    pub hostname: &'a str,
    /// Told when notices were stored, so outputs deliver them at once.
    pub wake: &'a Wake,
    /// This worker's share of the correlation, for `/metrics`.
    pub metrics: &'a CorrelationMetrics,
}

/// Correlates through the shared store while this worker holds the lease, until `stop`;
/// then a last time, up to [`LAST_PAGES`] pages (the caller sets `stop` after its sources
/// stopped, so what they stored is correlated before the outputs' last pass). A failed step
/// (the database restarting, the lease lost) drops what was built in memory: the next step
/// rebuilds it from the store. A last pass that fails is the service's failure.
pub fn run_store_correlation(
    mut store: Box<dyn AlertStore>,
    cfg: &StoreCorrelation<'_>,
    stop: &AtomicBool,
) -> Result<(), String> {
    while let Err(e) = store.register_output(TASK, true) {
        tracing::warn!(error = %e, "cannot register the incident correlation; trying again");
        if stop.load(Ordering::Relaxed) {
            return Err(format!("the incident correlation could not start: {e}"));
        }
        pause(stop, Duration::from_secs(1));
    }
    let mut held: Option<Held> = None;
    let mut failures = 0u32;
    let mut last_pages = 0;
    loop {
        let last = stop.load(Ordering::Relaxed);
        let more = match step(store.as_mut(), &mut held, cfg) {
            Ok(more) => {
                failures = 0;
                more
            }
            Err(e) => {
                // Rebuilt from the store by the next step: nothing half-applied survives.
                held = None;
                failures += 1;
                cfg.metrics.failures.fetch_add(1, Ordering::Relaxed);
                if last {
                    return Err(format!("the last incident correlation step failed: {e}"));
                }
                if e.is_lease_lost() {
                    tracing::info!("another worker took the incident correlation over");
                } else {
                    tracing::warn!(error = %e, failures, "incident correlation failed; trying again");
                }
                false
            }
        };
        if last {
            last_pages += 1;
            if !more || last_pages >= LAST_PAGES {
                // The lease goes with the store, dropped here.
                cfg.metrics.held.store(0, Ordering::Relaxed);
                return Ok(());
            }
            continue;
        }
        if !more {
            let wait = Duration::from_millis(250 << failures.min(4));
            pause(stop, wait);
        }
    }
}

/// How many pages a stopping worker still correlates (what is left goes to the next holder).
const LAST_PAGES: u32 = 20;

/// What the lease holder built: the correlator, and the cursor it is at.
struct Held {
    correlator: Correlator,
    cursor: i64,
}

/// One step: take or renew the lease, rebuild after a takeover, correlate a page and commit
/// it (notices, incidents, cursor: one transaction, under the lease). True when a full page
/// was read (more may be waiting).
fn step(
    store: &mut dyn AlertStore,
    held: &mut Option<Held>,
    cfg: &StoreCorrelation<'_>,
) -> Result<bool, harrier_alerts::store::StoreError> {
    let m = cfg.metrics;
    let Some(cursor) = store.lease(TASK)? else {
        // Another worker correlates; what this one built is stale by now.
        *held = None;
        m.held.store(0, Ordering::Relaxed);
        return Ok(false);
    };
    m.held.store(1, Ordering::Relaxed);
    // Built here up to another cursor: another worker held the lease meanwhile.
    if held.as_ref().is_some_and(|h| h.cursor != cursor) {
        *held = None;
    }
    let h = match held {
        Some(h) => h,
        None => {
            let (correlator, replayed) = rebuild(store, cursor, cfg.options)?;
            m.rebuilds.fetch_add(1, Ordering::Relaxed);
            m.replayed.fetch_add(replayed, Ordering::Relaxed);
            held.insert(Held { correlator, cursor })
        }
    };
    let page = store.linked(cursor, i64::MAX, i64::MIN, PAGE)?;
    let Some(end) = page.last().map(|a| a.alert.seq) else {
        return Ok(false);
    };
    let mut notices = Vec::new();
    for a in &page {
        if let Some((notice, by)) = observe(&mut h.correlator, a) {
            if cfg.notices {
                notices.push(notice.to_alert(&by, cfg.hostname));
            }
        }
    }
    let incidents: Vec<_> = h
        .correlator
        .take_changed()
        .iter()
        .map(|i| i.to_stored())
        .collect();
    let done = store.commit_correlation(&CorrelationStep {
        task: TASK,
        seq: end,
        count: page.len() as u64,
        notices: &notices,
        throttle: &cfg.throttle,
        incidents: &incidents,
    })?;
    h.cursor = end;
    m.steps.fetch_add(1, Ordering::Relaxed);
    let correlated = page
        .iter()
        .filter(|a| !is_notice(a) && a.entities.is_some())
        .count();
    m.alerts.fetch_add(correlated as u64, Ordering::Relaxed);
    // Stored ones: a notice already stored (a step redone) or throttled is not counted.
    m.notices.fetch_add(done.new, Ordering::Relaxed);
    m.cursor.store(end.max(0) as u64, Ordering::Relaxed);
    if !notices.is_empty() {
        cfg.wake.notify();
    }
    Ok(page.len() == PAGE as usize)
}

/// A correlator with the incidents still open at `cursor`, rebuilt from the alerts they were
/// made of (their notices and incidents are stored already), and how many alerts it replayed.
fn rebuild(
    store: &dyn AlertStore,
    cursor: i64,
    opts: harrier_incidents::Options,
) -> Result<(Correlator, u64), harrier_alerts::store::StoreError> {
    let mut c = Correlator::new(harrier_incidents::Options {
        forget_closed: true,
        ..opts
    });
    let from = store.replay_from(cursor, opts.window_ns)?;
    let mut after = from.after;
    let mut replayed = 0u64;
    loop {
        let page = store.linked(after, cursor, from.since_ns, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.alert.seq;
        for a in &page {
            let _ = observe(&mut c, a);
            replayed += u64::from(!is_notice(a));
        }
    }
    let _ = c.take_changed();
    tracing::info!(
        cursor,
        replayed,
        "this worker correlates the incidents now (the open ones rebuilt)"
    );
    Ok((c, replayed))
}

/// Correlates one stored alert; its notice, if it made one, with the alert's entry. Notices
/// themselves and alerts raised without entities are not correlated (as in one process); an
/// alert whose stored form cannot be read is said and skipped.
fn observe(c: &mut Correlator, a: &LinkedAlert) -> Option<(Notice, AlertEntry)> {
    if is_notice(a) {
        return None;
    }
    let stored = a.entities.as_deref()?;
    let entities = match harrier_incidents::entity::decode(stored) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(alert = %a.alert.id, problem = %e, "alert not correlated");
            return None;
        }
    };
    let entry = match AlertEntry::from_stored(&a.alert) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(problem = %e, "alert not correlated");
            return None;
        }
    };
    let by = entry.clone();
    c.observe_entry(entry, entities).map(|n| (n, by))
}

/// An "Incident Opened/Escalated" alert (which is not correlated).
fn is_notice(a: &LinkedAlert) -> bool {
    a.alert.source == "incident"
}
