//! The `harrier` binary end to end: real processes, real files, exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn harrier() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harrier"));
    c.env_remove("NO_COLOR");
    c
}

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn shared(rel: &str) -> PathBuf {
    repo("../shared").join(rel)
}

fn run(args: &[&str]) -> Output {
    harrier().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const STOP: &str = r#"{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli","userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333","accessKeyId":"AKIAX"},"requestParameters":{"name":"main"},"eventID":"ev-stop"}"#;

#[test]
fn detect_on_the_sample_prints_alerts_and_a_summary() {
    let sample = repo("samples/attack-story.json");
    let out = run(&["detect", sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // The attack story, step by step, in order.
    let steps = [
        "Warning Access key AKIAEXAMPLEALICE0002 created by alice for itself",
        "Critical Access key AKIAEXAMPLEBOB000002 created for user bob by alice",
        "Warning IAM user backup-svc created by alice",
        "Critical User backup-svc added to admin group Admins by alice",
        "Critical PutUserPolicy grants iam_full ((iam:*)) to user=backup-svc",
        "Critical Audit log DeleteLogStream group=aws-cloudtrail-logs-111122223333",
        "Critical Security group sg-0a1b2c3d4e5f60718 opened to the world on (tcp/22)",
        "Error Image web:v1.4.2 (sha256:bbbb",
        "Warning ECS ExecuteCommand \"/bin/sh\" in container app",
        "Error Public access block weakened (DeleteBucketPublicAccessBlock bucket=acme-artifacts",
        "Critical Bucket acme-artifacts made publicly writable (PutBucketAcl) by alice",
        "Critical CloudTrail trail arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail switched off (StopLogging) by alice",
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), steps.len(), "{stdout}");
    for (line, step) in lines.iter().zip(steps) {
        assert!(line.contains(step), "expected {step:?} in {line:?}");
    }
    // The CI role's routine push and describe calls raise nothing.
    assert!(!stdout.contains("v1.4.2 (sha256:aaaa"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 input(s), 16 record(s), 16 evaluated"),
        "{stderr}"
    );
    // Not a terminal: no colour codes.
    assert!(!stdout.contains('\x1b'));
}

#[test]
fn json_format_has_falco_alert_shape() {
    let sample = repo("samples/attack-story.json");
    let out = run(&["detect", "--format", "json", sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for a in &lines {
        for key in [
            "time",
            "rule",
            "priority",
            "source",
            "output",
            "output_fields",
            "tags",
            "hostname",
            "event_id",
            "rule_file",
        ] {
            assert!(a.get(key).is_some(), "missing {key} in {a}");
        }
        assert_eq!(a["source"], "aws_cloudtrail");
    }
}

#[test]
fn fail_on_and_min_priority() {
    let sample = repo("samples/attack-story.json");
    let s = sample.to_str().unwrap();
    assert_eq!(
        run(&["detect", "--fail-on", "critical", s]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(&["detect", "--fail-on", "EMERGENCY", s]).status.code(),
        Some(0)
    );
    let out = run(&["detect", "--min-priority", "emergency", s]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let out = run(&["detect", "--fail-on", "loud", s]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(text(&out.stderr).contains("unknown priority"));
}

#[test]
fn falco_rules_from_a_file_and_output_file_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ct.json");
    std::fs::write(&log, format!("{{\"Records\":[{STOP}]}}")).unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let falco = shared("rules/falco/aws_cloudtrail_rules.yaml");
    for _ in 0..2 {
        let out = run(&[
            "detect",
            "--no-default-rules",
            "--rules",
            falco.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            alerts.to_str().unwrap(),
            log.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
    let written = std::fs::read_to_string(&alerts).unwrap();
    let rules: Vec<String> = written
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rule"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        rules,
        vec!["CloudTrail Logging Disabled", "CloudTrail Logging Disabled"]
    );
}

#[test]
fn stdin_with_gzip() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(gz, "{STOP}").unwrap();
    let bytes = gz.finish().unwrap();
    let mut child = harrier()
        .args(["detect", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("switched off (StopLogging) by alice"));
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn bad_input_is_reported_counted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("a-good.json"),
        format!("{{\"Records\":[{STOP}]}}").as_bytes(),
    );
    write(&d.join("b-notjson.json"), b"this is not json\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(format!("{{\"Records\":[{STOP},{STOP}]}}").as_bytes())
        .unwrap();
    let gzb = gz.finish().unwrap();
    write(&d.join("c-truncated.json.gz"), &gzb[..gzb.len() - 12]);
    write(&d.join("d-noname.jsonl"), b"{\"eventSource\":\"x\"}\n");
    let mut big = b"{\"eventName\":\"x\",\"pad\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 50 << 20));
    big.extend(format!("\"}}\n{STOP}\n").as_bytes());
    write(&d.join("e-bigline.jsonl"), &big);
    let mut deep = b"{\"eventName\":\"StopLogging\",\"x\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 1_000_000));
    deep.push(b'\n');
    write(&d.join("f-deep.jsonl"), &deep);
    std::os::unix::fs::symlink(d.join("missing-target"), d.join("g-dangling.json")).unwrap();
    write(
        &d.join("h-digest_CloudTrail-Digest_x.json"),
        b"{\"digestStartTime\":\"x\"}",
    );
    write(&d.join("i-insight.json"), br#"{"Records":[{"eventVersion":"1.07","eventTime":"2026-11-20T10:00:00Z","eventType":"AwsCloudTrailInsight","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight"},"eventCategory":"Insight"}]}"#);

    let out = run(&["detect", d.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // The good records still alert: the good file, the record of the truncated gzip before the
    // cut, and the record after the huge line.
    assert_eq!(
        stdout.matches("switched off (StopLogging)").count(),
        3,
        "{stdout}\n{stderr}"
    );
    let has = |needle: &str| assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    has("b-notjson.json: byte 0: expected a JSON object (a record), found 'this is not json'");
    has("c-truncated.json.gz: byte");
    has("d-noname.jsonl: byte 0: not an event: neither a CloudTrail record (no \"eventName\" string)");
    has("e-bigline.jsonl: byte 0: record larger than 16 MiB: skipped");
    has("f-deep.jsonl: byte 542: invalid JSON: nesting deeper than 512 levels");
    has("g-dangling.json: cannot read");
    has("7 input(s), 8 record(s), 3 evaluated, 3 alert(s) (Critical 3)");
    has("skipped records: 2 invalid JSON, 1 too large, 1 read error");
    has("1 no eventName, 1 CloudTrail Insight");
    has("skipped files: 1 CloudTrail digest file(s)");
    has("unreadable inputs: 1");
}

#[test]
fn rule_errors_stop_the_run_and_validate_lists_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    write(
        &bad,
        b"- rule: A\n  desc: d\n  condition: ct.nmae = x\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n\
          - rule: B\n  desc: d\n  condition: ct.name in (a, b\n  output: o\n  priority: WARNING\n  source: aws_cloudtrail\n",
    );
    let log = dir.path().join("ct.json");
    write(&log, STOP.as_bytes());
    let out = run(&[
        "detect",
        "--rules",
        bad.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "a rule file with errors runs nothing"
    );
    let out = run(&["rules", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":3:14: error: rule 'A': condition: unknown field 'ct.nmae'"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":9:14: error: rule 'B': condition: expected ',' or ')' in list"),
        "{stderr}"
    );
    let falco = shared("rules/falco");
    let out = run(&["rules", "validate", falco.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Falco's syscall rules that need fields the sensor does not fill are listed, not errors.
    assert!(text(&out.stderr).contains(
        "rule 'Linux Kernel Module Injection Detected': missing-field: parsed but not run: needs 'thread.cap_effective'"
    ));
}

#[test]
fn rules_list_shows_language_source_priority_and_file() {
    let out = run(&["rules", "list", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let first: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["language"], "falco");
    assert_eq!(first["source"], "aws_cloudtrail");
    assert!(first["file"]
        .as_str()
        .unwrap()
        .starts_with("<builtin>/rules/"));
    let out = run(&["rules", "list"]);
    assert!(text(&out.stdout).contains("CloudTrail Trail Stopped Or Deleted"));
}

#[test]
fn alerts_to_dev_null_and_urls_detect_does_not_read() {
    // A character device as the output: written, not fsync'd (fdatasync fails with EINVAL).
    let sample = repo("samples/attack-story.json");
    let out = run(&["detect", sample.to_str().unwrap(), "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("16 record(s), 16 evaluated"),
        "{}",
        text(&out.stderr)
    );
    // A queue URL: a usage error that says what detect reads and the serve source to use.
    let out = run(&["detect", "sqs://ct-notes"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("s3://BUCKET") && err.contains("type: sqs"),
        "{err}"
    );
    let out = run(&["detect", "cwlogs://aws-cloudtrail-logs-111122223333"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("type: cloudwatch_logs"));
}

#[test]
fn missing_input_and_usage_errors_exit_2() {
    let out = run(&["detect", "/nonexistent/path.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/path.json"));
    assert_eq!(run(&["detect"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn builtin_rule_pack_tests_pass() {
    let out = run(&["rules", "test"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(
        stdout.contains("PASS  IAM User Added To Admin Group"),
        "{stdout}"
    );
}

#[test]
fn rule_tests_of_a_directory_report_failures() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("mine.yaml"),
        b"- rule: My Stop\n  desc: d\n  condition: ct.name = StopLogging and harrier_success\n  output: o\n  priority: INFO\n  source: aws_cloudtrail\n",
    );
    write(
        &dir.path().join("mine.json"),
        br#"[{"rule":"My Stop","expect":"fire","why":"stop","event":{"eventName":"StopLogging"}},
            {"rule":"My Stop","expect":"no-fire","why":"denied","event":{"eventName":"StopLogging"}}]"#,
    );
    let out = run(&["rules", "test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  My Stop  (fires 1/1, near-misses 0/1)"),
        "{stdout}"
    );
    assert!(stdout.contains("fired on a near-miss"), "{stdout}");
}

#[test]
fn the_readme_command_tells_the_whole_story() {
    let out = run(&["detect", repo("samples").to_str().unwrap(), "--incidents"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let stop = stdout
        .find("switched off (StopLogging)")
        .expect("CloudTrail side");
    let exec = stdout
        .find("Warning exec into pod web/nginx-7c9f (container=nginx")
        .expect("Kubernetes side");
    let miner = stdout
        .find("Critical Crypto miner started: xmrig -o stratum+tcp://198.51.100.7:4444")
        .expect("runtime side: the miner in the nginx pod");
    let botnet = stdout
        .find("Critical Executable written after the container started was run in 5a1c2b3d4e5f")
        .expect("runtime side: the botnet in the Fargate task");
    assert!(
        stop < exec && exec < miner && miner < botnet,
        "files are read in path order"
    );
    assert!(stdout.contains("/etc/ld.so.preload written by bash"));
    assert!(stdout.contains("Shell history /root/.bash_history removed"));
    assert!(
        text(&out.stderr).contains("3 input(s), 32 record(s), 32 evaluated, 25 alert(s)"),
        "{}",
        text(&out.stderr)
    );
    // After the alerts, the one incident they make.
    let incident = stdout.find("INCIDENT inc-").expect("the incident");
    assert!(botnet < incident, "the incident comes after the alerts");
    assert!(
        stdout[incident..].contains("Critical 25 alert(s) by user/alice"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("harrier: 1 incident(s)"));
}
