//! OCSF and ASFF exports of the story account's findings.

use std::path::PathBuf;

use harrier_posture::export::{asff, asff_type, ocsf};
use harrier_posture::{evaluate, Entry, Snapshot};

const NOW: i64 = 1_763_640_000;

fn story() -> Snapshot {
    let mut s = Snapshot::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/story-misconfigured.json"),
    )
    .unwrap();
    // One check that cannot tell.
    s.regions.get_mut("eu-west-1").unwrap().insert(
        "guardduty-list-detectors".into(),
        Entry::AccessDenied {
            message: "AccessDeniedException".into(),
        },
    );
    s
}

#[test]
fn ocsf_compliance_findings_carry_status_severity_and_requirements() {
    let f = evaluate(&story(), NOW);
    let out = ocsf(&f, "111122223333", NOW);
    assert_eq!(out.len(), f.len());
    assert!(out
        .iter()
        .all(|o| o["class_uid"] == 2003 && o["type_uid"] == 200301));
    let sg = out
        .iter()
        .find(|o| {
            o["compliance"]["control"] == "ec2_sg_no_world_admin_ports"
                && o["compliance"]["status"] == "Fail"
        })
        .unwrap();
    assert_eq!(sg["severity_id"], 5);
    assert_eq!(sg["resources"][0]["uid"], "sg-0a1b2c3d4e5f60718");
    assert!(sg["compliance"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "cis-5.0:5.3"));
    let gd = out
        .iter()
        .find(|o| o["compliance"]["control"] == "guardduty_enabled")
        .unwrap();
    assert_eq!(gd["compliance"]["status_id"], 99);
    assert_eq!(out[0]["time"], NOW * 1000);
}

#[test]
fn asff_never_turns_unknown_into_passed() {
    let f = evaluate(&story(), NOW);
    let out = asff(&f, "111122223333", "eu-west-1", NOW);
    let sg = out
        .iter()
        .find(|o| {
            o["GeneratorId"] == "harrier/ec2_sg_no_world_admin_ports"
                && o["Compliance"]["Status"] == "FAILED"
        })
        .unwrap();
    assert_eq!(sg["Severity"]["Label"], "CRITICAL");
    assert_eq!(sg["Resources"][0]["Type"], "AwsEc2SecurityGroup");
    assert_eq!(sg["Workflow"]["Status"], "NEW");
    let gd = out
        .iter()
        .find(|o| o["GeneratorId"] == "harrier/guardduty_enabled")
        .unwrap();
    assert_eq!(gd["Compliance"]["Status"], "NOT_AVAILABLE");
    // Global findings are filed in the home region; ids are unique.
    let bucket = out
        .iter()
        .find(|o| o["GeneratorId"] == "harrier/s3_bucket_no_public_write")
        .unwrap();
    assert_eq!(bucket["Resources"][0]["Region"], "eu-west-1");
    let ids: std::collections::BTreeSet<&str> =
        out.iter().map(|o| o["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), out.len());
    assert!(out.iter().all(|o| o["Compliance"]["RelatedRequirements"]
        .as_array()
        .unwrap()
        .len()
        <= 32));
}

#[test]
fn asff_type_names() {
    assert_eq!(asff_type("AWS::IAM::User"), "AwsIamUser");
    assert_eq!(asff_type("AWS::S3::Bucket"), "AwsS3Bucket");
    assert_eq!(asff_type("AWS::CloudTrail::Trail"), "AwsCloudTrailTrail");
    assert_eq!(asff_type("AWS::EC2::NetworkAcl"), "AwsEc2NetworkAcl");
}
