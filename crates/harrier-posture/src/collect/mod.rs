//! `posture collect`: read an account through the AWS SDK for Rust into a [`Snapshot`].
//!
//! Every call's outcome is recorded (see [`Entry`]): a denied or failed call becomes an
//! `unknown` finding later, never a pass or a fail. Regions are read concurrently, and the calls
//! within a region too; throttling is retried by the SDK with exponential backoff and jitter, so a
//! throttled call only delays itself. Documents keep the shape the AWS CLI prints (PascalCase or
//! camelCase as the service does), limited to the fields Harrier's checks and reports read.

mod compute;
mod global;
mod json;
pub mod org;
pub mod recheck;
mod regional;
mod send;

pub use send::{send_findings, send_to_security_hub, Sent};

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::snapshot::{Entry, Snapshot, GLOBAL};

/// Which regions to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// Every region enabled for the account (`ec2:DescribeRegions`).
    All,
    /// These regions.
    List(Vec<String>),
}

/// How to reach the account.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Regions to read.
    pub regions: Regions,
    /// A named profile from the shared config files; the default chain otherwise.
    pub profile: Option<String>,
    /// An endpoint URL for every service (moto, LocalStack); `AWS_ENDPOINT_URL` works too.
    pub endpoint_url: Option<String>,
    /// The region used for global services and region discovery.
    pub home_region: Option<String>,
    /// Print progress to stderr (only when it is a terminal).
    pub progress: bool,
    /// Credentials instead of the chain's (a role assumed in a member account).
    pub credentials: Option<harrier_aws::StaticCredentials>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            regions: Regions::All,
            profile: None,
            endpoint_url: None,
            home_region: None,
            progress: true,
            credentials: None,
        }
    }
}

/// Why collection could not start (individual call failures are recorded in the snapshot).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The async runtime could not be created.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The account could not be identified (bad credentials, no network).
    #[error("cannot identify the account (sts:GetCallerIdentity): {0}")]
    Identity(String),
    /// No region to read.
    #[error("no region to read: {0}")]
    Regions(String),
    /// Findings could not be sent.
    #[error("cannot send findings: {0}")]
    Send(String),
}

/// Error codes that mean "the caller may not make this call".
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnauthorizedAccess",
    "UnrecognizedClientException",
];

/// Error codes that mean "this feature is not set up" (an answer, not a failure).
const NOT_CONFIGURED: &[&str] = &[
    "NoSuchEntity",
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchConfiguration",
    "InvalidAccessException",
    "TrailNotFoundException",
];

/// Turns an SDK result into a snapshot entry.
pub(crate) fn entry<T, E>(
    result: Result<T, E>,
    to_json: impl FnOnce(T) -> serde_json::Value,
) -> Entry
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(out) => Entry::Ok { data: to_json(out) },
        Err(err) => classify(&err),
    }
}

/// Classifies an SDK error.
pub(crate) fn classify<E>(err: &E) -> Entry
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().unwrap_or_default().to_string();
    let message = match err.message() {
        Some(m) if !code.is_empty() => format!("{code}: {m}"),
        Some(m) => m.to_string(),
        None if !code.is_empty() => code.clone(),
        None => harrier_aws::short_chain(err),
    };
    if DENIED.contains(&code.as_str()) {
        Entry::AccessDenied { message }
    } else if NOT_CONFIGURED.contains(&code.as_str()) {
        Entry::NotConfigured { message }
    } else {
        Entry::Error { message }
    }
}

enum EntryKind {
    Ok,
    Failed,
}

/// Where collected documents go: region -> key -> entry, shared by the tasks.
#[derive(Clone, Default)]
pub(crate) struct Sink {
    docs: Arc<Mutex<BTreeMap<String, BTreeMap<String, Entry>>>>,
    calls: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    progress: Option<Arc<Progress>>,
}

