//! The alert store: every alert, durably, in SQLite, with source checkpoints and per-output
//! delivery cursors.
//!
//! The store is what makes "no alert lost, none shown twice" hold across crashes and workers:
//! - a source writes a batch of alerts (and, in the same transaction, its new checkpoint) and
//!   acknowledges its input only after the commit, so a crash before the commit replays the
//!   input and a crash after it does not;
//! - alert ids are deterministic ([`crate::alert_id`]), and the id is unique in the store, so a
//!   replayed input or a second worker raising the same alert stores it once;
//! - outputs read from the store after a cursor of their own ([`Store::pending`],
//!   [`Store::mark_delivered`]), so a slow or dead output lags without blocking the others or
//!   the sources, and resumes where it stopped after a restart.
//!
//! Noise control happens here too: a [`Throttle`] marks alerts beyond its limit as
//! *suppressed*: they are kept (and listed with `--all`) but not delivered.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use harrier_rules::Priority;
use rusqlite::{params, Connection, OptionalExtension};

use crate::alert::{AlertRecord, Format};

#[path = "store_api.rs"]
mod api;
pub use api::{is_output, AlertStore, CorrelationStep, LeaseLost, LinkedAlert, Replay, StoreError};

#[path = "store_incidents.rs"]
mod incidents;
pub use incidents::StoredIncident;

#[path = "store_contract.rs"]
pub mod contract;

#[path = "store_query.rs"]
mod query;
pub use query::{
    facets, next_page, words, AlertPage, AlertQuery, Facets, IncidentPage, QueriedAlert,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    time_ns INTEGER NOT NULL,
    stored_ns INTEGER NOT NULL,
    rule TEXT NOT NULL,
    priority INTEGER NOT NULL,
    source TEXT NOT NULL,
    throttle_key TEXT NOT NULL,
    suppressed INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time_ns);
CREATE INDEX IF NOT EXISTS alerts_throttle ON alerts(throttle_key, time_ns);
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    output TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    first_ns INTEGER NOT NULL,
    last_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    alerts INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_last ON incidents(last_ns);
CREATE TABLE IF NOT EXISTS baselines (
    subject TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    updated_ns INTEGER NOT NULL
);
";

/// A limit on how many alerts with the same key are delivered within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The window, measured on event time (so a backfill throttles like live input).
    pub window: Duration,
    /// Alerts delivered per key and window; the rest are stored as suppressed.
    pub max: u32,
}

/// Per-rule throttling and de-duplication, keyed by rule, principal and resource.
///
/// The principal is the first of `ct.user.arn`, `ct.user`, `ka.user.name`, `user.name` in the
/// alert's output fields; the resource is every resource-like output field present (request
/// names, Kubernetes target, container id, file name). A rule can name its own key fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttle {
    /// The limit for rules without their own; `None` delivers everything.
    pub default: Option<Limit>,
    /// Per rule name: its own limit (`None`: never throttled) and optionally its key fields.
    pub rules: HashMap<String, RuleThrottle>,
}

/// One rule's throttling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleThrottle {
    /// The limit; `None` delivers every alert of the rule.
    pub limit: Option<Limit>,
    /// Output fields that make the key, instead of principal and resource.
    pub key_fields: Option<Vec<String>>,
}

pub(crate) const PRINCIPAL_FIELDS: &[&str] =
    &["ct.user.arn", "ct.user", "ka.user.name", "user.name"];
pub(crate) const RESOURCE_FIELDS: &[&str] = &[
    "ct.resources",
    "ct.request.username",
    "ct.request.groupname",
    "ct.request.name",
    "ct.request.functionname",
    "ct.request.cluster",
    "ct.request.host",
    "ka.target.namespace",
    "ka.target.name",
    "container.id",
    "fd.name",
];

