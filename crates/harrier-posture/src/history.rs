//! Scan history in SQLite: every recorded scan keeps its scores (overall, per framework, per
//! service) and its findings, so `posture history` can show the trend and what newly failed or
//! got fixed since the previous scan of the same account.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{check, framework_score, frameworks, score, Finding, Status};

/// A history database error.
#[derive(Debug, thiserror::Error)]
#[error("posture history {path}: {source}")]
pub struct HistoryError {
    path: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl HistoryError {
    /// An error of the history at `path` (a file, or a database as shown without its
    /// password).
    pub fn new(
        path: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        HistoryError {
            path: path.into(),
            source: source.into(),
        }
    }
}

/// Where recorded scans are kept: SQLite on one machine ([`History`]), or PostgreSQL shared by
/// several workers (`harrier-store-pg`). Every backend stores the same rows ([`scan_scores`]).
pub trait PostureHistory: Send {
    /// Records a scan (`recheck: None`) or a re-check with the verdicts it changed, in one
    /// transaction; returns the scan id (increasing).
    fn record_scan(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
        recheck: Option<&[ChangeRecord]>,
    ) -> Result<i64, HistoryError>;

    /// The verdicts changed by re-checks since the account's last full scan, oldest first.
    fn changes_since_full_scan(&self, account: &str) -> Result<Vec<ChangeRecord>, HistoryError>;

    /// The last `limit` scans of an account (every account when `None`), oldest first.
    fn scans(&self, account: Option<&str>, limit: usize) -> Result<Vec<ScanSummary>, HistoryError>;

    /// The findings of a scan with `status` (`fail`, `pass`, `unknown`; every one when
    /// `None`), by check, resource, then region: `(check, region, resource, status, reason)`,
    /// at most `limit` after the first `offset`.
    fn findings(
        &self,
        scan: i64,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FindingRow>, HistoryError>;

    /// A stored score of a scan (`framework:<id>` or `service:<name>`).
    fn scope_score(&self, scan: i64, scope: &str) -> Result<Option<f64>, HistoryError>;

    /// `(check, region, resource, status)` of every finding of a scan.
    fn statuses(&self, scan: i64) -> Result<Vec<(String, String, String, String)>, HistoryError>;

    /// Records a full scan and returns its id.
    fn record(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
    ) -> Result<i64, HistoryError> {
        self.record_scan(account, taken_at, findings, None)
    }

    /// Records a re-check (an evaluation after a targeted re-read, not a full scan) and the
    /// verdicts it changed with who changed them; returns the scan id.
    fn record_recheck(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
        changes: &[ChangeRecord],
    ) -> Result<i64, HistoryError> {
        self.record_scan(account, taken_at, findings, Some(changes))
    }

    /// What newly failed and what got fixed between two scans.
    fn changes(&self, previous: i64, current: i64) -> Result<Changes, HistoryError> {
        Ok(diff(&self.statuses(previous)?, &self.statuses(current)?))
    }

    /// The trend table of `scans` (oldest first), then what newly failed and what was fixed
    /// since the previous scan of the newest scan's account.
    fn trend_table(&self, scans: &[ScanSummary]) -> Result<String, HistoryError> {
        trend_table(self, scans)
    }

    /// Queues a configuration change (a JSON document) read by one worker for the worker that
    /// re-checks posture for all of them, when several share this history. The embedded
    /// history has no queue: its one process re-checks what it reads.
    fn queue_change(&mut self, change: &str) -> Result<(), HistoryError> {
        let _ = change;
        Err(HistoryError::new(
            "posture history",
            "a queue of changes needs the shared store",
        ))
    }

    /// The changes queued after position `after`, oldest first, at most `limit`:
    /// `(position, JSON)`.
    fn queued_changes(&self, after: i64, limit: u32) -> Result<Vec<(i64, String)>, HistoryError> {
        let _ = (after, limit);
        Err(HistoryError::new(
            "posture history",
            "a queue of changes needs the shared store",
        ))
    }
}

/// The scores a scan stores beside its overall one: per framework (`framework:<id>`) and per
/// service (`service:<name>`), in that order.
pub fn scan_scores(findings: &[Finding]) -> Vec<(String, Option<f64>)> {
    let mut out: Vec<(String, Option<f64>)> = frameworks::FRAMEWORKS
        .iter()
        .map(|(fw, _)| {
            (
                format!("framework:{fw}"),
                framework_score(findings, fw).value,
            )
        })
        .collect();
    let services: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| check(f.check))
        .map(|c| c.service)
        .collect();
    for s in services {
        let v = score(findings, |f| check(f.check).is_some_and(|c| c.service == s)).value;
        out.push((format!("service:{s}"), v));
    }
    out
}

/// One recorded scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanSummary {
    /// Scan id (increasing).
    pub id: i64,
    /// The account.
    pub account: String,
    /// When the snapshot was taken (RFC 3339).
    pub taken_at: String,
    /// Overall score, 0-100.
    pub score: Option<f64>,
    /// Passing, failing and unknown findings.
    pub pass: i64,
    /// Failing findings.
    pub fail: i64,
    /// Unknown findings.
    pub unknown: i64,
}