/// The progress line on a terminal: a bar over the parts (global services + each region),
/// calls answered, calls failed, elapsed time.
pub(crate) struct Progress {
    start: std::time::Instant,
    parts: AtomicUsize,
    done: AtomicUsize,
    last_ms: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new() -> Self {
        Progress {
            start: std::time::Instant::now(),
            parts: AtomicUsize::new(1),
            done: AtomicUsize::new(0),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The progress line.
    fn line(&self, calls: usize, failed: usize) -> String {
        let (done, parts) = (
            self.done.load(Ordering::Relaxed),
            self.parts.load(Ordering::Relaxed).max(1),
        );
        let width = 20;
        let filled = width * done.min(parts) / parts;
        format!(
            "collect [{}{}] {done}/{parts} parts (global + regions), {calls} calls, {failed} failed, {:.1} s",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.start.elapsed().as_secs_f64()
        )
    }

    fn draw(&self, calls: usize, failed: usize, force: bool) {
        let ms = self.start.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Ordering::Relaxed);
        if force || ms >= last + 100 {
            self.last_ms.store(ms, Ordering::Relaxed);
            eprint!("\r\x1b[K{}", self.line(calls, failed));
        }
    }
}

impl Sink {
    fn part_done(&self) {
        if let Some(p) = &self.progress {
            p.done.fetch_add(1, Ordering::Relaxed);
            p.draw(
                self.calls.load(Ordering::Relaxed),
                self.failed.load(Ordering::Relaxed),
                true,
            );
        }
    }

    pub(crate) fn put(&self, region: &str, key: impl Into<String>, e: Entry) {
        let key = key.into();
        let e_kind = match e {
            Entry::Ok { .. } | Entry::NotConfigured { .. } => EntryKind::Ok,
            _ => EntryKind::Failed,
        };
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(region.to_string())
            .or_default()
            .insert(key, e);
        if !matches!(e_kind, EntryKind::Ok) {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(p) = &self.progress {
            p.draw(n, self.failed.load(Ordering::Relaxed), false);
        }
    }
}

/// One warning per kind of failed call (`s3-get-bucket-versioning` failing for 100 buckets is
/// one line), with how many failed and the first message. The snapshot keeps every message.
fn warn_failures(docs: &BTreeMap<String, BTreeMap<String, Entry>>) {
    let mut kinds: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for calls in docs.values() {
        for (key, e) in calls {
            if let Entry::Error { message } = e {
                let kind = key.split('/').next().unwrap_or(key);
                kinds.entry(kind).or_insert((0, message)).0 += 1;
            }
        }
    }
    for (kind, (n, first)) in kinds {
        tracing::warn!("{n} {kind} call(s) failed (their checks say unknown); first: {first}");
    }
}

/// The SDK configuration for one region.
async fn sdk_config(opts: &CollectOptions, region: &str) -> SdkConfig {
    let aws = harrier_aws::AwsOptions {
        profile: opts.profile.clone(),
        region: Some(region.to_string()),
        endpoint_url: opts.endpoint_url.clone(),
        credentials: opts.credentials.clone(),
    };
    harrier_aws::sdk_config(&aws, Some(region)).await
}

/// Runs `f` with the SDK configuration of the home region (default us-east-1) on a runtime of
/// its own, blocking until it is done.
pub(crate) fn block_on_home<T, F>(
    opts: &CollectOptions,
    f: impl FnOnce(SdkConfig) -> F,
) -> std::io::Result<T>
where
    F: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let home = opts
        .home_region
        .clone()
        .unwrap_or_else(|| "us-east-1".into());
    Ok(rt.block_on(async {
        let cfg = sdk_config(opts, &home).await;
        f(cfg).await
    }))
}

/// Reads the account. Blocks; runs its own async runtime.
pub fn collect(opts: &CollectOptions) -> Result<Snapshot, CollectError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(collect_async(opts))
}

