//! Correlation: alerts that share a linking entity within a window are one incident.
//!
//! Each alert brings its entities ([`crate::extract`]). Those that link ([`Entity::is_fan_out`]
//! is false, and a source IP not yet seen with many principals) are looked up in an index of
//! the entities of open incidents: none found opens an incident; one found joins it; several
//! found merge them (the attacker's key, then the pod it exec'd into, then the container's
//! miner: one story). An index entry is good for the window after the entity was last seen,
//! measured on event time in both directions, so input read out of order (three files of one
//! story) still joins; entries older than the window behind the newest event are dropped, so
//! memory follows the window, not the input.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use harrier_alerts::AlertRecord;

use crate::entity::{Entity, Kind};
use crate::incident::{chain_severity, AlertEntry, Incident, Tactic};
use harrier_rules::Priority;

/// Correlation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How far apart in event time two alerts sharing an entity may be, ns (default 24 h).
    pub window_ns: i64,
    /// A source IP seen with more distinct principals than this is a shared address (a NAT
    /// gateway, a VPN) and stops linking.
    pub max_principals_per_ip: usize,
    /// Forget incidents once nothing can join them any more (their last alert is a window
    /// behind the newest): a long-running service stores them as they change and must not
    /// keep them all in memory. `detect` keeps them to print at the end.
    pub forget_closed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window_ns: 24 * 3600 * 1_000_000_000,
            max_principals_per_ip: 3,
            forget_closed: false,
        }
    }
}

#[derive(Default)]
struct Building {
    /// The id it was opened with (kept through merges by the incident that absorbs others).
    id: String,
    alerts: Vec<AlertEntry>,
    entities: BTreeSet<Entity>,
    /// Tactics seen, and the severity last announced.
    tactics: Vec<Tactic>,
    worst: Option<Priority>,
    severity: Option<Priority>,
    /// Event time of its newest alert.
    last_ns: i64,
}

/// What an alert did to the incidents, for a service to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// It opened an incident.
    Opened {
        /// The incident id.
        id: String,
        /// Its severity.
        severity: Priority,
    },
    /// It raised an incident's severity (its chain of tactics grew, or a worse alert joined).
    Escalated {
        /// The incident id.
        id: String,
        /// The severity before.
        from: Priority,
        /// The severity now.
        to: Priority,
        /// Its tactics so far, in order.
        tactics: Vec<Tactic>,
        /// Alerts in it.
        alerts: usize,
    },
}

impl Notice {
    /// The alert announcing this notice, raised at the time of the alert that caused it
    /// (`by`): "Incident Opened" or "Incident Escalated", source `incident`, with an id that
    /// depends only on the incident and what happened to it, so a replay raises it once.
    pub fn to_alert(&self, by: &AlertEntry, hostname: &str) -> AlertRecord {
        let (rule, priority, id, output, key) = match self {
            Notice::Opened { id, severity } => (
                "Incident Opened",
                *severity,
                id,
                format!(
                    "Incident {id} opened ({severity}) by {}: {}",
                    by.rule, by.output
                ),
                format!("{id}/opened"),
            ),
            Notice::Escalated {
                id,
                from,
                to,
                tactics,
                alerts,
            } => {
                let chain: Vec<&str> = tactics.iter().map(|t| t.name()).collect();
                (
                    "Incident Escalated",
                    *to,
                    id,
                    format!(
                        "Incident {id} escalated from {from} to {to}: {alerts} alerts, tactics {} (latest: {})",
                        chain.join(" -> "),
                        by.rule
                    ),
                    format!("{id}/escalated/{to}"),
                )
            }
        };
        AlertRecord {
            time_ns: by.time_ns,
            rule: rule.to_string(),
            priority,
            source: "incident".to_string(),
            output,
            output_fields: vec![("incident.id".to_string(), Some(id.clone()))],
            tags: vec!["incident".to_string()],
            hostname: hostname.to_string(),
            event_id: Some(key),
            rule_file: "<incidents>".to_string(),
            event: None,
            entities: None,
        }
    }
}

