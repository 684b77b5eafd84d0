//! Prometheus metrics of `harrier serve --config`: what each source read, stored and
//! acknowledged, what each output delivered, and the alerts raised per rule.
//!
//! Every family is one row of a table ([`SOURCE_FAMILIES`], [`OUTPUT_FAMILIES`]) naming the
//! metric, its help, its type and where its value comes from, so adding a metric is one line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use harrier_alerts::outputs::OutputStats;
use harrier_sources::live::SourceStats;
use tiny_http::{Header, Method, Request, Response};

/// What one source thread reports.
#[derive(Default)]
pub struct SourceMetrics {
    /// The source's name (`sqs://...`, `k8s_audit://addr`, `sensor`).
    pub name: String,
    /// The live source's own counters (SQS, CloudWatch Logs).
    pub stats: Option<Arc<SourceStats>>,
    /// Records read and evaluated.
    pub events: AtomicU64,
    /// Records skipped as bad input.
    pub bad_records: AtomicU64,
    /// Alerts committed as new.
    pub stored_new: AtomicU64,
    /// Alerts already in the store.
    pub stored_duplicate: AtomicU64,
    /// Alerts stored as suppressed.
    pub stored_suppressed: AtomicU64,
}

/// Everything `/metrics` shows.
#[derive(Default)]
pub struct Metrics {
    /// Every source.
    pub sources: Vec<Arc<SourceMetrics>>,
    /// Every output, by name.
    pub outputs: Vec<(String, Arc<OutputStats>)>,
    /// Alerts raised, by (rule, priority), summed over sources.
    pub alerts: Mutex<BTreeMap<(String, String), u64>>,
    /// The image scanner and the admission webhook, when configured.
    pub images: Option<Arc<ImageMetrics>>,
    /// Continuous posture, when configured.
    pub posture: Option<Arc<crate::posture::PostureMetrics>>,
    /// The incident correlation through a shared store, when configured.
    pub correlation: Option<Arc<CorrelationMetrics>>,
}

/// What this worker's part of the incident correlation through the store reports.
#[derive(Default)]
pub struct CorrelationMetrics {
    /// 1 while this worker holds the correlation's lease, else 0.
    pub held: AtomicU64,
    /// Steps committed by this worker.
    pub steps: AtomicU64,
    /// Alerts (with entities) this worker correlated.
    pub alerts: AtomicU64,
    /// "Incident Opened/Escalated" notices this worker stored (new, not throttled).
    pub notices: AtomicU64,
    /// Times this worker took the correlation over and rebuilt the open incidents.
    pub rebuilds: AtomicU64,
    /// Alerts replayed by those rebuilds.
    pub replayed: AtomicU64,
    /// Failed steps (the store down, the lease lost).
    pub failures: AtomicU64,
    /// The store position this worker's correlation reached last.
    pub cursor: AtomicU64,
}

