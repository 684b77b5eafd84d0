//! The alert model and its text and JSON forms.
//!
//! An [`Alert`] borrows what belongs to its rule (name, tags, file) and the run (host name), so
//! raising one allocates only its rendered output; [`Alert::to_record`] makes an owned copy for
//! whoever keeps alerts.

use std::borrow::Cow;
use std::fmt::Write as _;

use harrier_events::time::format_iso8601;
use harrier_rules::Priority;

/// One alert: a rule that matched an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert<'a> {
    /// Event time, nanoseconds since the epoch (0 when the event had none).
    pub time_ns: i64,
    /// Rule name.
    pub rule: &'a str,
    /// Rule priority.
    pub priority: Priority,
    /// Event source (`aws_cloudtrail`).
    pub source: &'a str,
    /// The rendered output.
    pub output: String,
    /// Each field of the output template with its value (`None` when missing).
    pub output_fields: Vec<(&'a str, Option<String>)>,
    /// Rule tags.
    pub tags: &'a [String],
    /// Host that raised the alert.
    pub hostname: &'a str,
    /// The event's id (CloudTrail `eventID`).
    pub event_id: Option<Cow<'a, str>>,
    /// File the rule came from.
    pub rule_file: &'a str,
    /// The event's record as read (JSON), for whoever shows the alert with its evidence; not
    /// part of the alert's text or JSON forms.
    pub event: Option<&'a [u8]>,
}

/// An owned copy of an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// Event time, nanoseconds since the epoch.
    pub time_ns: i64,
    /// Rule name.
    pub rule: String,
    /// Rule priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// The rendered output.
    pub output: String,
    /// Output fields and values.
    pub output_fields: Vec<(String, Option<String>)>,
    /// Rule tags.
    pub tags: Vec<String>,
    /// Host that raised the alert.
    pub hostname: String,
    /// The event's id.
    pub event_id: Option<String>,
    /// File the rule came from.
    pub rule_file: String,
    /// The event's record as read (JSON), when it was kept (see `MAX_EVENT_BYTES`).
    pub event: Option<String>,
    /// The entities of the alert's event, encoded (`harrier_incidents::entity::encode`), when
    /// it was raised for a correlator that reads them back from a shared store; `None`: not
    /// correlated that way. Not part of the alert's text or JSON forms.
    pub entities: Option<String>,
}

/// The largest event record an alert keeps; a larger one is left out (the alert says so by
/// having none), so one hostile record cannot bloat the store.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

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

/// Appends `s` as a JSON string literal.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The deterministic id of an alert: 32 hex digits of a 128-bit FNV-1a hash of the rule name
/// and the event id (or, for events without one, the event time and rendered output). The same
/// rule firing on the same event always gets the same id, whichever worker or run raised it, so
/// at-least-once delivery can be de-duplicated by id.
pub fn alert_id(rule: &str, event_id: Option<&str>, time_ns: i64, output: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u128::from(*b);
            h = h.wrapping_mul(PRIME);
        }
        // A separator no UTF-8 text contains, so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    };
    eat(rule.as_bytes());
    match event_id {
        Some(e) => {
            eat(b"e");
            eat(e.as_bytes());
        }
        None => {
            eat(b"t");
            eat(&time_ns.to_le_bytes());
            eat(output.as_bytes());
        }
    }
    format!("{h:032x}")
}

impl AlertRecord {
    /// The alert's deterministic id (see [`alert_id`]).
    pub fn id(&self) -> String {
        alert_id(
            &self.rule,
            self.event_id.as_deref(),
            self.time_ns,
            &self.output,
        )
    }

    /// A borrowed view, for formatting.
    pub fn as_alert(&self) -> Alert<'_> {
        Alert {
            time_ns: self.time_ns,
            rule: &self.rule,
            priority: self.priority,
            source: &self.source,
            output: self.output.clone(),
            output_fields: self
                .output_fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
            tags: &self.tags,
            hostname: &self.hostname,
            event_id: self.event_id.as_deref().map(Cow::Borrowed),
            rule_file: &self.rule_file,
            event: self.event.as_deref().map(str::as_bytes),
        }
    }
}

