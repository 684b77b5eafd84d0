//! CloudMapper's demo account (../shared/corpus/posture/cloudmapper-demo: 60 real-shape AWS CLI
//! outputs, imported as CloudMapper's `collect` lays them out) has deliberate weaknesses. Harrier
//! must fail each for the right resource, pass what is configured well, and say unknown for
//! every document the capture does not hold, never pass or fail.

use std::path::PathBuf;

use harrier_posture::{evaluate, Snapshot, Status};

const NOW: i64 = 1_593_561_600; // 2020-07-01, around when the demo data was captured

fn demo() -> Snapshot {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/posture/cloudmapper-demo/account-data/demo");
    Snapshot::import_cli_dir(&dir).expect("the shared CloudMapper demo data")
}

fn verdict(findings: &[harrier_posture::Finding], check: &str, resource: &str) -> Status {
    findings
        .iter()
        .find(|f| f.check == check && f.resource == resource)
        .unwrap_or_else(|| panic!("no {check} finding for {resource}"))
        .status
}

#[test]
fn planted_weaknesses_fail_and_good_configuration_passes() {
    let s = demo();
    let f = evaluate(&s, NOW);
    let a = "123456789012";
    for (check, resource, want) in [
        // An inline policy granting everything on a role.
        (
            "iam_no_full_admin_policies",
            format!("arn:aws:iam::{a}:role/bad_role"),
            Status::Fail,
        ),
        (
            "iam_root_no_access_keys",
            format!("arn:aws:iam::{a}:root"),
            Status::Fail,
        ),
        (
            "iam_user_one_active_key",
            format!("arn:aws:iam::{a}:user/user"),
            Status::Fail,
        ),
        (
            "ec2_default_sg_restricts_all",
            "sg-00000001".into(),
            Status::Fail,
        ),
        // Two instances allow IMDSv1; the third capture predates metadata options.
        (
            "ec2_instance_imdsv2_required",
            "i-00000000000000001".into(),
            Status::Fail,
        ),
        (
            "ec2_instance_imdsv2_required",
            "i-00000000000000002".into(),
            Status::Fail,
        ),
        (
            "ec2_instance_imdsv2_required",
            "i-00000000000000000".into(),
            Status::Unknown,
        ),
        (
            "ecr_tag_immutability",
            format!("arn:aws:ecr:us-east-1:{a}:repository/cloudmapper"),
            Status::Fail,
        ),
        (
            "s3_bucket_denies_http",
            "arn:aws:s3:::cloudmapper_demo".into(),
            Status::Fail,
        ),
        // Configured well: the RDS instance and Access Analyzer.
        (
            "rds_instance_storage_encrypted",
            format!("arn:aws:rds:us-east-1:{a}:db:securitymonkey"),
            Status::Pass,
        ),
        (
            "rds_instance_not_public",
            format!("arn:aws:rds:us-east-1:{a}:db:securitymonkey"),
            Status::Pass,
        ),
        ("accessanalyzer_enabled", a.to_string(), Status::Pass),
    ] {
        assert_eq!(verdict(&f, check, &resource), want, "{check} on {resource}");
    }
}

#[test]
fn documents_the_capture_lacks_give_unknown() {
    let f = evaluate(&demo(), NOW);
    let missing: Vec<_> = f
        .iter()
        .filter(|x| x.reason.contains("was not collected"))
        .collect();
    assert!(
        missing.len() >= 10,
        "the demo lacks password policy, NACLs, KMS...: {}",
        missing.len()
    );
    for x in missing {
        assert_eq!(x.status, Status::Unknown, "{x:?}");
    }
}
