//! A scan reduced to what decides about an image, kept by digest.

use harrier_image::malware::Severity;
use harrier_image::scan::Report;
use serde::{Deserialize, Serialize};

/// One finding, as the summary keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The finding's id (`miner-binary`, `CVE-2024-1234`, `pipe-to-shell`).
    pub id: String,
    /// `critical`, `high`, `medium`, `low` (or `unknown` for a vulnerability without one).
    pub severity: String,
    /// What and where: a path, `package installed -> fixed`, a Dockerfile step.
    pub what: String,
    /// The layer that brought it, from the base (0).
    pub layer: Option<usize>,
    /// For a vulnerability: the first fixed version.
    #[serde(default)]
    pub fixed: Option<String>,
}

/// What a scan of one image (one digest) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The manifest digest.
    pub digest: String,
    /// The reference it was pulled by.
    pub reference: String,
    /// When it was scanned.
    pub scanned_at_ns: i64,
    /// The distribution (`debian 12`), when known.
    pub os: Option<String>,
    /// Installed packages.
    pub packages: usize,
    /// Whether a vulnerability database was used.
    pub vulnerability_database: bool,
    /// Malware and tampering.
    pub malware: Vec<Item>,
    /// Vulnerabilities rated critical or high.
    pub vulnerabilities: Vec<Item>,
    /// Image practice (from the config and history).
    pub practice: Vec<Item>,
}

/// What makes an image bad enough to alert on or to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Practice findings at or above this severity count (`None`: practice never does).
    pub practice: Option<Severity>,
}

impl Default for Bar {
    fn default() -> Self {
        Bar {
            practice: Some(Severity::Critical),
        }
    }
}

fn rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

impl Summary {
    /// The summary of `report`, scanned now from `reference` with digest `digest`.
    pub fn of(report: &Report, digest: &str, reference: &str, now_ns: i64) -> Summary {
        Summary {
            digest: digest.to_string(),
            reference: reference.to_string(),
            scanned_at_ns: now_ns,
            os: report
                .os
                .as_ref()
                .map(|o| format!("{} {}", o.id, o.version_id)),
            packages: report.packages.len(),
            vulnerability_database: report.db_used,
            malware: report
                .malware
                .iter()
                .map(|m| Item {
                    id: m.id.to_string(),
                    severity: m.severity.as_str().to_string(),
                    what: format!("/{}: {}", m.path, m.detail),
                    layer: Some(m.layer),
                    fixed: None,
                })
                .collect(),
            vulnerabilities: report
                .vulnerabilities
                .iter()
                .filter(|v| v.severity.is_some_and(|s| s <= Severity::High))
                .map(|v| Item {
                    id: v.id.clone(),
                    severity: v.severity_name().to_string(),
                    what: format!(
                        "{} {} -> {}",
                        v.package,
                        v.installed,
                        v.fixed.as_deref().unwrap_or("no fix")
                    ),
                    layer: Some(v.layer),
                    fixed: v.fixed.clone(),
                })
                .collect(),
            practice: report
                .practice
                .iter()
                .map(|p| Item {
                    id: p.id.to_string(),
                    severity: p.severity.as_str().to_string(),
                    what: format!("{}: {}", p.location, p.detail),
                    layer: None,
                    fixed: None,
                })
                .collect(),
        }
    }

    /// Why this image is bad, one readable reason per finding over `bar`: every malware
    /// finding, every critical vulnerability that has a fix, practice at or above the bar.
    /// Empty: nothing to alert on or refuse.
    pub fn reasons(&self, bar: Bar) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.malware {
            out.push(format!("malware {} ({}) at {}", m.id, m.severity, m.what));
        }
        for v in &self.vulnerabilities {
            if v.severity == "critical" && v.fixed.is_some() {
                out.push(format!(
                    "critical vulnerability {} with a fix: {}",
                    v.id, v.what
                ));
            }
        }
        if let Some(min) = bar.practice {
            for p in &self.practice {
                if rank(&p.severity) <= rank(min.as_str()) {
                    out.push(format!("practice {} ({}): {}", p.id, p.severity, p.what));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, sev: &str, fixed: Option<&str>) -> Item {
        Item {
            id: id.into(),
            severity: sev.into(),
            what: "x".into(),
            layer: Some(1),
            fixed: fixed.map(str::to_string),
        }
    }

    #[test]
    fn reasons_are_malware_fixable_criticals_and_practice_over_the_bar() {
        let s = Summary {
            digest: "sha256:00".into(),
            reference: "r".into(),
            scanned_at_ns: 0,
            os: None,
            packages: 0,
            vulnerability_database: true,
            malware: vec![item("miner-binary", "critical", None)],
            vulnerabilities: vec![
                item("CVE-1", "critical", Some("1.2")),
                item("CVE-2", "critical", None),
                item("CVE-3", "high", Some("2")),
            ],
            practice: vec![item("runs-as-root", "medium", None)],
        };
        let r = s.reasons(Bar::default());
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("malware miner-binary"));
        assert!(r[1].contains("CVE-1"), "only the critical with a fix");
        let r = s.reasons(Bar {
            practice: Some(Severity::Medium),
        });
        assert_eq!(r.len(), 3);
        let clean = Summary {
            malware: vec![],
            vulnerabilities: vec![item("CVE-2", "critical", None)],
            ..s
        };
        assert!(clean.reasons(Bar::default()).is_empty());
    }
}
