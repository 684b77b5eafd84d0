//! What the console reads, on PostgreSQL: the same pages, facets, words and counts as the SQLite
//! store (`harrier_alerts::store::AlertQuery`), so one console shows every worker's alerts.
//!
//! - Facets (principal, resource, account, region) are columns written with each alert, from
//!   `harrier_alerts::store::facets`; each has an index with the position, so a filtered page
//!   is an index range scan.
//! - Words go into a `tsvector` (`simple` configuration: lower-cased, no stemming) behind a GIN
//!   index. Text is split into words here, on anything not a letter or digit, before PostgreSQL
//!   sees it, so an ARN or a path is searchable by each of its parts as in SQLite's `unicode61`
//!   tokenizer, and a search is every one of its words.
//! - Counts per rule and per day and priority are kept by the insert, in its transaction.

use harrier_alerts::store::{AlertPage, AlertQuery, Facets, QueriedAlert, StoreError};
use harrier_alerts::AlertRecord;
use postgres::types::ToSql;
use postgres::{Row, Transaction};

use super::{alert_row, priority_num, PgStore};

/// Version 4: the console's facets, words and counts. Adding the columns rewrites nothing;
/// alerts stored before keep no facets or words (as in SQLite: they are listed, not found by
/// facet or word), so the migration costs the index builds and one counting pass, not a
/// rewrite of every alert.
pub(crate) const SCHEMA_V4: &str = "
ALTER TABLE alerts
    ADD COLUMN IF NOT EXISTS principal TEXT,
    ADD COLUMN IF NOT EXISTS resource TEXT,
    ADD COLUMN IF NOT EXISTS account TEXT,
    ADD COLUMN IF NOT EXISTS region TEXT,
    ADD COLUMN IF NOT EXISTS event TEXT,
    ADD COLUMN IF NOT EXISTS words TSVECTOR;
CREATE INDEX IF NOT EXISTS alerts_principal ON alerts(principal, seq);
CREATE INDEX IF NOT EXISTS alerts_resource ON alerts(resource, seq);
CREATE INDEX IF NOT EXISTS alerts_account ON alerts(account, seq);
CREATE INDEX IF NOT EXISTS alerts_region ON alerts(region, seq);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule, seq);
CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source, seq);
CREATE INDEX IF NOT EXISTS alerts_priority ON alerts(priority, seq);
CREATE INDEX IF NOT EXISTS alerts_words ON alerts USING GIN (words);
CREATE TABLE IF NOT EXISTS alert_rule_counts (rule TEXT PRIMARY KEY, n BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS alert_day_counts (
    day BIGINT NOT NULL,
    priority INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, priority)
);
INSERT INTO alert_rule_counts (rule, n)
    SELECT rule, COUNT(*) FROM alerts GROUP BY rule ON CONFLICT DO NOTHING;
INSERT INTO alert_day_counts (day, priority, n)
    SELECT FLOOR(time_ns::NUMERIC / 86400000000000)::BIGINT, priority, COUNT(*)
    FROM alerts WHERE NOT suppressed GROUP BY 1, 2 ON CONFLICT DO NOTHING;
";

/// Words kept per alert at most: a tsvector holds at most 1 MiB, and an alert's output can
/// carry an attacker's command line.
const MAX_WORDS: usize = 4096;

/// Bytes of words kept per alert at most (far below the tsvector's limit).
const MAX_WORD_BYTES: usize = 64 * 1024;

/// Longest word kept (PostgreSQL ignores words over 2047 bytes; none is searched for).
const MAX_WORD_LEN: usize = 256;

/// Words searched for at most.
const MAX_QUERY_WORDS: usize = 16;

