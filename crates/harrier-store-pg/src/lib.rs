//! Harrier's alert store on PostgreSQL: the same [`AlertStore`] interface as the embedded
//! SQLite store (`harrier_alerts::store::Store`), for several workers sharing one database,
//! the same `PostureHistory` as `harrier_posture::history::History` (module `posture`), and the
//! same `ImageResults` as `harrier_supply::results::ImageDb` (module `images`), and the same
//! console `Accounts` (users and sessions) as `harrier_console::SqliteAccounts` (module
//! `accounts`, schema version 7).
//!
//! - The schema is versioned ([`SCHEMA_VERSION`]) and migrated at connect; a database with a
//!   newer schema than this build knows is refused, never written.
//! - Alerts keep their deterministic ids (`ON CONFLICT (id) DO NOTHING`): a replay or a second
//!   worker raising the same alert stores it once. Alerts and their checkpoint commit in one
//!   transaction.
//! - Throttling counts under a transaction-scoped advisory lock per throttle key, so two
//!   workers raising the same noisy alert at once deliver it once, as one worker would.
//! - Inserts take one transaction-scoped lock, so positions are handed out in commit order and
//!   an output's cursor never passes an alert still being committed.
//!
//! - Each output is delivered by one worker at a time: reading its pending alerts takes the
//!   output's lease, which the holder renews while it lives (however slow a delivery) and
//!   releases when it stops; another worker's reads get nothing until then, or until the lease
//!   runs out ([`LEASE`], on the server's clock) because its holder died, and then take over from
//!   the committed cursor.
//!   A cursor moves only under the lease. So every alert is delivered once, in order, across
//!   workers, but for the one batch a holder had sent when it died and had not yet committed:
//!   that batch is delivered again by the next holder (at least once, never lost).
//! - Alerts keep the entities of their event (schema version 6) for the one worker that
//!   correlates every worker's alerts into incidents: it reads them back in store order under a
//!   lease like an output's (`AlertStore::lease`, `linked`, `replay_from`).
//! - A connection lost (the server restarted) is opened again at the next call; the call that
//!   met the loss fails, so its caller does not acknowledge its input and tries again.
//!
//! - TLS: `sslmode=require` connects over TLS and verifies the server against `sslrootcert` (a
//!   PEM file of CA certificates) or the web PKI's roots (module `tls`).
#![deny(missing_docs)]

use harrier_alerts::store::{
    AlertPage, AlertQuery, AlertStore, CorrelationStep, DeliveryState, Filter, IncidentPage,
    Inserted, LinkedAlert, QueriedAlert, Replay, StoreError, StoredAlert, StoredIncident, Throttle,
};
use harrier_alerts::{AlertRecord, Format};
use harrier_rules::Priority;
use postgres::{Client, Row};

mod accounts;
mod console;
mod correlation;
mod images;
mod lease;
mod posture;
mod schema;
mod tls;
pub use images::SCAN_CLAIM;
use lease::Keeper;
pub use schema::{inspect, Status};
use tls::Target;

/// The schema this build writes.
pub const SCHEMA_VERSION: i32 = 8;

/// How long an output's lease lasts without being renewed. A holder renews its leases every
/// third of it from a thread of its own while it lives (a slow delivery keeps its lease); a
/// holder that stops releases them; one that dies loses them when this runs out.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's clock in ns: leases are timed by one clock, whatever the workers' say.
const SERVER_NOW_NS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT";

/// The alert store on a PostgreSQL server.
pub struct PgStore {
    client: std::sync::Mutex<Client>,
    /// The server, as errors name it (no password).
    shown: String,
    /// How to connect again after a loss.
    target: Target,
    /// This connection's name as a lease holder.
    worker: String,
    /// Renews this connection's leases, once it holds one.
    keeper: std::sync::Mutex<Option<Keeper>>,
}

use harrier_events::time::now_ns;

/// [`harrier_alerts::store::priority_num`] as the `INTEGER` column holds it.
fn priority_num(p: Priority) -> i32 {
    harrier_alerts::store::priority_num(p) as i32
}

fn priority_of(n: i32) -> Priority {
    harrier_alerts::store::priority_of(i64::from(n))
}

