//! The service's configuration file (`harrier serve --config harrier.yaml`).
//!
//! YAML, read into typed settings: durations, priorities and addresses are parsed at load, so a
//! mistake is reported before anything starts, with the line and key it is on; unknown keys
//! are refused (a typo must not silently turn an output off). `${NAME}` in a string is replaced
//! by the environment variable NAME, and `${NAME:-default}` by NAME or the default, so secrets
//! (webhook URLs, tokens) need not be written in the file. Aliases are refused and nesting is
//! bounded (the reader is [`harrier_rules::yaml`], the one that reads rule files).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harrier_alerts::outputs::Route;
use harrier_rules::yaml::{Node, Pos};
use harrier_rules::Priority;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Largest configuration file read.
pub const MAX_CONFIG: u64 = 1 << 20;

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_CONFIG`].
    #[error("{path}: larger than {MAX_CONFIG} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A mistake in the text, at a place in it.
    #[error("{}{}{message}", .file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default(), .pos.map(|p| format!("line {}, column {}: ", p.line, p.col)).unwrap_or_default())]
    Invalid {
        /// The file, when read from one.
        file: Option<PathBuf>,
        /// Where, when known.
        pos: Option<Pos>,
        /// What, naming the key.
        message: String,
    },
}

impl ConfigError {
    fn at(pos: Option<Pos>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            file: None,
            pos,
            message: message.into(),
        }
    }
}

/// A duration written as `30s`, `10m`, `1h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        harrier_events::time::parse_duration(&s)
            .map(Dur)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a duration such as 30s, 10m, 1h or 7d"
                ))
            })
    }
}

/// A rule priority by name (`warning`, `critical`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prio(pub Priority);

impl<'de> Deserialize<'de> for Prio {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<Priority>()
            .map(Prio)
            .map_err(serde::de::Error::custom)
    }
}

/// A point in time as a person writes it (RFC 3339, a date, or a duration before start),
/// checked at load and resolved when the service starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When(pub String);

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        harrier_events::time::parse_when(&s, 0).map_err(serde::de::Error::custom)?;
        Ok(When(s))
    }
}

impl When {
    /// The time, ns since the epoch, relative to `now_ns`.
    pub fn resolve(&self, now_ns: i64) -> i64 {
        harrier_events::time::parse_when(&self.0, now_ns).unwrap_or(now_ns)
    }
}

fn addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "{s:?} is not an address such as 127.0.0.1:8765 or [::]:8765"
        ))
    })
}

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// State directory (alert store, checkpoints).
    pub state_dir: Option<PathBuf>,
    /// Where alerts, incidents, checkpoints and output cursors live: `sqlite` (the default:
    /// `alerts.db` in the state directory), `sqlite:///path/alerts.db`, or
    /// `postgres://user:password@host:port/db` for several workers sharing one store.
    #[serde(default)]
    pub store: Option<String>,
    /// How to reach AWS.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Which rules run.
    #[serde(default)]
    pub rules: RulesConfig,
    /// Throttling of repeated alerts.
    #[serde(default)]
    pub noise: NoiseConfig,
    /// Where events come from.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Where alerts go.
    #[serde(default)]
    pub outputs: Vec<OutputConfig>,
    /// Prometheus metrics and health.
    pub metrics: Option<MetricsConfig>,
    /// Correlate alerts of every source into incidents (off unless present).
    pub incidents: Option<IncidentsConfig>,
    /// Learn each AWS principal's normal use and alert what stands out (off unless present).
    pub anomalies: Option<AnomaliesConfig>,
    /// Scan every image pushed to ECR (CloudTrail `PutImage` on the CloudTrail sources,
    /// EventBridge's "ECR Image Action" on `ecr_events` sources); off unless present.
    pub images: Option<ImagesConfig>,
    /// Continuous posture: a full scan at start, then each configuration change a CloudTrail
    /// source reads re-checked by re-reading only what it touched; off unless present.
    pub posture: Option<PostureConfig>,
    /// The console (web UI and REST API) over this service's state.
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
}

