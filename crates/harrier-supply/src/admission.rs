//! Kubernetes admission control (ValidatingAdmissionWebhook, `admission.k8s.io/v1`).
//!
//! [`Review::parse`] reads an AdmissionReview and finds every image of the Pod or workload it
//! carries (containers, init and ephemeral containers; Deployments, ReplicaSets, StatefulSets,
//! DaemonSets, Jobs, ReplicationControllers and PodTemplates nest the pod spec under
//! `template`, CronJobs one level deeper). [`Controller::decide`] judges each image against a
//! [`Policy`]: a registry off the allowed list, a `latest` or missing tag (unless pinned by
//! digest), and, from the image's scan, planted malware, a critical vulnerability that has a
//! fix, or practice over the bar. An image never scanned is scanned on demand within the
//! webhook's time; what cannot be judged in time (or at all: the registry unreachable) follows
//! the failure policy. Audit mode allows everything and says what it would have refused as
//! warnings. Scans and tag resolutions are cached (a scan by digest for good, a tag for a short
//! time), so a known image is answered without a registry round trip.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harrier_image::registry::Reference;
use harrier_incidents::{Entity, Kind};
use harrier_rules::Priority;
use serde_json::{json, Value};

use crate::results::ImageResults;
use crate::scanner::Scanner;
use crate::verdict::{Bar, Summary};
use crate::watch::SupplyAlert;

/// The rule name of a refused admission.
pub const RULE_DENIED: &str = "Admission Denied";

/// One image of the reviewed object, with the container that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodImage {
    /// Where: `containers[web]`, `initContainers[setup]`.
    pub container: String,
    /// The image as written.
    pub image: String,
}

/// An AdmissionReview request, as much as the decision needs.
#[derive(Debug, Clone)]
pub struct Review {
    /// The review's apiVersion (answered with the same).
    pub api_version: String,
    /// The request's uid (the answer must carry it).
    pub uid: String,
    /// The object's kind (`Pod`, `Deployment`).
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name (may be empty: `generateName`).
    pub name: String,
    /// CREATE, UPDATE, DELETE, CONNECT.
    pub operation: String,
    /// Who asked.
    pub user: String,
    /// The images to judge.
    pub images: Vec<PodImage>,
    /// For an UPDATE: the images the object had before (not judged again: a label patched on
    /// a running pod is not a new image).
    pub old_images: std::collections::BTreeSet<String>,
}

/// The images of a pod spec, with their containers.
fn spec_images(spec: &Value) -> Result<Vec<PodImage>, String> {
    let mut images = Vec::new();
    if !spec.is_object() {
        return Err("pod spec is not an object".into());
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(cs) = spec.get(list) else { continue };
        let cs = cs
            .as_array()
            .ok_or_else(|| format!("spec.{list} is not a list"))?;
        for (i, c) in cs.iter().enumerate() {
            let name = c["name"].as_str().map(str::to_string);
            let image = c["image"].as_str().unwrap_or_default().to_string();
            images.push(PodImage {
                container: format!("{list}[{}]", name.unwrap_or_else(|| i.to_string())),
                image,
            });
        }
    }
    Ok(images)
}

/// Where the pod spec is in an object of each kind.
fn pod_spec<'a>(kind: &str, object: &'a Value) -> Option<&'a Value> {
    match kind {
        "Pod" => object.get("spec"),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => object.pointer("/spec/template/spec"),
        "PodTemplate" => object.pointer("/template/spec"),
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

fn text(v: &Value, p: &str) -> String {
    v.pointer(p)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl Review {
    /// Reads an AdmissionReview body. An error says what is missing or wrong (answered 400).
    pub fn parse(body: &[u8]) -> Result<Review, String> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| format!("not JSON: {e} (line {}, column {})", e.line(), e.column()))?;
        if v["kind"] != "AdmissionReview" {
            return Err("not an AdmissionReview (kind)".into());
        }
        let api_version = text(&v, "/apiVersion");
        if !matches!(
            api_version.as_str(),
            "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
        ) {
            return Err(format!(
                "apiVersion {api_version:?}: expected admission.k8s.io/v1"
            ));
        }
        let req = v
            .get("request")
            .filter(|r| r.is_object())
            .ok_or("an AdmissionReview without a request")?;
        let uid = text(req, "/uid");
        if uid.is_empty() {
            return Err("request.uid is missing".into());
        }
        let kind = text(req, "/kind/kind");
        let object = req.get("object").filter(|o| o.is_object());
        let images = match object.and_then(|o| pod_spec(&kind, o)) {
            Some(spec) => spec_images(spec).map_err(|e| format!("the {kind}'s {e}"))?,
            None => Vec::new(),
        };
        let old_images = req
            .get("oldObject")
            .filter(|o| o.is_object())
            .and_then(|o| pod_spec(&kind, o))
            .and_then(|spec| spec_images(spec).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.image)
            .collect();
        Ok(Review {
            api_version,
            uid,
            namespace: text(req, "/namespace"),
            name: object
                .map(|o| {
                    let n = text(o, "/metadata/name");
                    if n.is_empty() {
                        text(o, "/metadata/generateName")
                    } else {
                        n
                    }
                })
                .unwrap_or_else(|| text(req, "/name")),
            operation: text(req, "/operation"),
            user: text(req, "/userInfo/username"),
            kind,
            images,
            old_images,
        })
    }
}

