//! Outputs over real files and real sockets, driven from a real alert store.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harrier_alerts::outputs::{
    run_output, Attempt, DriveOptions, FileOutput, FileShape, Output, OutputStats, Rotation,
    SlackOutput, Wake, WebhookOutput,
};
use harrier_alerts::store::{Store, StoredAlert, Throttle};
use harrier_alerts::AlertRecord;
use harrier_rules::Priority;

fn rec(rule: &str, event: &str) -> AlertRecord {
    AlertRecord {
        time_ns: 1_722_431_184_000_000_000,
        rule: rule.into(),
        priority: Priority::Critical,
        source: "aws_cloudtrail".into(),
        output: format!("{rule} fired on {event}"),
        output_fields: vec![
            ("ct.user".into(), Some("alice".into())),
            ("ct.user.accountid".into(), Some("111122223333".into())),
            ("ct.region".into(), Some("us-east-1".into())),
        ],
        tags: vec!["aws".into(), "mitre_persistence".into(), "T1098.001".into()],
        hostname: "h".into(),
        event_id: Some(event.into()),
        rule_file: "r.yaml".into(),
        event: None,
        entities: None,
    }
}

fn fast() -> DriveOptions {
    DriveOptions {
        idle: Duration::from_millis(20),
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        drain: Duration::from_secs(5),
    }
}

/// Runs `output` until the store's alerts are all delivered (or 20 s pass), then stops it.
fn drive(db: &std::path::Path, output: Box<dyn Output>) -> Arc<OutputStats> {
    let stats = Arc::new(OutputStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let name = output.name().to_string();
    let (s2, stop2, db2) = (Arc::clone(&stats), Arc::clone(&stop), db.to_path_buf());
    let t = std::thread::spawn(move || {
        run_output(
            Store::open(&db2).unwrap(),
            output,
            s2,
            &stop2,
            &Wake::default(),
            fast(),
        )
    });
    let store = Store::open(db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.pending(&name, 1).unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    stats
}

fn store_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("alerts.db");
    let mut s = Store::open(&db).unwrap();
    let alerts: Vec<_> = (0..n)
        .map(|i| rec("Create Access Key", &format!("e{i}")))
        .collect();
    s.insert(&alerts, &Throttle::default(), None).unwrap();
    (d, db)
}

type Shared<T> = Arc<Mutex<T>>;

/// A local HTTP receiver that answers the first `fail` requests with 500, then 200, and
/// records every body it accepted.
fn receiver(fail: usize) -> (String, Shared<Vec<String>>, Shared<usize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hook/secret-token",
        server.server_addr().to_ip().unwrap()
    );
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0usize));
    let (acc, reqs) = (Arc::clone(&accepted), Arc::clone(&requests));
    std::thread::spawn(move || {
        for mut r in server.incoming_requests() {
            let mut body = String::new();
            r.as_reader().read_to_string(&mut body).unwrap();
            let n = {
                let mut q = reqs.lock().unwrap();
                *q += 1;
                *q
            };
            let code = if n <= fail { 500 } else { 200 };
            if code == 200 {
                acc.lock().unwrap().push(body);
            }
            let _ = r.respond(tiny_http::Response::from_string("nope").with_status_code(code));
        }
    });
    (url, accepted, requests)
}

#[test]
fn webhook_that_fails_then_succeeds_gets_each_alert_once() {
    let (_d, db) = store_with(3);
    let (url, accepted, requests) = receiver(2);
    let out = WebhookOutput::new(
        "webhook",
        &url,
        vec![("X-Harrier".into(), "1".into())],
        Duration::from_secs(5),
    );
    let stats = drive(&db, Box::new(out));
    let got = accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "each alert delivered once: {got:?}");
    let ids: std::collections::BTreeSet<String> = got
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(*requests.lock().unwrap(), 5);
    assert_eq!(stats.failures.load(Ordering::Relaxed), 2);
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 3);
    // The failure is recorded, without the URL's secret path.
    let store = Store::open(&db).unwrap();
    let st = store.deliveries().unwrap();
    let err = st[0].last_error.clone().unwrap();
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(!err.contains("secret-token"));
}

