use super::*;
use crate::AlertSink;

fn rec(rule: &str, event: &str, t_s: i64, user: &str) -> AlertRecord {
    super::contract::alert(rule, event, t_s, user, Priority::Warning)
}

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("alerts.db")).unwrap();
    (d, s)
}

#[test]
fn same_alert_twice_is_stored_once() {
    let (_d, mut s) = store();
    let a = rec("Create Access Key", "e1", 100, "alice");
    let first = s
        .insert(std::slice::from_ref(&a), &Throttle::default(), None)
        .unwrap();
    assert_eq!(first.new, 1);
    // A replay (crash before acknowledging) or a second worker: a duplicate, not a new alert.
    let again = s
        .insert(
            &[a, rec("Create Access Key", "e2", 101, "alice")],
            &Throttle::default(),
            None,
        )
        .unwrap();
    assert_eq!((again.new, again.duplicates), (1, 1));
    assert_eq!(s.count().unwrap(), 2);
    let listed = s.list(&Filter::default()).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, rec("Create Access Key", "e1", 0, "x").id());
    let v: serde_json::Value = serde_json::from_str(&listed[0].json).unwrap();
    assert_eq!(v["rule"], "Create Access Key");
    assert_eq!(v["id"], listed[0].id.as_str());
}

#[test]
fn checkpoint_commits_with_the_alerts() {
    let (d, mut s) = store();
    assert_eq!(s.checkpoint("sqs").unwrap(), None);
    s.insert(
        &[rec("R", "e1", 1, "a")],
        &Throttle::default(),
        Some(("cw:g", "42")),
    )
    .unwrap();
    assert_eq!(s.checkpoint("cw:g").unwrap().as_deref(), Some("42"));
    // Reopening the file sees both: they were one durable transaction.
    drop(s);
    let s = Store::open(&d.path().join("alerts.db")).unwrap();
    assert_eq!(s.checkpoint("cw:g").unwrap().as_deref(), Some("42"));
    assert_eq!(s.count().unwrap(), 1);
}

#[test]
fn throttle_suppresses_repeats_per_principal_within_the_window() {
    let (_d, mut s) = store();
    let mut t = Throttle {
        default: Some(Limit {
            window: Duration::from_secs(600),
            max: 1,
        }),
        ..Throttle::default()
    };
    t.rules
        .insert("Never Throttled".into(), RuleThrottle::default());
    let batch = [
        rec("Console Login", "e1", 1000, "alice"),
        // Same rule and principal, 5 minutes later: suppressed.
        rec("Console Login", "e2", 1300, "alice"),
        // Another principal: its own key.
        rec("Console Login", "e3", 1301, "bob"),
        // 11 minutes after the first: a new window.
        rec("Console Login", "e4", 1000 + 660, "alice"),
        rec("Never Throttled", "e5", 1000, "alice"),
        rec("Never Throttled", "e6", 1001, "alice"),
    ];
    let done = s.insert(&batch, &t, None).unwrap();
    assert_eq!((done.new, done.suppressed), (5, 1));
    let delivered: Vec<String> = s
        .list(&Filter::default())
        .unwrap()
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert!(!delivered.contains(&batch[1].id()));
    let all = s
        .list(&Filter {
            include_suppressed: true,
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.iter().any(|a| a.id == batch[1].id() && a.suppressed));
}

#[test]
fn filters_by_rule_priority_and_time() {
    let (_d, mut s) = store();
    let mut crit = rec("B", "e2", 200, "a");
    crit.priority = Priority::Critical;
    s.insert(
        &[rec("A", "e1", 100, "a"), crit, rec("A", "e3", 300, "a")],
        &Throttle::default(),
        None,
    )
    .unwrap();
    let rules =
        |f: Filter| -> Vec<String> { s.list(&f).unwrap().into_iter().map(|a| a.rule).collect() };
    assert_eq!(rules(Filter::default()), ["A", "B", "A"]);
    assert_eq!(
        rules(Filter {
            rule: Some("A".into()),
            ..Filter::default()
        }),
        ["A", "A"]
    );
    assert_eq!(
        rules(Filter {
            min_priority: Some(Priority::Error),
            ..Filter::default()
        }),
        ["B"]
    );
    assert_eq!(
        rules(Filter {
            since_ns: Some(200_000_000_000),
            ..Filter::default()
        }),
        ["B", "A"]
    );
    assert_eq!(
        rules(Filter {
            limit: Some(1),
            ..Filter::default()
        }),
        ["A"]
    );
}

#[test]
fn outputs_have_their_own_cursors() {
    let (_d, mut s) = store();
    s.insert(
        &[rec("A", "e1", 1, "a"), rec("A", "e2", 2, "a")],
        &Throttle::default(),
        None,
    )
    .unwrap();
    s.register_output("file", true).unwrap();
    s.register_output("late", false).unwrap();
    let p = s.pending("file", 10).unwrap();
    assert_eq!(p.len(), 2);
    assert!(s.pending("late", 10).unwrap().is_empty());
    // "file" delivers the first only; "webhook" fails and stays behind without holding "file".
    s.mark_delivered("file", p[0].seq, 1).unwrap();
    s.record_failure("webhook", "HTTP 500").unwrap();
    s.insert(&[rec("A", "e3", 3, "a")], &Throttle::default(), None)
        .unwrap();
    let p2 = s.pending("file", 10).unwrap();
    assert_eq!(p2.len(), 2);
    assert_eq!(p2[0].seq, p[1].seq);
    assert_eq!(s.pending("late", 10).unwrap().len(), 1);
    let st = s.deliveries().unwrap();
    let web = st.iter().find(|d| d.output == "webhook").unwrap();
    assert_eq!(
        (web.failures, web.last_error.as_deref()),
        (1, Some("HTTP 500"))
    );
    assert_eq!(s.pending("webhook", 10).unwrap().len(), 3);
}

#[test]
fn store_sink_commits_on_flush_only() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("a.db");
    let mut sink = StoreSink::new(Store::open(&path).unwrap(), Throttle::default());
    let r = rec("A", "e1", 1, "a");
    sink.send(&r.as_alert()).unwrap();
    sink.set_checkpoint("src", "7");
    let other = Store::open(&path).unwrap();
    assert_eq!(other.count().unwrap(), 0);
    sink.flush().unwrap();
    assert_eq!(other.count().unwrap(), 1);
    assert_eq!(other.checkpoint("src").unwrap().as_deref(), Some("7"));
    assert_eq!(sink.totals.new, 1);
}

