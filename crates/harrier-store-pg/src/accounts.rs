//! The console's users and sessions on PostgreSQL (schema version 7), so that consoles on
//! several workers behind one load balancer share their logins: a session started on one is
//! valid on every other, and a new password ends the user's sessions everywhere. The same rows
//! as `console.db` (`harrier_console::SqliteAccounts`).

use harrier_console::accounts::{Accounts, AccountsError, SessionRow};
use harrier_events::time::now_ns;

use crate::{PgStore, SERVER_NOW_NS};

/// Version 7: the console's users and sessions.
pub(crate) const SCHEMA_V7: &str = "
CREATE TABLE IF NOT EXISTS console_users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_ns BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS console_sessions (
    token_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    seen_ns BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions(username);
CREATE INDEX IF NOT EXISTS console_sessions_seen ON console_sessions(seen_ns);
";

impl PgStore {
    fn accounts_err(&self, e: postgres::Error) -> AccountsError {
        AccountsError {
            place: self.shown.clone(),
            source: Box::new(e),
        }
    }

    fn accounts<T>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, AccountsError> {
        self.with(f).map_err(|e| AccountsError {
            place: e.path,
            source: e.source,
        })
    }
}

impl Accounts for PgStore {
    fn add_first_user(
        &mut self,
        name: &str,
        role: &str,
        hash: &str,
    ) -> Result<bool, AccountsError> {
        // Workers starting together both find no user: the primary key lets one insert.
        self.accounts(|c| {
            c.execute(
                "INSERT INTO console_users (name, role, hash, created_ns) \
                 SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM console_users) \
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &role, &hash, &now_ns()],
            )
        })
        .map(|n| n == 1)
    }

    fn put_user(&mut self, name: &str, role: &str, hash: &str) -> Result<(), AccountsError> {
        let r = (|| {
            let mut tx = self.client_mut().transaction()?;
            tx.execute(
                "INSERT INTO console_users (name, role, hash, created_ns) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET role = $2, hash = $3",
                &[&name, &role, &hash, &now_ns()],
            )?;
            tx.execute("DELETE FROM console_sessions WHERE username = $1", &[&name])?;
            tx.commit()
        })();
        r.map_err(|e| self.accounts_err(e))
    }

    fn users(&mut self) -> Result<Vec<(String, String)>, AccountsError> {
        self.accounts(|c| {
            Ok(
                c.query("SELECT name, role FROM console_users ORDER BY name", &[])?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect(),
            )
        })
    }

    fn password_hash(&mut self, name: &str) -> Result<Option<String>, AccountsError> {
        self.accounts(|c| {
            Ok(
                c.query_opt("SELECT hash FROM console_users WHERE name = $1", &[&name])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn start_session(
        &mut self,
        key: &str,
        user: &str,
        csrf: &str,
        idle_ns: i64,
    ) -> Result<(), AccountsError> {
        // The server's clock, one for every worker.
        self.accounts(|c| {
            c.execute(
                &format!("DELETE FROM console_sessions WHERE seen_ns < {SERVER_NOW_NS} - $1"),
                &[&idle_ns],
            )?;
            c.execute(
                &format!(
                    "INSERT INTO console_sessions (token_sha256, username, csrf, seen_ns) \
                     VALUES ($1, $2, $3, {SERVER_NOW_NS})"
                ),
                &[&key, &user, &csrf],
            )?;
            Ok(())
        })
    }

    fn session(
        &mut self,
        key: &str,
        idle_ns: i64,
        touch_ns: i64,
    ) -> Result<Option<(SessionRow, String)>, AccountsError> {
        self.accounts(|c| {
            let found = c
                .query_opt(
                    &format!(
                        "SELECT s.username, s.csrf, s.seen_ns, u.role, {SERVER_NOW_NS} \
                         FROM console_sessions s JOIN console_users u ON u.name = s.username \
                         WHERE s.token_sha256 = $1 AND s.seen_ns >= {SERVER_NOW_NS} - $2"
                    ),
                    &[&key, &idle_ns],
                )?
                .map(|r| {
                    let now: i64 = r.get(4);
                    (
                        SessionRow {
                            key: key.to_string(),
                            user: r.get(0),
                            csrf: r.get(1),
                            seen_ns: r.get(2),
                        },
                        r.get::<_, String>(3),
                        now,
                    )
                });
            let Some((row, role, now)) = found else {
                return Ok(None);
            };
            if now - row.seen_ns > touch_ns {
                c.execute(
                    &format!(
                        "UPDATE console_sessions SET seen_ns = GREATEST(seen_ns, {SERVER_NOW_NS}) \
                         WHERE token_sha256 = $1"
                    ),
                    &[&key],
                )?;
            }
            Ok(Some((row, role)))
        })
    }

    fn end_session(&mut self, key: &str) -> Result<(), AccountsError> {
        self.accounts(|c| {
            c.execute(
                "DELETE FROM console_sessions WHERE token_sha256 = $1",
                &[&key],
            )
            .map(|_| ())
        })
    }
}