/// Enforce (refuse) or audit (allow, with warnings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse what the policy refuses.
    Enforce,
    /// Allow everything; say what would have been refused.
    Audit,
}

/// What an image that cannot be judged in time (or at all) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Refuse it.
    Fail,
    /// Allow it, with a warning.
    Ignore,
}

/// The admission policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Enforce or audit.
    pub mode: Mode,
    /// What an image that cannot be judged means.
    pub failure: FailurePolicy,
    /// Time for a whole review, registry round trips and on-demand scans included (keep it
    /// under the webhook's `timeoutSeconds`).
    pub timeout: Duration,
    /// Registries (hosts, or host/path prefixes) images may come from; empty: any.
    pub allowed_registries: Vec<String>,
    /// Refuse `latest` and missing tags (unless pinned by digest).
    pub deny_latest: bool,
    /// Scan an image never scanned before deciding (else it is allowed with a warning and
    /// scanned in the background).
    pub require_scanned: bool,
    /// What in a scan refuses an image.
    pub bar: Bar,
    /// How long a tag's digest is trusted before the registry is asked again.
    pub tag_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Enforce,
            failure: FailurePolicy::Fail,
            timeout: Duration::from_secs(8),
            allowed_registries: Vec::new(),
            deny_latest: true,
            require_scanned: true,
            bar: Bar::default(),
            tag_ttl: Duration::from_secs(60),
        }
    }
}

/// A digest and, when it was asked for and could be had, its scan.
type Fetched = Result<(String, Option<Arc<Summary>>), String>;

/// One image's judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The container.
    pub container: String,
    /// The image as written.
    pub image: String,
    /// Its digest, when resolved.
    pub digest: Option<String>,
    /// Why it is refused (empty: fine).
    pub problems: Vec<String>,
    /// Why it could not be judged (then the failure policy decides).
    pub unjudged: Option<String>,
}

/// The answer to one review.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Allowed?
    pub allowed: bool,
    /// Why not (when refused).
    pub message: Option<String>,
    /// Warnings shown to the user (audit mode, failure policy Ignore, background scans).
    pub warnings: Vec<String>,
    /// Each image.
    pub images: Vec<ImageVerdict>,
    /// Whether every image was answered from the caches.
    pub cached: bool,
}

/// Registry round trips and scans running at once, for every review together: a review
/// naming more images than this (or a flood of reviews) gets the failure policy for the rest,
/// never an unbounded number of threads.
pub const MAX_FETCHES: usize = 16;

struct Inner {
    policy: Policy,
    scanner: Arc<dyn Scanner>,
    db: Option<Mutex<Box<dyn ImageResults>>>,
    scans: Mutex<HashMap<String, Arc<Summary>>>,
    tags: Mutex<HashMap<String, (String, Instant)>>,
    inflight: std::sync::atomic::AtomicUsize,
}

