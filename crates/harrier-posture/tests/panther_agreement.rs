//! Agreement with Panther's policy tests (../shared/corpus/posture/panther-policy-resources.jsonl):
//! each resource of a Panther policy whose intent a Harrier check shares is put into a snapshot
//! the way `posture collect` would record it, evaluated, and Harrier's verdict (no failing
//! finding = compliant) compared with Panther's expected result. The cases where the two
//! deliberately differ are listed with the reason; any other disagreement fails the test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harrier_posture::{evaluate, Entry, Snapshot, Status};
use serde_json::{json, Value};

const NOW: i64 = 1_546_387_200; // 2019-01-02T00:00:00Z, the corpus's own era

fn corpus() -> Vec<Value> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/posture/panther-policy-resources.jsonl");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ok(data: Value) -> Entry {
    Entry::Ok { data }
}

fn not_configured() -> Entry {
    Entry::NotConfigured {
        message: "not configured".into(),
    }
}

fn snapshot(docs: Vec<(&str, String, Entry)>) -> Snapshot {
    let mut regions: BTreeMap<String, BTreeMap<String, Entry>> = BTreeMap::new();
    for (region, key, e) in docs {
        regions
            .entry(region.to_string())
            .or_default()
            .insert(key, e);
    }
    Snapshot {
        version: 1,
        account_id: Some("123456789012".into()),
        collected_at: None,
        regions,
    }
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// The Harrier check sharing the Panther policy's intent, and the snapshot of the resource.
fn adapt(rule: &str, e: &Value) -> Option<(&'static str, Snapshot)> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    Some(match rule {
        "AWS.PasswordPolicy.PasswordReuse" => (
            "iam_password_policy_reuse_24",
            snapshot(vec![(
                "global",
                "iam-get-account-password-policy".into(),
                if e["AnyExist"] == Value::Bool(false) {
                    not_configured()
                } else {
                    ok(json!({ "PasswordPolicy": e }))
                },
            )]),
        ),
        "AWS.CloudTrail.LogValidation" | "AWS.CloudTrail.LogEncryption" => {
            let region = e["HomeRegion"].as_str().unwrap_or("us-east-1");
            let check = if rule.ends_with("LogValidation") {
                "cloudtrail_log_file_validation"
            } else {
                "cloudtrail_kms_encryption"
            };
            (
                check,
                snapshot(vec![
                    (
                        region,
                        "cloudtrail-describe-trails".into(),
                        ok(json!({"trailList": [e]})),
                    ),
                    (
                        region,
                        format!("cloudtrail-get-trail-status/{}", s(&e["Name"])),
                        ok(e["Status"].clone()),
                    ),
                ]),
            )
        }
        "AWS.CMK.KeyRotation" => {
            let arn = s(&e["Arn"]);
            let region = arn.split(':').nth(3).unwrap_or("us-east-1").to_string();
            let id = s(&e["KeyId"]);
            let region: &'static str = Box::leak(region.into_boxed_str());
            (
                "kms_cmk_rotation",
                snapshot(vec![
                    (
                        region,
                        "kms-list-keys".into(),
                        ok(json!({"Keys": [{"KeyId": id, "KeyArn": arn}]})),
                    ),
                    (
                        region,
                        format!("kms-describe-key/{id}"),
                        ok(json!({"KeyMetadata": {
                            "KeyId": id, "KeyManager": e["KeyManager"], "KeyState": e["KeyState"],
                            "KeySpec": e.get("KeySpec").cloned().unwrap_or(json!("SYMMETRIC_DEFAULT")),
                        }})),
                    ),
                    (
                        region,
                        format!("kms-get-key-rotation-status/{id}"),
                        ok(json!({"KeyRotationEnabled": e["KeyRotationEnabled"]})),
                    ),
                ]),
            )
        }
        "AWS.S3.Bucket.PublicWrite" | "AWS.S3.Bucket.PublicAccessBlock" => {
            let name = s(&e["Name"]);
            let check = if rule.ends_with("PublicWrite") {
                "s3_bucket_no_public_write"
            } else {
                "s3_bucket_public_access_block"
            };
            (
                check,
                snapshot(vec![
                    (
                        "global",
                        "s3-list-buckets".into(),
                        ok(json!({"Buckets": [{"Name": name}]})),
                    ),
                    (
                        "global",
                        format!("s3-get-bucket-acl/{name}"),
                        ok(json!({"Owner": e["Owner"], "Grants": e["Grants"]})),
                    ),
                    (
                        "global",
                        format!("s3-get-bucket-policy/{name}"),
                        match e["Policy"].as_str() {
                            Some(p) => ok(json!({ "Policy": p })),
                            None => not_configured(),
                        },
                    ),
                    (
                        "global",
                        format!("s3-get-public-access-block/{name}"),
                        match &e["PublicAccessBlockConfiguration"] {
                            Value::Null => not_configured(),
                            c => ok(json!({ "PublicAccessBlockConfiguration": c })),
                        },
                    ),
                ]),
            )
        }
        "AWS.NetworkACL.RestrictedSSH" => {
            let region: &'static str = Box::leak(s(&e["Region"]).into_boxed_str());
            (
                "ec2_nacl_no_world_admin_ports",
                snapshot(vec![(
                    region,
                    "ec2-describe-network-acls".into(),
                    ok(json!({"NetworkAcls": [e]})),
                )]),
            )
        }
        "AWS.RootAccount.AccessKeys" | "AWS.RootAccount.MFA" => {
            let r = &e["CredentialReport"];
            let b = |v: &Value| v.as_bool().unwrap_or(false).to_string();
            let csv = format!(
                "{REPORT_HEADER}\n<root_account>,arn:aws:iam::123456789012:root,2018-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,{},{},N/A,N/A,N/A,N/A,{},N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
                b(&r["MfaActive"]),
                b(&r["AccessKey1Active"]),
                b(&r["AccessKey2Active"])
            );
            let check = if rule.ends_with("MFA") {
                "iam_root_mfa_enabled"
            } else {
                "iam_root_no_access_keys"
            };
            (
                check,
                snapshot(vec![(
                    "global",
                    "iam-get-credential-report".into(),
                    ok(json!({"Content": csv})),
                )]),
            )
        }
        "AWS.IAM.Policy.AdministrativePrivileges" => (
            "iam_no_full_admin_policies",
            snapshot(vec![(
                "global",
                "iam-get-account-authorization-details".into(),
                ok(json!({
                    "UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [],
                    "Policies": [{
                        "PolicyName": e["PolicyName"], "Arn": e["Arn"],
                        "AttachmentCount": e["AttachmentCount"], "DefaultVersionId": "v1",
                        "PolicyVersionList": [{"Document": e["PolicyDocument"], "VersionId": "v1", "IsDefaultVersion": true}],
                    }],
                })),
            )]),
        ),
        _ => return None,
    })
}

