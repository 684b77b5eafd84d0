//! The incident correlation through a shared store, against a real PostgreSQL (Debian's
//! `postgresql`, initdb in a temporary directory): a step whose commit landed but whose reply
//! was lost is redone without counting an alert twice, and a worker stopping hands over to
//! another, which rebuilds the open incident under its id.
//! HARRIER_SKIP_POSTGRES_TESTS=1 skips them and says so.

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

use std::sync::atomic::AtomicBool;

use harrier_alerts::outputs::Wake;
use harrier_alerts::store::{
    AlertPage, AlertQuery, AlertStore, CorrelationStep, DeliveryState, Filter, IncidentPage,
    Inserted, LinkedAlert, QueriedAlert, Replay, StoreError, StoredAlert, StoredIncident, Throttle,
};
use harrier_alerts::AlertRecord;
use harrier_incidents::{Entity, Kind};
use harrier_rules::Priority;
use harrier_serve::incidents::{run_store_correlation, StoreCorrelation, TASK};
use harrier_serve::metrics::CorrelationMetrics;
use harrier_store_pg::PgStore;

/// A PostgreSQL store whose first `refuse` correlation commits fail before reaching the
/// database, and whose next `lose` land but report a failure.
struct Flaky {
    inner: PgStore,
    refuse: u32,
    lose: u32,
}

impl AlertStore for Flaky {
    fn lease(&self, task: &str) -> Result<Option<i64>, StoreError> {
        self.inner.lease(task)
    }
    fn linked(
        &self,
        after: i64,
        upto: i64,
        since_ns: i64,
        limit: u32,
    ) -> Result<Vec<LinkedAlert>, StoreError> {
        self.inner.linked(after, upto, since_ns, limit)
    }
    fn replay_from(&self, upto: i64, window_ns: i64) -> Result<Replay, StoreError> {
        self.inner.replay_from(upto, window_ns)
    }
    fn commit_correlation(&mut self, step: &CorrelationStep<'_>) -> Result<Inserted, StoreError> {
        if self.refuse > 0 {
            self.refuse -= 1;
            return Err(StoreError {
                path: "flaky".into(),
                source: "connection lost before the commit".into(),
            });
        }
        let done = self.inner.commit_correlation(step)?;
        // The first commits are "lost on the way back": committed, yet the step sees a failure.
        if self.lose > 0 {
            self.lose -= 1;
            return Err(StoreError {
                path: "flaky".into(),
                source: "connection lost after the commit".into(),
            });
        }
        Ok(done)
    }
    fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError> {
        self.inner.insert(alerts, throttle, checkpoint)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.inner.checkpoint(source)
    }
    fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        self.inner.list(filter)
    }
    fn count(&self) -> Result<u64, StoreError> {
        self.inner.count()
    }
    fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError> {
        self.inner.pending(output, limit)
    }
    fn undelivered(&self, output: &str) -> Result<u64, StoreError> {
        self.inner.undelivered(output)
    }
    fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError> {
        self.inner.register_output(output, from_start)
    }
    fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError> {
        self.inner.mark_delivered(output, seq, count)
    }
    fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError> {
        self.inner.record_failure(output, error)
    }
    fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError> {
        self.inner.deliveries()
    }
    fn last_seq(&self) -> Result<i64, StoreError> {
        self.inner.last_seq()
    }
    fn put_incident(&mut self, incident: &StoredIncident) -> Result<(), StoreError> {
        self.inner.put_incident(incident)
    }
    fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError> {
        self.inner.incidents(limit)
    }
    fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        self.inner.incident(id)
    }
    fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError> {
        self.inner.put_baselines(profiles)
    }
    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.baselines()
    }
    fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        self.inner.query(q)
    }
    fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        self.inner.alert(id)
    }
    fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        self.inner.alerts_per_day(since_day, until_day)
    }
    fn counted(&self) -> Result<u64, StoreError> {
        self.inner.counted()
    }
    fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.inner.rule_counts()
    }
    fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.inner.checkpoints()
    }
    fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError> {
        self.inner.incidents_page(before, limit)
    }
}

const HOUR: i64 = 3600 * 1_000_000_000;

/// An alert of the attacker's key at `h` hours, stored with its entities.
fn alert(rule: &str, h: i64, key: &str) -> AlertRecord {
    let e = [Entity::new(Kind::AccessKey, key).unwrap()];
    AlertRecord {
        time_ns: 1_700_000_000 * 1_000_000_000 + h * HOUR,
        rule: rule.into(),
        priority: Priority::Warning,
        source: "aws_cloudtrail".into(),
        output: format!("{rule} with {key}"),
        output_fields: vec![],
        tags: vec!["mitre_persistence".into()],
        hostname: "h".into(),
        event_id: Some(format!("{rule}-{h}")),
        rule_file: "r.yaml".into(),
        event: None,
        entities: Some(harrier_incidents::entity::encode(&e)),
    }
}

