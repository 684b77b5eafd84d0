//! Posture history on PostgreSQL against a real server (see pg.rs): every read gives what the
//! SQLite history gives for the same recorded scans, and scans recorded over one connection
//! (one worker) are read over another.

#[path = "support/pg_server.rs"]
mod pg_server;
use pg_server::Server;

use harrier_posture::history::{ChangeRecord, History, PostureHistory};
use harrier_posture::{evaluate, Finding, Snapshot};
use harrier_store_pg::PgStore;

fn findings(name: &str) -> Vec<Finding> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../harrier-posture/tests/fixtures")
        .join(name);
    evaluate(&Snapshot::load(&path).unwrap(), 1_763_640_000)
}

/// Records the same story: two full scans of one account, a re-check with what it changed,
/// and a scan of another account.
fn record(h: &mut dyn PostureHistory) -> (i64, i64, i64) {
    let bad = findings("story-misconfigured.json");
    let good = findings("story-fixed.json");
    let a = h
        .record("111122223333", "2025-11-19T00:00:00Z", &bad)
        .unwrap();
    let b = h
        .record("111122223333", "2025-11-20T00:00:00Z", &good)
        .unwrap();
    let changes = vec![
        ChangeRecord {
            check: "ec2.sg-open-admin-ports".into(),
            region: "eu-west-1".into(),
            resource: "sg-0abc".into(),
            became: "fail".into(),
            actor: Some("arn:aws:iam::111122223333:user/mallory".into()),
            event: Some("AuthorizeSecurityGroupIngress".into()),
            at: "2025-11-20T01:00:00Z".into(),
        },
        ChangeRecord {
            check: "s3.bucket-public-write".into(),
            region: "global".into(),
            resource: "arn:aws:s3:::logs".into(),
            became: "pass".into(),
            actor: None,
            event: None,
            at: "2025-11-20T01:05:00Z".into(),
        },
    ];
    let c = h
        .record_recheck("111122223333", "2025-11-20T01:06:00Z", &bad, &changes)
        .unwrap();
    h.record("999999999999", "2025-11-20T00:00:00Z", &bad)
        .unwrap();
    (a, b, c)
}

#[test]
fn posture_history_on_postgres_reads_as_the_sqlite_history_does() {
    let Some(s) = Server::start() else { return };
    let url = s.database("posture");
    let dir = tempfile::tempdir().unwrap();
    let mut lite = History::open(&dir.path().join("posture.db")).unwrap();
    let mut pg = PgStore::connect(&url).unwrap();
    let ids = record(&mut lite);
    assert_eq!(record(&mut pg), ids);
    let (a, b, c) = ids;

    // Another connection (another worker) reads what this one wrote.
    let other = PgStore::connect(&url).unwrap();
    let both: [&dyn PostureHistory; 2] = [&lite, &other];
    let [l, p] = both.map(|h| {
        let all = h.scans(None, 10).unwrap();
        let one = h.scans(Some("111122223333"), 2).unwrap();
        (
            format!("{all:?}"),
            format!("{one:?}"),
            h.findings(b, Some("fail"), 0, 1000).unwrap(),
            h.findings(a, None, 5, 7).unwrap(),
            h.scope_score(a, "framework:cis-5.0").unwrap(),
            h.scope_score(a, "service:nope").unwrap(),
            h.changes(a, b).unwrap(),
            h.changes_since_full_scan("111122223333").unwrap(),
            h.trend_table(&all).unwrap() + &h.trend_table(&one).unwrap(),
        )
    });
    assert_eq!(l, p);
    let (all, one, _, page, cis, none, changes, since, table) = p;
    assert!(
        all.contains("999999999999") && !one.contains("999999999999"),
        "{one}"
    );
    assert_eq!(page.len(), 7);
    assert!(cis.is_some());
    assert_eq!(none, None);
    // The fixed story fixes what the misconfigured one failed.
    assert!(!changes.fixed.is_empty(), "{changes:?}");
    // The re-check came after the last full scan: both of its changes, in check order.
    assert_eq!(
        since.iter().map(|c| c.check.as_str()).collect::<Vec<_>>(),
        ["ec2.sg-open-admin-ports", "s3.bucket-public-write"]
    );
    // The last two scans of the account: the re-check failed again what the scan before fixed.
    assert!(table.contains("since scan 2"), "{table}");
    assert!(table.contains("NEW FAIL"), "{table}");
    // Near miss: after another full scan, nothing has changed since it.
    pg.record(
        "111122223333",
        "2025-11-21T00:00:00Z",
        &findings("story-fixed.json"),
    )
    .unwrap();
    assert!(other
        .changes_since_full_scan("111122223333")
        .unwrap()
        .is_empty());
    assert!(c > b);
}

#[test]
fn changes_queued_by_one_worker_are_read_by_another_in_order() {
    let Some(s) = Server::start() else { return };
    let url = s.database("posture_queue");
    let mut reader = PgStore::connect(&url).unwrap();
    let watcher = PgStore::connect(&url).unwrap();
    reader.queue_change(r#"{"event":"first"}"#).unwrap();
    // A value decoded from a hostile record may hold NUL, which PostgreSQL's text refuses.
    reader.queue_change("{\"event\":\"se\0cond\"}").unwrap();
    let all = watcher.queued_changes(0, 10).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].1.contains("first") && all[1].1.contains("se\u{FFFD}cond"));
    assert!(all[0].0 < all[1].0, "in the order queued");
    let after = watcher.queued_changes(all[0].0, 10).unwrap();
    assert_eq!(after, all[1..]);
    assert_eq!(watcher.queued_changes(all[1].0, 10).unwrap(), []);
    // The embedded history has no queue (one process re-checks what it reads): it says so.
    let d = tempfile::tempdir().unwrap();
    let mut local = History::open(&d.path().join("posture.db")).unwrap();
    let e = local.queue_change("{}").unwrap_err().to_string();
    assert!(e.contains("shared store"), "{e}");
}
