//! The behaviour every [`AlertStore`] must have, as one suite of checks that each backend's
//! tests run against fresh stores of their own:
//!
//! ```ignore
//! harrier_alerts::store::contract::run_all(&mut || Box::new(my_backend_on_a_fresh_database()));
//! ```
//!
//! Each check panics (with what it expected) when the store breaks the contract.

use std::time::Duration;

use harrier_rules::Priority;

use super::{priority_num, AlertQuery, AlertStore, Filter, Limit, StoredIncident, Throttle};
use crate::alert::AlertRecord;

/// Makes a fresh, empty store; called once per check.
pub type Factory<'a> = dyn FnMut() -> Box<dyn AlertStore> + 'a;

/// Runs every check of the contract.
pub fn run_all(fresh: &mut Factory<'_>) {
    ids_are_stored_once(fresh().as_mut());
    checkpoints_move_with_their_alerts(fresh().as_mut());
    each_output_has_its_own_cursor(fresh().as_mut());
    throttled_alerts_are_kept_but_not_delivered(fresh().as_mut());
    lists_filter_and_order(fresh().as_mut());
    incidents_are_replaced_as_they_grow(fresh().as_mut());
    baselines_are_replaced_by_subject(fresh().as_mut());
    console_reads_find_by_facets_words_and_pages(fresh().as_mut());
}

/// An alert of `rule` for event `event` at `t_s` seconds, by `user`.
pub fn alert(rule: &str, event: &str, t_s: i64, user: &str, p: Priority) -> AlertRecord {
    AlertRecord {
        time_ns: t_s * 1_000_000_000,
        rule: rule.into(),
        priority: p,
        source: "aws_cloudtrail".into(),
        output: format!("{rule} by {user}"),
        output_fields: vec![("ct.user".into(), Some(user.into()))],
        tags: vec!["aws".into()],
        hostname: "h".into(),
        event_id: Some(event.into()),
        rule_file: "r.yaml".into(),
        event: None,
        entities: None,
    }
}

/// A replayed input or a second worker raising the same alert stores it once.
pub fn ids_are_stored_once(s: &mut dyn AlertStore) {
    let a = alert("Create Access Key", "e1", 100, "alice", Priority::Warning);
    let t = Throttle::default();
    let first = s.insert(std::slice::from_ref(&a), &t, None).unwrap();
    assert_eq!((first.new, first.duplicates), (1, 0), "first insert");
    let again = s.insert(&[a.clone(), a], &t, None).unwrap();
    assert_eq!(
        (again.new, again.duplicates),
        (0, 2),
        "replayed alerts are duplicates"
    );
    assert_eq!(s.count().unwrap(), 1, "stored once");
}

/// A checkpoint is written with its batch of alerts, and read back.
pub fn checkpoints_move_with_their_alerts(s: &mut dyn AlertStore) {
    assert_eq!(s.checkpoint("cw:g").unwrap(), None, "no checkpoint yet");
    let t = Throttle::default();
    let a = alert("R", "e1", 1, "a", Priority::Warning);
    s.insert(&[a], &t, Some(("cw:g", "41"))).unwrap();
    s.insert(&[], &t, Some(("cw:g", "42"))).unwrap();
    assert_eq!(
        s.checkpoint("cw:g").unwrap().as_deref(),
        Some("42"),
        "latest wins"
    );
    assert_eq!(s.checkpoint("other").unwrap(), None, "per source");
}

