//! `harrier posture ...`: the arguments, and the dispatch to harrier-posture.

mod org;
pub(crate) mod output;

use output::{exit_code, now_secs, print_findings, record};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};

use harrier_posture::history::{History, PostureHistory};
use harrier_posture::{report, Severity, Snapshot};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PostureFormat {
    Table,
    Json,
    Csv,
    /// One self-contained HTML file with the score over time.
    Html,
    /// OCSF Compliance Finding objects, one per line.
    Ocsf,
    /// AWS Security Finding Format: a JSON array for Security Hub's BatchImportFindings.
    Asff,
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
        /// Record this evaluation in the scan history (see `posture history`).
        #[arg(long)]
        record: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Read an account through the AWS API into a snapshot file.
    Collect {
        #[command(flatten)]
        aws: AwsArgs,
        /// Snapshot file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Collect, evaluate and record the scan in the history: `collect` + `evaluate --record`.
    Scan {
        #[command(flatten)]
        aws: AwsArgs,
        /// Also keep the snapshot in this file.
        #[arg(long)]
        snapshot: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PostureFormat::Table)]
        format: PostureFormat,
        /// Exit with 1 when a check of at least this severity fails.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
        /// Do not record the scan in the history.
        #[arg(long)]
        no_history: bool,
        /// Also import the findings into Security Hub (ASFF, BatchImportFindings) in the home
        /// region.
        #[arg(long)]
        send_security_hub: bool,
        #[command(flatten)]
        org: org::OrgArgs,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Scores of recorded scans over time, and what newly failed or got fixed since the
    /// previous scan.
    History {
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// How many scans to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        state: StateArgs,
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

/// Where the posture history lives.
#[derive(clap::Args, Clone, Debug)]
pub struct StateArgs {
    /// State directory (default: $XDG_STATE_HOME/harrier or ~/.local/state/harrier).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Keep the history in this shared PostgreSQL store (postgres://..., the `store:` of
    /// `serve` workers; default: $HARRIER_STORE_URL when set, else posture.db in the state
    /// directory).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

impl StateArgs {
    fn history(&self) -> Result<Box<dyn PostureHistory>> {
        let url = self
            .store
            .clone()
            .or_else(|| std::env::var("HARRIER_STORE_URL").ok());
        if let Some(url) = url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                anyhow::bail!("--store: expected postgres://user:password@host:port/db");
            }
            return Ok(Box::new(harrier_store_pg::PgStore::connect(&url)?));
        }
        let dir = crate::state::state_dir(self.state_dir.as_deref())?;
        Ok(Box::new(History::open(&dir.join("posture.db"))?))
    }
}

/// How to reach AWS.
#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// Named profile (default: the standard credential chain).
    #[arg(long)]
    pub(super) profile: Option<String>,
    /// Regions to read: `all` (every enabled region) or a comma-separated list.
    #[arg(long, default_value = "all")]
    pub(super) regions: String,
    /// Region for global services and region discovery (default: from the environment).
    #[arg(long)]
    pub(super) region: Option<String>,
    /// Endpoint URL for every service (moto, LocalStack); AWS_ENDPOINT_URL also works.
    #[arg(long)]
    pub(super) endpoint_url: Option<String>,
}

pub fn run(cmd: PostureCommand) -> Result<ExitCode> {
    match cmd {
        PostureCommand::Evaluate {
            snapshot,
            format,
            now,
            fail_on,
            record: keep,
            state,
        } => {
            let snap = Snapshot::load(&snapshot)?;
            let now = now_secs(&now)?;
            let findings = harrier_posture::evaluate(&snap, now);
            if keep {
                record(&state, &snap, &findings)?;
            }
            print_findings(&findings, format, &snap, &state, keep, now)?;
            Ok(exit_code(&findings, fail_on))
        }
        PostureCommand::Collect { aws, output } => {
            let snap = aws.collect()?;
            snap.save(&output)?;
            eprintln!("harrier: snapshot written to {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        PostureCommand::Scan {
            aws,
            snapshot,
            format,
            fail_on,
            no_history,
            send_security_hub,
            org,
            state,
        } => {
            if org.org {
                if send_security_hub || snapshot.is_some() {
                    bail!("--org does not take --send-security-hub or --snapshot yet");
                }
                if !matches!(
                    format,
                    PostureFormat::Table | PostureFormat::Json | PostureFormat::Html
                ) {
                    bail!("--org prints table, json or html");
                }
                return org::scan(&aws, &org, format, fail_on, no_history, &state);
            }
            let snap = aws.collect()?;
            if let Some(p) = &snapshot {
                snap.save(p)?;
            }
            let now = now_secs(&None)?;
            let findings = harrier_posture::evaluate(&snap, now);
            if !no_history {
                record(&state, &snap, &findings)?;
            }
            print_findings(&findings, format, &snap, &state, !no_history, now)?;
            if send_security_hub {
                let home = aws
                    .region
                    .clone()
                    .or_else(|| snap.regions().next().map(str::to_string))
                    .unwrap_or_else(|| "us-east-1".into());
                let sent = harrier_posture::collect::send_findings(
                    &aws.options()?,
                    &snap,
                    &findings,
                    &home,
                    now,
                )?;
                eprintln!(
                    "harrier: Security Hub ({home}) imported {} finding(s){}",
                    sent.imported,
                    if sent.failed > 0 {
                        format!(", refused {}", sent.failed)
                    } else {
                        String::new()
                    }
                );
                if sent.failed > 0 {
                    return Ok(ExitCode::from(2));
                }
            }
            Ok(exit_code(&findings, fail_on))
        }
        PostureCommand::History {
            account,
            limit,
            state,
        } => {
            let h = state.history()?;
            let scans = h.scans(account.as_deref(), limit.max(1))?;
            if scans.is_empty() {
                println!("no scans recorded yet: run `harrier posture scan` or `posture evaluate --record`");
                return Ok(ExitCode::SUCCESS);
            }
            print!("{}", h.trend_table(&scans)?);
            let mut accounts: Vec<&str> = scans.iter().map(|s| s.account.as_str()).collect();
            accounts.sort();
            accounts.dedup();
            for a in accounts {
                let changes = h.changes_since_full_scan(a)?;
                if changes.is_empty() {
                    continue;
                }
                println!("\nchanges since the last full scan of {a} (serve's re-checks):");
                for c in changes {
                    println!(
                        "  {}  {:<13} {} {} {}  by {}{}",
                        c.at,
                        if c.became == "fail" {
                            "NEWLY FAILING"
                        } else {
                            "fixed"
                        },
                        c.check,
                        c.region,
                        c.resource,
                        c.actor.as_deref().unwrap_or("?"),
                        c.event.map(|e| format!(" ({e})")).unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
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
