//! Where Harrier keeps its state on one machine: the alert store, the posture history and the
//! vulnerability database live in one directory.

use std::path::{Path, PathBuf};

/// The state directory could not be found or made.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    /// Neither a directory, `XDG_STATE_HOME` nor `HOME` was given.
    #[error("HOME is not set: pass --state-dir")]
    NoHome,
    /// Creating the directory failed.
    #[error("cannot create state directory {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}

/// The state directory: `dir` if given, else `$XDG_STATE_HOME/harrier`, else
/// `~/.local/state/harrier`; created if missing.
pub fn state_dir(dir: Option<&Path>) -> Result<PathBuf, StateDirError> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("harrier"),
            None => PathBuf::from(std::env::var_os("HOME").ok_or(StateDirError::NoHome)?)
                .join(".local/state/harrier"),
        },
    };
    std::fs::create_dir_all(&dir).map_err(|source| StateDirError::Create {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

/// The alert store's file in a state directory.
pub fn alert_store_path(state_dir: &Path) -> PathBuf {
    state_dir.join("alerts.db")
}
