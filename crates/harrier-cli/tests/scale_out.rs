//! Several workers, one PostgreSQL store: three `harrier serve` processes share one SQS queue
//! (moto) of S3 notifications for the Invictus corpus and the story, and one database (Debian's
//! postgresql, started here). Mid-run, the worker delivering the file output is SIGKILLed and
//! started again, and the database server is restarted. At the end every expected alert is
//! stored once, and delivered once to a file output that all workers share and to a webhook
//! (once after the receiver drops repeats by their Idempotency-Key), in store order; then the
//! output's lease holder stops and another worker takes its deliveries over.

mod common;

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, moto, Moto};
use serde_json::Value;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn story() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/attack-story.json")
}

fn live(m: &Moto, args: &[&str]) -> Value {
    common::py("live.py", &m.url, args)
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

fn serve(config: &Path, log: &Path) -> Child {
    harrier()
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn signal(c: &Child, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &c.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// Alert ids `harrier detect` gives for the local files.
fn local_ids(paths: &[PathBuf]) -> BTreeSet<String> {
    let out = harrier()
        .args(["detect", "--format", "json"])
        .args(paths)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn local_file_of(key: &str) -> PathBuf {
    let name = key.rsplit('/').next().unwrap().trim_end_matches(".gz");
    shared().join("corpus/cloudtrail/invictus-ir").join(name)
}

fn s3_event(key: &str) -> String {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "trail"}, "object": {"key": key, "size": 1}}
    }]})
    .to_string()
}

fn file_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Each request's (Idempotency-Key, body's id), in arrival order.
type Received = Arc<Mutex<Vec<(String, String)>>>;

fn webhook_receiver() -> (u16, Received) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let got: Received = Arc::default();
    let g = Arc::clone(&got);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let read = req.as_reader().read_to_string(&mut body);
            let parsed = serde_json::from_str::<Value>(&body).ok();
            // A post cut short (its sender killed mid-body) is refused, as a receiver does:
            // it keeps no key of a request it did not take.
            if read.is_err() || parsed.is_none() {
                let _ = req.respond(tiny_http::Response::from_string("bad").with_status_code(400));
                continue;
            }
            let key = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Idempotency-Key"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            let id = parsed
                .and_then(|v| v["id"].as_str().map(str::to_string))
                .unwrap_or_default();
            g.lock().unwrap().push((key, id));
            let _ = req.respond(tiny_http::Response::from_string("ok"));
        }
    });
    (port, got)
}

