//! `harrier serve --config harrier.yaml`: the service's configuration file.
//!
//! YAML, read into typed settings with unknown keys refused (a typo must not silently turn an
//! output off). `${NAME}` in a string is replaced by the environment variable NAME, so secrets
//! (webhook URLs, tokens) need not be written in the file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// Largest configuration file read.
const MAX_CONFIG: u64 = 1 << 20;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// State directory (alert store, checkpoints).
    pub state_dir: Option<PathBuf>,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub noise: NoiseConfig,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub outputs: Vec<OutputConfig>,
    pub metrics: Option<MetricsConfig>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    #[serde(default = "yes")]
    pub builtin: bool,
    pub min_priority: Option<String>,
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

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Default window (`10m`); with `max`, alerts of the same rule, principal and resource
    /// beyond `max` per window are stored as suppressed and not delivered.
    pub window: Option<String>,
    pub max: Option<u32>,
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, RuleNoise>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RuleNoise {
    pub window: Option<String>,
    pub max: Option<u32>,
    /// `false`: never throttle this rule.
    pub throttle: Option<bool>,
    /// Output fields that make the de-duplication key instead of principal and resource.
    pub key: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// S3/CloudTrail notifications on an SQS queue.
    Sqs {
        queue_url: String,
        #[serde(default = "default_wait")]
        wait_seconds: i32,
        #[serde(default = "default_visibility")]
        visibility_timeout: i32,
    },
    /// A CloudWatch Logs group.
    CloudwatchLogs {
        log_group: String,
        stream_prefix: Option<String>,
        /// Poll interval (`10s`).
        interval: Option<String>,
        /// Look-back window for late events (`2m`).
        lookback: Option<String>,
        /// Without a checkpoint, start this long ago (`1h`); default: now.
        start: Option<String>,
    },
    /// The Kubernetes audit webhook.
    K8sAudit {
        listen: String,
        #[serde(default = "default_k8s_path")]
        path: String,
        token_file: Option<PathBuf>,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
    },
    /// The eBPF runtime sensor on this host (Linux, root).
    Sensor {
        /// Where container runtimes keep per-container metadata (default: containerd's and
        /// Docker's usual places).
        #[serde(default)]
        runtime_roots: Vec<PathBuf>,
        /// Hidden-process check interval (`5m`; `0s`: never).
        hidden_every: Option<String>,
    },
}

fn default_wait() -> i32 {
    20
}
fn default_visibility() -> i32 {
    120
}
fn default_k8s_path() -> String {
    "/k8s-audit".into()
}

#[derive(Debug, Deserialize, Clone)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputConfig {
    Stdout {
        name: Option<String>,
        #[serde(default)]
        format: LineFormat,
    },
    File {
        name: Option<String>,
        path: PathBuf,
        #[serde(default)]
        format: FileFormat,
        rotate: Option<RotateConfig>,
    },
    Webhook {
        name: Option<String>,
        url: String,
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
        timeout: Option<String>,
    },
    Slack {
        name: Option<String>,
        webhook_url: String,
    },
    Sns {
        name: Option<String>,
        topic_arn: String,
    },
    Sqs {
        name: Option<String>,
        queue_url: String,
    },
    SecurityHub {
        name: Option<String>,
        /// Account whose Security Hub receives findings (default: the caller's, from STS).
        account: Option<String>,
        region: Option<String>,
    },
}

impl OutputConfig {
    /// The configured or default name (the store keys delivery cursors by it).
    pub fn name(&self) -> String {
        let (n, kind) = match self {
            OutputConfig::Stdout { name, .. } => (name, "stdout"),
            OutputConfig::File { name, .. } => (name, "file"),
            OutputConfig::Webhook { name, .. } => (name, "webhook"),
            OutputConfig::Slack { name, .. } => (name, "slack"),
            OutputConfig::Sns { name, .. } => (name, "sns"),
            OutputConfig::Sqs { name, .. } => (name, "sqs"),
            OutputConfig::SecurityHub { name, .. } => (name, "security_hub"),
        };
        n.clone().unwrap_or_else(|| kind.to_string())
    }
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    #[default]
    Json,
    Text,
}