impl Throttle {
    /// Adds the `noise` each rule declares (its key fields and window, one alert per key and
    /// window) for the rules this throttle does not configure itself: a service's `noise:`
    /// settings win over the rule's.
    pub fn with_rule_noise(mut self, rules: &harrier_rules::RuleSet) -> Throttle {
        for r in rules.rules() {
            if let Some(n) = &r.noise {
                self.rules
                    .entry(r.name.clone())
                    .or_insert_with(|| RuleThrottle {
                        limit: Some(Limit {
                            window: Duration::from_nanos(n.window_ns.max(0) as u64),
                            max: 1,
                        }),
                        key_fields: Some(n.key.clone()),
                    });
            }
        }
        self
    }

    /// The limit of a rule's alerts (`None`: every one is delivered).
    pub fn limit(&self, rule: &str) -> Option<Limit> {
        self.for_rule(rule).0
    }

    fn for_rule(&self, rule: &str) -> (Option<Limit>, Option<&[String]>) {
        match self.rules.get(rule) {
            Some(r) => (r.limit, r.key_fields.as_deref()),
            None => (self.default, None),
        }
    }

    /// The throttle key of an alert: the rule and the values of its key fields.
    pub fn key(&self, a: &AlertRecord) -> String {
        let field = |name: &str| {
            a.output_fields
                .iter()
                .find(|(k, v)| k == name && v.is_some())
                .and_then(|(_, v)| v.as_deref())
        };
        let mut key = a.rule.clone();
        match self.for_rule(&a.rule).1 {
            Some(fields) => {
                for f in fields {
                    key.push('\u{1f}');
                    key.push_str(field(f).unwrap_or(""));
                }
            }
            None => {
                key.push('\u{1f}');
                key.push_str(PRINCIPAL_FIELDS.iter().find_map(|f| field(f)).unwrap_or(""));
                for f in RESOURCE_FIELDS {
                    if let Some(v) = field(f) {
                        key.push('\u{1f}');
                        key.push_str(v);
                    }
                }
            }
        }
        key
    }
}

/// What a [`Store::insert`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    /// New alerts, to be delivered.
    pub new: u64,
    /// Alerts already in the store (same id): replays, other workers.
    pub duplicates: u64,
    /// New alerts over their throttle limit: stored, not delivered.
    pub suppressed: u64,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    /// Position in the store (increasing).
    pub seq: i64,
    /// Deterministic alert id.
    pub id: String,
    /// Event time, ns since the epoch.
    pub time_ns: i64,
    /// When it was stored, ns since the epoch.
    pub stored_ns: i64,
    /// Rule name.
    pub rule: String,
    /// Rule priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// Suppressed by throttling (not delivered).
    pub suppressed: bool,
    /// The alert in Harrier's JSON shape (one line, no newline).
    pub json: String,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Event time at or after this, ns since the epoch.
    pub since_ns: Option<i64>,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only at or above this priority.
    pub min_priority: Option<Priority>,
    /// Include suppressed alerts.
    pub include_suppressed: bool,
    /// At most this many (the most recent).
    pub limit: Option<u64>,
}

/// Delivery state of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    /// Output name.
    pub output: String,
    /// Last delivered store position.
    pub seq: i64,
    /// Alerts delivered so far.
    pub delivered: u64,
    /// Failed delivery attempts so far.
    pub failures: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The SQLite alert store. One connection per thread; SQLite's WAL mode lets sources and
/// outputs use the file at once, and several processes too (busy waits up to 30 s).
pub struct Store {
    conn: Connection,
    path: String,
}

use harrier_events::time::now_ns;

/// The number a store keeps for a priority: 0 (Emergency) to 7 (Debug), so that "at or
/// above" is `<=` in SQL.
pub fn priority_num(p: Priority) -> i64 {
    Priority::ALL.iter().position(|x| *x == p).unwrap_or(7) as i64
}