/// Runs `f` on a thread of its own when fewer than [`MAX_FETCHES`] run; false when not.
fn try_spawn(inner: &Arc<Inner>, f: impl FnOnce(&Inner) + Send + 'static) -> bool {
    use std::sync::atomic::Ordering;
    if inner.inflight.fetch_add(1, Ordering::SeqCst) >= MAX_FETCHES {
        inner.inflight.fetch_sub(1, Ordering::SeqCst);
        return false;
    }
    /// Gives the slot back however the fetch ends (a panic included).
    struct Slot(Arc<Inner>);
    impl Drop for Slot {
        fn drop(&mut self) {
            self.0.inflight.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let slot = Slot(Arc::clone(inner));
    std::thread::Builder::new()
        .name("admission fetch".into())
        .spawn(move || {
            let slot = slot;
            f(&slot.0);
        })
        .is_ok()
}

/// Judges reviews; shared by the webhook's threads.
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    fn cached_scan(&self, digest: &str) -> Option<Arc<Summary>> {
        if let Some(s) = lock(&self.scans).get(digest) {
            return Some(Arc::clone(s));
        }
        let stored = self
            .db
            .as_ref()
            .and_then(|db| lock(db).scan(digest).ok().flatten())?;
        let s = Arc::new(stored);
        lock(&self.scans).insert(digest.to_string(), Arc::clone(&s));
        Some(s)
    }

    fn cached_digest(&self, r: &Reference) -> Option<String> {
        if r.reference.starts_with("sha256:") {
            return Some(r.reference.clone());
        }
        let t = lock(&self.tags);
        let (d, at) = t.get(&r.to_string())?;
        (at.elapsed() < self.policy.tag_ttl).then(|| d.clone())
    }

    /// Resolves and (when asked) scans `r`, filling the caches; the slow path.
    fn fetch(&self, r: &Reference, scan: bool, timeout: Duration) -> Fetched {
        let digest = match self.cached_digest(r) {
            Some(d) => d,
            None => {
                let d = self.scanner.digest(r, timeout)?;
                lock(&self.tags).insert(r.to_string(), (d.clone(), Instant::now()));
                d
            }
        };
        if let Some(s) = self.cached_scan(&digest) {
            return Ok((digest, Some(s)));
        }
        if !scan {
            return Ok((digest, None));
        }
        let by_digest = Reference {
            reference: digest.clone(),
            ..r.clone()
        };
        let s = self.scanner.scan(&by_digest)?;
        if let Some(db) = &self.db {
            if let Err(e) = lock(db).put_scan(&s) {
                tracing::warn!(error = %e, "cannot store an admission scan");
            }
        }
        let s = Arc::new(s);
        lock(&self.scans).insert(digest.clone(), Arc::clone(&s));
        Ok((digest, Some(s)))
    }
}

impl Controller {
    /// A controller with `policy`, scanning through `scanner`, sharing stored scans with `db`
    /// (the scans of pushed images), when given.
    pub fn new(
        policy: Policy,
        scanner: Arc<dyn Scanner>,
        db: Option<Box<dyn ImageResults>>,
    ) -> Controller {
        Controller {
            inner: Arc::new(Inner {
                policy,
                scanner,
                db: db.map(Mutex::new),
                scans: Mutex::new(HashMap::new()),
                tags: Mutex::new(HashMap::new()),
                inflight: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Problems of the reference itself (registry, tag), before any registry is asked.
    fn static_problems(&self, image: &str, r: Option<&Reference>) -> Vec<String> {
        let p = &self.inner.policy;
        let Some(r) = r else {
            return vec![format!("{image:?} is not an image reference")];
        };
        let mut out = Vec::new();
        if !p.allowed_registries.is_empty() {
            let host = if r.host == "registry-1.docker.io" {
                "docker.io"
            } else {
                r.host.as_str()
            };
            let full = format!("{host}/{}", r.repository);
            let ok = p.allowed_registries.iter().any(|a| {
                let a = a.trim_end_matches('/');
                host == a || full == a || full.starts_with(&format!("{a}/"))
            });
            if !ok {
                out.push(format!(
                    "registry {host} is not allowed (allowed: {})",
                    p.allowed_registries.join(", ")
                ));
            }
        }
        let pinned = image.contains("@sha256:");
        if p.deny_latest && !pinned {
            let tagged = image
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'));
            if !tagged {
                out.push("no tag (it means latest): pin a version or a digest".into());
            } else if r.reference == "latest" {
                out.push("the latest tag: pin a version or a digest".into());
            }
        }
        out
    }

    /// Judges `review`.
    pub fn decide(&self, review: &Review) -> Decision {
        let p = &self.inner.policy;
        let deadline = Instant::now() + p.timeout;
        let mut verdicts = Vec::new();
        let mut cached = true;
        let judge = matches!(review.operation.as_str(), "CREATE" | "UPDATE");
        let mut pending: Vec<(usize, mpsc::Receiver<Fetched>)> = Vec::new();
        let mut asked: HashMap<String, usize> = HashMap::new();
        let mut copies: Vec<(usize, usize)> = Vec::new();
        let unchanged =
            |pi: &&PodImage| review.operation == "UPDATE" && review.old_images.contains(&pi.image);
        for pi in review
            .images
            .iter()
            .filter(|_| judge)
            .filter(|pi| !unchanged(pi))
        {
            let r = Reference::parse(&pi.image);
            let problems = self.static_problems(&pi.image, r.as_ref());
            let mut v = ImageVerdict {
                container: pi.container.clone(),
                image: pi.image.clone(),
                digest: None,
                problems,
                unjudged: None,
            };
            if let Some(r) = r.filter(|_| v.problems.is_empty()) {
                // The fast path: digest and scan both known.
                let known = self
                    .inner
                    .cached_digest(&r)
                    .and_then(|d| self.inner.cached_scan(&d).map(|s| (d, s)));
                match known {
                    Some((d, s)) => {
                        v.digest = Some(d);
                        v.problems = s.reasons(p.bar);
                    }
                    None => {
                        cached = false;
                        if let Some(&first) = asked.get(&pi.image) {
                            // The same image in another container: one fetch for both.
                            copies.push((verdicts.len(), first));
                        } else {
                            let (tx, rx) = mpsc::channel();
                            let scan = p.require_scanned;
                            let budget = deadline.saturating_duration_since(Instant::now());
                            // Goes on after the deadline: the result is cached for the next ask.
                            let started = try_spawn(&self.inner, move |inner| {
                                let _ = tx.send(inner.fetch(&r, scan, budget));
                            });
                            if started {
                                asked.insert(pi.image.clone(), verdicts.len());
                                pending.push((verdicts.len(), rx));
                            } else {
                                v.unjudged =
                                    Some(format!("{MAX_FETCHES} registry checks already running"));
                            }
                        }
                    }
                }
            }
            verdicts.push(v);
        }
        let mut warnings = Vec::new();
        for (i, rx) in pending {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = &mut verdicts[i];
            match rx.recv_timeout(left) {
                Ok(Ok((d, Some(s)))) => {
                    v.digest = Some(d);
                    v.problems = s.reasons(p.bar);
                }
                Ok(Ok((d, None))) => {
                    v.digest = Some(d);
                    warnings.push(format!(
                        "{}: not scanned yet; allowed by policy, scanning now",
                        v.image
                    ));
                    if let Some(r) = Reference::parse(&v.image) {
                        // Best effort: when too many run, the next ask scans it.
                        try_spawn(&self.inner, move |inner| {
                            let _ = inner.fetch(&r, true, Duration::from_secs(60));
                        });
                    }
                }
                Ok(Err(e)) => v.unjudged = Some(e),
                Err(_) => {
                    v.unjudged = Some(format!(
                        "not judged within {:.1}s (the scan goes on)",
                        p.timeout.as_secs_f64()
                    ))
                }
            }
        }
        for (i, from) in copies {
            let (digest, problems, unjudged) = {
                let f = &verdicts[from];
                (f.digest.clone(), f.problems.clone(), f.unjudged.clone())
            };
            let v = &mut verdicts[i];
            v.digest = digest;
            v.problems = problems;
            v.unjudged = unjudged;
        }
        let mut refusals = Vec::new();
        for v in &verdicts {
            if !v.problems.is_empty() {
                refusals.push(format!(
                    "{} ({}): {}",
                    v.image,
                    v.container,
                    v.problems.join("; ")
                ));
            }
            if let Some(u) = &v.unjudged {
                let m = format!("{} ({}): cannot be checked: {u}", v.image, v.container);
                match p.failure {
                    FailurePolicy::Fail => refusals.push(m),
                    FailurePolicy::Ignore => {
                        warnings.push(format!("{m}; allowed (failure policy Ignore)"))
                    }
                }
            }
        }
        let (allowed, message) = match (p.mode, refusals.is_empty()) {
            (_, true) => (true, None),
            (Mode::Enforce, false) => (
                false,
                Some(format!(
                    "harrier refused {} {}/{}: {}",
                    review.kind,
                    review.namespace,
                    review.name,
                    refusals.join("; ")
                )),
            ),
            (Mode::Audit, false) => {
                warnings.extend(refusals.iter().map(|r| format!("would be refused: {r}")));
                (true, None)
            }
        };
        Decision {
            allowed,
            message,
            warnings,
            images: verdicts,
            cached,
        }
    }

    /// The stored alert for a refused review (`None` when it was allowed).
    pub fn alert(&self, review: &Review, d: &Decision, time_ns: i64) -> Option<SupplyAlert> {
        let message = d.message.as_ref()?;
        let bad: Vec<&ImageVerdict> = d
            .images
            .iter()
            .filter(|v| !v.problems.is_empty() || v.unjudged.is_some())
            .collect();
        let malware = bad
            .iter()
            .any(|v| v.problems.iter().any(|p| p.starts_with("malware")));
        let mut entities: Vec<Entity> = vec![
            Entity::new(Kind::Namespace, review.namespace.clone()),
            Entity::new(Kind::K8sUser, review.user.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if review.kind == "Pod" {
            entities.extend(Entity::new(
                Kind::Pod,
                format!("{}/{}", review.namespace, review.name),
            ));
        }
        for v in &bad {
            entities.extend(
                v.digest
                    .clone()
                    .and_then(|d| Entity::new(Kind::ImageDigest, d)),
            );
            entities.extend(
                harrier_incidents::entity::image_key(&v.image)
                    .and_then(|k| Entity::new(Kind::Image, k)),
            );
        }
        entities.sort();
        entities.dedup();
        Some(SupplyAlert {
            rule: RULE_DENIED,
            priority: if malware {
                Priority::Critical
            } else {
                Priority::Warning
            },
            output: format!(
                "{message} (by {})",
                if review.user.is_empty() {
                    "?"
                } else {
                    &review.user
                }
            ),
            fields: vec![
                ("k8s.ns.name", Some(review.namespace.clone())),
                ("k8s.kind", Some(review.kind.clone())),
                ("k8s.name", Some(review.name.clone())),
                ("ka.user.name", Some(review.user.clone())),
                (
                    "image.refused",
                    Some(
                        bad.iter()
                            .map(|v| v.image.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ),
            ],
            tags: [
                "k8s",
                "container",
                "image",
                "admission",
                "mitre_execution",
                "T1610",
            ]
            .iter()
            .map(|t| t.to_string())
            .collect(),
            event_id: format!("admission/{}", review.uid),
            time_ns,
            entities,
        })
    }
}

/// Room for the message and the warnings of an answer together, in bytes.
pub const ANSWER_TEXT_BUDGET: usize = 760;

fn shorten(t: &str, max: usize) -> String {
    if t.len() <= max {
        return t.to_string();
    }
    let mut cut = max.saturating_sub(3);
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &t[..cut])
}

/// The AdmissionReview answer to `review`. The message and warnings are shown to whoever
/// applied the object, so they are kept short: together within [`ANSWER_TEXT_BUDGET`] bytes
/// (the whole answer then fits the HTTP server's one write; the full text is in the stored
/// alert and the log).
pub fn response(review: &Review, d: &Decision) -> Value {
    let mut r = json!({"uid": review.uid, "allowed": d.allowed});
    let mut left = ANSWER_TEXT_BUDGET;
    if let Some(m) = &d.message {
        let m = shorten(m, 520);
        left = left.saturating_sub(m.len());
        r["status"] = json!({"code": 403, "reason": "Forbidden", "message": m});
    }
    if !d.warnings.is_empty() {
        let mut out = Vec::new();
        for (i, w) in d.warnings.iter().enumerate() {
            let w = shorten(w, 200);
            let rest = d.warnings.len() - i;
            if w.len() + 40 > left && rest > 0 {
                out.push(Value::String(format!("and {rest} more (harrier's log)")));
                break;
            }
            left -= w.len();
            out.push(Value::String(w));
        }
        r["warnings"] = Value::Array(out);
    }
    json!({"apiVersion": review.api_version, "kind": "AdmissionReview", "response": r})
}

#[cfg(test)]
mod tests;
