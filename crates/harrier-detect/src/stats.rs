//! Counts of what a run read, evaluated, alerted on and skipped.

use std::time::Duration;

use harrier_rules::Priority;

/// Why a record was not evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// Not valid JSON (or not an object).
    InvalidJson,
    /// Larger than the record size limit.
    TooLarge,
    /// The input ended inside it.
    Truncated,
    /// Reading the input failed (e.g. corrupt gzip).
    ReadError,
    /// A JSON object without an `eventName` string.
    NoEventName,
    /// A CloudTrail Insight record (not an API call).
    Insight,
    /// A CloudTrail digest record.
    Digest,
}

impl Skip {
    /// Whether this is bad input (as opposed to a record deliberately not evaluated).
    pub fn is_bad_input(self) -> bool {
        !matches!(self, Skip::Insight | Skip::Digest)
    }

    /// Short description for the summary.
    pub fn describe(self) -> &'static str {
        match self {
            Skip::InvalidJson => "invalid JSON",
            Skip::TooLarge => "too large",
            Skip::Truncated => "truncated",
            Skip::ReadError => "read error",
            Skip::NoEventName => "no eventName",
            Skip::Insight => "CloudTrail Insight",
            Skip::Digest => "CloudTrail digest",
        }
    }

    const ALL: [Skip; 7] = [
        Skip::InvalidJson,
        Skip::TooLarge,
        Skip::Truncated,
        Skip::ReadError,
        Skip::NoEventName,
        Skip::Insight,
        Skip::Digest,
    ];
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs opened.
    pub inputs: u64,
    /// Inputs that could not be opened or listed.
    pub unreadable_inputs: u64,
    /// Files skipped by name (digest files).
    pub skipped_files: u64,
    /// Files in a directory skipped because their content is not JSON.
    pub skipped_not_json: u64,
    /// Records read (including bad and skipped ones).
    pub records: u64,
    /// Records evaluated against the rules.
    pub evaluated: u64,
    /// Alerts by priority, most severe first (index = position in [`Priority::ALL`]).
    pub alerts: [u64; 8],
    /// Kubernetes matches not alerted again: the same request (audit id) at a later stage.
    pub k8s_repeated_stages: u64,
    skipped: [u64; 7],
}

impl Stats {
    /// Counts a skipped record.
    pub fn skip(&mut self, why: Skip) {
        self.skipped[why as usize] += 1;
    }

    /// Counts an alert.
    pub fn alert(&mut self, p: Priority) {
        self.alerts[p as usize] += 1;
    }

    /// Records skipped for `why`.
    pub fn skipped(&self, why: Skip) -> u64 {
        self.skipped[why as usize]
    }

    /// Adds `o`'s counts to these.
    pub fn merge(&mut self, o: &Stats) {
        self.inputs += o.inputs;
        self.unreadable_inputs += o.unreadable_inputs;
        self.skipped_files += o.skipped_files;
        self.skipped_not_json += o.skipped_not_json;
        self.records += o.records;
        self.evaluated += o.evaluated;
        self.k8s_repeated_stages += o.k8s_repeated_stages;
        for (a, b) in self.alerts.iter_mut().zip(o.alerts) {
            *a += b;
        }
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a += b;
        }
    }

    /// Total alerts.
    pub fn total_alerts(&self) -> u64 {
        self.alerts.iter().sum()
    }

    /// Records that were bad input, plus inputs that could not be read.
    pub fn bad_input(&self) -> u64 {
        Skip::ALL
            .iter()
            .filter(|s| s.is_bad_input())
            .map(|s| self.skipped(*s))
            .sum::<u64>()
            + self.unreadable_inputs
    }

    /// Whether an alert at or above `p` was raised.
    pub fn alerted_at_least(&self, p: Priority) -> bool {
        Priority::ALL
            .iter()
            .any(|q| q.at_least(p) && self.alerts[*q as usize] > 0)
    }

    /// The end-of-run summary, a few lines of text.
    pub fn summary(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.records as f64 / secs
        } else {
            0.0
        };
        let by_prio: Vec<String> = Priority::ALL
            .iter()
            .filter(|p| self.alerts[**p as usize] > 0)
            .map(|p| format!("{} {}", p, self.alerts[*p as usize]))
            .collect();
        let mut s =
            format!(
            "{} input(s), {} record(s), {} evaluated, {} alert(s){} in {:.3} s ({:.0} records/s)",
            self.inputs,
            self.records,
            self.evaluated,
            self.total_alerts(),
            if by_prio.is_empty() { String::new() } else { format!(" ({})", by_prio.join(", ")) },
            secs,
            rate
        );
        let skipped: Vec<String> = Skip::ALL
            .iter()
            .filter(|k| self.skipped(**k) > 0)
            .map(|k| format!("{} {}", self.skipped(*k), k.describe()))
            .collect();
        if !skipped.is_empty() {
            s.push_str(&format!("\nskipped records: {}", skipped.join(", ")));
        }
        let files: Vec<String> = [
            (self.skipped_files, "CloudTrail digest file(s)"),
            (self.skipped_not_json, "file(s) whose content is not JSON"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !files.is_empty() {
            s.push_str(&format!("\nskipped files: {}", files.join(", ")));
        }
        if self.unreadable_inputs > 0 {
            s.push_str(&format!("\nunreadable inputs: {}", self.unreadable_inputs));
        }
        if self.k8s_repeated_stages > 0 {
            s.push_str(&format!(
                "\nnot alerted twice: {} Kubernetes request(s) matched again at a later audit stage",
                self.k8s_repeated_stages
            ));
        }
        s
    }
}
