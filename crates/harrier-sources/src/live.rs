//! Live sources: inputs that keep arriving (an SQS queue, a CloudWatch Logs group) and must be
//! acknowledged once their alerts are durable.
//!
//! A [`LiveSource`] hands out [`Delivery`]s. The pipeline evaluates every [`Unit`] of a
//! delivery, commits the alerts (with the delivery's checkpoint, if any) to the alert store, and
//! only then calls [`LiveSource::ack`]. A delivery that could not be committed is
//! [`LiveSource::release`]d, and comes back (SQS redelivers it; a checkpointed source re-reads
//! from its last committed checkpoint). Inputs the source itself cannot use (a message that is
//! not a notification, an object that is gone) are never handed out and never acknowledged:
//! they are counted in [`SourceStats`] and left for the queue's redrive policy.

use std::sync::atomic::{AtomicU64, Ordering};

/// One thing to read: a log file or a page of log events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Where it came from (`s3://bucket/key`, `cwlogs://group/stream`), for problems.
    pub name: String,
    /// Its bytes: a CloudTrail file (plain or gzip), JSON Lines...
    pub data: Vec<u8>,
}

/// What a source hands out and later has acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Identifies the delivery to [`LiveSource::ack`] and [`LiveSource::release`].
    pub id: String,
    /// What to read, in order.
    pub units: Vec<Unit>,
    /// A checkpoint to commit with the delivery's alerts: (source key, value).
    pub checkpoint: Option<(String, String)>,
}

/// A source failure (the service unreachable, access denied...). The source keeps going.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    /// Which source.
    pub source_name: String,
    /// What went wrong.
    pub message: String,
}

/// A source of deliveries.
pub trait LiveSource: Send {
    /// The source's name (`sqs://...`), for logs and metrics.
    fn name(&self) -> &str;
    /// Waits a bounded time (a long poll) and returns what arrived, possibly nothing.
    fn poll(&mut self) -> Result<Vec<Delivery>, SourceError>;
    /// The delivery's alerts are durable: the input may be forgotten.
    fn ack(&mut self, id: &str) -> Result<(), SourceError>;
    /// The delivery could not be processed; let it come back.
    fn release(&mut self, id: &str);
    /// Counters, shared with whoever reports them.
    fn stats(&self) -> std::sync::Arc<SourceStats>;
}

/// Counters every live source keeps (read by metrics while the source runs).
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Messages or pages received.
    pub received: AtomicU64,
    /// Deliveries acknowledged.
    pub acked: AtomicU64,
    /// Units (files, pages) handed out.
    pub units: AtomicU64,
    /// Bytes handed out.
    pub bytes: AtomicU64,
    /// Inputs left unprocessed because they were bad (not a notification, object missing...).
    pub bad_inputs: AtomicU64,
    /// Calls to the service that failed.
    pub errors: AtomicU64,
    /// Seconds between the newest input's creation and its reading (queue lag), last seen.
    pub lag_seconds: AtomicU64,
}

impl SourceStats {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}
