//! Logging and detection checks: CloudTrail, KMS rotation, AWS Config, GuardDuty, Security Hub.

use serde_json::Value;

use crate::check::{missing, Check, Ctx, Finding, Severity, Status};
use crate::snapshot::Entry;

/// Trails, deduplicated across regions (a multi-region trail is listed in every region).
pub(super) fn trails<'a>(
    cx: &Ctx<'a>,
    out: &mut Vec<Finding>,
) -> Option<Vec<(&'a str, &'a Value)>> {
    let mut seen: Vec<(&'a str, &'a Value)> = Vec::new();
    let mut any_region = false;
    for region in cx.snap.regions() {
        match cx.doc(region, "cloudtrail-describe-trails") {
            Ok(d) => {
                any_region = true;
                for t in d["trailList"].as_array().into_iter().flatten() {
                    let arn = t["TrailARN"].as_str().unwrap_or("?");
                    if !seen.iter().any(|(a, _)| *a == arn) {
                        seen.push((arn, t));
                    }
                }
            }
            Err(e) => out.push(cx.unknown(region, e)),
        }
    }
    any_region.then_some(seen)
}

fn trail_region(t: &Value) -> &str {
    t["HomeRegion"].as_str().unwrap_or("global")
}

pub(super) fn is_logging(cx: &Ctx<'_>, t: &Value) -> Option<bool> {
    let name = t["Name"].as_str()?;
    let home = trail_region(t);
    for region in [home].into_iter().chain(cx.snap.regions()) {
        for key in [
            format!("cloudtrail-get-trail-status/{name}"),
            format!(
                "cloudtrail-get-trail-status/{}",
                t["TrailARN"].as_str().unwrap_or("")
            ),
        ] {
            if let Ok(s) = cx.doc(region, &key) {
                return s["IsLogging"].as_bool();
            }
        }
    }
    None
}

