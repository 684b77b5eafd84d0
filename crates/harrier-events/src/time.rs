//! Minimal RFC 3339 parsing and ISO 8601 formatting for event timestamps (UTC only).

/// Parses an RFC 3339 timestamp (`2024-07-31T13:06:24Z`, optional fraction, `Z` or `±hh:mm`)
/// into nanoseconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 9)];
        nanos = frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32);
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *c == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Nanoseconds since the epoch, now (0 if the clock is before 1970).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A duration such as `30s`, `10m`, `24h`, `7d` (whole units; `None` for anything else or an
/// overflow).
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

/// A point in time as a person writes it: RFC 3339 (`2024-07-31T13:06:24Z`), a date
/// (`2024-07-31`, midnight UTC), or a duration before `now_ns` (`90m`, `24h`, `7d`).
pub fn parse_when(s: &str, now_ns: i64) -> Result<i64, WhenError> {
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if s.len() == 10 {
        if let Some(t) = parse_rfc3339(&format!("{s}T00:00:00Z")) {
            return Ok(t);
        }
    }
    if let Some(d) = parse_duration(s) {
        return Ok(now_ns.saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)));
    }
    Err(WhenError(s.to_string()))
}

/// A time that [`parse_when`] could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenError(pub String);

impl std::fmt::Display for WhenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: expected an RFC 3339 time, a date (YYYY-MM-DD) or a duration such as 24h or 7d",
            self.0
        )
    }
}

impl std::error::Error for WhenError {}

/// Formats nanoseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn format_iso8601(ns: i64) -> String {
    let (date, h, mi, s, frac) = split(ns);
    format!("{date}T{h:02}:{mi:02}:{s:02}.{frac:09}Z")
}

/// Formats nanoseconds since the epoch as `YYYY-MM-DD HH:MM:SS`.
pub fn format_datetime(ns: i64) -> String {
    let (date, h, mi, s, _) = split(ns);
    format!("{date} {h:02}:{mi:02}:{s:02}")
}

fn split(ns: i64) -> (String, i64, i64, i64, i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        frac,
    )
}

// Howard Hinnant's days-from-civil algorithm.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ns = parse_rfc3339("2024-07-31T13:06:24Z").unwrap();
        assert_eq!(ns, 1_722_431_184_000_000_000);
        assert_eq!(format_iso8601(ns), "2024-07-31T13:06:24.000000000Z");
        assert_eq!(format_datetime(ns), "2024-07-31 13:06:24");
        let ns = parse_rfc3339("2000-02-29T23:59:59.5+01:00").unwrap();
        assert_eq!(format_iso8601(ns), "2000-02-29T22:59:59.500000000Z");
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2024-07-31",
            "2024-13-01T00:00:00Z",
            "2024-07-31T13:06:24",
            "x024-07-31T13:06:24Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }
}

#[cfg(test)]
mod when_tests {
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
