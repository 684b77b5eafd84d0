//! `harrier detect`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use harrier_detect::{Detector, Options, Problem};
use harrier_rules::Priority;

use harrier_sources::cloudtrail_keys::KeyFilter;

use crate::{backfill, ruleload, sinks, state, OutputFormat};

/// How many input problems are printed one by one; the rest are only counted.
const MAX_PRINTED_PROBLEMS: u64 = 100;
/// A file at least this large (on disk) is read in batches on every core by itself; smaller
/// files are spread over the cores one whole file each.
const LARGE_INPUT_BYTES: u64 = 8 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Args)]
pub struct DetectArgs {
    /// CloudTrail logs: files, directories (read recursively), `-` for stdin, or
    /// `s3://bucket/prefix` (CloudTrail's bucket, organisation trails included).
    /// `.json`, `.json.gz`, `.jsonl`; CloudTrail `{"Records": [...]}` files, JSON arrays and JSON Lines.
    #[arg(required = true, value_name = "PATH|-|s3://BUCKET/PREFIX")]
    paths: Vec<String>,
    /// Extra rule files or directories (Falco rule language), loaded after the built-in pack.
    #[arg(long = "rules", value_name = "FILE|DIR")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    no_default_rules: bool,
    /// Alert format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Only run rules at or above this priority.
    #[arg(long, value_name = "PRIORITY", value_parser = ruleload::parse_priority)]
    min_priority: Option<Priority>,
    /// Exit with 1 when an alert at or above this priority fired (for CI pipelines).
    #[arg(long, value_name = "PRIORITY", value_parser = ruleload::parse_priority)]
    fail_on: Option<Priority>,
    /// Append alerts to this file instead of printing them.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour text alerts.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Check the JSON syntax of every record, not only of those that raise alerts.
    #[arg(long)]
    validate_all: bool,
    /// S3: only log files delivered at or after this time (RFC 3339, YYYY-MM-DD, or 24h / 7d ago).
    #[arg(long, help_heading = "S3 backfill")]
    since: Option<String>,
    /// S3: only log files of events before this time.
    #[arg(long, help_heading = "S3 backfill")]
    until: Option<String>,
    /// S3: only these accounts (repeat or comma-separate).
    #[arg(long = "account", value_delimiter = ',', help_heading = "S3 backfill")]
    accounts: Vec<String>,
    /// S3: only these regions, as named in the key layout (repeat or comma-separate).
    #[arg(long = "region", value_delimiter = ',', help_heading = "S3 backfill")]
    regions: Vec<String>,
    /// S3: downloads in flight.
    #[arg(long, default_value_t = 8, help_heading = "S3 backfill")]
    concurrency: usize,
    /// AWS named profile (default: the standard credential chain).
    #[arg(long, help_heading = "S3 backfill")]
    profile: Option<String>,
    /// Region of the S3 client (default: AWS_REGION or the profile's).
    #[arg(long, help_heading = "S3 backfill")]
    aws_region: Option<String>,
    /// Endpoint URL for AWS (moto, LocalStack); AWS_ENDPOINT_URL also works.
    #[arg(long, help_heading = "S3 backfill")]
    endpoint_url: Option<String>,
    /// After the alerts, the incidents they make: alerts that share an attacker's key,
    /// principal, address, pod, container, ECS task or image within --window, with their
    /// timeline and ATT&CK tactics (text, or one JSON object per incident).
    #[arg(long)]
    incidents: bool,
    /// Learn each AWS principal's and key's normal networks, clients and services from the
    /// CloudTrail records read (history counts), and alert what stands out: a new network and
    /// client at once, a sweep of never-used services, a burst of AccessDenied, a new key used
    /// from elsewhere minutes after it was made. Nothing is raised for a principal in its first
    /// 7 days of records (the learning period) but the last two.
    #[arg(long)]
    anomalies: bool,
    /// How far apart two alerts sharing an entity may be to join one incident.
    #[arg(long, default_value = "24h", value_parser = parse_window, requires = "incidents")]
    window: std::time::Duration,
    /// Print every alert: do not fold the repeats of rules that declare a noise key (one
    /// root session is one "Root Account Used" alert, with a count of what else it called).
    #[arg(long)]
    no_noise_window: bool,
    /// Also record alerts in the alert store (`harrier alerts list`), once each.
    #[arg(long)]
    store: bool,
    /// Files read at once, each on its own core (0: every core). The output is the same as
    /// with 1, byte for byte; --incidents and --anomalies read on one thread.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// State directory for --store (default: $XDG_STATE_HOME/harrier or ~/.local/state/harrier).
    #[arg(long, requires = "store")]
    state_dir: Option<PathBuf>,
}

pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let Some(rules) =
        ruleload::load_runnable(&args.rules, args.no_default_rules, args.min_priority)?
    else {
        return Ok(ExitCode::from(2));
    };
    if let Some(url) = args.paths.iter().find(|p| unsupported_url(p)) {
        eprintln!("harrier: {}", unsupported_url_help(url));
        return Ok(ExitCode::from(2));
    }
    let (s3_urls, local): (Vec<String>, Vec<String>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.starts_with("s3://"));
    let walked = harrier_sources::walk(&local);
    let inner = sinks::open(&sinks::AlertOut {
        output: args.output.clone(),
        format: args.format,
        color: args.color,
        store: args.store,
        state_dir: args.state_dir.clone(),
    })?;
    // The rules' own noise keys fold their repeats, as `serve` does (--no-noise-window: off).
    let throttle = if args.no_noise_window {
        harrier_alerts::store::Throttle::default()
    } else {
        harrier_alerts::store::Throttle::default().with_rule_noise(&rules)
    };
    let mut fold = harrier_alerts::fold::FoldSink::new(inner, throttle);
    let sink: &mut dyn harrier_alerts::AlertSink = &mut fold;

    let mut detector = Detector::new(
        &rules,
        harrier_detect::hostname(),
        Options {
            validate_all: args.validate_all,
            ..Options::default()
        },
    );
    if args.incidents {
        detector.enable_incidents(harrier_incidents::Options {
            window_ns: i64::try_from(args.window.as_nanos()).unwrap_or(i64::MAX),
            ..harrier_incidents::Options::default()
        });
    }
    if args.anomalies {
        detector.enable_anomalies(harrier_incidents::BaselineOptions::default());
        if args.store {
            // What earlier runs learned (a backfill counts): the learning period goes on.
            let store = state::alert_store(args.state_dir.as_deref())?;
            for e in detector.restore_baselines(&store.baselines()?) {
                eprintln!("harrier: a stored baseline cannot be read, it is learned again: {e}");
            }
        }
    }
    let mut printed = 0u64;
    let mut on_problem = |p: Problem| {
        printed += 1;
        if printed <= MAX_PRINTED_PROBLEMS {
            eprintln!("harrier: bad input: {p}");
        } else if printed == MAX_PRINTED_PROBLEMS + 1 {
            eprintln!("harrier: more bad input: further problems are only counted in the summary");
        }
    };
    for e in &walked.errors {
        detector.stats.unreadable_inputs += 1;
        on_problem(Problem {
            input: e.path.clone(),
            offset: None,
            message: e.message.clone(),
        });
    }
    for (_, why) in &walked.skipped {
        match why {
            harrier_sources::Skipped::Digest => detector.stats.skipped_files += 1,
            harrier_sources::Skipped::NotJson => detector.stats.skipped_not_json += 1,
        }
    }
    let threads = harrier_detect::parallel::threads(args.threads);
    let options = Options {
        validate_all: args.validate_all,
        ..Options::default()
    };
    let host = harrier_detect::hostname();
    // Incidents and anomalies need one detector that sees every event in order.
    let pool = (threads > 1 && !args.incidents && !args.anomalies).then_some(
        harrier_detect::parallel::Pool {
            rules: &rules,
            hostname: &host,
            options: &options,
            threads,
        },
    );
    if let Some(pool) = pool {
        // Every core: small files each on one, a large file (or stdin) in batches on all; the
        // output is a single thread's, byte for byte.
        let inputs = &walked.inputs;
        let mut i = 0;
        while i < inputs.len() {
            let stats = if inputs[i].is_large(LARGE_INPUT_BYTES) {
                i += 1;
                harrier_detect::parallel::run_input_stream(
                    pool,
                    &inputs[i - 1],
                    sink,
                    &mut on_problem,
                )
            } else {
                let j = (i..inputs.len())
                    .find(|&j| inputs[j].is_large(LARGE_INPUT_BYTES))
                    .unwrap_or(inputs.len());
                let run = &inputs[i..j];
                i = j;
                harrier_detect::parallel::run_inputs(pool, run, sink, &mut on_problem)
            };
            detector
                .stats
                .merge(&stats.context("writing alerts failed")?);
        }
    } else {
        for input in &walked.inputs {
            detector
                .process_input(input, sink, &mut on_problem)
                .context("writing alerts failed")?;
        }
    }
    if !s3_urls.is_empty() {
        let now = state::now_ns();
        let when = |s: &Option<String>| s.as_deref().map(|s| state::parse_when(s, now)).transpose();
        let b = backfill::Backfill {
            aws: harrier_aws::AwsOptions {
                profile: args.profile.clone(),
                region: args.aws_region.clone(),
                endpoint_url: args.endpoint_url.clone(),
                credentials: None,
            },
            filter: KeyFilter {
                since_ns: when(&args.since)?,
                until_ns: when(&args.until)?,
                accounts: args.accounts.clone(),
                regions: args.regions.clone(),
            },
            concurrency: args.concurrency,
        };
        for url in &s3_urls {
            backfill::run(url, &b, &mut detector, pool, sink, &mut on_problem)?;
        }
    }
    sink.flush().context("writing alerts failed")?;
    if fold.total_folded > 0 {
        sinks::print_folded(fold.folded(), args.format, args.output.as_deref())?;
        eprintln!(
            "harrier: noise window: {} repeated alert(s) of {} key(s) folded into the alert before them (--no-noise-window shows every one)",
            fold.total_folded,
            fold.folded().len()
        );
    }
    if args.anomalies && args.store {
        let changed = detector.take_baseline_changes();
        state::alert_store(args.state_dir.as_deref())?
            .put_baselines(&changed)
            .context("writing baselines failed")?;
    }
    if args.incidents {
        let incidents = detector.incidents();
        sinks::print_incidents(&incidents, args.format, args.output.as_deref())?;
        if args.store {
            let mut store = state::alert_store(args.state_dir.as_deref())?;
            for i in &incidents {
                store.put_incident(&i.to_stored())?;
            }
        }
    }
    let stats = &detector.stats;
    eprintln!(
        "harrier: {}",
        stats.summary(start.elapsed()).replace('\n', "\nharrier: ")
    );
    if stats.bad_input() > 0 {
        return Ok(ExitCode::from(2));
    }
    if args.fail_on.is_some_and(|p| stats.alerted_at_least(p)) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_window(s: &str) -> Result<std::time::Duration, String> {
    harrier_events::time::parse_duration(s)
        .ok_or_else(|| format!("{s:?}: expected a duration such as 30m, 24h or 7d"))
}

