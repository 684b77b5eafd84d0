//! The PostgreSQL store against a real server: Debian's `postgresql` (initdb in a temporary
//! directory, a free loopback port), started by the test and stopped when it ends.
//! HARRIER_SKIP_POSTGRES_TESTS=1 (set by scripts/test when the server is not installed and
//! cannot be) skips them and says so.

#[path = "support/pg_server.rs"]
mod pg_server;
use pg_server::Server;

use harrier_alerts::store::contract;
use harrier_alerts::store::{
    AlertQuery, AlertStore, CorrelationStep, Limit, RuleThrottle, Throttle,
};
use harrier_rules::Priority;
use harrier_store_pg::{PgStore, SCHEMA_VERSION};

fn alert(rule: &str, event: &str, t: i64) -> harrier_alerts::AlertRecord {
    contract::alert(rule, event, t, "alice", Priority::Warning)
}

#[test]
fn postgres_meets_the_store_contract() {
    let Some(s) = Server::start() else { return };
    let mut n = 0;
    contract::run_all(&mut || {
        n += 1;
        Box::new(PgStore::connect(&s.database(&format!("contract{n}"))).unwrap())
    });
    assert_eq!(n, 8, "every check ran on a fresh database");
}

#[test]
fn console_accounts_on_postgres_are_shared_by_every_connection() {
    let Some(s) = Server::start() else { return };
    let url = s.database("accounts");
    // The same checks as console.db: one first admin of two workers asking together, a session
    // started on one connection valid on another, a new password ending it everywhere.
    harrier_console::accounts::contract::check(&|| Box::new(PgStore::connect(&url).unwrap()));
}