/// The priority of a stored number ([`priority_num`]); out of range is clamped.
pub fn priority_of(n: i64) -> Priority {
    Priority::ALL
        .get(n.clamp(0, 7) as usize)
        .copied()
        .unwrap_or(Priority::Debug)
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |source: rusqlite::Error| StoreError {
            path: p.clone(),
            source: Box::new(source),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Stores made before the console lack its facet columns, indexes and counts: added in
        // one transaction, checked inside it (two processes opening an old store at once
        // upgrade it once; a crash midway leaves it as it was).
        conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let upgraded = (|| -> rusqlite::Result<()> {
            let have: Vec<String> = conn
                .prepare("SELECT name FROM pragma_table_info('alerts')")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for col in query::FACET_COLUMNS {
                if !have.iter().any(|h| h == col) {
                    conn.execute_batch(&format!("ALTER TABLE alerts ADD COLUMN {col} TEXT"))?;
                }
            }
            let counted: bool = conn.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'alert_rule_counts'",
                [],
                |r| r.get::<_, i64>(0).map(|n| n > 0),
            )?;
            conn.execute_batch(query::FACET_SCHEMA)?;
            if !counted {
                // A store made before the counts: count what it holds, once.
                conn.execute_batch(
                    "INSERT OR REPLACE INTO alert_rule_counts (rule, n) SELECT rule, COUNT(*) FROM alerts GROUP BY rule;
                     INSERT OR REPLACE INTO alert_day_counts (day, priority, n)
                       SELECT time_ns / 86400000000000, priority, COUNT(*) FROM alerts WHERE suppressed = 0 GROUP BY 1, 2;",
                )?;
            }
            Ok(())
        })();
        match upgraded {
            Ok(()) => conn.execute_batch("COMMIT").map_err(err)?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(err(e));
            }
        }
        Ok(Store { conn, path: p })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source: Box::new(source),
        }
    }

    /// Stores `alerts` and, when given, sets the checkpoint `(source, value)`, in one durable
    /// transaction: when this returns `Ok`, the input that produced them may be acknowledged.
    pub fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError> {
        let path = self.path.clone();
        let err = |source: rusqlite::Error| StoreError {
            path: path.clone(),
            source: Box::new(source),
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut done = Inserted::default();
        let stored = now_ns();
        {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM alerts WHERE id = ?1")
                .map_err(err)?;
            let mut recent = tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM alerts WHERE throttle_key = ?1 AND suppressed = 0 \
                     AND time_ns > ?2 AND time_ns <= ?3",
                )
                .map_err(err)?;
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO alerts (id, time_ns, stored_ns, rule, priority, source, \
                     throttle_key, suppressed, json, principal, resource, account, region, event) \
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
                )
                .map_err(err)?;
            let mut text = tx
                .prepare_cached("INSERT INTO alerts_text (rowid, body) VALUES (?1, ?2)")
                .map_err(err)?;
            let mut per_day = tx
                .prepare_cached(
                    "INSERT INTO alert_day_counts (day, priority, n) VALUES (?1, ?2, 1) \
                     ON CONFLICT(day, priority) DO UPDATE SET n = n + 1",
                )
                .map_err(err)?;
            let mut counts = tx
                .prepare_cached(
                    "INSERT INTO alert_rule_counts (rule, n) VALUES (?1, 1) \
                     ON CONFLICT(rule) DO UPDATE SET n = n + 1",
                )
                .map_err(err)?;
            let mut json = String::new();
            for a in alerts {
                let id = a.id();
                if exists.exists(params![id]).map_err(err)? {
                    done.duplicates += 1;
                    continue;
                }
                let key = throttle.key(a);
                let suppressed = match throttle.for_rule(&a.rule).0 {
                    Some(l) => {
                        let w = i64::try_from(l.window.as_nanos()).unwrap_or(i64::MAX);
                        let n: i64 = recent
                            .query_row(params![key, a.time_ns.saturating_sub(w), a.time_ns], |r| {
                                r.get(0)
                            })
                            .map_err(err)?;
                        n >= i64::from(l.max)
                    }
                    None => false,
                };
                json.clear();
                a.as_alert().write_to(Format::Json, &mut json);
                let f = query::facets(a);
                ins.execute(params![
                    id,
                    a.time_ns,
                    stored,
                    a.rule,
                    priority_num(a.priority),
                    a.source,
                    key,
                    suppressed as i64,
                    json.trim_end(),
                    f.principal,
                    f.resource,
                    f.account,
                    f.region,
                    a.event,
                ])
                .map_err(err)?;
                text.execute(params![tx.last_insert_rowid(), query::words(a, &f)])
                    .map_err(err)?;
                counts.execute(params![a.rule]).map_err(err)?;
                if !suppressed {
                    per_day
                        .execute(params![
                            a.time_ns.div_euclid(86_400_000_000_000),
                            priority_num(a.priority)
                        ])
                        .map_err(err)?;
                }
                if suppressed {
                    done.suppressed += 1;
                } else {
                    done.new += 1;
                }
            }
        }
        if let Some((source, value)) = checkpoint {
            tx.execute(
                "INSERT INTO checkpoints (source, value, updated_ns) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(source) DO UPDATE SET value = ?2, updated_ns = ?3",
                params![source, value, stored],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(done)
    }

    /// The checkpoint of `source`, if it has one.
    pub fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM checkpoints WHERE source = ?1",
                params![source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Alerts matching `filter`, oldest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, id, time_ns, stored_ns, rule, priority, source, suppressed, json \
             FROM alerts WHERE time_ns >= ?1 AND priority <= ?2 AND (?3 IS NULL OR rule = ?3) \
             AND (suppressed = 0 OR ?4)",
        );
        sql.push_str(" ORDER BY time_ns DESC, seq DESC LIMIT ?5");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    filter.since_ns.unwrap_or(i64::MIN),
                    filter.min_priority.map(priority_num).unwrap_or(7),
                    filter.rule,
                    filter.include_suppressed,
                    filter.limit.map(|l| l as i64).unwrap_or(-1),
                ],
                row_to_alert,
            )
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        out.reverse();
        Ok(out)
    }

    /// Number of alerts stored (suppressed included).
    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Up to `limit` alerts `output` has not delivered yet, oldest first (suppressed ones are
    /// skipped). See [`Store::register_output`] for where a new output starts.
    pub fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError> {
        let after = self.cursor(output)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, id, time_ns, stored_ns, rule, priority, source, suppressed, json \
                 FROM alerts WHERE seq > ?1 AND suppressed = 0 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit], row_to_alert)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn cursor(&self, output: &str) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq FROM deliveries WHERE output = ?1",
                params![output],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(0))
    }

    /// Registers `output` if it is new. `from_start` delivers every alert already stored;
    /// otherwise it starts with the alerts stored from now on.
    pub fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO deliveries (output, seq, delivered, failures) \
                 VALUES (?1, CASE WHEN ?2 THEN 0 ELSE (SELECT COALESCE(MAX(seq), 0) FROM alerts) END, 0, 0)",
                params![output, from_start],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records that `output` delivered everything up to `seq` (`count` alerts).
    pub fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO deliveries (output, seq, delivered, failures) VALUES (?1, ?2, ?3, 0) \
                 ON CONFLICT(output) DO UPDATE SET seq = MAX(seq, ?2), delivered = delivered + ?3",
                params![output, seq, count as i64],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a failed delivery attempt of `output`.
    pub fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO deliveries (output, seq, delivered, failures, last_error) \
                 VALUES (?1, 0, 0, 1, ?2) \
                 ON CONFLICT(output) DO UPDATE SET failures = failures + 1, last_error = ?2",
                params![output, error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Delivery state of every output.
    pub fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT output, seq, delivered, failures, last_error FROM deliveries ORDER BY output")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DeliveryState {
                    output: r.get(0)?,
                    seq: r.get(1)?,
                    delivered: r.get::<_, i64>(2)? as u64,
                    failures: r.get::<_, i64>(3)? as u64,
                    last_error: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The highest store position (0 when empty).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM alerts", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }
}