/// Deliberate differences: (rule, test name) -> why Harrier's verdict differs.
const DIFFERENCES: &[(&str, &str, &str)] = &[(
    "AWS.S3.Bucket.PublicAccessBlock",
    "Public Access Block Configuration Is Set",
    "Panther accepts a block with only the two ACL settings on; CIS 2.1.4 and Harrier want all \
     four, since BlockPublicPolicy and RestrictPublicBuckets are what stop a public bucket policy",
)];

#[test]
fn harrier_agrees_with_panther_where_the_intent_is_the_same() {
    let mut compared = 0;
    let mut disagree = Vec::new();
    for case in corpus() {
        let rule = case["rule_id"].as_str().unwrap();
        let Some((check, snap)) = adapt(rule, &case["event"]) else {
            continue;
        };
        let findings: Vec<_> = evaluate(&snap, NOW)
            .into_iter()
            .filter(|f| f.check == check)
            .collect();
        let test = case["test_name"].as_str().unwrap_or("?");
        assert!(
            !findings.iter().any(|f| f.status == Status::Unknown),
            "{rule} / {test}: unknown: {findings:?}"
        );
        let compliant = !findings.iter().any(|f| f.status == Status::Fail);
        compared += 1;
        if Some(compliant) != case["expected_result"].as_bool() {
            disagree.push((rule.to_string(), test.to_string(), findings));
        }
    }
    assert!(compared >= 30, "only {compared} cases compared");
    let unexpected: Vec<_> = disagree
        .iter()
        .filter(|(r, t, _)| !DIFFERENCES.iter().any(|(dr, dt, _)| dr == r && dt == t))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{compared} compared; disagreements: {unexpected:#?}"
    );
    assert_eq!(
        disagree.len(),
        DIFFERENCES.len(),
        "a listed difference no longer occurs"
    );
}