#[test]
fn workers_sharing_one_database_store_each_alert_once_and_throttle_as_one() {
    let Some(s) = Server::start() else { return };
    let url = s.database("workers");
    let mut t = Throttle::default();
    t.rules.insert(
        "Noisy".into(),
        RuleThrottle {
            limit: Some(Limit {
                window: std::time::Duration::from_secs(3600),
                max: 1,
            }),
            key_fields: Some(vec!["ct.user".into()]),
        },
    );
    // Three workers, each given the same 200 alerts (a queue delivering its messages more than
    // once), at once; half of them of a throttled rule with one key. (Throttling counts on
    // event time, so alerts arriving out of time order are judged in the order they arrive,
    // with one worker as with several.)
    let handles: Vec<_> = (0..3)
        .map(|w| {
            let url = url.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                let mut store = PgStore::connect(&url).unwrap();
                let all: Vec<_> = (0..200)
                    .map(|i| {
                        let rule = if i % 2 == 0 { "Noisy" } else { "Quiet" };
                        alert(rule, &format!("e{i}"), 1000 + i)
                    })
                    .collect();
                if w == 1 {
                    // Late by a moment: the others have stored some chunks already.
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                let mut total = harrier_alerts::store::Inserted::default();
                for chunk in all.chunks(10) {
                    let d = store
                        .insert(chunk, &t, Some(("queue", &format!("w{w}"))))
                        .unwrap();
                    total.new += d.new;
                    total.duplicates += d.duplicates;
                    total.suppressed += d.suppressed;
                }
                total
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(store.count().unwrap(), 200, "each alert stored once");
    let new: u64 = results.iter().map(|r| r.new).sum();
    let suppressed: u64 = results.iter().map(|r| r.suppressed).sum();
    let dups: u64 = results.iter().map(|r| r.duplicates).sum();
    assert_eq!(dups, 400, "{results:?}");
    // 100 quiet alerts delivered, and one of the 100 noisy ones: as one worker would.
    assert_eq!((new, suppressed), (101, 99), "{results:?}");
    store.register_output("file", true).unwrap();
    assert_eq!(store.pending("file", 1000).unwrap().len(), 101);
}

#[test]
fn a_newer_schema_is_refused_and_migration_runs_once() {
    let Some(s) = Server::start() else { return };
    let url = s.database("schema");
    // Inspected before anything ran: no schema, and inspecting wrote none.
    let before = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!((before.schema, before.current()), (0, Some(false)));
    assert_eq!(harrier_store_pg::inspect(&url).unwrap().schema, 0);
    // Workers starting together migrate once.
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                PgStore::connect(&url)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap().unwrap();
    }
    let mut st = PgStore::connect(&url).unwrap();
    assert_eq!(st.schema_version().unwrap(), SCHEMA_VERSION);
    let now = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!(
        (now.schema, now.current(), now.alerts),
        (SCHEMA_VERSION, Some(true), 0)
    );
    // An output registered, two alerts stored: both waiting for it.
    st.register_output("file", false).unwrap();
    st.insert(
        &[alert("R", "e1", 1), alert("R2", "e2", 2)],
        &harrier_alerts::store::Throttle::default(),
        None,
    )
    .unwrap();
    let now = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!(now.alerts, 2);
    assert_eq!(now.behind, [("file".to_string(), 2)]);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    assert_eq!(
        c.query_one("SELECT COUNT(*) FROM harrier_schema", &[])
            .unwrap()
            .get::<_, i64>(0),
        i64::from(SCHEMA_VERSION),
        "each migration recorded once, though several connections ran"
    );
    c.execute("INSERT INTO harrier_schema (version) VALUES (99)", &[])
        .unwrap();
    let e = PgStore::connect(&url).err().unwrap().to_string();
    assert!(e.contains("version 99") && e.contains("refusing"), "{e}");
    let newer = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!((newer.schema, newer.current()), (99, None));
    // A password never shows in an error.
    let bad = format!("postgres://harrier:s3cret@127.0.0.1:{}/nope", s.port);
    let e = PgStore::connect(&bad).err().unwrap().to_string();
    assert!(!e.contains("s3cret") && e.contains("nope"), "{e}");
}

#[test]
fn one_worker_at_a_time_delivers_an_output_and_another_takes_over_when_it_dies() {
    let Some(s) = Server::start() else { return };
    let url = s.database("leases");
    let (mut a, b) = (
        PgStore::connect(&url).unwrap(),
        PgStore::connect(&url).unwrap(),
    );
    a.register_output("file", true).unwrap();
    b.register_output("file", true).unwrap();
    let t = Throttle::default();
    a.insert(
        &[
            alert("R", "e1", 1),
            alert("R", "e2", 2),
            alert("R", "e3", 3),
        ],
        &t,
        None,
    )
    .unwrap();

    // A takes the lease; B, reading the same output, gets nothing and cannot move the cursor.
    let got = a.pending("file", 2).unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        b.pending("file", 10).unwrap().is_empty(),
        "A holds the lease"
    );
    assert!(
        b.mark_delivered("file", got[1].seq, 2)
            .unwrap_err()
            .is_lease_lost(),
        "not B's to move"
    );
    a.mark_delivered("file", got[0].seq, 1).unwrap();
    assert_eq!(b.undelivered("file").unwrap(), 2, "counting takes no lease");
    assert!(b.pending("file", 10).unwrap().is_empty(), "still A's");

    // A dies (stops renewing; its lease runs out): B takes over from the committed cursor, in
    // order.
    a.stop_renewing();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.execute("UPDATE deliveries SET lease_until = 0", &[])
        .unwrap();
    let rest = b.pending("file", 10).unwrap();
    let ids: Vec<&str> = rest.iter().map(|x| x.id.as_str()).collect();
    let e3 = alert("R", "e3", 3).id();
    assert_eq!(ids, vec![got[1].id.as_str(), e3.as_str()], "e2 then e3");
    assert!(
        a.mark_delivered("file", got[1].seq, 1).is_err(),
        "A lost the lease"
    );
    b.mark_delivered("file", rest[1].seq, 2).unwrap();
    assert_eq!(a.undelivered("file").unwrap(), 0);

    // B stops: its lease is released, and A takes over at once.
    drop(b);
    a.insert(&[alert("R", "e4", 4)], &t, None).unwrap();
    assert_eq!(
        a.pending("file", 10).unwrap().len(),
        1,
        "released, not waited out"
    );
}

#[test]
fn a_restarted_server_is_reconnected_to_and_nothing_is_lost() {
    let Some(s) = Server::start() else { return };
    let url = s.database("restart");
    let mut st = PgStore::connect(&url).unwrap();
    let t = Throttle::default();
    st.insert(&[alert("R", "before", 1)], &t, Some(("sqs", "1")))
        .unwrap();
    s.restart();
    // The call that meets the lost connection fails (its input is not acknowledged) ...
    let first = st.insert(&[alert("R", "after", 2)], &t, Some(("sqs", "2")));
    // ... and the next one connects again and stores it.
    if first.is_err() {
        st.insert(&[alert("R", "after", 2)], &t, Some(("sqs", "2")))
            .unwrap();
    }
    assert_eq!(st.count().unwrap(), 2);
    assert_eq!(st.checkpoint("sqs").unwrap().as_deref(), Some("2"));
}

#[test]
fn sslmode_require_connects_over_tls_and_checks_the_server() {
    let Some(s) = Server::start() else { return };
    s.database("tls");
    let ca = s.enable_tls();
    let url = format!(
        "host=127.0.0.1 port={} user=harrier dbname=tls sslmode=require sslrootcert={}",
        s.port,
        ca.display()
    );
    let mut st = PgStore::connect(&url).unwrap();
    st.insert(&[alert("R", "over-tls", 1)], &Throttle::default(), None)
        .unwrap();
    assert_eq!(st.count().unwrap(), 1);
    let status = harrier_store_pg::inspect(&url).unwrap();
    assert_eq!(status.alerts, 1);
    // The same server checked against the web PKI's roots: not trusted, refused.
    let e = PgStore::connect(&format!(
        "host=127.0.0.1 port={} user=harrier dbname=tls sslmode=require",
        s.port
    ))
    .err()
    .expect("a certificate from an unknown CA is refused")
    .to_string();
    assert!(
        e.contains("certificate") || e.contains("tls") || e.contains("TLS"),
        "{e}"
    );
    // A CA file that holds no certificate is said so.
    let empty = ca.with_file_name("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    let e = PgStore::connect(&format!(
        "host=127.0.0.1 port={} user=harrier dbname=tls sslmode=require sslrootcert={}",
        s.port,
        empty.display()
    ))
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("no PEM certificate"), "{e}");
}

