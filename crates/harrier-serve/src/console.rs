//! The console (crate harrier-console) inside the service: its listener, its first admin, its
//! worker threads.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use harrier_console::{Console, Options, RuleInfo, Stores};
use harrier_rules::RuleSet;

use crate::config::ConsoleConfig;
use crate::http::Listener;
use crate::store::StoreLocation;
use crate::ServeError;

/// Requests the console answers at once (a slow page does not hold up the others).
pub const CONSOLE_WORKERS: usize = 4;

/// Opens the console over the service's alert store `db` (and the posture history that goes
/// with it) and `state_dir`, and binds its listener; on a first start, creates the `admin` user
/// and prints its password once, on standard error (never to the log).
pub fn start(
    cfg: &ConsoleConfig,
    state_dir: &Path,
    db: &StoreLocation,
    rules: &RuleSet,
) -> Result<(Console, Listener), ServeError> {
    let read = |what: &str, p: &Path| {
        std::fs::read(p).map_err(|source| ServeError::File {
            what: format!("console {what}"),
            path: p.to_path_buf(),
            source,
        })
    };
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some((read("tls_cert", c)?, read("tls_key", k)?)),
        _ => None,
    };
    let (alerts, history, images) = (db.clone(), db.history(state_dir), db.images(state_dir));
    let accounts = db.accounts(state_dir);
    let stores = Stores {
        alerts: Arc::new(move || alerts.open()),
        history: Arc::new(move || history.open_history()),
        images: Arc::new(move || images.open_images()),
        accounts: Arc::new(move || accounts.open_accounts()),
    };
    let console = Console::new(Options {
        state_dir: state_dir.to_path_buf(),
        stores,
        token_file: cfg.token_file.clone(),
        https: tls.is_some(),
        rules: RuleInfo::of(rules),
    })
    .map_err(|e| ServeError::Conflict(format!("console: {e}")))?;
    let listener = Listener::bind(cfg.listen, tls, "console")?;
    // Users of this worker's own console.db are not carried into a shared store: said, so a
    // move to PostgreSQL does not leave them wondering why their logins stopped working.
    let local = state_dir.join("console.db");
    if db.postgres_url().is_some() && local.exists() {
        let users = harrier_console::SqliteAccounts::open(&local)
            .and_then(|mut a| harrier_console::Accounts::users(&mut a))
            .map(|u| u.len())
            .unwrap_or(0);
        if users > 0 {
            tracing::warn!(path = %local.display(), users, "console: the users of this state directory are not used with the shared store; add them again at /users");
            eprintln!(
                "harrier: console: the {users} user(s) in {} are not used with the shared store; add them again at {}/users",
                local.display(),
                listener.base_url()
            );
        }
    }
    if let Some(password) = console
        .auth()
        .first_admin()
        .map_err(|e| ServeError::Conflict(format!("console: {e}")))?
    {
        eprintln!(
            "harrier: console: created user \"admin\" with password {password} (shown only now; add users and change it at {}/users)",
            listener.base_url()
        );
    }
    tracing::info!(url = %listener.base_url(), "console: serving");
    eprintln!("harrier: console at {}", listener.base_url());
    Ok((console, listener))
}

/// Answers console requests on `listener` until `stop`.
pub fn serve(console: &Console, listener: &Listener, stop: &AtomicBool) {
    listener.serve_all(&mut |req| console.handle(req), stop);
}
