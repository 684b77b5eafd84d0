//! `harrier posture ...`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use harrier_posture::{report, Severity, Snapshot, Status};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PostureFormat {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
pub enum PostureCommand {
    /// Evaluate a snapshot: pass, fail or unknown per check and resource, with fixes and scores.
    Evaluate {
        /// Snapshot file (from `posture collect` or `posture import`).
        snapshot: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PostureFormat::Table)]
        format: PostureFormat,
        /// Evaluate as of this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
        /// Exit with 1 when a check of at least this severity fails.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
    },
    /// Pass/fail/unknown per requirement of a framework (cis-5.0, pci-4.0, nist-800-53-r5,
    /// nist-800-53-r4, soc2).
    Report {
        /// Snapshot file.
        snapshot: PathBuf,
        /// Framework id.
        #[arg(long, default_value = "cis-5.0")]
        framework: String,
        /// Evaluate as of this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
    },
    /// Build a snapshot from a directory of AWS CLI outputs (`<region>/<service>-<call>.json`).
    Import {
        /// The directory.
        dir: PathBuf,
        /// Snapshot file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// List every check with its severity, frameworks and fix.
    Checks,
}

fn now_secs(now: &Option<String>) -> Result<i64> {
    match now {
        Some(t) => harrier_events::time::parse_rfc3339(t)
            .map(|ns| ns / 1_000_000_000)
            .context("--now: expected an RFC 3339 time"),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)),
    }
}

pub fn run(cmd: PostureCommand) -> Result<ExitCode> {
    match cmd {
        PostureCommand::Evaluate {
            snapshot,
            format,
            now,
            fail_on,
        } => {
            let snap = Snapshot::load(&snapshot)?;
            let findings = harrier_posture::evaluate(&snap, now_secs(&now)?);
            match format {
                PostureFormat::Table => print!(
                    "{}",
                    report::table(&findings, std::io::stdout().is_terminal())
                ),
                PostureFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report::json(&findings))?
                ),
                PostureFormat::Csv => print!("{}", report::csv(&findings)),
            }
            let failed = fail_on.is_some_and(|min| {
                findings.iter().any(|f| {
                    f.status == Status::Fail
                        && harrier_posture::check(f.check).is_some_and(|c| c.severity <= min)
                })
            });
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        PostureCommand::Report {
            snapshot,
            framework,
            now,
        } => {
            if !harrier_posture::frameworks::FRAMEWORKS
                .iter()
                .any(|(id, _)| *id == framework)
            {
                bail!("unknown framework '{framework}': expected cis-5.0, pci-4.0, nist-800-53-r5, nist-800-53-r4 or soc2");
            }
            let snap = Snapshot::load(&snapshot)?;
            let findings = harrier_posture::evaluate(&snap, now_secs(&now)?);
            print!("{}", report::framework_report(&findings, &framework));
            Ok(ExitCode::SUCCESS)
        }
        PostureCommand::Import { dir, output } => {
            let snap = Snapshot::import_cli_dir(&dir)?;
            snap.save(&output)?;
            let docs: usize = snap.regions.values().map(|r| r.len()).sum();
            eprintln!(
                "harrier: {docs} documents from {} region(s) written to {}",
                snap.regions.len(),
                output.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PostureCommand::Checks => {
            for c in harrier_posture::checks::ALL.iter() {
                let cis = c
                    .frameworks()
                    .iter()
                    .find(|(f, _)| *f == "cis-5.0")
                    .map(|(_, i)| i.join(","))
                    .unwrap_or_default();
                println!(
                    "{:<40} {:<8} {:<10} CIS {:<10} {}",
                    c.id,
                    c.severity.as_str(),
                    c.service,
                    cis,
                    c.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
