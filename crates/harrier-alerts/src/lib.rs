//! Harrier's alert model and outputs.
//!
//! An [`Alert`] has Falco's alert shape (time, rule, priority, source, output, output_fields,
//! tags, hostname) plus `event_id` and `rule_file`. Outputs implement [`AlertSink`]; a sink
//! reports an alert as delivered only once it is written (for files: flushed), so callers can
//! acknowledge their input after [`AlertSink::flush`] returns.
#![deny(missing_docs)]

mod alert;
pub mod fold;
pub mod outputs;
mod sink;
pub mod state;
pub mod store;

pub use alert::{alert_id, json_string, Alert, AlertRecord, Format};
pub use sink::{AlertSink, SinkError, SyncWrite, Tee, WriterSink};
