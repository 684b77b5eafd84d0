//! The service: the configured sources, through the rules, into the alert store, and from
//! there to every configured output.
//!
//! Threads: one per live source and per sensor (each with its own detector and store
//! connection), one per HTTP listener (the audit webhooks on it have their detectors there),
//! one per output (its own cursor). SIGTERM or SIGINT: sources finish the deliveries they hold
//! (evaluated, stored, acknowledged) and stop; then outputs deliver what is pending, for up to
//! ten seconds, and [`run`] returns. Whatever an output could not deliver stays in the store
//! for the next start. A component that fails or panics stops the service the same way, and
//! [`run`] returns [`ServeError::Failed`] naming it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harrier_alerts::outputs::{self, DriveOptions, OutputStats, Wake};
use harrier_alerts::store::{AlertStore, StoreSink};
use harrier_alerts::AlertSink;
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use harrier_sources::live::LiveSource;

use crate::components::{self, Aws, Webhook};
use crate::config::Config;
use crate::http::{Listener, Route};
use crate::incidents::Linking;
use crate::metrics::{Metrics, SourceMetrics};
use crate::supervise::Supervisor;
use crate::ServeError;

/// What the service left behind when it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The store file.
    pub store: PathBuf,
    /// Alerts in the store.
    pub alerts: u64,
    /// Outputs with alerts not yet delivered (kept for the next start), and how many.
    pub behind: Vec<(String, usize)>,
}

/// What every detector of the service shares: the rules, and the incident correlator.
#[derive(Clone, Copy)]
struct Detection<'a> {
    rules: &'a RuleSet,
    incidents: Option<(&'a Linking, bool)>,
    anomalies: Option<harrier_incidents::BaselineOptions>,
    /// The baseline profiles stored by earlier runs, given to every detector.
    profiles: &'a [(String, String)],
    /// Scans of pushed images, when on: CloudTrail sources record the pushes they read.
    images: Option<&'a crate::images::Images>,
    /// Continuous posture, when on: CloudTrail sources hand it the changes they read.
    posture: Option<&'a std::sync::mpsc::Sender<crate::posture::Change>>,
}

impl<'a> Detection<'a> {
    fn detector(&self) -> Detector<'a> {
        let mut d = Detector::new(self.rules, harrier_detect::hostname(), Options::default());
        match self.incidents {
            Some((Linking::Here(c), notices)) => d.enable_shared_incidents(Arc::clone(c), notices),
            Some((Linking::Store, _)) => d.enable_linked_incidents(),
            None => {}
        }
        if let Some(o) = self.anomalies {
            d.enable_anomalies(o);
            for e in d.restore_baselines(self.profiles) {
                tracing::warn!(problem = %e, "a stored baseline cannot be read; it is learned again");
            }
        }
        d
    }
}

/// What a source thread needs to report its work.
struct Reporter<'a> {
    m: Arc<SourceMetrics>,
    metrics: &'a Metrics,
    wake: &'a Wake,
}

impl Reporter<'_> {
    /// Publishes the detector's and sink's counts; wakes the outputs when alerts were added.
    fn publish(&self, det: &Detector<'_>, sink: &mut StoreSink) {
        let (m, r) = (&self.m, Ordering::Relaxed);
        if sink.totals.new > m.stored_new.load(r) {
            self.wake.notify();
        }
        m.events.store(det.stats.records, r);
        m.bad_records.store(det.stats.bad_input(), r);
        m.stored_new.store(sink.totals.new, r);
        m.stored_duplicate.store(sink.totals.duplicates, r);
        m.stored_suppressed.store(sink.totals.suppressed, r);
        let mut all = self
            .metrics
            .alerts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for ((rule, p), n) in sink.raised.drain() {
            *all.entry((rule, p.as_str().to_string())).or_default() += n;
        }
    }
}

