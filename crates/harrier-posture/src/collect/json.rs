//! Small helpers to write SDK values in the AWS CLI's JSON shape.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::Value;

/// An optional timestamp as RFC 3339 text, `null` when absent.
pub(crate) fn time(d: Option<&DateTime>) -> Value {
    d.and_then(|d| d.fmt(Format::DateTime).ok())
        .map_or(Value::Null, Value::String)
}

/// A list of strings.
pub(crate) fn strings<S: AsRef<str>>(v: &[S]) -> Value {
    Value::Array(
        v.iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    )
}

/// Now, as RFC 3339.
pub(crate) fn now() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    harrier_events::time::format_iso8601(ns)
}
