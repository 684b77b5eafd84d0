//! Harrier's detection pipeline: source → event → engine → alert → output.
//!
//! [`Detector`] reads [`Input`]s record by record, evaluates each record against a
//! [`RuleSet`], renders an [`Alert`] for every rule that matched and hands it to an
//! [`AlertSink`]. Nothing is dropped silently: every record that is not evaluated is counted in
//! [`Stats`] with its reason, and every bad one is reported through the `on_problem` callback
//! with the input name and byte offset.
#![deny(missing_docs)]

pub mod live;
pub mod parallel;
pub mod rulefiles;
pub mod ruletest;
mod stats;

use std::sync::{Arc, Mutex};

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_events::cloudtrail::{self, CloudTrailEvent, SkipReason};
use harrier_events::json::{self, JsonError};
use harrier_events::k8saudit::K8sAuditEvent;
use harrier_events::lazy::{Record, Scratch};
use harrier_events::syscall::{self, SyscallEvent};
use harrier_events::Event;
use harrier_rules::RuleSet;
use harrier_sources::{Input, ReadErrorKind};

pub use stats::{Skip, Stats};

/// A problem with the input: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Input name (path or `<stdin>`).
    pub input: String,
    /// Byte offset in the (decompressed) input, when known.
    pub offset: Option<u64>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: byte {}: {}", self.input, o, self.message),
            None => write!(f, "{}: {}", self.input, self.message),
        }
    }
}

/// Options for a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check the JSON syntax of every record, not only of the records that raise alerts.
    pub validate_all: bool,
    /// Leave the once-per-request rule for Kubernetes audit stages to the caller (the parallel
    /// runner applies it in input order, so the result is a single detector's).
    pub k8s_stages_left_to_caller: bool,
}

/// What [`Detector::set_cloudtrail_tap`] takes: `(eventName, record bytes)`.
pub type CloudTrailTap<'r> = Box<dyn FnMut(&str, &[u8]) -> Result<(), String> + Send + 'r>;

/// Runs records through a rule set.
pub struct Detector<'r> {
    rules: &'r RuleSet,
    hostname: String,
    options: Options,
    scratch: Scratch,
    matches: Vec<u32>,
    /// Entities and correlation, when incidents are on.
    incidents: Option<Box<Incidents>>,
    /// Per-principal baselines, when anomalies are on.
    baselines: Option<Box<harrier_incidents::Baselines>>,
    /// (rule, audit id) of recent Kubernetes alerts: a request logged at several stages
    /// (ResponseStarted and ResponseComplete) is one action and alerts once.
    k8s_alerted: RecentKeys,
    /// Sees each CloudTrail record before its rules run (see [`Detector::set_cloudtrail_tap`]).
    tap: Option<CloudTrailTap<'r>>,
    /// Counts so far.
    pub stats: Stats,
}

impl<'r> Detector<'r> {
    /// A detector over `rules`; alerts carry `hostname`.
    pub fn new(rules: &'r RuleSet, hostname: impl Into<String>, options: Options) -> Self {
        Detector {
            rules,
            hostname: hostname.into(),
            options,
            scratch: Scratch::default(),
            matches: Vec::new(),
            incidents: None,
            baselines: None,
            k8s_alerted: RecentKeys::new(K8S_STAGE_MEMORY),
            tap: None,
            stats: Stats::default(),
        }
    }

    /// Turns incidents on: every alert's event is read for its entities and the alert
    /// correlated ([`harrier_incidents`]); [`Detector::incidents`] gives the result.
    pub fn enable_incidents(&mut self, opts: harrier_incidents::Options) {
        let c = harrier_incidents::Correlator::new(opts);
        self.enable_shared_incidents(Arc::new(Mutex::new(c)), false);
    }

    /// Turns incidents on with a correlator shared with other detectors (a service's sources:
    /// the cloud, the cluster and the hosts make one story). With `notices`, an alert that
    /// opens an incident or raises its severity is followed by an "Incident Opened" or
    /// "Incident Escalated" alert to the same sink (source `incident`, the incident id in
    /// `incident.id`, a deterministic id so a replay or another worker does not repeat it).
    pub fn enable_shared_incidents(
        &mut self,
        correlator: Arc<Mutex<harrier_incidents::Correlator>>,
        notices: bool,
    ) {
        self.incidents = Some(Box::new(Incidents {
            extractor: harrier_incidents::Extractor::new(),
            correlator: Some(correlator),
            notices,
        }));
    }

