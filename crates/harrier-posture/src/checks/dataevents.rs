//! CloudTrail data events for S3 objects (CIS 3.8 write, 3.9 read).

use serde_json::Value;

use super::logging::{is_logging, trails};
use crate::check::{Check, Ctx, Finding, Severity, Status};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Write,
    Read,
}

/// A trail's event selectors document, looked up in its home region first.
fn selectors<'a>(cx: &Ctx<'a>, t: &Value) -> Option<&'a Value> {
    let name = t["Name"].as_str()?;
    let home = t["HomeRegion"].as_str().unwrap_or("global");
    [home].into_iter().chain(cx.snap.regions()).find_map(|r| {
        cx.doc(r, &format!("cloudtrail-get-event-selectors/{name}"))
            .ok()
    })
}

fn equals(f: &Value) -> impl Iterator<Item = &str> {
    f["Equals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// Whether the selectors record `access` data events on the objects of every bucket.
fn covers_all_buckets(sel: &Value, access: Access) -> bool {
    let basic =
        sel["EventSelectors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                let rw = s["ReadWriteType"].as_str().unwrap_or("All");
                let rw_ok = rw == "All"
                    || (access == Access::Write && rw == "WriteOnly")
                    || (access == Access::Read && rw == "ReadOnly");
                rw_ok
                    && s["DataResources"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|d| {
                            d["Type"] == "AWS::S3::Object"
                                && d["Values"].as_array().into_iter().flatten().any(|v| {
                                    matches!(v.as_str(), Some("arn:aws:s3" | "arn:aws:s3:::"))
                                })
                        })
            });
    let advanced = sel["AdvancedEventSelectors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let fields: Vec<&Value> = s["FieldSelectors"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let field = |name: &str| fields.iter().find(|f| f["Field"] == name);
            let data = field("eventCategory").is_some_and(|f| equals(f).any(|v| v == "Data"));
            let s3 =
                field("resources.type").is_some_and(|f| equals(f).any(|v| v == "AWS::S3::Object"));
            // Narrowed to some buckets or some event names: not every object access.
            let narrowed = field("resources.ARN").is_some() || field("eventName").is_some();
            let ro = field("readOnly").map(|f| equals(f).collect::<Vec<_>>());
            let rw_ok = match (&ro, access) {
                (None, _) => true,
                (Some(v), Access::Write) => v.contains(&"false"),
                (Some(v), Access::Read) => v.contains(&"true"),
            };
            data && s3 && !narrowed && rw_ok
        });
    basic || advanced
}

fn eval(cx: &Ctx<'_>, out: &mut Vec<Finding>, access: Access) {
    let Some(ts) = trails(cx, out) else { return };
    let mut unknown = false;
    for (arn, t) in &ts {
        if is_logging(cx, t) != Some(true) {
            continue;
        }
        match selectors(cx, t) {
            Some(sel) if covers_all_buckets(sel, access) => {
                let what = if access == Access::Write {
                    "write"
                } else {
                    "read"
                };
                return out.push(cx.finding(
                    "global",
                    *arn,
                    Status::Pass,
                    format!("S3 object {what} events of every bucket are logged"),
                ));
            }
            Some(_) => {}
            None => unknown = true,
        }
    }
    out.push(if unknown {
        cx.unknown(
            "global",
            "the event selectors of a logging trail were not collected".into(),
        )
    } else {
        cx.finding(
            "global",
            cx.account(),
            Status::Fail,
            "no logging trail records S3 object-level events for every bucket",
        )
    });
}

pub static S3_WRITE_EVENTS: Check = Check {
    id: "cloudtrail_s3_object_write_events",
    title: "CloudTrail logs S3 object-level write events",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Low,
    rationale: "Management events do not show who put, overwrote or deleted an object; after a bucket is opened or a backdoored artifact uploaded, only data events tell what changed.",
    remediation: "Add a data event selector for S3 objects (all buckets, write) to a logging trail.",
    cli: &["aws cloudtrail put-event-selectors --trail-name <trail> --event-selectors '[{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":true,\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3\"]}]}]'"],
    frameworks: &[
            ("cis-5.0", &["3.8"]),
            ("pci-4.0", &["10.2.1"]),
            ("nist-800-53-r5", &["AU-2", "AU-12"]),
            ("nist-800-53-r4", &["AU-2", "AU-12"]),
            ("soc2", &["cc_7_2"]),
        ],
    eval: |cx, out| eval(cx, out, Access::Write),
};

