//! Where the console keeps its users and sessions ([`Accounts`]): `console.db` in the state
//! directory on one machine ([`SqliteAccounts`]), or the PostgreSQL store every worker shares,
//! so a session started on one worker's console is valid on every other's (behind one load
//! balancer).
//!
//! The store holds rows only: password hashes are made and checked, and session tokens hashed,
//! by [`crate::Auth`]. Sessions are keyed by the SHA-256 of their token, never the token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

/// A failure of the accounts' store, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("console accounts in {place}: {source}")]
pub struct AccountsError {
    /// The database (a path, or a connection string without its password).
    pub place: String,
    /// What it said.
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session's token, hex.
    pub key: String,
    /// Its user.
    pub user: String,
    /// Its CSRF token.
    pub csrf: String,
    /// Last seen, ns since the epoch.
    pub seen_ns: i64,
}

/// Users (name, role, argon2 hash) and sessions.
pub trait Accounts: Send {
    /// Creates user `name` with `role` and `hash` only when there is no user at all; false
    /// when there was one (several workers starting together create one first admin).
    fn add_first_user(&mut self, name: &str, role: &str, hash: &str)
        -> Result<bool, AccountsError>;
    /// Adds a user, or replaces its role and hash; ends the user's sessions in the same
    /// transaction (a new password ends a stolen session).
    fn put_user(&mut self, name: &str, role: &str, hash: &str) -> Result<(), AccountsError>;
    /// Every user as `(name, role)`, by name.
    fn users(&mut self) -> Result<Vec<(String, String)>, AccountsError>;
    /// The password hash of `name`.
    fn password_hash(&mut self, name: &str) -> Result<Option<String>, AccountsError>;
    /// Stores a new session, seen now by the store's clock; drops the sessions idle for more
    /// than `idle_ns` by that clock.
    fn start_session(
        &mut self,
        key: &str,
        user: &str,
        csrf: &str,
        idle_ns: i64,
    ) -> Result<(), AccountsError>;
    /// The session keyed `key`, when it was seen within `idle_ns` by the store's clock, with
    /// its user's role, and marked seen now when it was last marked more than `touch_ns` ago
    /// (reading pages does not write on every request). One clock decides for every worker
    /// sharing the store, whatever theirs say.
    fn session(
        &mut self,
        key: &str,
        idle_ns: i64,
        touch_ns: i64,
    ) -> Result<Option<(SessionRow, String)>, AccountsError>;
    /// Ends session `key`.
    fn end_session(&mut self, key: &str) -> Result<(), AccountsError>;
}

/// The accounts in `console.db` in a state directory.
pub struct SqliteAccounts {
    path: PathBuf,
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    csrf TEXT NOT NULL,
    seen_ns INTEGER NOT NULL
);
";

impl SqliteAccounts {
    /// Opens (creating) the file at `path` (`console.db` in the state directory).
    pub fn open(path: &Path) -> Result<SqliteAccounts, AccountsError> {
        let path = path.to_path_buf();
        let err = |e: rusqlite::Error| AccountsError {
            place: path.display().to_string(),
            source: Box::new(e),
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteAccounts { path, conn })
    }

    fn err(&self, e: rusqlite::Error) -> AccountsError {
        AccountsError {
            place: self.path.display().to_string(),
            source: Box::new(e),
        }
    }
}

fn now_ns() -> i64 {
    harrier_events::time::now_ns()
}

