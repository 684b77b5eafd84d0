//! Incidents in the store: each incident as it is now, replaced as it grows, so the CLI and
//! (later) the console read what the service correlated; and the baselines the anomalies
//! learned, so a restart does not start learning again.

use harrier_rules::Priority;
use rusqlite::{params, OptionalExtension};

use super::{now_ns, priority_num, priority_of, Store, StoreError};

/// An incident as stored: its summary columns and its full forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIncident {
    /// Its id (`inc-...`).
    pub id: String,
    /// First alert's event time, ns.
    pub first_ns: i64,
    /// Last alert's event time, ns.
    pub last_ns: i64,
    /// Its severity.
    pub severity: Priority,
    /// How many alerts it holds.
    pub alerts: u64,
    /// One line.
    pub title: String,
    /// The readable timeline.
    pub text: String,
    /// The JSON form (one object).
    pub json: String,
}

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredIncident> {
    Ok(StoredIncident {
        id: r.get(0)?,
        first_ns: r.get(1)?,
        last_ns: r.get(2)?,
        severity: priority_of(r.get(3)?),
        alerts: r.get::<_, i64>(4)? as u64,
        title: r.get(5)?,
        text: r.get(6)?,
        json: r.get(7)?,
    })
}

const COLUMNS: &str = "id, first_ns, last_ns, severity, alerts, title, text, json";

impl Store {
    /// Writes `i` as it is now.
    pub fn put_incident(&mut self, i: &StoredIncident) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO incidents (id, first_ns, last_ns, updated_ns, severity, alerts, title, text, json) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(id) DO UPDATE SET \
                 first_ns = ?2, last_ns = ?3, updated_ns = ?4, severity = ?5, alerts = ?6, title = ?7, text = ?8, json = ?9",
                params![
                    i.id,
                    i.first_ns,
                    i.last_ns,
                    now_ns(),
                    priority_num(i.severity),
                    i.alerts as i64,
                    i.title,
                    i.text,
                    i.json
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The `limit` incidents seen most recently, most recent first.
    pub fn incidents(&self, limit: u64) -> Result<Vec<StoredIncident>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM incidents ORDER BY last_ns DESC, id LIMIT ?1"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![limit.min(i64::MAX as u64) as i64], row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// One incident, by id.
    pub fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                params![id],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Writes baseline profiles, replacing those stored under the same subjects.
    pub fn put_baselines(&mut self, profiles: &[(String, String)]) -> Result<(), StoreError> {
        let now = now_ns();
        let path = self.path.clone();
        let err = |source: rusqlite::Error| StoreError {
            path: path.clone(),
            source: Box::new(source),
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        for (subject, profile) in profiles {
            tx.execute(
                "INSERT INTO baselines (subject, profile, updated_ns) VALUES (?1,?2,?3) \
                 ON CONFLICT(subject) DO UPDATE SET profile = ?2, updated_ns = ?3",
                params![subject, profile, now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Every stored baseline profile, by subject.
    pub fn baselines(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT subject, profile FROM baselines ORDER BY subject")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
