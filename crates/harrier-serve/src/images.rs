//! The image supply chain in the service ([`harrier_supply`]): ECR pushes recorded by the
//! CloudTrail sources (a detector tap) and by `ecr_events` queues, scanned by one scanner
//! thread in arrival order, their alerts stored and correlated like any other; and the
//! admission webhook, which shares the scans.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harrier_alerts::store::StoreSink;
use harrier_alerts::AlertSink;
use harrier_image::malware::Severity;
use harrier_sources::webhook::{error_body, respond};
use harrier_supply::admission::{self, Controller, Review};
use harrier_supply::push::Push;
use harrier_supply::results::ImageResults;

use crate::store::Location;
use harrier_supply::scanner::RegistryScanner;
use harrier_supply::verdict::Bar;
use harrier_supply::watch::{self, Settings, SupplyAlert};
use tiny_http::Request;

use crate::config::{AdmissionFailure, AdmissionMode, ImagesConfig, SourceConfig};
use crate::metrics::ImageMetrics;
use crate::ServeError;

/// Threads answering each admission listener's requests.
pub const ADMISSION_WORKERS: usize = 8;

/// Largest AdmissionReview body read (an object and its old version).
pub const MAX_REVIEW: usize = 8 << 20;

/// How the service scans images.
#[derive(Clone)]
pub struct Images {
    /// Where image results are (the state directory's `images.db`, or the shared store).
    pub db: Location,
    /// The scanner.
    pub scanner: Arc<RegistryScanner>,
    /// How pushes are judged.
    pub settings: Settings,
    /// Attempts per push.
    pub max_attempts: u32,
    /// Most pushes waiting before the sources are held back.
    pub queue_limit: u64,
    /// Counters.
    pub metrics: Arc<ImageMetrics>,
}

/// The practice bar of `images.practice` (`critical` by default, `none`: never).
pub fn bar(practice: Option<&str>) -> Result<Bar, ServeError> {
    Ok(Bar {
        practice: match practice {
            None => Some(Severity::Critical),
            Some("none") => None,
            Some(s) => Some(
                s.parse::<Severity>()
                    .map_err(|e| ServeError::Conflict(format!("images.practice: {e} (or none)")))?,
            ),
        },
    })
}

impl Images {
    /// From the configuration (`None` when `images:` is absent).
    pub fn new(
        cfg: Option<&ImagesConfig>,
        state_dir: &Path,
        db: Location,
        aws_endpoint_url: Option<String>,
        metrics: Arc<ImageMetrics>,
    ) -> Result<Option<Images>, ServeError> {
        let Some(c) = cfg else { return Ok(None) };
        // Opened once now: a broken file is a start-up error, not a failing thread.
        let d = db
            .open_images()
            .map_err(|e| ServeError::Conflict(e.to_string()))?;
        metrics
            .queue_depth
            .store(d.depth().unwrap_or(0), Ordering::Relaxed);
        Ok(Some(Images {
            db,
            scanner: Arc::new(RegistryScanner {
                vulnerability_db: Some(
                    c.vulnerability_db
                        .clone()
                        .unwrap_or_else(|| state_dir.join("vulns.db")),
                ),
                plain_http: c.plain_http,
                aws_endpoint_url,
                registry_user: None,
            }),
            settings: Settings {
                registry: c.registry.clone(),
                bar: bar(c.practice.as_deref())?,
            },
            max_attempts: c.max_attempts.unwrap_or(3).max(1),
            queue_limit: c.queue_limit.unwrap_or(1000).max(1),
            metrics,
        }))
    }

    fn open(&self) -> Result<Box<dyn ImageResults>, String> {
        self.db.open_images().map_err(|e| e.to_string())
    }