impl Alert<'_> {
    /// The alert's deterministic id (see [`alert_id`]).
    pub fn id(&self) -> String {
        alert_id(
            self.rule,
            self.event_id.as_deref(),
            self.time_ns,
            &self.output,
        )
    }

    /// An owned copy.
    pub fn to_record(&self) -> AlertRecord {
        AlertRecord {
            time_ns: self.time_ns,
            rule: self.rule.to_string(),
            priority: self.priority,
            source: self.source.to_string(),
            output: self.output.clone(),
            output_fields: self
                .output_fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            tags: self.tags.to_vec(),
            hostname: self.hostname.to_string(),
            event_id: self.event_id.as_ref().map(|e| e.to_string()),
            rule_file: self.rule_file.to_string(),
            event: self
                .event
                .filter(|e| e.len() <= MAX_EVENT_BYTES)
                .map(|e| String::from_utf8_lossy(e).into_owned()),
            entities: None,
        }
    }

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
                out.push_str("{\"time\":");
                json_string(out, &format_iso8601(self.time_ns));
                out.push_str(",\"rule\":");
                json_string(out, self.rule);
                out.push_str(",\"priority\":");
                json_string(out, self.priority.as_str());
                out.push_str(",\"source\":");
                json_string(out, self.source);
                out.push_str(",\"output\":");
                json_string(out, &self.output);
                out.push_str(",\"output_fields\":{");
                for (i, (k, v)) in self.output_fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(out, k);
                    out.push(':');
                    match v {
                        Some(v) => json_string(out, v),
                        None => out.push_str("null"),
                    }
                }
                out.push_str("},\"tags\":[");
                for (i, t) in self.tags.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(out, t);
                }
                out.push_str("],\"hostname\":");
                json_string(out, self.hostname);
                out.push_str(",\"event_id\":");
                match &self.event_id {
                    Some(e) => json_string(out, e),
                    None => out.push_str("null"),
                }
                out.push_str(",\"rule_file\":");
                json_string(out, self.rule_file);
                out.push_str(",\"id\":");
                json_string(out, &self.id());
                out.push_str("}\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> Vec<String> {
        vec!["cloud".into(), "aws".into()]
    }

    fn alert(tags: &[String]) -> Alert<'_> {
        Alert {
            time_ns: 1_722_431_184_000_000_000,
            rule: "CloudTrail Logging Disabled",
            priority: Priority::Warning,
            source: "aws_cloudtrail",
            output: "The CloudTrail logging has been disabled. (requesting user=christophe)".into(),
            output_fields: vec![
                ("ct.user", Some("chris\"tophe\n\u{1}".into())),
                ("ct.request.name", None),
            ],
            tags,
            hostname: "h",
            event_id: Some("10163ed2".into()),
            rule_file: "aws_cloudtrail_rules.yaml",
            event: None,
        }
    }

    #[test]
    fn ids_are_deterministic_and_tell_rule_and_event_apart() {
        let t = tags();
        let a = alert(&t);
        assert_eq!(a.id(), alert(&t).id());
        assert_eq!(a.id().len(), 32);
        // Same event, other rule; same rule, other event: other ids.
        let mut other_rule = alert(&t);
        other_rule.rule = "CloudTrail Logging Disabled ";
        assert_ne!(a.id(), other_rule.id());
        let mut other_event = alert(&t);
        other_event.event_id = Some("10163ed3".into());
        assert_ne!(a.id(), other_event.id());
        // The id does not depend on where or when the alert was raised.
        let mut elsewhere = alert(&t);
        elsewhere.hostname = "worker-2";
        assert_eq!(a.id(), elsewhere.id());
        // Without an event id, time and output decide.
        assert_ne!(alert_id("r", None, 1, "x"), alert_id("r", None, 2, "x"));
        assert_ne!(
            alert_id("ab", Some("c"), 0, ""),
            alert_id("a", Some("bc"), 0, "")
        );
    }

    #[test]
    fn text_is_falco_style() {
        let t = tags();
        let mut s = String::new();
        alert(&t).write_to(Format::Text { color: false }, &mut s);
        assert_eq!(
            s,
            "2024-07-31T13:06:24.000000000+0000: Warning The CloudTrail logging has been disabled. (requesting user=christophe)\n"
        );
        let mut c = String::new();
        alert(&t).write_to(Format::Text { color: true }, &mut c);
        assert!(c.contains("\x1b[33mWarning\x1b[0m"));
    }

    #[test]
    fn json_has_falco_shape_and_escapes() {
        let t = tags();
        let mut s = String::new();
        alert(&t).write_to(Format::Json, &mut s);
        assert!(s.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["rule"], "CloudTrail Logging Disabled");
        assert_eq!(v["priority"], "Warning");
        assert_eq!(v["time"], "2024-07-31T13:06:24.000000000Z");
        assert_eq!(v["output_fields"]["ct.user"], "chris\"tophe\n\u{1}");
        assert!(v["output_fields"]["ct.request.name"].is_null());
        assert_eq!(v["event_id"], "10163ed2");
        assert_eq!(v["tags"][1], "aws");
        assert_eq!(v["source"], "aws_cloudtrail");
        assert_eq!(v["hostname"], "h");
        assert_eq!(v["rule_file"], "aws_cloudtrail_rules.yaml");
        assert_eq!(v["id"], alert(&t).id());
        let rec = alert(&t).to_record();
        assert_eq!(rec.tags, t);
        assert_eq!(rec.as_alert(), alert(&t));
        assert_eq!(rec.output_fields[0].0, "ct.user");
    }
}