/// Continuous posture in the service.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct PostureConfig {
    /// Regions to read (default: `aws.region`, else us-east-1).
    #[serde(default)]
    pub regions: Vec<String>,
    /// A full scan this often, for what events miss (`24h`).
    pub full_scan_every: Option<Dur>,
    /// Quiet time before a burst of changes is re-checked, once per area (`2s`).
    pub settle: Option<Dur>,
}

/// Images in the service: pushes scanned once per digest, tag moves alerted, the scans shared
/// with the admission webhook.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ImagesConfig {
    /// Pull from this registry host instead of ECR's (a pull-through mirror; a local registry
    /// in tests).
    pub registry: Option<String>,
    /// Plain HTTP to the registry (always allowed to localhost).
    #[serde(default)]
    pub plain_http: bool,
    /// The vulnerability database (default: vulns.db in the state directory, if it exists).
    pub vulnerability_db: Option<PathBuf>,
    /// Practice findings at or above this severity make a pushed image alert and an admission
    /// refuse (`critical` by default; `none`: never).
    pub practice: Option<String>,
    /// Attempts at one push (pull or scan failures) before it is given up and said (3).
    pub max_attempts: Option<u32>,
    /// At most this many pushes wait to be scanned before the sources are held back (1000).
    pub queue_limit: Option<u64>,
}

/// Enforce or audit.
#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionMode {
    /// Refuse.
    #[default]
    Enforce,
    /// Allow, with warnings.
    Audit,
}

/// What an image that cannot be judged in time means.
#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionFailure {
    /// Refuse it.
    #[default]
    Fail,
    /// Allow it, with a warning.
    Ignore,
}

/// Baselines in the service: each CloudTrail source learns from what it reads.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct AnomaliesConfig {
    /// How long a principal is only learned before its anomalies are raised (`7d`).
    pub learning: Option<Dur>,
}

/// Incidents in the service: one correlator for every source, and notices to the outputs. With
/// a PostgreSQL `store:`, one correlator for every worker, through the store
/// ([`crate::incidents`]); give every worker the same `incidents:`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// How far apart two alerts sharing an entity may be (`24h`).
    pub window: Option<Dur>,
    /// Deliver "Incident Opened" and "Incident Escalated" alerts (source `incident`).
    #[serde(default = "yes")]
    pub notices: bool,
}

/// How to reach AWS.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Named profile.
    pub profile: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Endpoint for every service (moto, LocalStack).
    pub endpoint_url: Option<String>,
}

/// Which rules run.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Extra rule files or directories.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Load the built-in pack.
    #[serde(default = "yes")]
    pub builtin: bool,
    /// Only run rules at or above this priority.
    pub min_priority: Option<Prio>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            paths: Vec::new(),
            builtin: true,
            min_priority: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Throttling: alerts of the same rule, principal and resource beyond `max` per `window` are
/// stored as suppressed and not delivered.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Default window (`10m` when only `max` is set).
    pub window: Option<Dur>,
    /// Alerts per key and window (1 when only `window` is set).
    pub max: Option<u32>,
    /// Per rule name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleNoise>,
}

/// One rule's throttling.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RuleNoise {
    /// Its window.
    pub window: Option<Dur>,
    /// Its maximum.
    pub max: Option<u32>,
    /// `false`: never throttle this rule.
    pub throttle: Option<bool>,
    /// Output fields that make the de-duplication key instead of principal and resource.
    pub key: Option<Vec<String>>,
}

