//! The live pipeline: a [`LiveSource`]'s deliveries through the rules into the alert store,
//! acknowledged only once their alerts are committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harrier_alerts::store::StoreSink;
use harrier_sources::live::LiveSource;

use crate::{Detector, Problem};

/// Runs `source` until `stop` is set, then returns after the deliveries already received are
/// finished (processed, committed, acknowledged). Problems in the input go to `on_problem`.
pub fn run_source(
    detector: &mut Detector<'_>,
    source: &mut dyn LiveSource,
    sink: &mut StoreSink,
    stop: &AtomicBool,
    on_problem: &mut dyn FnMut(Problem),
    on_progress: &mut dyn FnMut(&Detector<'_>, &mut StoreSink),
) {
    let mut backoff = Duration::from_millis(500);
    while !stop.load(Ordering::Relaxed) {
        let deliveries = match source.poll() {
            Ok(d) => {
                backoff = Duration::from_millis(500);
                d
            }
            Err(e) => {
                tracing::warn!(error = %e, "source failed; retrying");
                sleep_unless_stopped(backoff, stop);
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        for d in deliveries {
            process_delivery(detector, source, sink, d, on_problem);
        }
        on_progress(detector, sink);
    }
}

/// Evaluates one delivery, commits its alerts and checkpoint, then acknowledges it (or releases
/// it when the commit failed). Returns whether it was acknowledged.
pub fn process_delivery(
    detector: &mut Detector<'_>,
    source: &mut dyn LiveSource,
    sink: &mut StoreSink,
    d: harrier_sources::live::Delivery,
    on_problem: &mut dyn FnMut(Problem),
) -> bool {
    for u in d.units {
        // A store sink only collects on send: this cannot fail before the commit.
        let _ = detector.process_stream(&u.name, std::io::Cursor::new(u.data), sink, on_problem);
    }
    if let Some((k, v)) = &d.checkpoint {
        sink.set_checkpoint(k, v);
    }
    sink.save_baselines(detector.take_baseline_changes());
    match sink.commit() {
        Ok(_) => match source.ack(&d.id) {
            Ok(()) => true,
            Err(e) => {
                // The alerts are stored; the input comes back and its alerts are recognised.
                tracing::warn!(error = %e, "cannot acknowledge a delivery; it will be read again");
                false
            }
        },
        Err(e) => {
            tracing::error!(error = %e, "cannot store alerts; the delivery is released to be read again");
            source.release(&d.id);
            false
        }
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(100);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}
