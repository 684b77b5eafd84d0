//! `harrier store`: the shared PostgreSQL store's schema, checked or migrated.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Say what the database holds (schema version, alerts, what each output has not
    /// delivered) without changing it. Exit 0 when this build can use it as it is, 1 when it
    /// needs `store migrate`, 2 when its schema is newer than this build or it cannot be read.
    Check {
        /// `postgres://user@host:port/db` (or HARRIER_STORE_URL, which keeps a password out
        /// of the process list).
        #[arg(long)]
        url: Option<String>,
    },
    /// Bring the database's schema to this build's (once, however many workers run it).
    Migrate {
        /// As for `check`.
        #[arg(long)]
        url: Option<String>,
    },
}

fn url(given: Option<String>) -> Result<String> {
    match given.or_else(|| std::env::var("HARRIER_STORE_URL").ok()) {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") || u.contains("host=") => Ok(u),
        Some(_) => bail!("the store URL must be a PostgreSQL one (postgres://...); the SQLite store needs no migration"),
        None => bail!("give --url postgres://... or set HARRIER_STORE_URL"),
    }
}

pub fn run(cmd: StoreCommand) -> Result<ExitCode> {
    match cmd {
        StoreCommand::Check { url: u } => {
            let st = harrier_store_pg::inspect(&url(u)?)?;
            println!(
                "{}: schema version {} (this build: {}), {} alert(s)",
                st.shown,
                st.schema,
                harrier_store_pg::SCHEMA_VERSION,
                st.alerts
            );
            for (o, n) in &st.behind {
                if harrier_alerts::store::is_output(o) {
                    println!("  output {o}: {n} alert(s) not delivered yet");
                } else if o == "~posture" {
                    println!("  continuous posture: {n} change(s) not re-checked yet");
                } else {
                    println!("  incident correlation: {n} alert(s) not correlated yet");
                }
            }
            Ok(match st.current() {
                Some(true) => ExitCode::SUCCESS,
                Some(false) => {
                    println!("needs `harrier store migrate`");
                    ExitCode::from(1)
                }
                None => {
                    println!("its schema is newer than this Harrier's: upgrade Harrier");
                    ExitCode::from(2)
                }
            })
        }
        StoreCommand::Migrate { url: u } => {
            let mut st = harrier_store_pg::PgStore::connect(&url(u)?)?;
            println!("schema version {}", st.schema_version()?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