/// A connection string with any password left out, for messages.
pub fn shown(url: &str) -> String {
    match url.find("://") {
        Some(s) => {
            // The credentials end at the last `@` before the path (a password may hold `@`).
            let rest = &url[s + 3..];
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (auth, tail) = rest.split_at(end);
            let host = match auth.rfind('@') {
                Some(at) => {
                    let user = auth[..at].split(':').next().unwrap_or("");
                    format!("{user}@{}", &auth[at + 1..])
                }
                None => auth.to_string(),
            };
            // And no `password=` among the query parameters.
            let tail = match tail.split_once('?') {
                Some((path, query)) => {
                    let kept: Vec<&str> = query
                        .split('&')
                        .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                        .collect();
                    if kept.is_empty() {
                        path.to_string()
                    } else {
                        format!("{path}?{}", kept.join("&"))
                    }
                }
                None => tail.to_string(),
            };
            format!("{}{host}{tail}", &url[..s + 3])
        }
        // key=value form: everything from a `password` key on is left out (a quoted password
        // may hold spaces, and `password = x` spreads over three words).
        None => {
            let lower = url.to_ascii_lowercase();
            match lower.find("password") {
                Some(i) => url[..i].trim_end().to_string(),
                None => url.to_string(),
            }
        }
    }
}

fn alert_row(r: &Row) -> StoredAlert {
    StoredAlert {
        seq: r.get(0),
        id: r.get(1),
        time_ns: r.get(2),
        stored_ns: r.get(3),
        rule: r.get(4),
        priority: priority_of(r.get(5)),
        source: r.get(6),
        suppressed: r.get(7),
        json: r.get(8),
    }
}

const ALERT_COLUMNS: &str = "seq, id, time_ns, stored_ns, rule, priority, source, suppressed, json";
const INCIDENT_COLUMNS: &str = "id, first_ns, last_ns, severity, alerts, title, text, json";

