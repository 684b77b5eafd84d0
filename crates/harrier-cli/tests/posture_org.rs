//! `harrier posture scan --org` against a moto organisation of 20 member accounts (built by
//! tests/moto/build_org.py): each account is reached through a role assumed in it with an external
//! id, its planted misconfiguration is reported, and the one account whose role is missing is
//! reported as not assessed (moto is run with AssumeRole refused for a missing role, as AWS
//! does).

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn every_member_account_is_scanned_and_one_without_its_role_is_not_assessed() {
    let Some(m) = common::moto_strict_roles() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/build_org.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&m.url)
        .arg("20")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_harrier"))
            .args([
                "posture",
                "scan",
                "--org",
                "--role-name",
                "HarrierAudit",
                "--regions",
                "eu-west-1",
                "--region",
                "eu-west-1",
                "--endpoint-url",
                &m.url,
                "--state-dir",
            ])
            .arg(dir.path())
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let t = std::time::Instant::now();
    let out = run(&["--external-id", "harrier-ext", "--format", "json"]);
    eprintln!("organisation scan of 21 accounts: {:?}", t.elapsed());
    assert_eq!(
        out.status.code(),
        Some(2),
        "one account not assessed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = report["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 21, "20 members and the management account");
    assert_eq!(report["organisation"]["assessed"], 20);
    assert_eq!(report["organisation"]["not_assessed"], 1);
    let by_id = |id: &str| accounts.iter().find(|a| a["account"] == id).unwrap();
    let missing = by_id(built["missing"].as_str().unwrap());
    assert_eq!(missing["assessed"], false);
    assert!(
        missing["reason"].as_str().unwrap().contains("AccessDenied"),
        "{missing}"
    );
    assert!(
        missing.get("score").is_none(),
        "no verdict for an account not assessed"
    );
    for mem in built["members"].as_array().unwrap() {
        let Some(sg) = mem["sg"].as_str() else {
            continue;
        };
        let a = by_id(mem["id"].as_str().unwrap());
        assert_eq!(a["assessed"], true, "{a}");
        let planted = a["failing"].as_array().unwrap().iter().any(|f| {
            f["check"] == "ec2_sg_no_world_admin_ports"
                && f["resource"].as_str().unwrap().contains(sg)
        });
        assert!(
            planted,
            "{}: {sg} not reported: {}",
            mem["id"], a["failing"]
        );
    }
    // Each assessed account is in the history under its own id.
    let hist = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["posture", "history", "--limit", "100", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&hist.stdout);
    let any_member = built["members"][0]["id"].as_str().unwrap();
    assert!(text.contains(any_member), "{text}");
    // Without the external id the roles' trust is not met in AWS; moto does not check
    // conditions, so only the table form is checked here.
    let table = run(&["--external-id", "harrier-ext", "--no-history"]);
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(
        t.contains("NOT ASSESSED") && t.contains("organisation: 20 of 21 account(s) assessed"),
        "{t}"
    );
}
