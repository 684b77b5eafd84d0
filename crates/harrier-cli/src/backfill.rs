//! `harrier detect s3://bucket/prefix`: reading CloudTrail's bucket (a backfill).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use harrier_alerts::AlertSink;
use harrier_detect::{Detector, Problem};
use harrier_sources::aws::s3::{self, OrderedFetcher, S3Url};
use harrier_sources::aws::DEFAULT_MAX_OBJECT_BYTES;
use harrier_sources::cloudtrail_keys::KeyFilter;

/// What a backfill needs besides the detector.
pub struct Backfill {
    pub aws: harrier_aws::AwsOptions,
    pub filter: KeyFilter,
    pub concurrency: usize,
}

/// A one-line progress display on stderr (only on a terminal).
struct Progress {
    on: bool,
    start: Instant,
    last: Instant,
    files: u64,
    total_files: u64,
    bytes: u64,
    total_bytes: u64,
}

impl Progress {
    fn tick(&mut self, d: &Detector<'_>, force: bool) {
        if !self.on || (!force && self.last.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.last = Instant::now();
        let el = self.start.elapsed().as_secs_f64();
        let eta = if self.bytes > 0 && self.total_bytes > self.bytes {
            format!(
                "{:.0}s",
                el * (self.total_bytes - self.bytes) as f64 / self.bytes as f64
            )
        } else {
            "-".into()
        };
        eprint!(
            "\r\x1b[Kbackfill: {}/{} files, {:.1}/{:.1} MiB, {} events, {} alerts, ETA {eta}",
            self.files,
            self.total_files,
            self.bytes as f64 / 1048576.0,
            self.total_bytes as f64 / 1048576.0,
            d.stats.records,
            d.stats.total_alerts(),
        );
    }
}

/// Reads `url` into `detector`, alerts into `sink`.
pub fn run(
    url: &str,
    b: &Backfill,
    detector: &mut Detector<'_>,
    sink: &mut dyn AlertSink,
    on_problem: &mut dyn FnMut(Problem),
) -> Result<()> {
    let loc = S3Url::parse(url).with_context(|| format!("{url}: expected s3://bucket[/prefix]"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cfg = rt.block_on(harrier_aws::sdk_config(&b.aws, None));
    let client = harrier_aws::s3_client(&cfg, b.aws.custom_endpoint());
    let listing = rt.block_on(s3::list(&client, &loc, &b.filter))?;
    eprintln!(
        "harrier: {url}: {} keys listed, {} log files to read, {} left out by --since/--until/--account/--region, {} not event logs (digests, other files)",
        listing.listed,
        listing.objects.len(),
        listing.filtered_out,
        listing.not_logs
    );
    let mut progress = Progress {
        on: std::io::stderr().is_terminal(),
        start: Instant::now(),
        last: Instant::now(),
        files: 0,
        total_files: listing.objects.len() as u64,
        bytes: 0,
        total_bytes: listing.objects.iter().map(|o| o.size).sum(),
    };
    let fetcher = OrderedFetcher::new(
        rt.handle().clone(),
        client,
        &loc.bucket,
        listing.objects,
        b.concurrency,
        DEFAULT_MAX_OBJECT_BYTES,
    );
    for (obj, data) in fetcher {
        let name = format!("s3://{}/{}", loc.bucket, obj.key);
        progress.files += 1;
        progress.bytes += obj.size;
        match data {
            Ok(data) => detector
                .process_stream(&name, std::io::Cursor::new(data), sink, on_problem)
                .context("writing alerts failed")?,
            Err(e) => {
                detector.stats.unreadable_inputs += 1;
                on_problem(Problem {
                    input: name,
                    offset: None,
                    message: format!("cannot read: {e}"),
                });
            }
        }
        progress.tick(detector, false);
    }
    if progress.on {
        progress.tick(detector, true);
        eprintln!();
    }
    Ok(())
}
