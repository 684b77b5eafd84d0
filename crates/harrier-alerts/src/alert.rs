//! The alert model and its text and JSON forms.

use std::fmt::Write as _;

use harrier_events::time::format_iso8601;
use harrier_rules::Priority;
use serde::Serialize;

/// One alert: a rule that matched an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Event time, nanoseconds since the epoch (0 when the event had none).
    pub time_ns: i64,
    /// Rule name.
    pub rule: String,
    /// Rule priority.
    pub priority: Priority,
    /// Event source (`aws_cloudtrail`).
    pub source: String,
    /// The rendered output.
    pub output: String,
    /// Each field of the output template with its value (`None` when missing).
    pub output_fields: Vec<(String, Option<String>)>,
    /// Rule tags.
    pub tags: Vec<String>,
    /// Host that raised the alert.
    pub hostname: String,
    /// The event's id (CloudTrail `eventID`).
    pub event_id: Option<String>,
    /// File the rule came from.
    pub rule_file: String,
}

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `<time>: <Priority> <output>`, like Falco; `color` adds ANSI colours to the priority.
    Text {
        /// Colour the priority.
        color: bool,
    },
    /// One JSON object per line, in Falco's alert shape.
    Json,
}

#[derive(Serialize)]
struct JsonAlert<'a> {
    time: String,
    rule: &'a str,
    priority: &'a str,
    source: &'a str,
    output: &'a str,
    output_fields: serde_json::Map<String, serde_json::Value>,
    tags: &'a [String],
    hostname: &'a str,
    event_id: Option<&'a str>,
    rule_file: &'a str,
}

fn color_of(p: Priority) -> &'static str {
    match p {
        Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => {
            "\x1b[1;31m"
        }
        Priority::Warning => "\x1b[33m",
        Priority::Notice => "\x1b[36m",
        Priority::Informational | Priority::Debug => "\x1b[2m",
    }
}

impl Alert {
    /// Writes the alert in `format`, followed by a newline.
    pub fn write_to(&self, format: Format, out: &mut String) {
        match format {
            Format::Text { color } => {
                // Falco's ISO 8601 text time: 2024-07-31T13:06:24.000000000+0000
                let t = format_iso8601(self.time_ns);
                let t = t.strip_suffix('Z').unwrap_or(&t);
                let (c, r) = if color {
                    (color_of(self.priority), "\x1b[0m")
                } else {
                    ("", "")
                };
                let _ = writeln!(out, "{t}+0000: {c}{}{r} {}", self.priority, self.output);
            }
            Format::Json => {
                let fields = self
                    .output_fields
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.clone()
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect();
                let j = JsonAlert {
                    time: format_iso8601(self.time_ns),
                    rule: &self.rule,
                    priority: self.priority.as_str(),
                    source: &self.source,
                    output: &self.output,
                    output_fields: fields,
                    tags: &self.tags,
                    hostname: &self.hostname,
                    event_id: self.event_id.as_deref(),
                    rule_file: &self.rule_file,
                };
                // Serialising plain strings and maps cannot fail.
                if let Ok(s) = serde_json::to_string(&j) {
                    out.push_str(&s);
                }
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            time_ns: 1_722_431_184_000_000_000,
            rule: "CloudTrail Logging Disabled".into(),
            priority: Priority::Warning,
            source: "aws_cloudtrail".into(),
            output: "The CloudTrail logging has been disabled. (requesting user=christophe)".into(),
            output_fields: vec![
                ("ct.user".into(), Some("christophe".into())),
                ("ct.request.name".into(), None),
            ],
            tags: vec!["cloud".into(), "aws".into()],
            hostname: "h".into(),
            event_id: Some("10163ed2".into()),
            rule_file: "aws_cloudtrail_rules.yaml".into(),
        }
    }

    #[test]
    fn text_is_falco_style() {
        let mut s = String::new();
        alert().write_to(Format::Text { color: false }, &mut s);
        assert_eq!(
            s,
            "2024-07-31T13:06:24.000000000+0000: Warning The CloudTrail logging has been disabled. (requesting user=christophe)\n"
        );
        let mut c = String::new();
        alert().write_to(Format::Text { color: true }, &mut c);
        assert!(c.contains("\x1b[33mWarning\x1b[0m"));
    }

    #[test]
    fn json_has_falco_shape() {
        let mut s = String::new();
        alert().write_to(Format::Json, &mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["rule"], "CloudTrail Logging Disabled");
        assert_eq!(v["priority"], "Warning");
        assert_eq!(v["time"], "2024-07-31T13:06:24.000000000Z");
        assert_eq!(v["output_fields"]["ct.user"], "christophe");
        assert!(v["output_fields"]["ct.request.name"].is_null());
        assert_eq!(v["event_id"], "10163ed2");
        assert_eq!(v["tags"][1], "aws");
        assert_eq!(v["source"], "aws_cloudtrail");
        assert_eq!(v["hostname"], "h");
        assert_eq!(v["rule_file"], "aws_cloudtrail_rules.yaml");
    }
}