/// After a component's own commit (image scans, posture, admission refusals): wakes the
/// outputs and counts its alerts per rule.
fn published(metrics: &Metrics, wake: &Wake, sink: &mut StoreSink) {
    wake.notify();
    let mut all = metrics.alerts.lock().unwrap_or_else(|p| p.into_inner());
    for ((rule, p), n) in sink.raised.drain() {
        *all.entry((rule, p.as_str().to_string())).or_default() += n;
    }
}

/// One HTTP listener's work: its webhooks, and whether it serves `/metrics`.
struct ListenerPlan {
    addr: SocketAddr,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    hooks: Vec<Webhook>,
    metrics: bool,
}

/// Groups the webhooks and the metrics endpoint by address: one listener per address.
fn plan_listeners(
    hooks: Vec<Webhook>,
    metrics: Option<SocketAddr>,
) -> Result<Vec<ListenerPlan>, ServeError> {
    let mut by_addr: BTreeMap<SocketAddr, ListenerPlan> = BTreeMap::new();
    for h in hooks {
        let p = by_addr.entry(h.listen).or_insert_with(|| ListenerPlan {
            addr: h.listen,
            tls: h.tls.clone(),
            hooks: Vec::new(),
            metrics: false,
        });
        if p.tls != h.tls {
            return Err(ServeError::Conflict(format!(
                "two k8s_audit sources on {} with different TLS settings",
                h.listen
            )));
        }
        if p.hooks
            .iter()
            .any(|x| x.endpoint.path() == h.endpoint.path())
        {
            return Err(ServeError::Conflict(format!(
                "two k8s_audit sources on {} with the path {}",
                h.listen,
                h.endpoint.path()
            )));
        }
        p.hooks.push(h);
    }
    if let Some(a) = metrics {
        by_addr
            .entry(a)
            .or_insert_with(|| ListenerPlan {
                addr: a,
                tls: None,
                hooks: Vec::new(),
                metrics: false,
            })
            .metrics = true;
    }
    Ok(by_addr.into_values().collect())
}