    /// Turns incidents on for a correlator in another process (several workers sharing a
    /// store correlate there, one at a time): every alert goes to the sink with its event's
    /// entities ([`AlertSink::send_linked`]) and is not correlated here.
    pub fn enable_linked_incidents(&mut self) {
        self.incidents = Some(Box::new(Incidents {
            extractor: harrier_incidents::Extractor::new(),
            correlator: None,
            notices: false,
        }));
    }

    /// Hands every CloudTrail record (its `eventName` and its bytes) to `tap` before its rules
    /// run, in the same call, so what the tap records is durable before the record's input is
    /// acknowledged (a service records ECR pushes to scan this way). A tap's error stops the
    /// run like a failed alert write: the input is not acknowledged and comes again.
    pub fn set_cloudtrail_tap(&mut self, tap: CloudTrailTap<'r>) {
        self.tap = Some(tap);
    }

    /// Turns anomalies on: every CloudTrail event teaches the baselines of its principal and
    /// key, and what stands out from them is alerted like a rule's match
    /// ([`harrier_incidents::baseline`]), and correlated when incidents are on too.
    pub fn enable_anomalies(&mut self, opts: harrier_incidents::BaselineOptions) {
        self.baselines = Some(Box::new(harrier_incidents::Baselines::new(opts)));
    }

    /// Restores baseline profiles stored by an earlier run (see [`Detector::take_baseline_changes`]);
    /// returns what could not be restored, one message per profile. Nothing when anomalies
    /// are off.
    pub fn restore_baselines(&mut self, profiles: &[(String, String)]) -> Vec<String> {
        let Some(b) = self.baselines.as_mut() else {
            return Vec::new();
        };
        profiles
            .iter()
            .filter_map(|(s, p)| b.restore_profile(s, p).err())
            .collect()
    }

    /// The baseline profiles that changed since the last call, to store (empty when anomalies
    /// are off).
    pub fn take_baseline_changes(&mut self) -> Vec<(String, String)> {
        self.baselines
            .as_mut()
            .map(|b| b.take_changed_profiles())
            .unwrap_or_default()
    }

