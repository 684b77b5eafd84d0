//! The storage interface ([`AlertStore`]) every backend implements, and its errors.

use rusqlite::params;

use super::{
    AlertPage, AlertQuery, DeliveryState, Filter, IncidentPage, Inserted, QueriedAlert, Store,
    StoredAlert, StoredIncident, Throttle,
};
use crate::alert::AlertRecord;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[error("alert store {path}: {source}")]
pub struct StoreError {
    /// Which store: the database file, or the server for a networked backend.
    pub path: String,
    /// What the database said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl StoreError {
    /// Whether this is [`LeaseLost`]: another worker delivers the output now, so trying again
    /// is pointless.
    pub fn is_lease_lost(&self) -> bool {
        self.source.downcast_ref::<LeaseLost>().is_some()
    }
}

/// A shared store's output lease went to another worker (this one paused past it): the cursor
/// is that worker's to move.
#[derive(Debug, thiserror::Error)]
#[error("output {0}: this worker no longer holds its delivery lease (another worker took it over)")]
pub struct LeaseLost(pub String);

/// An alert as a correlator in another process reads it back: the stored alert and the
/// encoded entities it was raised with (`None`: raised without them).
#[derive(Debug, Clone)]
pub struct LinkedAlert {
    /// The alert.
    pub alert: StoredAlert,
    /// Its event's entities (`harrier_incidents::entity::encode`'s form).
    pub entities: Option<String>,
}

/// Where a correlator taking over resumes: replay the alerts after position `after` with
/// event time at or after `since_ns` (up to its cursor) to rebuild the incidents still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// Replay alerts after this position.
    pub after: i64,
    /// ... whose event time is at or after this, ns.
    pub since_ns: i64,
}

/// One step of a correlation through the store, committed whole by
/// [`AlertStore::commit_correlation`].
#[derive(Debug, Clone, Copy)]
pub struct CorrelationStep<'a> {
    /// The correlation's cursor name (`~incidents`).
    pub task: &'a str,
    /// The position the cursor moves to.
    pub seq: i64,
    /// How many alerts the step read.
    pub count: u64,
    /// The notices it raised, stored throttled.
    pub notices: &'a [AlertRecord],
    /// The throttling of those notices.
    pub throttle: &'a Throttle,
    /// The incidents it changed, written whole.
    pub incidents: &'a [StoredIncident],
}

/// Whether a delivery cursor is an output's: those named with a leading `~` are Harrier's own
/// (the incident correlation's), which reports of outputs leave out.
pub fn is_output(name: &str) -> bool {
    !name.starts_with('~')
}

fn unsupported(what: &str) -> StoreError {
    StoreError {
        path: "alert store".into(),
        source: format!("{what}: this store is for one process (correlation runs in it)").into(),
    }
}

/// The contract of an alert store: what sources, outputs, the CLI and the service need from
/// it, whatever the database. [`Store`] (SQLite, one machine) implements it; a backend for
/// several workers implements it too and passes the same suite (`store::contract`).
///
/// The guarantees, which every implementation keeps:
/// - [`AlertStore::insert`] writes the alerts and the checkpoint in one durable transaction:
///   when it returns `Ok`, the input that produced them may be acknowledged; when it fails,
///   neither is written;
/// - an alert id is stored once: a replay or another worker raising it again counts as a
///   duplicate;
/// - each output has its own cursor: [`AlertStore::pending`] returns what it has not
///   delivered, oldest first, suppressed alerts skipped, and [`AlertStore::mark_delivered`]
///   only moves the cursor forward.
pub trait AlertStore: Send {
    /// Stores `alerts` (throttled by `throttle`) and sets `checkpoint`, atomically.
    fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError>;
    /// The checkpoint of `source`, if it has one.
    fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError>;
    /// Alerts matching `filter`, oldest first.
    fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError>;
    /// Number of alerts stored (suppressed included).
    fn count(&self) -> Result<u64, StoreError>;
    /// Up to `limit` alerts `output` has not delivered, oldest first, suppressed skipped.
    fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError>;
    /// How many alerts `output` has not delivered (suppressed ones aside), without taking
    /// part in its delivery (a shared store's lease is left alone).
    fn undelivered(&self, output: &str) -> Result<u64, StoreError> {
        self.pending(output, u32::MAX).map(|p| p.len() as u64)
    }
    /// Registers `output` if new: from the first alert stored (`from_start`) or from now.
    fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError>;
    /// `output` delivered everything up to `seq` (`count` alerts of it).
    fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError>;
    /// A failed delivery attempt of `output`.
    fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError>;
    /// Delivery state of every output.
    fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError>;
    /// The highest store position (0 when empty).
    fn last_seq(&self) -> Result<i64, StoreError>;
    /// Writes an incident as it is now (replacing what was stored under its id).
    fn put_incident(&mut self, incident: &StoredIncident) -> Result<(), StoreError>;
    /// The `limit` incidents seen most recently, most recent first.
    fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError>;
    /// One incident, by id.
    fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError>;
    /// Writes baseline profiles (`subject`, opaque profile text), replacing those stored under
    /// the same subjects, in one transaction.
    fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError>;
    /// Every stored baseline profile, by subject.
    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError>;