/// Runs the service `cfg` describes with `rules` until SIGTERM or SIGINT (or a component
/// fails).
pub fn run(cfg: &Config, rules: &RuleSet) -> Result<Stopped, ServeError> {
    // The service's noise settings, then what each rule declares for itself.
    let throttle = components::throttle(&cfg.noise).with_rule_noise(rules);
    let dir = harrier_alerts::state::state_dir(cfg.state_dir.as_deref())?;
    let db = crate::store::StoreLocation::of(cfg.store.as_deref(), &dir);
    let store = db.open()?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let aws_opts = harrier_aws::AwsOptions {
        profile: cfg.aws.profile.clone(),
        region: cfg.aws.region.clone(),
        endpoint_url: cfg.aws.endpoint_url.clone(),
        credentials: None,
    };
    // Only a configuration with AWS sources or outputs looks for credentials and a region.
    let sdk = if cfg.needs_aws() {
        rt.block_on(harrier_aws::sdk_config(&aws_opts, None))
    } else {
        aws_config::SdkConfig::builder().build()
    };
    let aws = Aws {
        rt: &rt,
        sdk: &sdk,
        custom_endpoint: aws_opts.custom_endpoint(),
    };

    let outputs = components::outputs(cfg, &aws)?;
    for o in &outputs {
        store.register_output(o.name(), false)?;
    }
    let live = components::live_sources(cfg, &aws, &store)?;
    let sensors = components::sensors(cfg, rules);
    let plans = plan_listeners(
        components::webhooks(cfg)?,
        cfg.metrics.as_ref().map(|m| m.listen),
    )?;
    let mut listeners = Vec::new();
    for p in plans {
        let what = if p.hooks.is_empty() {
            "metrics"
        } else {
            "k8s_audit"
        };
        listeners.push((Listener::bind(p.addr, p.tls.clone(), what)?, p));
    }

    let image_metrics = Arc::new(crate::metrics::ImageMetrics::default());
    let images = crate::images::Images::new(
        cfg.images.as_ref(),
        &dir,
        db.images(&dir),
        aws_opts.endpoint_url.clone(),
        Arc::clone(&image_metrics),
    )?;
    let admission =
        crate::images::admission_hooks(&cfg.sources, images.as_ref(), &dir, &db.images(&dir))?;
    let mut admission_listeners = Vec::new();
    for a in admission {
        if listeners.iter().any(|(_, p)| p.addr == a.listen) {
            return Err(ServeError::Conflict(format!(
                "the admission webhook on {} needs an address of its own",
                a.listen
            )));
        }
        let l = Listener::bind(a.listen, Some(a.tls.clone()), "admission")?;
        admission_listeners.push((l, a));
    }
    let ecr_events: Vec<(String, i32)> = cfg
        .sources
        .iter()
        .filter_map(|s| match s {
            crate::config::SourceConfig::EcrEvents {
                queue_url,
                wait_seconds,
            } => Some((queue_url.clone(), *wait_seconds)),
            _ => None,
        })
        .collect();

    let inventories = crate::images::inventory_plans(&cfg.sources, &sdk)?;
    let posture_metrics = Arc::new(crate::posture::PostureMetrics::default());
    let (posture_tx, posture_rx) = std::sync::mpsc::channel::<crate::posture::Change>();
    let watch = cfg.posture.as_ref().map(|p| {
        let home = cfg.aws.region.clone().unwrap_or_else(|| "us-east-1".into());
        crate::posture::Watch {
            opts: harrier_posture::collect::CollectOptions {
                regions: harrier_posture::collect::Regions::List(if p.regions.is_empty() {
                    vec![home.clone()]
                } else {
                    p.regions.clone()
                }),
                profile: cfg.aws.profile.clone(),
                endpoint_url: cfg.aws.endpoint_url.clone(),
                home_region: Some(home),
                progress: false,
                credentials: None,
            },
            every: p
                .full_scan_every
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(86_400)),
            settle: p.settle.map(|d| d.0).unwrap_or(Duration::from_secs(2)),
            history: db.history(&dir),
            metrics: Arc::clone(&posture_metrics),
        }
    });
    let mut metrics = Metrics::default();
    if images.is_some() || !admission_listeners.is_empty() {
        metrics.images = Some(Arc::clone(&image_metrics));
    }
    if watch.is_some() {
        metrics.posture = Some(Arc::clone(&posture_metrics));
    }
    let correlation_metrics = Arc::new(crate::metrics::CorrelationMetrics::default());
    if cfg.incidents.is_some() && db.postgres_url().is_some() {
        metrics.correlation = Some(Arc::clone(&correlation_metrics));
    }
    let out_stats: Vec<Arc<OutputStats>> = outputs.iter().map(|_| Arc::default()).collect();
    for (o, s) in outputs.iter().zip(&out_stats) {
        metrics.outputs.push((o.name().to_string(), Arc::clone(s)));
    }
    let source_metrics = |name: String, stats| {
        Arc::new(SourceMetrics {
            name,
            stats,
            ..SourceMetrics::default()
        })
    };
    let live_metrics: Vec<_> = live
        .iter()
        .map(|s| source_metrics(s.name().to_string(), Some(s.stats())))
        .collect();
    let sensor_metrics: Vec<_> = sensors
        .iter()
        .map(|_| source_metrics("sensor".into(), None))
        .collect();
    let hook_metrics: Vec<Vec<_>> = listeners
        .iter()
        .map(|(l, p)| {
            p.hooks
                .iter()
                .map(|_| {
                    let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                    source_metrics(format!("k8s_audit://{addr}"), None)
                })
                .collect()
        })
        .collect();
    metrics.sources.extend(live_metrics.iter().cloned());
    metrics
        .sources
        .extend(hook_metrics.iter().flatten().cloned());
    metrics.sources.extend(sensor_metrics.iter().cloned());

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(ServeError::Signal)?;
    }
    let n_sources = live.len()
        + sensors.len()
        + hook_metrics.iter().flatten().count()
        + admission_listeners.len()
        + ecr_events.len()
        + inventories.len()
        + usize::from(cfg.posture.is_some());
    eprintln!(
        "harrier: serving {n_sources} source(s) into {} with {} rules; {} output(s){}",
        db.shown(),
        rules.active_count(),
        outputs.len(),
        listeners
            .iter()
            .filter(|(_, p)| p.metrics)
            .map(|(l, _)| format!("; metrics on {}/metrics", l.base_url()))
            .collect::<String>()
    );
    // Several workers on one store correlate through it; one process, in memory.
    let incident_options = cfg.incidents.as_ref().map(|i| {
        let mut o = harrier_incidents::Options {
            forget_closed: true,
            ..harrier_incidents::Options::default()
        };
        if let Some(w) = i.window {
            o.window_ns = i64::try_from(w.0.as_nanos()).unwrap_or(i64::MAX);
        }
        (o, i.notices)
    });
    let correlator = incident_options.map(|(o, notices)| {
        let linking = match db.postgres_url() {
            Some(_) => Linking::Store,
            None => Linking::Here(Arc::new(Mutex::new(harrier_incidents::Correlator::new(o)))),
        };
        (linking, notices)
    });
    // What the anomalies learned before this start.
    let profiles = match cfg.anomalies {
        Some(_) => db.open()?.baselines()?,
        None => Vec::new(),
    };
    let detection = Detection {
        posture: watch.as_ref().map(|_| &posture_tx),
        images: images.as_ref(),
        profiles: &profiles,
        rules,
        incidents: correlator.as_ref().map(|(c, n)| (c, *n)),
        anomalies: cfg.anomalies.as_ref().map(|a| {
            let mut o = harrier_incidents::BaselineOptions::default();
            if let Some(l) = a.learning {
                o.learning_ns = i64::try_from(l.0.as_nanos()).unwrap_or(i64::MAX);
            }
            o
        }),
    };
    let outputs_stop = AtomicBool::new(false);
    let correlation_stop = AtomicBool::new(false);
    let wake = Wake::default();
    let console = match &cfg.console {
        Some(c) => Some(crate::console::start(c, &dir, &db, rules)?),
        None => None,
    };
    let supervisor = Supervisor::new(&stop);
    let (throttle, db_ref, metrics, wake, sup) = (&throttle, &db, &metrics, &wake, &supervisor);
    let (stop_ref, outputs_stop): (&AtomicBool, &AtomicBool) = (&stop, &outputs_stop);
    let correlation_metrics_ref: &crate::metrics::CorrelationMetrics = &correlation_metrics;
    let sink = || -> Result<StoreSink, ServeError> {
        Ok(StoreSink::new(db_ref.open()?, throttle.clone()))
    };
    let reporter = |m: Arc<SourceMetrics>| Reporter { m, metrics, wake };
    let hostname = harrier_detect::hostname();
    let hostname = hostname.as_str();
    std::thread::scope(|s| -> Result<(), ServeError> {
        if let Some(url) = db_ref.postgres_url().filter(|_| !outputs.is_empty()) {
            // Alerts other workers store wake this worker's outputs too.
            s.spawn(move || harrier_store_pg::listen(url, outputs_stop, || wake.notify()));
        }
        for (o, st) in outputs.into_iter().zip(out_stats) {
            let store = db_ref.open()?;
            let name = format!("output {}", o.name());
            s.spawn(move || {
                sup.run(&name, || {
                    outputs::run_output(store, o, st, outputs_stop, wake, DriveOptions::default());
                    Ok(())
                })
            });
        }
        let correlation_stop = &correlation_stop;
        let mut correlation = None;
        match (&correlator, incident_options) {
            (Some((Linking::Here(c), _)), _) => {
                // Incidents as they are now, into the store every second and once more at the
                // end.
                let store = db_ref.open()?;
                s.spawn(move || {
                    sup.run("incident writer", || {
                        crate::incidents::write_incidents(c, store, outputs_stop)
                    })
                });
            }
            (Some((Linking::Store, _)), Some((options, notices))) => {
                let store = db_ref.open()?;
                let cfg = crate::incidents::StoreCorrelation {
                    options,
                    notices,
                    throttle: throttle.clone(),
                    hostname,
                    wake,
                    metrics: correlation_metrics_ref,
                };
                correlation = Some(s.spawn(move || {
                    sup.run("incident correlation", || {
                        crate::incidents::run_store_correlation(store, &cfg, correlation_stop)
                    })
                }));
            }
            _ => {}
        }
        let mut sources = Vec::new();
        for ((listener, plan), ms) in listeners.into_iter().zip(hook_metrics) {
            let sinks = plan
                .hooks
                .iter()
                .map(|_| sink())
                .collect::<Result<Vec<_>, _>>()?;
            // A listener with webhooks stops with the sources; one with only metrics, with the
            // outputs.
            let until = if plan.hooks.is_empty() {
                outputs_stop
            } else {
                stop_ref
            };
            let reps: Vec<_> = ms.into_iter().map(reporter).collect();
            let name = format!("listener {}", listener.base_url());
            let has_sources = !plan.hooks.is_empty();
            let t = s.spawn(move || {
                sup.run(&name, || {
                    serve_listener(detection, &listener, plan, sinks, reps, metrics, until);
                    Ok(())
                })
            });
            // A metrics-only listener runs until the outputs stop: not a source to wait for.
            if has_sources {
                sources.push(t);
            }
        }
        let shared = correlator.as_ref().map(|(l, _)| l);
        if let Some(w) = watch.as_ref() {
            let posture_sink = sink()?;
            // With a shared store, one worker watches for all (posture::shared).
            let shared_store = db_ref.postgres_url().is_some();
            sources.push(s.spawn(move || {
                sup.run("posture watcher", || {
                    let publish = |sink: &mut StoreSink| published(metrics, wake, sink);
                    w.run(
                        posture_rx,
                        posture_sink,
                        shared,
                        hostname,
                        &publish,
                        stop_ref,
                        shared_store.then_some(&|| db_ref.open()),
                    )
                })
            }));
        }
        if let Some(images) = images.as_ref() {
            let scanner_sink = sink()?;
            sources.push(s.spawn(move || {
                sup.run("image scanner", || {
                    let publish = |sink: &mut StoreSink| published(metrics, wake, sink);
                    images.run_scanner(scanner_sink, shared, hostname, &publish, stop_ref)
                })
            }));
            for plan in &inventories {
                let inv_sink = sink()?;
                let handle = rt.handle().clone();
                sources.push(s.spawn(move || {
                    sup.run("source inventory", || {
                        let publish = |sink: &mut StoreSink| {
                            wake.notify();
                            let mut all = metrics.alerts.lock().unwrap_or_else(|p| p.into_inner());
                            for ((rule, p), n) in sink.raised.drain() {
                                *all.entry((rule, p.as_str().to_string())).or_default() += n;
                            }
                        };
                        images.run_inventory(
                            plan, &handle, inv_sink, shared, hostname, &publish, stop_ref,
                        )
                    })
                }));
            }
            for (queue, wait) in &ecr_events {
                let name = format!("source ecr_events {queue}");
                let handle = rt.handle().clone();
                let client = aws_sdk_sqs::Client::new(&sdk);
                sources.push(s.spawn(move || {
                    sup.run(&name, || {
                        crate::images::run_ecr_events(
                            images, &handle, &client, queue, *wait, stop_ref,
                        )
                    })
                }));
            }
        }
        for (listener, hook) in &admission_listeners {
            let writer_sink = sink()?;
            let im = image_metrics.as_ref();
            let (tx, rx) = std::sync::mpsc::channel();
            let writer = format!("admission writer {}", listener.base_url());
            sources.push(s.spawn(move || {
                sup.run(&writer, || {
                    let publish = |sink: &mut StoreSink| published(metrics, wake, sink);
                    crate::images::write_refusals(rx, writer_sink, shared, hostname, &publish)
                })
            }));
            // Several requests at once: one slow review (a scan on demand, a client trickling
            // its body) does not hold up the others.
            for n in 0..crate::images::ADMISSION_WORKERS {
                let tx = tx.clone();
                let name = format!("admission {} worker {n}", listener.base_url());
                sources.push(s.spawn(move || {
                    sup.run(&name, || {
                        let c = &hook.controller;
                        let mut routes = vec![Route {
                            path: hook.path.clone(),
                            handler: Box::new(|req| {
                                crate::images::handle_admission(c, req, &tx, im);
                            }),
                        }];
                        listener.serve(&mut routes, stop_ref);
                        drop(routes);
                        drop(tx);
                        Ok(())
                    })
                }));
            }
            drop(tx);
        }
        if let Some((console, listener)) = console.as_ref() {
            // The console runs as long as the sources (all of the service when it has none).
            for n in 0..crate::console::CONSOLE_WORKERS {
                let name = format!("console {} worker {n}", listener.base_url());
                sources.push(s.spawn(move || {
                    sup.run(&name, || {
                        crate::console::serve(console, listener, stop_ref);
                        Ok(())
                    })
                }));
            }
        }
        for (mut src, m) in live.into_iter().zip(live_metrics) {
            let (mut sink, rep) = (sink()?, reporter(m));
            let name = format!("source {}", src.name());
            sources.push(s.spawn(move || {
                sup.run(&name, || {
                    run_live(detection, src.as_mut(), &mut sink, &rep, stop_ref)
                })
            }));
        }
        for (o, m) in sensors.into_iter().zip(sensor_metrics) {
            let (mut sink, rep) = (sink()?, reporter(m));
            sources.push(s.spawn(move || {
                sup.run("source sensor", || {
                    run_sensor(detection, &o, &mut sink, &rep, stop_ref)
                })
            }));
        }
        for t in sources {
            let _ = t.join();
        }
        // Sources are done: what they stored is correlated, then the outputs deliver what is
        // left (notices included), then stop.
        correlation_stop.store(true, Ordering::Relaxed);
        if let Some(t) = correlation {
            let _ = t.join();
        }
        outputs_stop.store(true, Ordering::Relaxed);
        Ok(())
    })
    .inspect_err(|_| {
        stop.store(true, Ordering::Relaxed);
    })?;
    let failures = supervisor.failures();
    let store = db.open()?;
    let mut behind = Vec::new();
    for d in store.deliveries()? {
        if !harrier_alerts::store::is_output(&d.output) {
            continue;
        }
        let n = store.undelivered(&d.output)? as usize;
        if n > 0 {
            behind.push((d.output, n));
        }
    }
    let stopped = Stopped {
        store: PathBuf::from(db.shown()),
        alerts: store.count()?,
        behind,
    };
    if !failures.is_empty() {
        return Err(ServeError::Failed(failures, stopped));
    }
    Ok(stopped)
}

