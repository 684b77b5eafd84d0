//! `harrier`: unified threat detection for AWS accounts and their containers.
//!
//! This binary only parses arguments and wires the library crates together.

mod admission_cmd;
mod alerts_cmd;
mod backfill;
mod detect;
mod host_cmd;
mod image_cmd;
mod incidents_cmd;
mod posture;
mod ruleload;
mod rules_cmd;
mod sensor_cmd;
mod serve;
mod sinks;
mod state;
mod store_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "harrier",
    version,
    about = "Threat detection for AWS accounts and the containers that run in them"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate rules over CloudTrail logs (files, directories, `-` for stdin) and print alerts.
    Detect(detect::DetectArgs),
    /// Run as a service: `--config` for live AWS sources (SQS, CloudWatch Logs) and outputs, or
    /// the Kubernetes audit webhook alone.
    Serve(serve::ServeArgs),
    /// Check an account's configuration against CIS and more (posture).
    Posture {
        #[command(subcommand)]
        command: posture::PostureCommand,
    },
    /// Host benchmarks: CIS Linux, Docker and Kubernetes node checks of this host or a
    /// mounted root filesystem.
    Host {
        #[command(subcommand)]
        command: host_cmd::HostCommand,
    },
    /// Scan container images for vulnerable packages, malware and tampering.
    Image {
        #[command(subcommand)]
        command: image_cmd::ImageCommand,
    },
    /// Kubernetes admission control: the manifests that point a cluster at `harrier serve`'s
    /// admission webhook.
    Admission {
        #[command(subcommand)]
        command: admission_cmd::AdmissionCommand,
    },
    /// The shared PostgreSQL store: its schema checked or migrated.
    Store {
        #[command(subcommand)]
        command: store_cmd::StoreCommand,
    },
    /// The vulnerability database (OSV records in SQLite) used by `image scan`.
    Db {
        #[command(subcommand)]
        command: image_cmd::DbCommand,
    },
    /// Stored alerts and the delivery state of outputs.
    Alerts {
        #[command(subcommand)]
        command: alerts_cmd::AlertsCommand,
    },
    /// Incidents: the alerts of one attacker, correlated across sources.
    Incidents {
        #[command(subcommand)]
        command: incidents_cmd::IncidentsCommand,
    },
    /// Runtime detection: load the eBPF sensor and raise alerts on process, file and network
    /// activity (Linux, root); or check for hidden processes.
    Sensor(sensor_cmd::SensorArgs),
    /// Work with rule files.
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
}

/// Output format for alerts and listings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HARRIER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Host benchmark checks are known to every posture report, score and history.
    harrier_host::register();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Posture { command } => posture::run(command),
        Command::Host { command } => host_cmd::run(command),
        Command::Rules { command } => rules_cmd::run(command),
        Command::Sensor(args) => sensor_cmd::run(args),
        Command::Alerts { command } => alerts_cmd::run(command),
        Command::Incidents { command } => incidents_cmd::run(command),
        Command::Image { command } => image_cmd::run_image(command),
        Command::Db { command } => image_cmd::run_db(command),
        Command::Admission { command } => admission_cmd::run(command),
        Command::Store { command } => store_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("harrier: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
