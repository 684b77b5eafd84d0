//! `harrier alerts`: the alert store (what `harrier serve` and `detect --store` recorded).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use harrier_alerts::store::Filter;
use harrier_events::time::format_iso8601;
use harrier_rules::Priority;

use crate::{state, OutputFormat};

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// List stored alerts, oldest first.
    List {
        /// Only alerts of events at or after this time (RFC 3339, YYYY-MM-DD, or 24h / 7d ago).
        #[arg(long)]
        since: Option<String>,
        /// Only this rule (exact name).
        #[arg(long)]
        rule: Option<String>,
        /// Only alerts at or above this priority.
        #[arg(long, value_parser = |s: &str| s.parse::<Priority>().map_err(|e| e.to_string()))]
        priority: Option<Priority>,
        /// Include alerts suppressed by throttling.
        #[arg(long)]
        all: bool,
        /// At most this many (the most recent).
        #[arg(long)]
        limit: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// State directory (default: $XDG_STATE_HOME/harrier or ~/.local/state/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Delivery state of each output: position, delivered, failures, last error.
    Outputs {
        /// State directory.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: AlertsCommand) -> Result<ExitCode> {
    match cmd {
        AlertsCommand::List {
            since,
            rule,
            priority,
            all,
            limit,
            format,
            state_dir,
        } => {
            let store = state::alert_store(state_dir.as_deref())?;
            let filter = Filter {
                since_ns: since
                    .map(|s| state::parse_when(&s, state::now_ns()))
                    .transpose()?,
                rule,
                min_priority: priority,
                include_suppressed: all,
                limit,
            };
            let alerts = store.list(&filter)?;
            let mut out = String::new();
            for a in &alerts {
                match format {
                    OutputFormat::Json => out.push_str(&a.json),
                    OutputFormat::Text => {
                        let v: serde_json::Value = serde_json::from_str(&a.json)?;
                        out.push_str(&format!(
                            "{} {:<13} {}{}",
                            format_iso8601(a.time_ns),
                            a.priority.as_str(),
                            v["output"].as_str().unwrap_or(&a.rule),
                            if a.suppressed { " [suppressed]" } else { "" }
                        ));
                    }
                }
                out.push('\n');
            }
            print!("{out}");
            if format == OutputFormat::Text {
                eprintln!("harrier: {} alert(s)", alerts.len());
            }
        }
        AlertsCommand::Outputs { state_dir } => {
            let store = state::alert_store(state_dir.as_deref())?;
            let last = store.last_seq()?;
            println!(
                "{:<24} {:>10} {:>10} {:>9}  last error",
                "output", "delivered", "behind", "failures"
            );
            for d in store
                .deliveries()?
                .into_iter()
                .filter(|d| harrier_alerts::store::is_output(&d.output))
            {
                println!(
                    "{:<24} {:>10} {:>10} {:>9}  {}",
                    d.output,
                    d.delivered,
                    last - d.seq,
                    d.failures,
                    d.last_error.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
