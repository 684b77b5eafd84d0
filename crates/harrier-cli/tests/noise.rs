//! `detect` folds the repeats of rules that declare a noise key: one root session is one
//! "Root Account Used" alert and a count of what else it called.

use std::process::Command;

use serde_json::Value;

fn detect(args: &[&str]) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["detect", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (v, String::from_utf8(out.stderr).unwrap())
}

fn root_call(i: u32, ip: &str, api: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"}},"eventTime":"2026-11-20T{:02}:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"{api}","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0","eventID":"e{i}-{ip}","recipientAccountId":"111122223333"}}"#,
        12 + i / 3600,
        (i / 60) % 60,
        i % 60
    )
}

#[test]
fn one_root_session_is_one_alert_with_the_count_and_calls_of_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("root.jsonl");
    let mut lines: Vec<String> = (0..680)
        .map(|i| {
            root_call(
                i * 10,
                "203.0.113.5",
                if i % 4 == 0 {
                    "GetBucketAcl"
                } else {
                    "ListObjects"
                },
            )
        })
        .collect();
    // The same account from another address: another session, another alert.
    lines.push(root_call(30, "198.51.100.77", "ListObjects"));
    std::fs::write(&f, lines.join("\n")).unwrap();
    let path = f.to_str().unwrap();

    let (out, err) = detect(&[path]);
    let alerts: Vec<&Value> = out
        .iter()
        .filter(|v| v["rule"] == "Root Account Used" && v["type"] != "folded")
        .collect();
    assert_eq!(alerts.len(), 2, "{out:#?}");
    let folded: Vec<&Value> = out.iter().filter(|v| v["type"] == "folded").collect();
    assert_eq!(folded.len(), 1);
    assert_eq!(folded[0]["rule"], "Root Account Used");
    assert_eq!(folded[0]["folded"], 679);
    assert_eq!(folded[0]["calls"]["GetBucketAcl"], 169);
    assert_eq!(folded[0]["calls"]["ListObjects"], 510);
    assert!(folded[0]["first_output"]
        .as_str()
        .unwrap()
        .contains("203.0.113.5"));
    assert!(
        err.contains("679 repeated alert(s)") && err.contains("--no-noise-window"),
        "{err}"
    );

    // Every alert with --no-noise-window.
    let (out, err) = detect(&[path, "--no-noise-window"]);
    assert_eq!(
        out.iter()
            .filter(|v| v["rule"] == "Root Account Used")
            .count(),
        681
    );
    assert!(!out.iter().any(|v| v["type"] == "folded"));
    assert!(!err.contains("folded"), "{err}");

    // Text: the alert, then a FOLDED line naming the count and the calls.
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["detect", path])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("FOLDED Root Account Used: 679 more")
                && l.contains("ListObjects x510")),
        "{text}"
    );
}