    // What a console reads: pages, newest first, by facets and words; counts kept on insert.

    /// A page of alerts matching `q`, newest first (keyset pagination on the position).
    fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError>;
    /// One alert by id, with its facets and event.
    fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError>;
    /// Delivered (not suppressed) alerts per UTC day of event time and priority number, for
    /// the days in `[since_day, until_day)` (days since the epoch): `(day, priority, count)`,
    /// ordered by day then priority.
    fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError>;
    /// Number of alerts stored (suppressed included), from counts kept on insert.
    fn counted(&self) -> Result<u64, StoreError>;
    /// How many alerts each rule raised (suppressed included), most first, then by name.
    fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// Every source checkpoint: `(source, value, updated ns)`, by source.
    fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// A page of incidents, most recently active first, before the key `(last_ns, id)` of the
    /// previous page's last one.
    fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError>;

    // What a correlator for several workers needs (a shared store; one process's store
    // correlates in that process and says it does not support these).

    /// Takes or renews the lease of `task` (a delivery cursor such as an output's, registered
    /// with [`AlertStore::register_output`]) and returns its cursor; `None` while another
    /// worker holds it. The cursor moves with [`AlertStore::mark_delivered`], under the lease.
    fn lease(&self, task: &str) -> Result<Option<i64>, StoreError> {
        let _ = task;
        Err(unsupported("leases"))
    }
    /// Up to `limit` alerts after position `after` and at most `upto`, with event time at or
    /// after `since_ns`, in store order, suppressed ones included, with their entities.
    fn linked(
        &self,
        after: i64,
        upto: i64,
        since_ns: i64,
        limit: u32,
    ) -> Result<Vec<LinkedAlert>, StoreError> {
        let _ = (after, upto, since_ns, limit);
        Err(unsupported("alerts with entities"))
    }
    /// What a correlator taking over at cursor `upto` replays to rebuild the incidents that
    /// alerts after it may still join: alerts a `window_ns` behind the newest event up to the
    /// cursor, and every alert of the incidents active in that window, from their first.
    fn replay_from(&self, upto: i64, window_ns: i64) -> Result<Replay, StoreError> {
        let _ = (upto, window_ns);
        Err(unsupported("replays"))
    }
    /// Commits one step of a correlation in one transaction, only while this worker holds
    /// its lease: stores the step's notices (throttled), writes its incidents whole, and moves
    /// its cursor. A worker that lost the lease writes nothing and gets [`LeaseLost`].
    fn commit_correlation(&mut self, step: &CorrelationStep<'_>) -> Result<Inserted, StoreError> {
        let _ = step;
        Err(unsupported("correlation steps"))
    }
}

