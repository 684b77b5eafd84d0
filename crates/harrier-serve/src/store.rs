//! Which alert store the service writes: SQLite in the state directory (one machine), or a
//! PostgreSQL server that several workers share (crate harrier-store-pg).

use std::path::{Path, PathBuf};

use harrier_alerts::store::{AlertStore, Store, StoreError};
use harrier_posture::history::{History, HistoryError, PostureHistory};
use harrier_supply::results::{DbError, ImageDb, ImageResults};

/// Where image results are: `images.db` in the state directory, or the shared PostgreSQL store
/// (one scan queue and one set of scans for every worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagesLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (with its password; never shown).
    Postgres(String),
}

impl ImagesLocation {
    /// Opens a connection.
    pub fn open(&self) -> Result<Box<dyn ImageResults>, DbError> {
        Ok(match self {
            ImagesLocation::Sqlite(p) => Box::new(ImageDb::open(p)?),
            ImagesLocation::Postgres(url) => Box::new(
                harrier_store_pg::PgStore::connect(url).map_err(|e| DbError::Backend {
                    path: e.path,
                    source: e.source,
                })?,
            ),
        })
    }
}

/// Where the posture history is: `posture.db` in the state directory beside the SQLite alert
/// store, or the shared PostgreSQL store (every worker's scans in one history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (with its password; never shown).
    Postgres(String),
}

impl HistoryLocation {
    /// Opens a connection.
    pub fn open(&self) -> Result<Box<dyn PostureHistory>, HistoryError> {
        Ok(match self {
            HistoryLocation::Sqlite(p) => Box::new(History::open(p)?),
            HistoryLocation::Postgres(url) => Box::new(
                harrier_store_pg::PgStore::connect(url)
                    .map_err(|e| HistoryError::new(harrier_store_pg::shown(url), e))?,
            ),
        })
    }
}

/// Where the alert store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (with its password; never shown).
    Postgres(String),
}

impl StoreLocation {
    /// The location `store:` names (`None`: `alerts.db` in `state_dir`).
    pub fn of(store: Option<&str>, state_dir: &Path) -> StoreLocation {
        match store {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                StoreLocation::Postgres(s.to_string())
            }
            Some(s) if s.starts_with("sqlite://") => {
                StoreLocation::Sqlite(PathBuf::from(&s["sqlite://".len()..]))
            }
            _ => StoreLocation::Sqlite(harrier_alerts::state::alert_store_path(state_dir)),
        }
    }

    /// Opens a connection (each thread of the service has its own).
    pub fn open(&self) -> Result<Box<dyn AlertStore>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(Store::open(p)?),
            StoreLocation::Postgres(url) => Box::new(harrier_store_pg::PgStore::connect(url)?),
        })
    }

    /// Where the posture history goes with this store (`posture.db` in `state_dir` with
    /// SQLite).
    pub fn history(&self, state_dir: &Path) -> HistoryLocation {
        match self {
            StoreLocation::Postgres(url) => HistoryLocation::Postgres(url.clone()),
            StoreLocation::Sqlite(_) => HistoryLocation::Sqlite(state_dir.join("posture.db")),
        }
    }

    /// Where image results go with this store (`images.db` in `state_dir` with SQLite).
    pub fn images(&self, state_dir: &Path) -> ImagesLocation {
        match self {
            StoreLocation::Postgres(url) => ImagesLocation::Postgres(url.clone()),
            StoreLocation::Sqlite(_) => ImagesLocation::Sqlite(state_dir.join("images.db")),
        }
    }

    /// The PostgreSQL connection string, when the store is shared.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            StoreLocation::Postgres(url) => Some(url),
            StoreLocation::Sqlite(_) => None,
        }
    }

    /// The store as messages name it (no password).
    pub fn shown(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => p.display().to_string(),
            StoreLocation::Postgres(url) => harrier_store_pg::shown(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names_pick_the_backend() {
        let d = Path::new("/var/lib/harrier");
        assert_eq!(
            StoreLocation::of(None, d),
            StoreLocation::Sqlite(d.join("alerts.db"))
        );
        assert_eq!(
            StoreLocation::of(Some("sqlite:///tmp/a.db"), d),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        let pg = StoreLocation::of(Some("postgres://h:s3cret@db:5432/harrier"), d);
        assert!(matches!(pg, StoreLocation::Postgres(_)));
        assert!(!pg.shown().contains("s3cret"), "{}", pg.shown());
    }
}
