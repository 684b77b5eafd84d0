//! `harrier image` and `harrier db`: container image scanning and its vulnerability database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use harrier_image::layers::Limits;
use harrier_image::malware::Severity;
use harrier_image::vulndb::VulnDb;

use crate::state;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageFormat {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Scan an image: a `docker save` archive, an OCI layout (directory or tar), or a root
    /// filesystem (tar or directory). Exit 1 when --fail-on is met, 2 on broken or hostile input.
    Scan {
        /// The image.
        path: PathBuf,
        /// Vulnerability database (default: vulns.db in the state directory, if it exists).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ImageFormat::Table)]
        format: ImageFormat,
        /// Exit 1 when malware or a vulnerability at or above this severity is found.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
        /// State directory (default: $XDG_STATE_HOME/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Import OSV records (JSON files or directories of them) into the vulnerability database.
    Import {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The database (default: vulns.db in the state directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// State directory (default: $XDG_STATE_HOME/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

fn db_path(db: Option<PathBuf>, state_dir: Option<&std::path::Path>) -> Result<PathBuf> {
    Ok(match db {
        Some(p) => p,
        None => state::state_dir(state_dir)?.join("vulns.db"),
    })
}

pub fn run_image(cmd: ImageCommand) -> Result<ExitCode> {
    match cmd {
        ImageCommand::Scan {
            path,
            db,
            format,
            fail_on,
            state_dir,
        } => {
            let explicit = db.is_some();
            let dbp = db_path(db, state_dir.as_deref())?;
            let vdb = if explicit || dbp.exists() {
                Some(VulnDb::open(&dbp)?)
            } else {
                None
            };
            let report = harrier_image::scan::scan(&path, vdb.as_ref(), &Limits::default())
                .with_context(|| format!("cannot scan {}", path.display()))?;
            match format {
                ImageFormat::Table => print!("{}", report.table()),
                ImageFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&report.to_json())?)
                }
            }
            if fail_on.is_some_and(|s| report.fails(s)) {
                return Ok(ExitCode::from(1));
            }
            if !report.problems.is_empty() {
                eprintln!(
                    "harrier: {} problem(s) in the image; the entries were skipped",
                    report.problems.len()
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn run_db(cmd: DbCommand) -> Result<ExitCode> {
    match cmd {
        DbCommand::Import {
            paths,
            db,
            state_dir,
        } => {
            let dbp = db_path(db, state_dir.as_deref())?;
            let mut vdb = VulnDb::open(&dbp)?;
            let mut skipped = 0;
            for p in &paths {
                let n = vdb.import(p, &mut |msg| eprintln!("harrier: skipped {msg}"))?;
                skipped += n.skipped;
                eprintln!(
                    "harrier: {}: {} advisories imported",
                    p.display(),
                    n.records
                );
            }
            eprintln!("harrier: {} advisories in {}", vdb.count()?, dbp.display());
            Ok(if skipped > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
