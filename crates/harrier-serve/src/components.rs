//! One builder per component: the configuration's typed settings turned into sources,
//! outputs, throttling and HTTP endpoints. Nothing here runs anything.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use harrier_alerts::outputs::{
    self, FileOutput, FileShape, Output, Rotation, Routed, SlackOutput, StdoutOutput, WebhookOutput,
};
use harrier_alerts::store::{AlertStore, Limit, RuleThrottle, Throttle};
use harrier_sources::aws::cwlogs::{CwLogsOptions, CwLogsSource};
use harrier_sources::aws::sqs::{SqsOptions, SqsSource};
use harrier_sources::live::LiveSource;
use harrier_sources::webhook::{WebhookConfig, WebhookEndpoint, DEFAULT_MAX_BODY};

use crate::config::{Config, FileFormat, LineFormat, NoiseConfig, OutputConfig, SourceConfig};
use crate::ServeError;

/// Default throttle window when only `max` is given.
const DEFAULT_WINDOW: Duration = Duration::from_secs(600);

/// The throttle of the `noise` settings.
pub fn throttle(cfg: &NoiseConfig) -> Throttle {
    let limit = |window: Option<Duration>, max: Option<u32>| match (window, max) {
        (None, None) => None,
        (w, m) => Some(Limit {
            window: w.unwrap_or(DEFAULT_WINDOW),
            max: m.unwrap_or(1),
        }),
    };
    let mut t = Throttle {
        default: limit(cfg.window.map(|d| d.0), cfg.max),
        ..Throttle::default()
    };
    for (rule, r) in &cfg.rules {
        let own = limit(r.window.map(|d| d.0), r.max);
        t.rules.insert(
            rule.clone(),
            RuleThrottle {
                limit: if r.throttle == Some(false) {
                    None
                } else {
                    own.or(t.default)
                },
                key_fields: r.key.clone(),
            },
        );
    }
    t
}

/// What the AWS-backed components share: the runtime their calls run on and the SDK config.
pub struct Aws<'a> {
    /// The runtime.
    pub rt: &'a tokio::runtime::Runtime,
    /// The SDK configuration (credentials, region, endpoint).
    pub sdk: &'a aws_config::SdkConfig,
    /// Whether a custom endpoint is set (path-style S3 addressing).
    pub custom_endpoint: bool,
}

/// The live (polled) sources: SQS queues and CloudWatch Logs groups, resumed from the store's
/// checkpoints.
pub fn live_sources(
    cfg: &Config,
    aws: &Aws<'_>,
    store: &dyn AlertStore,
) -> Result<Vec<Box<dyn LiveSource>>, ServeError> {
    let mut live: Vec<Box<dyn LiveSource>> = Vec::new();
    for s in &cfg.sources {
        match s {
            SourceConfig::Sqs {
                queue_url,
                wait_seconds,
                visibility_timeout,
            } => {
                let mut o = SqsOptions::new(queue_url);
                o.wait_seconds = *wait_seconds;
                o.visibility_seconds = *visibility_timeout;
                live.push(Box::new(SqsSource::new(
                    aws.rt.handle().clone(),
                    aws_sdk_sqs::Client::new(aws.sdk),
                    harrier_aws::s3_client(aws.sdk, aws.custom_endpoint),
                    o,
                )));
            }
            SourceConfig::CloudwatchLogs {
                log_group,
                stream_prefix,
                interval,
                lookback,
                start,
            } => {
                let mut o = CwLogsOptions::new(log_group);
                o.stream_prefix = stream_prefix.clone();
                if let Some(d) = interval {
                    o.interval = d.0;
                }
                if let Some(d) = lookback {
                    o.lookback = d.0;
                }
                o.start_ms = start
                    .as_ref()
                    .map(|w| w.resolve(harrier_events::time::now_ns()) / 1_000_000);
                let cp = store.checkpoint(&o.source_name())?;
                live.push(Box::new(CwLogsSource::new(
                    aws.rt.handle().clone(),
                    aws_sdk_cloudwatchlogs::Client::new(aws.sdk),
                    o,
                    cp.as_deref(),
                )));
            }
            SourceConfig::K8sAudit { .. }
            | SourceConfig::Sensor { .. }
            | SourceConfig::EcrEvents { .. }
            | SourceConfig::Inventory { .. }
            | SourceConfig::Admission { .. } => {}
        }
    }
    Ok(live)
}

/// One audit webhook: where it listens, with which TLS, and the endpoint.
pub struct Webhook {
    /// Its address.
    pub listen: SocketAddr,
    /// PEM certificate chain and key.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// The endpoint (path, token, body limit).
    pub endpoint: WebhookEndpoint,
}