/// The words of `text`, lower-cased, separated by single spaces: what goes into the index and
/// into a search, split the same way.
pub(crate) fn split_words(text: &str, max: usize) -> String {
    let mut out = String::new();
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= MAX_WORD_LEN)
        .take(max)
    {
        if out.len() + w.len() + 1 > MAX_WORD_BYTES {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The indexed words of an alert with facets `f`.
pub(crate) fn alert_words(a: &AlertRecord, f: &Facets) -> String {
    split_words(&harrier_alerts::store::words(a, f), MAX_WORDS)
}

/// The columns of a queried alert: the alert's, then its facets and event.
const QUERY_COLUMNS: &str = "seq, id, time_ns, stored_ns, rule, priority, source, suppressed, \
     json, principal, resource, account, region, event";

fn queried(r: &Row) -> QueriedAlert {
    QueriedAlert {
        alert: alert_row(r),
        facets: Facets {
            principal: r.get(9),
            resource: r.get(10),
            account: r.get(11),
            region: r.get(12),
        },
        event: r.get(13),
    }
}

/// Adds the batch's counts (per rule; per day and priority of delivered alerts).
pub(crate) fn add_counts(
    tx: &mut Transaction<'_>,
    rules: &std::collections::BTreeMap<&str, i64>,
    days: &std::collections::BTreeMap<(i64, i32), i64>,
) -> Result<(), postgres::Error> {
    if !rules.is_empty() {
        let names: Vec<&str> = rules.keys().copied().collect();
        let ns: Vec<i64> = rules.values().copied().collect();
        tx.execute(
            "INSERT INTO alert_rule_counts (rule, n) SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[]) \
             ON CONFLICT (rule) DO UPDATE SET n = alert_rule_counts.n + EXCLUDED.n",
            &[&names, &ns],
        )?;
    }
    if !days.is_empty() {
        let day: Vec<i64> = days.keys().map(|k| k.0).collect();
        let prio: Vec<i32> = days.keys().map(|k| k.1).collect();
        let ns: Vec<i64> = days.values().copied().collect();
        tx.execute(
            "INSERT INTO alert_day_counts (day, priority, n) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::INTEGER[], $3::BIGINT[]) \
             ON CONFLICT (day, priority) DO UPDATE SET n = alert_day_counts.n + EXCLUDED.n",
            &[&day, &prio, &ns],
        )?;
    }
    Ok(())
}

impl PgStore {
    /// [`harrier_alerts::store::AlertStore::query`].
    pub(crate) fn query_page(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 500);
        let mut sql = format!("SELECT {QUERY_COLUMNS} FROM alerts WHERE TRUE");
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut cond = |sql: &mut String, c: &str, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&c.replace('?', &format!("${}", args.len())));
        };
        for (col, v) in [
            ("rule", &q.rule),
            ("source", &q.source),
            ("principal", &q.principal),
            ("resource", &q.resource),
            ("account", &q.account),
            ("region", &q.region),
        ] {
            if let Some(v) = v {
                cond(&mut sql, &format!(" AND {col} = ?"), Box::new(v.clone()));
            }
        }
        if let Some(t) = q.since_ns {
            cond(&mut sql, " AND time_ns >= ?", Box::new(t));
        }
        if let Some(t) = q.until_ns {
            cond(&mut sql, " AND time_ns < ?", Box::new(t));
        }
        if let Some(p) = q.min_priority {
            cond(&mut sql, " AND priority <= ?", Box::new(priority_num(p)));
        }
        if let Some(b) = q.before_seq {
            cond(&mut sql, " AND seq < ?", Box::new(b));
        }
        if !q.include_suppressed {
            sql.push_str(" AND NOT suppressed");
        }
        if let Some(text) = q.text.as_deref() {
            let words = split_words(text, MAX_QUERY_WORDS);
            if words.is_empty() {
                // Nothing searchable (only punctuation): nothing matches.
                sql.push_str(" AND FALSE");
            } else {
                cond(
                    &mut sql,
                    " AND words @@ plainto_tsquery('simple', ?)",
                    Box::new(words),
                );
            }
        }
        cond(
            &mut sql,
            " ORDER BY seq DESC LIMIT ?",
            Box::new(i64::from(limit) + 1),
        );
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
        let mut alerts = self.query(&sql, &params, queried)?;
        let next = harrier_alerts::store::next_page(&mut alerts, limit, |a| a.alert.seq);
        Ok(AlertPage { alerts, next })
    }

    /// [`harrier_alerts::store::AlertStore::alert`].
    pub(crate) fn alert_by_id(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        self.query_opt(
            &format!("SELECT {QUERY_COLUMNS} FROM alerts WHERE id = $1"),
            &[&id],
            queried,
        )
    }

    /// [`harrier_alerts::store::AlertStore::alerts_per_day`].
    pub(crate) fn per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        self.query(
            "SELECT day, priority, n FROM alert_day_counts WHERE day >= $1 AND day < $2 \
             ORDER BY day, priority",
            &[&since_day, &until_day],
            |r| {
                (
                    r.get::<_, i64>(0),
                    i64::from(r.get::<_, i32>(1)),
                    r.get::<_, i64>(2) as u64,
                )
            },
        )
    }

    /// [`harrier_alerts::store::AlertStore::rule_counts`].
    pub(crate) fn counts_per_rule(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(
            "SELECT rule, n FROM alert_rule_counts ORDER BY n DESC, rule COLLATE \"C\"",
            &[],
            |r| (r.get(0), r.get::<_, i64>(1) as u64),
        )
    }
}
