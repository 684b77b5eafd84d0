//! Prometheus metrics and health for `harrier serve --config`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harrier_alerts::outputs::OutputStats;
use harrier_sources::live::SourceStats;

/// What one source thread reports.
#[derive(Default)]
pub struct SourceMetrics {
    pub name: String,
    pub stats: Option<Arc<SourceStats>>,
    pub events: AtomicU64,
    pub bad_records: AtomicU64,
    pub stored_new: AtomicU64,
    pub stored_duplicate: AtomicU64,
    pub stored_suppressed: AtomicU64,
}

/// Everything `/metrics` shows.
#[derive(Default)]
pub struct Metrics {
    pub sources: Vec<Arc<SourceMetrics>>,
    pub outputs: Vec<(String, Arc<OutputStats>)>,
    /// Alerts raised, by (rule, priority), summed over sources.
    pub alerts: Mutex<BTreeMap<(String, String), u64>>,
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let counter = |o: &mut String, name: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
        };
        let gauge = |o: &mut String, name: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
        };
        let r = Ordering::Relaxed;
        counter(
            &mut o,
            "harrier_events_total",
            "Records read and evaluated, by source.",
        );
        for s in &self.sources {
            let _ = writeln!(
                o,
                "harrier_events_total{{source=\"{}\"}} {}",
                label(&s.name),
                s.events.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_bad_records_total",
            "Records skipped as bad input, by source.",
        );
        for s in &self.sources {
            let _ = writeln!(
                o,
                "harrier_bad_records_total{{source=\"{}\"}} {}",
                label(&s.name),
                s.bad_records.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_alerts_stored_total",
            "Alerts committed to the store, by outcome (new, duplicate, suppressed).",
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
                    v.load(r)
                );
            }
        }
        counter(
            &mut o,
            "harrier_alerts_total",
            "Alerts raised by rules, by rule and priority.",
        );
        for ((rule, prio), n) in self.alerts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                o,
                "harrier_alerts_total{{rule=\"{}\",priority=\"{}\"}} {n}",
                label(rule),
                prio
            );
        }
        let with_stats: Vec<_> = self
            .sources
            .iter()
            .filter_map(|s| s.stats.as_ref().map(|st| (s, st)))
            .collect();
        counter(
            &mut o,
            "harrier_source_messages_total",
            "Messages or pages received, by source.",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_messages_total{{source=\"{}\"}} {}",
                label(&s.name),
                st.received.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_source_acked_total",
            "Deliveries acknowledged after their alerts were stored.",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_acked_total{{source=\"{}\"}} {}",
                label(&s.name),
                st.acked.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_source_bad_inputs_total",
            "Inputs left unprocessed (bad message, missing object), by source.",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_bad_inputs_total{{source=\"{}\"}} {}",
                label(&s.name),
                st.bad_inputs.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_source_errors_total",
            "Failed calls to the source's service.",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_errors_total{{source=\"{}\"}} {}",
                label(&s.name),
                st.errors.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_source_bytes_total",
            "Bytes read, by source.",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_bytes_total{{source=\"{}\"}} {}",
                label(&s.name),
                st.bytes.load(r)
            );
        }
        gauge(
            &mut o,
            "harrier_source_lag_seconds",
            "Age of the newest input when it was read (queue lag).",
        );
        for (s, st) in &with_stats {
            let _ = writeln!(
                o,
                "harrier_source_lag_seconds{{source=\"{}\"}} {}",
                label(&s.name),
                st.lag_seconds.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_output_delivered_total",
            "Alerts delivered, by output.",
        );
        for (n, st) in &self.outputs {
            let _ = writeln!(
                o,
                "harrier_output_delivered_total{{output=\"{}\"}} {}",
                label(n),
                st.delivered.load(r)
            );
        }
        counter(
            &mut o,
            "harrier_output_failures_total",
            "Failed delivery attempts, by output.",
        );
        for (n, st) in &self.outputs {
            let _ = writeln!(
                o,
                "harrier_output_failures_total{{output=\"{}\"}} {}",
                label(n),
                st.failures.load(r)
            );
        }
        gauge(
            &mut o,
            "harrier_output_behind",
            "Alerts stored but not yet delivered, by output.",
        );
        for (n, st) in &self.outputs {
            let _ = writeln!(
                o,
                "harrier_output_behind{{output=\"{}\"}} {}",
                label(n),
                st.behind.load(r)
            );
        }
        o
    }
}

/// Serves `/metrics` and `/healthz` until `stop`.
pub fn serve(server: tiny_http::Server, metrics: &Metrics, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let req = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => return,
        };
        let resp = match (req.method(), req.url()) {
            (tiny_http::Method::Get, "/metrics") => {
                tiny_http::Response::from_string(metrics.render()).with_header(
                    "Content-Type: text/plain; version=0.0.4"
                        .parse::<tiny_http::Header>()
                        .expect("static header"),
                )
            }
            (tiny_http::Method::Get, "/healthz") => tiny_http::Response::from_string("ok\n"),
            _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        let _ = req.respond(resp);
    }
}