/// What changed between two scans: `(check, region, resource)` keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Failing now, not failing in the previous scan.
    pub newly_failed: Vec<(String, String, String)>,
    /// Failing in the previous scan; passing now or gone (the check could tell).
    pub fixed: Vec<(String, String, String)>,
}

/// A recorded finding: `(check, region, resource, status, reason)`.
pub type FindingRow = (String, String, String, String, String);

/// The history database.
pub struct History {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    score REAL,
    pass INTEGER NOT NULL,
    fail INTEGER NOT NULL,
    unknown INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    scope TEXT NOT NULL,
    score REAL,
    PRIMARY KEY (scan_id, scope)
);
CREATE TABLE IF NOT EXISTS findings (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    check_id TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_scan ON findings(scan_id);
CREATE TABLE IF NOT EXISTS rechecks (
    scan_id INTEGER PRIMARY KEY REFERENCES scans(id)
);
CREATE TABLE IF NOT EXISTS changes (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    check_id TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    became TEXT NOT NULL,
    actor TEXT,
    event TEXT,
    at TEXT NOT NULL
);
";

/// One check's verdict that changed at a re-check, with who made the change that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The check.
    pub check: String,
    /// Its region.
    pub region: String,
    /// The resource.
    pub resource: String,
    /// `fail` (newly failing) or `pass` (fixed).
    pub became: String,
    /// Who made the change (an ARN), when CloudTrail said.
    pub actor: Option<String>,
    /// The call that made it.
    pub event: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

impl History {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let p = path.display().to_string();
        let err = |source: rusqlite::Error| HistoryError::new(p.clone(), source);
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(History { conn, path: p })
    }

    fn err(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::new(self.path.clone(), source)
    }
}

impl PostureHistory for History {
    fn record_scan(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
        recheck: Option<&[ChangeRecord]>,
    ) -> Result<i64, HistoryError> {
        let overall = score(findings, |_| true);
        let path = self.path.clone();
        let err = |source: rusqlite::Error| HistoryError::new(path.clone(), source);
        let tx = self.conn.transaction().map_err(err)?;
        let id = (|| {
            tx.execute(
                "INSERT INTO scans (account, taken_at, score, pass, fail, unknown) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![account, taken_at, overall.value, overall.pass as i64, overall.fail as i64, overall.unknown as i64],
            )?;
            let id = tx.last_insert_rowid();
            let mut scope = tx.prepare("INSERT INTO scores (scan_id, scope, score) VALUES (?1, ?2, ?3)")?;
            for (name, v) in scan_scores(findings) {
                scope.execute(params![id, name, v])?;
            }
            let mut ins = tx.prepare(
                "INSERT INTO findings (scan_id, check_id, region, resource, status, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for f in findings {
                ins.execute(params![id, f.check, f.region, f.resource, f.status.as_str(), f.reason])?;
            }
            if let Some(changes) = recheck {
                tx.execute("INSERT INTO rechecks (scan_id) VALUES (?1)", [id])?;
                let mut ins = tx.prepare(
                    "INSERT INTO changes (scan_id, check_id, region, resource, became, actor, event, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for c in changes {
                    ins.execute(params![id, c.check, c.region, c.resource, c.became, c.actor, c.event, c.at])?;
                }
            }
            Ok::<i64, rusqlite::Error>(id)
        })()
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(id)
    }