#[test]
fn a_worker_listening_is_woken_by_alerts_another_worker_stores() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let Some(s) = Server::start() else { return };
    let url = s.database("listen");
    let mut writer = PgStore::connect(&url).unwrap();
    let stop = AtomicBool::new(false);
    let woken = AtomicUsize::new(0);
    let wait_until = |n: usize| {
        let t = std::time::Instant::now();
        while woken.load(Ordering::SeqCst) < n {
            assert!(t.elapsed().as_secs() < 30, "woken {woken:?} times, not {n}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    std::thread::scope(|sc| {
        sc.spawn(|| {
            harrier_store_pg::listen(&url, &stop, || {
                woken.fetch_add(1, Ordering::SeqCst);
            })
        });
        // Once on connecting (alerts may have come while no one listened).
        wait_until(1);
        let a = alert("Stop", "e1", 1000);
        writer
            .insert(std::slice::from_ref(&a), &Throttle::default(), None)
            .unwrap();
        wait_until(2);
        // A second connection's alerts too, again and again.
        let mut other = PgStore::connect(&url).unwrap();
        for i in 0..3 {
            let a = alert("Stop", &format!("o{i}"), 2000 + i);
            other
                .insert(std::slice::from_ref(&a), &Throttle::default(), None)
                .unwrap();
            wait_until(3 + i as usize);
        }
        stop.store(true, Ordering::SeqCst);
    });
}

