//! Incidents across workers: three `harrier serve` workers on one PostgreSQL store (Debian's
//! postgresql, started here) and one attacker. One worker reads the story's CloudTrail from an
//! SQS queue of S3 notifications (moto), the other two take its Kubernetes audit events on
//! their webhooks. The worker holding the correlation is SIGKILLed halfway through; another
//! takes it over, rebuilds the open incident from the store and goes on. At the end the store
//! holds the one incident `harrier detect --incidents` finds in the same events, under the same
//! id, with the same alerts, opened once.

mod common;

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

#[path = "console/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{free_port, moto, wait_until};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn harrier() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harrier"));
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env("HARRIER_LOG", "info");
    c
}

/// The workers, killed when the test ends however it ends.
struct Workers(BTreeMap<&'static str, Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in self.0.values_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn one(url: &str, sql: &str) -> Option<i64> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).ok()?;
    c.query_one(sql, &[]).ok()?.get(0)
}

/// The pid whose connection holds the correlation's lease (holders are named `<pid>-...`).
fn correlator_pid(url: &str) -> Option<u32> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).ok()?;
    let r = c
        .query_opt(
            "SELECT holder FROM deliveries WHERE output = '~incidents' AND lease_until > 0",
            &[],
        )
        .ok()??;
    let h: Option<String> = r.get(0);
    h?.split('-').next()?.parse().ok()
}

/// Every alert but the notices is correlated: the cursor is at the last of them.
fn caught_up(url: &str, alerts: i64) -> bool {
    one(
        url,
        "SELECT COUNT(*) FROM alerts WHERE source <> 'incident'",
    ) == Some(alerts)
        && one(
            url,
            "SELECT (SELECT seq FROM deliveries WHERE output = '~incidents') - \
             (SELECT MAX(seq) FROM alerts WHERE source <> 'incident')",
        )
        .is_some_and(|d| d >= 0)
}

fn post_k8s(port: u16, items: &[String]) {
    let body = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{}]}}"#,
        items.join(",")
    );
    let (st, _, answer) = support::req(port, "POST", "/k8s-audit", &[], &body);
    assert_eq!(st, 200, "{answer}");
}

