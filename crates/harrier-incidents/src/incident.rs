//! An incident: the alerts of one story, its ATT&CK tactics in the order they happened, who is
//! behind it, what it touched, and how bad it is.

use std::fmt::Write as _;

use harrier_alerts::AlertRecord;
use harrier_rules::Priority;
use serde_json::{json, Value};

use crate::entity::{Entity, Kind};

/// An ATT&CK tactic, from a rule's `mitre_*` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Tactic {
    Reconnaissance,
    ResourceDevelopment,
    InitialAccess,
    Execution,
    Persistence,
    PrivilegeEscalation,
    DefenseEvasion,
    CredentialAccess,
    Discovery,
    LateralMovement,
    Collection,
    CommandAndControl,
    Exfiltration,
    Impact,
}

impl Tactic {
    /// The tactic a tag names (`mitre_defense_evasion`), if any.
    pub fn from_tag(tag: &str) -> Option<Tactic> {
        Some(match tag.strip_prefix("mitre_")? {
            "reconnaissance" => Tactic::Reconnaissance,
            "resource_development" => Tactic::ResourceDevelopment,
            "initial_access" => Tactic::InitialAccess,
            "execution" => Tactic::Execution,
            "persistence" => Tactic::Persistence,
            "privilege_escalation" => Tactic::PrivilegeEscalation,
            "defense_evasion" => Tactic::DefenseEvasion,
            "credential_access" => Tactic::CredentialAccess,
            "discovery" => Tactic::Discovery,
            "lateral_movement" => Tactic::LateralMovement,
            "collection" => Tactic::Collection,
            "command_and_control" => Tactic::CommandAndControl,
            "exfiltration" => Tactic::Exfiltration,
            "impact" => Tactic::Impact,
            _ => return None,
        })
    }

    /// Its name, as ATT&CK writes it.
    pub fn name(self) -> &'static str {
        match self {
            Tactic::Reconnaissance => "Reconnaissance",
            Tactic::ResourceDevelopment => "Resource Development",
            Tactic::InitialAccess => "Initial Access",
            Tactic::Execution => "Execution",
            Tactic::Persistence => "Persistence",
            Tactic::PrivilegeEscalation => "Privilege Escalation",
            Tactic::DefenseEvasion => "Defense Evasion",
            Tactic::CredentialAccess => "Credential Access",
            Tactic::Discovery => "Discovery",
            Tactic::LateralMovement => "Lateral Movement",
            Tactic::Collection => "Collection",
            Tactic::CommandAndControl => "Command and Control",
            Tactic::Exfiltration => "Exfiltration",
            Tactic::Impact => "Impact",
        }
    }
}

/// One alert of an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEntry {
    /// The alert id (filled in when the incident is built: hashing it for every alert as it
    /// is raised would cost more than the rest of the correlation).
    pub id: String,
    /// The event's id.
    pub event_id: Option<String>,
    /// Event time, ns.
    pub time_ns: i64,
    /// Rule.
    pub rule: String,
    /// Priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// Rendered output.
    pub output: String,
    /// Tactics of its rule's tags.
    pub tactics: Vec<Tactic>,
}

impl AlertEntry {
    /// The entry of an alert as it is raised (no copy of its fields).
    pub fn from_alert(a: &harrier_alerts::Alert<'_>) -> AlertEntry {
        AlertEntry {
            id: String::new(),
            event_id: a.event_id.as_deref().map(str::to_string),
            time_ns: a.time_ns,
            rule: a.rule.to_string(),
            priority: a.priority,
            source: a.source.to_string(),
            output: a.output.clone(),
            tactics: a.tags.iter().filter_map(|t| Tactic::from_tag(t)).collect(),
        }
    }

