//! Alert priorities, Falco's eight syslog-like levels.

use std::fmt;
use std::str::FromStr;

/// How urgent an alert is. Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// System is unusable.
    Emergency,
    /// Act immediately.
    Alert,
    /// Critical conditions.
    Critical,
    /// Error conditions.
    Error,
    /// Warning conditions.
    Warning,
    /// Normal but significant.
    Notice,
    /// Informational.
    Informational,
    /// Debug-level.
    Debug,
}

impl Priority {
    /// All levels, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// Whether this priority is at least as severe as `min`.
    pub fn at_least(self, min: Priority) -> bool {
        self <= min
    }

    /// Title-case name, as Falco prints it (`Warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown priority name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority '{0}': expected one of emergency, alert, critical, error, warning, notice, informational (info), debug")]
pub struct BadPriority(pub String);

impl FromStr for Priority {
    type Err = BadPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return Err(BadPriority(s.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_levels_case_insensitively() {
        for p in Priority::ALL {
            assert_eq!(p.as_str().to_uppercase().parse::<Priority>().unwrap(), p);
        }
        assert_eq!("INFO".parse::<Priority>().unwrap(), Priority::Informational);
        assert!("loud".parse::<Priority>().is_err());
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
    }
}