#[test]
fn one_attacker_over_three_workers_is_one_incident_as_with_one() {
    let Some(m) = moto() else { return };
    let Some(db) = pg_server::Server::start() else {
        return;
    };
    let r = repo();
    let story = r.join("samples/attack-story.json");
    let k8s = r.join("samples/k8s-audit-story.jsonl");
    // The oracle: one process over the same events.
    let out = harrier()
        .args(["detect", "--incidents", "--format", "json"])
        .arg(&story)
        .arg(&k8s)
        .output()
        .unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<&Value> = lines.iter().filter(|v| v["type"] == "incident").collect();
    assert_eq!(expected.len(), 1, "one process: one incident");
    let alert_ids = |inc: &Value| -> BTreeSet<String> {
        inc["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let want = alert_ids(expected[0]);
    assert!(want.len() >= 10, "{want:?}");

    // The story's CloudTrail as an S3 notification on a queue, for worker 1.
    let keys = common::py(
        "live.py",
        &m.url,
        &[
            "bucket",
            "trail",
            r.join("../shared").to_str().unwrap(),
            story.to_str().unwrap(),
        ],
    );
    let q = common::py("live.py", &m.url, &["queue", "incidents", "10"]);
    let q_url = q["url"].as_str().unwrap().to_string();
    let notification = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "trail"}, "object": {"key": keys["story"], "size": 1}}
    }]});

    db.database("incidents");
    let url = format!("postgres://harrier@127.0.0.1:{}/incidents", db.port);
    let dir = tempfile::tempdir().unwrap();
    let hooks = [("w2", free_port()), ("w3", free_port())];
    let metrics_port: BTreeMap<&str, u16> = ["w1", "w2", "w3"]
        .map(|n| (n, free_port()))
        .into_iter()
        .collect();
    let mut workers = Workers(BTreeMap::new());
    for name in ["w1", "w2", "w3"] {
        let source = match hooks.iter().find(|(n, _)| *n == name) {
            Some((_, port)) => format!("{{ type: k8s_audit, listen: \"127.0.0.1:{port}\" }}"),
            None => format!("{{ type: sqs, queue_url: \"{q_url}\", wait_seconds: 1 }}"),
        };
        let cfg = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &cfg,
            format!(
                "state_dir: {}\nstore: \"{url}\"\nincidents: {{}}\naws: {{ endpoint_url: \"{}\" }}\n\
                 metrics: {{ listen: \"127.0.0.1:{}\" }}\nsources:\n  - {source}\n",
                dir.path().join(name).display(),
                m.url,
                metrics_port[name],
            ),
        )
        .unwrap();
        let child = harrier()
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        workers.0.insert(name, child);
    }
    for (_, port) in hooks {
        wait_until("a worker's webhook", 60, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
    let log = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default()
    };

    // The cloud part on worker 1, the first Kubernetes events on worker 2.
    common::py(
        "live.py",
        &m.url,
        &["send", &q_url, &notification.to_string()],
    );
    let items: Vec<String> = std::fs::read_to_string(&k8s)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    // The exec request's two audit stages go to two workers: each alerts it, under the one
    // id of (rule, audit id), so the store keeps it once. The secrets read and the events
    // deletion come later.
    assert_eq!(
        (
            items[1].contains("ResponseStarted"),
            items[2].contains("ResponseComplete")
        ),
        (true, true)
    );
    let (first, rest) = items.split_at(3);
    let (first, second_stage) = first.split_at(2);
    let cloud = lines
        .iter()
        .filter(|v| v["source"] == "aws_cloudtrail")
        .count() as i64;
    wait_until("the cloud alerts stored", 90, || {
        one(
            &url,
            "SELECT COUNT(*) FROM alerts WHERE source = 'aws_cloudtrail'",
        ) == Some(cloud)
    });
    post_k8s(hooks[0].1, first);
    post_k8s(hooks[1].1, second_stage);
    let part = one(
        &url,
        "SELECT COUNT(*) FROM alerts WHERE source <> 'incident'",
    )
    .unwrap();
    assert!(part > cloud && part < want.len() as i64, "halfway: {part}");
    wait_until("the first half correlated", 60, || {
        caught_up(&url, part) && one(&url, "SELECT COUNT(*) FROM incidents") == Some(1)
    });

    // The worker correlating dies; the rest of the attack comes to a worker still alive.
    let victim_pid = correlator_pid(&url).expect("a worker correlates");
    let victim = *workers
        .0
        .iter()
        .find(|(_, c)| c.id() == victim_pid)
        .map(|(n, _)| n)
        .expect("the correlator is one of the workers");
    let mut dead = workers.0.remove(victim).unwrap();
    dead.kill().unwrap();
    dead.wait().unwrap();
    let alive_hook = hooks.iter().find(|(n, _)| *n != victim).unwrap().1;
    post_k8s(alive_hook, rest);
    wait_until("the rest correlated by another worker", 90, || {
        caught_up(&url, want.len() as i64)
    });
    let taker = correlator_pid(&url);
    assert!(
        taker.is_some() && taker != Some(victim_pid),
        "another worker took the correlation over"
    );
    eprintln!("{victim} correlated and was killed; {taker:?} took over");
    let taker_name = workers
        .0
        .iter()
        .find(|(_, c)| Some(c.id()) == taker)
        .map(|(n, _)| *n)
        .unwrap();
    assert!(
        log(taker_name).contains("correlates the incidents now"),
        "the new holder rebuilt the open incidents: {}",
        log(taker_name)
    );
    // Each worker's /metrics tells its share: the taker holds the lease, took over once
    // (rebuilding from the alerts correlated before) and correlated the rest; the bystander
    // holds nothing.
    let taker_port = metrics_port[taker_name];
    assert_eq!(
        common::metric(taker_port, "harrier_correlation_lease_held"),
        1
    );
    assert_eq!(
        common::metric(taker_port, "harrier_correlation_rebuilds_total"),
        1
    );
    assert!(common::metric(taker_port, "harrier_correlation_replayed_total") >= 1);
    assert!(common::metric(taker_port, "harrier_correlation_alerts_total") >= 1);
    let bystander = ["w1", "w2", "w3"]
        .into_iter()
        .find(|n| *n != victim && *n != taker_name)
        .unwrap();
    let text = common::http_get(metrics_port[bystander], "/metrics");
    assert!(
        text.contains("\nharrier_correlation_lease_held 0\n"),
        "{bystander}: {text}"
    );

    // One incident, the one a single process finds: same id, same alerts.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows = c.query("SELECT id, json FROM incidents", &[]).unwrap();
    let got: Vec<(String, Value)> = rows
        .iter()
        .map(|r| (r.get(0), serde_json::from_str(r.get::<_, &str>(1)).unwrap()))
        .collect();
    assert_eq!(
        got.len(),
        1,
        "one incident over three workers: {:?}",
        got.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    assert_eq!(got[0].0, expected[0]["id"].as_str().unwrap(), "same id");
    assert_eq!(alert_ids(&got[0].1), want, "same alerts");
    assert_eq!(got[0].1["severity"], expected[0]["severity"]);
    // Announced once, though the correlation changed hands.
    let opened = one(
        &url,
        "SELECT COUNT(*) FROM alerts WHERE rule = 'Incident Opened'",
    );
    assert_eq!(opened, Some(1), "opened once");
    let escalations: Vec<String> = c
        .query(
            "SELECT json FROM alerts WHERE rule = 'Incident Escalated' ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let distinct: BTreeSet<&String> = escalations.iter().collect();
    assert_eq!(distinct.len(), escalations.len(), "no escalation twice");
    assert!(!escalations.is_empty(), "the chain raised the severity");
}