/// Where events come from.
#[derive(Debug, Deserialize, Clone)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// S3/CloudTrail notifications on an SQS queue.
    Sqs {
        /// The queue.
        queue_url: String,
        /// Long-poll wait, seconds.
        #[serde(default = "default_wait")]
        wait_seconds: i32,
        /// Visibility timeout while a message is processed, seconds.
        #[serde(default = "default_visibility")]
        visibility_timeout: i32,
    },
    /// A CloudWatch Logs group.
    CloudwatchLogs {
        /// The group.
        log_group: String,
        /// Only streams with this prefix.
        stream_prefix: Option<String>,
        /// Poll interval (`10s`).
        interval: Option<Dur>,
        /// Look-back window for late events (`2m`).
        lookback: Option<Dur>,
        /// Without a checkpoint, start here (`1h` ago, a date or a time); default: now.
        start: Option<When>,
    },
    /// The Kubernetes audit webhook.
    K8sAudit {
        /// Address to listen on.
        #[serde(deserialize_with = "addr")]
        listen: SocketAddr,
        /// Path of the endpoint.
        #[serde(default = "default_k8s_path")]
        path: String,
        /// File holding the bearer token (else `HARRIER_WEBHOOK_TOKEN`, if set).
        token_file: Option<PathBuf>,
        /// PEM certificate chain, for HTTPS.
        tls_cert: Option<PathBuf>,
        /// PEM private key, for HTTPS.
        tls_key: Option<PathBuf>,
    },
    /// EventBridge "ECR Image Action" events on an SQS queue: each push is scanned (needs
    /// `images:`).
    EcrEvents {
        /// The queue.
        queue_url: String,
        /// Long-poll wait, seconds.
        #[serde(default = "default_wait")]
        wait_seconds: i32,
    },
    /// The images that run, listed periodically (ECS tasks, Kubernetes pods), each new digest
    /// scanned; a running image that fails its scan is alerted (needs `images:`).
    Inventory {
        /// List the running tasks of every ECS cluster in the region.
        #[serde(default)]
        ecs: bool,
        /// List pods through this kubeconfig's current context.
        kubeconfig: Option<PathBuf>,
        /// List pods through the in-cluster service account.
        #[serde(default)]
        in_cluster: bool,
        /// How often (`10m`).
        every: Option<Dur>,
    },
    /// The Kubernetes admission webhook (ValidatingAdmissionWebhook, HTTPS only).
    Admission {
        /// Address to listen on.
        #[serde(deserialize_with = "addr")]
        listen: SocketAddr,
        /// Path of the endpoint.
        #[serde(default = "default_admission_path")]
        path: String,
        /// PEM certificate chain (required: the API server calls over HTTPS only).
        tls_cert: PathBuf,
        /// PEM private key.
        tls_key: PathBuf,
        /// `enforce` (default) or `audit`.
        #[serde(default)]
        mode: AdmissionMode,
        /// `fail` (default) or `ignore`: what an image that cannot be judged in time means.
        #[serde(default)]
        failure_policy: AdmissionFailure,
        /// Time for one review, scans on demand included (`8s`; keep it under the webhook's
        /// timeoutSeconds).
        timeout: Option<Dur>,
        /// Registries (hosts or host/path prefixes) images may come from; empty: any.
        #[serde(default)]
        allowed_registries: Vec<String>,
        /// Refuse `latest` and untagged images (unless pinned by digest).
        #[serde(default = "yes")]
        deny_latest: bool,
        /// Scan an image never scanned before deciding (else allow it with a warning and scan
        /// it in the background).
        #[serde(default = "yes")]
        require_scanned: bool,
    },
    /// The eBPF runtime sensor on this host (Linux, root).
    Sensor {
        /// Where container runtimes keep per-container metadata (default: containerd's and
        /// Docker's usual places).
        #[serde(default)]
        runtime_roots: Vec<PathBuf>,
        /// Hidden-process check interval (`5m`; `0s`: never).
        hidden_every: Option<Dur>,
        /// Drop in the kernel what no loaded rule could match (default on; off records every
        /// event, e.g. to replay it later against other rules).
        #[serde(default = "default_true")]
        kernel_filter: bool,
    },
}

fn default_wait() -> i32 {
    20
}
fn default_visibility() -> i32 {
    120
}
fn default_admission_path() -> String {
    "/validate".into()
}
fn default_k8s_path() -> String {
    "/k8s-audit".into()
}

/// Which alerts an output receives: all by default; each setting narrows.
#[derive(Debug, Deserialize, Default, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// At or above this priority.
    pub min_priority: Option<Prio>,
    /// Only these rules (names).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Not these rules.
    #[serde(default)]
    pub exclude_rules: Vec<String>,
    /// Only alerts with at least one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Not alerts with any of these tags.
    #[serde(default)]
    pub exclude_tags: Vec<String>,
    /// Only these event sources (`aws_cloudtrail`, `k8s_audit`, `syscall`).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Only alerts about these AWS accounts.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Only alerts about these Kubernetes namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl RouteConfig {
    /// The filter the output applies.
    pub fn route(&self) -> Route {
        Route {
            min_priority: self.min_priority.map(|p| p.0),
            rules: self.rules.clone(),
            exclude_rules: self.exclude_rules.clone(),
            tags: self.tags.clone(),
            exclude_tags: self.exclude_tags.clone(),
            sources: self.sources.clone(),
            accounts: self.accounts.clone(),
            namespaces: self.namespaces.clone(),
        }
    }
}