impl AlertStore for Store {
    fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError> {
        Store::insert(self, alerts, throttle, checkpoint)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        Store::checkpoint(self, source)
    }
    fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        Store::list(self, filter)
    }
    fn count(&self) -> Result<u64, StoreError> {
        Store::count(self)
    }
    fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError> {
        Store::pending(self, output, limit)
    }
    fn undelivered(&self, output: &str) -> Result<u64, StoreError> {
        let after = self.cursor(output)?;
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM alerts WHERE seq > ?1 AND suppressed = 0",
                params![after],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
    fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError> {
        Store::register_output(self, output, from_start)
    }
    fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError> {
        Store::mark_delivered(self, output, seq, count)
    }
    fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError> {
        Store::record_failure(self, output, error)
    }
    fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError> {
        Store::deliveries(self)
    }
    fn last_seq(&self) -> Result<i64, StoreError> {
        Store::last_seq(self)
    }
    fn put_incident(&mut self, incident: &StoredIncident) -> Result<(), StoreError> {
        Store::put_incident(self, incident)
    }
    fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError> {
        Store::incidents(self, limit)
    }
    fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        Store::incident(self, id)
    }
    fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError> {
        Store::put_baselines(self, profiles)
    }
    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        Store::baselines(self)
    }
    fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        Store::query(self, q)
    }
    fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        Store::alert(self, id)
    }
    fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        Store::alerts_per_day(self, since_day, until_day)
    }
    fn counted(&self) -> Result<u64, StoreError> {
        Store::counted(self)
    }
    fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        Store::rule_counts(self)
    }
    fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Store::checkpoints(self)
    }
    fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError> {
        Store::incidents_page(self, before, limit)
    }
}

/// A store chosen at run time (SQLite or a networked backend) is a store.
impl<S: AlertStore + ?Sized> AlertStore for Box<S> {
    fn lease(&self, task: &str) -> Result<Option<i64>, StoreError> {
        (**self).lease(task)
    }
    fn linked(
        &self,
        after: i64,
        upto: i64,
        since_ns: i64,
        limit: u32,
    ) -> Result<Vec<LinkedAlert>, StoreError> {
        (**self).linked(after, upto, since_ns, limit)
    }
    fn replay_from(&self, upto: i64, window_ns: i64) -> Result<Replay, StoreError> {
        (**self).replay_from(upto, window_ns)
    }
    fn commit_correlation(&mut self, step: &CorrelationStep<'_>) -> Result<Inserted, StoreError> {
        (**self).commit_correlation(step)
    }
    fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError> {
        (**self).insert(alerts, throttle, checkpoint)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        (**self).checkpoint(source)
    }
    fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        (**self).list(filter)
    }
    fn count(&self) -> Result<u64, StoreError> {
        (**self).count()
    }
    fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError> {
        (**self).pending(output, limit)
    }
    fn undelivered(&self, output: &str) -> Result<u64, StoreError> {
        (**self).undelivered(output)
    }
    fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError> {
        (**self).register_output(output, from_start)
    }
    fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError> {
        (**self).mark_delivered(output, seq, count)
    }
    fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError> {
        (**self).record_failure(output, error)
    }
    fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError> {
        (**self).deliveries()
    }
    fn last_seq(&self) -> Result<i64, StoreError> {
        (**self).last_seq()
    }
    fn put_incident(&mut self, incident: &StoredIncident) -> Result<(), StoreError> {
        (**self).put_incident(incident)
    }
    fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError> {
        (**self).incidents(limit)
    }
    fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        (**self).incident(id)
    }
    fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError> {
        (**self).put_baselines(profiles)
    }
    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        (**self).baselines()
    }
    fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        (**self).query(q)
    }
    fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        (**self).alert(id)
    }
    fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        (**self).alerts_per_day(since_day, until_day)
    }
    fn counted(&self) -> Result<u64, StoreError> {
        (**self).counted()
    }
    fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        (**self).rule_counts()
    }
    fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        (**self).checkpoints()
    }
    fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError> {
        (**self).incidents_page(before, limit)
    }
}