impl Accounts for SqliteAccounts {
    fn add_first_user(
        &mut self,
        name: &str,
        role: &str,
        hash: &str,
    ) -> Result<bool, AccountsError> {
        let n = self
            .conn
            .execute(
                "INSERT INTO users (name, role, hash, created_ns) SELECT ?1, ?2, ?3, ?4 \
                 WHERE NOT EXISTS (SELECT 1 FROM users) ON CONFLICT(name) DO NOTHING",
                params![name, role, hash, now_ns()],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    fn put_user(&mut self, name: &str, role: &str, hash: &str) -> Result<(), AccountsError> {
        let tx = self.conn.transaction().map_err(|e| AccountsError {
            place: self.path.display().to_string(),
            source: Box::new(e),
        })?;
        let r = (|| {
            tx.execute(
                "INSERT INTO users (name, role, hash, created_ns) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(name) DO UPDATE SET role = ?2, hash = ?3",
                params![name, role, hash, now_ns()],
            )?;
            tx.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
            tx.commit()
        })();
        r.map_err(|e| self.err(e))
    }

    fn users(&mut self) -> Result<Vec<(String, String)>, AccountsError> {
        let r = (|| {
            let mut stmt = self
                .conn
                .prepare("SELECT name, role FROM users ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<Vec<_>, _>>()
        })();
        r.map_err(|e| self.err(e))
    }

    fn password_hash(&mut self, name: &str) -> Result<Option<String>, AccountsError> {
        self.conn
            .query_row(
                "SELECT hash FROM users WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn start_session(
        &mut self,
        key: &str,
        user: &str,
        csrf: &str,
        idle_ns: i64,
    ) -> Result<(), AccountsError> {
        let now = now_ns();
        let r = (|| {
            self.conn.execute(
                "DELETE FROM sessions WHERE seen_ns < ?1",
                params![now.saturating_sub(idle_ns)],
            )?;
            self.conn.execute(
                "INSERT INTO sessions (token_sha256, user, csrf, seen_ns) VALUES (?1, ?2, ?3, ?4)",
                params![key, user, csrf, now],
            )
        })();
        r.map(|_| ()).map_err(|e| self.err(e))
    }

    fn session(
        &mut self,
        key: &str,
        idle_ns: i64,
        touch_ns: i64,
    ) -> Result<Option<(SessionRow, String)>, AccountsError> {
        let now = now_ns();
        let found = self
            .conn
            .query_row(
                "SELECT s.user, s.csrf, s.seen_ns, u.role FROM sessions s \
                 JOIN users u ON u.name = s.user WHERE s.token_sha256 = ?1 AND s.seen_ns >= ?2",
                params![key, now.saturating_sub(idle_ns)],
                |r| {
                    Ok((
                        SessionRow {
                            key: key.to_string(),
                            user: r.get(0)?,
                            csrf: r.get(1)?,
                            seen_ns: r.get(2)?,
                        },
                        r.get(3)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if let Some((row, _)) = &found {
            if now - row.seen_ns > touch_ns {
                self.conn
                    .execute(
                        "UPDATE sessions SET seen_ns = ?2 WHERE token_sha256 = ?1",
                        params![key, now],
                    )
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(found)
    }

    fn end_session(&mut self, key: &str) -> Result<(), AccountsError> {
        self.conn
            .execute("DELETE FROM sessions WHERE token_sha256 = ?1", params![key])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// The checks every [`Accounts`] passes (SQLite here, PostgreSQL in `harrier-store-pg`'s
/// tests): `fresh` opens an empty one.
pub mod contract {
    use super::Accounts;

    /// Runs every check on accounts from `fresh` (each call: another connection to the same
    /// empty database).
    pub fn check(fresh: &dyn Fn() -> Box<dyn Accounts>) {
        let mut a = fresh();
        let mut b = fresh();
        // One first admin, whoever asks first.
        assert!(a.add_first_user("admin", "admin", "h1").unwrap());
        assert!(!b.add_first_user("admin", "admin", "h2").unwrap());
        assert!(!b.add_first_user("other", "admin", "h3").unwrap());
        assert_eq!(b.password_hash("admin").unwrap().as_deref(), Some("h1"));
        assert_eq!(b.password_hash("nobody").unwrap(), None);
        // A session started on one connection is seen on the other.
        const HOUR: i64 = 3_600_000_000_000;
        a.start_session("k1", "admin", "c1", HOUR).unwrap();
        let (s1, role) = b.session("k1", HOUR, HOUR).unwrap().unwrap();
        assert_eq!(
            (s1.user.as_str(), s1.csrf.as_str(), role.as_str()),
            ("admin", "c1", "admin")
        );
        // Idle for longer than asked: not found (the near miss), and a session starting
        // drops it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(b.session("k1", 1_000_000, HOUR).unwrap().is_none(), "idle");
        let seen = a.session("k1", HOUR, HOUR).unwrap().unwrap().0.seen_ns;
        assert_eq!(seen, s1.seen_ns, "not marked seen within touch_ns");
        // Marked seen again once touch_ns has passed.
        let touched = a.session("k1", HOUR, 1).unwrap().unwrap().0.seen_ns;
        assert_eq!(touched, s1.seen_ns, "returned as it was before this visit");
        let after = a.session("k1", HOUR, HOUR).unwrap().unwrap().0.seen_ns;
        assert!(after > s1.seen_ns, "and marked seen now");
        std::thread::sleep(std::time::Duration::from_millis(20));
        a.start_session("k2", "admin", "c2", 1_000_000).unwrap();
        assert!(b.session("k1", HOUR, HOUR).unwrap().is_none(), "dropped");
        // A new password ends the user's sessions; other users keep theirs.
        b.put_user("bob", "viewer", "hb").unwrap();
        b.start_session("k3", "bob", "c3", HOUR).unwrap();
        a.put_user("admin", "admin", "h9").unwrap();
        assert!(
            b.session("k2", HOUR, HOUR).unwrap().is_none(),
            "ended by the new password"
        );
        assert_eq!(
            b.session("k3", HOUR, HOUR)
                .unwrap()
                .map(|(_, role)| role)
                .as_deref(),
            Some("viewer")
        );
        assert_eq!(
            a.users().unwrap(),
            [
                ("admin".into(), "admin".into()),
                ("bob".into(), "viewer".into())
            ]
        );
        b.end_session("k3").unwrap();
        assert!(a.session("k3", HOUR, HOUR).unwrap().is_none());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_accounts_pass_the_contract() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().to_path_buf();
        super::contract::check(&|| {
            Box::new(super::SqliteAccounts::open(&p.join("console.db")).unwrap())
        });
    }
}