    /// The entry of an alert read back from a store (its output, tags and event id from its
    /// JSON form); an error says what the JSON lacked.
    pub fn from_stored(a: &harrier_alerts::store::StoredAlert) -> Result<AlertEntry, String> {
        let v: serde_json::Value = serde_json::from_str(&a.json)
            .map_err(|e| format!("alert {}: its JSON does not parse: {e}", a.id))?;
        let output = v["output"]
            .as_str()
            .ok_or_else(|| format!("alert {}: its JSON has no \"output\" string", a.id))?;
        Ok(AlertEntry {
            id: a.id.clone(),
            event_id: v["event_id"].as_str().map(str::to_string),
            time_ns: a.time_ns,
            rule: a.rule.clone(),
            priority: a.priority,
            source: a.source.clone(),
            output: output.to_string(),
            tactics: v["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|t| Tactic::from_tag(t.as_str()?))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The entry of `a`.
    pub fn of(a: &AlertRecord) -> AlertEntry {
        AlertEntry {
            id: a.id(),
            event_id: a.event_id.clone(),
            time_ns: a.time_ns,
            rule: a.rule.clone(),
            priority: a.priority,
            source: a.source.clone(),
            output: a.output.clone(),
            tactics: a.tags.iter().filter_map(|t| Tactic::from_tag(t)).collect(),
        }
    }
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable id: from its first alert.
    pub id: String,
    /// One line.
    pub title: String,
    /// The highest alert priority, raised by the chain: three tactics or more from the same
    /// story is Critical, two at least Error, whatever each alert says.
    pub severity: Priority,
    /// AWS principals and Kubernetes users behind it.
    pub principals: Vec<String>,
    /// Tactics in the order they first happened, with when.
    pub tactics: Vec<(Tactic, i64)>,
    /// First event, ns.
    pub first_ns: i64,
    /// Last event, ns.
    pub last_ns: i64,
    /// Every alert, in event-time order.
    pub alerts: Vec<AlertEntry>,
    /// Every entity its events named.
    pub entities: Vec<Entity>,
}

/// The severity of an incident whose worst alert is `worst` and which shows `tactics`
/// distinct tactics: three or more is Critical, two at least Error.
pub fn chain_severity(worst: Priority, tactics: usize) -> Priority {
    match tactics {
        n if n >= 3 => worst.min(Priority::Critical),
        2 => worst.min(Priority::Error),
        _ => worst,
    }
}

fn short_principal(p: &str) -> &str {
    p.rsplit_once(':').map_or(p, |(_, r)| r)
}

impl Incident {
    /// Builds incident `id` from its `alerts` and their `entities`.
    pub fn build(id: String, mut alerts: Vec<AlertEntry>, entities: Vec<Entity>) -> Incident {
        for a in alerts.iter_mut().filter(|a| a.id.is_empty()) {
            a.id = harrier_alerts::alert_id(&a.rule, a.event_id.as_deref(), a.time_ns, &a.output);
        }
        alerts.sort_by(|a, b| (a.time_ns, &a.id).cmp(&(b.time_ns, &b.id)));
        alerts.dedup_by(|a, b| a.id == b.id);
        let mut tactics: Vec<(Tactic, i64)> = Vec::new();
        for a in &alerts {
            for &t in &a.tactics {
                if !tactics.iter().any(|(x, _)| *x == t) {
                    tactics.push((t, a.time_ns));
                }
            }
        }
        let worst = alerts
            .iter()
            .map(|a| a.priority)
            .min()
            .unwrap_or(Priority::Debug);
        let severity = match tactics.len() {
            n if n >= 3 => worst.min(Priority::Critical),
            2 => worst.min(Priority::Error),
            _ => worst,
        };
        let principals: Vec<String> = entities
            .iter()
            .filter(|e| matches!(e.kind, Kind::Principal | Kind::K8sUser) && !e.is_fan_out())
            .map(|e| e.value.clone())
            .collect();
        let first_ns = alerts.first().map_or(0, |a| a.time_ns);
        let last_ns = alerts.last().map_or(0, |a| a.time_ns);
        let mut sources: Vec<&str> = Vec::new();
        for a in &alerts {
            let s = match a.source.as_str() {
                "aws_cloudtrail" => "AWS",
                "k8s_audit" => "Kubernetes",
                "syscall" => "containers",
                other => other,
            };
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        let who = principals
            .iter()
            .find(|p| p.starts_with("arn:"))
            .or(principals.first())
            .map_or("an unknown actor", |p| short_principal(p));
        let chain = match (tactics.first(), tactics.last()) {
            (Some(f), Some(l)) if tactics.len() > 1 => {
                format!(": {} to {}", f.0.name(), l.0.name())
            }
            (Some(f), _) => format!(": {}", f.0.name()),
            _ => String::new(),
        };
        let title = format!(
            "{} alert(s) by {who}{chain}, across {}",
            alerts.len(),
            sources.join(", ")
        );
        Incident {
            id,
            title,
            severity,
            principals,
            tactics,
            first_ns,
            last_ns,
            alerts,
            entities,
        }
    }

    /// The form the alert store keeps.
    pub fn to_stored(&self) -> harrier_alerts::store::StoredIncident {
        harrier_alerts::store::StoredIncident {
            id: self.id.clone(),
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            severity: self.severity,
            alerts: self.alerts.len() as u64,
            title: self.title.clone(),
            text: self.to_text(),
            json: self.to_json().to_string(),
        }
    }

    /// The JSON form (`"type": "incident"`).
    pub fn to_json(&self) -> Value {
        let time = harrier_events::time::format_iso8601;
        json!({
            "type": "incident",
            "id": self.id,
            "title": self.title,
            "severity": self.severity.as_str(),
            "first_seen": time(self.first_ns),
            "last_seen": time(self.last_ns),
            "principals": self.principals,
            "tactics": self.tactics.iter().map(|(t, at)| json!({"tactic": t.name(), "first_seen": time(*at)})).collect::<Vec<_>>(),
            "entities": self.entities.iter().map(|e| json!({"kind": e.kind.as_str(), "value": e.value})).collect::<Vec<_>>(),
            "alerts": self.alerts.iter().map(|a| json!({
                "id": a.id, "time": time(a.time_ns), "rule": a.rule, "priority": a.priority.as_str(),
                "source": a.source, "output": a.output,
            })).collect::<Vec<_>>(),
        })
    }

    /// A readable timeline.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let dt = harrier_events::time::format_datetime;
        let _ = writeln!(
            o,
            "INCIDENT {} {} {}\n  {} .. {} ({} alerts)",
            self.id,
            self.severity,
            self.title,
            dt(self.first_ns),
            dt(self.last_ns),
            self.alerts.len()
        );
        if !self.principals.is_empty() {
            let _ = writeln!(o, "  who:      {}", self.principals.join(", "));
        }
        if !self.tactics.is_empty() {
            let chain: Vec<&str> = self.tactics.iter().map(|(t, _)| t.name()).collect();
            let _ = writeln!(o, "  tactics:  {}", chain.join(" -> "));
        }
        let touched: Vec<String> = self
            .entities
            .iter()
            .filter(|e| !matches!(e.kind, Kind::Principal | Kind::K8sUser))
            .map(Entity::to_string)
            .collect();
        if !touched.is_empty() {
            let _ = writeln!(o, "  entities: {}", touched.join(", "));
        }
        let _ = writeln!(o, "  timeline:");
        for a in &self.alerts {
            let _ = writeln!(
                o,
                "    {} {:<13} {:<14} {}: {}",
                dt(a.time_ns),
                a.priority.as_str(),
                a.source,
                a.rule,
                a.output
            );
        }
        o
    }
}