    /// The verdicts changed by re-checks since the account's last full scan, oldest first.
    fn changes_since_full_scan(&self, account: &str) -> Result<Vec<ChangeRecord>, HistoryError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT c.check_id, c.region, c.resource, c.became, c.actor, c.event, c.at
                 FROM changes c JOIN scans s ON s.id = c.scan_id
                 WHERE s.account = ?1 AND c.scan_id > COALESCE(
                     (SELECT max(id) FROM scans WHERE account = ?1 AND id NOT IN (SELECT scan_id FROM rechecks)), 0)
                 ORDER BY c.scan_id, c.check_id, c.resource",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([account], |r| {
                Ok(ChangeRecord {
                    check: r.get(0)?,
                    region: r.get(1)?,
                    resource: r.get(2)?,
                    became: r.get(3)?,
                    actor: r.get(4)?,
                    event: r.get(5)?,
                    at: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// The last `limit` scans of an account (every account when `None`), oldest first.
    fn scans(&self, account: Option<&str>, limit: usize) -> Result<Vec<ScanSummary>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, account, taken_at, score, pass, fail, unknown FROM scans
                 WHERE (?1 IS NULL OR account = ?1) ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![account, limit as i64], |r| {
                Ok(ScanSummary {
                    id: r.get(0)?,
                    account: r.get(1)?,
                    taken_at: r.get(2)?,
                    score: r.get(3)?,
                    pass: r.get(4)?,
                    fail: r.get(5)?,
                    unknown: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows.into_iter().rev().collect())
    }

    /// The findings of a scan with `status` (`fail`, `pass`, `unknown`; every one when
    /// `None`), by check then resource: `(check, region, resource, status, reason)`, at most
    /// `limit` after the first `offset`.
    fn findings(
        &self,
        scan: i64,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FindingRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT check_id, region, resource, status, reason FROM findings \
                 WHERE scan_id = ?1 AND (?2 IS NULL OR status = ?2) \
                 ORDER BY check_id, resource, region LIMIT ?3 OFFSET ?4",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![scan, status, limit as i64, offset as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// A stored score of a scan (`framework:<id>` or `service:<name>`).
    fn scope_score(&self, scan: i64, scope: &str) -> Result<Option<f64>, HistoryError> {
        self.conn
            .query_row(
                "SELECT score FROM scores WHERE scan_id = ?1 AND scope = ?2",
                params![scan, scope],
                |r| r.get::<_, Option<f64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    fn statuses(&self, scan: i64) -> Result<Vec<(String, String, String, String)>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare("SELECT check_id, region, resource, status FROM findings WHERE scan_id = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![scan], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}

/// What newly failed and what got fixed from `before` to `after` (`statuses` of two scans).
fn diff(
    before: &[(String, String, String, String)],
    after: &[(String, String, String, String)],
) -> Changes {
    let key = |r: &(String, String, String, String)| (r.0.clone(), r.1.clone(), r.2.clone());
    let failed_before: BTreeSet<_> = before
        .iter()
        .filter(|r| r.3 == Status::Fail.as_str())
        .map(key)
        .collect();
    let failed_now: BTreeSet<_> = after
        .iter()
        .filter(|r| r.3 == Status::Fail.as_str())
        .map(key)
        .collect();
    // Where the check could not tell now, nothing counts as fixed.
    let unknown_now: BTreeSet<(&str, &str)> = after
        .iter()
        .filter(|r| r.3 == Status::Unknown.as_str())
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    Changes {
        newly_failed: failed_now.difference(&failed_before).cloned().collect(),
        fixed: failed_before
            .difference(&failed_now)
            .filter(|(c, r, _)| !unknown_now.contains(&(c.as_str(), r.as_str())))
            .cloned()
            .collect(),
    }
}

fn fmt_score(s: Option<f64>) -> String {
    s.map_or("-".into(), |v| format!("{v:.1}"))
}

fn trend_table<H: PostureHistory + ?Sized>(
    h: &H,
    scans: &[ScanSummary],
) -> Result<String, HistoryError> {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5}  {:<14} {:<30} {:>6} {:>6}  {:>5} {:>5} {:>7}  {:>7} {:>7}",
        "scan",
        "account",
        "taken at",
        "score",
        "trend",
        "pass",
        "fail",
        "unknown",
        "cis-5.0",
        "pci-4.0"
    );
    let mut prev: Option<&ScanSummary> = None;
    for s in scans {
        let trend = match (
            prev.filter(|p| p.account == s.account)
                .and_then(|p| p.score),
            s.score,
        ) {
            (Some(a), Some(b)) if b > a + 0.05 => format!("+{:.1}", b - a),
            (Some(a), Some(b)) if b < a - 0.05 => format!("{:.1}", b - a),
            (Some(_), Some(_)) => "=".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<14} {:<30} {:>6} {:>6}  {:>5} {:>5} {:>7}  {:>7} {:>7}",
            s.id,
            s.account,
            s.taken_at,
            fmt_score(s.score),
            trend,
            s.pass,
            s.fail,
            s.unknown,
            fmt_score(h.scope_score(s.id, "framework:cis-5.0")?),
            fmt_score(h.scope_score(s.id, "framework:pci-4.0")?),
        );
        prev = Some(s);
    }
    let Some(last) = scans.last() else {
        return Ok(out);
    };
    if let Some(before) = scans[..scans.len() - 1]
        .iter()
        .rev()
        .find(|s| s.account == last.account)
    {
        let c = h.changes(before.id, last.id)?;
        let _ = writeln!(
            out,
            "\nsince scan {} ({}): {} newly failing, {} fixed",
            before.id,
            before.taken_at,
            c.newly_failed.len(),
            c.fixed.len()
        );
        for (check, region, resource) in &c.newly_failed {
            let _ = writeln!(out, "  NEW FAIL  {check:<40} {region:<12} {resource}");
        }
        for (check, region, resource) in &c.fixed {
            let _ = writeln!(out, "  FIXED     {check:<40} {region:<12} {resource}");
        }
    }
    Ok(out)
}
