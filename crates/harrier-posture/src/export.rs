//! Findings in the two interchange formats security tooling reads: OCSF Compliance Finding
//! (class 2003, one JSON object per line) and AWS Security Finding Format (ASFF, the shape
//! Security Hub's BatchImportFindings takes).

use serde_json::{json, Value};

use crate::{check, Finding, Severity, Status};

/// OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.1.0";

fn iso(secs: i64) -> String {
    harrier_events::time::format_iso8601(secs.saturating_mul(1_000_000_000))
}

/// At most `max` characters (Security Hub's field limits).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 3).collect::<String>() + "..."
    }
}

/// `AWS::EC2::SecurityGroup` -> `AwsEc2SecurityGroup`, the ASFF resource type names:
/// all-capital segments (`AWS`, `EC2`, `IAM`) are capitalised, CamelCase ones kept.
pub fn asff_type(cfn: &str) -> String {
    cfn.split("::")
        .map(|seg| {
            if seg
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                let mut cs = seg.chars();
                cs.next().map_or(String::new(), |f| {
                    f.to_string() + &cs.as_str().to_ascii_lowercase()
                })
            } else {
                seg.to_string()
            }
        })
        .collect()
}

/// A stable id for a finding: check, region and resource.
fn uid(account: &str, f: &Finding) -> String {
    format!("harrier/{account}/{}/{}/{}", f.region, f.check, f.resource)
}

/// OCSF Compliance Finding objects.
pub fn ocsf(findings: &[Finding], account: &str, now: i64) -> Vec<Value> {
    findings
        .iter()
        .map(|f| {
            let c = check(f.check);
            let severity_id = match c.map(|c| c.severity) {
                Some(Severity::Critical) => 5,
                Some(Severity::High) => 4,
                Some(Severity::Medium) => 3,
                Some(Severity::Low) => 2,
                None => 0,
            };
            let (status, status_id) = match f.status {
                Status::Pass => ("Pass", 1),
                Status::Fail => ("Fail", 3),
                Status::Unknown => ("Unknown", 99),
            };
            let standards: Vec<String> = c
                .map(|c| c.frameworks().iter().map(|(fw, _)| fw.to_string()).collect())
                .unwrap_or_default();
            let requirements: Vec<String> = c
                .map(|c| {
                    c.frameworks()
                        .iter()
                        .flat_map(|(fw, ids)| ids.iter().map(move |i| format!("{fw}:{i}")))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "class_uid": 2003,
                "class_name": "Compliance Finding",
                "category_uid": 2,
                "category_name": "Findings",
                "activity_id": 1,
                "type_uid": 200301,
                "time": now * 1000,
                "severity_id": severity_id,
                "status_id": 1,
                "message": f.reason,
                "metadata": {
                    "version": OCSF_VERSION,
                    "product": {"name": "Harrier", "vendor_name": "Harrier", "version": env!("CARGO_PKG_VERSION")},
                },
                "finding_info": {
                    "uid": uid(account, f),
                    "title": c.map(|c| c.title),
                    "desc": c.map(|c| c.rationale),
                    "types": [f.check],
                },
                "compliance": {
                    "control": f.check,
                    "status": status,
                    "status_id": status_id,
                    "status_detail": f.reason,
                    "standards": standards,
                    "requirements": requirements,
                },
                "remediation": {"desc": c.map(|c| c.remediation), "references": c.map(|c| c.cli)},
                "resources": [{"uid": f.resource, "type": c.map(|c| c.resource_type), "region": f.region}],
                "cloud": {"provider": "AWS", "account": {"uid": account}, "region": f.region},
            })
        })
        .collect()
}

/// ASFF findings. Unknown findings are `NOT_AVAILABLE`, never `PASSED`.
pub fn asff(findings: &[Finding], account: &str, home_region: &str, now: i64) -> Vec<Value> {
    let at = iso(now);
    findings
        .iter()
        .map(|f| {
            let c = check(f.check);
            let label = match c.map(|c| c.severity) {
                Some(Severity::Critical) => "CRITICAL",
                Some(Severity::High) => "HIGH",
                Some(Severity::Medium) => "MEDIUM",
                Some(Severity::Low) => "LOW",
                None => "INFORMATIONAL",
            };
            let (status, label) = match f.status {
                Status::Pass => ("PASSED", "INFORMATIONAL"),
                Status::Fail => ("FAILED", label),
                Status::Unknown => ("NOT_AVAILABLE", "INFORMATIONAL"),
            };
            let region = if f.region == crate::snapshot::GLOBAL {
                home_region
            } else {
                f.region.as_str()
            };
            let rtype = c.map_or("Other".into(), |c| asff_type(c.resource_type));
            // Security Hub takes at most 32 related requirements.
            let related: Vec<String> = c
                .map(|c| {
                    c.frameworks()
                        .iter()
                        .flat_map(|(fw, ids)| ids.iter().map(move |i| format!("{fw} {i}")))
                        .take(32)
                        .collect()
                })
                .unwrap_or_default();
            let mut text = c.map_or(String::new(), |c| c.remediation.to_string());
            if let Some(cli) = c.and_then(|c| c.cli.first()) {
                text.push_str(" Run: ");
                text.push_str(cli);
            }
            // Security Hub limits the recommendation text to 512 characters.
            text = cut(&text, 512);
            json!({
                "SchemaVersion": "2018-10-08",
                "Id": uid(account, f),
                "ProductArn": format!("arn:aws:securityhub:{region}:{account}:product/{account}/default"),
                "GeneratorId": format!("harrier/{}", f.check),
                "AwsAccountId": account,
                "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
                "CreatedAt": at,
                "UpdatedAt": at,
                "Severity": {"Label": label},
                "Title": c.map_or(f.check, |c| c.title),
                "Description": cut(&f.reason, 1024),
                "Remediation": {"Recommendation": {"Text": text}},
                "Resources": [{"Type": rtype, "Id": f.resource, "Region": region}],
                "Compliance": {"Status": status, "RelatedRequirements": related},
                "Workflow": {"Status": if f.status == Status::Fail { "NEW" } else { "RESOLVED" }},
                "RecordState": "ACTIVE",
                "ProductFields": {"harrier/check": f.check},
            })
        })
        .collect()
}
