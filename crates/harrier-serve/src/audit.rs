//! The Kubernetes audit webhook's contract: a body is checked whole, evaluated, and answered
//! 200 only once its alerts are durable.

use harrier_alerts::AlertSink;
use harrier_detect::Detector;
use harrier_events::json;
use harrier_events::lazy::{Record, Scratch};
use harrier_sources::webhook::Verdict;

/// Checks and evaluates one webhook body (an audit `Event` or `EventList`); answers only once
/// its alerts are flushed to `sink`: `Accepted` (200) then, `BadRequest` (400) for a body that
/// is not one whole audit object, `Unavailable` (503, the API server retries) when the alerts
/// could not be written.
pub fn handle_audit_body(
    detector: &mut Detector<'_>,
    body: &[u8],
    sink: &mut dyn AlertSink,
) -> Verdict {
    // Check the whole body before evaluating anything from it.
    let start = json::skip_ws(body, 0);
    match json::skip_value(body, start) {
        Err(e) => {
            return Verdict::BadRequest(format!("invalid JSON at byte {}: {}", e.offset, e.kind))
        }
        Ok(end) if json::skip_ws(body, end) != body.len() => {
            return Verdict::BadRequest(format!(
                "unexpected data after the JSON value at byte {end}"
            ))
        }
        Ok(_) => {}
    }
    let scratch = Scratch::default();
    let kind = Record::new(body, &scratch)
        .str_at(&["kind"])
        .map(|k| k.into_owned());
    if !matches!(kind.as_deref(), Some("Event" | "EventList")) {
        return Verdict::BadRequest("expected an audit.k8s.io Event or EventList".into());
    }
    let before = detector.stats.records;
    let written = detector.process_record(body, 0, "webhook", sink, &mut |p| {
        tracing::warn!(problem = %p, "webhook: bad event");
    });
    // Acknowledge only once the alerts are durable.
    if let Err(e) = written.and_then(|_| sink.flush()) {
        return Verdict::Unavailable(format!("cannot write alerts: {e}"));
    }
    Verdict::Accepted((detector.stats.records - before) as usize)
}

/// The bearer token of the audit webhook: the file's content when a file is named, else
/// `HARRIER_WEBHOOK_TOKEN` when set and not empty (the same rule for `serve` and
/// `serve --config`).
pub fn webhook_token(token_file: Option<&std::path::Path>) -> std::io::Result<Option<String>> {
    match token_file {
        Some(f) => Ok(Some(std::fs::read_to_string(f)?.trim().to_string())),
        None => Ok(std::env::var("HARRIER_WEBHOOK_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())),
    }
}
