//! `harrier image` and `harrier db`: container image scanning and its vulnerability database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use harrier_image::layers::Limits;
use harrier_image::malware::Severity;
use harrier_image::registry::{Credentials, Reference};
use harrier_image::vulndb::VulnDb;
use harrier_supply::results::ImageResults;

use crate::state;

mod db;
mod inventory;
mod lint;

pub use db::run_db;
use lint::lint;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageFormat {
    Table,
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// CycloneDX 1.5 SBOM.
    Cyclonedx,
    /// SPDX 2.3 SBOM.
    Spdx,
}

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Scan an image: a `docker save` archive, an OCI layout (directory or tar), or a root
    /// filesystem (tar or directory). Exit 1 when --fail-on is met, 2 on broken or hostile input.
    Scan {
        /// The image: a path, or a registry reference (`127.0.0.1:5000/web:1.4`,
        /// `<account>.dkr.ecr.<region>.amazonaws.com/web:1.4`, `nginx:1.25`).
        path: PathBuf,
        /// Registry user (or HARRIER_REGISTRY_USERNAME); ECR credentials come from the AWS chain.
        #[arg(long)]
        username: Option<String>,
        /// Use plain HTTP for the registry (always allowed for localhost).
        #[arg(long)]
        plain_http: bool,
        /// AWS endpoint URL for the ECR token (moto, LocalStack).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Known-malware SHA-256 list (`<sha256> [name]` per line) checked against executables.
        #[arg(long, value_name = "FILE")]
        known_hashes: Option<PathBuf>,
        /// Vulnerability database (default: vulns.db in the state directory, if it exists).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ImageFormat::Table)]
        format: ImageFormat,
        /// Exit 1 when malware or a vulnerability at or above this severity is found.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
        /// State directory (default: $XDG_STATE_HOME/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Also keep the scan and its SBOM in the state directory's images.db (what `serve`
        /// and its console show), under the image's digest (a registry image's manifest
        /// digest; for an archive, the SHA-256 of the file).
        #[arg(long)]
        record: bool,
        /// With --record: keep it in this shared PostgreSQL store instead (postgres://..., the
        /// `store:` of `serve` workers; default: $HARRIER_STORE_URL when set).
        #[arg(long, value_name = "URL", requires = "record")]
        store: Option<String>,
    },
    /// The images that run (ECS and Fargate tasks, Kubernetes pods), each scanned once per
    /// digest: which workloads run a vulnerable or tampered image. Exit 1 when one does, 2 when
    /// an image could not be scanned.
    Inventory(inventory::InventoryArgs),
    /// Check a Dockerfile's practice: base tag, root user, ADD, secrets, curl|sh, caches, SSH,
    /// HEALTHCHECK. Exit 1 when --fail-on is met.
    Lint {
        /// The Dockerfile.
        dockerfile: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ImageFormat::Table)]
        format: ImageFormat,
        /// Exit 1 when a finding at or above this severity is found.
        #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
        fail_on: Option<Severity>,
    },
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Download and import osv.dev's per-ecosystem archives (`<base>/<ecosystem>/all.zip`).
    Update {
        /// Where the archives are.
        #[arg(long, default_value = harrier_image::vulndb::OSV_BASE_URL)]
        base_url: String,
        /// Ecosystems to fetch (default: Debian, Ubuntu, Alpine, PyPI, npm, crates.io, Go).
        #[arg(long = "ecosystem")]
        ecosystems: Vec<String>,
        /// The database (default: vulns.db in the state directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// State directory (default: $XDG_STATE_HOME/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Import OSV records (JSON files or directories of them) into the vulnerability database.
    Import {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The database (default: vulns.db in the state directory).
        #[arg(long)]
        db: Option<PathBuf>,
        /// State directory (default: $XDG_STATE_HOME/harrier).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

pub(crate) fn db_path(db: Option<PathBuf>, state_dir: Option<&std::path::Path>) -> Result<PathBuf> {
    Ok(match db {
        Some(p) => p,
        None => state::state_dir(state_dir)?.join("vulns.db"),
    })
}

pub fn run_image(cmd: ImageCommand) -> Result<ExitCode> {
    match cmd {
        ImageCommand::Scan {
            path,
            db,
            format,
            fail_on,
            state_dir,
            username,
            plain_http,
            endpoint_url,
            known_hashes,
            record,
            store,
        } => {
            let known = match &known_hashes {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    harrier_image::malware::parse_known_hashes(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                }
                None => Default::default(),
            };
            let explicit = db.is_some();
            let dbp = db_path(db, state_dir.as_deref())?;
            let vdb = if explicit || dbp.exists() {
                Some(VulnDb::open(&dbp)?)
            } else {
                None
            };
            // A path on disk, else a registry reference pulled into a temporary OCI layout.
            let pulled;
            let mut digest = None;
            let target: &std::path::Path = if path.exists() {
                &path
            } else {
                let s = path.to_string_lossy();
                let r = Reference::parse(&s).with_context(|| {
                    format!("{s}: no such file, and not an image reference (host/repository:tag)")
                })?;
                let creds = credentials(&r, username, endpoint_url)?;
                if record {
                    digest = Some(harrier_image::registry::resolve(
                        &r,
                        &creds,
                        plain_http,
                        std::time::Duration::from_secs(30),
                    )?);
                }
                pulled = tempfile::tempdir().context("cannot create a temporary directory")?;
                harrier_image::registry::pull(&r, &creds, plain_http, pulled.path())?;
                pulled.path()
            };
            let mut report =
                harrier_image::scan::scan_with(target, vdb.as_ref(), &Limits::default(), &known)
                    .with_context(|| format!("cannot scan {}", path.display()))?;
            report.source = path.to_string_lossy().to_string();
            if record {
                let digest = match digest {
                    Some(d) => d,
                    None => file_digest(&path)?,
                };
                let url = store.or_else(|| std::env::var("HARRIER_STORE_URL").ok());
                let (images, shown): (Box<dyn ImageResults>, String) = match url {
                    Some(url) => {
                        anyhow::ensure!(
                            url.starts_with("postgres://") || url.starts_with("postgresql://"),
                            "--store: expected postgres://user:password@host:port/db"
                        );
                        (
                            Box::new(harrier_store_pg::PgStore::connect(&url)?),
                            harrier_store_pg::shown(&url),
                        )
                    }
                    None => {
                        let p = state::state_dir(state_dir.as_deref())?.join("images.db");
                        (
                            Box::new(harrier_supply::results::ImageDb::open(&p)?),
                            p.display().to_string(),
                        )
                    }
                };
                images.put_scan(&harrier_supply::verdict::Summary::of(
                    &report,
                    &digest,
                    &report.source,
                    state::now_ns(),
                ))?;
                images.put_sbom(
                    &digest,
                    &serde_json::to_string(&harrier_image::formats::cyclonedx(&report))?,
                )?;
                eprintln!("harrier: recorded {digest} in {shown}");
            }
            match format {
                ImageFormat::Table => print!("{}", report.table()),
                ImageFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&report.to_json())?)
                }
                ImageFormat::Sarif => println!(
                    "{}",
                    serde_json::to_string_pretty(&harrier_image::formats::sarif(&report))?
                ),
                ImageFormat::Cyclonedx => println!(
                    "{}",
                    serde_json::to_string_pretty(&harrier_image::formats::cyclonedx(&report))?
                ),
                ImageFormat::Spdx => {
                    let now = harrier_events::time::format_iso8601(state::now_ns());
                    let created = format!("{}Z", &now[..19]);
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&harrier_image::formats::spdx(
                            &report, &created
                        ))?
                    )
                }
            }
            if fail_on.is_some_and(|s| report.fails(s)) {
                return Ok(ExitCode::from(1));
            }
            if !report.problems.is_empty() {
                eprintln!(
                    "harrier: {} problem(s) in the image; the entries were skipped",
                    report.problems.len()
                );
                return Ok(ExitCode::from(2));
            }
            Ok(ExitCode::SUCCESS)
        }
        ImageCommand::Lint {
            dockerfile,
            format,
            fail_on,
        } => lint(&dockerfile, format, fail_on),
        ImageCommand::Inventory(a) => inventory::run(a),
    }
}

/// Registry credentials: ECR's from GetAuthorizationToken, else --username with
/// HARRIER_REGISTRY_PASSWORD, else anonymous.
fn credentials(
    r: &Reference,
    username: Option<String>,
    endpoint_url: Option<String>,
) -> Result<Credentials> {
    if let Some(c) = harrier_image::ecr::credentials(r, endpoint_url)? {
        return Ok(c);
    }
    let user = username.or_else(|| std::env::var("HARRIER_REGISTRY_USERNAME").ok());
    Ok(Credentials(user.map(|u| {
        (
            u,
            std::env::var("HARRIER_REGISTRY_PASSWORD").unwrap_or_default(),
        )
    })))
}

/// `sha256:<hex>` of an image archive (what `image scan --record` keeps a local image under).
fn file_digest(path: &std::path::Path) -> Result<String> {
    use sha2::Digest;
    anyhow::ensure!(
        path.is_file(),
        "{}: --record needs an image archive or a registry reference, not a directory",
        path.display()
    );
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!(
        "sha256:{}",
        h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}