/// An input that looks like a URL (`scheme://...`) with a scheme `detect` does not read.
fn unsupported_url(input: &str) -> bool {
    let Some((scheme, _)) = input.split_once("://") else {
        return false;
    };
    scheme != "s3"
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !std::path::Path::new(input).exists()
}

/// What `detect` reads, and the `serve --config` source that reads the URL given, if any.
fn unsupported_url_help(url: &str) -> String {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    let queue = scheme == "sqs" || (scheme.starts_with("http") && url.contains("//sqs."));
    let source = match scheme {
        _ if queue => Some(
            "sources:\n  - { type: sqs, queue_url: \"https://sqs.<region>.amazonaws.com/<account>/<queue>\" }",
        ),
        "cwlogs" | "logs" | "cloudwatch" => {
            Some("sources:\n  - { type: cloudwatch_logs, log_group: <group>, start: 1h }")
        }
        _ => None,
    };
    let mut msg = format!(
        "{url}: `detect` does not read {scheme}:// inputs; it reads files, directories, `-` (stdin) \
         and s3://BUCKET[/PREFIX] (CloudTrail's bucket)"
    );
    if let Some(source) = source {
        msg.push_str(&format!(
            ". A queue or log group is followed live by `harrier serve --config harrier.yaml` \
             with, in harrier.yaml:\n{source}\n(see docs/harrier.example.yaml)"
        ));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_other_than_s3_are_refused_with_what_detect_reads() {
        assert!(unsupported_url("sqs://queue"));
        assert!(unsupported_url("cwlogs://aws-cloudtrail-logs"));
        assert!(!unsupported_url("s3://bucket/prefix"));
        assert!(!unsupported_url("logs/2026/11/20.json"));
        assert!(!unsupported_url("-"));
        let help = unsupported_url_help("sqs://ct-notes");
        assert!(help.contains("type: sqs, queue_url"), "{help}");
        assert!(help.contains("s3://BUCKET"), "{help}");
        let help = unsupported_url_help("cwlogs://aws-cloudtrail-logs");
        assert!(help.contains("type: cloudwatch_logs"), "{help}");
        let help = unsupported_url_help("https://sqs.eu-west-1.amazonaws.com/1/q");
        assert!(help.contains("type: sqs"), "{help}");
        let help = unsupported_url_help("ftp://x");
        assert!(!help.contains("serve --config"), "{help}");
    }
}
