//! `harrier posture scan --org`: every account of an AWS organisation, each through a role
//! assumed in it, scanned concurrently by a bounded pool; per-account scores and an
//! organisation roll-up. An account whose role cannot be assumed (or whose scan fails) is
//! reported as not assessed, never as passing.

use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Result;
use harrier_posture::collect::org::{self, Member};
use harrier_posture::{Finding, Status};
use serde_json::json;

use super::output::now_secs;
use super::{AwsArgs, PostureFormat, StateArgs};

/// The organisation options.
#[derive(clap::Args, Clone, Debug)]
pub struct OrgArgs {
    /// Scan every active account of the organisation (Organizations ListAccounts), each through
    /// --role-name assumed in it; the caller's own account with the caller's credentials.
    #[arg(long)]
    pub org: bool,
    /// The role to assume in each member account (a name, or an ARN with `{account}`).
    #[arg(long, default_value = "OrganizationAccountAccessRole")]
    pub role_name: String,
    /// The external id the roles require.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Accounts scanned at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

enum Outcome {
    Assessed(Vec<Finding>),
    NotAssessed(String),
}

/// Scans the organisation; prints the table or JSON; exit 1 when `fail_on` is met in an
/// account, 2 when an account could not be assessed.
pub fn scan(
    aws: &AwsArgs,
    o: &OrgArgs,
    format: PostureFormat,
    fail_on: Option<harrier_posture::Severity>,
    no_history: bool,
    state: &StateArgs,
) -> Result<ExitCode> {
    let mut base = aws.options()?;
    base.progress = false;
    let me = org::caller_account(&base)?;
    let members: Vec<Member> = org::list_accounts(&base)?
        .into_iter()
        .filter(|m| m.status.is_empty() || m.status == "ACTIVE")
        .collect();
    let started = std::time::Instant::now();
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let now = now_secs(&None)?;
    std::thread::scope(|s| {
        for _ in 0..o.concurrency.clamp(1, 64) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(m) = members.get(i) else { break };
                let opts = if m.id == me {
                    Ok(base.clone())
                } else {
                    org::assume(&base, &m.id, &o.role_name, o.external_id.as_deref())
                        .map_err(|e| format!("cannot assume the role: {e}"))
                };
                let outcome = match opts.and_then(|opts| {
                    harrier_posture::collect::collect(&opts).map_err(|e| e.to_string())
                }) {
                    Ok(snap) if snap.account_id.as_deref() == Some(m.id.as_str()) => {
                        Outcome::Assessed(harrier_posture::evaluate(&snap, now))
                    }
                    Ok(snap) => Outcome::NotAssessed(format!(
                        "the credentials reached account {} instead",
                        snap.account_id.as_deref().unwrap_or("?")
                    )),
                    Err(e) => Outcome::NotAssessed(e),
                };
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, outcome));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    if !no_history {
        let mut h = state.history()?;
        let taken = harrier_events::time::format_iso8601(harrier_events::time::now_ns());
        for (i, r) in &results {
            if let Outcome::Assessed(f) = r {
                h.record(&members[*i].id, &taken, f)?;
            }
        }
    }
    let all: Vec<Finding> = results
        .iter()
        .filter_map(|(_, r)| match r {
            Outcome::Assessed(f) => Some(f.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let overall = harrier_posture::score(&all, |_| true);
    let assessed = results
        .iter()
        .filter(|(_, r)| matches!(r, Outcome::Assessed(_)))
        .count();
    let not_assessed = results.len() - assessed;
    let fmt_score = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    if format == PostureFormat::Html {
        let rows: Vec<harrier_posture::html::OrgRow> = results
            .iter()
            .map(|(i, r)| harrier_posture::html::OrgRow {
                account: members[*i].id.clone(),
                name: members[*i].name.clone(),
                not_assessed: match r {
                    Outcome::NotAssessed(w) => Some(w.clone()),
                    Outcome::Assessed(_) => None,
                },
                findings: match r {
                    Outcome::Assessed(f) => f.clone(),
                    Outcome::NotAssessed(_) => Vec::new(),
                },
            })
            .collect();
        let taken = harrier_events::time::format_iso8601(harrier_events::time::now_ns());
        print!("{}", harrier_posture::html::org_report(&taken, &rows));
    } else if format == PostureFormat::Json {
        let accounts: Vec<serde_json::Value> = results
            .iter()
            .map(|(i, r)| {
                let m = &members[*i];
                match r {
                    Outcome::Assessed(f) => {
                        let sc = harrier_posture::score(f, |_| true);
                        json!({"account": m.id, "name": m.name, "assessed": true,
                            "score": sc.value, "pass": sc.pass, "fail": sc.fail, "unknown": sc.unknown,
                            "failing": f.iter().filter(|x| x.status == Status::Fail).map(|x| json!({
                                "check": x.check, "resource": x.resource, "region": x.region, "reason": x.reason,
                            })).collect::<Vec<_>>()})
                    }
                    Outcome::NotAssessed(why) => {
                        json!({"account": m.id, "name": m.name, "assessed": false, "reason": why})
                    }
                }
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "organisation": {"accounts": results.len(), "assessed": assessed, "not_assessed": not_assessed,
                    "score": overall.value, "pass": overall.pass, "fail": overall.fail, "unknown": overall.unknown},
                "accounts": accounts,
            }))?
        );
    } else {
        println!(
            "{:<14} {:<24} {:<13} {:>6} {:>5} {:>5} {:>7}  failing checks",
            "account", "name", "status", "score", "pass", "fail", "unknown"
        );
        for (i, r) in &results {
            let m = &members[*i];
            match r {
                Outcome::Assessed(f) => {
                    let sc = harrier_posture::score(f, |_| true);
                    let mut failing: Vec<&str> = f
                        .iter()
                        .filter(|x| x.status == Status::Fail)
                        .map(|x| x.check)
                        .collect();
                    failing.sort();
                    failing.dedup();
                    println!(
                        "{:<14} {:<24} {:<13} {:>6} {:>5} {:>5} {:>7}  {}",
                        m.id,
                        m.name,
                        "assessed",
                        fmt_score(sc.value),
                        sc.pass,
                        sc.fail,
                        sc.unknown,
                        failing.join(", ")
                    );
                }
                Outcome::NotAssessed(why) => println!(
                    "{:<14} {:<24} {:<13} {:>6} {:>5} {:>5} {:>7}  {why}",
                    m.id, m.name, "NOT ASSESSED", "-", "-", "-", "-"
                ),
            }
        }
        println!(
            "\norganisation: {assessed} of {} account(s) assessed in {:.1}s; score {} over the assessed accounts' {} findings{}",
            results.len(),
            started.elapsed().as_secs_f64(),
            fmt_score(overall.value),
            all.len(),
            if not_assessed > 0 {
                format!("; {not_assessed} NOT ASSESSED (no verdict, not a pass)")
            } else {
                String::new()
            }
        );
    }
    let failed = super::output::exit_code(&all, fail_on) != ExitCode::SUCCESS;
    Ok(if failed {
        ExitCode::from(1)
    } else if not_assessed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
