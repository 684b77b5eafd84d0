//! Live AWS ingestion against moto_server on 127.0.0.1: S3 backfill, SQS notifications into
//! every output, crash and restart, two workers on one queue, CloudWatch Logs. Each test starts
//! its own moto_server, so tests share no AWS state.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{moto, Moto};
use serde_json::Value;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn story() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/attack-story.json")
}

fn invictus() -> PathBuf {
    shared().join("corpus/cloudtrail/invictus-ir")
}

/// Runs tests/moto/live.py and returns its JSON answer.
fn py(m: &Moto, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/live.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&m.url)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "live.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn harrier() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harrier"));
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("HARRIER_LOG", "warn");
    c
}

fn run(c: &mut Command) -> Output {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "harrier failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(out: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn ids_of(lines: &[String]) -> BTreeSet<String> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Alert ids `harrier detect` gives for local files.
fn local_ids(paths: &[PathBuf]) -> BTreeSet<String> {
    let out = run(harrier().args(["detect", "--format", "json"]).args(paths));
    ids_of(&lines(&out.stdout))
}

fn stored_ids(state: &Path) -> Vec<String> {
    let out = run(harrier()
        .args(["alerts", "list", "--format", "json", "--state-dir"])
        .arg(state));
    let mut v: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    r
}

fn serve(config: &Path) -> Child {
    harrier()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn s3_event(bucket: &str, key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}
    }]})
    .to_string()
}

fn local_file_of(key: &str) -> PathBuf {
    let name = key.rsplit('/').next().unwrap().trim_end_matches(".gz");
    invictus().join(name)
}

#[test]
fn s3_backfill_gives_the_same_alerts_as_the_local_files() {
    let Some(m) = moto() else { return };
    let keys = py(
        &m,
        &[
            "bucket",
            "trail",
            shared().to_str().unwrap(),
            story().to_str().unwrap(),
        ],
    );
    let n_invictus = keys["invictus"].as_array().unwrap().len();

    let local = run(harrier()
        .args(["detect", "--format", "json"])
        .arg(invictus())
        .arg(story()));
    let backfill = |threads: &str| {
        run(harrier().args([
            "detect",
            "--format",
            "json",
            "s3://trail",
            "--endpoint-url",
            &m.url,
            "--threads",
            threads,
        ]))
    };
    let remote = backfill("3");
    // Objects detected on three workers as they download give what one thread gives.
    let one = backfill("1");
    assert!(
        one.stdout == remote.stdout,
        "--threads 1 and --threads 3 differ"
    );
    let (l, r) = (lines(&local.stdout), lines(&remote.stdout));
    assert!(l.len() > 15, "the corpus raises alerts: {}", l.len());
    assert_eq!(l, r, "same alerts from S3 as from the same files on disk");
    let err = String::from_utf8_lossy(&remote.stderr);
    assert!(
        err.contains(&format!("{} log files to read", n_invictus + 1)),
        "{err}"
    );
    assert!(err.contains("2 not event logs"), "{err}");

    // --account: only the organisation trail's account, i.e. the story.
    let story_only = run(harrier().args([
        "detect",
        "--format",
        "json",
        "s3://trail/AWSLogs/",
        "--endpoint-url",
        &m.url,
        "--account",
        "111122223333",
    ]));
    assert_eq!(ids_of(&lines(&story_only.stdout)), local_ids(&[story()]));

    // --since/--until from key names: 12:10 to 12:20, plus CloudTrail's delivery slack.
    let window = run(harrier().args([
        "detect",
        "--format",
        "json",
        "s3://trail",
        "--endpoint-url",
        &m.url,
        "--account",
        "218007301253",
        "--region",
        "us-east-1",
        "--since",
        "2023-07-10T12:10:00Z",
        "--until",
        "2023-07-10T12:20:00Z",
    ]));
    let expect: Vec<PathBuf> = keys["invictus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .filter(|k| {
            let stamp = k.split('_').nth(3).unwrap();
            ("20230710T1210Z"..="20230710T1320Z").contains(&stamp) && stamp != "20230710T1320Z"
        })
        .map(local_file_of)
        .collect();
    let err = String::from_utf8_lossy(&window.stderr);
    assert!(
        err.contains(&format!("{} log files to read", expect.len())),
        "{err}"
    );
    assert_eq!(ids_of(&lines(&window.stdout)), local_ids(&expect));
    // --region that matches nothing reads nothing.
    let none = run(harrier().args([
        "detect",
        "s3://trail",
        "--endpoint-url",
        &m.url,
        "--region",
        "eu-west-3",
    ]));
    assert!(String::from_utf8_lossy(&none.stderr).contains(" 0 log files to read"));
}