pub static MULTI_REGION: Check = Check {
    id: "cloudtrail_multi_region_logging",
    title: "A multi-region CloudTrail trail is logging",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Critical,
    rationale: "Without a logging multi-region trail, activity in some regions (where attackers hide) is not recorded at all.",
    remediation: "Create a multi-region trail with management events (read and write) and start it.",
    cli: &["aws cloudtrail create-trail --name main --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation", "aws cloudtrail start-logging --name main"],
    frameworks: &[
            ("cis-5.0", &["3.1"]),
            (
                "pci-4.0",
                &[
                    "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5",
                    "10.2.1.6", "10.2.1.7", "10.2.2", "10.3.1", "10.6.3", "5.3.4", "A1.2.1",
                ],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-3", "AC-4", "AC-6", "AU-10", "AU-12", "AU-14", "AU-2", "AU-3",
                    "AU-6", "AU-8", "CA-7", "CM-5", "CM-6", "CM-9", "IA-3", "MA-4", "PM-14",
                    "PM-31", "SC-7", "SI-1", "SI-10", "SI-3", "SI-4", "SI-7",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AU-12", "AU-2", "AU-3", "CM-2"]),
            ("soc2", &["cc_2_1", "cc_7_2", "a_1_1", "pi_1_3"]),
        ],
    eval: |cx, out| {
        let Some(ts) = trails(cx, out) else { return };
        let good = ts.iter().find(|(_, t)| t["IsMultiRegionTrail"].as_bool() == Some(true) && is_logging(cx, t) == Some(true));
        out.push(match good {
            Some((arn, _)) => cx.finding("global", *arn, Status::Pass, "multi-region trail logging"),
            None if ts.iter().any(|(_, t)| t["IsMultiRegionTrail"].as_bool() == Some(true) && is_logging(cx, t).is_none()) => {
                cx.unknown("global", "a multi-region trail exists but its status was not collected".into())
            }
            None => cx.finding("global", cx.account(), Status::Fail, "no multi-region trail is logging"),
        });
    },
};

fn per_trail(
    cx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    ok: &dyn Fn(&Value) -> bool,
    pass: &str,
    fail: &str,
) {
    let Some(ts) = trails(cx, out) else { return };
    if ts.is_empty() {
        out.push(cx.finding("global", cx.account(), Status::Fail, "no trail"));
    }
    for (arn, t) in ts {
        out.push(if ok(t) {
            cx.finding(trail_region(t), arn, Status::Pass, pass)
        } else {
            cx.finding(trail_region(t), arn, Status::Fail, fail)
        });
    }
}

pub static LOG_VALIDATION: Check = Check {
    id: "cloudtrail_log_file_validation",
    title: "CloudTrail log file validation is on",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Medium,
    rationale: "Digest files prove that log files were not changed or deleted after delivery.",
    remediation: "Enable log file validation on the trail.",
    cli: &["aws cloudtrail update-trail --name <trail> --enable-log-file-validation"],
    frameworks: &[
        ("cis-5.0", &["3.2"]),
        ("pci-4.0", &["10.3.2", "10.3.3", "10.3.4", "A1.2.1"]),
        (
            "nist-800-53-r5",
            &[
                "AU-9", "CM-6", "CM-9", "PM-11", "PM-17", "SA-1", "SA-10", "SC-16", "SI-1", "SI-4",
                "SI-7",
            ],
        ),
        ("nist-800-53-r4", &["SI-7"]),
        ("soc2", &["cc_7_3", "pi_1_3"]),
    ],
    eval: |cx, out| {
        per_trail(
            cx,
            out,
            &|t| t["LogFileValidationEnabled"].as_bool() == Some(true),
            "validation on",
            "log file validation is off",
        )
    },
};

pub static KMS_ENCRYPTION: Check = Check {
    id: "cloudtrail_kms_encryption",
    title: "CloudTrail logs are encrypted with a KMS key",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Medium,
    rationale:
        "A KMS key adds a second permission, separate from the bucket's, needed to read the logs.",
    remediation: "Create a KMS key with a policy for CloudTrail and set it on the trail.",
    cli: &["aws cloudtrail update-trail --name <trail> --kms-key-id <key arn>"],
    frameworks: &[
        ("cis-5.0", &["3.5"]),
        (
            "pci-4.0",
            &["10.3.2", "10.3.3", "10.3.4", "3.5.1", "8.3.2", "A1.2.1"],
        ),
        (
            "nist-800-53-r5",
            &[
                "AU-9", "CM-6", "CM-9", "CP-9", "SC-13", "SC-28", "SC-8", "SI-19",
            ],
        ),
        ("nist-800-53-r4", &["AU-9", "SC-28"]),
    ],
    eval: |cx, out| {
        per_trail(
            cx,
            out,
            &|t| t["KmsKeyId"].as_str().is_some_and(|k| !k.is_empty()),
            "encrypted with KMS",
            "not encrypted with a KMS key",
        )
    },
};

pub static CLOUDWATCH: Check = Check {
    id: "cloudtrail_cloudwatch_logs",
    title: "CloudTrail delivers to CloudWatch Logs",
    service: "cloudtrail",
    resource_type: "AWS::CloudTrail::Trail",
    severity: Severity::Low,
    rationale: "CloudWatch Logs delivery is what metric filters and alarms on API activity need.",
    remediation: "Configure a CloudWatch Logs log group and role on the trail.",
    cli: &["aws cloudtrail update-trail --name <trail> --cloud-watch-logs-log-group-arn <arn> --cloud-watch-logs-role-arn <role arn>"],
    frameworks: &[],
    eval: |cx, out| per_trail(cx, out, &|t| t["CloudWatchLogsLogGroupArn"].as_str().is_some_and(|k| !k.is_empty()), "delivers to CloudWatch Logs", "no CloudWatch Logs delivery"),
};

pub static KMS_ROTATION: Check = Check {
    id: "kms_cmk_rotation",
    title: "Customer-managed symmetric KMS keys rotate yearly",
    service: "kms",
    resource_type: "AWS::KMS::Key",
    severity: Severity::Medium,
    rationale: "Rotation limits how much data a single compromised key version protects.",
    remediation: "Enable automatic rotation on the key.",
    cli: &["aws kms enable-key-rotation --key-id <key id>"],
    frameworks: &[
        ("cis-5.0", &["3.6"]),
        ("pci-4.0", &["3.7.4", "3.7.5"]),
        ("nist-800-53-r5", &["CM-6", "CM-9", "SA-9", "SC-12"]),
        ("nist-800-53-r4", &["SC-12"]),
        ("soc2", &["pi_1_5"]),
    ],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            let keys = match cx.doc(region, "kms-list-keys") {
                Ok(k) => k,
                Err(e) => {
                    out.push(cx.unknown(region, e));
                    continue;
                }
            };
            for k in keys["Keys"].as_array().into_iter().flatten() {
                let id = k["KeyId"].as_str().unwrap_or("?");
                let arn = k["KeyArn"].as_str().unwrap_or(id).to_string();
                let meta = match cx.doc(region, &format!("kms-describe-key/{id}")) {
                    Ok(m) => &m["KeyMetadata"],
                    Err(e) => {
                        out.push(cx.finding(region, arn, Status::Unknown, e));
                        continue;
                    }
                };
                let symmetric = meta["KeySpec"]
                    .as_str()
                    .or(meta["CustomerMasterKeySpec"].as_str())
                    .unwrap_or("SYMMETRIC_DEFAULT")
                    == "SYMMETRIC_DEFAULT";
                if meta["KeyManager"] != "CUSTOMER"
                    || !symmetric
                    || meta["KeyState"] == "PendingDeletion"
                {
                    continue;
                }
                let key = format!("kms-get-key-rotation-status/{id}");
                out.push(match cx.doc(region, &key) {
                    Ok(r) if r["KeyRotationEnabled"].as_bool() == Some(true) => {
                        cx.finding(region, arn, Status::Pass, "rotation on")
                    }
                    Ok(_) => cx.finding(region, arn, Status::Fail, "rotation off"),
                    Err(e) => cx.finding(region, arn, Status::Unknown, e),
                });
            }
        }
    },
};

