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
        // A store sink only collects on send; what can fail here is a CloudTrail tap (a push
        // that could not be recorded): then nothing of this delivery is committed or
        // acknowledged, and it comes back.
        if let Err(e) =
            detector.process_stream(&u.name, std::io::Cursor::new(u.data), sink, on_problem)
        {
            tracing::error!(error = %e, "cannot record what a delivery holds; it is released to be read again");
            sink.discard();
            source.release(&d.id);
            return false;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use harrier_sources::live::{Delivery, SourceError, SourceStats, Unit};

    #[derive(Default)]
    struct Fake {
        acked: Vec<String>,
        released: Vec<String>,
    }

    impl LiveSource for Fake {
        fn name(&self) -> &str {
            "fake"
        }
        fn poll(&mut self) -> Result<Vec<Delivery>, SourceError> {
            Ok(Vec::new())
        }
        fn ack(&mut self, id: &str) -> Result<(), SourceError> {
            self.acked.push(id.into());
            Ok(())
        }
        fn release(&mut self, id: &str) {
            self.released.push(id.into());
        }
        fn stats(&self) -> std::sync::Arc<SourceStats> {
            Default::default()
        }
    }

    fn delivery(id: &str) -> Delivery {
        Delivery {
            id: id.into(),
            units: vec![Unit {
                name: "s3://b/k".into(),
                data: br#"{"Records":[{"eventVersion":"1.09","eventSource":"ecr.amazonaws.com","eventName":"PutImage","eventTime":"2026-11-20T10:00:00Z","awsRegion":"us-east-1","eventID":"e1"}]}"#.to_vec(),
            }],
            checkpoint: Some(("k".into(), "v".into())),
        }
    }

    #[test]
    fn a_tap_that_cannot_record_keeps_the_delivery_unacknowledged() {
        let rules = harrier_rules::RuleSet::default();
        let d = tempfile::tempdir().unwrap();
        let store = harrier_alerts::store::Store::open(&d.path().join("a.db")).unwrap();
        let mut sink = StoreSink::new(store, Default::default());
        let mut src = Fake::default();
        let mut det = Detector::new(&rules, "h", crate::Options::default());
        det.set_cloudtrail_tap(Box::new(|name, _| {
            if name == "PutImage" {
                Err("the image queue is full".into())
            } else {
                Ok(())
            }
        }));
        assert!(!process_delivery(
            &mut det,
            &mut src,
            &mut sink,
            delivery("d1"),
            &mut |_| {}
        ));
        assert_eq!(
            (src.acked.len(), src.released.as_slice()),
            (0, &["d1".to_string()][..])
        );
        assert_eq!(
            sink.store().checkpoint("k").unwrap(),
            None,
            "nothing committed"
        );
        // The near miss: a tap that records acknowledges as before.
        det.set_cloudtrail_tap(Box::new(|_, _| Ok(())));
        assert!(process_delivery(
            &mut det,
            &mut src,
            &mut sink,
            delivery("d2"),
            &mut |_| {}
        ));
        assert_eq!(src.acked, ["d2"]);
    }
}