/// Where alerts go. Every output has an optional `name` (its delivery cursor in the store; the
/// type by default) and an optional `filter` ([`RouteConfig`]).
#[derive(Debug, Deserialize, Clone)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)]
pub enum OutputConfig {
    /// Standard output, one alert per line.
    Stdout {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        #[serde(default)]
        format: LineFormat,
    },
    /// A file (JSON lines or OCSF), optionally rotated.
    File {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        path: PathBuf,
        #[serde(default)]
        format: FileFormat,
        rotate: Option<RotateConfig>,
    },
    /// HTTP POST of each batch.
    Webhook {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        timeout: Option<Dur>,
    },
    /// A Slack incoming webhook.
    Slack {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        webhook_url: String,
    },
    /// An SNS topic.
    Sns {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        topic_arn: String,
    },
    /// An SQS queue.
    Sqs {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        queue_url: String,
    },
    /// AWS Security Hub findings (ASFF).
    SecurityHub {
        name: Option<String>,
        #[serde(default)]
        filter: RouteConfig,
        /// Account whose Security Hub receives findings (default: the caller's, from STS).
        account: Option<String>,
        region: Option<String>,
    },
}

impl Config {
    /// Whether a source or output talks to AWS (and so needs credentials and a region).
    pub fn needs_aws(&self) -> bool {
        self.posture.is_some()
            || self.sources.iter().any(|s| {
                matches!(
                    s,
                    SourceConfig::Sqs { .. }
                        | SourceConfig::CloudwatchLogs { .. }
                        | SourceConfig::EcrEvents { .. }
                        | SourceConfig::Inventory { ecs: true, .. }
                )
            })
            || self.outputs.iter().any(|o| {
                matches!(
                    o,
                    OutputConfig::Sns { .. }
                        | OutputConfig::Sqs { .. }
                        | OutputConfig::SecurityHub { .. }
                )
            })
    }
}

impl OutputConfig {
    fn parts(&self) -> (&Option<String>, &RouteConfig, &'static str) {
        match self {
            OutputConfig::Stdout { name, filter, .. } => (name, filter, "stdout"),
            OutputConfig::File { name, filter, .. } => (name, filter, "file"),
            OutputConfig::Webhook { name, filter, .. } => (name, filter, "webhook"),
            OutputConfig::Slack { name, filter, .. } => (name, filter, "slack"),
            OutputConfig::Sns { name, filter, .. } => (name, filter, "sns"),
            OutputConfig::Sqs { name, filter, .. } => (name, filter, "sqs"),
            OutputConfig::SecurityHub { name, filter, .. } => (name, filter, "security_hub"),
        }
    }

    /// The configured or default name (the store keys delivery cursors by it).
    pub fn name(&self) -> String {
        let (n, _, kind) = self.parts();
        n.clone().unwrap_or_else(|| kind.to_string())
    }

    /// Which alerts it receives.
    pub fn filter(&self) -> &RouteConfig {
        self.parts().1
    }
}

/// Text or JSON lines.
#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum LineFormat {
    #[default]
    Json,
    Text,
}

/// Harrier's JSON lines or OCSF Detection Findings.
#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum FileFormat {
    #[default]
    Json,
    Ocsf,
}

/// Size-based rotation of a file output.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RotateConfig {
    /// Rotate when the file would grow past this.
    pub max_bytes: u64,
    /// Rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: u32,
}

fn default_keep() -> u32 {
    5
}

/// The console: where it listens and how it is reached.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address (a non-loopback address needs `tls_cert` and `tls_key`).
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
    /// PEM certificate chain, for HTTPS.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key, for HTTPS.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// API tokens: lines `name role token` (role viewer or admin), mode 600.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