fn row_to_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAlert> {
    Ok(StoredAlert {
        seq: r.get(0)?,
        id: r.get(1)?,
        time_ns: r.get(2)?,
        stored_ns: r.get(3)?,
        rule: r.get(4)?,
        priority: priority_of(r.get(5)?),
        source: r.get(6)?,
        suppressed: r.get::<_, i64>(7)? != 0,
        json: r.get(8)?,
    })
}

/// An [`AlertSink`](crate::AlertSink) that stores alerts: `send` collects, `flush` commits them
/// (with the pending checkpoint, if one was set) in one durable transaction.
pub struct StoreSink {
    store: Box<dyn AlertStore>,
    throttle: Throttle,
    batch: Vec<AlertRecord>,
    checkpoint: Option<(String, String)>,
    /// Baseline profiles written after the next successful commit.
    baselines: Vec<(String, String)>,
    /// What the flushes so far did.
    pub totals: Inserted,
    /// Alerts raised per rule and priority (before de-duplication and throttling).
    pub raised: HashMap<(String, Priority), u64>,
}

impl StoreSink {
    /// A sink into `store`, throttling with `throttle`.
    pub fn new(store: impl AlertStore + 'static, throttle: Throttle) -> Self {
        StoreSink {
            store: Box::new(store),
            throttle,
            batch: Vec::new(),
            checkpoint: None,
            baselines: Vec::new(),
            totals: Inserted::default(),
            raised: HashMap::new(),
        }
    }

