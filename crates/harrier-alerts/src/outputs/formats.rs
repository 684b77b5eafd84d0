//! The shapes alerts take on the way out: OCSF Detection Finding, AWS Security Finding Format
//! (Security Hub), a Slack message.

use harrier_rules::Priority;
use serde_json::{json, Map, Value};

use crate::store::StoredAlert;

/// The fields of a stored alert that outputs use (parsed from its JSON).
#[derive(Debug, Clone)]
pub struct AlertView {
    /// Event time, RFC 3339.
    pub time: String,
    /// Rendered output.
    pub output: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Output fields.
    pub fields: Map<String, Value>,
    /// Event id.
    pub event_id: Option<String>,
    /// Host that raised it.
    pub hostname: String,
}

impl AlertView {
    /// Reads the view from the alert's JSON (fields missing from it are empty). A row whose
    /// JSON cannot be read (a damaged store) is not sent as an empty alert: its output says
    /// which alert it is and what is wrong, from the store's own columns, and a warning is
    /// logged.
    pub fn parse(a: &StoredAlert) -> AlertView {
        let v: Value = match serde_json::from_str(&a.json) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(alert = %a.id, seq = a.seq, error = %e, "stored alert JSON is unreadable");
                return AlertView {
                    time: harrier_events::time::format_iso8601(a.time_ns),
                    output: format!(
                        "{} ({}): alert {} is unreadable in the store: {e}",
                        a.rule, a.priority, a.id
                    ),
                    tags: Vec::new(),
                    fields: Map::new(),
                    event_id: None,
                    hostname: String::new(),
                };
            }
        };
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        AlertView {
            time: s("time"),
            output: s("output"),
            tags: v
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            fields: v
                .get("output_fields")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            event_id: v.get("event_id").and_then(Value::as_str).map(String::from),
            hostname: s("hostname"),
        }
    }

    /// An output field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// Who did it: the first principal-like output field.
    pub fn principal(&self) -> Option<&str> {
        ["ct.user.arn", "ct.user", "ka.user.name", "user.name"]
            .iter()
            .find_map(|f| self.field(f))
    }

    /// MITRE ATT&CK tactics named by `mitre_*` tags.
    pub fn tactics(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter_map(|t| t.strip_prefix("mitre_"))
            .map(String::from)
            .collect()
    }
}

/// OCSF severity_id (1 informational .. 5 critical, 6 fatal) of a priority.
fn ocsf_severity(p: Priority) -> (u8, &'static str) {
    match p {
        Priority::Emergency => (6, "Fatal"),
        Priority::Alert | Priority::Critical => (5, "Critical"),
        Priority::Error => (4, "High"),
        Priority::Warning => (3, "Medium"),
        Priority::Notice => (2, "Low"),
        Priority::Informational | Priority::Debug => (1, "Informational"),
    }
}

/// The alert as an OCSF 1.1 Detection Finding (class 2004), for SIEMs that speak OCSF.
pub fn ocsf_detection_finding(a: &StoredAlert) -> Value {
    let v = AlertView::parse(a);
    let (sev, sev_name) = ocsf_severity(a.priority);
    let mut attacks = Vec::new();
    for t in v.tactics() {
        attacks.push(json!({"tactic": {"name": t.replace('_', " ")}}));
    }
    for t in v
        .tags
        .iter()
        .filter(|t| t.starts_with('T') && t[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        attacks.push(json!({"technique": {"uid": t}}));
    }
    let mut f = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "time": a.time_ns / 1_000_000,
        "severity_id": sev,
        "severity": sev_name,
        "status_id": 1,
        "status": "New",
        "message": v.output,
        "finding_info": {
            "uid": a.id,
            "title": a.rule,
            "desc": v.output,
            "analytic": {"name": a.rule, "type_id": 1, "type": "Rule"},
            "types": [a.source],
        },
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "Harrier", "vendor_name": "Harrier", "version": env!("CARGO_PKG_VERSION")},
            "original_time": v.time,
            "labels": v.tags,
        },
        "unmapped": {"output_fields": v.fields, "priority": a.priority.as_str(), "hostname": v.hostname},
    });
    if let Some(e) = &v.event_id {
        f["finding_info"]["related_events"] = json!([{"uid": e}]);
    }
    if !attacks.is_empty() {
        f["finding_info"]["attacks"] = Value::Array(attacks);
    }
    if let Some(p) = v.principal() {
        f["actor"] = json!({"user": {"name": p}});
    }
    if let Some(acct) = v.field("ct.user.accountid") {
        f["cloud"] =
            json!({"provider": "AWS", "account": {"uid": acct}, "region": v.field("ct.region")});
    }
    f
}

