//! `harrier sensor`: the eBPF runtime sensor feeding the rules engine.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use harrier_detect::{Detector, Options, Problem};
use harrier_rules::Priority;

use crate::detect::Color;
use crate::{ruleload, sinks, OutputFormat};

#[derive(Args)]
pub struct SensorArgs {
    /// Extra rule files or directories (Falco rule language), loaded after the built-in pack;
    /// Falco's own syscall rules (falco_rules.yaml) work here.
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
    /// Append alerts to this file instead of printing them.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Colour text alerts.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Also record alerts in the alert store (`harrier alerts list`; `harrier serve --config`
    /// outputs deliver them).
    #[arg(long)]
    store: bool,
    /// State directory for --store.
    #[arg(long, requires = "store")]
    state_dir: Option<PathBuf>,
    /// Also write every event (JSON lines) to this file; `harrier detect` can replay it.
    #[arg(long, value_name = "FILE")]
    events_out: Option<PathBuf>,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Directory where a container runtime keeps per-container metadata (repeatable; default:
    /// containerd's and Docker's usual places).
    #[arg(long = "runtime-root", value_name = "DIR")]
    runtime_roots: Vec<PathBuf>,
    /// Run the hidden-process check this often, in seconds (0: never).
    #[arg(long, default_value_t = 300)]
    hidden_every: u64,
    /// Bytes pending in the kernel's ring buffer before the sensor is woken.
    #[arg(long, default_value_t = 256 * 1024)]
    wakeup_bytes: u64,
    /// Send every kernel record to user space, also those no loaded rule could match (by
    /// default the kernel drops them; see docs/sensor.md). For recording events with
    /// --events-out to replay later against other rules.
    #[arg(long)]
    no_kernel_filter: bool,
    /// Only check for hidden processes, once, print what is found as alerts and exit (1 when
    /// something is hidden). Does not need BPF.
    #[arg(long)]
    check_hidden: bool,
    /// With --check-hidden: also probe every pid up to pid_max with kill(pid, 0), which finds
    /// processes hidden from the kernel's own listing (a second or two).
    #[arg(long, requires = "check_hidden")]
    probe_pids: bool,
}

pub fn run(args: SensorArgs) -> Result<ExitCode> {
    let Some(rules) =
        ruleload::load_runnable(&args.rules, args.no_default_rules, args.min_priority)?
    else {
        return Ok(ExitCode::from(2));
    };
    let mut sink = sinks::open(&sinks::AlertOut {
        output: args.output.clone(),
        format: args.format,
        color: args.color,
        store: args.store,
        state_dir: args.state_dir.clone(),
    })?;
    let mut detector = Detector::new(&rules, harrier_detect::hostname(), Options::default());
    let mut problems = 0u64;
    let mut on_problem = |p: Problem| {
        problems += 1;
        if problems <= 100 {
            eprintln!("harrier: bad event: {p}");
        }
    };

    if args.check_hidden {
        let events =
            harrier_sensor::check_hidden(args.probe_pids).context("hidden-process check failed")?;
        for (i, ev) in events.iter().enumerate() {
            detector
                .process_record(
                    ev,
                    i as u64,
                    "hidden-process check",
                    sink.as_mut(),
                    &mut on_problem,
                )
                .context("writing alerts failed")?;
        }
        sink.flush().context("writing alerts failed")?;
        eprintln!(
            "harrier sensor: hidden-process check: {} hidden process(es)",
            events.len()
        );
        return Ok(ExitCode::from(if events.is_empty() { 0 } else { 1 }));
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handler")?;
    }
    if let Some(secs) = args.duration {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // Clamped: a NaN, negative or absurd value must not panic.
            let secs = if secs.is_finite() {
                secs.clamp(0.0, 1e9)
            } else {
                1e9
            };
            std::thread::sleep(Duration::from_secs_f64(secs));
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut events_out = match &args.events_out {
        Some(p) => Some(std::io::BufWriter::new(
            // Events hold command lines: readable by the owner only.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => None,
    };
    let mut opts = harrier_sensor::Options::default();
    if !args.runtime_roots.is_empty() {
        opts.runtime_roots = args.runtime_roots.clone();
    }
    opts.hidden_every = (args.hidden_every > 0).then(|| Duration::from_secs(args.hidden_every));
    opts.wakeup_bytes = args.wakeup_bytes;
    if !args.no_kernel_filter {
        opts.filter = harrier_sensor::KernelFilter::for_rules(&rules);
        eprintln!("harrier sensor: {}", opts.filter.describe());
        for n in &opts.filter.notes {
            eprintln!("harrier sensor: {n}");
        }
    }
    let started = Instant::now();
    let mut seq = 0u64;
    let mut handler = |ev: &[u8]| -> Result<(), String> {
        seq += 1;
        if let Some(w) = events_out.as_mut() {
            w.write_all(ev)
                .and_then(|_| w.write_all(b"\n"))
                .map_err(|e| format!("writing events failed: {e}"))?;
        }
        detector
            .process_live_event(ev, seq, "sensor", sink.as_mut(), &mut on_problem)
            .map_err(|e| format!("writing alerts failed: {e}"))?;
        Ok(())
    };
    let mut ready = || eprintln!("harrier sensor: ready");
    let summary = harrier_sensor::run(&opts, &stop, &mut ready, &mut handler)?;
    if let Some(mut w) = events_out {
        w.flush().context("writing events failed")?;
    }
    sink.flush().context("writing alerts failed")?;
    let alerts: u64 = detector.stats.alerts.iter().sum();
    eprintln!(
        "harrier sensor: {:.1} s, {} kernel records, {} events, {} alerts, {} dropped by the kernel, {} undecodable, {} bad events",
        started.elapsed().as_secs_f64(),
        summary.records,
        summary.events,
        alerts,
        summary.dropped(),
        summary.bad_records,
        problems
    );
    Ok(ExitCode::SUCCESS)
}
