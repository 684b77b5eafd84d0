//! Image results: one scan per digest, where each tag points and every digest it pointed to,
//! and the pushes waiting to be scanned, behind one interface ([`ImageResults`]) with two
//! backends: [`ImageDb`] (SQLite, `images.db` in the state directory, one machine) and the
//! PostgreSQL store several workers share (crate harrier-store-pg).
//!
//! The pushes are the scan queue: a push is recorded (idempotently, by its event id) while the
//! event that told of it is processed, before the source acknowledges it, so a push survives a
//! crash; the scanner takes them in arrival order and marks each done or failed. On a shared
//! store, taking pushes claims them for a while, so two workers never scan the same push at
//! once, and a worker that died leaves its claims to the others when they run out.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::push::Push;
use crate::verdict::Summary;

/// Why the image database failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("image database {path}: {source}")]
    Sql {
        /// The file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A shared store's database said no.
    #[error("image results in {path}: {source}")]
    Backend {
        /// The database, as shown (no password).
        path: String,
        /// What it said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored row could not be read back.
    #[error("image database {path}: a stored {what} cannot be read: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What kind of row.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// A push waiting to be scanned.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its place in the queue.
    pub seq: i64,
    /// The push.
    pub push: Push,
    /// Attempts so far.
    pub attempts: u32,
}

/// The image database.
pub struct ImageDb {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS image_scans(
    digest TEXT PRIMARY KEY,
    reference TEXT NOT NULL,
    scanned_at_ns INTEGER NOT NULL,
    summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS image_tags(
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT NOT NULL, at_ns INTEGER NOT NULL, pusher TEXT,
    PRIMARY KEY(registry, repository, tag));
CREATE TABLE IF NOT EXISTS image_tag_history(
    registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
    digest TEXT NOT NULL, at_ns INTEGER NOT NULL, pusher TEXT, event_id TEXT NOT NULL,
    moved_from TEXT,
    PRIMARY KEY(event_id, tag));
CREATE TABLE IF NOT EXISTS image_pushes(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    registry_id TEXT NOT NULL,
    region TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    push TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT);
CREATE INDEX IF NOT EXISTS image_pushes_state ON image_pushes(state, seq);
CREATE INDEX IF NOT EXISTS image_pushes_same ON image_pushes(digest, repository);
CREATE TABLE IF NOT EXISTS image_sboms(
    digest TEXT PRIMARY KEY,
    cyclonedx TEXT NOT NULL);
";

impl ImageDb {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<ImageDb, DbError> {
        let p = path.display().to_string();
        let sql = |source| DbError::Sql {
            path: p.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(ImageDb { conn, path: p })
    }

    fn sql(&self, source: rusqlite::Error) -> DbError {
        DbError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a push to scan; `false` when it was recorded before: the same event (a replay,
    /// another worker), or the same push told the other way (CloudTrail and EventBridge both
    /// tell of it, with different ids: same account, region, repository, tag and digest within
    /// ten minutes). When CloudTrail's telling comes while EventBridge's still waits, the
    /// waiting one gains its pusher.
    pub fn enqueue(&self, push: &Push) -> Result<bool, DbError> {
        let json = serde_json::to_string(push).unwrap_or_default();
        let tag = push.tag.clone().unwrap_or_default();
        let same: Option<(i64, String, String)> = self
            .conn
            .query_row(
                "SELECT seq, push, state FROM image_pushes
                 WHERE digest = ?1 AND repository = ?2 AND registry_id = ?3 AND region = ?4 AND tag = ?5
                   AND abs(time_ns - ?6) <= 600000000000 AND event_id != ?7
                 ORDER BY seq LIMIT 1",
                params![push.digest, push.repository, push.registry_id, push.region, tag, push.time_ns, push.event_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if let Some((seq, old, state)) = same {
            let old: Option<Push> = serde_json::from_str(&old).ok();
            if state == "pending"
                && push.pusher.is_some()
                && old.is_some_and(|o| o.pusher.is_none())
            {
                self.conn
                    .execute(
                        "UPDATE image_pushes SET push = ?2 WHERE seq = ?1",
                        params![seq, json],
                    )
                    .map_err(|e| self.sql(e))?;
            }
            return Ok(false);
        }
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO image_pushes(event_id, registry_id, region, repository, tag, digest, time_ns, push)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![push.event_id, push.registry_id, push.region, push.repository, tag, push.digest, push.time_ns, json],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// Up to `limit` pending pushes, oldest first.
    pub fn pending(&self, limit: usize) -> Result<Vec<Queued>, DbError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, push, attempts FROM image_pushes WHERE state = 'pending' ORDER BY seq LIMIT ?1",
            )
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, json, attempts) = row.map_err(|e| self.sql(e))?;
            let push = serde_json::from_str(&json).map_err(|e| DbError::Corrupt {
                path: self.path.clone(),
                what: "push",
                message: e.to_string(),
            })?;
            out.push(Queued {
                seq,
                push,
                attempts,
            });
        }
        Ok(out)
    }

    /// How many pushes wait.
    pub fn depth(&self) -> Result<u64, DbError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM image_pushes WHERE state = 'pending'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    /// Marks a push `done`, or (with an error) counts a failed attempt; after `max_attempts`
    /// it is `failed` and leaves the queue (the error kept).
    pub fn finish(&self, seq: i64, error: Option<&str>, max_attempts: u32) -> Result<(), DbError> {
        match error {
            None => self.conn.execute(
                "UPDATE image_pushes SET state = 'done', error = NULL WHERE seq = ?1",
                [seq],
            ),
            Some(e) => self.conn.execute(
                "UPDATE image_pushes SET attempts = attempts + 1, error = ?2,
                   state = CASE WHEN attempts + 1 >= ?3 THEN 'failed' ELSE 'pending' END
                 WHERE seq = ?1",
                params![seq, e, max_attempts],
            ),
        }
        .map(|_| ())
        .map_err(|e| self.sql(e))
    }

    /// The stored scan of `digest`.
    pub fn scan(&self, digest: &str) -> Result<Option<Summary>, DbError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT summary FROM image_scans WHERE digest = ?1",
                [digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| DbError::Corrupt {
                path: self.path.clone(),
                what: "scan",
                message: e.to_string(),
            })
        })
        .transpose()
    }

    /// Stores a scan (a newer one of the same digest replaces it).
    pub fn put_scan(&self, s: &Summary) -> Result<(), DbError> {
        let json = serde_json::to_string(s).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO image_scans(digest, reference, scanned_at_ns, summary) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(digest) DO UPDATE SET reference = ?2, scanned_at_ns = ?3, summary = ?4",
                params![s.digest, s.reference, s.scanned_at_ns, json],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// Stores an image's software bill of materials (CycloneDX JSON).
    pub fn put_sbom(&self, digest: &str, cyclonedx: &str) -> Result<(), DbError> {
        self.conn
            .execute(
                "INSERT INTO image_sboms(digest, cyclonedx) VALUES (?1, ?2)
                 ON CONFLICT(digest) DO UPDATE SET cyclonedx = ?2",
                params![digest, cyclonedx],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// An image's software bill of materials (CycloneDX JSON), when one was stored.
    pub fn sbom(&self, digest: &str) -> Result<Option<String>, DbError> {
        self.conn
            .query_row(
                "SELECT cyclonedx FROM image_sboms WHERE digest = ?1",
                params![digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Every stored scan, newest first, at most `limit`.
    pub fn scans(&self, limit: usize) -> Result<Vec<Summary>, DbError> {
        let mut st = self
            .conn
            .prepare("SELECT summary FROM image_scans ORDER BY scanned_at_ns DESC LIMIT ?1")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([limit as i64], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for j in rows {
            let j = j.map_err(|e| self.sql(e))?;
            out.push(serde_json::from_str(&j).map_err(|e| DbError::Corrupt {
                path: self.path.clone(),
                what: "scan",
                message: e.to_string(),
            })?);
        }
        Ok(out)
    }

    /// Points `tag` of `registry/repository` at `push`'s digest and records it in the tag's
    /// history. Returns the digest the tag pointed to before when that was a different one
    /// (the tag moved); the same push asked again gets the same answer. A push older than what the tag already records does not move it back
    /// (events arrive out of order); it is only kept in the history.
    pub fn point_tag(&self, registry: &str, push: &Push) -> Result<Option<String>, DbError> {
        let Some(tag) = push.tag.as_deref() else {
            return Ok(None);
        };
        let tx = self.conn.unchecked_transaction().map_err(|e| self.sql(e))?;
        // This push seen before (a retry after a crash, a replay): the same answer as then.
        let seen: Option<Option<String>> = tx
            .query_row(
                "SELECT moved_from FROM image_tag_history WHERE event_id = ?1 AND tag = ?2",
                params![push.event_id, tag],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        if let Some(moved) = seen {
            return Ok(moved);
        }
        let before: Option<(String, i64)> = tx
            .query_row(
                "SELECT digest, at_ns FROM image_tags WHERE registry = ?1 AND repository = ?2 AND tag = ?3",
                params![registry, push.repository, tag],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        let moved = match &before {
            Some((_, at)) if *at > push.time_ns => None,
            Some((d, _)) if *d != push.digest => Some(d.clone()),
            _ => None,
        };
        tx.execute(
            "INSERT INTO image_tag_history(registry, repository, tag, digest, at_ns, pusher, event_id, moved_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![registry, push.repository, tag, push.digest, push.time_ns, push.pusher, push.event_id, moved],
        )
        .map_err(|e| self.sql(e))?;
        if before.as_ref().is_none_or(|(_, at)| *at <= push.time_ns) {
            tx.execute(
                "INSERT INTO image_tags(registry, repository, tag, digest, at_ns, pusher) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(registry, repository, tag) DO UPDATE SET digest = ?4, at_ns = ?5, pusher = ?6",
                params![registry, push.repository, tag, push.digest, push.time_ns, push.pusher],
            )
            .map_err(|e| self.sql(e))?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(moved)
    }

    /// The tags that point at `digest` now, as `repository:tag`.
    pub fn tags_of(&self, digest: &str) -> Result<Vec<String>, DbError> {
        let mut st = self
            .conn
            .prepare("SELECT repository || ':' || tag FROM image_tags WHERE digest = ?1 ORDER BY 1")
            .map_err(|e| self.sql(e))?;
        let rows = st
            .query_map([digest], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }
}

/// What the image supply chain keeps, whatever the database: the scan queue, scans and SBOMs
/// by digest, and where tags point. [`ImageDb`] (SQLite) implements it; so does the PostgreSQL
/// store, and both pass the same checks ([`contract`]).
pub trait ImageResults: Send {
    /// Records a push to scan; `false` when it was recorded before: the same event (a replay,
    /// another worker), or the same push told the other way (CloudTrail and EventBridge both
    /// tell of it, with different ids: same account, region, repository, tag and digest within
    /// ten minutes). When CloudTrail's telling comes while EventBridge's still waits, the
    /// waiting one gains its pusher.
    fn enqueue(&self, push: &Push) -> Result<bool, DbError>;
    /// Up to `limit` pending pushes, oldest first, for this worker to scan: on a shared store
    /// they are claimed until [`ImageResults::finish`]ed or until the claim runs out.
    fn pending(&self, limit: usize) -> Result<Vec<Queued>, DbError>;
    /// How many pushes wait.
    fn depth(&self) -> Result<u64, DbError>;
    /// Marks a push `done`, or (with an error) counts a failed attempt; after `max_attempts`
    /// it is `failed` and leaves the queue (the error kept).
    fn finish(&self, seq: i64, error: Option<&str>, max_attempts: u32) -> Result<(), DbError>;
    /// The stored scan of `digest`.
    fn scan(&self, digest: &str) -> Result<Option<Summary>, DbError>;
    /// Stores a scan (a newer one of the same digest replaces it).
    fn put_scan(&self, s: &Summary) -> Result<(), DbError>;
    /// Stores an image's software bill of materials (CycloneDX JSON).
    fn put_sbom(&self, digest: &str, cyclonedx: &str) -> Result<(), DbError>;
    /// An image's software bill of materials (CycloneDX JSON), when one was stored.
    fn sbom(&self, digest: &str) -> Result<Option<String>, DbError>;
    /// Every stored scan, newest first, at most `limit`.
    fn scans(&self, limit: usize) -> Result<Vec<Summary>, DbError>;
    /// Points `tag` of `registry/repository` at `push`'s digest and records it in the tag's
    /// history. Returns the digest the tag pointed to before when that was a different one
    /// (the tag moved); the same push asked again gets the same answer. A push older than what
    /// the tag already records does not move it back (events arrive out of order); it is only
    /// kept in the history.
    fn point_tag(&self, registry: &str, push: &Push) -> Result<Option<String>, DbError>;
    /// The tags that point at `digest` now, as `repository:tag`, sorted.
    fn tags_of(&self, digest: &str) -> Result<Vec<String>, DbError>;
    /// [`ImageResults::tags_of`] for each of `digests` (a page of images), by digest; a digest
    /// no tag points at is left out. A networked backend answers in one query.
    fn tags_of_each(
        &self,
        digests: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, DbError> {
        let mut out = std::collections::BTreeMap::new();
        for d in digests {
            let tags = self.tags_of(d)?;
            if !tags.is_empty() {
                out.insert(d.to_string(), tags);
            }
        }
        Ok(out)
    }
}

impl ImageResults for ImageDb {
    fn enqueue(&self, push: &Push) -> Result<bool, DbError> {
        ImageDb::enqueue(self, push)
    }
    fn pending(&self, limit: usize) -> Result<Vec<Queued>, DbError> {
        ImageDb::pending(self, limit)
    }
    fn depth(&self) -> Result<u64, DbError> {
        ImageDb::depth(self)
    }
    fn finish(&self, seq: i64, error: Option<&str>, max_attempts: u32) -> Result<(), DbError> {
        ImageDb::finish(self, seq, error, max_attempts)
    }
    fn scan(&self, digest: &str) -> Result<Option<Summary>, DbError> {
        ImageDb::scan(self, digest)
    }
    fn put_scan(&self, s: &Summary) -> Result<(), DbError> {
        ImageDb::put_scan(self, s)
    }
    fn put_sbom(&self, digest: &str, cyclonedx: &str) -> Result<(), DbError> {
        ImageDb::put_sbom(self, digest, cyclonedx)
    }
    fn sbom(&self, digest: &str) -> Result<Option<String>, DbError> {
        ImageDb::sbom(self, digest)
    }
    fn scans(&self, limit: usize) -> Result<Vec<Summary>, DbError> {
        ImageDb::scans(self, limit)
    }
    fn point_tag(&self, registry: &str, push: &Push) -> Result<Option<String>, DbError> {
        ImageDb::point_tag(self, registry, push)
    }
    fn tags_of(&self, digest: &str) -> Result<Vec<String>, DbError> {
        ImageDb::tags_of(self, digest)
    }
}

#[path = "results_contract.rs"]
pub mod contract;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_meets_the_image_results_contract() {
        let d = tempfile::tempdir().unwrap();
        let mut n = 0;
        contract::run_all(&mut || {
            n += 1;
            Box::new(ImageDb::open(&d.path().join(format!("i{n}.db"))).unwrap())
        });
        assert_eq!(n, 3, "every check ran on a fresh database");
    }

    #[test]
    fn the_queue_survives_a_reopen() {
        let d = tempfile::tempdir().unwrap();
        let db = ImageDb::open(&d.path().join("images.db")).unwrap();
        assert!(db.enqueue(&contract::push("b", 'b', 2)).unwrap());
        drop(db);
        let db = ImageDb::open(&d.path().join("images.db")).unwrap();
        assert!(!db.enqueue(&contract::push("b", 'b', 2)).unwrap());
        assert_eq!(db.depth().unwrap(), 1);
    }
}