/// Builds incidents from alerts, in any order.
pub struct Correlator {
    opts: Options,
    /// Incidents by number; a merged one is emptied and points to its survivor in `parent`.
    building: Vec<Building>,
    parent: Vec<usize>,
    /// Linking entity -> (incident, last seen ns).
    index: HashMap<Entity, (usize, i64)>,
    /// Distinct principals seen per source IP.
    ip_principals: HashMap<String, HashSet<String>>,
    newest_ns: i64,
    since_sweep: usize,
    /// Incidents changed since the last [`Correlator::take_changed`].
    changed: HashSet<usize>,
}

impl Correlator {
    /// A correlator with `opts`.
    pub fn new(opts: Options) -> Self {
        Correlator {
            opts,
            building: Vec::new(),
            parent: Vec::new(),
            index: HashMap::default(),
            ip_principals: HashMap::default(),
            newest_ns: i64::MIN,
            since_sweep: 0,
            changed: HashSet::default(),
        }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn links(&self, e: &Entity) -> bool {
        if e.is_fan_out() {
            return false;
        }
        e.kind != Kind::SourceIp
            || self
                .ip_principals
                .get(&e.value)
                .is_none_or(|p| p.len() <= self.opts.max_principals_per_ip)
    }

    /// Adds an alert and the entities of its event.
    pub fn observe(&mut self, alert: &AlertRecord, entities: Vec<Entity>) -> Option<Notice> {
        self.observe_entry(AlertEntry::of(alert), entities)
    }

    /// Adds an alert's entry and the entities of its event; says whether that opened an
    /// incident or raised one's severity.
    pub fn observe_entry(&mut self, alert: AlertEntry, entities: Vec<Entity>) -> Option<Notice> {
        let t = alert.time_ns;
        self.newest_ns = self.newest_ns.max(t);
        // Shared addresses: count the principals behind each IP before deciding links.
        let principals: Vec<&Entity> = entities
            .iter()
            .filter(|e| matches!(e.kind, Kind::Principal | Kind::K8sUser))
            .collect();
        for ip in entities.iter().filter(|e| e.kind == Kind::SourceIp) {
            if !self.ip_principals.contains_key(&ip.value) {
                self.ip_principals
                    .insert(ip.value.clone(), HashSet::default());
            }
            let seen = self
                .ip_principals
                .get_mut(&ip.value)
                .expect("inserted above");
            for p in &principals {
                if seen.len() <= self.opts.max_principals_per_ip && !seen.contains(&p.value) {
                    seen.insert(p.value.clone());
                }
            }
        }
        let run = entities
            .iter()
            .find(|e| e.kind == Kind::ToolRun)
            .map(|e| e.value.as_str());
        let linking: Vec<Entity> = entities
            .iter()
            .filter(|e| self.links(e))
            .map(|e| e.link_key_in(run))
            .collect();
        let mut found: Vec<usize> = Vec::new();
        for e in &linking {
            if let Some(&(inc, last)) = self.index.get(e) {
                if (t - last).abs() <= self.opts.window_ns {
                    let r = self.root(inc);
                    if !found.contains(&r) {
                        found.push(r);
                    }
                }
            }
        }
        let target = match found.first() {
            None => {
                let id = format!(
                    "inc-{}",
                    &harrier_alerts::alert_id(
                        &alert.rule,
                        alert.event_id.as_deref(),
                        alert.time_ns,
                        &alert.output
                    )[..16]
                );
                self.building.push(Building {
                    id,
                    ..Building::default()
                });
                self.parent.push(self.building.len() - 1);
                self.building.len() - 1
            }
            Some(&first) => {
                // Merge every other incident into the one with the most alerts.
                let keep = *found
                    .iter()
                    .max_by_key(|&&i| (self.building[i].alerts.len(), std::cmp::Reverse(i)))
                    .unwrap_or(&first);
                for &other in found.iter().filter(|&&i| i != keep) {
                    let moved = std::mem::take(&mut self.building[other]);
                    let k = &mut self.building[keep];
                    k.alerts.extend(moved.alerts);
                    k.entities.extend(moved.entities);
                    for t in moved.tactics {
                        if !k.tactics.contains(&t) {
                            k.tactics.push(t);
                        }
                    }
                    k.last_ns = k.last_ns.max(moved.last_ns);
                    k.worst = match (k.worst, moved.worst) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    k.severity = match (k.severity, moved.severity) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    self.parent[other] = keep;
                }
                keep
            }
        };
        for e in linking {
            let last = self.index.get(&e).map_or(t, |&(_, l)| l.max(t));
            self.index.insert(e, (target, last));
        }
        let b = &mut self.building[target];
        b.entities.extend(entities);
        for &t in &alert.tactics {
            if !b.tactics.contains(&t) {
                b.tactics.push(t);
            }
        }
        let worst = b.worst.map_or(alert.priority, |w| w.min(alert.priority));
        b.worst = Some(worst);
        let now = chain_severity(worst, b.tactics.len());
        b.alerts.push(alert);
        let notice = match b.severity {
            None => Some(Notice::Opened {
                id: b.id.clone(),
                severity: now,
            }),
            Some(before) if now < before => Some(Notice::Escalated {
                id: b.id.clone(),
                from: before,
                to: now,
                tactics: b.tactics.clone(),
                alerts: b.alerts.len(),
            }),
            Some(_) => None,
        };
        b.severity = Some(b.severity.map_or(now, |s| s.min(now)));
        b.last_ns = b.last_ns.max(t);
        self.changed.insert(target);
        self.since_sweep += 1;
        if self.since_sweep >= 4096 {
            self.sweep();
        }
        notice
    }

    /// Drops index entries older than the window behind the newest event.
    fn sweep(&mut self) {
        self.since_sweep = 0;
        let horizon = self.newest_ns.saturating_sub(self.opts.window_ns);
        self.index.retain(|_, (_, last)| *last >= horizon);
        if self.ip_principals.len() > 100_000 {
            self.ip_principals.clear();
        }
        if self.opts.forget_closed {
            for (i, b) in self.building.iter_mut().enumerate() {
                // Closed: no entity of it is in the index any more, and the service has had
                // it (it is not waiting in `changed`).
                if !b.alerts.is_empty() && b.last_ns < horizon && !self.changed.contains(&i) {
                    b.alerts = Vec::new();
                    b.entities = BTreeSet::new();
                    b.tactics = Vec::new();
                }
            }
        }
    }

    /// Alerts held in memory (for tests of the memory bound).
    pub fn retained_alerts(&self) -> usize {
        self.building.iter().map(|b| b.alerts.len()).sum()
    }

    /// Entities in the index now (for tests of the memory bound).
    pub fn indexed(&self) -> usize {
        self.index.len()
    }

    /// The incidents that changed since the last call (a service stores them), oldest first.
    pub fn take_changed(&mut self) -> Vec<Incident> {
        let changed: Vec<usize> = self.changed.drain().collect();
        let mut roots: Vec<usize> = changed.into_iter().map(|i| self.root(i)).collect();
        roots.sort_unstable();
        roots.dedup();
        let mut out: Vec<Incident> = roots.into_iter().map(|i| self.build(i)).collect();
        out.sort_by(|a, b| (a.first_ns, &a.id).cmp(&(b.first_ns, &b.id)));
        out
    }

    fn build(&self, i: usize) -> Incident {
        let b = &self.building[i];
        Incident::build(
            b.id.clone(),
            b.alerts.clone(),
            b.entities.iter().cloned().collect(),
        )
    }

    /// The incidents, oldest first.
    pub fn incidents(&self) -> Vec<Incident> {
        let mut out: Vec<Incident> = (0..self.building.len())
            .filter(|&i| !self.building[i].alerts.is_empty())
            .map(|i| self.build(i))
            .collect();
        out.sort_by(|a, b| (a.first_ns, &a.id).cmp(&(b.first_ns, &b.id)));
        out
    }
}