    /// Sets the checkpoint committed with the next flush.
    pub fn set_checkpoint(&mut self, source: &str, value: &str) {
        self.checkpoint = Some((source.to_string(), value.to_string()));
    }

    /// Baseline profiles (`harrier_incidents::Baselines::take_changed_profiles`) to write
    /// with the next commit, after its alerts: learning state, so a failure to write them
    /// keeps them for the commit after and does not fail the alerts'.
    pub fn save_baselines(&mut self, profiles: Vec<(String, String)>) {
        self.baselines.extend(profiles);
    }

    /// Drops what was sent and the pending checkpoint, uncommitted (their input is released and
    /// read again).
    pub fn discard(&mut self) {
        self.batch.clear();
        self.checkpoint = None;
    }

    /// The store.
    pub fn store(&self) -> &dyn AlertStore {
        self.store.as_ref()
    }

    /// Commits what was sent; returns what this flush did.
    pub fn commit(&mut self) -> Result<Inserted, StoreError> {
        let cp = self.checkpoint.take();
        let done = self.store.insert(
            &self.batch,
            &self.throttle,
            cp.as_ref().map(|(s, v)| (s.as_str(), v.as_str())),
        );
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                // Keep the batch and checkpoint: the caller may retry the flush.
                self.checkpoint = cp;
                return Err(e);
            }
        };
        self.batch.clear();
        if !self.baselines.is_empty() {
            match self.store.put_baselines(&self.baselines) {
                Ok(()) => self.baselines.clear(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot store baselines; kept for the next commit")
                }
            }
        }
        self.totals.new += done.new;
        self.totals.duplicates += done.duplicates;
        self.totals.suppressed += done.suppressed;
        Ok(done)
    }
}

impl crate::AlertSink for StoreSink {
    fn send(&mut self, alert: &crate::Alert<'_>) -> Result<(), crate::SinkError> {
        *self
            .raised
            .entry((alert.rule.to_string(), alert.priority))
            .or_default() += 1;
        self.batch.push(alert.to_record());
        Ok(())
    }

    fn send_linked(
        &mut self,
        alert: &crate::Alert<'_>,
        entities: &str,
    ) -> Result<(), crate::SinkError> {
        self.send(alert)?;
        if let Some(r) = self.batch.last_mut() {
            r.entities = Some(entities.to_string());
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), crate::SinkError> {
        self.commit().map(|_| ()).map_err(|e| crate::SinkError {
            output: "alert store".into(),
            source: std::io::Error::other(e),
        })
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
