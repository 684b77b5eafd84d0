//! Continuous posture in `harrier serve` against moto: the story's account (built sound by
//! tests/moto/build_account.py) is scanned once at start; then the story's misconfigurations
//! are made through the API and their CloudTrail records delivered through S3 and SQS, and each
//! newly failing check is alerted once, from a re-read of only what changed (no second full
//! scan); reverting the security group makes its check "fixed". With a PostgreSQL store, the
//! same story over two workers: one reads the trail, the other watches the account.

mod common;

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

use common::{alerts, free_port, metric, stop, wait_until};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};

fn py(endpoint: &str, args: &[&str]) -> Value {
    common::py("posture_live.py", endpoint, args)
}

fn posture_alerts(path: &Path, rule: &str) -> Vec<(String, String)> {
    alerts(path)
        .iter()
        .filter(|a| a["rule"] == rule)
        .map(|a| {
            (
                a["output_fields"]["posture.check"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                a["output_fields"]["posture.resource"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn record(id: &str, time: &str, source: &str, name: &str, params: Value) -> String {
    json!({"Records": [{
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
            "accountId": "123456789012", "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"},
        "eventTime": time, "eventSource": source, "eventName": name, "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.50", "userAgent": "aws-cli/2.15.0",
        "requestParameters": params, "responseElements": null,
        "requestID": format!("req-{id}"), "eventID": id, "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "123456789012"}]})
    .to_string()
}

#[test]
fn each_story_misconfiguration_is_alerted_from_its_event_without_a_full_rescan() {
    story(None);
}

/// The same run with `store: postgres://...` and two workers: the one started first watches the
/// account (after a worker that cannot reach AWS let the lease go); the other reads the trail
/// and queues its changes in the shared database, which the watcher re-checks (one full scan
/// for both, each change alerted once). Before the last
/// change the watcher is SIGKILLed: the reader takes the watch over, and its scan finds the
/// fix, named after the change it queued. The re-checks go to the shared history, which
/// `posture history --store` reads; no state directory gets one.
#[test]
fn with_a_postgres_store_two_workers_watch_as_one() {
    let Some(db) = pg_server::Server::start() else {
        return;
    };
    db.database("posture_live");
    story(Some(format!(
        "postgres://harrier@127.0.0.1:{}/posture_live",
        db.port
    )));
}

fn story(pg: Option<String>) {
    let Some(m) = common::moto() else {
        return;
    };
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/build_account.py");
    let st = Command::new("python3")
        .arg(build)
        .arg(&m.url)
        .arg("fixed")
        .status()
        .unwrap();
    assert!(st.success());
    let queue = py(&m.url, &["queue"])["queue"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    // A worker: its name, its source, its metrics port.
    // A worker: its name, its source, its metrics port, whether to wait for its first full
    // scan, and where it reaches AWS.
    let start = |name: &str, source: String, mport: u16, scans: bool, aws: &str| {
        let cfg = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &cfg,
            format!(
                "{store}state_dir: {state}\naws: {{region: eu-west-1, endpoint_url: '{url}'}}\nsources:\n  - {source}\nposture: {{regions: [eu-west-1], settle: 1s}}\nincidents: {{}}\nmetrics: {{listen: '127.0.0.1:{mport}'}}\noutputs:\n  - {{type: file, path: {out}}}\n",
                store = pg.as_ref().map_or(String::new(), |u| format!("store: '{u}'\n")),
                state = dir.path().join("state").join(name).display(),
                url = aws,
                out = out.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_harrier"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("HARRIER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("the worker up (and its first full scan)", 180, || {
            if let Ok(Some(st)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("serve exited ({st}) before its first scan: {err}");
            }
            match scans {
                true => metric(mport, "harrier_posture_full_scans_total") >= 1,
                false => common::http_get(mport, "/metrics").contains("harrier_posture_"),
            }
        });
        child
    };
    let sqs = format!("{{type: sqs, queue_url: '{queue}', wait_seconds: 1}}");
    let mport = free_port();
    // With PostgreSQL, two workers: the first watches the account; the second reads the trail
    // and only queues its changes, which the first re-checks.
    let (mut child, reader) = match &pg {
        None => (start("worker", sqs, mport, true, &m.url), None),
        Some(url) => {
            // First a worker that cannot reach AWS takes the posture lease: its scan fails and
            // it lets the lease go, so the next worker watches instead.
            let bport = free_port();
            let broken = start(
                "broken",
                format!("{{type: k8s_audit, listen: '127.0.0.1:{}'}}", free_port()),
                bport,
                false,
                &format!("http://127.0.0.1:{}", free_port()),
            );
            wait_until("the broken worker holding the posture lease", 60, || {
                postgres::Client::connect(url, postgres::NoTls)
                    .and_then(|mut c| {
                        c.query_opt(
                            "SELECT 1 FROM deliveries WHERE output = '~posture' AND holder IS NOT NULL",
                            &[],
                        )
                    })
                    .is_ok_and(|r| r.is_some())
            });
            let watcher = start(
                "watcher",
                format!("{{type: k8s_audit, listen: '127.0.0.1:{}'}}", free_port()),
                mport,
                true,
                &m.url,
            );
            assert_eq!(metric(bport, "harrier_posture_full_scans_total"), 0);
            stop(broken);
            let rport = free_port();
            (
                watcher,
                Some((start("reader", sqs, rport, false, &m.url), rport)),
            )
        }
    };
    assert!(
        posture_alerts(&out, "Posture Check Failed").is_empty(),
        "the first scan is the baseline, not news"
    );

    let deliver = |id: &str, source: &str, name: &str, params: Value| -> Instant {
        let f = dir.path().join(format!("{id}.json"));
        std::fs::write(&f, record(id, "2026-11-20T10:45:00Z", source, name, params)).unwrap();
        let key = format!("AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/20/{id}.json.gz");
        py(&m.url, &["trail", &queue, &key, f.to_str().unwrap()]);
        Instant::now()
    };
    // The attacker opens the security group to the world.
    let sg = py(&m.url, &["open-sg"])["group"]
        .as_str()
        .unwrap()
        .to_string();
    let t = deliver(
        "ev-sg",
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
    );
    wait_until("the security group alerted", 60, || {
        posture_alerts(&out, "Posture Check Failed")
            .iter()
            .any(|(c, _)| c == "ec2_sg_no_world_admin_ports")
    });
    eprintln!(
        "security group: event delivered to posture alert in {:?}",
        t.elapsed()
    );
    // ... and makes the artifacts bucket publicly writable.
    py(&m.url, &["public-bucket"]);
    let t = deliver(
        "ev-bucket",
        "s3.amazonaws.com",
        "PutBucketAcl",
        json!({"bucketName": "acme-artifacts", "AccessControlPolicy": {}}),
    );
    wait_until("the bucket alerted", 60, || {
        posture_alerts(&out, "Posture Check Failed")
            .iter()
            .any(|(c, _)| c == "s3_bucket_no_public_write")
    });
    eprintln!(
        "bucket: event delivered to posture alert in {:?}",
        t.elapsed()
    );
    // ... creates an admin user with an inline iam:* policy ...
    py(&m.url, &["iam-backdoor"]);
    deliver(
        "ev-iam",
        "iam.amazonaws.com",
        "PutUserPolicy",
        json!({"userName": "backup-admin", "policyName": "maintenance"}),
    );
    wait_until("the inline iam:* policy alerted", 60, || {
        posture_alerts(&out, "Posture Check Failed")
            .iter()
            .any(|(c, r)| c == "iam_no_iam_full_access_policies" && r.contains("backup-admin"))
    });
    // ... and makes the repository's tags mutable before re-pushing over one.
    py(&m.url, &["ecr-mutable"]);
    deliver(
        "ev-ecr",
        "ecr.amazonaws.com",
        "PutImageTagMutability",
        json!({"repositoryName": "web", "imageTagMutability": "MUTABLE"}),
    );
    wait_until("the mutable tags alerted", 60, || {
        posture_alerts(&out, "Posture Check Failed")
            .iter()
            .any(|(c, _)| c == "ecr_tag_immutability")
    });
    let mut killed = false;
    if let Some((_, rport)) = &reader {
        // So far the watcher made the one full scan and re-checked the reader's four changes.
        assert_eq!(metric(mport, "harrier_posture_full_scans_total"), 1);
        assert_eq!(
            metric(mport, "harrier_posture_changes_total"),
            4,
            "the watcher re-checked each of the reader's changes once"
        );
        assert_eq!(metric(*rport, "harrier_posture_full_scans_total"), 0);
        // The watcher dies: the reader takes the watch over when the lease runs out, and its
        // scan, compared with the last evaluation recorded, finds the fix made meanwhile.
        child.kill().unwrap();
        child.wait().unwrap();
        killed = true;
    }
    // The security group is closed again: fixed.
    py(&m.url, &["close-sg"]);
    deliver(
        "ev-sg-revoke",
        "ec2.amazonaws.com",
        "RevokeSecurityGroupIngress",
        json!({"groupId": sg}),
    );
    wait_until("the security group fixed", 60, || {
        posture_alerts(&out, "Posture Check Fixed")
            .iter()
            .any(|(c, _)| c == "ec2_sg_no_world_admin_ports")
    });
    let mut err = String::new();
    if let Some((reader, rport)) = reader {
        // One scan by the reader, at its takeover.
        assert_eq!(metric(rport, "harrier_posture_full_scans_total"), 1);
        let read: u64 = common::http_get(rport, "/metrics")
            .lines()
            .filter(|l| l.starts_with("harrier_events_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert!(read >= 5, "the reader read the trail: {read} records");
        err = stop(reader);
    } else {
        assert_eq!(
            metric(mport, "harrier_posture_full_scans_total"),
            1,
            "every re-check was a targeted re-read"
        );
        assert!(metric(mport, "harrier_posture_rereads_total") >= 5);
    }
    if !killed {
        err += &stop(child);
    }

    let failed = posture_alerts(&out, "Posture Check Failed");
    let mut unique = failed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        failed.len(),
        "one alert per newly failing check: {failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|(c, r)| c == "s3_bucket_public_access_block" && r.contains("acme-artifacts")),
        "{failed:?}\n{err}"
    );
    // Nothing but what the attacker changed.
    for (c, _) in &failed {
        assert!(
            c.starts_with("ec2_sg_")
                || c.starts_with("s3_bucket_")
                || c.starts_with("iam_")
                || c.starts_with("ecr_"),
            "unexpected newly failing check {c}: {failed:?}"
        );
    }
    let all = alerts(&out);
    let sg_alert = all
        .iter()
        .find(|a| {
            a["rule"] == "Posture Check Failed"
                && a["output_fields"]["posture.check"] == "ec2_sg_no_world_admin_ports"
        })
        .unwrap();
    let text = sg_alert["output"].as_str().unwrap();
    assert!(
        text.contains(
            "after AuthorizeSecurityGroupIngress by arn:aws:iam::123456789012:user/alice"
        ),
        "{text}"
    );
    assert!(text.contains("Fix: "), "{text}");
    // The fix is named after the change that made it (with PostgreSQL, found by the worker
    // that took the watch over, from the change the reader queued).
    let fixed = all
        .iter()
        .find(|a| {
            a["rule"] == "Posture Check Fixed"
                && a["output_fields"]["posture.check"] == "ec2_sg_no_world_admin_ports"
        })
        .unwrap();
    let text = fixed["output"].as_str().unwrap();
    assert!(
        text.contains(
            "fixed after RevokeSecurityGroupIngress by arn:aws:iam::123456789012:user/alice"
        ),
        "{text}"
    );
    assert!(!sg_alert["output_fields"]["posture.cli"]
        .as_str()
        .unwrap()
        .is_empty());
    // The posture alerts join alice's incident with the rule pack's alerts on the same calls
    // (with PostgreSQL, correlated through the shared store).
    incidents_hold_the_posture_alerts(&dir.path().join("state/worker"), pg.as_deref());
    // The history lists the changes since the full scan, with who made each.
    let mut hist = Command::new(env!("CARGO_BIN_EXE_harrier"));
    hist.args(["posture", "history"]);
    match &pg {
        Some(url) => {
            hist.args(["--store", url]);
            // Near miss: nothing went to the worker's own history file.
            assert!(!dir.path().join("state/watcher/posture.db").exists());
        }
        None => {
            hist.arg("--state-dir").arg(dir.path().join("state/worker"));
        }
    }
    let hist = hist.output().unwrap();
    let text = String::from_utf8_lossy(&hist.stdout);
    assert!(
        hist.status.success(),
        "{}",
        String::from_utf8_lossy(&hist.stderr)
    );
    assert!(
        text.contains("changes since the last full scan of 123456789012"),
        "{text}"
    );
    let sg_line = text
        .lines()
        .find(|l| l.contains("NEWLY FAILING") && l.contains("ec2_sg_no_world_admin_ports"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        sg_line.contains("by arn:aws:iam::123456789012:user/alice (AuthorizeSecurityGroupIngress)"),
        "{sg_line}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("fixed") && l.contains("ec2_sg_no_world_admin_ports")),
        "{text}"
    );
}

fn incidents_hold_the_posture_alerts(state: &Path, pg: Option<&str>) {
    let mut inc = Command::new(env!("CARGO_BIN_EXE_harrier"));
    inc.args(["incidents", "list", "--format", "json", "--state-dir"])
        .arg(state);
    if let Some(url) = pg {
        inc.args(["--store", url]);
    }
    let inc = inc.output().unwrap();
    let incidents = String::from_utf8_lossy(&inc.stdout).to_string();
    let holding: Vec<&str> = incidents
        .lines()
        .filter(|l| l.contains("Posture Check Failed"))
        .collect();
    assert_eq!(
        holding.len(),
        1,
        "one incident holds the posture alerts: {incidents}"
    );
    assert!(holding[0].contains("user/alice"), "{}", holding[0]);
}