fn serve_listener(
    detection: Detection<'_>,
    listener: &Listener,
    plan: ListenerPlan,
    sinks: Vec<StoreSink>,
    reporters: Vec<Reporter<'_>>,
    metrics: &Metrics,
    until: &AtomicBool,
) {
    let mut routes: Vec<Route<'_>> = Vec::new();
    for ((hook, mut sink), rep) in plan.hooks.into_iter().zip(sinks).zip(reporters) {
        let mut det = detection.detector();
        let endpoint = hook.endpoint;
        routes.push(Route {
            path: endpoint.path().to_string(),
            handler: Box::new(move |req| {
                endpoint.handle(req, &mut |body| {
                    let v = crate::audit::handle_audit_body(&mut det, body, &mut sink);
                    rep.publish(&det, &mut sink);
                    v
                })
            }),
        });
    }
    if plan.metrics {
        routes.push(Route {
            path: "/metrics".into(),
            handler: Box::new(move |req| metrics.respond(req)),
        });
    }
    listener.serve(&mut routes, until);
}

fn run_live(
    detection: Detection<'_>,
    src: &mut dyn LiveSource,
    sink: &mut StoreSink,
    rep: &Reporter<'_>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut det = detection.detector();
    let mut image_tap = detection.images.map(|i| i.tap(stop)).transpose()?;
    let posture = detection.posture.cloned();
    if image_tap.is_some() || posture.is_some() {
        det.set_cloudtrail_tap(Box::new(move |name: &str, bytes: &[u8]| {
            if let Some(tx) = &posture {
                crate::posture::notify(tx, name, bytes);
            }
            match image_tap.as_mut() {
                Some(t) => t(name, bytes),
                None => Ok(()),
            }
        }));
    }
    let name = src.name().to_string();
    harrier_detect::live::run_source(
        &mut det,
        src,
        sink,
        stop,
        &mut |p| tracing::warn!(source = %name, problem = %p, "bad input"),
        &mut |d, s| rep.publish(d, s),
    );
    rep.publish(&det, sink);
    Ok(())
}

