//! The console on the PostgreSQL store, end to end: two `harrier serve` workers on one real
//! database (Debian's `postgresql`, initdb in a temporary directory), one taking Kubernetes
//! audit events on its webhook, the other serving the console.

mod common;

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

#[path = "console/support.rs"]
mod support;

use std::net::TcpStream;
use std::process::Stdio;

use common::{free_port, wait_until};
use serde_json::Value;
use support::{enc, get_json, harrier, login, repo, req, run, serve, Serve};

/// Two workers on one PostgreSQL store: what one stores (the story's Kubernetes audit events,
/// posted to its webhook, and their incident), a posture scan and an image scan recorded into
/// the database are what the other worker's console shows; the console's worker keeps no
/// store of its own.
#[test]
fn a_console_on_the_postgres_store_shows_every_workers_alerts() {
    let Some(db) = pg_server::Server::start() else {
        return;
    };
    db.database("console_pg");
    let url = format!("postgres://harrier@127.0.0.1:{}/console_pg", db.port);
    let r = repo();
    // What `detect` finds in the same events: the oracle.
    let expected = harrier()
        .args(["detect", "--format", "json"])
        .arg(r.join("samples/k8s-audit-story.jsonl"))
        .output()
        .unwrap();
    let expected: Vec<Value> = String::from_utf8_lossy(&expected.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");

    // Worker B: the Kubernetes audit webhook, no console.
    let b = tempfile::tempdir().unwrap();
    let hook = free_port();
    let cfg = b.path().join("b.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}\nstore: '{url}'\nincidents: {{}}\nsources:\n  - type: k8s_audit\n    listen: 127.0.0.1:{hook}\n",
            b.path().display()
        ),
    )
    .unwrap();
    let worker = Serve::of(
        harrier()
            .args(["serve", "--config", cfg.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        hook,
    );
    wait_until("worker B's webhook", 30, || {
        TcpStream::connect(("127.0.0.1", hook)).is_ok()
    });
    let items: Vec<String> = std::fs::read_to_string(r.join("samples/k8s-audit-story.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let body = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{}]}}"#,
        items.join(",")
    );
    let (st, _, answer) = req(hook, "POST", "/k8s-audit", &[], &body);
    assert_eq!(st, 200, "{answer}");
    // The worker correlating through the store (B, the only one with `incidents:`) opens the
    // incident once it has read the alerts back.
    wait_until("the incident opened", 30, || {
        postgres::Client::connect(&url, postgres::NoTls)
            .and_then(|mut c| {
                c.query_one(
                    "SELECT COUNT(*) FROM alerts WHERE rule = 'Incident Opened'",
                    &[],
                )
            })
            .is_ok_and(|r| r.get::<_, i64>(0) > 0)
    });
    // A posture scan recorded straight into the shared database.
    let a = tempfile::tempdir().unwrap();
    let snap = a.path().join("snap.json");
    run(&[
        "posture",
        "import",
        r.join("../shared/corpus/posture/cloudmapper-demo/account-data/demo")
            .to_str()
            .unwrap(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    run(&[
        "posture",
        "evaluate",
        snap.to_str().unwrap(),
        "--record",
        "--now",
        "2026-12-01T00:00:00Z",
        "--store",
        &url,
    ]);

    // The sample image scanned and recorded into the shared database.
    let out = harrier()
        .args(["image", "scan"])
        .arg(r.join("samples/images/backdoored-web.tar"))
        .args(["--record", "--store", &url])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded sha256:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Worker A: the console, on the same store.
    let s = serve(a.path(), &format!("store: '{url}'\n"));
    let c = login(s.port, "admin", &s.password).expect("login");
    let c = c.as_str();
    let (_, all) = get_json(s.port, c, "/api/v1/alerts?limit=500&suppressed=true");
    let (_, page) = get_json(
        s.port,
        c,
        "/api/v1/alerts?limit=500&suppressed=true&source=k8s_audit",
    );
    let mut got: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = expected
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "the alerts worker B stored, suppressed ones included"
    );
    // ... and the incident's own alerts (Incident Opened, Escalated), counted in the overview.
    let all = all["items"].as_array().unwrap();
    assert!(all.iter().any(|a| a["rule"] == "Incident Opened"));
    let (_, o) = get_json(s.port, c, "/api/v1/overview");
    assert_eq!(o["alerts"], all.len(), "{o}");
    // Full text and facets, answered by PostgreSQL.
    let (_, exec) = get_json(s.port, c, "/api/v1/alerts?q=NGINX+exec&source=k8s_audit");
    let exec = exec["items"].as_array().unwrap();
    let rules: Vec<&str> = exec.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        ["K8s Exec Or Attach Into Pod"],
        "every word, any case"
    );
    let (_, none) = get_json(s.port, c, "/api/v1/alerts?q=nginx+deletecollection");
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "a near miss");
    let (_, none) = get_json(s.port, c, "/api/v1/alerts?q=nosuchwordanywhere");
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let principal = exec[0]["principal"].as_str().unwrap().to_string();
    let (_, by) = get_json(
        s.port,
        c,
        &format!("/api/v1/alerts?principal={}", enc(&principal)),
    );
    let by = by["items"].as_array().unwrap();
    assert!(!by.is_empty() && by.iter().all(|a| a["principal"] == principal.as_str()));
    let (_, none) = get_json(
        s.port,
        c,
        &format!("/api/v1/alerts?principal={}x", enc(&principal)),
    );
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "a near miss");
    // The incident worker B correlated, and the posture scan.
    // (the service stores changed incidents every second)
    let mut iid = String::new();
    wait_until("worker B's incident", 30, || {
        let (_, inc) = get_json(s.port, c, "/api/v1/incidents");
        iid = inc["items"][0]["id"].as_str().unwrap_or("").to_string();
        !iid.is_empty()
    });
    assert_eq!(
        get_json(s.port, c, &format!("/api/v1/incidents/{iid}")).0,
        200
    );
    let (_, p) = get_json(s.port, c, "/api/v1/posture");
    assert_eq!(p["trend"].as_array().unwrap().len(), 1, "{p}");
    assert!(!p["failing"].as_array().unwrap().is_empty());
    let (_, im) = get_json(s.port, c, "/api/v1/images");
    let digest = im["items"][0]["digest"]
        .as_str()
        .expect("the image")
        .to_string();
    let (_, scan) = get_json(s.port, c, &format!("/api/v1/images/{digest}"));
    assert!(scan["malware"].to_string().contains("miner"), "{scan}");
    let (_, sbom) = get_json(s.port, c, &format!("/api/v1/images/{digest}/sbom"));
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(get_json(s.port, c, "/api/v1/images/sha256:00").0, 404);
    // Worker A's state directory holds no store: its users are in the database too.
    for f in ["alerts.db", "posture.db", "images.db", "console.db"] {
        assert!(!a.path().join(f).exists(), "{f}");
    }
    // A second console (worker C, behind the same load balancer) shares the logins: it made
    // no admin of its own, takes A's session, and a logout on C ends it on A too.
    let cdir = tempfile::tempdir().unwrap();
    let s2 = serve(cdir.path(), &format!("store: '{url}'\n"));
    assert_eq!(s2.password, "", "one first admin for every console");
    let (st, who) = get_json(s2.port, c, "/api/v1/session");
    assert_eq!((st, who["user"].as_str()), (200, Some("admin")), "{who}");
    let csrf = who["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(
        login(s2.port, "admin", "not-the-password").as_deref(),
        None,
        "a near miss"
    );
    let (st, _, _) = req(
        s2.port,
        "POST",
        "/logout",
        &[
            ("Cookie", c),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={csrf}"),
    );
    assert_eq!(st, 303);
    assert_eq!(
        get_json(s.port, c, "/api/v1/alerts").0,
        401,
        "logged out on A"
    );
    assert!(login(s.port, "admin", &s.password).is_some());
    s2.stop();
    s.stop();
    worker.stop();
}