fn incident_row(r: &Row) -> StoredIncident {
    StoredIncident {
        id: r.get(0),
        first_ns: r.get(1),
        last_ns: r.get(2),
        severity: priority_of(r.get(3)),
        alerts: r.get::<_, i64>(4) as u64,
        title: r.get(5),
        text: r.get(6),
        json: r.get(7),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db` or `host=... user=...`) and
    /// brings the schema to [`SCHEMA_VERSION`]; refuses a database whose schema is newer.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let shown = shown(url);
        let (target, client) = open_client(url, &shown)?;
        // Unique per connection: the process, when, and a counter of this process.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let worker = format!(
            "{}-{}-{}",
            std::process::id(),
            now_ns(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut s = PgStore {
            client: std::sync::Mutex::new(client),
            shown,
            target,
            worker,
            keeper: std::sync::Mutex::new(None),
        };
        s.migrate()?;
        Ok(s)
    }

    fn err(&self, e: postgres::Error) -> StoreError {
        StoreError {
            path: self.shown.clone(),
            source: Box::new(e),
        }
    }
}

/// Opens the connection again when the last one was lost (the server restarted, the network
/// dropped it). When that fails too, the closed client stays: the call fails and the next one
/// tries again.
fn reconnect(c: &mut Client, target: &Target) {
    if c.is_closed() {
        match target.connect() {
            Ok(n) => {
                tracing::info!("store: connected to PostgreSQL again");
                *c = n;
            }
            Err(e) => tracing::warn!(error = %e, "store: cannot connect to PostgreSQL again yet"),
        }
    }
}

/// How to reach `url`, and a connection to it; errors name the server as `shown`.
fn open_client(url: &str, shown: &str) -> Result<(Target, Client), StoreError> {
    let err = |source: Box<dyn std::error::Error + Send + Sync>| StoreError {
        path: shown.to_string(),
        source,
    };
    let target = Target::of(url).map_err(|e| err(e.into()))?;
    let client = target.connect().map_err(|e| err(Box::new(e)))?;
    Ok((target, client))
}

/// Calls `on_alerts` whenever any worker commits new alerts to the store at `url` (PostgreSQL's
/// `LISTEN`/`NOTIFY`), until `stop` is set; connects again after losing the server. Outputs use
/// it to wake at once for alerts another worker stored, instead of at their next poll.
pub fn listen(url: &str, stop: &std::sync::atomic::AtomicBool, mut on_alerts: impl FnMut()) {
    use postgres::fallible_iterator::FallibleIterator;
    use std::sync::atomic::Ordering;
    let tick = std::time::Duration::from_millis(200);
    let Ok(target) = Target::of(url) else { return };
    let mut client: Option<Client> = None;
    while !stop.load(Ordering::Relaxed) {
        if client.as_ref().is_none_or(|c| c.is_closed()) {
            client = target
                .connect()
                .and_then(|mut c| c.batch_execute("LISTEN harrier_alerts").map(|_| c))
                .ok();
            if client.is_none() {
                std::thread::sleep(tick);
                continue;
            }
            // Alerts may have come while no one listened.
            on_alerts();
        }
        let Some(c) = client.as_mut() else { continue };
        let mut notifications = c.notifications();
        let got = match notifications.timeout_iter(tick).next() {
            Ok(n) => n.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "store: listening for new alerts failed");
                false
            }
        };
        if got {
            on_alerts();
        }
    }
}

/// A deadlock or a serialization failure: the transaction can be run again.
pub(crate) fn retryable(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

impl PgStore {
    /// One attempt at [`AlertStore::insert`] with the batch in its canonical order.
    fn insert_once(
        &mut self,
        alerts: &[&AlertRecord],
        ids: &[String],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, postgres::Error> {
        let mut tx = self.client_mut().transaction()?;
        let done = insert_in(&mut tx, alerts, ids, throttle, checkpoint)?;
        tx.commit()?;
        Ok(done)
    }
}

/// Stores `alerts` (ids `ids`, in canonical order) and the checkpoint within `tx`.
pub(crate) fn insert_in(
    tx: &mut postgres::Transaction<'_>,
    alerts: &[&AlertRecord],
    ids: &[String],
    throttle: &Throttle,
    checkpoint: Option<(&str, &str)>,
) -> Result<Inserted, postgres::Error> {
    // One writer at a time: alerts get their positions (`seq`) in commit order, so an
    // output that delivered up to a position never meets a smaller one committed later by
    // a slower worker (a sequence alone hands out positions in call order, and a
    // transaction that commits after a larger position was delivered would be skipped).
    tx.execute("SELECT pg_advisory_xact_lock(7263540012)", &[])?;
    // The throttle keys of the batch, locked up front in sorted order: one writer at a
    // time per key, so N workers throttle like one.
    // (PostgreSQL's text refuses NUL, which a value decoded from a hostile event may hold.)
    let keys: Vec<String> = alerts
        .iter()
        .map(|a| throttle.key(a).replace('\0', "\u{FFFD}"))
        .collect();
    let mut locked: Vec<&String> = alerts
        .iter()
        .zip(&keys)
        .filter(|(a, _)| throttle.limit(&a.rule).is_some())
        .map(|(_, k)| k)
        .collect();
    locked.sort();
    locked.dedup();
    for k in locked {
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[k],
        )?;
    }
    let mut done = Inserted::default();
    let stored = now_ns();
    let mut json = String::new();
    let mut per_rule = std::collections::BTreeMap::<&str, i64>::new();
    let mut per_day = std::collections::BTreeMap::<(i64, i32), i64>::new();
    for ((a, id), key) in alerts.iter().zip(ids).zip(&keys) {
        let suppressed = match throttle.limit(&a.rule) {
            Some(l) => {
                let w = i64::try_from(l.window.as_nanos()).unwrap_or(i64::MAX);
                let n: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM alerts WHERE throttle_key = $1 AND NOT suppressed \
                         AND time_ns > $2 AND time_ns <= $3 AND id <> $4",
                        &[key, &a.time_ns.saturating_sub(w), &a.time_ns, id],
                    )?
                    .get(0);
                n >= i64::from(l.max)
            }
            None => false,
        };
        json.clear();
        a.as_alert().write_to(Format::Json, &mut json);
        let mut f = harrier_alerts::store::facets(a);
        // PostgreSQL's text refuses NUL, which a value decoded from a hostile event may hold.
        for v in [
            &mut f.principal,
            &mut f.resource,
            &mut f.account,
            &mut f.region,
        ] {
            if let Some(s) = v.as_mut().filter(|s| s.contains('\0')) {
                *s = s.replace('\0', "\u{FFFD}");
            }
        }
        let n = tx.execute(
            "INSERT INTO alerts (id, time_ns, stored_ns, rule, priority, source, throttle_key, \
             suppressed, json, principal, resource, account, region, event, words, entities) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,to_tsvector('simple', $15),$16) \
             ON CONFLICT (id) DO NOTHING",
            &[
                id,
                &a.time_ns,
                &stored,
                &a.rule,
                &priority_num(a.priority),
                &a.source,
                key,
                &suppressed,
                &json.trim_end(),
                &f.principal,
                &f.resource,
                &f.account,
                &f.region,
                &a.event,
                &console::alert_words(a, &f),
                &a.entities,
            ],
        )?;
        if n == 0 {
            done.duplicates += 1;
            continue;
        }
        *per_rule.entry(a.rule.as_str()).or_default() += 1;
        if suppressed {
            done.suppressed += 1;
        } else {
            done.new += 1;
            *per_day
                .entry((
                    a.time_ns.div_euclid(86_400_000_000_000),
                    priority_num(a.priority),
                ))
                .or_default() += 1;
        }
    }
    console::add_counts(tx, &per_rule, &per_day)?;
    if let Some((source, value)) = checkpoint {
        tx.execute(
            "INSERT INTO checkpoints (source, value, updated_ns) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET value = $2, updated_ns = $3",
            &[&source, &value, &stored],
        )?;
    }
    if done.new > 0 {
        // Delivered at commit to every worker's listener (see [`listen`]): the worker that
        // holds an output's lease delivers without waiting for its next poll.
        tx.execute("NOTIFY harrier_alerts", &[])?;
    }
    Ok(done)
}

/// Writes an incident whole under its id. PostgreSQL's text refuses NUL, which an entity read
/// from a hostile event may hold: it is written as U+FFFD.
pub(crate) fn upsert_incident(
    c: &mut impl postgres::GenericClient,
    i: &StoredIncident,
) -> Result<(), postgres::Error> {
    let clean = |t: &str| t.replace('\0', "\u{FFFD}");
    c.execute(
        "INSERT INTO incidents (id, first_ns, last_ns, updated_ns, severity, alerts, title, text, json) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (id) DO UPDATE SET first_ns = $2, \
         last_ns = $3, updated_ns = $4, severity = $5, alerts = $6, title = $7, text = $8, json = $9",
        &[
            &i.id,
            &i.first_ns,
            &i.last_ns,
            &now_ns(),
            &priority_num(i.severity),
            &(i.alerts as i64),
            &clean(&i.title),
            &clean(&i.text),
            &i.json,
        ],
    )
    .map(|_| ())
}

impl PgStore {
    /// The client, for a writer (`&mut self`: no lock taken).
    fn client_mut(&mut self) -> &mut Client {
        let target = self.target.clone();
        let c = self.client.get_mut().unwrap_or_else(|p| p.into_inner());
        reconnect(c, &target);
        c
    }

    /// Runs `f` on the client from a reader (`&self`): the trait's readers take `&self`,
    /// PostgreSQL's client needs `&mut`.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut c = self.client.lock().unwrap_or_else(|p| p.into_inner());
        reconnect(&mut c, &self.target);
        f(&mut c).map_err(|e| self.err(e))
    }

    fn query<T>(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        f: impl Fn(&Row) -> T,
    ) -> Result<Vec<T>, StoreError> {
        self.with(|c| Ok(c.query(sql, params)?.iter().map(&f).collect()))
    }

    fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        f: impl Fn(&Row) -> T,
    ) -> Result<Option<T>, StoreError> {
        self.with(|c| Ok(c.query_opt(sql, params)?.as_ref().map(&f)))
    }

    fn query_one<T>(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        f: impl Fn(&Row) -> T,
    ) -> Result<T, StoreError> {
        self.with(|c| Ok(f(&c.query_one(sql, params)?)))
    }

    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<(), StoreError> {
        self.with(|c| c.execute(sql, params).map(|_| ()))
    }
}

impl AlertStore for PgStore {
    fn insert(
        &mut self,
        alerts: &[AlertRecord],
        throttle: &Throttle,
        checkpoint: Option<(&str, &str)>,
    ) -> Result<Inserted, StoreError> {
        // In one order every worker shares (event time, then id), so that two workers storing
        // overlapping batches wait for each other in the same order instead of deadlocking;
        // a deadlock or serialization failure the server still reports is retried.
        let mut order: Vec<&AlertRecord> = alerts.iter().collect();
        let ids: Vec<String> = order.iter().map(|a| a.id()).collect();
        let mut idx: Vec<usize> = (0..order.len()).collect();
        idx.sort_by(|&x, &y| (order[x].time_ns, &ids[x]).cmp(&(order[y].time_ns, &ids[y])));
        order = idx.iter().map(|&i| order[i]).collect();
        let ids: Vec<String> = idx.iter().map(|&i| ids[i].clone()).collect();
        let mut attempt = 0;
        loop {
            match self.insert_once(&order, &ids, throttle, checkpoint) {
                Err(e) if attempt < 5 && retryable(&e) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                }
                Err(e) => return Err(self.err(e)),
                Ok(d) => return Ok(d),
            }
        }
    }

    fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.query_opt(
            "SELECT value FROM checkpoints WHERE source = $1",
            &[&source],
            |r| r.get(0),
        )
    }

    fn list(&self, filter: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        let limit: i64 = filter
            .limit
            .map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64);
        let min = filter.min_priority.map_or(7, priority_num);
        let mut out = self.query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE time_ns >= $1 AND priority <= $2 \
                 AND ($3::TEXT IS NULL OR rule = $3) AND (NOT suppressed OR $4) \
                 ORDER BY time_ns DESC, seq DESC LIMIT $5"
            ),
            &[
                &filter.since_ns.unwrap_or(i64::MIN),
                &min,
                &filter.rule,
                &filter.include_suppressed,
                &limit,
            ],
            alert_row,
        )?;
        out.reverse();
        Ok(out)
    }

    fn count(&self) -> Result<u64, StoreError> {
        self.query_one("SELECT COUNT(*) FROM alerts", &[], |r| {
            r.get::<_, i64>(0) as u64
        })
    }

    fn pending(&self, output: &str, limit: u32) -> Result<Vec<StoredAlert>, StoreError> {
        // Without the output's lease, another worker is delivering it: nothing to do here.
        let Some(after) = self.take_lease(output)? else {
            return Ok(Vec::new());
        };
        self.query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE seq > $1 AND NOT suppressed ORDER BY seq LIMIT $2"
            ),
            &[&after, &i64::from(limit)],
            alert_row,
        )
    }

    fn undelivered(&self, output: &str) -> Result<u64, StoreError> {
        self.query_one(
            "SELECT COUNT(*) FROM alerts WHERE NOT suppressed AND seq > \
             COALESCE((SELECT seq FROM deliveries WHERE output = $1), 0)",
            &[&output],
            |r| r.get::<_, i64>(0) as u64,
        )
    }

    fn register_output(&self, output: &str, from_start: bool) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO deliveries (output, seq, delivered, failures) VALUES ($1, \
             CASE WHEN $2 THEN 0 ELSE (SELECT COALESCE(MAX(seq), 0) FROM alerts) END, 0, 0) \
             ON CONFLICT (output) DO NOTHING",
            &[&output, &from_start],
        )
    }

    fn mark_delivered(&self, output: &str, seq: i64, count: u64) -> Result<(), StoreError> {
        // Only under the lease: a holder that lost it (paused past it) must not move the cursor
        // another worker now owns.
        let moved = self.with(|c| {
            c.execute(
                "UPDATE deliveries SET seq = GREATEST(seq, $2), delivered = delivered + $3 \
                 WHERE output = $1 AND holder = $4",
                &[&output, &seq, &(count as i64), &self.worker],
            )
        })?;
        if moved == 0 {
            return Err(StoreError {
                path: self.shown.clone(),
                source: Box::new(harrier_alerts::store::LeaseLost(output.to_string())),
            });
        }
        Ok(())
    }

    fn record_failure(&self, output: &str, error: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO deliveries (output, seq, delivered, failures, last_error) VALUES ($1, 0, 0, 1, $2) \
             ON CONFLICT (output) DO UPDATE SET failures = deliveries.failures + 1, last_error = $2",
            &[&output, &error],
        )
    }

    fn deliveries(&self) -> Result<Vec<DeliveryState>, StoreError> {
        self.query(
            "SELECT output, seq, delivered, failures, last_error FROM deliveries ORDER BY output",
            &[],
            |r| DeliveryState {
                output: r.get(0),
                seq: r.get(1),
                delivered: r.get::<_, i64>(2) as u64,
                failures: r.get::<_, i64>(3) as u64,
                last_error: r.get(4),
            },
        )
    }

    fn lease(&self, task: &str) -> Result<Option<i64>, StoreError> {
        self.take_lease(task)
    }

    fn linked(
        &self,
        after: i64,
        upto: i64,
        since_ns: i64,
        limit: u32,
    ) -> Result<Vec<LinkedAlert>, StoreError> {
        self.linked_alerts(after, upto, since_ns, limit)
    }

    fn replay_from(&self, upto: i64, window_ns: i64) -> Result<Replay, StoreError> {
        self.replay_start(upto, window_ns)
    }

    fn commit_correlation(&mut self, step: &CorrelationStep<'_>) -> Result<Inserted, StoreError> {
        self.commit_step(step)
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        self.query_one("SELECT COALESCE(MAX(seq), 0) FROM alerts", &[], |r| {
            r.get(0)
        })
    }

    fn put_incident(&mut self, i: &StoredIncident) -> Result<(), StoreError> {
        self.with(|c| upsert_incident(c, i))
    }

    fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError> {
        self.query(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY last_ns DESC, id LIMIT $1"),
            &[&(limit.min(i64::MAX as u64) as i64)],
            incident_row,
        )
    }

    fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        self.query_opt(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"),
            &[&id],
            incident_row,
        )
    }

    fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let err = |e: postgres::Error| StoreError {
            path: shown.clone(),
            source: Box::new(e),
        };
        let now = now_ns();
        let mut tx = self.client_mut().transaction().map_err(err)?;
        for (subject, profile) in profiles {
            tx.execute(
                "INSERT INTO baselines (subject, profile, updated_ns) VALUES ($1, $2, $3) \
                 ON CONFLICT (subject) DO UPDATE SET profile = $2, updated_ns = $3",
                &[subject, profile, &now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.query(
            "SELECT subject, profile FROM baselines ORDER BY subject",
            &[],
            |r| (r.get(0), r.get(1)),
        )
    }

    fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        self.query_page(q)
    }

    fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        self.alert_by_id(id)
    }

    fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        self.per_day(since_day, until_day)
    }

    fn counted(&self) -> Result<u64, StoreError> {
        self.query_one(
            "SELECT COALESCE(SUM(n), 0)::BIGINT FROM alert_rule_counts",
            &[],
            |r| r.get::<_, i64>(0) as u64,
        )
    }

    fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.counts_per_rule()
    }

    fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.query(
            "SELECT source, value, updated_ns FROM checkpoints ORDER BY source COLLATE \"C\"",
            &[],
            |r| (r.get(0), r.get(1), r.get(2)),
        )
    }

    fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError> {
        let limit = limit.clamp(1, 500);
        let (t, id) = before.unwrap_or((i64::MAX, ""));
        let mut out = self.query(
            &format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents \
                 WHERE $4 OR last_ns < $1 OR (last_ns = $1 AND id COLLATE \"C\" > $2) \
                 ORDER BY last_ns DESC, id COLLATE \"C\" LIMIT $3"
            ),
            &[&t, &id, &(i64::from(limit) + 1), &before.is_none()],
            incident_row,
        )?;
        let next = harrier_alerts::store::next_page(&mut out, limit, |i| (i.last_ns, i.id.clone()));
        Ok((out, next))
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_password_never_shows() {
        for (url, want) in [
            (
                "postgres://h:s3cret@db:5432/harrier?sslmode=require",
                "postgres://h@db:5432/harrier?sslmode=require",
            ),
            // A password holding `@` and `/`-free text; a password as a query parameter.
            ("postgres://h:p@ss@db/x", "postgres://h@db/x"),
            (
                "postgresql://db/x?user=h&password=s3cret&sslmode=require",
                "postgresql://db/x?user=h&sslmode=require",
            ),
            ("postgres://db/x?PASSWORD=s3cret", "postgres://db/x"),
            ("host=db user=h password=s3cret", "host=db user=h"),
            ("host=db user=h password = 's3 cret'", "host=db user=h"),
            ("host=db user=h", "host=db user=h"),
        ] {
            let got = shown(url);
            assert_eq!(got, want, "{url}");
            assert!(!got.contains("s3") && !got.contains("ss@"), "{got}");
        }
    }
}
