//! What a check is, what it reports, and the context it reads the snapshot through.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::snapshot::{Entry, Snapshot, GLOBAL};

/// How much a failure matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Account takeover or data exposure is one step away.
    Critical,
    /// A serious weakness.
    High,
    /// A weakness that helps an attacker.
    Medium,
    /// Hygiene.
    Low,
}

impl Severity {
    /// Weight in scores.
    pub fn weight(self) -> u32 {
        match self {
            Severity::Critical => 10,
            Severity::High => 5,
            Severity::Medium => 3,
            Severity::Low => 1,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" => Severity::Medium,
            "low" => Severity::Low,
            other => {
                return Err(format!(
                    "unknown severity '{other}': expected critical, high, medium or low"
                ))
            }
        })
    }
}

/// The outcome for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Configured as it should be.
    Pass,
    /// Misconfigured.
    Fail,
    /// The data needed was not collected (denied, failed): neither pass nor fail.
    Unknown,
}

impl Status {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        }
    }
}

/// One check's verdict on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check.
    pub check: &'static str,
    /// The resource (ARN or name).
    pub resource: String,
    /// Region, or `global`.
    pub region: String,
    /// Outcome.
    pub status: Status,
    /// Why, in one sentence (for unknown: what data was missing and why).
    pub reason: String,
}

/// A check: one self-describing unit.
pub struct Check {
    /// Stable id, `<service>_<what>`.
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// AWS service.
    pub service: &'static str,
    /// Kind of resource judged.
    pub resource_type: &'static str,
    /// Severity of a failure.
    pub severity: Severity,
    /// Why it matters.
    pub rationale: &'static str,
    /// How to fix it.
    pub remediation: &'static str,
    /// AWS CLI commands that fix it (`<...>` marks what to fill in).
    pub cli: &'static [&'static str],
    /// Requirement ids per framework ([`crate::frameworks::FRAMEWORKS`]) this check maps to;
    /// a framework it does not list does not count it.
    pub frameworks: crate::frameworks::Mapping,
    /// The evaluation.
    pub eval: fn(&Ctx<'_>, &mut Vec<Finding>),
}

impl Check {
    /// Framework requirement ids (`cis-5.0`, `pci-4.0`, `nist-800-53-r5`, `nist-800-53-r4`,
    /// `soc2`) this check maps to.
    pub fn frameworks(&self) -> &'static [(&'static str, &'static [&'static str])] {
        self.frameworks
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

/// The `eval` of a check that does not read a snapshot (a host benchmark, evaluated by its
/// own crate and [`crate::register`]ed): it finds nothing in one.
pub fn not_a_snapshot_check(_: &Ctx<'_>, _: &mut Vec<Finding>) {}

/// What a check sees: the snapshot and the time of evaluation.
pub struct Ctx<'a> {
    /// The snapshot.
    pub snap: &'a Snapshot,
    /// Evaluation time, seconds since the epoch (injectable for tests).
    pub now: i64,
    /// The check being run.
    pub check: &'static str,
    /// Shared derived data (parsed credential report, policy grants).
    pub cache: &'a crate::checks::Cache,
}

/// Why data is missing, as a finding reason.
pub fn missing(key: &str, e: Option<&Entry>) -> String {
    match e {
        None => format!("{key} was not collected"),
        Some(Entry::AccessDenied { message }) => format!("{key}: access denied ({message})"),
        Some(Entry::NotConfigured { message }) => format!("{key}: not configured ({message})"),
        Some(Entry::Error { message }) => format!("{key}: collection failed ({message})"),
        Some(Entry::Ok { .. }) => format!("{key}: unexpected content"),
    }
}

impl<'a> Ctx<'a> {
    /// A document that must have been collected successfully; `Err(reason)` otherwise.
    pub fn doc(&self, region: &str, key: &str) -> Result<&'a Value, String> {
        match self.snap.entry(region, key) {
            Some(Entry::Ok { data }) => Ok(data),
            other => Err(missing(key, other)),
        }
    }

    /// A global document.
    pub fn global(&self, key: &str) -> Result<&'a Value, String> {
        self.doc(GLOBAL, key)
    }

    /// A finding.
    pub fn finding(
        &self,
        region: &str,
        resource: impl Into<String>,
        status: Status,
        reason: impl Into<String>,
    ) -> Finding {
        Finding {
            check: self.check,
            resource: resource.into(),
            region: region.to_string(),
            status,
            reason: reason.into(),
        }
    }

    /// An `unknown` finding for the whole account (data missing).
    pub fn unknown(&self, region: &str, reason: String) -> Finding {
        let resource = self
            .snap
            .account_id
            .clone()
            .unwrap_or_else(|| "account".into());
        self.finding(region, resource, Status::Unknown, reason)
    }

    /// The account's resource name.
    pub fn account(&self) -> String {
        self.snap
            .account_id
            .clone()
            .unwrap_or_else(|| "account".into())
    }
}
