//! Image results on PostgreSQL: the scan queue, scans, SBOMs and tags every worker shares
//! (`harrier_supply::results::ImageResults`, the same rows as the SQLite `images.db`), schema
//! version 5.
//!
//! - A push is queued once by its event id, and once across CloudTrail's and EventBridge's
//!   tellings of it: the check and the insert run under a transaction-scoped lock per image
//!   (digest and repository), so two workers told of one push at once queue it once.
//! - Taking pushes claims them (`FOR UPDATE SKIP LOCKED`, then a holder and a claim end on the
//!   server's clock): two workers never scan one push at once; a worker that dies leaves its
//!   claims to the others after [`SCAN_CLAIM`]. Only the holder finishes a push (a worker
//!   whose claim ran out and passed on cannot undo what the new holder did), and a push is
//!   finished once. `serve` claims one push at a time, so a claim covers one scan.
//! - Moving a tag runs under a lock per tag, so concurrent pushes to one tag see each other.

use harrier_supply::push::Push;
use harrier_supply::results::{DbError, ImageResults, Queued};
use harrier_supply::verdict::Summary;
use postgres::Client;

use crate::{PgStore, SERVER_NOW_NS};

/// How long a claimed push stays this worker's before another worker may take it (a scan
/// pulls and reads a whole image: minutes, not seconds).
pub const SCAN_CLAIM: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Version 5: image results.
pub(crate) const SCHEMA_V5: &str = "
CREATE TABLE IF NOT EXISTS image_scans (
    digest TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    scanned_at_ns BIGINT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_scans_time ON image_scans(scanned_at_ns);
CREATE TABLE IF NOT EXISTS image_tags (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT NOT NULL, at_ns BIGINT NOT NULL, pusher TEXT,
    PRIMARY KEY (registry, repository, tag)
);
CREATE INDEX IF NOT EXISTS image_tags_digest ON image_tags(digest);
CREATE TABLE IF NOT EXISTS image_tag_history (
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT NOT NULL, at_ns BIGINT NOT NULL, pusher TEXT, event_id TEXT NOT NULL,
    moved_from TEXT,
    PRIMARY KEY (event_id, tag)
);
CREATE TABLE IF NOT EXISTS image_pushes (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    registry_id TEXT NOT NULL,
    region TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    time_ns BIGINT NOT NULL,
    push TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    holder TEXT,
    claimed_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS image_pushes_state ON image_pushes(state, seq);
CREATE INDEX IF NOT EXISTS image_pushes_same ON image_pushes(digest, repository);
CREATE TABLE IF NOT EXISTS image_sboms (
    digest TEXT PRIMARY KEY,
    cyclonedx TEXT NOT NULL
);
";

fn corrupt(what: &'static str, shown: &str, e: serde_json::Error) -> DbError {
    DbError::Corrupt {
        path: shown.to_string(),
        what,
        message: e.to_string(),
    }
}

impl PgStore {
    /// Runs `f` on the connection; a database error becomes the image results' error.
    fn images<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        self.with(f).map_err(|e| DbError::Backend {
            path: e.path,
            source: e.source,
        })
    }
}

impl ImageResults for PgStore {
    fn enqueue(&self, push: &Push) -> Result<bool, DbError> {
        let json = serde_json::to_string(push).unwrap_or_default();
        let tag = push.tag.clone().unwrap_or_default();
        self.images(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))",
                &[&format!("{}\u{1f}{}", push.digest, push.repository)],
            )?;
            let same = tx.query_opt(
                "SELECT seq, push, state FROM image_pushes
                 WHERE digest = $1 AND repository = $2 AND registry_id = $3 AND region = $4 AND tag = $5
                   AND abs(time_ns - $6) <= 600000000000 AND event_id <> $7
                 ORDER BY seq LIMIT 1",
                &[&push.digest, &push.repository, &push.registry_id, &push.region, &tag, &push.time_ns, &push.event_id],
            )?;
            if let Some(r) = same {
                let (seq, old, state): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
                let old: Option<Push> = serde_json::from_str(&old).ok();
                if state == "pending"
                    && push.pusher.is_some()
                    && old.is_some_and(|o| o.pusher.is_none())
                {
                    tx.execute(
                        "UPDATE image_pushes SET push = $2 WHERE seq = $1",
                        &[&seq, &json],
                    )?;
                }
                tx.commit()?;
                return Ok(false);
            }
            let n = tx.execute(
                "INSERT INTO image_pushes (event_id, registry_id, region, repository, tag, digest, time_ns, push)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
                &[&push.event_id, &push.registry_id, &push.region, &push.repository, &tag, &push.digest, &push.time_ns, &json],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn pending(&self, limit: usize) -> Result<Vec<Queued>, DbError> {
        let claim = SCAN_CLAIM.as_nanos() as i64;
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.images(|c| {
            c.query(
                &format!(
                    "UPDATE image_pushes SET holder = $1, claimed_until = {SERVER_NOW_NS} + $2
                     WHERE seq IN (
                         SELECT seq FROM image_pushes
                         WHERE state = 'pending'
                           AND (holder IS NULL OR holder = $1 OR claimed_until < {SERVER_NOW_NS})
                         ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING seq, push, attempts"
                ),
                &[&self.worker, &claim, &limit],
            )
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let json: String = r.get(1);
            out.push(Queued {
                seq: r.get(0),
                push: serde_json::from_str(&json).map_err(|e| corrupt("push", &self.shown, e))?,
                attempts: r.get::<_, i32>(2).max(0) as u32,
            });
        }
        out.sort_by_key(|q| q.seq);
        Ok(out)
    }

    fn depth(&self) -> Result<u64, DbError> {
        self.images(|c| {
            c.query_one(
                "SELECT COUNT(*) FROM image_pushes WHERE state = 'pending'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) as u64)
        })
    }

    fn finish(&self, seq: i64, error: Option<&str>, max_attempts: u32) -> Result<(), DbError> {
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        self.images(|c| {
            match error {
                None => c.execute(
                    "UPDATE image_pushes SET state = 'done', error = NULL, holder = NULL
                     WHERE seq = $1 AND state = 'pending' AND (holder = $2 OR holder IS NULL)",
                    &[&seq, &self.worker],
                ),
                Some(e) => c.execute(
                    "UPDATE image_pushes SET attempts = attempts + 1, error = $2, holder = NULL,
                       state = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END
                     WHERE seq = $1 AND state = 'pending' AND (holder = $4 OR holder IS NULL)",
                    &[&seq, &e, &max, &self.worker],
                ),
            }
            .map(|_| ())
        })
    }

    fn scan(&self, digest: &str) -> Result<Option<Summary>, DbError> {
        let json: Option<String> = self.images(|c| {
            c.query_opt(
                "SELECT summary FROM image_scans WHERE digest = $1",
                &[&digest],
            )
            .map(|r| r.map(|r| r.get(0)))
        })?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| corrupt("scan", &self.shown, e)))
            .transpose()
    }

    fn put_scan(&self, s: &Summary) -> Result<(), DbError> {
        let json = serde_json::to_string(s).unwrap_or_default();
        self.images(|c| {
            c.execute(
                "INSERT INTO image_scans (digest, reference, scanned_at_ns, summary) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (digest) DO UPDATE SET reference = $2, scanned_at_ns = $3, summary = $4",
                &[&s.digest, &s.reference, &s.scanned_at_ns, &json],
            )
            .map(|_| ())
        })
    }

    fn put_sbom(&self, digest: &str, cyclonedx: &str) -> Result<(), DbError> {
        self.images(|c| {
            c.execute(
                "INSERT INTO image_sboms (digest, cyclonedx) VALUES ($1, $2)
                 ON CONFLICT (digest) DO UPDATE SET cyclonedx = $2",
                &[&digest, &cyclonedx],
            )
            .map(|_| ())
        })
    }

    fn sbom(&self, digest: &str) -> Result<Option<String>, DbError> {
        self.images(|c| {
            c.query_opt(
                "SELECT cyclonedx FROM image_sboms WHERE digest = $1",
                &[&digest],
            )
            .map(|r| r.map(|r| r.get(0)))
        })
    }

    fn scans(&self, limit: usize) -> Result<Vec<Summary>, DbError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows: Vec<String> = self.images(|c| {
            c.query(
                "SELECT summary FROM image_scans ORDER BY scanned_at_ns DESC LIMIT $1",
                &[&limit],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        })?;
        rows.iter()
            .map(|j| serde_json::from_str(j).map_err(|e| corrupt("scan", &self.shown, e)))
            .collect()
    }

    fn point_tag(&self, registry: &str, push: &Push) -> Result<Option<String>, DbError> {
        let Some(tag) = push.tag.as_deref() else {
            return Ok(None);
        };
        self.images(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 2))",
                &[&format!("{registry}\u{1f}{}\u{1f}{tag}", push.repository)],
            )?;
            // This push seen before (a retry after a crash, a replay): the same answer as then.
            if let Some(r) = tx.query_opt(
                "SELECT moved_from FROM image_tag_history WHERE event_id = $1 AND tag = $2",
                &[&push.event_id, &tag],
            )? {
                return Ok(r.get(0));
            }
            let before: Option<(String, i64)> = tx
                .query_opt(
                    "SELECT digest, at_ns FROM image_tags WHERE registry = $1 AND repository = $2 AND tag = $3",
                    &[&registry, &push.repository, &tag],
                )?
                .map(|r| (r.get(0), r.get(1)));
            let moved = match &before {
                Some((_, at)) if *at > push.time_ns => None,
                Some((d, _)) if *d != push.digest => Some(d.clone()),
                _ => None,
            };
            tx.execute(
                "INSERT INTO image_tag_history (registry, repository, tag, digest, at_ns, pusher, event_id, moved_from)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&registry, &push.repository, &tag, &push.digest, &push.time_ns, &push.pusher, &push.event_id, &moved],
            )?;
            if before.as_ref().is_none_or(|(_, at)| *at <= push.time_ns) {
                tx.execute(
                    "INSERT INTO image_tags (registry, repository, tag, digest, at_ns, pusher) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (registry, repository, tag) DO UPDATE SET digest = $4, at_ns = $5, pusher = $6",
                    &[&registry, &push.repository, &tag, &push.digest, &push.time_ns, &push.pusher],
                )?;
            }
            tx.commit()?;
            Ok(moved)
        })
    }

    fn tags_of_each(
        &self,
        digests: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, DbError> {
        let rows: Vec<(String, String)> = self.images(|c| {
            c.query(
                "SELECT digest, repository || ':' || tag FROM image_tags WHERE digest = ANY($1) \
                 ORDER BY digest, (repository || ':' || tag) COLLATE \"C\"",
                &[&digests],
            )
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (d, t) in rows {
            out.entry(d).or_default().push(t);
        }
        Ok(out)
    }

    fn tags_of(&self, digest: &str) -> Result<Vec<String>, DbError> {
        self.images(|c| {
            c.query(
                "SELECT repository || ':' || tag FROM image_tags WHERE digest = $1 ORDER BY (repository || ':' || tag) COLLATE \"C\"",
                &[&digest],
            )
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        })
    }
}
