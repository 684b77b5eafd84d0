//! The event trait every source implements.

use std::borrow::Cow;

use crate::field::{FieldRef, SourceInfo, Value};
use crate::json::JsonError;

/// One event from any source, read lazily.
///
/// Rules are compiled against the event's [`SourceInfo`]; the engine asks for fields through
/// [`extract`](Event::extract) only as its conditions need them.
pub trait Event {
    /// The source this event comes from, and its field table.
    fn source(&self) -> &'static SourceInfo;

    /// Extracts a field; `None` when the event does not have it.
    fn extract(&self, field: &FieldRef) -> Option<Value<'_>>;

    /// Value of the source's [`type_field`](SourceInfo::type_field) (e.g. the CloudTrail
    /// `eventName`), used to pick the rules that can match.
    fn type_key(&self) -> Option<Cow<'_, str>>;

    /// Event time in nanoseconds since the epoch, when the event has one.
    fn timestamp_ns(&self) -> Option<i64>;

    /// A stable identifier of the event (the CloudTrail `eventID`), when it has one.
    fn event_id(&self) -> Option<Cow<'_, str>>;

    /// The first syntax error met while extracting fields, if any. An event with an error must
    /// be reported as bad input, never alerted on.
    fn error(&self) -> Option<JsonError>;

    /// Checks the full syntax of the event's record; returns the first error.
    fn validate(&self) -> Option<JsonError>;

    /// The event's record as read (one JSON object), for showing an alert with its evidence.
    fn raw(&self) -> &[u8] {
        &[]
    }
}
