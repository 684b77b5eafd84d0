//! The account behind the attack story: a snapshot with exactly the misconfigurations that let
//! it happen must fail exactly those checks, for the right resources; the fixed-up account must
//! pass them; and data that could not be collected must give unknown, never pass or fail.

use std::collections::BTreeSet;
use std::path::PathBuf;

use harrier_posture::{evaluate, Entry, Snapshot, Status};

const NOW: i64 = 1_763_640_000; // 2025-11-20T12:00:00Z

fn fixture(name: &str) -> Snapshot {
    Snapshot::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn failing(s: &Snapshot) -> BTreeSet<(String, String)> {
    evaluate(s, NOW)
        .into_iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| (f.check.to_string(), f.resource))
        .collect()
}

#[test]
fn the_story_account_fails_exactly_its_misconfigurations() {
    let got = failing(&fixture("story-misconfigured.json"));
    let a = "111122223333";
    let want: BTreeSet<(String, String)> = [
        (
            "iam_user_active_keys_without_mfa",
            format!("arn:aws:iam::{a}:user/alice"),
        ),
        (
            "iam_user_one_active_key",
            format!("arn:aws:iam::{a}:user/alice"),
        ),
        (
            "iam_user_keys_rotated_90_days",
            format!("arn:aws:iam::{a}:user/alice"),
        ),
        (
            "iam_user_credentials_unused_45_days",
            format!("arn:aws:iam::{a}:user/alice"),
        ),
        (
            "iam_no_full_admin_policies",
            format!("arn:aws:iam::{a}:group/Admins"),
        ),
        (
            "iam_no_iam_full_access_policies",
            format!("arn:aws:iam::{a}:user/backup-svc"),
        ),
        ("s3_account_public_access_block", a.to_string()),
        (
            "s3_bucket_public_access_block",
            "arn:aws:s3:::acme-artifacts".to_string(),
        ),
        (
            "s3_bucket_no_public_write",
            "arn:aws:s3:::acme-artifacts".to_string(),
        ),
        (
            "ec2_sg_no_world_admin_ports",
            "sg-0a1b2c3d4e5f60718".to_string(),
        ),
        // The iam:* policy sits on the user itself, outside any group.
        (
            "iam_user_permissions_through_groups",
            format!("arn:aws:iam::{a}:user/backup-svc"),
        ),
        // Nothing reports the bucket shared with the world, and object writes go unlogged.
        ("accessanalyzer_enabled", a.to_string()),
        ("cloudtrail_s3_object_write_events", a.to_string()),
        ("cloudtrail_s3_object_read_events", a.to_string()),
        // No alarm when IAM policies, the trail or security groups change.
        ("cloudwatch_alarm_iam_policy_changes", a.to_string()),
        ("cloudwatch_alarm_cloudtrail_changes", a.to_string()),
        ("cloudwatch_alarm_security_group_changes", a.to_string()),
        (
            "ecs_service_exec_disabled",
            format!("arn:aws:ecs:eu-west-1:{a}:service/prod/web"),
        ),
        (
            "ecr_tag_immutability",
            format!("arn:aws:ecr:eu-west-1:{a}:repository/web"),
        ),
        (
            "cloudtrail_log_file_validation",
            format!("arn:aws:cloudtrail:eu-west-1:{a}:trail/main"),
        ),
        (
            "kms_cmk_rotation",
            format!("arn:aws:kms:eu-west-1:{a}:key/k-trail"),
        ),
        (
            "eks_endpoint_not_public",
            format!("arn:aws:eks:eu-west-1:{a}:cluster/prod"),
        ),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_string(), r))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn the_fixed_account_passes_everything_it_can_judge() {
    let s = fixture("story-fixed.json");
    let findings = evaluate(&s, NOW);
    let bad: Vec<_> = findings
        .iter()
        .filter(|f| f.status != Status::Pass)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
    // Every check judged something.
    for c in harrier_posture::checks::ALL.iter() {
        assert!(
            findings.iter().any(|f| f.check == c.id),
            "{} produced no finding",
            c.id
        );
    }
    assert_eq!(
        harrier_posture::score(&findings, |_| true).value,
        Some(100.0)
    );
}

