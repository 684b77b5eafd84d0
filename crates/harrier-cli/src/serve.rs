//! `harrier serve`: the Kubernetes audit webhook, evaluated as it arrives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use harrier_alerts::{AlertSink, Format, WriterSink};
use harrier_detect::{Detector, Options};
use harrier_events::json;
use harrier_events::lazy::{Record, Scratch};
use harrier_rules::Priority;
use harrier_sources::webhook::{Verdict, WebhookConfig, WebhookServer, DEFAULT_MAX_BODY};

use crate::{ruleload, OutputFormat};

#[derive(Args)]
pub struct ServeArgs {
    /// Run the sources and outputs of this configuration file (see docs/harrier.example.yaml);
    /// the other options then do not apply.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// With --config: AWS endpoint URL for every service (moto, LocalStack), over the file's
    /// `aws.endpoint_url`; AWS_ENDPOINT_URL also works.
    #[arg(long, requires = "config")]
    endpoint_url: Option<String>,
    /// Address of the audit webhook.
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// Path of the audit webhook endpoint.
    #[arg(long, default_value = "/k8s-audit")]
    path: String,
    /// PEM certificate (chain) for HTTPS; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// File holding the bearer token the API server must send (or set HARRIER_WEBHOOK_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY)]
    max_body: usize,
    /// Extra rule files or directories (Falco or Sigma).
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    no_default_rules: bool,
    /// Alert format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    format: OutputFormat,
    /// Append alerts to this file instead of printing them.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Only run rules at or above this priority.
    #[arg(long, value_parser = |s: &str| s.parse::<Priority>().map_err(|e| e.to_string()))]
    min_priority: Option<Priority>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if let Some(cfg) = &args.config {
        return crate::serve_live::run(cfg, args.endpoint_url.as_deref());
    }
    let (mut rules, diags) = ruleload::load(&args.rules, args.no_default_rules)?;
    if ruleload::report(&diags) > 0 {
        eprintln!("harrier: errors in rule files: not serving");
        return Ok(ExitCode::from(2));
    }
    if let Some(p) = args.min_priority {
        rules.set_min_priority(p);
    }
    let token = match &args.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .trim()
                .to_string(),
        ),
        None => std::env::var("HARRIER_WEBHOOK_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((
            std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?,
            std::fs::read(k).with_context(|| format!("cannot read {}", k.display()))?,
        )),
        _ => None,
    };
    let https = tls.is_some();
    let server = WebhookServer::bind(WebhookConfig {
        listen: args.listen,
        path: args.path.clone(),
        tls,
        token,
        max_body: args.max_body,
    })
    .map_err(anyhow::Error::msg)?;
    let addr = server.local_addr().unwrap_or(args.listen);
    let format = match args.format {
        OutputFormat::Text => Format::Text { color: false },
        OutputFormat::Json => Format::Json,
    };
    let mut sink: Box<dyn AlertSink> = match &args.output {
        Some(p) => Box::new(
            WriterSink::append_file(p, format)
                .with_context(|| format!("cannot open {}", p.display()))?,
        ),
        None => Box::new(WriterSink::new("stdout", std::io::stdout(), format, false)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("cannot install signal handler")?;
    }
    eprintln!(
        "harrier: serving the Kubernetes audit webhook on {}://{addr}{} ({} rules)",
        if https { "https" } else { "http" },
        args.path,
        rules.active_count()
    );
    let start = Instant::now();
    let mut detector = Detector::new(&rules, harrier_detect::hostname(), Options::default());
    let mut handler =
        |body: &[u8]| -> Verdict { handle_audit_body(&mut detector, body, sink.as_mut()) };
    server.run(&mut handler, &stop);
    sink.flush().context("writing alerts failed")?;
    eprintln!(
        "harrier: stopped; {}",
        detector
            .stats
            .summary(start.elapsed())
            .replace('\n', "\nharrier: ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Checks and evaluates one webhook body (an audit `Event` or `EventList`); answers only once
/// its alerts are flushed to `sink`.
pub fn handle_audit_body(
    detector: &mut Detector<'_>,
    body: &[u8],
    sink: &mut dyn AlertSink,
) -> Verdict {
    // Check the whole body before evaluating anything from it.
    let start = json::skip_ws(body, 0);
    match json::skip_value(body, start) {
        Err(e) => {
            return Verdict::BadRequest(format!("invalid JSON at byte {}: {}", e.offset, e.kind))
        }
        Ok(end) if json::skip_ws(body, end) != body.len() => {
            return Verdict::BadRequest(format!(
                "unexpected data after the JSON value at byte {end}"
            ))
        }
        Ok(_) => {}
    }
    let scratch = Scratch::default();
    let kind = Record::new(body, &scratch)
        .str_at(&["kind"])
        .map(|k| k.into_owned());
    if !matches!(kind.as_deref(), Some("Event" | "EventList")) {
        return Verdict::BadRequest("expected an audit.k8s.io Event or EventList".into());
    }
    let before = detector.stats.records;
    let written = detector.process_record(body, 0, "webhook", sink, &mut |p| {
        tracing::warn!(problem = %p, "webhook: bad event");
    });
    // Acknowledge only once the alerts are durable.
    if let Err(e) = written.and_then(|_| sink.flush()) {
        return Verdict::Unavailable(format!("cannot write alerts: {e}"));
    }
    Verdict::Accepted((detector.stats.records - before) as usize)
}