/// Prometheus metrics and health.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of `/metrics` and `/healthz` (may be the audit webhook's: one listener serves
    /// both).
    #[serde(deserialize_with = "addr")]
    pub listen: SocketAddr,
}

/// Reads and checks the configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let read = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read)?;
    if meta.len() > MAX_CONFIG {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    parse(&text).map_err(|e| match e {
        ConfigError::Invalid { pos, message, .. } => ConfigError::Invalid {
            file: Some(path.to_path_buf()),
            pos,
            message,
        },
        other => other,
    })
}

/// Parses configuration text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let docs =
        harrier_rules::yaml::parse(text).map_err(|e| ConfigError::at(Some(e.pos), e.message))?;
    let doc = match docs.len() {
        0 => return Ok(Config::default()),
        1 => &docs[0],
        n => {
            return Err(ConfigError::at(
                None,
                format!("expected one YAML document, found {n}"),
            ))
        }
    };
    let mut places = HashMap::new();
    let v = to_json(doc, String::new(), &mut places)?;
    let cfg: Config = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let inner = e.into_inner().to_string();
        let (at, pos) = locate(&places, &path, &inner);
        let at = if at.is_empty() { at } else { format!("{at}: ") };
        ConfigError::at(pos, format!("{at}{inner}"))
    })?;
    check(&cfg, &places)?;
    Ok(cfg)
}

/// Where a deserialisation error at `path` is: the key it names (an unknown field) or the
/// value it quotes, looked for at `path` and below it (inside a `type`-tagged section serde
/// reports the section's path only), else `path` itself.
fn locate(places: &Places, path: &str, message: &str) -> (String, Option<Pos>) {
    let below = |p: &str| {
        p == path
            || path.is_empty()
            || p.starts_with(&format!("{path}."))
            || p.starts_with(&format!("{path}["))
    };
    let best = |pred: &dyn Fn(&str, &Option<String>) -> bool| {
        places
            .iter()
            .filter(|(p, (_, v))| below(p) && pred(p, v))
            .min_by_key(|(p, (pos, _))| (pos.line, pos.col, p.len()))
            .map(|(p, (pos, _))| (p.clone(), Some(*pos)))
    };
    if let Some(key) = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        // The key itself is named in the message: point at the map holding it.
        let suffix = format!(".{key}");
        if let Some((p, pos)) = best(&|p, _| p == key || p.ends_with(&suffix)) {
            let parent = p[..p.len() - key.len()].trim_end_matches('.').to_string();
            return (parent, pos);
        }
    }
    if let Some(found) = best(&|_, v| {
        v.as_ref().is_some_and(|v| {
            ["\"", "`", "'"]
                .iter()
                .any(|q| message.contains(&format!("{q}{v}{q}")))
        })
    }) {
        return found;
    }
    (path.to_string(), places.get(path).map(|(pos, _)| *pos))
}

/// Position of each key and element, by path, with the scalar's text where it is one.
type Places = HashMap<String, (Pos, Option<String>)>;