/// Outputs read from their own cursors; a new output starts now unless told to start at the
/// beginning; cursors only move forward.
pub fn each_output_has_its_own_cursor(s: &mut dyn AlertStore) {
    let t = Throttle::default();
    let batch: Vec<_> = (0..3)
        .map(|i| alert("R", &format!("e{i}"), i, "u", Priority::Warning))
        .collect();
    s.register_output("old", true).unwrap();
    s.insert(&batch[..2], &t, None).unwrap();
    s.register_output("new", false).unwrap();
    s.insert(&batch[2..], &t, None).unwrap();
    let old = s.pending("old", 10).unwrap();
    assert_eq!(old.len(), 3, "registered from the start");
    assert!(old.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    assert_eq!(
        s.pending("new", 10).unwrap().len(),
        1,
        "registered from now"
    );
    s.mark_delivered("old", old[1].seq, 2).unwrap();
    assert_eq!(s.pending("old", 10).unwrap().len(), 1);
    s.mark_delivered("old", old[0].seq, 0).unwrap();
    assert_eq!(
        s.pending("old", 10).unwrap().len(),
        1,
        "a cursor never moves back"
    );
    assert_eq!(
        s.pending("new", 10).unwrap().len(),
        1,
        "cursors are independent"
    );
    s.record_failure("new", "HTTP 500").unwrap();
    let d = s.deliveries().unwrap();
    let old_d = d.iter().find(|d| d.output == "old").unwrap();
    assert_eq!((old_d.delivered, old_d.failures), (2, 0));
    let new_d = d.iter().find(|d| d.output == "new").unwrap();
    assert_eq!(new_d.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(s.last_seq().unwrap(), old[2].seq);
}

/// Alerts over their throttle are stored as suppressed: listed with `include_suppressed`,
/// never pending.
pub fn throttled_alerts_are_kept_but_not_delivered(s: &mut dyn AlertStore) {
    let t = Throttle {
        default: Some(Limit {
            window: Duration::from_secs(600),
            max: 1,
        }),
        ..Throttle::default()
    };
    s.register_output("o", true).unwrap();
    let d = s
        .insert(
            &[
                alert("Root Account Used", "e1", 10, "root", Priority::Warning),
                alert("Root Account Used", "e2", 20, "root", Priority::Warning),
                alert("Root Account Used", "e3", 30, "bob", Priority::Warning),
            ],
            &t,
            None,
        )
        .unwrap();
    assert_eq!(
        (d.new, d.suppressed),
        (2, 1),
        "the repeat by root is suppressed"
    );
    assert_eq!(s.pending("o", 10).unwrap().len(), 2);
    assert_eq!(s.list(&Filter::default()).unwrap().len(), 2);
    let all = Filter {
        include_suppressed: true,
        ..Filter::default()
    };
    assert_eq!(s.list(&all).unwrap().len(), 3);
}

/// Listing filters by time, rule and priority, and keeps the most recent `limit`.
pub fn lists_filter_and_order(s: &mut dyn AlertStore) {
    let t = Throttle::default();
    s.insert(
        &[
            alert("A", "e1", 100, "u", Priority::Critical),
            alert("B", "e2", 200, "u", Priority::Notice),
            alert("A", "e3", 300, "u", Priority::Warning),
        ],
        &t,
        None,
    )
    .unwrap();
    let rules = |f: Filter| -> Vec<String> {
        s.list(&f)
            .unwrap()
            .into_iter()
            .map(|a| format!("{}@{}", a.rule, a.time_ns / 1_000_000_000))
            .collect()
    };
    assert_eq!(rules(Filter::default()), ["A@100", "B@200", "A@300"]);
    let since = Filter {
        since_ns: Some(200_000_000_000),
        ..Filter::default()
    };
    assert_eq!(rules(since), ["B@200", "A@300"]);
    let rule = Filter {
        rule: Some("A".into()),
        ..Filter::default()
    };
    assert_eq!(rules(rule), ["A@100", "A@300"]);
    let prio = Filter {
        min_priority: Some(Priority::Warning),
        ..Filter::default()
    };
    assert_eq!(rules(prio), ["A@100", "A@300"]);
    let last = Filter {
        limit: Some(1),
        ..Filter::default()
    };
    assert_eq!(rules(last), ["A@300"]);
}

/// An incident is stored under its id and replaced as it grows; listed most recent first.
pub fn incidents_are_replaced_as_they_grow(s: &mut dyn AlertStore) {
    let inc = |id: &str, last: i64, alerts: u64, p: Priority| StoredIncident {
        id: id.into(),
        first_ns: 0,
        last_ns: last,
        severity: p,
        alerts,
        title: format!("{alerts} alerts"),
        text: "timeline".into(),
        json: format!("{{\"id\":\"{id}\"}}"),
    };
    assert!(s.incidents(10).unwrap().is_empty());
    s.put_incident(&inc("inc-a", 10, 1, Priority::Warning))
        .unwrap();
    s.put_incident(&inc("inc-b", 20, 1, Priority::Notice))
        .unwrap();
    s.put_incident(&inc("inc-a", 30, 3, Priority::Critical))
        .unwrap();
    let all = s.incidents(10).unwrap();
    let ids: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["inc-a", "inc-b"], "most recent first, each once");
    assert_eq!(
        (all[0].alerts, all[0].severity),
        (3, Priority::Critical),
        "replaced"
    );
    assert_eq!(s.incident("inc-b").unwrap().unwrap().title, "1 alerts");
    assert_eq!(s.incident("inc-zz").unwrap(), None);
    assert_eq!(s.incidents(1).unwrap().len(), 1);
}

/// Baseline profiles are kept per subject, the newest write winning, and read back whole.
pub fn baselines_are_replaced_by_subject(s: &mut dyn AlertStore) {
    assert_eq!(s.baselines().unwrap(), vec![], "empty store");
    let p = |a: &str, b: &str| vec![(a.to_string(), b.to_string())];
    s.put_baselines(&p("key:AKIA1", "{\"v\":1}")).unwrap();
    s.put_baselines(&[
        (
            "principal:arn:aws:iam::1:user/alice".to_string(),
            "{}".to_string(),
        ),
        ("key:AKIA1".to_string(), "{\"v\":2}".to_string()),
    ])
    .unwrap();
    s.put_baselines(&[]).unwrap();
    let mut got = s.baselines().unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("key:AKIA1".to_string(), "{\"v\":2}".to_string()),
            (
                "principal:arn:aws:iam::1:user/alice".to_string(),
                "{}".to_string()
            ),
        ]
    );
}

