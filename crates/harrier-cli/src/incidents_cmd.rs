//! `harrier incidents`: the incidents `serve` (with `incidents:`) and `detect --incidents
//! --store` recorded in the alert store (the state directory's, or a shared one with `--store`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use harrier_events::time::format_datetime;

use crate::{state, OutputFormat};

#[derive(Subcommand)]
pub enum IncidentsCommand {
    /// The most recent incidents, most recent first: id, severity, when, alerts, title.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Output format (JSON: one incident object per line).
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// State directory (default: $XDG_STATE_HOME/harrier or ~/.local/state/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Read the shared PostgreSQL store (postgres://..., the `store:` of `serve` workers;
        /// default: $HARRIER_STORE_URL when set, else the state directory's).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// One incident: its principals, tactics, entities and timeline.
    Show {
        /// The incident id (`inc-...`).
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// State directory.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Read the shared PostgreSQL store (postgres://..., the `store:` of `serve` workers;
        /// default: $HARRIER_STORE_URL when set, else the state directory's).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
}

pub fn run(cmd: IncidentsCommand) -> Result<ExitCode> {
    match cmd {
        IncidentsCommand::List {
            limit,
            format,
            state_dir,
            store,
        } => {
            let store = state::any_alert_store(state_dir.as_deref(), store.as_deref())?;
            let all = store.incidents(limit)?;
            for i in &all {
                match format {
                    OutputFormat::Json => println!("{}", i.json),
                    OutputFormat::Text => println!(
                        "{}  {:<9} {} .. {}  {:>4} alerts  {}",
                        i.id,
                        i.severity,
                        format_datetime(i.first_ns),
                        format_datetime(i.last_ns),
                        i.alerts,
                        i.title
                    ),
                }
            }
            if all.is_empty() && format == OutputFormat::Text {
                eprintln!("harrier: no incidents recorded (serve with `incidents:` in its config, or detect --incidents --store)");
            }
            Ok(ExitCode::SUCCESS)
        }
        IncidentsCommand::Show {
            id,
            format,
            state_dir,
            store,
        } => {
            let store = state::any_alert_store(state_dir.as_deref(), store.as_deref())?;
            match store.incident(&id)? {
                Some(i) => {
                    match format {
                        OutputFormat::Json => println!("{}", i.json),
                        OutputFormat::Text => print!("{}", i.text),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("harrier: no incident {id:?} (harrier incidents list shows the ids)");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
