//! The schema: its versions, the migrations that bring a database to this build's, and what
//! `harrier store check` reads of a database without changing it.

use super::{
    accounts, console, correlation, images, open_client, posture, shown, PgStore, SCHEMA_VERSION,
};
use harrier_alerts::store::StoreError;

/// Version 2: outputs' delivery leases.
const SCHEMA_V2: &str = "
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS holder TEXT;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS lease_until BIGINT NOT NULL DEFAULT 0;
";

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time_ns BIGINT NOT NULL,
    stored_ns BIGINT NOT NULL,
    rule TEXT NOT NULL,
    priority INTEGER NOT NULL,
    source TEXT NOT NULL,
    throttle_key TEXT NOT NULL,
    suppressed BOOLEAN NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time_ns);
CREATE INDEX IF NOT EXISTS alerts_throttle ON alerts(throttle_key, time_ns);
CREATE TABLE IF NOT EXISTS checkpoints (
    source TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_ns BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    output TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    first_ns BIGINT NOT NULL,
    last_ns BIGINT NOT NULL,
    updated_ns BIGINT NOT NULL,
    severity INTEGER NOT NULL,
    alerts BIGINT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_last ON incidents(last_ns);
CREATE TABLE IF NOT EXISTS baselines (
    subject TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    updated_ns BIGINT NOT NULL
);
";

impl PgStore {
    /// Applies the migrations this build knows, in one transaction, under a lock so that
    /// workers starting together migrate once.
    pub(crate) fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let err = |e: postgres::Error| StoreError {
            path: shown.clone(),
            source: Box::new(e),
        };
        // Already current (every connection after the first): no lock, no DDL, so a reader
        // (a console request, an admission review) neither waits for a migration lock nor
        // needs the right to change the schema.
        let exists: bool = self
            .client_mut()
            .query_one("SELECT to_regclass('harrier_schema') IS NOT NULL", &[])
            .map_err(err)?
            .get(0);
        if exists {
            let current: Option<i32> = self
                .client_mut()
                .query_one("SELECT MAX(version) FROM harrier_schema", &[])
                .map_err(err)?
                .get(0);
            if current == Some(SCHEMA_VERSION) {
                return Ok(());
            }
        }
        let mut tx = self.client_mut().transaction().map_err(err)?;
        tx.execute("SELECT pg_advisory_xact_lock(7263540011)", &[])
            .map_err(err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS harrier_schema (version INTEGER NOT NULL)")
            .map_err(err)?;
        let current: Option<i32> = tx
            .query_opt("SELECT MAX(version) FROM harrier_schema", &[])
            .map_err(err)?
            .and_then(|r| r.get(0));
        let current = current.unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(StoreError {
                path: shown.clone(),
                source: format!(
                    "the database's schema is version {current}, newer than this Harrier's ({SCHEMA_VERSION}): refusing to write to it"
                )
                .into(),
            });
        }
        if current < 1 {
            tx.batch_execute(SCHEMA_V1).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (1)", &[])
                .map_err(err)?;
        }
        if current < 2 {
            tx.batch_execute(SCHEMA_V2).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (2)", &[])
                .map_err(err)?;
        }
        if current < 3 {
            tx.batch_execute(posture::SCHEMA_V3).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (3)", &[])
                .map_err(err)?;
        }
        if current < 4 {
            tx.batch_execute(console::SCHEMA_V4).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (4)", &[])
                .map_err(err)?;
        }
        if current < 5 {
            tx.batch_execute(images::SCHEMA_V5).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (5)", &[])
                .map_err(err)?;
        }
        if current < 6 {
            tx.batch_execute(correlation::SCHEMA_V6).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (6)", &[])
                .map_err(err)?;
        }
        if current < 7 {
            tx.batch_execute(accounts::SCHEMA_V7).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (7)", &[])
                .map_err(err)?;
        }
        if current < 8 {
            tx.batch_execute(posture::SCHEMA_V8).map_err(err)?;
            tx.execute("INSERT INTO harrier_schema (version) VALUES (8)", &[])
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The schema version of the database.
    pub fn schema_version(&mut self) -> Result<i32, StoreError> {
        let v: Option<i32> =
            self.query_one("SELECT MAX(version) FROM harrier_schema", &[], |r| r.get(0))?;
        Ok(v.unwrap_or(0))
    }
}

/// What `harrier store check` reports of a database, read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The database as shown (password left out).
    pub shown: String,
    /// Its schema version (0: no Harrier schema yet).
    pub schema: i32,
    /// Alerts stored (when the schema exists).
    pub alerts: i64,
    /// Each output with how many alerts it has not delivered yet.
    pub behind: Vec<(String, i64)>,
}

impl Status {
    /// Whether this build can use the database as it is (`Some(false)`: it needs a migration
    /// this build can apply; `None`: its schema is newer than this build's).
    pub fn current(&self) -> Option<bool> {
        match self.schema.cmp(&SCHEMA_VERSION) {
            std::cmp::Ordering::Equal => Some(true),
            std::cmp::Ordering::Less => Some(false),
            std::cmp::Ordering::Greater => None,
        }
    }
}

/// Reads `url`'s schema version, alert count and delivery backlog without writing anything
/// (no migration).
pub fn inspect(url: &str) -> Result<Status, StoreError> {
    let shown = shown(url);
    let (_, mut c) = open_client(url, &shown)?;
    let err = |e: postgres::Error| StoreError {
        path: shown.clone(),
        source: Box::new(e),
    };
    let exists: bool = c
        .query_one("SELECT to_regclass('harrier_schema') IS NOT NULL", &[])
        .map_err(err)?
        .get(0);
    let mut st = Status {
        shown: shown.clone(),
        schema: 0,
        alerts: 0,
        behind: Vec::new(),
    };
    if !exists {
        return Ok(st);
    }
    let v: Option<i32> = c
        .query_one("SELECT MAX(version) FROM harrier_schema", &[])
        .map_err(err)?
        .get(0);
    st.schema = v.unwrap_or(0);
    if st.schema >= 1 {
        st.alerts = c
            .query_one("SELECT COUNT(*) FROM alerts", &[])
            .map_err(err)?
            .get(0);
        for r in c
            .query(
                "SELECT d.output, (SELECT COUNT(*) FROM alerts a WHERE a.seq > d.seq AND NOT a.suppressed)
                 FROM deliveries d WHERE d.output <> '~posture' ORDER BY d.output",
                &[],
            )
            .map_err(err)?
        {
            st.behind.push((r.get(0), r.get(1)));
        }
    }
    if st.schema >= 8 {
        // The posture watcher's cursor is a position in the queue of changes, not of alerts.
        if let Some(r) = c
            .query_opt(
                "SELECT d.output, (SELECT COUNT(*) FROM posture_queue q WHERE q.seq > d.seq)
                 FROM deliveries d WHERE d.output = '~posture'",
                &[],
            )
            .map_err(err)?
        {
            st.behind.push((r.get(0), r.get(1)));
        }
    }
    Ok(st)
}