/// What a console reads: pages of alerts newest first, by facet (from output fields, else from
/// the event), priority, time and words, suppressed ones only when asked; one alert with its
/// facets and event; the counts kept on insert; checkpoints; incidents a page at a time.
pub fn console_reads_find_by_facets_words_and_pages(s: &mut dyn AlertStore) {
    const DAY: i64 = 86_400;
    let alice = "arn:aws:iam::111122223333:user/alice";
    let t = Throttle {
        default: Some(Limit {
            window: Duration::from_secs(600),
            max: 1,
        }),
        ..Throttle::default()
    };
    let mut key = alert("Create Access Key", "e1", 100, alice, Priority::Warning);
    key.output = format!("Create Access Key by {alice} for xmrig-miner");
    key.output_fields = vec![
        ("ct.user.arn".into(), Some(alice.into())),
        ("ct.region".into(), Some("eu-west-1".into())),
        ("ct.user.accountid".into(), Some("111122223333".into())),
    ];
    let mut stop = alert("Stop Logging", "e2", DAY + 5, "-", Priority::Critical);
    stop.output_fields = vec![];
    stop.event = Some(
        r#"{"awsRegion":"us-east-1","recipientAccountId":"444455556666","userIdentity":{"arn":"arn:aws:iam::444455556666:user/bob"}}"#.into(),
    );
    let mut again = key.clone();
    again.event_id = Some("e3".into());
    again.time_ns = 200 * 1_000_000_000;
    let bulk: Vec<_> = (0..3)
        .map(|i| {
            let user = format!("carol{i}");
            alert(
                "Bulk",
                &format!("b{i}"),
                2 * DAY + i,
                &user,
                Priority::Notice,
            )
        })
        .collect();
    // One alert per batch, in time order: positions follow time on every backend.
    let mut ids = Vec::new();
    for (i, a) in [&key, &again, &stop, &bulk[0], &bulk[1], &bulk[2]]
        .into_iter()
        .enumerate()
    {
        let cp = (i == 5).then_some(("s3:trail", "k6"));
        s.insert(std::slice::from_ref(a), &t, cp).unwrap();
        ids.push(a.id());
    }
    let rules = |q: AlertQuery| -> Vec<String> {
        s.query(&q)
            .unwrap()
            .alerts
            .iter()
            .map(|a| format!("{}@{}", a.alert.rule, a.alert.time_ns / 1_000_000_000))
            .collect()
    };
    assert_eq!(
        rules(AlertQuery::default()),
        [
            format!("Bulk@{}", 2 * DAY + 2),
            format!("Bulk@{}", 2 * DAY + 1),
            format!("Bulk@{}", 2 * DAY),
            format!("Stop Logging@{}", DAY + 5),
            "Create Access Key@100".to_string()
        ],
        "newest first, the suppressed repeat left out"
    );
    let by = |f: fn(&mut AlertQuery, String), v: &str| {
        let mut q = AlertQuery::default();
        f(&mut q, v.to_string());
        rules(q)
    };
    assert_eq!(
        by(|q, v| q.principal = Some(v), alice),
        ["Create Access Key@100"]
    );
    let mut all_alice = AlertQuery {
        principal: Some(alice.into()),
        include_suppressed: true,
        ..AlertQuery::default()
    };
    assert_eq!(
        rules(all_alice.clone()),
        ["Create Access Key@200", "Create Access Key@100"],
        "suppressed ones when asked"
    );
    all_alice.principal = Some("arn:aws:iam::111122223333:user/alic".into());
    assert!(rules(all_alice).is_empty(), "facets match whole values");
    let from_event = [format!("Stop Logging@{}", DAY + 5)];
    assert_eq!(by(|q, v| q.account = Some(v), "444455556666"), from_event);
    assert_eq!(by(|q, v| q.region = Some(v), "us-east-1"), from_event);
    assert_eq!(
        by(
            |q, v| q.principal = Some(v),
            "arn:aws:iam::444455556666:user/bob"
        ),
        from_event
    );
    assert_eq!(by(|q, v| q.region = Some(v), "eu-west-1").len(), 1);
    assert_eq!(by(|q, v| q.rule = Some(v), "Bulk").len(), 3);
    assert_eq!(
        by(|q, v| q.text = Some(v), "XMRIG"),
        ["Create Access Key@100"],
        "words, any case"
    );
    assert_eq!(
        by(|q, v| q.text = Some(v), "xmrig alice"),
        ["Create Access Key@100"],
        "every word, from output and facets"
    );
    assert!(
        by(|q, v| q.text = Some(v), "xmrig bob").is_empty(),
        "every word must be there"
    );
    assert!(
        by(|q, v| q.text = Some(v), " ':()* ").is_empty(),
        "nothing searchable matches nothing"
    );
    assert!(
        by(|q, v| q.text = Some(v), "xmri").is_empty(),
        "whole words"
    );
    let critical = AlertQuery {
        min_priority: Some(Priority::Error),
        ..AlertQuery::default()
    };
    assert_eq!(rules(critical), from_event);
    let window = AlertQuery {
        since_ns: Some(DAY * 1_000_000_000),
        until_ns: Some(2 * DAY * 1_000_000_000),
        ..AlertQuery::default()
    };
    assert_eq!(rules(window), from_event);
    // Pages.
    let first = s
        .query(&AlertQuery {
            rule: Some("Bulk".into()),
            limit: Some(2),
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(first.alerts.len(), 2);
    let second = s
        .query(&AlertQuery {
            rule: Some("Bulk".into()),
            limit: Some(2),
            before_seq: first.next,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(
        second
            .alerts
            .iter()
            .map(|a| a.alert.time_ns / 1_000_000_000)
            .collect::<Vec<_>>(),
        [2 * DAY],
        "the page after the first two"
    );
    assert_eq!(second.next, None, "the last page");
    // One alert.
    let got = s.alert(&ids[2]).unwrap().expect("stored");
    assert_eq!(got.alert.rule, "Stop Logging");
    assert_eq!(got.facets.region.as_deref(), Some("us-east-1"));
    assert_eq!(got.facets.account.as_deref(), Some("444455556666"));
    assert_eq!(got.event, stop.event);
    let k = s.alert(&ids[0]).unwrap().expect("stored");
    assert_eq!(k.facets.principal.as_deref(), Some(alice));
    assert_eq!(k.event, None);
    assert!(s.alert("no-such-id").unwrap().is_none());
    // Counts kept on insert.
    assert_eq!(s.counted().unwrap(), 6, "suppressed included");
    assert_eq!(
        s.rule_counts().unwrap(),
        vec![
            ("Bulk".to_string(), 3),
            ("Create Access Key".to_string(), 2),
            ("Stop Logging".to_string(), 1)
        ]
    );
    assert_eq!(
        s.alerts_per_day(0, 3).unwrap(),
        vec![
            (0, priority_num(Priority::Warning), 1),
            (1, priority_num(Priority::Critical), 1),
            (2, priority_num(Priority::Notice), 3)
        ],
        "delivered alerts per day and priority"
    );
    assert_eq!(s.alerts_per_day(1, 2).unwrap().len(), 1, "[since, until)");
    let cps = s.checkpoints().unwrap();
    assert_eq!(cps.len(), 1);
    assert_eq!((cps[0].0.as_str(), cps[0].1.as_str()), ("s3:trail", "k6"));
    // Incidents, a page at a time: most recently active first, ties by id.
    for (id, last) in [("inc-a", 10), ("inc-b", 20), ("inc-c", 20)] {
        s.put_incident(&StoredIncident {
            id: id.into(),
            first_ns: 0,
            last_ns: last,
            severity: Priority::Warning,
            alerts: 1,
            title: id.into(),
            text: String::new(),
            json: "{}".into(),
        })
        .unwrap();
    }
    let (page, next) = s.incidents_page(None, 2).unwrap();
    let names: Vec<&str> = page.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(names, ["inc-b", "inc-c"]);
    assert_eq!(next, Some((20, "inc-c".to_string())));
    let (page, next) = s
        .incidents_page(next.as_ref().map(|(t, id)| (*t, id.as_str())), 2)
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "inc-a");
    assert_eq!(next, None);
}