async fn collect_async(opts: &CollectOptions) -> Result<Snapshot, CollectError> {
    let home = match &opts.home_region {
        Some(r) => r.clone(),
        None => {
            // The region from the environment or profile, else us-east-1.
            let probe = aws_config::defaults(BehaviorVersion::latest()).load().await;
            probe
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into())
        }
    };
    let home_cfg = sdk_config(opts, &home).await;
    let sink = Sink {
        progress: (opts.progress && std::io::stderr().is_terminal())
            .then(|| Arc::new(Progress::new())),
        ..Sink::default()
    };

    let account = global::identity(&home_cfg, &sink).await?;
    let regions = match &opts.regions {
        Regions::List(l) => l.clone(),
        Regions::All => regional::enabled_regions(&home_cfg).await?,
    };
    if regions.is_empty() {
        return Err(CollectError::Regions("the region list is empty".into()));
    }
    if let Some(p) = &sink.progress {
        p.parts.store(regions.len() + 1, Ordering::Relaxed);
    }

    let mut tasks = tokio::task::JoinSet::new();
    {
        let (cfg, sink, account) = (home_cfg.clone(), sink.clone(), account.clone());
        let endpoint = opts.endpoint_url.is_some();
        tasks.spawn(async move {
            global::collect(&cfg, &sink, &account, endpoint).await;
            sink.part_done();
        });
    }
    for region in regions {
        let cfg = sdk_config(opts, &region).await;
        let sink = sink.clone();
        tasks.spawn(async move {
            regional::collect(&cfg, &sink, &region).await;
            sink.part_done();
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            // A panicking task is a bug; record it rather than lose the snapshot.
            sink.put(
                GLOBAL,
                "harrier-collect-task",
                Entry::Error {
                    message: format!("collector task failed: {e}"),
                },
            );
        }
    }
    if let Some(p) = &sink.progress {
        p.draw(
            sink.calls.load(Ordering::Relaxed),
            sink.failed.load(Ordering::Relaxed),
            true,
        );
        eprintln!();
    }
    let docs = std::mem::take(&mut *sink.docs.lock().unwrap_or_else(|p| p.into_inner()));
    warn_failures(&docs);
    Ok(Snapshot {
        version: 1,
        account_id: Some(account),
        collected_at: Some(json::now()),
        regions: docs,
    })
}

#[cfg(test)]
mod tests {
    use super::{classify, Progress};

    #[test]
    fn progress_line_shows_parts_calls_and_failures() {
        let p = Progress::new();
        p.parts.store(4, std::sync::atomic::Ordering::Relaxed);
        p.done.store(2, std::sync::atomic::Ordering::Relaxed);
        let line = p.line(412, 3);
        assert!(
            line.starts_with("collect [##########..........] 2/4 parts"),
            "{line}"
        );
        assert!(line.contains("412 calls, 3 failed"), "{line}");
    }
    use crate::snapshot::Entry;
    use aws_smithy_types::error::ErrorMetadata;

    fn err(code: Option<&str>, message: &str) -> ErrorMetadata {
        let mut b = ErrorMetadata::builder().message(message);
        if let Some(c) = code {
            b = b.code(c);
        }
        b.build()
    }

    #[test]
    fn denied_not_configured_and_other_errors_are_told_apart() {
        assert!(matches!(
            classify(&err(Some("AccessDenied"), "no")),
            Entry::AccessDenied { message } if message == "AccessDenied: no"
        ));
        assert!(matches!(
            classify(&err(Some("UnauthorizedOperation"), "no")),
            Entry::AccessDenied { .. }
        ));
        assert!(matches!(
            classify(&err(Some("NoSuchEntity"), "no password policy")),
            Entry::NotConfigured { .. }
        ));
        assert!(matches!(
            classify(&err(Some("NoSuchPublicAccessBlockConfiguration"), "none")),
            Entry::NotConfigured { .. }
        ));
        // Throttling that outlived the retries, or anything unexpected: an error, which the
        // checks turn into unknown, never a pass.
        assert!(matches!(
            classify(&err(Some("Throttling"), "rate exceeded")),
            Entry::Error { .. }
        ));
        assert!(
            matches!(classify(&err(None, "boom")), Entry::Error { message } if message == "boom")
        );
    }
}