#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[default]
    Json,
    Ocsf,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RotateConfig {
    pub max_bytes: u64,
    #[serde(default = "default_keep")]
    pub keep: u32,
}

fn default_keep() -> u32 {
    5
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: String,
}

/// Reads and checks the configuration file.
pub fn load(path: &Path) -> Result<Config> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_CONFIG {
        bail!("{}: larger than {} bytes", path.display(), MAX_CONFIG);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("{}", path.display()))
}

/// Parses configuration text.
pub fn parse(text: &str) -> Result<Config> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "line {}, column {}: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        )
    })?;
    let doc = match docs.len() {
        0 => return Ok(Config::default()),
        1 => &docs[0],
        _ => bail!("expected one YAML document, found {}", docs.len()),
    };
    let v = to_json(doc, 0)?;
    let cfg: Config = serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut names = std::collections::BTreeSet::new();
    for o in &cfg.outputs {
        if !names.insert(o.name()) {
            bail!("two outputs are named {:?}: give one a `name`", o.name());
        }
    }
    if cfg.sources.is_empty() {
        bail!("no sources: add at least one under `sources:` (sqs, cloudwatch_logs, k8s_audit, sensor)");
    }
    Ok(cfg)
}

fn to_json(y: &Yaml, depth: usize) -> Result<Value> {
    if depth > 32 {
        bail!("nested deeper than 32 levels");
    }
    Ok(match y {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(expand_env(s)?),
        Yaml::Array(a) => Value::Array(
            a.iter()
                .map(|x| to_json(x, depth + 1))
                .collect::<Result<_>>()?,
        ),
        Yaml::Hash(h) => {
            let mut m = serde_json::Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    other => bail!("unsupported key {other:?}"),
                };
                m.insert(key, to_json(v, depth + 1)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) => bail!("YAML aliases are not supported"),
    })
}

/// Replaces `${NAME}` with the environment variable NAME (which must be set), and
/// `${NAME:-default}` with NAME or, when unset, the default.
fn expand_env(s: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('}') else {
            bail!("unterminated ${{ in {s:?}");
        };
        let expr = &rest[i + 2..i + j];
        let val = match expr.split_once(":-") {
            Some((name, default)) => std::env::var(name).unwrap_or_else(|_| default.to_string()),
            None => std::env::var(expr).with_context(|| {
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
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../docs/harrier.example.yaml");

    #[test]
    fn the_documented_example_parses() {
        std::env::set_var("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x");
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.sources.len(), 4);
        assert!(matches!(
            &c.sources[3],
            SourceConfig::Sensor { hidden_every: Some(h), .. } if h == "5m"
        ));
        assert!(c.outputs.len() >= 7);
        assert!(c.metrics.is_some());
    }

    #[test]
    fn typos_and_missing_variables_are_errors() {
        let e = parse("sources:\n  - type: sqs\n    queue_ur: x\n").unwrap_err();
        assert!(format!("{e:#}").contains("queue_ur"), "{e:#}");
        let e = parse("sources:\n  - type: kafka\n").unwrap_err();
        assert!(format!("{e:#}").contains("kafka"), "{e:#}");
        let e = parse("sources:\n  - type: sqs\n    queue_url: ${HARRIER_TEST_UNSET_VAR}\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("HARRIER_TEST_UNSET_VAR"), "{e:#}");
        std::env::set_var("HARRIER_TEST_SET_VAR", "v");
        let c = parse("sources:\n  - type: sqs\n    queue_url: a${HARRIER_TEST_SET_VAR}b${HARRIER_TEST_UNSET_VAR:-d}\n").unwrap();
        assert!(
            matches!(&c.sources[0], SourceConfig::Sqs { queue_url, .. } if queue_url == "avbd")
        );
        let e = parse("outputs: []\n").unwrap_err();
        assert!(format!("{e:#}").contains("no sources"), "{e:#}");
        let e = parse(
            "sources: [{type: sqs, queue_url: q}]\noutputs: [{type: stdout}, {type: stdout}]\n",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("two outputs are named"), "{e:#}");
        let e = parse("sources: [\n").unwrap_err();
        assert!(format!("{e:#}").contains("line"), "{e:#}");
    }
}
