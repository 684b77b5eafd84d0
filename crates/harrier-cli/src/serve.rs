//! `harrier serve`: the Kubernetes audit webhook, evaluated as it arrives.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use harrier_alerts::{AlertSink, Format, WriterSink};
use harrier_detect::{Detector, Options};
use harrier_rules::Priority;
use harrier_serve::http::{Listener, Route};
use harrier_sources::webhook::{WebhookConfig, WebhookEndpoint, DEFAULT_MAX_BODY};

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
    /// Also serve the console (web UI and REST API) over the state directory's store at this
    /// loopback address (beyond loopback: `console:` with TLS in a --config file).
    #[arg(long, value_name = "ADDR")]
    console: Option<SocketAddr>,
    /// State directory the console reads (default: $XDG_STATE_HOME/harrier or
    /// ~/.local/state/harrier).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if let Some(cfg) = &args.config {
        return serve_config(cfg, args.endpoint_url.as_deref());
    }
    let (mut rules, diags) = ruleload::load(&args.rules, args.no_default_rules)?;
    if ruleload::report(&diags) > 0 {
        eprintln!("harrier: errors in rule files: not serving");
        return Ok(ExitCode::from(2));
    }
    if let Some(p) = args.min_priority {
        rules.set_min_priority(p);
    }
    let token =
        harrier_serve::audit::webhook_token(args.token_file.as_deref()).with_context(|| {
            format!(
                "cannot read {}",
                args.token_file
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            )
        })?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some((
            std::fs::read(c).with_context(|| format!("cannot read {}", c.display()))?,
            std::fs::read(k).with_context(|| format!("cannot read {}", k.display()))?,
        )),
        _ => None,
    };
    let listener = Listener::bind(args.listen, tls, "k8s_audit")?;
    let console = match args.console {
        Some(addr) => {
            let cfg = harrier_serve::config::ConsoleConfig {
                listen: addr,
                tls_cert: None,
                tls_key: None,
                token_file: None,
            };
            anyhow::ensure!(
                addr.ip().is_loopback(),
                "--console {addr}: not a loopback address; serving the console beyond this machine needs TLS: use `console:` with tls_cert and tls_key in a --config file"
            );
            let dir = crate::state::state_dir(args.state_dir.as_deref())?;
            let db = harrier_serve::store::StoreLocation::of(None, &dir);
            Some(harrier_serve::console::start(&cfg, &dir, &db, &rules)?)
        }
        None => None,
    };
    let endpoint = WebhookEndpoint::new(WebhookConfig {
        path: args.path.clone(),
        token,
        max_body: args.max_body,
    });
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
        "harrier: serving the Kubernetes audit webhook on {}{} ({} rules)",
        listener.base_url(),
        args.path,
        rules.active_count()
    );
    let start = Instant::now();
    let mut detector = Detector::new(&rules, harrier_detect::hostname(), Options::default());
    let mut routes = vec![Route {
        path: args.path.clone(),
        handler: Box::new(|req| {
            endpoint.handle(req, &mut |body| {
                harrier_serve::audit::handle_audit_body(&mut detector, body, sink.as_mut())
            })
        }),
    }];
    std::thread::scope(|s| {
        if let Some((c, l)) = console.as_ref() {
            for _ in 0..harrier_serve::console::CONSOLE_WORKERS {
                let stop = &stop;
                s.spawn(move || harrier_serve::console::serve(c, l, stop));
            }
        }
        listener.serve(&mut routes, &stop);
    });
    drop(routes);
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

/// `serve --config FILE`: the service of harrier-serve.
fn serve_config(path: &Path, endpoint_url: Option<&str>) -> Result<ExitCode> {
    let mut cfg = harrier_serve::config::load(path)?;
    if let Some(u) = endpoint_url {
        cfg.aws.endpoint_url = Some(u.to_string());
    }
    let (rules, diags) = harrier_serve::load_rules(&cfg)?;
    if ruleload::report(&diags) > 0 {
        eprintln!("harrier: errors in rule files: not serving");
        return Ok(ExitCode::from(2));
    }
    let report = |s: &harrier_serve::Stopped| {
        eprintln!("harrier: stopped; {} alert(s) in the store", s.alerts);
        for (output, n) in &s.behind {
            eprintln!(
                "harrier: output {output}: {n} alert(s) not yet delivered (kept for the next start)"
            );
        }
    };
    match harrier_serve::run(&cfg, &rules) {
        Ok(s) => {
            report(&s);
            Ok(ExitCode::SUCCESS)
        }
        Err(harrier_serve::ServeError::Failed(why, s)) => {
            report(&s);
            eprintln!("harrier: error: the service stopped: {}", why.join("; "));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