    /// The incidents so far (empty when they are off), oldest first.
    pub fn incidents(&self) -> Vec<harrier_incidents::Incident> {
        self.incidents
            .as_ref()
            .and_then(|b| b.correlator.as_ref())
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).incidents())
            .unwrap_or_default()
    }

    /// Reads one input to its end. Problems go to `on_problem`; the only error returned is a
    /// failure to write an alert, which stops the run (alerts must never be lost).
    pub fn process_input(
        &mut self,
        input: &Input,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<(), SinkError> {
        self.process_opened(input.display(), input.open(), sink, on_problem)
    }

    /// Reads one input given as a buffered reader (plain or gzip, any record layout) to its
    /// end; `name` names it in problems (an S3 URL, say). Same contract as
    /// [`Detector::process_input`].
    pub fn process_stream(
        &mut self,
        name: &str,
        r: impl std::io::BufRead + Send + 'static,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<(), SinkError> {
        let opened = harrier_sources::open(r);
        self.process_opened(name.to_string(), opened, sink, on_problem)
    }

    fn process_opened(
        &mut self,
        name: String,
        opened: std::io::Result<harrier_sources::RecordReader<Box<dyn std::io::Read + Send>>>,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<(), SinkError> {
        let mut reader = match opened {
            Ok(r) => r,
            Err(e) => {
                self.stats.unreadable_inputs += 1;
                on_problem(Problem {
                    input: name,
                    offset: None,
                    message: format!("cannot read: {e}"),
                });
                return Ok(());
            }
        };
        self.stats.inputs += 1;
        while let Some(item) = reader.next_record() {
            match item {
                Ok(rec) => self.process_record(rec.bytes, rec.offset, &name, sink, on_problem)?,
                Err(e) => self.read_error(e, &name, on_problem),
            }
        }
        Ok(())
    }

    /// Counts and reports a record the reader could not split out of `input`.
    pub fn read_error(
        &mut self,
        e: harrier_sources::ReadError,
        input: &str,
        on_problem: &mut dyn FnMut(Problem),
    ) {
        // A record that could not be split out still counts as a record read, unless reading
        // the stream itself failed.
        if !matches!(e.kind, ReadErrorKind::Io(_)) {
            self.stats.records += 1;
        }
        self.stats.skip(match e.kind {
            ReadErrorKind::Io(_) => Skip::ReadError,
            ReadErrorKind::TooLarge | ReadErrorKind::TooLargeInArray => Skip::TooLarge,
            ReadErrorKind::Truncated => Skip::Truncated,
            _ => Skip::InvalidJson,
        });
        on_problem(Problem {
            input: input.to_string(),
            offset: Some(e.offset),
            message: e.kind.to_string(),
        });
    }

    /// Evaluates one record (the bytes of one JSON object) found at `offset` of `input`: a
    /// CloudTrail record, a Kubernetes audit `Event`, an `EventList` whose items are each
    /// evaluated, or a sensor event (`"source": "syscall"`).
    pub fn process_record(
        &mut self,
        bytes: &[u8],
        offset: u64,
        input: &str,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<(), SinkError> {
        let scratch = std::mem::take(&mut self.scratch);
        let r = self.classify_and_run(bytes, offset, input, sink, on_problem, &scratch);
        self.scratch = scratch;
        r
    }

    /// Evaluates one event of a live stream (the runtime sensor) and, when it raised an alert,
    /// flushes the sink at once: an alert is out when it is raised, not when a buffer fills.
    /// Returns whether it raised one.
    pub fn process_live_event(
        &mut self,
        bytes: &[u8],
        seq: u64,
        input: &str,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<bool, SinkError> {
        let before: u64 = self.stats.alerts.iter().sum();
        self.process_record(bytes, seq, input, sink, on_problem)?;
        let raised = self.stats.alerts.iter().sum::<u64>() > before;
        if raised {
            sink.flush()?;
        }
        Ok(raised)
    }

    fn bad(
        &mut self,
        e: Option<JsonError>,
        offset: u64,
        input: &str,
        on_problem: &mut dyn FnMut(Problem),
    ) {
        self.stats.skip(Skip::InvalidJson);
        let message = match e {
            Some(e) => format!("invalid JSON in record: {}", e.kind),
            None => "invalid JSON in record".to_string(),
        };
        let at = offset + e.map_or(0, |e| e.offset as u64);
        on_problem(Problem {
            input: input.to_string(),
            offset: Some(at),
            message,
        });
    }

    fn classify_and_run(
        &mut self,
        bytes: &[u8],
        offset: u64,
        input: &str,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
        scratch: &Scratch,
    ) -> Result<(), SinkError> {
        self.stats.records += 1;
        let rec = Record::new(bytes, scratch);
        // CloudTrail first: its eventName is what its rules need anyway.
        if let Some(name) = rec.str_at(&["eventName"]) {
            if let Some(tap) = self.tap.as_mut() {
                tap(&name, bytes).map_err(|m| SinkError {
                    output: "cloudtrail tap".into(),
                    source: std::io::Error::other(m),
                })?;
            }
            let ev = CloudTrailEvent::from_record(rec, self.stats.records);
            return self.run(&ev, offset, input, sink, on_problem);
        }
        if syscall::is_syscall(&rec) {
            let ev = SyscallEvent::from_record(rec, self.stats.records);
            return self.run(&ev, offset, input, sink, on_problem);
        }
        match rec.str_at(&["kind"]).as_deref() {
            Some("Event") => {
                let ev = K8sAuditEvent::from_record(rec, self.stats.records);
                return self.run(&ev, offset, input, sink, on_problem);
            }
            Some("EventList") => {
                let items = rec
                    .path(&["items"])
                    .filter(|r| json::kind_at(bytes, r.start) == json::Kind::Array);
                let items: Option<Vec<_>> = items.and_then(|r| {
                    json::Elements::new(bytes, r.start)
                        .collect::<Result<Vec<_>, _>>()
                        .ok()
                });
                let Some(items) = items else {
                    self.bad(rec.error(), offset, input, on_problem);
                    return Ok(());
                };
                // The list itself is not an event: its items are.
                self.stats.records -= 1;
                for item in items {
                    self.stats.records += 1;
                    let ev = K8sAuditEvent::new(&bytes[item.clone()], self.stats.records, scratch);
                    self.run(&ev, offset + item.start as u64, input, sink, on_problem)?;
                }
                return Ok(());
            }
            _ => {}
        }
        // CloudWatch Logs: EKS control-plane audit logs (and CloudTrail delivered to CloudWatch)
        // arrive as log events whose `message` is the event's JSON text, one at a time
        // (FilterLogEvents output, exports) or in batches (`logEvents` of a subscription,
        // `events` of the CLI's output).
        let mut messages: Vec<(u64, String)> = Vec::new();
        for list in ["logEvents", "events"] {
            if let Some(r) = rec
                .path(&[list])
                .filter(|r| json::kind_at(bytes, r.start) == json::Kind::Array)
            {
                for e in json::Elements::new(bytes, r.start).filter_map(Result::ok) {
                    if let Some(m) = json::find_member(bytes, e.start, b"message").ok().flatten() {
                        if let Ok(text) = json::decode_string(bytes, m.clone()) {
                            messages.push((offset + m.start as u64, text.into_owned()));
                        }
                    }
                }
            }
        }
        if messages.is_empty() {
            if let Some(m) = rec
                .path(&["message"])
                .filter(|r| json::kind_at(bytes, r.start) == json::Kind::String)
            {
                if let Ok(text) = json::decode_string(bytes, m.clone()) {
                    if text.trim_start().starts_with('{') {
                        messages.push((offset + m.start as u64, text.into_owned()));
                    }
                }
            }
        }
        if !messages.is_empty() {
            self.stats.records -= 1;
            for (at, text) in messages {
                self.classify_and_run(text.as_bytes(), at, input, sink, on_problem, scratch)?;
            }
            return Ok(());
        }
        if rec.top("auditID").is_some() && rec.error().is_none() {
            let ev = K8sAuditEvent::from_record(rec, self.stats.records);
            return self.run(&ev, offset, input, sink, on_problem);
        }
        if rec.error().is_some() {
            self.bad(rec.error(), offset, input, on_problem);
            return Ok(());
        }
        let ct = CloudTrailEvent::from_record(rec, self.stats.records);
        match cloudtrail::classify(&ct) {
            Err(SkipReason::Insight) => self.stats.skip(Skip::Insight),
            _ if ct.top("digestStartTime").is_some() => self.stats.skip(Skip::Digest),
            _ => {
                self.stats.skip(Skip::NoEventName);
                on_problem(Problem {
                    input: input.to_string(),
                    offset: Some(offset),
                    message: "not an event: neither a CloudTrail record (no \"eventName\" string) nor a Kubernetes audit event (no \"auditID\")".into(),
                });
            }
        }
        Ok(())
    }

    /// Evaluates one event of any source and writes its alerts.
    fn run<E: Event>(
        &mut self,
        ev: &E,
        offset: u64,
        input: &str,
        sink: &mut dyn AlertSink,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Result<(), SinkError> {
        if self.options.validate_all && ev_validate(ev).is_some() {
            self.bad(ev.error(), offset, input, on_problem);
            return Ok(());
        }
        self.matches.clear();
        self.rules.matching(ev, &mut self.matches);
        // An alert never comes from a malformed record: check the whole record first.
        if ev.error().is_some() || (!self.matches.is_empty() && ev_validate(ev).is_some()) {
            self.bad(ev.error(), offset, input, on_problem);
            return Ok(());
        }
        self.stats.evaluated += 1;
        if self.baselines.is_some() {
            self.anomalies(ev, sink)?;
        }
        if self.matches.is_empty() {
            return Ok(());
        }
        let time_ns = ev.timestamp_ns().unwrap_or(0);
        let event_id = ev.event_id();
        let entities = self.incidents.as_ref().map(|b| b.extractor.entities(ev));
        let k8s = ev.source().name == "k8s_audit";
        for &m in &self.matches {
            let rule = self.rules.rule(m);
            if k8s && !self.options.k8s_stages_left_to_caller {
                if let Some(id) = event_id.as_deref() {
                    if !self.k8s_alerted.insert(m, id) {
                        self.stats.k8s_repeated_stages += 1;
                        continue;
                    }
                }
            }
            let rendered = self.rules.render(m, ev);
            let alert = Alert {
                time_ns,
                rule: &rule.name,
                priority: rule.priority,
                source: &rule.source,
                output: rendered.text,
                output_fields: rendered.fields,
                tags: &rule.tags,
                hostname: &self.hostname,
                event_id: event_id.clone(),
                rule_file: &rule.file,
                event: Some(ev.raw()).filter(|r| !r.is_empty()),
            };
            match (self.incidents.as_deref(), entities.as_ref()) {
                (Some(b), Some(e)) => b.send(&alert, e, &self.hostname, sink)?,
                _ => sink.send(&alert)?,
            }
            self.stats.alert(rule.priority);
        }
        Ok(())
    }
}

impl Detector<'_> {
    /// Feeds the baselines; alerts what stands out (never from a malformed record).
    fn anomalies<E: Event>(&mut self, ev: &E, sink: &mut dyn AlertSink) -> Result<(), SinkError> {
        let Some(b) = self.baselines.as_mut() else {
            return Ok(());
        };
        let found = b.observe(ev);
        if found.is_empty() || ev_validate(ev).is_some() {
            return Ok(());
        }
        let time_ns = ev.timestamp_ns().unwrap_or(0);
        let event = ev.type_key().map(|k| k.into_owned()).unwrap_or_default();
        let entities = self.incidents.as_ref().map(|i| i.extractor.entities(ev));
        for (a, principal, ip) in found {
            let tags: Vec<String> = a.tags().iter().map(|t| t.to_string()).collect();
            let (source, who, from) = a.source_and_fields();
            let alert = Alert {
                time_ns,
                rule: a.rule(),
                priority: a.priority(),
                source,
                output: a.describe(&principal, &ip, &event),
                output_fields: vec![(who, Some(principal)), (from, Some(ip))],
                tags: &tags,
                hostname: &self.hostname,
                event_id: ev.event_id(),
                rule_file: "<baselines>",
                event: Some(ev.raw()).filter(|r| !r.is_empty()),
            };
            match (self.incidents.as_deref(), entities.as_ref()) {
                (Some(i), Some(e)) => i.send(&alert, e, &self.hostname, sink)?,
                _ => sink.send(&alert)?,
            }
            self.stats.alert(alert.priority);
        }
        Ok(())
    }
}

/// A bounded set of keys ((rule, event id) pairs), oldest forgotten first.
pub(crate) struct RecentKeys<K = (u32, String)> {
    set: std::collections::HashSet<K>,
    order: std::collections::VecDeque<K>,
    cap: usize,
}

impl<K: std::hash::Hash + Eq + Clone> RecentKeys<K> {
    pub(crate) fn new(cap: usize) -> Self {
        RecentKeys {
            set: Default::default(),
            order: Default::default(),
            cap,
        }
    }

    /// Adds the key; false when it was there already.
    pub(crate) fn insert_key(&mut self, key: K) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.set.insert(key);
        true
    }
}

impl RecentKeys<(u32, String)> {
    /// Adds the pair; false when it was there already.
    fn insert(&mut self, rule: u32, id: &str) -> bool {
        self.insert_key((rule, id.to_string()))
    }
}

/// How many (rule, audit id) pairs a detector remembers to alert a request once.
pub(crate) const K8S_STAGE_MEMORY: usize = 4096;

/// A detector's part in the incidents: its entity reader and the (possibly shared)
/// correlator, or none when another process correlates what the sink stores.
struct Incidents {
    extractor: harrier_incidents::Extractor,
    correlator: Option<Arc<Mutex<harrier_incidents::Correlator>>>,
    notices: bool,
}

impl Incidents {
    /// Sends `alert` and correlates it here; with notices on, announces what it did to the
    /// incidents. Without a correlator here, sends it with its entities.
    fn send(
        &self,
        alert: &Alert<'_>,
        entities: &[harrier_incidents::Entity],
        hostname: &str,
        sink: &mut dyn AlertSink,
    ) -> Result<(), SinkError> {
        let Some(correlator) = &self.correlator else {
            return sink.send_linked(alert, &harrier_incidents::entity::encode(entities));
        };
        sink.send(alert)?;
        let entry = harrier_incidents::incident::AlertEntry::from_alert(alert);
        let notice = correlator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe_entry(entry, entities.to_vec());
        let (Some(notice), true) = (notice, self.notices) else {
            return Ok(());
        };
        let by = harrier_incidents::incident::AlertEntry::from_alert(alert);
        sink.send(&notice.to_alert(&by, hostname).as_alert())
    }
}

/// Checks the full syntax of an event's record.
fn ev_validate<E: Event>(ev: &E) -> Option<JsonError> {
    ev.validate()
}

/// This machine's host name, for alerts.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
