//! `harrier serve --config harrier.yaml`: the configured sources, through the rules, into the
//! alert store, and from there to every configured output.
//!
//! Threads: one per source (its own detector and store connection), one per output (its own
//! cursor), one for metrics. SIGTERM or SIGINT: sources finish the deliveries they hold
//! (evaluated, stored, acknowledged) and stop; then outputs deliver what is pending, for up to
//! ten seconds, and the process exits 0. Whatever an output could not deliver stays in the store
//! for the next start.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use harrier_alerts::outputs::{
    self, DriveOptions, FileOutput, FileShape, Output, OutputStats, Rotation, SlackOutput,
    StdoutOutput, WebhookOutput,
};
use harrier_alerts::store::{Limit, RuleThrottle, Store, StoreSink, Throttle};
use harrier_alerts::AlertSink;
use harrier_detect::{Detector, Options};
use harrier_rules::{Priority, RuleSet};
use harrier_sources::aws::cwlogs::{CwLogsOptions, CwLogsSource};
use harrier_sources::aws::sqs::{SqsOptions, SqsSource};
use harrier_sources::live::LiveSource;
use harrier_sources::webhook::{WebhookConfig, WebhookServer, DEFAULT_MAX_BODY};

use crate::config::{self, Config, FileFormat, LineFormat, OutputConfig, SourceConfig};
use crate::metrics::{Metrics, SourceMetrics};
use crate::{ruleload, state};

fn duration(s: &Option<String>, what: &str, default: Duration) -> Result<Duration> {
    match s {
        None => Ok(default),
        Some(s) => state::parse_duration(s)
            .with_context(|| format!("{what}: {s:?} is not a duration such as 30s, 10m, 1h")),
    }
}

