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
    /// Also record alerts in the alert store (`harrier alerts list`), once each.
    #[arg(long)]
    store: bool,
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
    let (s3_urls, local): (Vec<String>, Vec<String>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.starts_with("s3://"));
    let walked = harrier_sources::walk(&local);
    let mut sink = sinks::open(&sinks::AlertOut {
        output: args.output.clone(),
        format: args.format,
        color: args.color,
        store: args.store,
        state_dir: args.state_dir.clone(),
    })?;
    let sink = sink.as_mut();

    let mut detector = Detector::new(
        &rules,
        harrier_detect::hostname(),
        Options {
            validate_all: args.validate_all,
        },
    );
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
    detector.stats.skipped_files += walked.skipped.len() as u64;
    for input in &walked.inputs {
        detector
            .process_input(input, sink, &mut on_problem)
            .context("writing alerts failed")?;
    }
    if !s3_urls.is_empty() {
        let now = state::now_ns();
        let when = |s: &Option<String>| s.as_deref().map(|s| state::parse_when(s, now)).transpose();
        let b = backfill::Backfill {
            aws: harrier_aws::AwsOptions {
                profile: args.profile.clone(),
                region: args.aws_region.clone(),
                endpoint_url: args.endpoint_url.clone(),
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
            backfill::run(url, &b, &mut detector, sink, &mut on_problem)?;
        }
    }
    sink.flush().context("writing alerts failed")?;
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