fn check(cfg: &Config, places: &Places) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, o) in cfg.outputs.iter().enumerate() {
        if o.name().starts_with('~') {
            return Err(ConfigError::at(
                places.get(&format!("outputs[{i}].name")).map(|p| p.0),
                format!(
                    "output name {:?}: names starting with `~` are Harrier's own cursors (the incident correlation's)",
                    o.name()
                ),
            ));
        }
        if !names.insert(o.name()) {
            return Err(ConfigError::at(
                places.get(&format!("outputs[{i}]")).map(|p| p.0),
                format!("two outputs are named {:?}: give one a `name`", o.name()),
            ));
        }
    }
    if let Some(st) = &cfg.store {
        let at = places.get("store").map(|p| p.0);
        let known = st == "sqlite"
            || st.starts_with("sqlite://")
            || st.starts_with("postgres://")
            || st.starts_with("postgresql://");
        if !known {
            return Err(ConfigError::at(
                at,
                "store: expected sqlite, sqlite:///path/alerts.db or postgres://user:password@host:port/db",
            ));
        }
    }
    if let Some(c) = &cfg.console {
        let at = places.get("console").map(|p| p.0);
        if c.tls_cert.is_some() != c.tls_key.is_some() {
            return Err(ConfigError::at(
                at,
                "console: tls_cert and tls_key go together",
            ));
        }
        if c.tls_cert.is_none() && !c.listen.ip().is_loopback() {
            return Err(ConfigError::at(
                at,
                format!(
                    "console: {} is not a loopback address: serving the console beyond this machine needs tls_cert and tls_key",
                    c.listen
                ),
            ));
        }
    }
    if cfg.sources.is_empty() && cfg.console.is_none() {
        return Err(ConfigError::at(
            places.get("sources").map(|p| p.0),
            "no sources: add at least one under `sources:` (sqs, cloudwatch_logs, k8s_audit, ecr_events, inventory, admission, sensor)",
        ));
    }
    for (i, s) in cfg.sources.iter().enumerate() {
        if matches!(
            s,
            SourceConfig::EcrEvents { .. } | SourceConfig::Inventory { .. }
        ) && cfg.images.is_none()
        {
            return Err(ConfigError::at(
                places.get(&format!("sources[{i}]")).map(|p| p.0),
                format!("sources[{i}]: an ecr_events or inventory source needs `images:` (how images are scanned)"),
            ));
        }
        if let SourceConfig::Inventory {
            ecs,
            kubeconfig,
            in_cluster,
            ..
        } = s
        {
            if !ecs && kubeconfig.is_none() && !in_cluster {
                return Err(ConfigError::at(
                    places.get(&format!("sources[{i}]")).map(|p| p.0),
                    format!("sources[{i}]: an inventory source needs ecs: true, kubeconfig or in_cluster: true"),
                ));
            }
        }
        if let SourceConfig::K8sAudit {
            tls_cert, tls_key, ..
        } = s
        {
            if tls_cert.is_some() != tls_key.is_some() {
                return Err(ConfigError::at(
                    places.get(&format!("sources[{i}]")).map(|p| p.0),
                    format!("sources[{i}]: tls_cert and tls_key go together"),
                ));
            }
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() || path == "." {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The YAML tree as JSON, with `${VAR}` expanded and the position of every key and element
/// recorded under its path (`outputs[2].filter.min_priority`, serde_path_to_error's notation).
fn to_json(n: &Node, path: String, places: &mut Places) -> Result<Value, ConfigError> {
    let entry = places
        .entry(path.clone())
        .or_insert_with(|| (n.pos(), None));
    entry.1 = n.as_str().map(str::to_string);
    Ok(match n {
        Node::Scalar { value, quoted, pos } => {
            let expanded = expand_env(value).map_err(|m| ConfigError::at(Some(*pos), m))?;
            if *quoted {
                Value::String(expanded)
            } else {
                plain_scalar(&expanded)
            }
        }
        Node::Seq(items, _) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| to_json(x, format!("{path}[{i}]"), places))
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries, _) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let Some(key) = k.as_str() else {
                    return Err(ConfigError::at(
                        Some(k.pos()),
                        format!("a key must be a plain string, not {}", k.kind()),
                    ));
                };
                let p = join(&path, key);
                places.insert(p.clone(), (k.pos(), None));
                let val = to_json(v, p, places)?;
                if m.insert(key.to_string(), val).is_some() {
                    return Err(ConfigError::at(
                        Some(k.pos()),
                        format!("key {key:?} is given twice"),
                    ));
                }
            }
            Value::Object(m)
        }
    })
}

/// YAML 1.2 core schema for unquoted scalars.
fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Some(f) = s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && s.bytes().any(|b| b.is_ascii_digit()))
            {
                Value::from(f)
            } else {
                Value::String(s.to_string())
            }
        }
    }
}

/// Replaces `${NAME}` with the environment variable NAME (which must be set), and
/// `${NAME:-default}` with NAME or, when unset, the default.
fn expand_env(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            return Err(format!("unterminated ${{ in {s:?}"));
        };
        let expr = &rest[i + 2..i + j];
        let val = match expr.split_once(":-") {
            Some((name, default)) => std::env::var(name).unwrap_or_else(|_| default.to_string()),
            None => std::env::var(expr).map_err(|_| {
                format!("environment variable {expr} (used in the config) is not set")
            })?,
        };
        out.push_str(&val);
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

fn default_true() -> bool {
    true
}