/// A database from before the console (schema version 3) is brought to the current version at
/// connect without rewriting its alerts: they are listed and counted (the counts are taken
/// from what it holds), not found by facet or word, as in SQLite; new alerts are.
#[test]
fn a_version_3_database_gets_the_consoles_columns_and_counts() {
    let Some(s) = Server::start() else { return };
    let url = s.database("v3");
    let mut st = PgStore::connect(&url).unwrap();
    let mut a = alert("Create Access Key", "e1", 100);
    a.output = "Create Access Key for xmrig".into();
    a.output_fields = vec![(
        "ct.user.arn".into(),
        Some("arn:aws:iam::111122223333:user/alice".into()),
    )];
    st.insert(&[a, alert("R", "e2", 200)], &Throttle::default(), None)
        .unwrap();
    drop(st);
    // Back to version 3 as it was: no facet columns, no counts.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "ALTER TABLE alerts DROP COLUMN principal, DROP COLUMN resource, DROP COLUMN account, \
         DROP COLUMN region, DROP COLUMN event, DROP COLUMN words;
         DROP TABLE alert_rule_counts; DROP TABLE alert_day_counts;
         DELETE FROM harrier_schema WHERE version >= 4;",
    )
    .unwrap();
    assert_eq!(harrier_store_pg::inspect(&url).unwrap().schema, 3);
    let mut st = PgStore::connect(&url).unwrap();
    assert_eq!(
        harrier_store_pg::inspect(&url).unwrap().schema,
        SCHEMA_VERSION
    );
    let xmrig = || AlertQuery {
        text: Some("xmrig".into()),
        ..AlertQuery::default()
    };
    assert_eq!(
        found_in(&st, AlertQuery::default()),
        ["R", "Create Access Key"]
    );
    assert!(
        found_in(&st, xmrig()).is_empty(),
        "old alerts keep no words"
    );
    assert_eq!(st.counted().unwrap(), 2);
    assert_eq!(
        st.alerts_per_day(0, 1)
            .unwrap()
            .iter()
            .map(|d| d.2)
            .sum::<u64>(),
        2
    );
    let mut new = alert("Stop Logging", "e3", 300);
    new.output = "Stop Logging by xmrig".into();
    st.insert(&[new], &Throttle::default(), None).unwrap();
    assert_eq!(found_in(&st, xmrig()), ["Stop Logging"]);
    assert_eq!(st.counted().unwrap(), 3);
}

fn found_in(st: &PgStore, q: AlertQuery) -> Vec<String> {
    st.query(&q)
        .unwrap()
        .alerts
        .into_iter()
        .map(|a| a.alert.rule)
        .collect()
}

