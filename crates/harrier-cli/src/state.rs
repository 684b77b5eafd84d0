//! The state directory and the alert store of a command.

use std::path::{Path, PathBuf};

use anyhow::Result;

/// The state directory (see [`harrier_alerts::state::state_dir`]).
pub fn state_dir(dir: Option<&Path>) -> Result<PathBuf> {
    Ok(harrier_alerts::state::state_dir(dir)?)
}

/// The alert store in the state directory.
pub fn alert_store(dir: Option<&Path>) -> Result<harrier_alerts::store::Store> {
    let path = harrier_alerts::state::alert_store_path(&state_dir(dir)?);
    Ok(harrier_alerts::store::Store::open(&path)?)
}

/// The alert store of a command: the shared PostgreSQL store at `url` (the `store:` of `serve`
/// workers; default: $HARRIER_STORE_URL when set), else the one in the state directory.
pub fn any_alert_store(
    dir: Option<&Path>,
    url: Option<&str>,
) -> Result<Box<dyn harrier_alerts::store::AlertStore>> {
    let url = url
        .map(str::to_string)
        .or_else(|| std::env::var("HARRIER_STORE_URL").ok());
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Box::new(harrier_store_pg::PgStore::connect(&url)?))
        }
        Some(_) => anyhow::bail!("--store: expected postgres://user:password@host:port/db"),
        None => Ok(Box::new(alert_store(dir)?)),
    }
}

pub use harrier_events::time::{now_ns, parse_when};
