//! What `harrier posture` prints and records: findings in each format, the exit code, the
//! history entry.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use harrier_posture::{report, Severity, Snapshot, Status};

use harrier_posture::collect::{CollectOptions, Regions};
use harrier_posture::Entry;

use super::{AwsArgs, PostureFormat, StateArgs};

/// Prints the findings. HTML needs the history for its chart: the recorded scans of the
/// account, plus this one when it was not recorded.
pub fn print_findings(
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
                harrier_posture::html::report_with_changes(
                    account,
                    taken,
                    findings,
                    &trend,
                    &state.history()?.changes_since_full_scan(account)?
                )
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

pub fn exit_code(findings: &[harrier_posture::Finding], fail_on: Option<Severity>) -> ExitCode {
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

pub fn record(
    state: &StateArgs,
    snap: &Snapshot,
    findings: &[harrier_posture::Finding],
) -> Result<()> {
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

pub fn now_secs(now: &Option<String>) -> Result<i64> {
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

impl AwsArgs {
    pub fn options(&self) -> Result<CollectOptions> {
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
            credentials: None,
        })
    }

    pub fn collect(&self) -> Result<Snapshot> {
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