fn regional_service(
    cx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    key: &str,
    on: &dyn Fn(&Value) -> bool,
    what: &str,
) {
    for region in cx.snap.regions() {
        let f = match cx.snap.entry(region, key) {
            Some(Entry::Ok { data }) if on(data) => {
                cx.finding(region, region, Status::Pass, format!("{what} on"))
            }
            Some(Entry::Ok { .. }) | Some(Entry::NotConfigured { .. }) => {
                cx.finding(region, region, Status::Fail, format!("{what} off"))
            }
            other => cx.unknown(region, missing(key, other)),
        };
        out.push(f);
    }
}

pub static CONFIG_RECORDER: Check = Check {
    id: "config_recorder_enabled",
    title: "AWS Config records in every region",
    service: "config",
    resource_type: "AWS::Config::ConfigurationRecorder",
    severity: Severity::Medium,
    rationale: "Config keeps the history of resource configurations that investigations and audits need.",
    remediation: "Create a configuration recorder and a delivery channel, then start recording, in each region.",
    cli: &["aws configservice put-configuration-recorder --configuration-recorder name=default,roleARN=<role> --recording-group allSupported=true,includeGlobalResourceTypes=true", "aws configservice start-configuration-recorder --configuration-recorder-name default"],
    frameworks: &[
            ("cis-5.0", &["3.3"]),
            ("soc2", &["cc_2_1", "cc_3_1", "cc_3_4", "cc_8_1", "pi_1_3"]),
        ],
    eval: |cx, out| regional_service(cx, out, "config-describe-configuration-recorder-status", &|d| {
        d["ConfigurationRecordersStatus"].as_array().into_iter().flatten().any(|r| r["recording"].as_bool() == Some(true))
    }, "recording"),
};

pub static GUARDDUTY: Check = Check {
    id: "guardduty_enabled",
    title: "GuardDuty is enabled in every region",
    service: "guardduty",
    resource_type: "AWS::GuardDuty::Detector",
    severity: Severity::High,
    rationale:
        "GuardDuty catches credential misuse and crypto-mining that no other control reports.",
    remediation: "Create a detector in each region (or enable it organisation-wide).",
    cli: &["aws guardduty create-detector --enable --region <region>"],
    frameworks: &[
        ("pci-4.0", &["11.5.1", "11.5.1.1"]),
        (
            "nist-800-53-r5",
            &[
                "AC-2", "AC-3", "AU-12", "AU-14", "AU-3", "AU-6", "CA-2", "CA-7", "CM-8", "PE-6",
                "PM-14", "PM-16", "PM-31", "RA-1", "RA-10", "RA-3", "RA-5", "SC-43", "SC-5",
                "SI-3", "SI-4", "SI-5",
            ],
        ),
        (
            "nist-800-53-r4",
            &["AC-17", "AC-2", "AU-6", "CA-7", "RA-5", "SA-10", "SI-4"],
        ),
        (
            "soc2",
            &[
                "cc_3_1", "cc_3_2", "cc_4_2", "cc_6_8", "cc_7_1", "cc_7_2", "cc_7_3", "cc_7_4",
            ],
        ),
    ],
    eval: |cx, out| {
        regional_service(
            cx,
            out,
            "guardduty-list-detectors",
            &|d| d["DetectorIds"].as_array().is_some_and(|a| !a.is_empty()),
            "GuardDuty",
        )
    },
};

pub static SECURITY_HUB: Check = Check {
    id: "securityhub_enabled",
    title: "Security Hub is enabled in every region",
    service: "securityhub",
    resource_type: "AWS::SecurityHub::Hub",
    severity: Severity::Medium,
    rationale: "Security Hub gathers findings from every AWS security service in one place.",
    remediation: "Enable Security Hub in each region.",
    cli: &["aws securityhub enable-security-hub --region <region>"],
    frameworks: &[
        ("cis-5.0", &["4.16"]),
        (
            "pci-4.0",
            &[
                "10.2.1.1", "10.4.1", "10.4.1.1", "10.4.2", "10.6.3", "10.7.1", "10.7.2", "A3.3.1",
                "A3.5.1",
            ],
        ),
        (
            "nist-800-53-r5",
            &["AU-12", "AU-14", "AU-6", "CA-2", "CA-7", "PM-14", "PM-31"],
        ),
        (
            "nist-800-53-r4",
            &["AC-17", "AC-2", "AU-6", "CA-7", "SA-10", "SI-4"],
        ),
        (
            "soc2",
            &["cc_3_1", "cc_6_8", "cc_7_1", "cc_7_2", "cc_7_3", "cc_7_4"],
        ),
    ],
    eval: |cx, out| {
        regional_service(
            cx,
            out,
            "securityhub-describe-hub",
            &|d| d["HubArn"].is_string(),
            "Security Hub",
        )
    },
};
