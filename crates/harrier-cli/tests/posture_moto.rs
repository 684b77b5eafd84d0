//! `harrier posture scan` against a real AWS API implementation: `moto_server` on 127.0.0.1.
//!
//! tests/moto/build_account.py builds the attack story's account twice, once with exactly the
//! misconfigurations the story relied on and once fixed up. Scanning both must show those
//! checks failing on the planted resources, and only those: whatever else a bare moto account
//! fails (no GuardDuty, no flow logs...) fails in both scans alike. The test starts its own
//! moto_server (`pip install 'moto[server]'`; .ci/run installs it) so it shares no state.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

mod common;
use common::{moto, reset, Moto};

fn build(m: &Moto, mode: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/build_account.py");
    let st = Command::new("python3")
        .arg(script)
        .args([&m.url, mode])
        .status()
        .unwrap();
    assert!(st.success(), "build_account.py {mode} failed");
}

/// Runs `posture scan` and returns its JSON report.
fn scan(m: &Moto, state: &Path, snapshot: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args([
            "posture",
            "scan",
            "--regions",
            "eu-west-1",
            "--region",
            "eu-west-1",
        ])
        .args(["--endpoint-url", &m.url, "--format", "json"])
        .arg("--state-dir")
        .arg(state)
        .arg("--snapshot")
        .arg(snapshot)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Resource ids moto generates anew after a reset (security groups, NACLs, VPCs, KMS keys)
/// are compared by their kind only.
fn norm(s: &BTreeSet<(String, String)>) -> BTreeSet<(String, String)> {
    s.iter()
        .map(|(c, r)| {
            let r = ["sg-", "acl-", "vpc-"]
                .iter()
                .find(|p| r.starts_with(*p))
                .map(|p| format!("{p}*"))
                .or_else(|| r.contains(":key/").then(|| "key/*".to_string()))
                .unwrap_or_else(|| r.clone());
            (c.clone(), r)
        })
        .collect()
}

fn with_status(report: &serde_json::Value, status: &str) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn scan_of_a_moto_account_fails_exactly_the_planted_misconfigurations() {
    let Some(m) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");

    build(&m, "misconfigured");
    let bad = scan(&m, &state, &dir.path().join("bad.json"));
    reset(&m);
    build(&m, "fixed");
    let good = scan(&m, &state, &dir.path().join("good.json"));

    let failed_bad = norm(&with_status(&bad, "fail"));
    let failed_good = norm(&with_status(&good, "fail"));
    let only_bad: BTreeSet<(String, String)> =
        failed_bad.difference(&failed_good).cloned().collect();
    let a = "123456789012";
    let want: BTreeSet<(String, String)> = [
        (
            "iam_user_active_keys_without_mfa",
            format!("arn:aws:iam::{a}:user/ci-deploy"),
        ),
        (
            "iam_user_one_active_key",
            format!("arn:aws:iam::{a}:user/ci-deploy"),
        ),
        (
            "iam_no_full_admin_policies",
            format!("arn:aws:iam::{a}:group/Admins"),
        ),
        (
            "iam_no_iam_full_access_policies",
            format!("arn:aws:iam::{a}:user/backup-svc"),
        ),
        (
            "iam_no_full_admin_policies",
            "arn:aws:iam::aws:policy/AdministratorAccess".to_string(),
        ),
        ("ec2_sg_no_world_admin_ports", "sg-*".to_string()),
        (
            "s3_bucket_public_access_block",
            "arn:aws:s3:::acme-artifacts".to_string(),
        ),
        (
            "s3_bucket_no_public_write",
            "arn:aws:s3:::acme-artifacts".to_string(),
        ),
        (
            "ecr_tag_immutability",
            format!("arn:aws:ecr:eu-west-1:{a}:repository/web"),
        ),
        (
            "cloudtrail_log_file_validation",
            format!("arn:aws:cloudtrail:eu-west-1:{a}:trail/main"),
        ),
        ("kms_cmk_rotation", "key/*".to_string()),
        (
            "eks_endpoint_not_public",
            format!("arn:aws:eks:eu-west-1:{a}:cluster/prod"),
        ),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_string(), r))
    .collect();
    assert_eq!(
        only_bad, want,
        "bad scan: {failed_bad:#?}\ngood scan: {failed_good:#?}"
    );

    // Nothing the fixed account does right fails there, and it fails nothing the bad one passed.
    assert!(
        failed_good.is_subset(&failed_bad),
        "fixed account fails more: {failed_good:#?}"
    );
    // Every planted check passes in the fixed account.
    let passed_good: BTreeSet<String> = with_status(&good, "pass")
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    for (c, _) in &want {
        assert!(
            passed_good.contains(c),
            "{c} does not pass in the fixed account"
        );
    }

    // The history recorded both scans and knows what got fixed.
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["posture", "history", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("FIXED     iam_no_full_admin_policies"),
        "{text}"
    );
    assert!(text.contains("FIXED     eks_endpoint_not_public"), "{text}");
}

#[test]
fn scan_findings_are_imported_into_security_hub() {
    let Some(m) = moto() else { return };
    build(&m, "misconfigured");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args([
            "posture",
            "scan",
            "--regions",
            "eu-west-1",
            "--region",
            "eu-west-1",
        ])
        .args([
            "--endpoint-url",
            &m.url,
            "--format",
            "json",
            "--no-history",
            "--send-security-hub",
        ])
        .arg("--state-dir")
        .arg(dir.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = report["findings"].as_array().unwrap().len();
    assert!(
        err.contains(&format!("imported {n} finding(s)")),
        "{n}: {err}"
    );
    // Read back through the API: every finding is there.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/live.py");
    let back = Command::new("python3")
        .arg(script)
        .arg(&m.url)
        .args(["findings", "eu-west-1"])
        .output()
        .unwrap();
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    let ids: Vec<String> = serde_json::from_slice(&back.stdout).unwrap();
    assert_eq!(ids.len(), n);
}