fn asff_label(p: Priority) -> &'static str {
    match p {
        Priority::Emergency | Priority::Alert | Priority::Critical => "CRITICAL",
        Priority::Error => "HIGH",
        Priority::Warning => "MEDIUM",
        Priority::Notice => "LOW",
        Priority::Informational | Priority::Debug => "INFORMATIONAL",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 3).collect::<String>() + "..."
    }
}

/// The alert as an AWS Security Finding (ASFF) for Security Hub's BatchImportFindings.
/// `account` and `region` are Harrier's own (they make the product ARN); the finding's account
/// is the event's when the alert names it.
pub fn asff_finding(a: &StoredAlert, account: &str, region: &str) -> Value {
    let v = AlertView::parse(a);
    let types: Vec<String> = {
        let t: Vec<String> = v
            .tactics()
            .iter()
            .map(|t| {
                let words: Vec<String> = t
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                format!("TTPs/{}", words.join(" "))
            })
            .collect();
        if t.is_empty() {
            vec!["Unusual Behaviors".to_string()]
        } else {
            t
        }
    };
    let finding_account = v
        .field("ct.user.accountid")
        .filter(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(account);
    let resource_id = v.principal().unwrap_or("unknown");
    let mut product_fields = json!({
        "harrier/rule": a.rule,
        "harrier/priority": a.priority.as_str(),
        "harrier/source": a.source,
    });
    if let Some(e) = &v.event_id {
        product_fields["harrier/event_id"] = json!(e);
    }
    json!({
        "SchemaVersion": "2018-10-08",
        "Id": a.id,
        "ProductArn": format!("arn:aws:securityhub:{region}:{account}:product/{account}/default"),
        "GeneratorId": format!("harrier/{}", a.rule),
        "AwsAccountId": finding_account,
        "Types": types,
        "CreatedAt": v.time,
        "UpdatedAt": v.time,
        "Severity": {"Label": asff_label(a.priority)},
        "Title": truncate(&a.rule, 256),
        "Description": truncate(&v.output, 1024),
        "ProductFields": product_fields,
        "Resources": [{"Type": "Other", "Id": truncate(resource_id, 512), "Region": v.field("ct.region").unwrap_or(region)}],
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    })
}

/// A readable Slack incoming-webhook message.
pub fn slack_message(a: &StoredAlert) -> Value {
    let v = AlertView::parse(a);
    let icon = match a.priority {
        Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => {
            ":red_circle:"
        }
        Priority::Warning => ":large_orange_circle:",
        _ => ":large_blue_circle:",
    };
    let text = format!("{icon} *{}* [{}]\n{}", a.rule, a.priority, v.output);
    let mut context = format!("{} · {}", v.time, a.source);
    if let Some(p) = v.principal() {
        context.push_str(&format!(" · principal `{p}`"));
    }
    context.push_str(&format!(" · alert `{}`", a.id));
    json!({
        "text": truncate(&text, 3000),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&context, 3000)}]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_row_is_named_not_sent_empty() {
        let a = StoredAlert {
            seq: 7,
            id: "abc".into(),
            time_ns: 1_722_431_184_000_000_000,
            stored_ns: 0,
            rule: "Stop Logging".into(),
            priority: harrier_rules::Priority::Critical,
            source: "aws_cloudtrail".into(),
            suppressed: false,
            json: "{\"rule\": \"Stop Lo".into(),
        };
        let v = AlertView::parse(&a);
        assert!(
            v.output
                .starts_with("Stop Logging (Critical): alert abc is unreadable"),
            "{}",
            v.output
        );
        assert_eq!(v.time, "2024-07-31T13:06:24.000000000Z");
    }
}
