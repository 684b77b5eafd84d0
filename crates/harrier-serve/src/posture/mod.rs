//! Continuous posture in the service: a full scan at start (and every `full_scan_every`), then
//! each configuration change a CloudTrail source reads re-checked within seconds by re-reading
//! only the part of the account it touched ([`harrier_posture::collect::recheck`]).
//!
//! The CloudTrail sources' detector tap hands every successful mutating call of an area the
//! checks judge to the watcher; changes are coalesced (a burst within `settle` costs one
//! re-read per area and region), the snapshot's documents of those areas replaced, every check
//! evaluated again and compared with the last verdicts. A check that now fails raises
//! **Posture Check Failed** (its fix, and who made the change, so it joins that actor's
//! incident); one that now passes raises **Posture Check Fixed** (informational). Each
//! re-check is recorded in the posture history with its score.
//!
//! With a store several workers share, one of them watches for all ([`shared`]): every
//! worker queues the changes its sources read in the store, and the one holding the posture
//! lease scans and re-checks them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use harrier_alerts::store::StoreSink;
use harrier_alerts::{Alert, AlertSink};
use harrier_incidents::{Entity, Kind};
use harrier_posture::collect::recheck::Area;
use harrier_posture::collect::CollectOptions;
use harrier_posture::{Finding, Severity, Snapshot, Status};
use harrier_rules::Priority;

pub mod shared;

/// A configuration change read from CloudTrail.
#[derive(Debug, Clone)]
pub struct Change {
    /// What it touched.
    pub area: Area,
    /// Where.
    pub region: String,
    /// The call.
    pub event: String,
    /// Its id.
    pub event_id: String,
    /// Who (an ARN).
    pub actor: Option<String>,
    /// With which key.
    pub key: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// When, ns.
    pub time_ns: i64,
    /// When it was read here.
    pub seen: Instant,
    /// The account the call was made in (`recipientAccountId`).
    pub account: Option<String>,
}

fn s(v: &serde_json::Value, p: &str) -> Option<String> {
    v.pointer(p)
        .and_then(|x| x.as_str())
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

impl Change {
    /// The change a CloudTrail record makes, if it is a successful call an area's checks judge.
    pub fn from_record(name: &str, bytes: &[u8]) -> Option<Change> {
        // Cheap refusal of reads before parsing.
        if Area::is_read(name) {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        if v.get("errorCode").is_some_and(|e| !e.is_null()) {
            return None;
        }
        let area = Area::of_call(&s(&v, "/eventSource")?, name)?;
        Some(Change {
            area,
            region: s(&v, "/awsRegion").unwrap_or_else(|| "us-east-1".into()),
            event: name.to_string(),
            event_id: s(&v, "/eventID").unwrap_or_default(),
            actor: s(&v, "/userIdentity/arn"),
            key: s(&v, "/userIdentity/accessKeyId"),
            ip: s(&v, "/sourceIPAddress"),
            time_ns: s(&v, "/eventTime")
                .and_then(|t| harrier_events::time::parse_rfc3339(&t))
                .unwrap_or(0),
            seen: Instant::now(),
            account: s(&v, "/recipientAccountId").or_else(|| s(&v, "/userIdentity/accountId")),
        })
    }
}

impl Change {
    /// The change as queued in a shared store (JSON; when it was read here is left out).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "area": self.area.name(),
            "region": self.region,
            "event": self.event,
            "event_id": self.event_id,
            "actor": self.actor,
            "key": self.key,
            "ip": self.ip,
            "time_ns": self.time_ns,
            "account": self.account,
        })
        .to_string()
    }

    /// A change read back from a shared store's queue (read now, as far as settling goes);
    /// `None` when it is not one.
    pub fn from_json(text: &str) -> Option<Change> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let name = v.get("area")?.as_str()?;
        let area = *Area::ALL.iter().find(|a| a.name() == name)?;
        let opt = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(Change {
            area,
            region: opt("region")?,
            event: opt("event")?,
            event_id: opt("event_id").unwrap_or_default(),
            actor: opt("actor"),
            key: opt("key"),
            ip: opt("ip"),
            time_ns: v.get("time_ns").and_then(|x| x.as_i64()).unwrap_or(0),
            seen: Instant::now(),
            account: opt("account"),
        })
    }
}

