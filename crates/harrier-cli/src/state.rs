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

pub use harrier_events::time::{now_ns, parse_when};