#[test]
fn dead_webhook_does_not_hold_up_a_file_output() {
    let (d, db) = store_with(4);
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = WebhookOutput::new(
        "dead",
        &format!("http://127.0.0.1:{port}/x"),
        vec![],
        Duration::from_millis(300),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let dead_stats = Arc::new(OutputStats::default());
    let (ds, st, db2) = (Arc::clone(&dead_stats), Arc::clone(&stop), db.clone());
    let dead_thread = std::thread::spawn(move || {
        run_output(
            Store::open(&db2).unwrap(),
            Box::new(dead),
            ds,
            &st,
            &Wake::default(),
            DriveOptions {
                drain: Duration::from_millis(100),
                ..fast()
            },
        )
    });
    let path = d.path().join("alerts.jsonl");
    drive(
        &db,
        Box::new(FileOutput::new("file", &path, FileShape::Json, None)),
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
    stop.store(true, Ordering::Relaxed);
    dead_thread.join().unwrap();
    assert!(dead_stats.failures.load(Ordering::Relaxed) >= 1);
    assert_eq!(dead_stats.delivered.load(Ordering::Relaxed), 0);
    // Still owed: the dead output's alerts wait in the store.
    assert_eq!(
        Store::open(&db).unwrap().pending("dead", 10).unwrap().len(),
        4
    );
}

#[test]
fn file_output_rotates_and_keeps_what_it_is_told() {
    let (d, db) = store_with(10);
    let path = d.path().join("out.jsonl");
    let line_len = Store::open(&db).unwrap().pending("x", 1).unwrap()[0]
        .json
        .len() as u64
        + 1;
    let rot = Rotation {
        max_bytes: line_len * 3,
        keep: 2,
    };
    drive(
        &db,
        Box::new(FileOutput::new("file", &path, FileShape::Json, Some(rot))),
    );
    let count = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let p1 = d.path().join("out.jsonl.1");
    let p2 = d.path().join("out.jsonl.2");
    // 10 alerts, 3 per file: 3 + 3 rotated away (one file dropped), then .2, .1 and the current.
    assert_eq!((count(&p2), count(&p1), count(&path)), (3, 3, 1));
    assert!(!d.path().join("out.jsonl.3").exists());
}

#[test]
fn ocsf_file_lines_are_detection_findings() {
    let (d, db) = store_with(1);
    let path = d.path().join("ocsf.jsonl");
    drive(
        &db,
        Box::new(FileOutput::new("ocsf", &path, FileShape::Ocsf, None)),
    );
    let v: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["type_uid"], 200401);
    assert_eq!(v["severity_id"], 5);
    assert_eq!(v["finding_info"]["title"], "Create Access Key");
    assert_eq!(
        v["finding_info"]["uid"],
        rec("Create Access Key", "e0").id()
    );
    assert_eq!(v["finding_info"]["related_events"][0]["uid"], "e0");
    assert_eq!(
        v["finding_info"]["attacks"][0]["tactic"]["name"],
        "persistence"
    );
    assert_eq!(
        v["finding_info"]["attacks"][1]["technique"]["uid"],
        "T1098.001"
    );
    assert_eq!(v["cloud"]["account"]["uid"], "111122223333");
    assert_eq!(v["actor"]["user"]["name"], "alice");
}

#[test]
fn slack_gets_a_readable_message() {
    let (_d, db) = store_with(1);
    let (url, accepted, _) = receiver(0);
    drive(
        &db,
        Box::new(SlackOutput::new("slack", &url, Duration::from_secs(5))),
    );
    let got = accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(text.contains("*Create Access Key* [Critical]"), "{text}");
    assert!(text.contains("Create Access Key fired on e0"), "{text}");
    assert!(v["blocks"][1]["elements"][0]["text"]
        .as_str()
        .unwrap()
        .contains("principal `alice`"));
}

/// An output that fails once in the middle of a batch: what went out before the failure is
/// not sent again.
struct Flaky {
    seen: Arc<Mutex<Vec<i64>>>,
    failed: bool,
}

impl Output for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        let mut seen = self.seen.lock().unwrap();
        for (i, a) in batch.iter().enumerate() {
            if i == 2 && !self.failed {
                self.failed = true;
                return Attempt::partial(i, "boom");
            }
            seen.push(a.seq);
        }
        Attempt::all(batch.len())
    }
}