fn throttle(cfg: &config::NoiseConfig) -> Result<Throttle> {
    let limit = |window: &Option<String>, max: Option<u32>, what: &str| -> Result<Option<Limit>> {
        Ok(match (window, max) {
            (None, None) => None,
            (w, m) => Some(Limit {
                window: duration(w, what, Duration::from_secs(600))?,
                max: m.unwrap_or(1),
            }),
        })
    };
    let mut t = Throttle {
        default: limit(&cfg.window, cfg.max, "noise.window")?,
        ..Throttle::default()
    };
    for (rule, r) in &cfg.rules {
        let own = limit(&r.window, r.max, &format!("noise.rules.{rule}.window"))?;
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
    Ok(t)
}

/// Runs the service described by the file at `path`.
pub fn run(path: &Path, endpoint_url: Option<&str>) -> Result<ExitCode> {
    let mut cfg = config::load(path)?;
    if let Some(u) = endpoint_url {
        cfg.aws.endpoint_url = Some(u.to_string());
    }
    let (mut rules, diags) = ruleload::load(&cfg.rules.paths, !cfg.rules.builtin)?;
    if ruleload::report(&diags) > 0 {
        eprintln!("harrier: errors in rule files: not serving");
        return Ok(ExitCode::from(2));
    }
    if let Some(p) = &cfg.rules.min_priority {
        rules.set_min_priority(
            p.parse::<Priority>()
                .map_err(|e| anyhow::anyhow!("rules.min_priority: {e}"))?,
        );
    }
    let throttle = throttle(&cfg.noise)?;
    let dir = state::state_dir(cfg.state_dir.as_deref())?;
    let db = dir.join("alerts.db");
    let store = Store::open(&db)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let aws = harrier_aws::AwsOptions {
        profile: cfg.aws.profile.clone(),
        region: cfg.aws.region.clone(),
        endpoint_url: cfg.aws.endpoint_url.clone(),
    };
    let sdk = rt.block_on(harrier_aws::sdk_config(&aws, None));

    let outputs = build_outputs(&cfg, &rt, &sdk)?;
    for o in &outputs {
        store.register_output(o.name(), false)?;
    }
    let mut live: Vec<Box<dyn LiveSource>> = Vec::new();
    let mut hooks = Vec::new();
    let mut sensors = Vec::new();
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
                    rt.handle().clone(),
                    aws_sdk_sqs::Client::new(&sdk),
                    harrier_aws::s3_client(&sdk, aws.custom_endpoint()),
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
                o.interval = duration(interval, "interval", o.interval)?;
                o.lookback = duration(lookback, "lookback", o.lookback)?;
                if let Some(s) = start {
                    o.start_ms = Some(state::parse_when(s, state::now_ns())? / 1_000_000);
                }
                let cp = store.checkpoint(&o.source_name())?;
                live.push(Box::new(CwLogsSource::new(
                    rt.handle().clone(),
                    aws_sdk_cloudwatchlogs::Client::new(&sdk),
                    o,
                    cp.as_deref(),
                )));
            }
            SourceConfig::K8sAudit {
                listen,
                path,
                token_file,
                tls_cert,
                tls_key,
            } => {
                let read = |p: &Path| {
                    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
                };
                let tls = match (tls_cert, tls_key) {
                    (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
                    (None, None) => None,
                    _ => bail!("k8s_audit: tls_cert and tls_key go together"),
                };
                let token = match token_file {
                    Some(f) => Some(String::from_utf8_lossy(&read(f)?).trim().to_string()),
                    None => None,
                };
                let server = WebhookServer::bind(WebhookConfig {
                    listen: listen.parse().with_context(|| {
                        format!("k8s_audit.listen: {listen:?} is not an address")
                    })?,
                    path: path.clone(),
                    tls,
                    token,
                    max_body: DEFAULT_MAX_BODY,
                })
                .map_err(anyhow::Error::msg)?;
                hooks.push(server);
            }
            SourceConfig::Sensor {
                runtime_roots,
                hidden_every,
            } => {
                let mut o = harrier_sensor::Options::default();
                if !runtime_roots.is_empty() {
                    o.runtime_roots = runtime_roots.clone();
                }
                let every = duration(
                    hidden_every,
                    "sensor.hidden_every",
                    Duration::from_secs(300),
                )?;
                o.hidden_every = (!every.is_zero()).then_some(every);
                sensors.push(o);
            }
        }
    }
    let metrics_server = match &cfg.metrics {
        Some(m) => Some(
            tiny_http::Server::http(&m.listen)
                .map_err(|e| anyhow::anyhow!("metrics.listen {}: {e}", m.listen))?,
        ),
        None => None,
    };

    let mut metrics = Metrics::default();
    let out_stats: Vec<Arc<OutputStats>> = outputs
        .iter()
        .map(|_| Arc::new(OutputStats::default()))
        .collect();
    for (o, s) in outputs.iter().zip(&out_stats) {
        metrics.outputs.push((o.name().to_string(), Arc::clone(s)));
    }
    let live_metrics: Vec<Arc<SourceMetrics>> = live
        .iter()
        .map(|s| {
            Arc::new(SourceMetrics {
                name: s.name().to_string(),
                stats: Some(s.stats()),
                ..SourceMetrics::default()
            })
        })
        .collect();
    let sensor_metrics: Vec<Arc<SourceMetrics>> = sensors
        .iter()
        .map(|_| {
            Arc::new(SourceMetrics {
                name: "sensor".into(),
                ..SourceMetrics::default()
            })
        })
        .collect();
    let hook_metrics: Vec<Arc<SourceMetrics>> = hooks
        .iter()
        .map(|h| {
            Arc::new(SourceMetrics {
                name: format!(
                    "k8s_audit://{}",
                    h.local_addr().map(|a| a.to_string()).unwrap_or_default()
                ),
                ..SourceMetrics::default()
            })
        })
        .collect();
    metrics.sources.extend(live_metrics.iter().cloned());
    metrics.sources.extend(hook_metrics.iter().cloned());
    metrics.sources.extend(sensor_metrics.iter().cloned());

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install signal handler")?;
    }
    let outputs_stop = AtomicBool::new(false);
    let wake = outputs::Wake::default();
    let wake = &wake;
    eprintln!(
        "harrier: serving {} source(s) into {} with {} rules; {} output(s){}",
        live.len() + hooks.len() + sensors.len(),
        db.display(),
        rules.active_count(),
        outputs.len(),
        metrics_server
            .as_ref()
            .and_then(|s| s.server_addr().to_ip())
            .map(|a| format!("; metrics on http://{a}/metrics"))
            .unwrap_or_default()
    );
    let (rules, throttle, db, metrics) = (&rules, &throttle, &db, &metrics);
    let stop_ref: &AtomicBool = &stop;
    let outputs_stop = &outputs_stop;
    std::thread::scope(|s| -> Result<()> {
        for (o, st) in outputs.into_iter().zip(out_stats) {
            let store = Store::open(db)?;
            s.spawn(move || {
                outputs::run_output(store, o, st, outputs_stop, wake, DriveOptions::default())
            });
        }
        if let Some(server) = metrics_server {
            s.spawn(move || crate::metrics::serve(server, metrics, outputs_stop));
        }
        let mut source_threads = Vec::new();
        for (mut src, m) in live.into_iter().zip(live_metrics) {
            let sink = StoreSink::new(Store::open(db)?, throttle.clone());
            source_threads.push(
                s.spawn(move || run_live(rules, src.as_mut(), sink, &m, metrics, wake, stop_ref)),
            );
        }
        for (server, m) in hooks.into_iter().zip(hook_metrics) {
            let sink = StoreSink::new(Store::open(db)?, throttle.clone());
            source_threads
                .push(s.spawn(move || run_hook(rules, &server, sink, &m, metrics, wake, stop_ref)));
        }
        for (o, m) in sensors.into_iter().zip(sensor_metrics) {
            let sink = StoreSink::new(Store::open(db)?, throttle.clone());
            source_threads
                .push(s.spawn(move || run_sensor(rules, &o, sink, &m, metrics, wake, stop_ref)));
        }
        for t in source_threads {
            let _ = t.join();
        }
        // Sources are done: let the outputs deliver what is left, then stop.
        outputs_stop.store(true, Ordering::Relaxed);
        Ok(())
    })?;
    let store = Store::open(db)?;
    eprintln!("harrier: stopped; {} alert(s) in the store", store.count()?);
    for d in store.deliveries()? {
        let behind = store.pending(&d.output, 1_000_000)?.len();
        if behind > 0 {
            eprintln!(
                "harrier: output {}: {behind} alert(s) not yet delivered (kept for the next start)",
                d.output
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn publish(
    det: &Detector<'_>,
    sink: &mut StoreSink,
    m: &SourceMetrics,
    metrics: &Metrics,
    wake: &outputs::Wake,
) {
    let r = Ordering::Relaxed;
    if sink.totals.new > m.stored_new.load(r) {
        wake.notify();
    }
    m.events.store(det.stats.records, r);
    m.bad_records.store(det.stats.bad_input(), r);
    m.stored_new.store(sink.totals.new, r);
    m.stored_duplicate.store(sink.totals.duplicates, r);
    m.stored_suppressed.store(sink.totals.suppressed, r);
    let mut all = metrics.alerts.lock().unwrap_or_else(|p| p.into_inner());
    for ((rule, p), n) in sink.raised.drain() {
        *all.entry((rule, p.as_str().to_string())).or_default() += n;
    }
}

fn run_live(
    rules: &RuleSet,
    src: &mut dyn LiveSource,
    mut sink: StoreSink,
    m: &SourceMetrics,
    metrics: &Metrics,
    wake: &outputs::Wake,
    stop: &AtomicBool,
) {
    let mut det = Detector::new(rules, harrier_detect::hostname(), Options::default());
    let name = src.name().to_string();
    harrier_detect::live::run_source(
        &mut det,
        src,
        &mut sink,
        stop,
        &mut |p| tracing::warn!(source = %name, problem = %p, "bad input"),
        &mut |d, s| publish(d, s, m, metrics, wake),
    );
    publish(&det, &mut sink, m, metrics, wake);
}

/// The runtime sensor as a source: its events go through the detector into the store, and a
/// commit wakes the outputs.
fn run_sensor(
    rules: &RuleSet,
    opts: &harrier_sensor::Options,
    mut sink: StoreSink,
    m: &SourceMetrics,
    metrics: &Metrics,
    wake: &outputs::Wake,
    stop: &AtomicBool,
) {
    let mut det = Detector::new(rules, harrier_detect::hostname(), Options::default());
    let mut seq = 0u64;
    let mut handler = |ev: &[u8]| -> Result<(), String> {
        seq += 1;
        let raised = det
            .process_live_event(
                ev,
                seq,
                "sensor",
                &mut sink,
                &mut |p| tracing::warn!(source = "sensor", problem = %p, "bad event"),
            )
            .map_err(|e| format!("storing alerts failed: {e}"))?;
        if raised {
            publish(&det, &mut sink, m, metrics, wake);
        }
        Ok(())
    };
    let mut ready = || eprintln!("harrier sensor: ready");
    match harrier_sensor::run(opts, stop, &mut ready, &mut handler) {
        Ok(s) => eprintln!(
            "harrier sensor: {} kernel records, {} events, {} dropped by the kernel",
            s.records,
            s.events,
            s.dropped()
        ),
        Err(e) => eprintln!("harrier: sensor: {e}"),
    }
    if let Err(e) = sink.flush() {
        eprintln!("harrier: sensor: storing alerts failed: {e}");
    }
    publish(&det, &mut sink, m, metrics, wake);
}

fn run_hook(
    rules: &RuleSet,
    server: &WebhookServer,
    mut sink: StoreSink,
    m: &SourceMetrics,
    metrics: &Metrics,
    wake: &outputs::Wake,
    stop: &AtomicBool,
) {
    let mut det = Detector::new(rules, harrier_detect::hostname(), Options::default());
    let mut handler = |body: &[u8]| {
        let v = crate::serve::handle_audit_body(&mut det, body, &mut sink);
        publish(&det, &mut sink, m, metrics, wake);
        v
    };
    server.run(&mut handler, stop);
}

fn build_outputs(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<Box<dyn Output>>> {
    let mut out: Vec<Box<dyn Output>> = Vec::new();
    let mut account: Option<String> = None;
    for o in &cfg.outputs {
        let name = o.name();
        out.push(match o {
            OutputConfig::Stdout { format, .. } => {
                Box::new(StdoutOutput::new(*format == LineFormat::Json))
            }
            OutputConfig::File {
                path,
                format,
                rotate,
                ..
            } => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).with_context(|| {
                        format!("output {name}: cannot create {}", parent.display())
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
                Box::new(FileOutput::new(name, path, shape, rotation))
            }
            OutputConfig::Webhook {
                url,
                headers,
                timeout,
                ..
            } => Box::new(WebhookOutput::new(
                name,
                url,
                headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                duration(timeout, "webhook timeout", Duration::from_secs(10))?,
            )),
            OutputConfig::Slack { webhook_url, .. } => {
                Box::new(SlackOutput::new(name, webhook_url, Duration::from_secs(10)))
            }
            OutputConfig::Sns { topic_arn, .. } => Box::new(outputs::aws::SnsOutput::new(
                name,
                rt.handle().clone(),
                aws_sdk_sns::Client::new(sdk),
                topic_arn,
            )),
            OutputConfig::Sqs { queue_url, .. } => Box::new(outputs::aws::SqsOutput::new(
                name,
                rt.handle().clone(),
                aws_sdk_sqs::Client::new(sdk),
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
                        let a = rt
                            .block_on(harrier_aws::caller_account(sdk))
                            .map_err(anyhow::Error::msg)?;
                        account = Some(a.clone());
                        a
                    }
                };
                let region = region
                    .clone()
                    .or_else(|| sdk.region().map(|r| r.to_string()))
                    .unwrap_or_else(|| "us-east-1".into());
                let client = aws_sdk_securityhub::Client::from_conf(
                    aws_sdk_securityhub::config::Builder::from(sdk)
                        .region(aws_config::Region::new(region.clone()))
                        .build(),
                );
                Box::new(outputs::aws::SecurityHubOutput::new(
                    name,
                    rt.handle().clone(),
                    client,
                    &acct,
                    &region,
                ))
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_settings_become_throttles() {
        let cfg = config::parse(
            "sources: [{type: sqs, queue_url: q}]\nnoise:\n  window: 5m\n  max: 2\n  rules:\n    Quiet: { throttle: false }\n    Own: { window: 1h, key: [ct.user] }\n",
        )
        .unwrap();
        let t = throttle(&cfg.noise).unwrap();
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
        assert_eq!(throttle(&none.noise).unwrap(), Throttle::default());
        let bad = config::parse("sources: [{type: sqs, queue_url: q}]\nnoise: { window: soon }\n")
            .unwrap();
        assert!(throttle(&bad.noise)
            .unwrap_err()
            .to_string()
            .contains("noise.window"));
    }
}