/// Changes held before a re-check is forced.
const MAX_PENDING: usize = 10_000;

/// Counters.
#[derive(Default)]
pub struct PostureMetrics {
    /// Full scans done.
    pub full_scans: AtomicU64,
    /// Areas re-read after changes.
    pub rereads: AtomicU64,
    /// Changes read from CloudTrail.
    pub changes: AtomicU64,
    /// Checks that went from passing to failing.
    pub newly_failing: AtomicU64,
    /// Checks that went from failing to passing.
    pub fixed: AtomicU64,
    /// The score after the last evaluation, in hundredths.
    pub score_centi: AtomicU64,
}

/// The watcher's settings.
pub struct Watch {
    /// How to reach the account.
    pub opts: CollectOptions,
    /// Full scan interval.
    pub every: Duration,
    /// Quiet time before a burst of changes is re-checked.
    pub settle: Duration,
    /// The posture history.
    pub history: crate::store::Location,
    /// Counters.
    pub metrics: std::sync::Arc<PostureMetrics>,
}

type Verdicts = HashMap<(&'static str, String, String), (Status, String)>;

fn verdicts(f: &[Finding]) -> Verdicts {
    f.iter()
        .map(|f| {
            (
                (f.check, f.region.clone(), f.resource.clone()),
                (f.status, f.reason.clone()),
            )
        })
        .collect()
}

fn priority(s: Severity) -> Priority {
    match s {
        Severity::Critical => Priority::Critical,
        Severity::High => Priority::Error,
        Severity::Medium => Priority::Warning,
        Severity::Low => Priority::Notice,
    }
}

/// One alert to store, with its entities.
struct Out {
    rule: &'static str,
    priority: Priority,
    output: String,
    fields: Vec<(&'static str, Option<String>)>,
    tags: Vec<String>,
    event_id: String,
    time_ns: i64,
    entities: Vec<Entity>,
    /// What the history keeps of it.
    change: harrier_posture::history::ChangeRecord,
}

fn resource_entities(check: &harrier_posture::Check, resource: &str, out: &mut Vec<Entity>) {
    if let Some(i) = resource.find("sg-") {
        let id: String = resource[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        out.extend(Entity::new(Kind::SecurityGroup, id));
    }
    if check.service == "s3" {
        let name = resource.trim_start_matches("arn:aws:s3:::");
        if !name.is_empty() && !name.contains(':') {
            out.extend(Entity::new(Kind::Bucket, name.to_string()));
        }
    }
}

/// What changed between two evaluations, as alerts: `changes` name who did it (none for a
/// periodic scan).
fn diff(
    before: &Verdicts,
    after: &[Finding],
    changes: &[Change],
    account: &str,
    scan_id: &str,
) -> Vec<Out> {
    let mut out = Vec::new();
    for f in after {
        let Some(check) = harrier_posture::check(f.check) else {
            continue;
        };
        // Who changed what this check reads, there; nobody when its verdict moved for another
        // reason (a key aging past a limit).
        let by: Option<&Change> = changes
            .iter()
            .filter(|c| {
                c.area.judges(check.service)
                    && (c.area.is_global() || f.region == c.region || f.region == "global")
            })
            .max_by_key(|c| c.time_ns);
        let was = before
            .get(&(f.check, f.region.clone(), f.resource.clone()))
            .map(|(s, _)| *s);
        let (rule, prio) = match (was, f.status) {
            (Some(Status::Fail), Status::Fail) | (_, Status::Unknown) | (None, Status::Pass) => {
                continue
            }
            (_, Status::Fail) => ("Posture Check Failed", priority(check.severity)),
            (Some(Status::Fail), Status::Pass) => ("Posture Check Fixed", Priority::Informational),
            _ => continue,
        };
        let who = match by {
            Some(c) => format!(
                " after {} by {}{}",
                c.event,
                c.actor.as_deref().unwrap_or("?"),
                c.ip.as_deref()
                    .map(|i| format!(" from {i}"))
                    .unwrap_or_default()
            ),
            None if changes.is_empty() => " (found by the periodic scan)".to_string(),
            None => " (found at a re-check; no change read names it)".to_string(),
        };
        let fix = check.cli.first().copied().unwrap_or(check.remediation);
        let output = if rule == "Posture Check Failed" {
            format!(
                "{}: {} ({}) now fails{who}: {}. Fix: {fix}",
                check.title, f.resource, f.region, f.reason
            )
        } else {
            format!("{}: {} ({}) fixed{who}", check.title, f.resource, f.region)
        };
        let mut entities: Vec<Entity> = Vec::new();
        if let Some(c) = by {
            entities.extend(
                c.actor
                    .clone()
                    .and_then(|a| Entity::new(Kind::Principal, a)),
            );
            entities.extend(c.key.clone().and_then(|k| Entity::new(Kind::AccessKey, k)));
            entities.extend(c.ip.clone().and_then(|i| Entity::new(Kind::SourceIp, i)));
        }
        entities.extend(Entity::new(Kind::Account, account.to_string()));
        resource_entities(check, &f.resource, &mut entities);
        entities.sort();
        entities.dedup();
        out.push(Out {
            rule,
            priority: prio,
            output,
            fields: vec![
                ("posture.check", Some(f.check.to_string())),
                ("posture.resource", Some(f.resource.clone())),
                ("posture.region", Some(f.region.clone())),
                ("posture.reason", Some(f.reason.clone())),
                ("posture.remediation", Some(check.remediation.to_string())),
                ("posture.cli", Some(check.cli.join(" && "))),
                ("posture.changed_by", by.and_then(|c| c.actor.clone())),
                ("posture.event", by.map(|c| c.event.clone())),
                ("ct.user.accountid", Some(account.to_string())),
            ],
            tags: vec![
                "aws".into(),
                "posture".into(),
                check.service.to_string(),
                "mitre_defense_evasion".into(),
            ],
            event_id: format!(
                "posture/{}/{}/{}/{}/{scan_id}",
                if rule == "Posture Check Failed" {
                    "fail"
                } else {
                    "fixed"
                },
                f.check,
                f.region,
                f.resource
            ),
            time_ns: by
                .map(|c| c.time_ns)
                .unwrap_or_else(harrier_events::time::now_ns),
            entities,
            change: harrier_posture::history::ChangeRecord {
                check: f.check.to_string(),
                region: f.region.clone(),
                resource: f.resource.clone(),
                became: if rule == "Posture Check Failed" {
                    "fail"
                } else {
                    "pass"
                }
                .into(),
                actor: by.and_then(|c| c.actor.clone()),
                event: by.map(|c| c.event.clone()),
                at: harrier_events::time::format_iso8601(
                    by.map(|c| c.time_ns)
                        .unwrap_or_else(harrier_events::time::now_ns),
                ),
            },
        });
    }
    out
}

fn store(
    outs: &[Out],
    sink: &mut StoreSink,
    correlator: Option<&crate::incidents::Linking>,
    hostname: &str,
) -> Result<(), String> {
    for o in outs {
        let a = Alert {
            time_ns: o.time_ns,
            rule: o.rule,
            priority: o.priority,
            source: "posture",
            output: o.output.clone(),
            output_fields: o.fields.clone(),
            tags: &o.tags,
            hostname,
            event_id: Some(o.event_id.clone().into()),
            rule_file: "<posture>",
            event: None,
        };
        match correlator {
            Some(l) => l.send(sink, &a, &o.entities),
            None => sink.send(&a),
        }
        .map_err(|e| e.to_string())?;
    }
    sink.flush().map_err(|e| e.to_string())
}

/// What the watcher knows of the account since its last full scan.
struct Baseline {
    account: String,
    snap: Snapshot,
    findings: Vec<Finding>,
    last_full: Instant,
    seq: u64,
}

impl Baseline {
    fn new(snap: Snapshot, findings: Vec<Finding>) -> Baseline {
        Baseline {
            account: snap.account_id.clone().unwrap_or_default(),
            snap,
            findings,
            last_full: Instant::now(),
            seq: 0,
        }
    }

    fn announce(&self) {
        eprintln!(
            "harrier posture: {} findings ({} failing) in account {}; watching changes",
            self.findings.len(),
            self.findings
                .iter()
                .filter(|f| f.status == Status::Fail)
                .count(),
            self.account
        );
    }

    /// Adds `c` to `pending` when it is this account's (an organisation trail brings other
    /// accounts' changes too); false when it is not.
    fn take(&self, w: &Watch, c: Change, pending: &mut Vec<Change>) -> bool {
        if c.account.as_deref().is_some_and(|a| a != self.account) {
            return false;
        }
        w.metrics.changes.fetch_add(1, Ordering::Relaxed);
        pending.push(c);
        true
    }
}

/// Whether `pending` is to be re-checked now: quiet for `settle`, or waiting five times that,
/// or too many (a busy trail must not postpone it for ever).
fn settled(pending: &[Change], settle: Duration) -> bool {
    let newest = pending.iter().map(|c| c.seen).max();
    let oldest = pending.iter().map(|c| c.seen).min();
    pending.len() >= MAX_PENDING
        || newest.is_some_and(|t| t.elapsed() >= settle)
        || oldest.is_some_and(|t| t.elapsed() >= settle * 5)
}

impl Watch {
    /// Records an evaluation: a full scan, or (with `changes`) a re-check and what it changed.
    fn record(&self, account: &str, findings: &[Finding], changes: Option<&[Out]>) {
        let taken = harrier_events::time::format_iso8601(harrier_events::time::now_ns());
        match self.history.open_history().and_then(|mut h| match changes {
            None => h.record(account, &taken, findings),
            Some(outs) => {
                let rows: Vec<_> = outs.iter().map(|o| o.change.clone()).collect();
                h.record_recheck(account, &taken, findings, &rows)
            }
        }) {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "posture: cannot record the evaluation in the history")
            }
        }
        let score = harrier_posture::score(findings, |_| true).value;
        self.metrics.score_centi.store(
            (score.unwrap_or(0.0) * 100.0).round().max(0.0) as u64,
            Ordering::Relaxed,
        );
    }

    fn full_scan(&self) -> Result<(Snapshot, Vec<Finding>), String> {
        let snap = harrier_posture::collect::collect(&self.opts).map_err(|e| e.to_string())?;
        let findings =
            harrier_posture::evaluate(&snap, harrier_events::time::now_ns() / 1_000_000_000);
        self.metrics.full_scans.fetch_add(1, Ordering::Relaxed);
        Ok((snap, findings))
    }

    /// Runs until `stop`: a full scan, then the changes `rx` brings. With `shared` (the
    /// store several workers share), this worker queues the changes it reads there, and
    /// scans and re-checks every worker's only while it holds the posture lease
    /// ([`shared::TASK`]).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        rx: Receiver<Change>,
        mut sink: StoreSink,
        correlator: Option<&crate::incidents::Linking>,
        hostname: &str,
        on_alerts: &dyn Fn(&mut StoreSink),
        stop: &AtomicBool,
        shared: Option<shared::OpenLease<'_>>,
    ) -> Result<(), String> {
        let mut emit = |outs: &[Out]| -> Result<(), String> {
            self.count(outs);
            store(outs, &mut sink, correlator, hostname)?;
            on_alerts(&mut sink);
            Ok(())
        };
        match shared {
            Some(open_lease) => shared::run(self, rx, &mut emit, stop, open_lease),
            None => self.run_alone(rx, &mut emit, stop),
        }
    }

    /// One process watching: it scans, and re-checks what its own sources read.
    fn run_alone(
        &self,
        rx: Receiver<Change>,
        emit: &mut dyn FnMut(&[Out]) -> Result<(), String>,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        // The first scan is the baseline: tried again (with backoff) until it works or the
        // service stops; a moment's outage does not stop the service.
        let mut backoff = Duration::from_secs(5);
        let mut b = loop {
            match self.full_scan() {
                Ok((snap, findings)) => break Baseline::new(snap, findings),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "posture: the first full scan failed");
                    let until = Instant::now() + backoff;
                    while Instant::now() < until {
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                }
            }
        };
        self.record(&b.account, &b.findings, None);
        b.announce();
        let mut pending: Vec<Change> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(c) => {
                    if b.take(self, c, &mut pending) && pending.len() < MAX_PENDING {
                        continue;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if settled(&pending, self.settle) {
                let batch = std::mem::take(&mut pending);
                if let Some(outs) = self.recheck(&mut b, &batch) {
                    emit(&outs)?;
                    self.record(&b.account, &b.findings, Some(&outs));
                }
            }
            if let Some(outs) = self.periodic(&mut b) {
                emit(&outs)?;
                self.record(&b.account, &b.findings, None);
            }
        }
        Ok(())
    }

    /// Re-reads the areas `batch` touched and evaluates again: the verdicts that moved, as
    /// alerts naming who moved them; `None` when the re-read failed (the next full scan will
    /// see what it missed).
    fn recheck(&self, b: &mut Baseline, batch: &[Change]) -> Option<Vec<Out>> {
        if batch.is_empty() {
            return None;
        }
        let areas: BTreeSet<(Area, String)> = batch
            .iter()
            .map(|c| {
                let r = if c.area.is_global() {
                    String::new()
                } else {
                    c.region.clone()
                };
                (c.area, r)
            })
            .collect();
        let list: Vec<(Area, String)> = areas.into_iter().collect();
        let fresh =
            match harrier_posture::collect::recheck::recollect(&self.opts, &b.account, &list) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "posture: cannot re-read; the next full scan will");
                    return None;
                }
            };
        for (area, region) in &list {
            b.snap.replace_area(*area, region, &fresh);
        }
        self.metrics
            .rereads
            .fetch_add(list.len() as u64, Ordering::Relaxed);
        let before = verdicts(&b.findings);
        b.findings =
            harrier_posture::evaluate(&b.snap, harrier_events::time::now_ns() / 1_000_000_000);
        b.seq += 1;
        let scan_id = batch
            .first()
            .map(|c| c.event_id.clone())
            .unwrap_or_else(|| b.seq.to_string());
        let outs = diff(&before, &b.findings, batch, &b.account, &scan_id);
        tracing::info!(
            areas = list.len(),
            changes = batch.len(),
            alerts = outs.len(),
            "posture: re-checked"
        );
        Some(outs)
    }

    /// When the periodic full scan is due: it replaces the baseline, and what it changed is
    /// returned as alerts.
    fn periodic(&self, b: &mut Baseline) -> Option<Vec<Out>> {
        if b.last_full.elapsed() < self.every {
            return None;
        }
        b.last_full = Instant::now();
        match self.full_scan() {
            Ok((snap, findings)) => {
                let before = verdicts(&b.findings);
                let id = format!("scan-{}", harrier_events::time::now_ns());
                let outs = diff(&before, &findings, &[], &b.account, &id);
                b.snap = snap;
                b.findings = findings;
                Some(outs)
            }
            Err(e) => {
                tracing::warn!(error = %e, "posture: the periodic full scan failed");
                None
            }
        }
    }

    fn count(&self, outs: &[Out]) {
        for o in outs {
            let c = if o.rule == "Posture Check Failed" {
                &self.metrics.newly_failing
            } else {
                &self.metrics.fixed
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The tap's side: a sender that never blocks a source (a full channel or a stopped watcher
/// loses only a re-check the next full scan makes).
pub fn notify(tx: &Sender<Change>, name: &str, bytes: &[u8]) {
    if let Some(c) = Change::from_record(name, bytes) {
        let _ = tx.send(c);
    }
}

/// Used by tests of the diff.
#[cfg(test)]
mod tests {
    use super::*;

    fn f(check: &'static str, status: Status) -> Finding {
        Finding {
            check,
            resource: "sg-0123abcd (web)".into(),
            region: "eu-west-1".into(),
            status,
            reason: "open".into(),
        }
    }

    #[test]
    fn only_changed_verdicts_alert_and_the_actor_is_named() {
        let id = "ec2_sg_no_world_admin_ports";
        let before = verdicts(&[f(id, Status::Pass)]);
        let change = Change {
            area: Area::Ec2,
            region: "eu-west-1".into(),
            event: "AuthorizeSecurityGroupIngress".into(),
            event_id: "e1".into(),
            actor: Some("arn:aws:iam::111122223333:user/alice".into()),
            key: Some("AKIAEXAMPLE".into()),
            ip: Some("203.0.113.7".into()),
            time_ns: 5,
            seen: Instant::now(),
            account: Some("111122223333".into()),
        };
        let outs = diff(
            &before,
            &[f(id, Status::Fail)],
            std::slice::from_ref(&change),
            "111122223333",
            "e1",
        );
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].rule, "Posture Check Failed");
        assert!(
            outs[0]
                .output
                .contains("by arn:aws:iam::111122223333:user/alice"),
            "{}",
            outs[0].output
        );
        assert!(outs[0]
            .entities
            .iter()
            .any(|e| e.kind == Kind::SecurityGroup && e.value == "sg-0123abcd"));
        // Failing before and after: nothing new. Unknown: never an alert.
        let still = verdicts(&[f(id, Status::Fail)]);
        assert!(diff(
            &still,
            &[f(id, Status::Fail)],
            std::slice::from_ref(&change),
            "a",
            "x"
        )
        .is_empty());
        assert!(diff(
            &before,
            &[f(id, Status::Unknown)],
            std::slice::from_ref(&change),
            "a",
            "x"
        )
        .is_empty());
        let fixed = diff(&still, &[f(id, Status::Pass)], &[change], "a", "x");
        assert_eq!(
            (fixed[0].rule, fixed[0].priority),
            ("Posture Check Fixed", Priority::Informational)
        );
    }

    #[test]
    fn a_queued_change_reads_back_the_same_and_a_foreign_one_is_refused() {
        let rec = r#"{"eventSource":"s3.amazonaws.com","eventName":"PutBucketAcl","awsRegion":"eu-west-1","eventID":"e7","eventTime":"2026-11-20T10:45:00Z","sourceIPAddress":"203.0.113.50","recipientAccountId":"123456789012","userIdentity":{"arn":"arn:aws:iam::123456789012:user/alice","accessKeyId":"AKIAEXAMPLE"}}"#;
        let c = Change::from_record("PutBucketAcl", rec.as_bytes()).unwrap();
        let back = Change::from_json(&c.to_json()).unwrap();
        assert_eq!(
            (back.area, &back.region, &back.event, &back.event_id),
            (Area::S3, &c.region, &c.event, &c.event_id)
        );
        assert_eq!(
            (
                &back.actor,
                &back.key,
                &back.ip,
                back.time_ns,
                &back.account
            ),
            (&c.actor, &c.key, &c.ip, c.time_ns, &c.account)
        );
        assert!(back.time_ns > 0);
        // A near miss: an area this build does not know, or not a change at all.
        let foreign = c.to_json().replace("\"s3\"", "\"lambda\"");
        assert!(Change::from_json(&foreign).is_none());
        assert!(Change::from_json("[1]").is_none());
    }

    #[test]
    fn only_successful_changes_are_taken_from_cloudtrail() {
        let rec = |extra: &str| {
            format!(
                r#"{{"eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"eu-west-1","eventID":"e"{extra},"userIdentity":{{"arn":"arn:aws:iam::1:user/a"}}}}"#
            )
        };
        let c = Change::from_record("AuthorizeSecurityGroupIngress", rec("").as_bytes()).unwrap();
        assert_eq!((c.area, c.region.as_str()), (Area::Ec2, "eu-west-1"));
        assert!(Change::from_record(
            "AuthorizeSecurityGroupIngress",
            rec(r#","errorCode":"UnauthorizedOperation""#).as_bytes()
        )
        .is_none());
        assert!(Change::from_record("DescribeSecurityGroups", rec("").as_bytes()).is_none());
    }
}