#[test]
fn partial_delivery_resumes_after_the_last_delivered_alert() {
    let (_d, db) = store_with(5);
    let seen = Arc::new(Mutex::new(Vec::new()));
    drive(
        &db,
        Box::new(Flaky {
            seen: Arc::clone(&seen),
            failed: false,
        }),
    );
    assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 4, 5]);
}

/// Stored alerts `e<i>` for i in `range`, positions and ids as a store gives them.
fn stored(range: std::ops::Range<usize>) -> Vec<StoredAlert> {
    let (_d, db) = store_with(range.end);
    let all = Store::open(&db)
        .unwrap()
        .list(&harrier_alerts::store::Filter::default())
        .unwrap();
    all.into_iter().skip(range.start).collect()
}

fn ids_in(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map(|v| v["id"].as_str().unwrap_or("").to_string())
                .unwrap_or_else(|_| format!("unreadable: {l}"))
        })
        .collect()
}

/// A worker holding the file output wrote a batch and died before its cursor moved; the next
/// holder gets the same batch (and more) and writes each alert once.
#[test]
fn a_file_output_taking_over_a_dead_writers_batch_writes_each_alert_once() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("alerts.jsonl");
    let all = stored(0..5);
    let mut dead = FileOutput::new("file", &path, FileShape::Json, None);
    assert_eq!(dead.deliver(&all[..3]).delivered, 3);
    let mut next = FileOutput::new("file", &path, FileShape::Json, None);
    let a = next.deliver(&all[..4]);
    assert_eq!((a.delivered, a.error), (4, None));
    let want: Vec<String> = all[..4].iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids_in(&path), want, "each once, in order");
    // Near miss: the file's last alert is not in the batch (delivered long ago): all written.
    let mut again = FileOutput::new("file", &path, FileShape::Json, None);
    assert_eq!(again.deliver(&all[4..]).delivered, 1);
    assert_eq!(ids_in(&path).len(), 5);

    // A writer that died mid-line: the cut line is ended, the alerts before it count as
    // written, the batch resumes after them and no line after it is spoiled.
    let cut = d.path().join("cut.jsonl");
    let mut w = FileOutput::new("file", &cut, FileShape::Json, None);
    w.deliver(&all[..2]);
    let half = &all[2].json[..all[2].json.len() / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&cut)
        .unwrap()
        .write_all(half.as_bytes())
        .unwrap();
    let mut next = FileOutput::new("file", &cut, FileShape::Json, None);
    assert_eq!(next.deliver(&all[1..4]).delivered, 3);
    let got = ids_in(&cut);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[..2], [all[0].id.clone(), all[1].id.clone()]);
    assert!(got[2].starts_with("unreadable"), "{got:?}");
    assert_eq!(got[3..], [all[2].id.clone(), all[3].id.clone()]);

    // OCSF lines are told by their finding's uid.
    let ocsf = d.path().join("ocsf.jsonl");
    FileOutput::new("o", &ocsf, FileShape::Ocsf, None).deliver(&all[..2]);
    let a = FileOutput::new("o", &ocsf, FileShape::Ocsf, None).deliver(&all[..3]);
    assert_eq!(a.delivered, 3);
    assert_eq!(std::fs::read_to_string(&ocsf).unwrap().lines().count(), 3);
}