pub static S3_READ_EVENTS: Check = Check {
    id: "cloudtrail_s3_object_read_events",
    title: "CloudTrail logs S3 object-level read events",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Low,
    rationale: "Without read data events, data exfiltration from a bucket (GetObject by leaked keys) leaves no trace.",
    remediation: "Add a data event selector for S3 objects (all buckets, read) to a logging trail.",
    cli: &["aws cloudtrail put-event-selectors --trail-name <trail> --event-selectors '[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true,\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3\"]}]}]'"],
    frameworks: &[
            ("cis-5.0", &["3.9"]),
            ("pci-4.0", &["10.2.1"]),
            ("nist-800-53-r5", &["AU-2", "AU-12"]),
            ("nist-800-53-r4", &["AU-2", "AU-12"]),
            ("soc2", &["cc_7_2"]),
        ],
    eval: |cx, out| eval(cx, out, Access::Read),
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basic_and_advanced_selectors() {
        let basic = |rw: &str, values: Value| json!({"EventSelectors": [{"ReadWriteType": rw, "DataResources": [{"Type": "AWS::S3::Object", "Values": values}]}]});
        assert!(covers_all_buckets(
            &basic("All", json!(["arn:aws:s3"])),
            Access::Write
        ));
        assert!(covers_all_buckets(
            &basic("All", json!(["arn:aws:s3"])),
            Access::Read
        ));
        assert!(covers_all_buckets(
            &basic("WriteOnly", json!(["arn:aws:s3"])),
            Access::Write
        ));
        assert!(!covers_all_buckets(
            &basic("WriteOnly", json!(["arn:aws:s3"])),
            Access::Read
        ));
        // One bucket is not every bucket.
        assert!(!covers_all_buckets(
            &basic("All", json!(["arn:aws:s3:::acme-logs/"])),
            Access::Write
        ));
        let adv = |extra: Value| {
            let mut f = vec![
                json!({"Field": "eventCategory", "Equals": ["Data"]}),
                json!({"Field": "resources.type", "Equals": ["AWS::S3::Object"]}),
            ];
            if !extra.is_null() {
                f.push(extra);
            }
            json!({"EventSelectors": [], "AdvancedEventSelectors": [{"Name": "s3", "FieldSelectors": f}]})
        };
        assert!(covers_all_buckets(&adv(Value::Null), Access::Read));
        assert!(covers_all_buckets(
            &adv(json!({"Field": "readOnly", "Equals": ["false"]})),
            Access::Write
        ));
        assert!(!covers_all_buckets(
            &adv(json!({"Field": "readOnly", "Equals": ["false"]})),
            Access::Read
        ));
        assert!(!covers_all_buckets(
            &adv(json!({"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::acme/"]})),
            Access::Write
        ));
        assert!(!covers_all_buckets(
            &json!({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": []}]}),
            Access::Write
        ));
    }

    #[test]
    fn a_logging_trail_with_data_events_passes() {
        use crate::snapshot::{Entry, Snapshot};
        let mut s = Snapshot {
            account_id: Some("111122223333".into()),
            ..Snapshot::default()
        };
        let r = s.regions.entry("eu-west-1".into()).or_default();
        let ok = |v: Value| Entry::Ok { data: v };
        r.insert("cloudtrail-describe-trails".into(), ok(json!({"trailList": [{"Name": "main", "TrailARN": "arn:trail/main", "HomeRegion": "eu-west-1", "IsMultiRegionTrail": true}]})));
        r.insert(
            "cloudtrail-get-trail-status/main".into(),
            ok(json!({"IsLogging": true})),
        );
        let verdict = |s: &Snapshot, id: &str| {
            crate::evaluate(s, 0)
                .into_iter()
                .find(|f| f.check == id)
                .map(|f| f.status)
        };
        // Selectors not collected: unknown, not fail.
        assert_eq!(
            verdict(&s, "cloudtrail_s3_object_write_events"),
            Some(Status::Unknown)
        );
        let r = s.regions.get_mut("eu-west-1").unwrap();
        r.insert("cloudtrail-get-event-selectors/main".into(), ok(json!({"EventSelectors": [{"ReadWriteType": "WriteOnly", "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]})));
        assert_eq!(
            verdict(&s, "cloudtrail_s3_object_write_events"),
            Some(Status::Pass)
        );
        assert_eq!(
            verdict(&s, "cloudtrail_s3_object_read_events"),
            Some(Status::Fail)
        );
    }
}