fn read(what: &str, p: &Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(p).map_err(|source| ServeError::File {
        what: what.to_string(),
        path: p.to_path_buf(),
        source,
    })
}

/// The Kubernetes audit webhooks, with their TLS material and tokens read.
pub fn webhooks(cfg: &Config) -> Result<Vec<Webhook>, ServeError> {
    let mut out = Vec::new();
    for s in &cfg.sources {
        if let SourceConfig::K8sAudit {
            listen,
            path,
            token_file,
            tls_cert,
            tls_key,
        } = s
        {
            let tls = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => Some((
                    read("k8s_audit.tls_cert", c)?,
                    read("k8s_audit.tls_key", k)?,
                )),
                _ => None,
            };
            let token = crate::audit::webhook_token(token_file.as_deref()).map_err(|source| {
                ServeError::File {
                    what: "k8s_audit.token_file".into(),
                    path: token_file.clone().unwrap_or_default(),
                    source,
                }
            })?;
            let endpoint = WebhookEndpoint::new(WebhookConfig {
                path: path.clone(),
                token,
                max_body: DEFAULT_MAX_BODY,
            });
            out.push(Webhook {
                listen: *listen,
                tls,
                endpoint,
            });
        }
    }
    Ok(out)
}

/// The runtime sensors (normally zero or one), each filtering in the kernel what none of
/// `rules` could match unless its `kernel_filter` is off.
pub fn sensors(cfg: &Config, rules: &harrier_rules::RuleSet) -> Vec<harrier_sensor::Options> {
    cfg.sources
        .iter()
        .filter_map(|s| match s {
            SourceConfig::Sensor {
                runtime_roots,
                hidden_every,
                kernel_filter,
            } => {
                let mut o = harrier_sensor::Options::default();
                if *kernel_filter {
                    o.filter = harrier_sensor::KernelFilter::for_rules(rules);
                    eprintln!("harrier sensor: {}", o.filter.describe());
                    for n in &o.filter.notes {
                        eprintln!("harrier sensor: {n}");
                    }
                }
                if !runtime_roots.is_empty() {
                    o.runtime_roots = runtime_roots.clone();
                }
                let every = hidden_every
                    .map(|d| d.0)
                    .unwrap_or(Duration::from_secs(300));
                o.hidden_every = (!every.is_zero()).then_some(every);
                Some(o)
            }
            _ => None,
        })
        .collect()
}

