//! `harrier posture` end to end on the story snapshots: real processes, real files, exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../harrier-posture/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

const NOW: &str = "2025-11-20T12:00:00Z";

#[test]
fn evaluate_fail_on_and_formats() {
    let bad = fixture("story-misconfigured.json");
    let good = fixture("story-fixed.json");
    // --fail-on critical: the world-open SSH port fails the misconfigured account only.
    let out = run(&[
        "posture",
        "evaluate",
        &bad,
        "--now",
        NOW,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("ec2_sg_no_world_admin_ports"), "{table}");
    let out = run(&[
        "posture",
        "evaluate",
        &good,
        "--now",
        NOW,
        "--fail-on",
        "low",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = run(&[
        "posture", "evaluate", &bad, "--now", NOW, "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["score"].as_f64().unwrap() < 100.0);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check"] == "s3_bucket_no_public_write"
            && f["status"] == "fail"
            && f["cli"].as_array().is_some_and(|c| !c.is_empty())));

    let out = run(&[
        "posture", "evaluate", &bad, "--now", NOW, "--format", "ocsf",
    ]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|o| o["class_uid"] == 2003));

    let out = run(&[
        "posture", "evaluate", &bad, "--now", NOW, "--format", "asff",
    ]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(a
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["Compliance"]["Status"] == "FAILED"));

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let out = run(&[
        "posture",
        "evaluate",
        &bad,
        "--now",
        NOW,
        "--format",
        "html",
        "--state-dir",
        state,
    ]);
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with("<!DOCTYPE html>") && page.contains("<svg"),
        "{page}"
    );
}

#[test]
fn report_per_framework_and_unknown_framework() {
    let bad = fixture("story-misconfigured.json");
    let out = run(&[
        "posture",
        "report",
        &bad,
        "--now",
        NOW,
        "--framework",
        "cis-5.0",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    // CIS 5.3 (world-open admin ports) fails in the story account.
    assert!(
        text.lines()
            .any(|l| l.contains("5.3") && l.to_lowercase().contains("fail")),
        "{text}"
    );
    let out = run(&["posture", "report", &bad, "--framework", "iso-27001"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown framework 'iso-27001'"));
}

#[test]
fn a_snapshot_that_is_not_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("snap.json");
    std::fs::write(&p, b"{\"regions\": [1, 2]").unwrap();
    let out = run(&["posture", "evaluate", p.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("snap.json") && err.contains("not a snapshot"),
        "{err}"
    );
}

#[test]
fn checks_lists_every_check_with_its_cis_id() {
    let out = run(&["posture", "checks"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), harrier_count());
    assert!(text
        .lines()
        .any(|l| l.starts_with("s3_bucket_denies_http") && l.contains("2.1.1")));
}

fn harrier_count() -> usize {
    // Counted from the source so that adding a check does not need this test edited.
    let src = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../harrier-posture/src/checks/mod.rs"),
    )
    .unwrap();
    let start = src.find("pub static ALL: [&Check; ").unwrap() + "pub static ALL: [&Check; ".len();
    src[start..].split(']').next().unwrap().parse().unwrap()
}