/// What a correlator shared by workers reads: alerts with the entities they were stored with,
/// in store order, suppressed ones included, one lease holder at a time, and where a worker
/// taking the correlation over replays from.
#[test]
fn the_correlation_reads_alerts_with_their_entities_under_one_lease() {
    let Some(s) = Server::start() else { return };
    let url = s.database("correlation");
    let (mut a, b) = (
        PgStore::connect(&url).unwrap(),
        PgStore::connect(&url).unwrap(),
    );
    a.register_output("~incidents", true).unwrap();
    let mut t = Throttle::default();
    t.rules.insert(
        "Noisy".into(),
        RuleThrottle {
            limit: Some(Limit {
                window: std::time::Duration::from_secs(3600),
                max: 1,
            }),
            key_fields: None,
        },
    );
    let hour = 3600 * 1_000_000_000i64;
    let linked = |rule: &str, ev: &str, t: i64, e: Option<&str>| {
        let mut r = alert(rule, ev, 0);
        r.time_ns = t;
        r.entities = e.map(str::to_string);
        r
    };
    a.insert(
        &[
            linked("Old", "e0", hour, Some(r#"[["principal","old"]]"#)),
            linked("Noisy", "e1", 30 * hour, Some(r#"[["principal","alice"]]"#)),
            linked(
                "Noisy",
                "e2",
                30 * hour + 1,
                Some(r#"[["principal","alice"]]"#),
            ),
            linked("Plain", "e3", 30 * hour + 2, None),
        ],
        &t,
        None,
    )
    .unwrap();
    // One holder: A reads, B waits.
    let cursor = a.lease("~incidents").unwrap().expect("free");
    assert_eq!(cursor, 0);
    assert_eq!(b.lease("~incidents").unwrap(), None, "A holds it");
    let got = a.linked(cursor, i64::MAX, i64::MIN, 10).unwrap();
    let rules: Vec<&str> = got.iter().map(|l| l.alert.rule.as_str()).collect();
    assert_eq!(rules, ["Old", "Noisy", "Noisy", "Plain"], "store order");
    assert!(got[2].alert.suppressed, "the suppressed one is read too");
    assert_eq!(
        got[1].entities.as_deref(),
        Some(r#"[["principal","alice"]]"#)
    );
    assert_eq!(got[3].entities, None, "raised without entities");
    let end = got[3].alert.seq;
    a.mark_delivered("~incidents", end, 4).unwrap();
    assert!(a.linked(end, i64::MAX, i64::MIN, 10).unwrap().is_empty());

    // A taking over at the cursor replays a window behind the newest alert...
    let r = b.replay_from(end, 24 * hour).unwrap();
    assert_eq!(r.since_ns, 6 * hour + 2);
    let replayed = b.linked(r.after, end, r.since_ns, 10).unwrap();
    assert_eq!(replayed.len(), 3, "the old alert is a window behind");
    // ... and every alert of an incident still active in it, from its first.
    a.put_incident(&harrier_alerts::store::StoredIncident {
        id: "inc-1".into(),
        first_ns: hour,
        last_ns: 30 * hour,
        severity: Priority::Warning,
        alerts: 2,
        title: "t".into(),
        text: "t".into(),
        json: "{}".into(),
    })
    .unwrap();
    let r = b.replay_from(end, 24 * hour).unwrap();
    assert_eq!(r.since_ns, hour);
    assert_eq!(b.linked(r.after, end, r.since_ns, 10).unwrap().len(), 4);
    // An event stamped far in the future (a hostile or broken clock) does not move the
    // replay past everything.
    a.insert(
        &[linked(
            "Future",
            "e9",
            4_000_000_000 * 1_000_000_000,
            Some("[]"),
        )],
        &t,
        None,
    )
    .unwrap();
    let upto = a.last_seq().unwrap();
    assert_eq!(b.replay_from(upto, 24 * hour).unwrap().since_ns, hour);
    // An empty store replays nothing.
    let empty = PgStore::connect(&s.database("correlation_empty")).unwrap();
    assert_eq!(
        empty.replay_from(0, hour).unwrap(),
        harrier_alerts::store::Replay {
            after: 0,
            since_ns: i64::MAX
        }
    );

    // A step commits notices, incidents and the cursor together, only under the lease: B,
    // which does not hold it, writes nothing.
    let notice = linked("Incident Opened", "inc-1/opened", 30 * hour, None);
    let mut inc = a.incident("inc-1").unwrap().unwrap();
    inc.alerts = 3;
    // A value decoded from a hostile event may hold NUL, which PostgreSQL's text refuses.
    inc.title = "by al\0ice".into();
    let step = CorrelationStep {
        task: "~incidents",
        seq: upto,
        count: 1,
        notices: std::slice::from_ref(&notice),
        throttle: &t,
        incidents: std::slice::from_ref(&inc),
    };
    let mut b = b;
    let err = b.commit_correlation(&step).unwrap_err();
    assert!(err.is_lease_lost(), "{err}");
    assert_eq!(
        a.incident("inc-1").unwrap().unwrap().alerts,
        2,
        "B wrote nothing"
    );
    assert!(a.alert(&notice.id()).unwrap().is_none(), "nor its notice");
    assert_eq!(
        a.lease("~incidents").unwrap(),
        Some(end),
        "nor moved the cursor"
    );
    let done = a.commit_correlation(&step).unwrap();
    assert_eq!(done.new, 1);
    let stored = a.incident("inc-1").unwrap().unwrap();
    assert_eq!(
        (stored.alerts, stored.title.as_str()),
        (3, "by al\u{FFFD}ice")
    );
    assert_eq!(a.lease("~incidents").unwrap(), Some(upto));
    // Redone (a reply lost after the commit): the notice is stored once.
    let again = a.commit_correlation(&step).unwrap();
    assert_eq!((again.new, again.duplicates), (0, 1));
    // A facet holding NUL is stored too (the alert is not refused forever).
    let mut odd = linked("Odd", "e10", 31 * hour, None);
    odd.output_fields = vec![("ct.user".into(), Some("x\0y".into()))];
    assert_eq!(a.insert(&[odd], &t, None).unwrap().new, 1);
    // The embedded store is one process's: it correlates there and says so here.
    let d = tempfile::tempdir().unwrap();
    let sqlite = harrier_alerts::store::Store::open(&d.path().join("a.db")).unwrap();
    assert!(AlertStore::lease(&sqlite, "~incidents").is_err());
}
