//! `harrier host bench`: the CIS host benchmarks (crate harrier-host), printed and recorded
//! like a posture scan.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};
use harrier_host::{Host, Profile};
use harrier_posture::{Severity, Snapshot};

use crate::posture::output::{exit_code, now_secs, print_findings, record};
use crate::posture::{PostureFormat, StateArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// Every profile that applies to the host.
    Auto,
    Linux,
    Docker,
    K8sNode,
    K8sControlPlane,
}

#[derive(Subcommand)]
pub enum HostCommand {
    /// Judge this host (or a mounted root filesystem) against the CIS Linux, Docker and
    /// Kubernetes benchmarks: pass, fail or unknown per check, with fixes and scores.
    Bench {
        /// Profiles to run (repeat or comma-separate); `auto` picks those that apply.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "auto")]
        profile: Vec<ProfileArg>,
        /// A mounted root filesystem to judge instead of the running host (an EBS snapshot,
        /// an extracted image); its files are read, nothing in it is run.
        #[arg(long)]
        root: Option<PathBuf>,
        /// The Docker Engine API socket to ask about running containers (default: the host's
        /// /var/run/docker.sock; none with --root).
        #[arg(long)]
        docker_socket: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PostureFormat::Table)]
        format: PostureFormat,
        /// Exit with 1 when a check of at least this severity fails.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
        /// Do not record the scan in the history (`harrier posture history`).
        #[arg(long)]
        no_history: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

pub fn run(cmd: HostCommand) -> Result<ExitCode> {
    let HostCommand::Bench {
        profile,
        root,
        docker_socket,
        format,
        fail_on,
        no_history,
        state,
    } = cmd;
    if format == PostureFormat::Asff {
        bail!("--format asff is for AWS accounts; a host's findings are printed as table, json, csv, html or ocsf");
    }
    let mut host = match &root {
        Some(r) => {
            if !r.is_dir() {
                bail!("--root {}: not a directory", r.display());
            }
            Host::mounted(r)
        }
        None => Host::running(),
    };
    if docker_socket.is_some() {
        host.docker_socket = docker_socket;
    }
    let profiles: Vec<Profile> = if profile.contains(&ProfileArg::Auto) {
        host.applicable()
    } else {
        profile
            .iter()
            .map(|p| match p {
                ProfileArg::Linux | ProfileArg::Auto => Profile::Linux,
                ProfileArg::Docker => Profile::Docker,
                ProfileArg::K8sNode => Profile::K8sNode,
                ProfileArg::K8sControlPlane => Profile::K8sControlPlane,
            })
            .collect()
    };
    let findings = harrier_host::bench(&host, &profiles);
    let now = now_secs(&None)?;
    let name = match &root {
        Some(r) => format!("root:{}", r.display()),
        None => format!("host:{}", harrier_detect::hostname()),
    };
    let snap = Snapshot {
        account_id: Some(name),
        collected_at: Some(harrier_events::time::format_iso8601(now * 1_000_000_000)),
        ..Snapshot::default()
    };
    eprintln!(
        "harrier: profiles {}",
        profiles
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !no_history {
        record(&state, &snap, &findings)?;
    }
    print_findings(&findings, format, &snap, &state, !no_history, now)?;
    Ok(exit_code(&findings, fail_on))
}