    /// Records `push` to scan, waiting (the caller's input unacknowledged) while the queue is
    /// full.
    fn record(&self, db: &dyn ImageResults, push: &Push, stop: &AtomicBool) -> Result<(), String> {
        loop {
            let depth = db.depth().map_err(|e| e.to_string())?;
            self.metrics.queue_depth.store(depth, Ordering::Relaxed);
            if depth < self.queue_limit {
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return Err(format!(
                    "stopping with {depth} pushes waiting to be scanned (the queue is full)"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if db.enqueue(push).map_err(|e| e.to_string())? {
            self.metrics.pushes.fetch_add(1, Ordering::Relaxed);
            self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
            tracing::info!(image = %push.name(), digest = %push.digest, via = %push.via, "push recorded to scan");
        }
        Ok(())
    }

    /// The detector tap of a CloudTrail source: records each `PutImage` push.
    pub fn tap<'a>(
        &'a self,
        stop: &'a AtomicBool,
    ) -> Result<harrier_detect::CloudTrailTap<'a>, String> {
        let db = self.open()?;
        Ok(Box::new(move |name: &str, bytes: &[u8]| {
            if name != "PutImage" {
                return Ok(());
            }
            // A record that is not JSON is the detector's to report.
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                return Ok(());
            };
            match Push::from_cloudtrail(&v) {
                Some(p) => self.record(db.as_ref(), &p, stop),
                None => Ok(()),
            }
        }))
    }

    /// The scanner: takes pushes in order until `stop`, then returns (what is left waits in
    /// the database for the next start).
    pub fn run_scanner(
        &self,
        mut sink: StoreSink,
        correlator: Option<&crate::incidents::Linking>,
        hostname: &str,
        on_alerts: &dyn Fn(&mut StoreSink),
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let db = self.open()?;
        while !stop.load(Ordering::Relaxed) {
            // One at a time: on a shared store taking a push claims it for a while, and a
            // claim should cover the one scan it is taken for.
            let batch = db.pending(1).map_err(|e| e.to_string())?;
            self.metrics
                .queue_depth
                .store(db.depth().unwrap_or(0), Ordering::Relaxed);
            if batch.is_empty() {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            for q in batch {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match watch::process(db.as_ref(), self.scanner.as_ref(), &q.push, &self.settings) {
                    Ok(o) => {
                        let c = if o.scanned {
                            &self.metrics.scanned
                        } else {
                            &self.metrics.known
                        };
                        c.fetch_add(1, Ordering::Relaxed);
                        store_alerts(&o.alerts, &mut sink, correlator, hostname)
                            .map_err(|e| format!("storing image alerts failed: {e}"))?;
                        on_alerts(&mut sink);
                        tracing::info!(image = %q.push.name(), digest = %q.push.digest, alerts = o.alerts.len(), rescanned = o.scanned, "push scanned");
                        db.finish(q.seq, None, self.max_attempts)
                            .map_err(|e| e.to_string())?;
                    }
                    Err(e) => {
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        let last = q.attempts + 1 >= self.max_attempts;
                        if last {
                            self.metrics.given_up.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(image = %q.push.name(), digest = %q.push.digest, error = %e, attempts = q.attempts + 1, "cannot scan a pushed image; given up");
                        } else {
                            tracing::warn!(image = %q.push.name(), digest = %q.push.digest, error = %e, "cannot scan a pushed image; trying again");
                        }
                        db.finish(q.seq, Some(&e), self.max_attempts)
                            .map_err(|e| e.to_string())?;
                        if !last {
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Stores supply-chain alerts (durably, before returning) and correlates them.
pub fn store_alerts(
    alerts: &[SupplyAlert],
    sink: &mut StoreSink,
    correlator: Option<&crate::incidents::Linking>,
    hostname: &str,
) -> Result<(), harrier_alerts::SinkError> {
    for a in alerts {
        let alert = a.alert(hostname);
        match correlator {
            Some(l) => l.send(sink, &alert, &a.entities)?,
            None => sink.send(&alert)?,
        }
    }
    sink.flush()
}

/// An `ecr_events` queue: each EventBridge "ECR Image Action" push is recorded to scan, then
/// the message deleted; a message that is not one is counted, said and deleted.
pub fn run_ecr_events(
    images: &Images,
    rt: &tokio::runtime::Handle,
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
    stop: &AtomicBool,
) -> Result<(), String> {
    let db = images.open()?;
    while !stop.load(Ordering::Relaxed) {
        let got = rt.block_on(
            client
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(wait_seconds.clamp(0, 20).min(2))
                .send(),
        );
        let msgs = match got {
            Ok(r) => r.messages.unwrap_or_default(),
            Err(e) => {
                tracing::warn!(queue = %queue_url, error = %harrier_aws::describe_error(&e), "ecr_events: receive failed");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        for m in msgs {
            let id = m.message_id().unwrap_or("?").to_string();
            let body = m.body().unwrap_or("");
            let parsed = serde_json::from_str::<serde_json::Value>(body)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|v| {
                    // Through SNS, the event is the notification's Message.
                    let inner = v
                        .get("Message")
                        .and_then(|m| m.as_str())
                        .and_then(|s| serde_json::from_str(s).ok());
                    Push::from_eventbridge(inner.as_ref().unwrap_or(&v))
                });
            match parsed {
                Ok(Some(p)) => images.record(db.as_ref(), &p, stop)?,
                Ok(None) => {
                    tracing::debug!(queue = %queue_url, message = %id, "ecr_events: not an ECR push; skipped")
                }
                Err(e) => {
                    images.metrics.bad_messages.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(queue = %queue_url, message = %id, problem = %e, "ecr_events: bad message; deleted");
                }
            }
            if let Some(h) = m.receipt_handle() {
                if let Err(e) = rt.block_on(
                    client
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(h)
                        .send(),
                ) {
                    // Recorded already: a redelivery is recognised by its event id.
                    tracing::warn!(queue = %queue_url, message = %id, error = %harrier_aws::describe_error(&e), "ecr_events: cannot delete a message");
                }
            }
        }
    }
    Ok(())
}

/// Where a periodic inventory looks.
pub struct InventoryPlan {
    /// ECS, through this client.
    pub ecs: Option<aws_sdk_ecs::Client>,
    /// Kubernetes, through this API server.
    pub kube: Option<harrier_supply::inventory::KubeAccess>,
    /// How often.
    pub every: Duration,
}

/// The inventory sources of the configuration, with their kubeconfigs read.
pub fn inventory_plans(
    sources: &[SourceConfig],
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<InventoryPlan>, ServeError> {
    let mut out = Vec::new();
    for s in sources {
        let SourceConfig::Inventory {
            ecs,
            kubeconfig,
            in_cluster,
            every,
        } = s
        else {
            continue;
        };
        let kube = match (kubeconfig, in_cluster) {
            (Some(k), _) => Some(
                harrier_supply::inventory::KubeAccess::from_kubeconfig(k)
                    .map_err(ServeError::Conflict)?,
            ),
            (None, true) => Some(
                harrier_supply::inventory::KubeAccess::in_cluster()
                    .map_err(ServeError::Conflict)?,
            ),
            (None, false) => None,
        };
        out.push(InventoryPlan {
            ecs: ecs.then(|| aws_sdk_ecs::Client::new(sdk)),
            kube,
            every: every.map(|d| d.0).unwrap_or(Duration::from_secs(600)),
        });
    }
    Ok(out)
}

impl Images {
    /// Lists what runs every `plan.every` until `stop`; scans each new digest, alerts each
    /// running container whose image fails (once per container and digest).
    #[allow(clippy::too_many_arguments)]
    pub fn run_inventory(
        &self,
        plan: &InventoryPlan,
        rt: &tokio::runtime::Handle,
        mut sink: StoreSink,
        correlator: Option<&crate::incidents::Linking>,
        hostname: &str,
        on_alerts: &dyn Fn(&mut StoreSink),
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let db = self.open()?;
        let mut correlated: std::collections::HashSet<String> = Default::default();
        while !stop.load(Ordering::Relaxed) {
            let mut running = Vec::new();
            let mut failed = Vec::new();
            if let Some(c) = &plan.ecs {
                match rt.block_on(harrier_supply::inventory::ecs_running(c)) {
                    Ok(r) => running.extend(r),
                    Err(e) => failed.push(e),
                }
            }
            if let Some(k) = &plan.kube {
                match k.running_pods() {
                    Ok(r) => running.extend(r),
                    Err(e) => failed.push(e),
                }
            }
            for e in &failed {
                self.metrics
                    .inventory_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(problem = %e, "inventory: cannot list what runs; trying again next round");
            }
            let rows = harrier_supply::inventory::judge(
                running,
                Some(db.as_ref()),
                self.scanner.as_ref(),
                self.settings.bar,
            );
            for r in rows.iter().filter(|r| r.error.is_some()) {
                tracing::warn!(image = %r.running.image, workload = %r.running.workload, problem = r.error.as_deref().unwrap_or(""), "inventory: cannot scan a running image");
            }
            let alerts = harrier_supply::inventory::alerts(&rows, harrier_events::time::now_ns());
            self.metrics
                .running_bad
                .store(alerts.len() as u64, Ordering::Relaxed);
            // A container alerted in an earlier round is stored again (the store keeps it once)
            // but not correlated again: an incident gains it once.
            let (fresh, again): (Vec<_>, Vec<_>) = alerts
                .into_iter()
                .partition(|a| !correlated.contains(&a.event_id));
            correlated.extend(fresh.iter().map(|a| a.event_id.clone()));
            store_alerts(&fresh, &mut sink, correlator, hostname)
                .and_then(|_| store_alerts(&again, &mut sink, None, hostname))
                .map_err(|e| format!("storing inventory alerts failed: {e}"))?;
            on_alerts(&mut sink);
            self.metrics
                .inventory_rounds
                .fetch_add(1, Ordering::Relaxed);
            let until = std::time::Instant::now() + plan.every;
            while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }
}

/// One admission webhook.
pub struct AdmissionHook {
    /// Its address.
    pub listen: std::net::SocketAddr,
    /// PEM certificate chain and key.
    pub tls: (Vec<u8>, Vec<u8>),
    /// Its path.
    pub path: String,
    /// The decisions.
    pub controller: Controller,
}

/// The admission webhooks of the configuration (they need `images:` for their scans' settings
/// only when present; without it they scan with the defaults).
pub fn admission_hooks(
    sources: &[SourceConfig],
    images: Option<&Images>,
    state_dir: &Path,
    db: &Location,
) -> Result<Vec<AdmissionHook>, ServeError> {
    let mut out = Vec::new();
    for s in sources {
        let SourceConfig::Admission {
            listen,
            path,
            tls_cert,
            tls_key,
            mode,
            failure_policy,
            timeout,
            allowed_registries,
            deny_latest,
            require_scanned,
        } = s
        else {
            continue;
        };
        let read = |what: &str, p: &Path| {
            std::fs::read(p).map_err(|source| ServeError::File {
                what: what.to_string(),
                path: p.to_path_buf(),
                source,
            })
        };
        let policy = admission::Policy {
            mode: match mode {
                AdmissionMode::Enforce => admission::Mode::Enforce,
                AdmissionMode::Audit => admission::Mode::Audit,
            },
            failure: match failure_policy {
                AdmissionFailure::Fail => admission::FailurePolicy::Fail,
                AdmissionFailure::Ignore => admission::FailurePolicy::Ignore,
            },
            timeout: timeout.map(|d| d.0).unwrap_or(Duration::from_secs(8)),
            allowed_registries: allowed_registries.clone(),
            deny_latest: *deny_latest,
            require_scanned: *require_scanned,
            bar: images.map(|i| i.settings.bar).unwrap_or_default(),
            ..admission::Policy::default()
        };
        let scanner = images.map(|i| Arc::clone(&i.scanner)).unwrap_or_else(|| {
            Arc::new(RegistryScanner {
                vulnerability_db: Some(state_dir.join("vulns.db")),
                ..RegistryScanner::default()
            })
        });
        let db = db
            .open_images()
            .map_err(|e| ServeError::Conflict(e.to_string()))?;
        out.push(AdmissionHook {
            listen: *listen,
            tls: (
                read("admission tls_cert", tls_cert)?,
                read("admission tls_key", tls_key)?,
            ),
            path: path.clone(),
            controller: Controller::new(policy, scanner, Some(db)),
        });
    }
    Ok(out)
}

/// Answers one admission request: 405 for a method other than POST, 413 over
/// [`MAX_REVIEW`], 400 for a malformed review, else 200 with the AdmissionReview answer. A
/// refusal's alert goes to `refusals` after the answer ([`write_refusals`] stores it).
pub fn handle_admission(
    controller: &Controller,
    mut req: Request,
    refusals: &std::sync::mpsc::Sender<SupplyAlert>,
    metrics: &ImageMetrics,
) {
    if *req.method() != tiny_http::Method::Post {
        return respond(req, 405, error_body("use POST"));
    }
    if req.body_length().is_some_and(|n| n > MAX_REVIEW) {
        metrics.admission_bad.fetch_add(1, Ordering::Relaxed);
        return respond(
            req,
            413,
            error_body(&format!("body larger than {MAX_REVIEW} bytes")),
        );
    }
    let mut body = Vec::new();
    if let Err(e) = req
        .as_reader()
        .take(MAX_REVIEW as u64 + 1)
        .read_to_end(&mut body)
    {
        return respond(req, 400, error_body(&format!("cannot read body: {e}")));
    }
    if body.len() > MAX_REVIEW {
        metrics.admission_bad.fetch_add(1, Ordering::Relaxed);
        return respond(
            req,
            413,
            error_body(&format!("body larger than {MAX_REVIEW} bytes")),
        );
    }
    let review = match Review::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            metrics.admission_bad.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(problem = %e, "admission: malformed review");
            return respond(
                req,
                400,
                error_body(&format!("malformed AdmissionReview: {e}")),
            );
        }
    };
    let d = controller.decide(&review);
    if d.cached {
        metrics.admission_cached.fetch_add(1, Ordering::Relaxed);
    }
    let counter = if d.allowed {
        &metrics.admission_allowed
    } else {
        &metrics.admission_denied
    };
    counter.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        uid = %review.uid, kind = %review.kind, namespace = %review.namespace, name = %review.name,
        user = %review.user, allowed = d.allowed, images = review.images.len(), cached = d.cached,
        "admission review"
    );
    respond(req, 200, admission::response(&review, &d).to_string());
    // Stored by the listener's writer after the answer: the API server is not kept waiting
    // for a disk sync.
    if let Some(a) = controller.alert(&review, &d, harrier_events::time::now_ns()) {
        let _ = refusals.send(a);
    }
}

/// Stores the refusals an admission listener sends, in batches, until its sender is gone.
pub fn write_refusals(
    rx: std::sync::mpsc::Receiver<SupplyAlert>,
    mut sink: StoreSink,
    correlator: Option<&crate::incidents::Linking>,
    hostname: &str,
    on_alerts: &dyn Fn(&mut StoreSink),
) -> Result<(), String> {
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(a) => a,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(1000));
        store_alerts(&batch, &mut sink, correlator, hostname)
            .map_err(|e| format!("storing admission refusals failed: {e}"))?;
        on_alerts(&mut sink);
    }
}
