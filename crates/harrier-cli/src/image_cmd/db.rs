//! `harrier db ...`: the vulnerability database.

use std::process::ExitCode;

use anyhow::Result;

use harrier_image::vulndb::VulnDb;

use super::{db_path, DbCommand};

pub fn run_db(cmd: DbCommand) -> Result<ExitCode> {
    match cmd {
        DbCommand::Update {
            base_url,
            ecosystems,
            db,
            state_dir,
        } => {
            let dbp = db_path(db, state_dir.as_deref())?;
            let mut vdb = VulnDb::open(&dbp)?;
            let ecos: Vec<String> = if ecosystems.is_empty() {
                harrier_image::vulndb::DEFAULT_ECOSYSTEMS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ecosystems
            };
            let n = vdb.update(&base_url, &ecos, &mut |msg| {
                eprintln!("harrier: skipped {msg}")
            })?;
            eprintln!(
                "harrier: {} advisories imported; {} advisories in {}",
                n.records,
                vdb.count()?,
                dbp.display()
            );
            Ok(if n.skipped > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
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