fn pg(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

fn count(url: &str, sql: &str) -> i64 {
    match postgres::Client::connect(url, postgres::NoTls) {
        Ok(mut c) => c.query_one(sql, &[]).map(|r| r.get(0)).unwrap_or(-1),
        Err(_) => -1,
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pid whose connection holds `output`'s lease (holders are named `<pid>-...`).
fn holder(url: &str, output: &str) -> Option<u32> {
    let mut c = pg(url);
    let r = c
        .query_opt(
            "SELECT holder FROM deliveries WHERE output = $1 AND lease_until > 0",
            &[&output],
        )
        .ok()??;
    let h: Option<String> = r.get(0);
    h?.split('-').next()?.parse().ok()
}

#[test]
fn three_workers_one_database_every_alert_stored_and_delivered_once() {
    let Some(m) = moto() else { return };
    let Some(db) = pg_server::Server::start() else {
        return;
    };
    let keys = live(
        &m,
        &[
            "bucket",
            "trail",
            shared().to_str().unwrap(),
            story().to_str().unwrap(),
        ],
    );
    let q = live(&m, &["queue", "scale", "10"]);
    let q_url = q["url"].as_str().unwrap().to_string();
    let mut files = vec![story()];
    live(
        &m,
        &["send", &q_url, &s3_event(keys["story"].as_str().unwrap())],
    );
    for k in keys["invictus"].as_array().unwrap() {
        live(&m, &["send", &q_url, &s3_event(k.as_str().unwrap())]);
        files.push(local_file_of(k.as_str().unwrap()));
    }
    let expected = local_ids(&files);
    assert!(
        expected.len() > 50,
        "a corpus worth sharing: {}",
        expected.len()
    );

    db.database("harrier");
    let url = format!("postgres://harrier@127.0.0.1:{}/harrier", db.port);
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("alerts.jsonl");
    let (hook_port, received) = webhook_receiver();
    let config = |name: &str| {
        let p = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &p,
            format!(
                "state_dir: {state}\nstore: \"{url}\"\naws: {{ endpoint_url: \"{moto}\" }}\n\
                 sources:\n  - {{ type: sqs, queue_url: \"{q_url}\", wait_seconds: 1, visibility_timeout: 20 }}\n\
                 outputs:\n  - {{ type: file, path: \"{file}\" }}\n  - {{ type: webhook, url: \"http://127.0.0.1:{hook_port}/alerts\" }}\n\
                 metrics: {{ listen: \"127.0.0.1:{metrics}\" }}\n",
                state = dir.path().join(format!("state-{name}")).display(),
                moto = m.url,
                file = out_file.display(),
                metrics = free_port(),
            ),
        )
        .unwrap();
        p
    };
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let mut workers: BTreeMap<&str, Child> = BTreeMap::new();
    for w in ["w1", "w2", "w3"] {
        workers.insert(w, serve(&config(w), &log(w)));
    }

    let n = expected.len() as i64;
    // Mid-run: the worker delivering the file output is SIGKILLed (its messages in flight come
    // back to the queue, the batch it was writing may be in the file without its cursor having
    // moved) and started again.
    wait_for("the first alerts stored", 90, || {
        count(&url, "SELECT COUNT(*) FROM alerts") > 0
    });
    wait_for("a worker delivering the file output", 30, || {
        holder(&url, "file").is_some()
    });
    let busy = holder(&url, "file");
    let victim = *workers
        .iter()
        .find(|(_, c)| Some(c.id()) == busy)
        .map(|(n, _)| n)
        .unwrap();
    let mut dead = workers.remove(victim).unwrap();
    signal(&dead, "-KILL");
    let at_kill = count(&url, "SELECT COUNT(*) FROM alerts");
    dead.wait().unwrap();
    workers.insert(
        victim,
        serve(&config(victim), &log(&format!("{victim}-again"))),
    );
    // Up before the database restarts (a worker that cannot reach its store at start stops).
    wait_for("the worker started again", 60, || {
        std::fs::read_to_string(log(&format!("{victim}-again")))
            .unwrap_or_default()
            .contains("serving")
    });

    // Mid-run: the database server is restarted (as a crash would).
    let at_restart = count(&url, "SELECT COUNT(*) FROM alerts");
    db.restart();
    eprintln!(
        "{} expected; {at_kill} stored when {victim} was killed, {at_restart} when the database restarted",
        expected.len()
    );
    assert!(at_kill < n && at_restart < n, "both mid-run");

    // Everything stored, and delivered to both outputs.
    wait_for("every alert stored", 180, || {
        count(&url, "SELECT COUNT(*) FROM alerts") >= n
    });
    wait_for("both outputs caught up", 120, || {
        file_ids(&out_file).len() >= expected.len()
            && received.lock().unwrap().len() >= expected.len()
    });

    // The holder of the file output stops cleanly; within a lease another worker delivers it.
    let file_holder = holder(&url, "file").expect("someone delivers the file output");
    let name = *workers
        .iter()
        .find(|(_, c)| c.id() == file_holder)
        .map(|(n, _)| n)
        .unwrap();
    let mut h = workers.remove(name).unwrap();
    signal(&h, "-TERM");
    assert!(
        h.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(log(name)).unwrap()
    );
    let late = serde_json::json!({"Records": [{"eventVersion": "1.08", "eventTime": "2026-11-20T12:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "us-east-1",
        "eventID": "late-stop-logging", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"},
        "requestParameters": {"name": "main"}}]});
    let late_file = dir.path().join("late.json");
    std::fs::write(&late_file, late.to_string()).unwrap();
    live(
        &m,
        &[
            "put",
            "trail",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/late.json.gz",
            late_file.to_str().unwrap(),
        ],
    );
    live(
        &m,
        &[
            "send",
            &q_url,
            &s3_event("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/late.json.gz"),
        ],
    );
    let late_ids = local_ids(&[late_file]);
    assert_eq!(late_ids.len(), 1, "the late record raises one alert");
    let all: BTreeSet<String> = expected.union(&late_ids).cloned().collect();
    wait_for("the late alert delivered by another worker", 60, || {
        file_ids(&out_file).len() > expected.len()
    });
    let taker = holder(&url, "file");
    assert!(
        taker.is_some() && taker != Some(file_holder),
        "another worker took the lease over"
    );

    for (_, c) in workers.iter_mut() {
        signal(c, "-TERM");
        c.wait().unwrap();
    }

    // Stored once each.
    let mut c = pg(&url);
    let stored: Vec<String> = c
        .query("SELECT id FROM alerts ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let set: BTreeSet<String> = stored.iter().cloned().collect();
    assert_eq!(set, all, "every expected alert stored, nothing else");
    assert_eq!(stored.len(), set.len(), "none stored twice");
    // Delivered once each, in store order, to the file and the webhook.
    let delivered = file_ids(&out_file);
    assert_eq!(
        delivered, stored,
        "the file got every alert once, in store order, though its writer was killed"
    );
    // The webhook: a batch the killed worker had posted before its cursor moved is posted
    // again by the next holder (at least once), with the same Idempotency-Key, which a
    // receiver keeps to drop repeats: what it keeps is every alert once, in store order.
    let mut kept = BTreeSet::new();
    let hook: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|(key, _)| kept.insert(key.clone()))
        .map(|(_, id)| id.clone())
        .collect();
    let posts = received.lock().unwrap().len();
    eprintln!("webhook: {posts} posts, {} repeated", posts - hook.len());
    assert_eq!(
        hook, stored,
        "the webhook got every alert, in store order, repeats told by their key"
    );
    assert!(
        received.lock().unwrap().iter().all(|(k, id)| k == id),
        "Idempotency-Key is the alert id"
    );
}
