//! Posture history on PostgreSQL: the scans every worker records (continuous posture in
//! `serve`, `posture scan --record`) in the database they share, so that `posture history`
//! reads one trend for the whole deployment. The same rows as the SQLite history
//! (`harrier_posture::history`), in tables of their own (schema version 3).

use harrier_posture::history::{
    scan_scores, ChangeRecord, FindingRow, HistoryError, PostureHistory, ScanSummary,
};
use harrier_posture::{score, Finding};

use crate::PgStore;

/// Version 3: posture history.
pub(crate) const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS posture_scans (
    id BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    score DOUBLE PRECISION,
    pass BIGINT NOT NULL,
    fail BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    recheck BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS posture_scans_account ON posture_scans(account, id);
CREATE TABLE IF NOT EXISTS posture_scores (
    scan_id BIGINT NOT NULL REFERENCES posture_scans(id),
    scope TEXT NOT NULL,
    score DOUBLE PRECISION,
    PRIMARY KEY (scan_id, scope)
);
CREATE TABLE IF NOT EXISTS posture_findings (
    scan_id BIGINT NOT NULL REFERENCES posture_scans(id),
    check_id TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posture_findings_scan ON posture_findings(scan_id);
CREATE TABLE IF NOT EXISTS posture_changes (
    scan_id BIGINT NOT NULL REFERENCES posture_scans(id),
    check_id TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    became TEXT NOT NULL,
    actor TEXT,
    event TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posture_changes_scan ON posture_changes(scan_id);
";

/// Version 8: the changes workers read, queued for the one re-checking posture.
pub(crate) const SCHEMA_V8: &str = "
CREATE TABLE IF NOT EXISTS posture_queue (
    seq BIGSERIAL PRIMARY KEY,
    queued_ns BIGINT NOT NULL,
    change TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posture_queue_time ON posture_queue(queued_ns);
";

/// How long a queued change is kept (the worker re-checking reads it within seconds; one
/// taking over after an outage scans the whole account anyway).
const QUEUE_KEPT_NS: i64 = 7 * 86_400 * 1_000_000_000;

impl PgStore {
    fn history_err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> HistoryError {
        HistoryError::new(self.shown.clone(), e)
    }

    fn history_query<T>(
        &self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        f: impl Fn(&postgres::Row) -> T,
    ) -> Result<Vec<T>, HistoryError> {
        self.query(sql, params, f).map_err(|e| self.history_err(e))
    }

    fn record_once(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
        recheck: Option<&[ChangeRecord]>,
    ) -> Result<i64, postgres::Error> {
        let overall = score(findings, |_| true);
        let scopes = scan_scores(findings);
        let mut tx = self.client_mut().transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO posture_scans (account, taken_at, score, pass, fail, unknown, recheck)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &account,
                    &taken_at,
                    &overall.value,
                    &(overall.pass as i64),
                    &(overall.fail as i64),
                    &(overall.unknown as i64),
                    &recheck.is_some(),
                ],
            )?
            .get(0);
        // Each table in one statement (arrays unnested): a scan of thousands of findings is
        // one round trip, not thousands.
        let names: Vec<&str> = scopes.iter().map(|(n, _)| n.as_str()).collect();
        let values: Vec<Option<f64>> = scopes.iter().map(|(_, v)| *v).collect();
        tx.execute(
            "INSERT INTO posture_scores (scan_id, scope, score)
             SELECT $1, * FROM UNNEST($2::TEXT[], $3::DOUBLE PRECISION[])",
            &[&id, &names, &values],
        )?;
        let col = |f: fn(&Finding) -> &str| findings.iter().map(f).collect::<Vec<&str>>();
        tx.execute(
            "INSERT INTO posture_findings (scan_id, check_id, region, resource, status, reason)
             SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[])",
            &[
                &id,
                &col(|f| f.check),
                &col(|f| &f.region),
                &col(|f| &f.resource),
                &col(|f| f.status.as_str()),
                &col(|f| &f.reason),
            ],
        )?;
        if let Some(changes) = recheck {
            let col = |f: fn(&ChangeRecord) -> &str| changes.iter().map(f).collect::<Vec<&str>>();
            let opt = |f: fn(&ChangeRecord) -> Option<&str>| {
                changes.iter().map(f).collect::<Vec<Option<&str>>>()
            };
            tx.execute(
                "INSERT INTO posture_changes (scan_id, check_id, region, resource, became, actor, event, at)
                 SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[])",
                &[
                    &id,
                    &col(|c| &c.check),
                    &col(|c| &c.region),
                    &col(|c| &c.resource),
                    &col(|c| &c.became),
                    &opt(|c| c.actor.as_deref()),
                    &opt(|c| c.event.as_deref()),
                    &col(|c| &c.at),
                ],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }
}

impl PostureHistory for PgStore {
    fn queue_change(&mut self, change: &str) -> Result<(), HistoryError> {
        let now = harrier_events::time::now_ns();
        // PostgreSQL's text refuses NUL, which a value decoded from a hostile record may hold.
        let change = change.replace('\0', "\u{FFFD}");
        self.with(|c| {
            let mut tx = c.transaction()?;
            // One writer at a time: positions are handed out in commit order, so the watcher,
            // having read up to a position, never meets a smaller one committed later (a
            // sequence alone hands them out in call order).
            tx.execute("SELECT pg_advisory_xact_lock(7263540013)", &[])?;
            tx.execute(
                "DELETE FROM posture_queue WHERE queued_ns < $1",
                &[&(now - QUEUE_KEPT_NS)],
            )?;
            tx.execute(
                "INSERT INTO posture_queue (queued_ns, change) VALUES ($1, $2)",
                &[&now, &change],
            )?;
            tx.commit()
        })
        .map_err(|e| self.history_err(e))
    }

    fn queued_changes(&self, after: i64, limit: u32) -> Result<Vec<(i64, String)>, HistoryError> {
        self.history_query(
            "SELECT seq, change FROM posture_queue WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &i64::from(limit)],
            |r| (r.get(0), r.get(1)),
        )
    }

    fn record_scan(
        &mut self,
        account: &str,
        taken_at: &str,
        findings: &[Finding],
        recheck: Option<&[ChangeRecord]>,
    ) -> Result<i64, HistoryError> {
        self.record_once(account, taken_at, findings, recheck)
            .map_err(|e| self.history_err(e))
    }

    fn changes_since_full_scan(&self, account: &str) -> Result<Vec<ChangeRecord>, HistoryError> {
        self.history_query(
            "SELECT c.check_id, c.region, c.resource, c.became, c.actor, c.event, c.at
             FROM posture_changes c JOIN posture_scans s ON s.id = c.scan_id
             WHERE s.account = $1 AND c.scan_id > COALESCE(
                 (SELECT max(id) FROM posture_scans WHERE account = $1 AND NOT recheck), 0)
             ORDER BY c.scan_id, c.check_id COLLATE \"C\", c.resource COLLATE \"C\"",
            &[&account],
            |r| ChangeRecord {
                check: r.get(0),
                region: r.get(1),
                resource: r.get(2),
                became: r.get(3),
                actor: r.get(4),
                event: r.get(5),
                at: r.get(6),
            },
        )
    }

    fn scans(&self, account: Option<&str>, limit: usize) -> Result<Vec<ScanSummary>, HistoryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = self.history_query(
            "SELECT id, account, taken_at, score, pass, fail, unknown FROM posture_scans
             WHERE ($1::TEXT IS NULL OR account = $1) ORDER BY id DESC LIMIT $2",
            &[&account, &limit],
            |r| ScanSummary {
                id: r.get(0),
                account: r.get(1),
                taken_at: r.get(2),
                score: r.get(3),
                pass: r.get(4),
                fail: r.get(5),
                unknown: r.get(6),
            },
        )?;
        rows.reverse();
        Ok(rows)
    }

    fn findings(
        &self,
        scan: i64,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FindingRow>, HistoryError> {
        let (offset, limit) = (
            i64::try_from(offset).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        );
        // Byte order, as SQLite sorts: the same pages from either store.
        self.history_query(
            "SELECT check_id, region, resource, status, reason FROM posture_findings
             WHERE scan_id = $1 AND ($2::TEXT IS NULL OR status = $2)
             ORDER BY check_id COLLATE \"C\", resource COLLATE \"C\", region COLLATE \"C\"
             LIMIT $3 OFFSET $4",
            &[&scan, &status, &limit, &offset],
            |r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)),
        )
    }

    fn scope_score(&self, scan: i64, scope: &str) -> Result<Option<f64>, HistoryError> {
        Ok(self
            .history_query(
                "SELECT score FROM posture_scores WHERE scan_id = $1 AND scope = $2",
                &[&scan, &scope],
                |r| r.get::<_, Option<f64>>(0),
            )?
            .into_iter()
            .next()
            .flatten())
    }

    fn statuses(&self, scan: i64) -> Result<Vec<(String, String, String, String)>, HistoryError> {
        self.history_query(
            "SELECT check_id, region, resource, status FROM posture_findings WHERE scan_id = $1",
            &[&scan],
            |r| (r.get(0), r.get(1), r.get(2), r.get(3)),
        )
    }
}
