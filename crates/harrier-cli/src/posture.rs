//! `harrier posture ...`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use harrier_posture::collect::{CollectOptions, Regions};
use harrier_posture::history::{History, ScanSummary};
use harrier_posture::{report, Entry, Severity, Snapshot, Status};

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
}

impl StateArgs {
    fn history(&self) -> Result<History> {
        let dir = crate::state::state_dir(self.state_dir.as_deref())?;
        Ok(History::open(&dir.join("posture.db"))?)
    }
}

/// How to reach AWS.
#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// Named profile (default: the standard credential chain).
    #[arg(long)]
    profile: Option<String>,
    /// Regions to read: `all` (every enabled region) or a comma-separated list.
    #[arg(long, default_value = "all")]
    regions: String,
    /// Region for global services and region discovery (default: from the environment).
    #[arg(long)]
    region: Option<String>,
    /// Endpoint URL for every service (moto, LocalStack); AWS_ENDPOINT_URL also works.
    #[arg(long)]
    endpoint_url: Option<String>,
}

impl AwsArgs {
    fn options(&self) -> Result<CollectOptions> {
        let regions = if self.regions == "all" {
            Regions::All
        } else {
            let list: Vec<String> = self
                .regions
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
            if list.is_empty() {
                bail!("--regions: expected `all` or a comma-separated list of regions");
            }
            Regions::List(list)
        };
        Ok(CollectOptions {
            regions,
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            home_region: self.region.clone(),
            progress: true,
        })
    }

    fn collect(&self) -> Result<Snapshot> {
        let opts = self.options()?;
        let started = std::time::Instant::now();
        let snap = harrier_posture::collect::collect(&opts)?;
        let docs: usize = snap.regions.values().map(|r| r.len()).sum();
        let failed: usize = snap
            .regions
            .values()
            .flat_map(|r| r.values())
            .filter(|e| matches!(e, Entry::Error { .. } | Entry::AccessDenied { .. }))
            .count();
        eprintln!(
            "harrier: collected {docs} documents ({failed} denied or failed) from account {} in {:.1}s",
            snap.account_id.as_deref().unwrap_or("?"),
            started.elapsed().as_secs_f64()
        );
        Ok(snap)
    }
}

/// Prints the findings. HTML needs the history for its chart: the recorded scans of the
/// account, plus this one when it was not recorded.
fn print_findings(
    findings: &[harrier_posture::Finding],
    format: PostureFormat,
    snap: &Snapshot,
    state: &StateArgs,
    recorded: bool,
    now: i64,
) -> Result<()> {
    let account = snap.account_id.as_deref().unwrap_or("unknown");
    match format {
        PostureFormat::Ocsf => {
            for o in harrier_posture::export::ocsf(findings, account, now) {
                println!("{}", serde_json::to_string(&o)?);
            }
        }
        PostureFormat::Asff => {
            let home = snap.regions().next().unwrap_or("us-east-1");
            let all = harrier_posture::export::asff(findings, account, home, now);
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        PostureFormat::Html => {
            let taken = snap.collected_at.as_deref().unwrap_or("");
            let mut trend: Vec<(String, f64)> = state
                .history()?
                .scans(Some(account), 50)?
                .into_iter()
                .filter_map(|s| Some((s.taken_at, s.score?)))
                .collect();
            if !recorded {
                if let Some(v) = harrier_posture::score(findings, |_| true).value {
                    trend.push((taken.to_string(), v));
                }
            }
            print!(
                "{}",
                harrier_posture::html::report(account, taken, findings, &trend)
            );
        }
        PostureFormat::Table => print!(
            "{}",
            report::table(findings, std::io::stdout().is_terminal())
        ),
        PostureFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report::json(findings))?)
        }
        PostureFormat::Csv => print!("{}", report::csv(findings)),
    }
    Ok(())
}

fn exit_code(findings: &[harrier_posture::Finding], fail_on: Option<Severity>) -> ExitCode {
    let failed = fail_on.is_some_and(|min| {
        findings.iter().any(|f| {
            f.status == Status::Fail
                && harrier_posture::check(f.check).is_some_and(|c| c.severity <= min)
        })
    });
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn record(state: &StateArgs, snap: &Snapshot, findings: &[harrier_posture::Finding]) -> Result<()> {
    let mut h = state.history()?;
    let taken = snap.collected_at.clone().unwrap_or_default();
    let id = h.record(
        snap.account_id.as_deref().unwrap_or("unknown"),
        &taken,
        findings,
    )?;
    eprintln!("harrier: scan {id} recorded (see `harrier posture history`)");
    Ok(())
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
            state,
        } => {
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
                let account = snap.account_id.as_deref().unwrap_or("000000000000");
                let home = aws
                    .region
                    .clone()
                    .or_else(|| snap.regions().next().map(str::to_string))
                    .unwrap_or_else(|| "us-east-1".into());
                let asff = harrier_posture::export::asff(&findings, account, &home, now);
                let sent =
                    harrier_posture::collect::send_to_security_hub(&aws.options()?, &home, &asff)?;
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
            print!("{}", history_table(&h, &scans)?);
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

fn fmt_score(s: Option<f64>) -> String {
    s.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The trend table, then the changes since the previous scan of the newest scan's account.
fn history_table(h: &History, scans: &[ScanSummary]) -> Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    writeln!(
        out,
        "{:>5}  {:<14} {:<30} {:>6} {:>6}  {:>5} {:>5} {:>7}  {:>7} {:>7}",
        "scan",
        "account",
        "taken at",
        "score",
        "trend",
        "pass",
        "fail",
        "unknown",
        "cis-5.0",
        "pci-4.0"
    )?;
    let mut prev: Option<&ScanSummary> = None;
    for s in scans {
        let trend = match (
            prev.filter(|p| p.account == s.account)
                .and_then(|p| p.score),
            s.score,
        ) {
            (Some(a), Some(b)) if b > a + 0.05 => format!("+{:.1}", b - a),
            (Some(a), Some(b)) if b < a - 0.05 => format!("{:.1}", b - a),
            (Some(_), Some(_)) => "=".into(),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:>5}  {:<14} {:<30} {:>6} {:>6}  {:>5} {:>5} {:>7}  {:>7} {:>7}",
            s.id,
            s.account,
            s.taken_at,
            fmt_score(s.score),
            trend,
            s.pass,
            s.fail,
            s.unknown,
            fmt_score(h.scope_score(s.id, "framework:cis-5.0")?),
            fmt_score(h.scope_score(s.id, "framework:pci-4.0")?),
        )?;
        prev = Some(s);
    }
    let last = &scans[scans.len() - 1];
    if let Some(before) = scans[..scans.len() - 1]
        .iter()
        .rev()
        .find(|s| s.account == last.account)
    {
        let c = h.changes(before.id, last.id)?;
        writeln!(
            out,
            "\nsince scan {} ({}): {} newly failing, {} fixed",
            before.id,
            before.taken_at,
            c.newly_failed.len(),
            c.fixed.len()
        )?;
        for (check, region, resource) in &c.newly_failed {
            writeln!(out, "  NEW FAIL  {check:<40} {region:<12} {resource}")?;
        }
        for (check, region, resource) in &c.fixed {
            writeln!(out, "  FIXED     {check:<40} {region:<12} {resource}")?;
        }
    }
    Ok(out)
}