#[test]
fn sqs_notifications_reach_every_output_and_bad_ones_stay_queued() {
    let Some(m) = moto() else { return };
    let keys = py(
        &m,
        &[
            "bucket",
            "trail",
            shared().to_str().unwrap(),
            story().to_str().unwrap(),
        ],
    );
    let inv: Vec<&str> = keys["invictus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let story_key = keys["story"].as_str().unwrap();
    let q = py(&m, &["queue", "ct-in"]);
    let q_url = q["url"].as_str().unwrap();
    let ct_topic = py(&m, &["topic", "cloudtrail", q_url]);
    let ct_topic = ct_topic["arn"].as_str().unwrap();
    let out_q = py(&m, &["queue", "alerts-out"]);
    let via_sns_q = py(&m, &["queue", "alerts-via-sns"]);
    let out_topic = py(
        &m,
        &[
            "topic",
            "harrier-alerts",
            via_sns_q["url"].as_str().unwrap(),
        ],
    );

    // 1. CloudTrail's notification through SNS; 2. an S3 event sent to SQS; 3. an S3 event
    // through SNS; 4. not JSON; 5. an object that does not exist; 6. S3's test event.
    let ct_note = serde_json::json!({"s3Bucket": "trail", "s3ObjectKey": [story_key]}).to_string();
    py(&m, &["publish", ct_topic, &ct_note]);
    py(&m, &["send", q_url, &s3_event("trail", inv[10])]);
    py(&m, &["publish", ct_topic, &s3_event("trail", inv[20])]);
    py(&m, &["send", q_url, "this is not a notification"]);
    let missing = serde_json::json!({"s3Bucket": "trail", "s3ObjectKey": ["AWSLogs/gone.json.gz"]})
        .to_string();
    py(&m, &["send", q_url, &missing]);
    py(
        &m,
        &[
            "send",
            q_url,
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}"#,
        ],
    );

    let expected = local_ids(&[story(), local_file_of(inv[10]), local_file_of(inv[20])]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let alerts_file = dir.path().join("alerts.jsonl");
    let metrics_port = free_port();
    let config = dir.path().join("harrier.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
state_dir: {state}
aws: {{ region: us-east-1, endpoint_url: "{url}" }}
sources:
  - {{ type: sqs, queue_url: "{q_url}", wait_seconds: 1, visibility_timeout: 2 }}
outputs:
  - {{ type: file, path: "{file}" }}
  - {{ type: sqs, queue_url: "{out_q}" }}
  - {{ type: sns, topic_arn: "{out_topic}" }}
  - {{ type: security_hub, account: "123456789012" }}
metrics: {{ listen: "127.0.0.1:{metrics_port}" }}
"#,
            state = state.display(),
            url = m.url,
            file = alerts_file.display(),
            out_q = out_q["url"].as_str().unwrap(),
            out_topic = out_topic["arn"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let mut child = serve(&config);
    let count_lines = || {
        std::fs::read_to_string(&alerts_file)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    wait_until("alerts in the file output", 60, || {
        count_lines() >= expected.len()
    });
    // The bad message and the missing object are received, left alone, and moved to the
    // dead-letter queue by the redrive policy (maxReceiveCount 1).
    wait_until("the input queue to empty", 60, || {
        let c = py(&m, &["counts", q_url]);
        c["visible"] == 0 && c["in_flight"] == 0
    });
    let metrics = http_get(metrics_port, "/metrics");
    assert!(http_get(metrics_port, "/healthz").contains("ok"));
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {err}");
    assert!(err.contains("bad message left on the queue"), "{err}");
    assert!(err.contains("cannot be read"), "{err}");

    // Every output has exactly the alerts the same files raise locally.
    let file_ids = ids_of(&lines(
        std::fs::read_to_string(&alerts_file).unwrap().as_bytes(),
    ));
    assert_eq!(file_ids, expected);
    assert_eq!(count_lines(), expected.len(), "each alert once in the file");
    let stored = stored_ids(&state);
    assert_eq!(stored.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(stored.len(), expected.len());
    let from_sqs: Vec<String> = py(&m, &["drain", out_q["url"].as_str().unwrap()])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids_of(&from_sqs), expected);
    let from_sns: Vec<String> = py(&m, &["drain", via_sns_q["url"].as_str().unwrap()])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let env: Value = serde_json::from_str(b.as_str().unwrap()).unwrap();
            env["Message"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids_of(&from_sns), expected);
    let findings: BTreeSet<String> = py(&m, &["findings"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(findings, expected);
    let dlq: Vec<Value> = py(&m, &["drain", q["dlq"].as_str().unwrap()])
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        dlq.len(),
        2,
        "the bad message and the missing object: {dlq:?}"
    );
    // Metrics saw it all.
    let source = format!("sqs://{q_url}");
    assert!(
        metrics.contains(&format!(
            "harrier_source_acked_total{{source=\"{source}\"}} 4"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "harrier_alerts_total{rule=\"IAM User Added To Admin Group\",priority=\"Critical\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("harrier_output_failures_total{output=\"security_hub\"} 0"),
        "{metrics}"
    );
    let bad: u64 = metrics
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "harrier_source_bad_inputs_total{{source=\"{source}\"}}"
            ))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(bad >= 2, "bad message and missing object counted: {bad}");
}

/// Sends one S3 event per log file (the story and every Invictus file).
fn fill_queue(m: &Moto, q_url: &str, keys: &Value) -> BTreeSet<String> {
    let mut files = vec![story()];
    py(
        m,
        &[
            "send",
            q_url,
            &s3_event("trail", keys["story"].as_str().unwrap()),
        ],
    );
    for k in keys["invictus"].as_array().unwrap() {
        py(m, &["send", q_url, &s3_event("trail", k.as_str().unwrap())]);
        files.push(local_file_of(k.as_str().unwrap()));
    }
    local_ids(&files)
}

/// A worker's config; `visibility` is the SQS visibility timeout in seconds.
fn worker_config(
    dir: &Path,
    name: &str,
    m: &Moto,
    q_url: &str,
    visibility: u32,
) -> (PathBuf, PathBuf) {
    let state = dir.join(format!("state-{name}"));
    let config = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &config,
        format!(
            "state_dir: {}\naws: {{ endpoint_url: \"{}\" }}\nsources:\n  - {{ type: sqs, queue_url: \"{q_url}\", wait_seconds: 1, visibility_timeout: {visibility} }}\n",
            state.display(),
            m.url
        ),
    )
    .unwrap();
    (config, state)
}

fn queue_empty(m: &Moto, q_url: &str) -> bool {
    let c = py(m, &["counts", q_url]);
    c["visible"] == 0 && c["in_flight"] == 0
}

#[test]
fn sigkill_mid_stream_then_restart_loses_and_repeats_nothing() {
    let Some(m) = moto() else { return };
    let keys = py(
        &m,
        &[
            "bucket",
            "trail",
            shared().to_str().unwrap(),
            story().to_str().unwrap(),
        ],
    );
    // A worker killed mid-stream leaves messages in flight; they are received again after the
    // restart, so the redrive policy must allow more than one receive.
    let q = py(&m, &["queue", "work", "5"]);
    let q_url = q["url"].as_str().unwrap();
    let expected = fill_queue(&m, q_url, &keys);
    let dir = tempfile::tempdir().unwrap();
    let (config, state) = worker_config(dir.path(), "a", &m, q_url, 4);

    let mut a = serve(&config);
    let db = state.join("alerts.db");
    wait_until("the first alerts", 60, || {
        db.exists() && !stored_ids(&state).is_empty()
    });
    signal(&a, "-KILL");
    a.wait().unwrap();
    let before = stored_ids(&state).len();
    assert!(
        before < expected.len(),
        "killed mid-stream ({before} of {})",
        expected.len()
    );

    let mut a2 = serve(&config);
    wait_until("the queue to empty after the restart", 90, || {
        queue_empty(&m, q_url)
    });
    signal(&a2, "-TERM");
    assert!(a2.wait().unwrap().success());
    let stored = stored_ids(&state);
    assert_eq!(
        stored.iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "no alert lost"
    );
    assert_eq!(stored.len(), expected.len(), "none stored twice");
}

#[test]
fn two_workers_on_one_queue_process_every_file_once() {
    let Some(m) = moto() else { return };
    let keys = py(
        &m,
        &[
            "bucket",
            "trail",
            shared().to_str().unwrap(),
            story().to_str().unwrap(),
        ],
    );
    let q = py(&m, &["queue", "shared"]);
    let q_url = q["url"].as_str().unwrap();
    let expected = fill_queue(&m, q_url, &keys);
    let dir = tempfile::tempdir().unwrap();
    // A long visibility timeout: SQS delivers at least once, and a message whose timeout runs
    // out while moto is slow under test load would legitimately go to the other worker too.
    let (cb, sb) = worker_config(dir.path(), "b", &m, q_url, 60);
    let (cc, sc) = worker_config(dir.path(), "c", &m, q_url, 60);
    let mut b = serve(&cb);
    let mut c = serve(&cc);
    wait_until("the queue to empty", 90, || queue_empty(&m, q_url));
    let mut logs = String::new();
    for w in [&mut b, &mut c] {
        signal(w, "-TERM");
        assert!(w.wait().unwrap().success());
        use std::io::Read;
        if let Some(mut e) = w.stderr.take() {
            let _ = e.read_to_string(&mut logs);
        }
    }
    let (ib, ic) = (stored_ids(&sb), stored_ids(&sc));
    let (setb, setc): (BTreeSet<String>, BTreeSet<String>) =
        (ib.iter().cloned().collect(), ic.iter().cloned().collect());
    // A file read by both workers may only come from the queue delivering its message twice
    // (SQS is at-least-once; moto's ReceiveMessage checks and marks a message's visibility
    // without a lock, so two pollers at the same instant can both receive it), never from a
    // worker giving a message back: no failed store, acknowledgement or visibility extension.
    // (With one shared store, #16, such a duplicate is stored once.)
    let both: Vec<&String> = setb.intersection(&setc).collect();
    if !both.is_empty() {
        for ours in [
            "cannot store alerts",
            "cannot acknowledge",
            "cannot extend a message's visibility",
        ] {
            assert!(
                !logs.contains(ours),
                "{} alert(s) stored by both workers, and a worker logged {ours:?}:\n{logs}",
                both.len()
            );
        }
    }

    let union: BTreeSet<String> = setb.union(&setc).cloned().collect();
    assert_eq!(union, expected, "every file processed");
    assert!(
        !ib.is_empty() && !ic.is_empty(),
        "both workers took part: {} / {}",
        ib.len(),
        ic.len()
    );
}

#[test]
fn cloudwatch_logs_are_followed_and_resumed_without_repeats() {
    let Some(m) = moto() else { return };
    py(
        &m,
        &[
            "logs",
            "ct-group",
            "stream-1",
            story().to_str().unwrap(),
            "30",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("cw.yaml");
    let metrics_port = free_port();
    std::fs::write(
        &config,
        format!(
            "state_dir: {}\naws: {{ endpoint_url: \"{}\" }}\nsources:\n  - {{ type: cloudwatch_logs, log_group: ct-group, interval: 1s, start: 1h }}\nmetrics: {{ listen: \"127.0.0.1:{metrics_port}\" }}\n",
            state.display(),
            m.url
        ),
    )
    .unwrap();
    let story_ids = local_ids(&[story()]);
    let mut w = serve(&config);
    wait_until("the story's alerts", 60, || {
        state.join("alerts.db").exists() && stored_ids(&state).len() >= story_ids.len()
    });
    signal(&w, "-TERM");
    assert!(w.wait().unwrap().success());
    assert_eq!(
        stored_ids(&state).into_iter().collect::<BTreeSet<_>>(),
        story_ids
    );

    // Restart: events already handled are not alerted again; new events are.
    let mut w = serve(&config);
    let stratus = shared()
        .join("corpus/cloudtrail/stratus-red-team/aws.defense-evasion.cloudtrail-stop.json");
    py(
        &m,
        &[
            "logs",
            "ct-group",
            "stream-2",
            stratus.to_str().unwrap(),
            "0",
        ],
    );
    let new_ids = local_ids(&[stratus]);
    assert!(!new_ids.is_empty());
    let all: BTreeSet<String> = story_ids.union(&new_ids).cloned().collect();
    wait_until("the new events' alerts", 60, || {
        stored_ids(&state).len() >= all.len()
    });
    let metrics = http_get(metrics_port, "/metrics");
    signal(&w, "-TERM");
    assert!(w.wait().unwrap().success());
    let stored = stored_ids(&state);
    assert_eq!(stored.len(), all.len());
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), all);
    assert!(
        metrics.contains("harrier_events_total{source=\"cwlogs://ct-group\"}"),
        "{metrics}"
    );
}
