//! Reading the store the way a person looks for things: by who, what, where, and words, newest
//! first, a page at a time (keyset pagination on the store position, so page 1,000 costs what
//! page 1 does).
//!
//! Each alert is stored with the facets a console filters on: the principal, the resource, the
//! account and the region, taken from its output fields and, where those say nothing, from the
//! event it came from; and its words go into a full-text index.

use rusqlite::{params_from_iter, types::Value, OptionalExtension};

use super::RESOURCE_FIELDS;
use super::{priority_num, row_to_alert, Store, StoreError, StoredAlert, PRINCIPAL_FIELDS};
use crate::alert::AlertRecord;

/// Columns and indexes added to stores made before the console (added when missing).
pub(super) const FACET_COLUMNS: &[&str] = &["principal", "resource", "account", "region", "event"];

pub(super) const FACET_SCHEMA: &str = "
CREATE INDEX IF NOT EXISTS alerts_principal ON alerts(principal, seq);
CREATE INDEX IF NOT EXISTS alerts_resource ON alerts(resource, seq);
CREATE INDEX IF NOT EXISTS alerts_account ON alerts(account, seq);
CREATE INDEX IF NOT EXISTS alerts_region ON alerts(region, seq);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule, seq);
CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source, seq);
CREATE INDEX IF NOT EXISTS alerts_priority ON alerts(priority, seq);
CREATE INDEX IF NOT EXISTS alerts_day ON alerts(time_ns, priority, suppressed);
CREATE TABLE IF NOT EXISTS alert_rule_counts (rule TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alert_day_counts (
    day INTEGER NOT NULL, priority INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (day, priority));
CREATE VIRTUAL TABLE IF NOT EXISTS alerts_text USING fts5(body, content='', tokenize='unicode61');
";

/// What a console filters alerts by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    /// Who did it (an ARN, a Kubernetes user, a Linux user).
    pub principal: Option<String>,
    /// What it was done to.
    pub resource: Option<String>,
    /// The AWS account.
    pub account: Option<String>,
    /// The AWS region.
    pub region: Option<String>,
}

fn field<'a>(a: &'a AlertRecord, name: &str) -> Option<&'a str> {
    a.output_fields
        .iter()
        .find(|(k, v)| k == name && v.is_some())
        .and_then(|(_, v)| v.as_deref())
        .filter(|v| !v.is_empty() && *v != "<NA>")
}

/// The facets of an alert: its output fields first, then its event.
pub fn facets(a: &AlertRecord) -> Facets {
    let event: Option<serde_json::Value> = a
        .event
        .as_deref()
        .and_then(|e| serde_json::from_str(e).ok());
    let at = |path: &[&str]| -> Option<String> {
        let mut v = event.as_ref()?;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
    };
    let principal = PRINCIPAL_FIELDS
        .iter()
        .find_map(|f| field(a, f).map(str::to_string))
        .or_else(|| at(&["userIdentity", "arn"]))
        .or_else(|| at(&["user", "username"]))
        .or_else(|| field(a, "ct.user.principalid").map(str::to_string));
    let resource = RESOURCE_FIELDS
        .iter()
        .find_map(|f| field(a, f).map(str::to_string))
        .or_else(|| field(a, "image.reference").map(str::to_string))
        .or_else(|| field(a, "image.repository").map(str::to_string));
    let account = field(a, "ct.user.accountid")
        .map(str::to_string)
        .or_else(|| at(&["recipientAccountId"]))
        .or_else(|| at(&["userIdentity", "accountId"]))
        .or_else(|| field(a, "aws.account").map(str::to_string));
    let region = field(a, "ct.region")
        .map(str::to_string)
        .or_else(|| at(&["awsRegion"]))
        .or_else(|| field(a, "aws.region").map(str::to_string));
    Facets {
        principal,
        resource,
        account,
        region,
    }
}

/// The words of an alert a full-text index keeps: its rule, output, source and facets.
pub fn words(a: &AlertRecord, f: &Facets) -> String {
    let mut s = format!("{} {} {}", a.rule, a.output, a.source);
    for v in [&f.principal, &f.resource, &f.account, &f.region]
        .into_iter()
        .flatten()
    {
        s.push(' ');
        s.push_str(v);
    }
    s
}

/// Which alerts to show: every set field must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Event time at or after (ns).
    pub since_ns: Option<i64>,
    /// Event time before (ns).
    pub until_ns: Option<i64>,
    /// At or above this priority.
    pub min_priority: Option<harrier_rules::Priority>,
    /// This rule.
    pub rule: Option<String>,
    /// This event source (`aws_cloudtrail`).
    pub source: Option<String>,
    /// This principal.
    pub principal: Option<String>,
    /// This resource.
    pub resource: Option<String>,
    /// This account.
    pub account: Option<String>,
    /// This region.
    pub region: Option<String>,
    /// Every word of this (full-text).
    pub text: Option<String>,
    /// Include suppressed alerts.
    pub include_suppressed: bool,
    /// Only alerts stored before this position (the previous page's `next`).
    pub before_seq: Option<i64>,
    /// Page size (1..=500; 50 when unset).
    pub limit: Option<u32>,
}

/// Cuts `items`, read with one more than `limit`, to `limit`; returns the key of the next page
/// (from the last item kept) when there was more. Every backend's pages end this way.
pub fn next_page<T, K>(items: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    }
}

/// A page of incidents and the key of the next page (`(last ns, id)`), when there is one.
pub type IncidentPage = (Vec<super::StoredIncident>, Option<(i64, String)>);

/// One page of alerts, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPage {
    /// The alerts.
    pub alerts: Vec<QueriedAlert>,
    /// The `before_seq` of the next page, when there is one.
    pub next: Option<i64>,
}

