//! `harrier image inventory`: the images that run (ECS and Fargate tasks, Kubernetes pods),
//! each scanned once per digest, and which workloads run a vulnerable or tampered image.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use harrier_supply::inventory::{self, KubeAccess, Row, Running};
use harrier_supply::results::ImageDb;
use harrier_supply::scanner::RegistryScanner;
use harrier_supply::verdict::Bar;

use crate::state;

#[derive(Args)]
pub struct InventoryArgs {
    /// List the running tasks of every ECS cluster (Fargate included) in the region.
    #[arg(long)]
    ecs: bool,
    /// List pods through the API server of this kubeconfig's current context.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// List pods through the in-cluster service account.
    #[arg(long)]
    in_cluster: bool,
    /// AWS region (ECS).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile.
    #[arg(long)]
    profile: Option<String>,
    /// AWS endpoint URL (moto, LocalStack).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Plain HTTP to registries (always allowed to localhost).
    #[arg(long)]
    plain_http: bool,
    /// Only list; scan nothing.
    #[arg(long)]
    no_scan: bool,
    /// Vulnerability database (default: vulns.db in the state directory, if it exists).
    #[arg(long)]
    db: Option<PathBuf>,
    /// State directory (its images.db keeps the scans, shared with `serve`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// `table` or `json`.
    #[arg(long, default_value = "table")]
    format: String,
}

pub fn run(a: InventoryArgs) -> Result<ExitCode> {
    if !a.ecs && a.kubeconfig.is_none() && !a.in_cluster {
        bail!("say where to look: --ecs, --kubeconfig FILE or --in-cluster");
    }
    if !matches!(a.format.as_str(), "table" | "json") {
        bail!("--format {:?}: expected table or json", a.format);
    }
    let mut running: Vec<Running> = Vec::new();
    if a.ecs {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let opts = harrier_aws::AwsOptions {
            profile: a.profile.clone(),
            region: a.region.clone(),
            endpoint_url: a.endpoint_url.clone(),
            credentials: None,
        };
        let found = rt.block_on(async {
            let cfg = harrier_aws::sdk_config(&opts, None).await;
            inventory::ecs_running(&aws_sdk_ecs::Client::new(&cfg)).await
        });
        running.extend(found.map_err(anyhow::Error::msg)?);
    }
    if let Some(k) = &a.kubeconfig {
        let access = KubeAccess::from_kubeconfig(k).map_err(anyhow::Error::msg)?;
        running.extend(access.running_pods().map_err(anyhow::Error::msg)?);
    }
    if a.in_cluster {
        let access = KubeAccess::in_cluster().map_err(anyhow::Error::msg)?;
        running.extend(access.running_pods().map_err(anyhow::Error::msg)?);
    }
    running.sort();
    let dir = state::state_dir(a.state_dir.as_deref())?;
    let rows: Vec<Row> = if a.no_scan {
        running
            .into_iter()
            .map(|r| Row {
                running: r,
                summary: None,
                problems: vec![],
                error: None,
            })
            .collect()
    } else {
        let db = ImageDb::open(&dir.join("images.db"))?;
        let scanner = RegistryScanner {
            vulnerability_db: Some(a.db.clone().unwrap_or_else(|| dir.join("vulns.db"))),
            plain_http: a.plain_http,
            aws_endpoint_url: a.endpoint_url.clone(),
            registry_user: None,
        };
        inventory::judge(running, Some(&db), &scanner, Bar::default())
    };
    let bad = rows.iter().filter(|r| !r.problems.is_empty()).count();
    let unscanned = rows.iter().filter(|r| r.error.is_some()).count();
    if a.format == "json" {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "platform": r.running.platform, "workload": r.running.workload,
                    "container": r.running.container, "image": r.running.image,
                    "digest": r.summary.as_ref().map(|s| s.digest.clone()).or(r.running.digest.clone()),
                    "problems": r.problems, "error": r.error,
                    "malware": r.summary.as_ref().map(|s| s.malware.len()),
                    "vulnerabilities": r.summary.as_ref().map(|s| s.vulnerabilities.len()),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for r in &rows {
            let state = if let Some(e) = &r.error {
                format!("NOT SCANNED: {e}")
            } else if a.no_scan {
                "listed".to_string()
            } else if r.problems.is_empty() {
                "ok".to_string()
            } else {
                format!("BAD: {}", r.problems.join("; "))
            };
            println!(
                "{:<10} {}  {}  {}{}\n    {state}",
                r.running.platform,
                r.running.workload,
                r.running.container,
                r.running.image,
                r.running
                    .digest
                    .as_deref()
                    .map(|d| format!(" ({})", &d[..d.len().min(19)]))
                    .unwrap_or_default()
            );
        }
        println!(
            "\n{} container(s); {bad} run a bad image; {unscanned} could not be scanned",
            rows.len()
        );
    }
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else if unscanned > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