/// The correlation families (no labels).
pub const CORRELATION_FAMILIES: &[Family<CorrelationMetrics>] = &[
    Family {
        name: "harrier_correlation_lease_held",
        help: "1 while this worker correlates the incidents of every worker.",
        kind: "gauge",
        value: |m| Some(m.held.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_steps_total",
        help: "Correlation steps committed by this worker.",
        kind: "counter",
        value: |m| Some(m.steps.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_alerts_total",
        help: "Stored alerts this worker read and correlated.",
        kind: "counter",
        value: |m| Some(m.alerts.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_notices_total",
        help: "Incident Opened/Escalated notices this worker raised.",
        kind: "counter",
        value: |m| Some(m.notices.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_rebuilds_total",
        help: "Takeovers: the open incidents rebuilt from the store.",
        kind: "counter",
        value: |m| Some(m.rebuilds.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_replayed_total",
        help: "Alerts replayed to rebuild the open incidents.",
        kind: "counter",
        value: |m| Some(m.replayed.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_failures_total",
        help: "Failed correlation steps (the store unreachable, the lease lost).",
        kind: "counter",
        value: |m| Some(m.failures.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_correlation_cursor",
        help: "The store position this worker's correlation reached last.",
        kind: "gauge",
        value: |m| Some(m.cursor.load(Ordering::Relaxed)),
    },
];

/// What the image scanner and the admission webhook report.
#[derive(Default)]
pub struct ImageMetrics {
    /// Pushes recorded to scan (CloudTrail and EventBridge).
    pub pushes: AtomicU64,
    /// Pushes waiting to be scanned.
    pub queue_depth: AtomicU64,
    /// Images pulled and scanned.
    pub scanned: AtomicU64,
    /// Pushes of a digest scanned before (recorded, not rescanned).
    pub known: AtomicU64,
    /// Failed attempts (pull or scan).
    pub failures: AtomicU64,
    /// Pushes given up after their attempts.
    pub given_up: AtomicU64,
    /// Messages on `ecr_events` queues that were not ECR pushes or were malformed.
    pub bad_messages: AtomicU64,
    /// Inventory rounds done.
    pub inventory_rounds: AtomicU64,
    /// Inventory rounds that could not list (the platform unreachable).
    pub inventory_errors: AtomicU64,
    /// Running containers whose image fails its scan, at the last round.
    pub running_bad: AtomicU64,
    /// Admission reviews allowed.
    pub admission_allowed: AtomicU64,
    /// Admission reviews refused.
    pub admission_denied: AtomicU64,
    /// Admission requests refused as malformed (400).
    pub admission_bad: AtomicU64,
    /// Admission reviews answered from the caches alone.
    pub admission_cached: AtomicU64,
}

/// The image families (no labels).
pub const IMAGE_FAMILIES: &[Family<ImageMetrics>] = &[
    Family {
        name: "harrier_image_pushes_total",
        help: "ECR pushes recorded to scan.",
        kind: "counter",
        value: |m| Some(m.pushes.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_queue_depth",
        help: "Pushes waiting to be scanned.",
        kind: "gauge",
        value: |m| Some(m.queue_depth.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_scans_total",
        help: "Images pulled and scanned.",
        kind: "counter",
        value: |m| Some(m.scanned.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_known_digests_total",
        help: "Pushes of a digest scanned before (not rescanned).",
        kind: "counter",
        value: |m| Some(m.known.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_scan_failures_total",
        help: "Failed pull or scan attempts.",
        kind: "counter",
        value: |m| Some(m.failures.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_pushes_given_up_total",
        help: "Pushes given up after their attempts.",
        kind: "counter",
        value: |m| Some(m.given_up.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_image_bad_messages_total",
        help: "ecr_events messages that were malformed.",
        kind: "counter",
        value: |m| Some(m.bad_messages.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_inventory_rounds_total",
        help: "Inventory rounds done.",
        kind: "counter",
        value: |m| Some(m.inventory_rounds.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_inventory_errors_total",
        help: "Inventory rounds that could not list what runs.",
        kind: "counter",
        value: |m| Some(m.inventory_errors.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_running_bad_images",
        help: "Running containers whose image fails its scan, at the last inventory round.",
        kind: "gauge",
        value: |m| Some(m.running_bad.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_admission_allowed_total",
        help: "Admission reviews allowed.",
        kind: "counter",
        value: |m| Some(m.admission_allowed.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_admission_denied_total",
        help: "Admission reviews refused.",
        kind: "counter",
        value: |m| Some(m.admission_denied.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_admission_bad_requests_total",
        help: "Admission requests refused as malformed.",
        kind: "counter",
        value: |m| Some(m.admission_bad.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_admission_cached_total",
        help: "Admission reviews answered from the caches alone.",
        kind: "counter",
        value: |m| Some(m.admission_cached.load(Ordering::Relaxed)),
    },
];

/// A metric family: name, help, `counter` or `gauge`, and its value for one item.
pub struct Family<T: ?Sized> {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Prometheus type.
    pub kind: &'static str,
    /// The value for an item; `None` when the item does not have it.
    pub value: fn(&T) -> Option<u64>,
}

fn live(s: &SourceMetrics, f: fn(&SourceStats) -> &AtomicU64) -> Option<u64> {
    s.stats.as_ref().map(|st| f(st).load(Ordering::Relaxed))
}

/// The per-source families (labelled `source`).
pub const SOURCE_FAMILIES: &[Family<SourceMetrics>] = &[
    Family {
        name: "harrier_events_total",
        help: "Records read and evaluated, by source.",
        kind: "counter",
        value: |s| Some(s.events.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_bad_records_total",
        help: "Records skipped as bad input, by source.",
        kind: "counter",
        value: |s| Some(s.bad_records.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_source_messages_total",
        help: "Messages or pages received, by source.",
        kind: "counter",
        value: |s| live(s, |st| &st.received),
    },
    Family {
        name: "harrier_source_acked_total",
        help: "Deliveries acknowledged after their alerts were stored.",
        kind: "counter",
        value: |s| live(s, |st| &st.acked),
    },
    Family {
        name: "harrier_source_bad_inputs_total",
        help: "Inputs left unprocessed (bad message, missing object), by source.",
        kind: "counter",
        value: |s| live(s, |st| &st.bad_inputs),
    },
    Family {
        name: "harrier_source_errors_total",
        help: "Failed calls to the source's service.",
        kind: "counter",
        value: |s| live(s, |st| &st.errors),
    },
    Family {
        name: "harrier_source_bytes_total",
        help: "Bytes read, by source.",
        kind: "counter",
        value: |s| live(s, |st| &st.bytes),
    },
    Family {
        name: "harrier_source_lag_seconds",
        help: "Age of the newest input when it was read (queue lag).",
        kind: "gauge",
        value: |s| live(s, |st| &st.lag_seconds),
    },
];

/// The per-output families (labelled `output`).
pub const OUTPUT_FAMILIES: &[Family<OutputStats>] = &[
    Family {
        name: "harrier_output_delivered_total",
        help: "Alerts delivered, by output.",
        kind: "counter",
        value: |o| Some(o.delivered.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_output_failures_total",
        help: "Failed delivery attempts, by output.",
        kind: "counter",
        value: |o| Some(o.failures.load(Ordering::Relaxed)),
    },
    Family {
        name: "harrier_output_behind",
        help: "Alerts stored but not yet delivered, by output.",
        kind: "gauge",
        value: |o| Some(o.behind.load(Ordering::Relaxed)),
    },
];

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(o: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn family<'a, T: 'a + ?Sized>(
    o: &mut String,
    f: &Family<T>,
    label_name: &str,
    items: impl Iterator<Item = (&'a str, &'a T)> + Clone,
) {
    if items.clone().all(|(_, t)| (f.value)(t).is_none()) {
        return;
    }
    header(o, f.name, f.help, f.kind);
    for (n, t) in items {
        if let Some(v) = (f.value)(t) {
            let _ = writeln!(o, "{}{{{label_name}=\"{}\"}} {v}", f.name, label(n));
        }
    }
}

fn unlabelled<T>(o: &mut String, families: &[Family<T>], item: &T) {
    for f in families {
        if let Some(v) = (f.value)(item) {
            header(o, f.name, f.help, f.kind);
            let _ = writeln!(o, "{} {v}", f.name);
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let sources = self.sources.iter().map(|s| (s.name.as_str(), s.as_ref()));
        for f in &SOURCE_FAMILIES[..2] {
            family(&mut o, f, "source", sources.clone());
        }
        header(
            &mut o,
            "harrier_alerts_stored_total",
            "Alerts committed to the store, by outcome (new, duplicate, suppressed).",
            "counter",
        );
        for s in &self.sources {
            for (k, v) in [
                ("new", &s.stored_new),
                ("duplicate", &s.stored_duplicate),
                ("suppressed", &s.stored_suppressed),
            ] {
                let _ = writeln!(
                    o,
                    "harrier_alerts_stored_total{{source=\"{}\",outcome=\"{k}\"}} {}",
                    label(&s.name),
                    v.load(Ordering::Relaxed)
                );
            }
        }
        header(
            &mut o,
            "harrier_alerts_total",
            "Alerts raised by rules, by rule and priority.",
            "counter",
        );
        for ((rule, prio), n) in self.alerts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                o,
                "harrier_alerts_total{{rule=\"{}\",priority=\"{}\"}} {n}",
                label(rule),
                label(prio)
            );
        }
        for f in &SOURCE_FAMILIES[2..] {
            family(&mut o, f, "source", sources.clone());
        }
        let outputs = self.outputs.iter().map(|(n, s)| (n.as_str(), s.as_ref()));
        for f in OUTPUT_FAMILIES {
            family(&mut o, f, "output", outputs.clone());
        }
        if let Some(m) = &self.posture {
            for (name, help, kind, v) in [
                (
                    "harrier_posture_full_scans_total",
                    "Full posture scans.",
                    "counter",
                    &m.full_scans,
                ),
                (
                    "harrier_posture_rereads_total",
                    "Areas re-read after configuration changes.",
                    "counter",
                    &m.rereads,
                ),
                (
                    "harrier_posture_changes_total",
                    "Configuration changes read from CloudTrail.",
                    "counter",
                    &m.changes,
                ),
                (
                    "harrier_posture_newly_failing_total",
                    "Checks that went from passing to failing.",
                    "counter",
                    &m.newly_failing,
                ),
                (
                    "harrier_posture_fixed_total",
                    "Checks that went from failing to passing.",
                    "counter",
                    &m.fixed,
                ),
                (
                    "harrier_posture_score_percent",
                    "The posture score after the last evaluation (0-100, hundredths).",
                    "gauge",
                    &m.score_centi,
                ),
            ] {
                header(&mut o, name, help, kind);
                let _ = writeln!(o, "{name} {}", v.load(Ordering::Relaxed));
            }
        }
        if let Some(m) = &self.images {
            unlabelled(&mut o, IMAGE_FAMILIES, m);
        }
        if let Some(m) = &self.correlation {
            unlabelled(&mut o, CORRELATION_FAMILIES, m);
        }
        o
    }

    /// Answers a request for `/metrics`.
    pub fn respond(&self, req: Request) {
        let resp = if *req.method() == Method::Get {
            let mut r = Response::from_string(self.render());
            if let Ok(h) =
                Header::from_bytes(&b"Content-Type"[..], &b"text/plain; version=0.0.4"[..])
            {
                r.add_header(h);
            }
            r
        } else {
            Response::from_string("use GET\n").with_status_code(405)
        };
        let _ = req.respond(resp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_with_escaped_labels_and_skip_what_no_source_has() {
        let m = Metrics::default();
        let s = Arc::new(SourceMetrics {
            name: "k8s_audit://\"x\"".into(),
            ..SourceMetrics::default()
        });
        s.events.store(7, Ordering::Relaxed);
        let mut m = m;
        m.sources.push(s);
        m.outputs
            .push(("slack".into(), Arc::new(OutputStats::default())));
        m.alerts
            .lock()
            .unwrap()
            .insert(("Exec Into Pod".into(), "Notice".into()), 2);
        let text = m.render();
        assert!(
            text.contains("harrier_events_total{source=\"k8s_audit://\\\"x\\\"\"} 7"),
            "{text}"
        );
        assert!(text.contains("harrier_alerts_total{rule=\"Exec Into Pod\",priority=\"Notice\"} 2"));
        assert!(text.contains("# TYPE harrier_output_behind gauge"));
        assert!(text.contains("harrier_output_delivered_total{output=\"slack\"} 0"));
        // No live source: the SQS/CloudWatch families are left out rather than empty.
        assert!(!text.contains("harrier_source_lag_seconds"), "{text}");
        assert!(
            !text.contains("harrier_correlation"),
            "no shared store: {text}"
        );
        let c = Arc::new(CorrelationMetrics::default());
        c.held.store(1, Ordering::Relaxed);
        m.correlation = Some(c);
        let text = m.render();
        assert!(
            text.contains(
                "# TYPE harrier_correlation_lease_held gauge\nharrier_correlation_lease_held 1\n"
            ),
            "{text}"
        );
    }
}