/// An alert with its facets and event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueriedAlert {
    /// The alert.
    pub alert: StoredAlert,
    /// Its facets.
    pub facets: Facets,
    /// The event it came from (JSON), when kept.
    pub event: Option<String>,
}

/// Turns free text into an FTS5 query that only matches words: each word quoted, all required.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

const QUERY_COLUMNS: &str =
    "seq, id, time_ns, stored_ns, rule, priority, source, suppressed, json, \
     principal, resource, account, region, event";

fn queried(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueriedAlert> {
    Ok(QueriedAlert {
        alert: row_to_alert(r)?,
        facets: Facets {
            principal: r.get(9)?,
            resource: r.get(10)?,
            account: r.get(11)?,
            region: r.get(12)?,
        },
        event: r.get(13)?,
    })
}

impl Store {
    /// A page of alerts matching `q`, newest first.
    pub fn query(&self, q: &AlertQuery) -> Result<AlertPage, StoreError> {
        let limit = q.limit.unwrap_or(50).clamp(1, 500);
        let mut sql = format!("SELECT {QUERY_COLUMNS} FROM alerts WHERE 1=1");
        let mut args: Vec<Value> = Vec::new();
        let mut eq = |col: &str, v: &Option<String>, sql: &mut String| {
            if let Some(v) = v {
                args.push(Value::Text(v.clone()));
                sql.push_str(&format!(" AND {col} = ?{}", args.len()));
            }
        };
        eq("rule", &q.rule, &mut sql);
        eq("source", &q.source, &mut sql);
        eq("principal", &q.principal, &mut sql);
        eq("resource", &q.resource, &mut sql);
        eq("account", &q.account, &mut sql);
        eq("region", &q.region, &mut sql);
        let mut push = |sql: &mut String, cond: &str, v: Value| {
            args.push(v);
            sql.push_str(&cond.replace('?', &format!("?{}", args.len())));
        };
        if let Some(t) = q.since_ns {
            push(&mut sql, " AND time_ns >= ?", Value::Integer(t));
        }
        if let Some(t) = q.until_ns {
            push(&mut sql, " AND time_ns < ?", Value::Integer(t));
        }
        if let Some(p) = q.min_priority {
            push(
                &mut sql,
                " AND priority <= ?",
                Value::Integer(priority_num(p)),
            );
        }
        if let Some(b) = q.before_seq {
            push(&mut sql, " AND seq < ?", Value::Integer(b));
        }
        if !q.include_suppressed {
            sql.push_str(" AND suppressed = 0");
        }
        if let Some(text) = q.text.as_deref() {
            match fts_query(text) {
                Some(m) => push(
                    &mut sql,
                    " AND seq IN (SELECT rowid FROM alerts_text WHERE alerts_text MATCH ?)",
                    Value::Text(m),
                ),
                // Nothing searchable (only punctuation): nothing matches.
                None => sql.push_str(" AND 0"),
            }
        }
        push(
            &mut sql,
            " ORDER BY seq DESC LIMIT ?",
            Value::Integer(i64::from(limit) + 1),
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), queried)
            .map_err(|e| self.err(e))?;
        let mut alerts = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let next = next_page(&mut alerts, limit, |a| a.alert.seq);
        Ok(AlertPage { alerts, next })
    }

    /// One alert by id.
    pub fn alert(&self, id: &str) -> Result<Option<QueriedAlert>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {QUERY_COLUMNS} FROM alerts WHERE id = ?1"),
                [id],
                queried,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Delivered (not suppressed) alerts per UTC day of event time and priority number, for
    /// the days in `[since_day, until_day)` (days since the epoch): `(day, priority, count)`.
    /// Kept by [`Store::insert`] in the same transaction, so reading it costs nothing at any
    /// size.
    pub fn alerts_per_day(
        &self,
        since_day: i64,
        until_day: i64,
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT day, priority, n FROM alert_day_counts \
                 WHERE day >= ?1 AND day < ?2 ORDER BY day, priority",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([since_day, until_day], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Number of alerts stored, from the per-rule counts (no scan of the alerts).
    pub fn counted(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(n), 0) FROM alert_rule_counts",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// How many alerts each rule raised (suppressed included), most first: kept by
    /// [`Store::insert`] in the same transaction, so reading it costs nothing at any size.
    pub fn rule_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule, n FROM alert_rule_counts ORDER BY 2 DESC, 1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every source checkpoint: `(source, value, updated ns)`.
    pub fn checkpoints(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT source, value, updated_ns FROM checkpoints ORDER BY source")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// A page of incidents, most recently active first, before the key `(last_ns, id)` of the
    /// previous page's last one.
    pub fn incidents_page(
        &self,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<IncidentPage, StoreError> {
        let limit = limit.clamp(1, 500);
        let (t, id) = before.unwrap_or((i64::MAX, ""));
        let first = before.is_none();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, first_ns, last_ns, severity, alerts, title, text, json FROM incidents \
                 WHERE ?4 OR last_ns < ?1 OR (last_ns = ?1 AND id > ?2) \
                 ORDER BY last_ns DESC, id LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                rusqlite::params![t, id, i64::from(limit) + 1, first],
                super::incidents::row,
            )
            .map_err(|e| self.err(e))?;
        let mut out = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let next = next_page(&mut out, limit, |i| (i.last_ns, i.id.clone()));
        Ok((out, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_becomes_quoted_words_only() {
        assert_eq!(
            fts_query("xmrig \"OR\" NEAR(a b)").as_deref(),
            Some("\"xmrig\" \"OR\" \"NEAR\" \"a\" \"b\"")
        );
        assert_eq!(fts_query(" *:() "), None);
    }
}