#[test]
fn sqlite_meets_the_store_contract() {
    let d = tempfile::tempdir().unwrap();
    let mut n = 0;
    super::contract::run_all(&mut || {
        n += 1;
        Box::new(Store::open(&d.path().join(format!("c{n}.db"))).unwrap())
    });
    assert_eq!(n, 8, "every check ran on a fresh store");
}

#[test]
fn a_failed_checkpoint_write_rolls_its_alerts_back() {
    // The checkpoint write fails after the alerts were written (a trigger, set up through a
    // second connection): with one transaction nothing is stored; with two, the alerts would
    // be, and their input replayed would not be acknowledged while they sat in the store.
    let (d, mut s) = store();
    let db = d.path().join("alerts.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_checkpoint BEFORE INSERT ON checkpoints \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let e = s
        .insert(
            &[rec("R", "e1", 1, "a"), rec("R", "e2", 2, "a")],
            &Throttle::default(),
            Some(("cw:g", "42")),
        )
        .unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(
        s.count().unwrap(),
        0,
        "the alerts were rolled back with the checkpoint"
    );
    assert_eq!(s.checkpoint("cw:g").unwrap(), None);
    // Without a checkpoint the same alerts go in.
    s.insert(&[rec("R", "e1", 1, "a")], &Throttle::default(), None)
        .unwrap();
    assert_eq!(s.count().unwrap(), 1);
}

#[test]
fn queries_filter_by_facets_and_words_a_page_at_a_time() {
    let (_d, mut s) = store();
    let mut alerts = Vec::new();
    for i in 0..7 {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        let mut a = rec("Create Access Key", &format!("e{i}"), 100 + i, user);
        a.event = Some(format!(
            r#"{{"eventName":"CreateAccessKey","awsRegion":"eu-west-1","recipientAccountId":"11122233344{}"}}"#,
            i % 2
        ));
        alerts.push(a);
    }
    let mut other = rec("Delete Trail", "x", 200, "alice");
    other.output = "trail wiped by alice with xmrig nearby".into();
    alerts.push(other);
    s.insert(&alerts, &Throttle::default(), None).unwrap();

    let q = |f: AlertQuery| s.query(&f).unwrap();
    // Newest first, pages without overlap, the last one says so.
    let p1 = q(AlertQuery {
        limit: Some(3),
        ..Default::default()
    });
    assert_eq!(p1.alerts[0].alert.rule, "Delete Trail");
    let p2 = q(AlertQuery {
        limit: Some(3),
        before_seq: p1.next,
        ..Default::default()
    });
    let p3 = q(AlertQuery {
        limit: Some(3),
        before_seq: p2.next,
        ..Default::default()
    });
    assert_eq!(
        (p1.alerts.len(), p2.alerts.len(), p3.alerts.len(), p3.next),
        (3, 3, 2, None)
    );
    assert!(p2.alerts[0].alert.seq < p1.alerts[2].alert.seq);
    // Facets from the output fields (principal) and the event (account, region).
    let bob = q(AlertQuery {
        principal: Some("bob".into()),
        ..Default::default()
    });
    assert_eq!(bob.alerts.len(), 3);
    assert!(bob
        .alerts
        .iter()
        .all(|a| a.facets.account.as_deref() == Some("111222333441")));
    let eu = q(AlertQuery {
        region: Some("eu-west-1".into()),
        account: Some("111222333440".into()),
        ..Default::default()
    });
    assert_eq!(
        eu.alerts.len(),
        4,
        "alice's four in that account, not the trail (no event)"
    );
    // Words: every one must be there; a near miss finds nothing.
    let w = q(AlertQuery {
        text: Some("xmrig wiped".into()),
        ..Default::default()
    });
    assert_eq!(w.alerts.len(), 1);
    assert_eq!(w.alerts[0].alert.rule, "Delete Trail");
    assert!(q(AlertQuery {
        text: Some("xmrig bob".into()),
        ..Default::default()
    })
    .alerts
    .is_empty());
    // Counts per rule kept as alerts are stored (a replay does not count again).
    s.insert(&alerts, &Throttle::default(), None).unwrap();
    assert_eq!(
        s.rule_counts().unwrap(),
        vec![
            ("Create Access Key".to_string(), 7),
            ("Delete Trail".to_string(), 1)
        ]
    );
    assert_eq!(s.counted().unwrap(), 8);
    assert_eq!(
        s.alerts_per_day(0, 1).unwrap(),
        vec![(0, 4, 8)],
        "day 0, Warning"
    );
    assert!(s.alerts_per_day(1, 30).unwrap().is_empty());
    let id = &w.alerts[0].alert.id;
    assert_eq!(s.alert(id).unwrap().unwrap().alert.rule, "Delete Trail");
    assert!(s.alert("nope").unwrap().is_none());
}