/// The outputs, each behind its route. `account` is asked of STS only when a Security Hub
/// output needs it and the configuration does not say.
pub fn outputs(cfg: &Config, aws: &Aws<'_>) -> Result<Vec<Box<dyn Output>>, ServeError> {
    let mut out: Vec<Box<dyn Output>> = Vec::new();
    let mut account: Option<String> = None;
    for o in &cfg.outputs {
        let name = o.name();
        let inner: Box<dyn Output> = match o {
            OutputConfig::Stdout { format, .. } => {
                Box::new(StdoutOutput::new(&name, *format == LineFormat::Json))
            }
            OutputConfig::File {
                path,
                format,
                rotate,
                ..
            } => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| ServeError::File {
                        what: format!("output {name}: creating its directory"),
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                let shape = match format {
                    FileFormat::Json => FileShape::Json,
                    FileFormat::Ocsf => FileShape::Ocsf,
                };
                let rotation = rotate.map(|r| Rotation {
                    max_bytes: r.max_bytes,
                    keep: r.keep,
                });
                Box::new(FileOutput::new(&name, path, shape, rotation))
            }
            OutputConfig::Webhook {
                url,
                headers,
                timeout,
                ..
            } => Box::new(WebhookOutput::new(
                &name,
                url,
                headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
            )),
            OutputConfig::Slack { webhook_url, .. } => Box::new(SlackOutput::new(
                &name,
                webhook_url,
                Duration::from_secs(10),
            )),
            OutputConfig::Sns { topic_arn, .. } => Box::new(outputs::aws::SnsOutput::new(
                &name,
                aws.rt.handle().clone(),
                aws_sdk_sns::Client::new(aws.sdk),
                topic_arn,
            )),
            OutputConfig::Sqs { queue_url, .. } => Box::new(outputs::aws::SqsOutput::new(
                &name,
                aws.rt.handle().clone(),
                aws_sdk_sqs::Client::new(aws.sdk),
                queue_url,
            )),
            OutputConfig::SecurityHub {
                account: acct,
                region,
                ..
            } => {
                let acct = match acct.clone().or_else(|| account.clone()) {
                    Some(a) => a,
                    None => {
                        let a = aws
                            .rt
                            .block_on(harrier_aws::caller_account(aws.sdk))
                            .map_err(|source| ServeError::Aws {
                                what: format!("output {name}"),
                                source,
                            })?;
                        account = Some(a.clone());
                        a
                    }
                };
                let region = region
                    .clone()
                    .or_else(|| aws.sdk.region().map(|r| r.to_string()))
                    .unwrap_or_else(|| "us-east-1".into());
                let client = aws_sdk_securityhub::Client::from_conf(
                    aws_sdk_securityhub::config::Builder::from(aws.sdk)
                        .region(aws_config::Region::new(region.clone()))
                        .build(),
                );
                Box::new(outputs::aws::SecurityHubOutput::new(
                    &name,
                    aws.rt.handle().clone(),
                    client,
                    &acct,
                    &region,
                ))
            }
        };
        out.push(Routed::wrap(inner, o.filter().route()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn noise_settings_become_throttles() {
        let cfg = config::parse(
            "sources: [{type: sqs, queue_url: q}]\nnoise:\n  window: 5m\n  max: 2\n  rules:\n    Quiet: { throttle: false }\n    Own: { window: 1h, key: [ct.user] }\n",
        )
        .unwrap();
        let t = throttle(&cfg.noise);
        let five = Limit {
            window: Duration::from_secs(300),
            max: 2,
        };
        assert_eq!(t.default, Some(five));
        assert_eq!(t.rules["Quiet"].limit, None);
        assert_eq!(
            t.rules["Own"].limit,
            Some(Limit {
                window: Duration::from_secs(3600),
                max: 1
            })
        );
        assert_eq!(
            t.rules["Own"].key_fields.as_deref(),
            Some(&["ct.user".to_string()][..])
        );
        let none = config::parse("sources: [{type: sqs, queue_url: q}]\n").unwrap();
        assert_eq!(throttle(&none.noise), Throttle::default());
        // A bad window is refused when the file is read, naming the key.
        let bad = config::parse("sources: [{type: sqs, queue_url: q}]\nnoise: { window: soon }\n")
            .unwrap_err();
        assert!(bad.to_string().contains("noise.window"), "{bad}");
    }

    #[test]
    fn the_example_folds_root_use_into_one_alert_per_session() {
        std::env::set_var("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/x");
        let cfg = config::parse(include_str!("../../../docs/harrier.example.yaml")).unwrap();
        let t = throttle(&cfg.noise);
        let d = tempfile::tempdir().unwrap();
        let mut store = harrier_alerts::store::Store::open(&d.path().join("alerts.db")).unwrap();
        let root = |i: i64, ip: &str| harrier_alerts::AlertRecord {
            time_ns: i * 10_000_000_000,
            rule: "Root Account Used".into(),
            priority: harrier_rules::Priority::Error,
            source: "aws_cloudtrail".into(),
            output: format!("Root account call {i}"),
            output_fields: vec![
                ("ct.srcip".into(), Some(ip.into())),
                ("ct.useragent".into(), Some("Mozilla/5.0".into())),
            ],
            tags: vec![],
            hostname: "h".into(),
            event_id: Some(format!("e{i}")),
            rule_file: "r".into(),
            event: None,
            entities: None,
        };
        // An afternoon of root work from one browser: 680 calls, one alert.
        let calls: Vec<_> = (0..680).map(|i| root(i, "203.0.113.7")).collect();
        let done = store.insert(&calls, &t, None).unwrap();
        assert_eq!((done.new, done.suppressed), (1, 679));
        // The same browser from another address is another session.
        let other = store
            .insert(&[root(700, "198.51.100.9")], &t, None)
            .unwrap();
        assert_eq!(other.new, 1);
    }

    #[test]
    fn the_webhook_token_comes_from_the_environment_when_no_file_is_named() {
        // `serve --config` honours HARRIER_WEBHOOK_TOKEN as plain `serve` does.
        std::env::set_var("HARRIER_WEBHOOK_TOKEN", "s3cret");
        let cfg = config::parse("sources: [{type: k8s_audit, listen: '127.0.0.1:0'}]\n").unwrap();
        let hooks = webhooks(&cfg).unwrap();
        std::env::remove_var("HARRIER_WEBHOOK_TOKEN");
        let dbg = format!("{:?}", hooks[0].endpoint);
        assert!(
            dbg.contains("<redacted>") && !dbg.contains("s3cret"),
            "{dbg}"
        );
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("token");
        std::fs::write(&f, "from-file\n").unwrap();
        assert_eq!(
            crate::audit::webhook_token(Some(&f)).unwrap().as_deref(),
            Some("from-file")
        );
        let hooks = webhooks(&cfg).unwrap();
        assert!(format!("{:?}", hooks[0].endpoint).contains("token: None"));
    }
}