#[test]
fn missing_or_denied_data_is_unknown_never_pass_or_fail() {
    for base in ["story-misconfigured.json", "story-fixed.json"] {
        let mut s = fixture(base);
        for region in s.regions.values_mut() {
            for e in region.values_mut() {
                *e = Entry::AccessDenied {
                    message: "AccessDenied".into(),
                };
            }
        }
        let findings = evaluate(&s, NOW);
        assert!(!findings.is_empty());
        for f in &findings {
            assert_eq!(f.status, Status::Unknown, "{f:?}");
            assert!(f.reason.contains("access denied"), "{f:?}");
        }
        // And with nothing collected at all.
        let empty = Snapshot {
            version: 1,
            regions: [("eu-west-1".to_string(), Default::default())].into(),
            ..Default::default()
        };
        assert!(evaluate(&empty, NOW)
            .iter()
            .all(|f| f.status == Status::Unknown));
    }
}

#[test]
fn root_rules_need_the_root_row() {
    // moto's credential report has no <root_account> row: root checks say unknown.
    let mut s = fixture("story-fixed.json");
    let report = s
        .regions
        .get_mut("global")
        .unwrap()
        .get_mut("iam-get-credential-report")
        .unwrap();
    if let Entry::Ok { data } = report {
        let csv = String::from_utf8(
            harrier_events::base64::decode(data["Content"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let without: Vec<&str> = csv
            .lines()
            .filter(|l| !l.starts_with("<root_account>"))
            .collect();
        data["Content"] = serde_json::Value::String(without.join("\n"));
    }
    let findings = evaluate(&s, NOW);
    let root: Vec<_> = findings
        .iter()
        .filter(|f| f.check.starts_with("iam_root"))
        .collect();
    assert_eq!(root.len(), 4);
    assert!(root
        .iter()
        .all(|f| f.status == Status::Unknown && f.reason.contains("<root_account>")));
}

#[test]
fn every_check_is_documented_and_mapped() {
    for c in harrier_posture::checks::ALL.iter() {
        assert!(
            !c.rationale.is_empty() && !c.remediation.is_empty() && !c.title.is_empty(),
            "{}",
            c.id
        );
        assert!(
            c.id.starts_with(c.service) || c.id.starts_with("vpc_"),
            "{} under {}",
            c.id,
            c.service
        );
    }
    let mapped = harrier_posture::checks::ALL
        .iter()
        .filter(|c| !c.frameworks().is_empty())
        .count();
    assert!(mapped >= 25, "{mapped}");
}

#[test]
fn root_mfa_on_a_virtual_device_fails_the_hardware_check_only() {
    let mut s = fixture("story-fixed.json");
    s.regions.get_mut("global").unwrap().insert(
        "iam-list-virtual-mfa-devices".into(),
        Entry::Ok {
            data: serde_json::json!({"VirtualMFADevices": [{
                "SerialNumber": "arn:aws:iam::111122223333:mfa/root-account-mfa-device",
                "User": {"Arn": "arn:aws:iam::111122223333:root"}
            }, {
                "SerialNumber": "arn:aws:iam::111122223333:mfa/alice",
                "User": {"Arn": "arn:aws:iam::111122223333:user/alice"}
            }]}),
        },
    );
    let status = |s: &Snapshot, check: &str| {
        evaluate(s, NOW)
            .into_iter()
            .find(|f| f.check == check)
            .map(|f| f.status)
    };
    assert_eq!(status(&s, "iam_root_hardware_mfa"), Some(Status::Fail));
    assert_eq!(status(&s, "iam_root_mfa_enabled"), Some(Status::Pass));
    // A user's virtual device is no concern of the root check.
    if let Some(Entry::Ok { data }) = s
        .regions
        .get_mut("global")
        .unwrap()
        .get_mut("iam-list-virtual-mfa-devices")
    {
        data["VirtualMFADevices"].as_array_mut().unwrap().remove(0);
    }
    assert_eq!(status(&s, "iam_root_hardware_mfa"), Some(Status::Pass));
}

#[test]
fn an_account_without_a_support_role_fails_that_check() {
    let mut s = fixture("story-fixed.json");
    if let Some(Entry::Ok { data }) = s
        .regions
        .get_mut("global")
        .unwrap()
        .get_mut("iam-get-account-authorization-details")
    {
        data["RoleDetailList"] = serde_json::json!([]);
    }
    let f: Vec<_> = evaluate(&s, NOW)
        .into_iter()
        .filter(|f| f.check == "iam_support_role_exists")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].status, Status::Fail);
}