/// The runtime sensor as a source: its events go through the detector into the store, and a
/// commit wakes the outputs. A sensor that cannot load is a failure of the service.
fn run_sensor(
    detection: Detection<'_>,
    opts: &harrier_sensor::Options,
    sink: &mut StoreSink,
    rep: &Reporter<'_>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut det = detection.detector();
    let mut seq = 0u64;
    let mut handler = |ev: &[u8]| -> Result<(), String> {
        seq += 1;
        let raised = det
            .process_live_event(
                ev,
                seq,
                "sensor",
                &mut *sink,
                &mut |p| tracing::warn!(source = "sensor", problem = %p, "bad event"),
            )
            .map_err(|e| format!("storing alerts failed: {e}"))?;
        if raised {
            rep.publish(&det, sink);
        }
        Ok(())
    };
    let mut ready = || eprintln!("harrier sensor: ready");
    let result = harrier_sensor::run(opts, stop, &mut ready, &mut handler);
    let flushed = sink.flush();
    rep.publish(&det, sink);
    let s = result.map_err(|e| e.to_string())?;
    eprintln!(
        "harrier sensor: {} kernel records, {} events, {} dropped by the kernel",
        s.records,
        s.events,
        s.dropped()
    );
    flushed.map_err(|e| format!("storing alerts failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn endpoints_on_one_address_share_a_listener() {
        let cfg = config::parse(
            "sources:\n  - {type: k8s_audit, listen: '127.0.0.1:7001', path: /a}\n  - {type: k8s_audit, listen: '127.0.0.1:7001', path: /b}\n  - {type: k8s_audit, listen: '127.0.0.1:7002'}\nmetrics: {listen: '127.0.0.1:7001'}\n",
        )
        .unwrap();
        let plans = plan_listeners(
            components::webhooks(&cfg).unwrap(),
            Some(cfg.metrics.unwrap().listen),
        )
        .unwrap();
        let shape: Vec<(u16, usize, bool)> = plans
            .iter()
            .map(|p| (p.addr.port(), p.hooks.len(), p.metrics))
            .collect();
        assert_eq!(shape, [(7001, 2, true), (7002, 1, false)]);
        let dup = config::parse(
            "sources:\n  - {type: k8s_audit, listen: '127.0.0.1:7001'}\n  - {type: k8s_audit, listen: '127.0.0.1:7001'}\n",
        )
        .unwrap();
        let e = plan_listeners(components::webhooks(&dup).unwrap(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/k8s-audit"), "{e}");
    }
}
