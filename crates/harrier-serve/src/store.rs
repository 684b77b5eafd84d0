//! Which alert store the service writes: SQLite in the state directory (one machine), or a
//! PostgreSQL server that several workers share (crate harrier-store-pg).

use std::path::{Path, PathBuf};

use harrier_alerts::store::{AlertStore, Store, StoreError};
use harrier_posture::history::{History, HistoryError, PostureHistory};
use harrier_supply::results::{DbError, ImageDb, ImageResults};

/// Where one of the service's other stores is (the posture history, the image results): a file
/// in the state directory beside the SQLite alert store, or the shared PostgreSQL store (every
/// worker's in one place).
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (with its password; never shown).
    Postgres(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            Location::Postgres(url) => write!(f, "Postgres({})", harrier_store_pg::shown(url)),
        }
    }
}

impl Location {
    /// Opens a connection to the posture history.
    pub fn open_history(&self) -> Result<Box<dyn PostureHistory>, HistoryError> {
        Ok(match self {
            Location::Sqlite(p) => Box::new(History::open(p)?),
            Location::Postgres(url) => Box::new(
                harrier_store_pg::PgStore::connect(url)
                    .map_err(|e| HistoryError::new(harrier_store_pg::shown(url), e))?,
            ),
        })
    }

    /// Opens a connection to the console's users and sessions.
    pub fn open_accounts(
        &self,
    ) -> Result<Box<dyn harrier_console::Accounts>, harrier_console::accounts::AccountsError> {
        Ok(match self {
            Location::Sqlite(p) => Box::new(harrier_console::SqliteAccounts::open(p)?),
            Location::Postgres(url) => {
                Box::new(harrier_store_pg::PgStore::connect(url).map_err(|e| {
                    harrier_console::accounts::AccountsError {
                        place: e.path,
                        source: e.source,
                    }
                })?)
            }
        })
    }

    /// Opens a connection to the image results.
    pub fn open_images(&self) -> Result<Box<dyn ImageResults>, DbError> {
        Ok(match self {
            Location::Sqlite(p) => Box::new(ImageDb::open(p)?),
            Location::Postgres(url) => Box::new(harrier_store_pg::PgStore::connect(url).map_err(
                |e| DbError::Backend {
                    path: e.path,
                    source: e.source,
                },
            )?),
        })
    }
}

/// Where the alert store is.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (with its password; never shown).
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            StoreLocation::Postgres(_) => write!(f, "Postgres({})", self.shown()),
        }
    }
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
    pub fn history(&self, state_dir: &Path) -> Location {
        self.beside(state_dir, "posture.db")
    }

    /// Where image results go with this store (`images.db` in `state_dir` with SQLite).
    pub fn images(&self, state_dir: &Path) -> Location {
        self.beside(state_dir, "images.db")
    }

    /// Where the console's users and sessions go with this store (`console.db` in `state_dir`
    /// with SQLite).
    pub fn accounts(&self, state_dir: &Path) -> Location {
        self.beside(state_dir, "console.db")
    }

    /// The shared store itself, or the file `name` in `state_dir` with SQLite.
    fn beside(&self, state_dir: &Path, name: &str) -> Location {
        match self {
            StoreLocation::Postgres(url) => Location::Postgres(url.clone()),
            StoreLocation::Sqlite(_) => Location::Sqlite(state_dir.join(name)),
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
        assert!(!format!("{pg:?}").contains("s3cret"), "{pg:?}");
        let side = pg.images(d);
        assert!(!format!("{side:?}").contains("s3cret"), "{side:?}");
        assert_eq!(
            StoreLocation::of(None, d).history(d),
            Location::Sqlite(d.join("posture.db"))
        );
    }
}
