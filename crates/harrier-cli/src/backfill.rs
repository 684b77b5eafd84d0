//! `harrier detect s3://bucket/prefix`: reading CloudTrail's bucket (a backfill).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use harrier_alerts::AlertSink;
use harrier_detect::parallel::{self, Pool};
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
    /// Redraws the line; `counts` (events, alerts) when one detector has them.
    fn tick(&mut self, counts: Option<(u64, u64)>, force: bool) {
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
        let counts = counts
            .map(|(events, alerts)| format!(", {events} events, {alerts} alerts"))
            .unwrap_or_default();
        eprint!(
            "\r\x1b[Kbackfill: {}/{} files, {:.1}/{:.1} MiB{counts}, ETA {eta}",
            self.files,
            self.total_files,
            self.bytes as f64 / 1048576.0,
            self.total_bytes as f64 / 1048576.0,
        );
    }
}

/// Reads `url` into `detector`, alerts into `sink`; with a `pool`, objects are detected on
/// its workers as they arrive (in listing order all the same), and their counts added to
/// `detector`'s.
pub fn run(
    url: &str,
    b: &Backfill,
    detector: &mut Detector<'_>,
    pool: Option<Pool<'_>>,
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
    if let Some(pool) = pool {
        let bucket = loc.bucket.clone();
        let mut fetcher = fetcher;
        let shown = &mut progress;
        let next = move || {
            let (obj, data) = fetcher.next()?;
            shown.files += 1;
            shown.bytes += obj.size;
            shown.tick(None, false);
            Some((format!("s3://{bucket}/{}", obj.key), data))
        };
        let work = |det: &mut Detector<'_>,
                    (name, data): (String, Result<Vec<u8>, s3::FetchError>),
                    sink: &mut dyn AlertSink,
                    on_problem: &mut dyn FnMut(Problem)| match data {
            Ok(data) => {
                let _ = det.process_stream(&name, std::io::Cursor::new(data), sink, on_problem);
            }
            Err(e) => {
                det.stats.unreadable_inputs += 1;
                on_problem(Problem {
                    input: name,
                    offset: None,
                    message: format!("cannot read: {e}"),
                });
            }
        };
        let stats = parallel::run_ordered(
            pool,
            next,
            &work,
            &|i| format!("object {} of {url}", i + 1),
            sink,
            on_problem,
        )
        .context("writing alerts failed")?;
        detector.stats.merge(&stats);
        if progress.on {
            progress.tick(None, true);
            eprintln!();
        }
        return Ok(());
    }
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
        progress.tick(
            Some((detector.stats.records, detector.stats.total_alerts())),
            false,
        );
    }
    if progress.on {
        progress.tick(
            Some((detector.stats.records, detector.stats.total_alerts())),
            true,
        );
        eprintln!();
    }
    Ok(())
}