/// Runs the correlation on `store` until it has read every alert, then stops it.
fn correlate(store: Box<dyn AlertStore>, url: &str) -> CorrelationMetrics {
    let stop = AtomicBool::new(false);
    let metrics = CorrelationMetrics::default();
    let wake = Wake::default();
    let cfg = StoreCorrelation {
        options: harrier_incidents::Options::default(),
        notices: true,
        throttle: Throttle::default(),
        hostname: "w",
        wake: &wake,
        metrics: &metrics,
    };
    std::thread::scope(|s| {
        let t = s.spawn(|| run_store_correlation(store, &cfg, &stop));
        let probe = PgStore::connect(url).unwrap();
        let t0 = std::time::Instant::now();
        loop {
            let read = probe
                .deliveries()
                .unwrap()
                .into_iter()
                .find(|d| d.output == TASK)
                .map_or(0, |d| d.seq);
            let newest = probe
                .list(&Filter {
                    include_suppressed: true,
                    ..Filter::default()
                })
                .unwrap()
                .into_iter()
                .filter(|a| a.source != "incident")
                .map(|a| a.seq)
                .max()
                .unwrap_or(0);
            if read >= newest && newest > 0 {
                break;
            }
            assert!(
                t0.elapsed().as_secs() < 60,
                "correlation stuck at {read} of {newest}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        t.join().unwrap().unwrap();
    });
    metrics
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

fn incidents(url: &str) -> Vec<(String, u64, Vec<String>)> {
    let s = PgStore::connect(url).unwrap();
    s.incidents(100)
        .unwrap()
        .into_iter()
        .map(|i| {
            let v: serde_json::Value = serde_json::from_str(&i.json).unwrap();
            let rules = v["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["rule"].as_str().unwrap().to_string())
                .collect();
            (i.id, i.alerts, rules)
        })
        .collect()
}

#[test]
fn a_step_redone_after_a_lost_reply_and_a_handover_keep_one_incident() {
    let Some(server) = pg_server::Server::start() else {
        return;
    };
    let url = server.database("store_correlation");
    let mut w = PgStore::connect(&url).unwrap();
    let t = Throttle::default();
    w.insert(
        &[
            alert("Key Created", 0, "AKIAATTACKER"),
            alert("User Created", 1, "AKIAATTACKER"),
            // A near miss: another key, its own story.
            alert("Key Created", 1, "AKIAOTHER"),
        ],
        &t,
        None,
    )
    .unwrap();
    // Worker 1: its first commit fails (the alerts it correlated in memory must not count
    // twice when it reads them again); its second lands but it is told it failed, so it
    // rebuilds from the store (the alerts it had read are behind the cursor now) and goes on.
    let m1 = correlate(
        Box::new(Flaky {
            inner: PgStore::connect(&url).unwrap(),
            refuse: 1,
            lose: 1,
        }),
        &url,
    );
    // Its metrics tell both failures, and a rebuild before each step after them.
    assert_eq!(
        (count(&m1.failures), count(&m1.rebuilds), count(&m1.held)),
        (2, 3, 0),
        "failures, rebuilds, lease held after stop"
    );
    let first = incidents(&url);
    assert_eq!(first.len(), 2, "{first:?}");
    let attacker = first
        .iter()
        .find(|(_, _, r)| r.len() == 2)
        .cloned()
        .unwrap_or_else(|| panic!("{first:?}"));
    assert_eq!(attacker.1, 2, "no alert counted twice: {first:?}");
    // Worker 1 stopped (its lease released). More of the story arrives; worker 2 takes the
    // correlation over, rebuilds the open incident and adds to it under the same id.
    w.insert(
        &[alert("Admin Policy Attached", 2, "AKIAATTACKER")],
        &t,
        None,
    )
    .unwrap();
    let m2 = correlate(Box::new(PgStore::connect(&url).unwrap()), &url);
    // One takeover, replaying the three alerts of the stories so far (not their notices).
    assert_eq!(
        (
            count(&m2.failures),
            count(&m2.rebuilds),
            count(&m2.replayed)
        ),
        (0, 1, 3)
    );
    assert!(count(&m2.steps) >= 1 && count(&m2.alerts) >= 1);
    let after = incidents(&url);
    assert_eq!(after.len(), 2, "{after:?}");
    let grown = after.iter().find(|(id, _, _)| *id == attacker.0).unwrap();
    assert_eq!(
        grown.2,
        ["Key Created", "User Created", "Admin Policy Attached"],
        "same incident, one more alert"
    );
    let opened = PgStore::connect(&url)
        .unwrap()
        .list(&Filter {
            rule: Some("Incident Opened".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(opened.len(), 2, "each incident opened once");
}
