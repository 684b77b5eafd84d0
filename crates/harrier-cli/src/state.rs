//! Where Harrier keeps its state, and the time arguments shared by commands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The state directory: `dir` if given, else `$XDG_STATE_HOME/harrier`, else
/// `~/.local/state/harrier`; created if missing.
pub fn state_dir(dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("harrier"),
            None => PathBuf::from(
                std::env::var_os("HOME").context("HOME is not set: pass --state-dir")?,
            )
            .join(".local/state/harrier"),
        },
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))?;
    Ok(dir)
}

/// The alert store in the state directory.
pub fn alert_store(dir: Option<&Path>) -> Result<harrier_alerts::store::Store> {
    let path = state_dir(dir)?.join("alerts.db");
    Ok(harrier_alerts::store::Store::open(&path)?)
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A point in time from the command line: RFC 3339 (`2024-07-31T13:06:24Z`), a date
/// (`2024-07-31`, midnight UTC), or a duration before now (`90m`, `24h`, `7d`).
pub fn parse_when(s: &str, now_ns: i64) -> Result<i64> {
    if let Some(t) = harrier_events::time::parse_rfc3339(s) {
        return Ok(t);
    }
    if s.len() == 10 {
        if let Some(t) = harrier_events::time::parse_rfc3339(&format!("{s}T00:00:00Z")) {
            return Ok(t);
        }
    }
    if let Some(d) = parse_duration(s) {
        return Ok(now_ns.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    }
    bail!("{s:?}: expected an RFC 3339 time, a date (YYYY-MM-DD) or a duration such as 24h or 7d")
}

/// A duration such as `30s`, `10m`, `24h`, `7d`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86400)?,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_accepts_times_dates_and_durations() {
        let now = 1_000_000 * 1_000_000_000;
        assert_eq!(
            parse_when("2024-07-31T13:06:24Z", now).unwrap(),
            1_722_431_184_000_000_000
        );
        assert_eq!(
            parse_when("2024-07-31", now).unwrap(),
            1_722_384_000_000_000_000
        );
        assert_eq!(parse_when("2h", now).unwrap(), now - 7200 * 1_000_000_000);
        let e = parse_when("yesterday", now).unwrap_err().to_string();
        assert!(e.contains("expected an RFC 3339 time"), "{e}");
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604_800);
        assert!(parse_duration("7").is_none());
        assert!(parse_duration("7w").is_none());
        assert!(parse_duration("99999999999999999999d").is_none());
    }
}
