//! CloudTrail's S3 key layout, read from key names alone (no download).
//!
//! CloudTrail writes log files to
//! `[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz`,
//! and organisation trails insert the organisation id: `AWSLogs/o-xxxx/<account>/CloudTrail/...`.
//! Digest files (`CloudTrail-Digest/`) and Insights (`CloudTrail-Insight/`) share the tree but
//! are not event logs.

use harrier_events::time::parse_rfc3339;

/// What a key name says about a CloudTrail log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Organisation id, for organisation trails.
    pub org: Option<String>,
    /// The account whose events the file holds.
    pub account: String,
    /// The region.
    pub region: String,
    /// The file's timestamp (end of its delivery window), ns since the epoch; from the file
    /// name, else midnight of the day directory.
    pub time_ns: i64,
}

/// How a key is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A CloudTrail log file in the standard layout.
    Log(KeyInfo),
    /// Under `AWSLogs/` but not an event log (digest, insight, config, a folder marker...).
    NotALog,
    /// Outside CloudTrail's layout: a JSON file someone put there (read, but account, region
    /// and time filters cannot apply to it).
    Other,
}

/// Classifies `key`.
pub fn classify(key: &str) -> KeyKind {
    let parts: Vec<&str> = key.split('/').collect();
    let Some(root) = parts.iter().position(|p| *p == "AWSLogs") else {
        return if looks_like_json_log(key) {
            KeyKind::Other
        } else {
            KeyKind::NotALog
        };
    };
    let mut rest = &parts[root + 1..];
    let org = match rest.first() {
        Some(p) if p.starts_with("o-") => {
            let o = p.to_string();
            rest = &rest[1..];
            Some(o)
        }
        _ => None,
    };
    // <account>/CloudTrail/<region>/YYYY/MM/DD/<file>
    let [account, service, region, y, m, d, file] = rest else {
        return KeyKind::NotALog;
    };
    if *service != "CloudTrail"
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
        || !looks_like_json_log(file)
    {
        return KeyKind::NotALog;
    }
    let day = format!("{y}-{m}-{d}T00:00:00Z");
    let Some(day_ns) = parse_rfc3339(&day) else {
        return KeyKind::NotALog;
    };
    KeyKind::Log(KeyInfo {
        org,
        account: account.to_string(),
        region: region.to_string(),
        time_ns: file_time(file).unwrap_or(day_ns),
    })
}

/// The `YYYYMMDDTHHMMZ` stamp of a CloudTrail file name.
fn file_time(file: &str) -> Option<i64> {
    let stamp = file.split('_').find(|p| {
        p.len() == 14
            && p.as_bytes()[8] == b'T'
            && p.ends_with('Z')
            && p[..8].bytes().all(|b| b.is_ascii_digit())
    })?;
    let s = format!(
        "{}-{}-{}T{}:{}:00Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13]
    );
    parse_rfc3339(&s)
}

fn looks_like_json_log(key: &str) -> bool {
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz"]
        .iter()
        .any(|s| key.ends_with(s))
}

/// Which log files to read, decided from key names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Files delivered at or after this time (ns).
    pub since_ns: Option<i64>,
    /// Files holding events before this time (ns). CloudTrail delivers a file up to about 15
    /// minutes after its events, so files stamped up to an hour later are kept too.
    pub until_ns: Option<i64>,
    /// Only these accounts (empty: all).
    pub accounts: Vec<String>,
    /// Only these regions (empty: all).
    pub regions: Vec<String>,
}

/// Slack after `until` for delivery delay.
const DELIVERY_SLACK_NS: i64 = 3600 * 1_000_000_000;

impl KeyFilter {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        self == &KeyFilter::default()
    }

    /// Whether a key of this kind is to be read.
    pub fn accepts(&self, kind: &KeyKind) -> bool {
        match kind {
            KeyKind::NotALog => false,
            // Nothing to filter on: read it unless the user narrowed to accounts or regions.
            KeyKind::Other => self.accounts.is_empty() && self.regions.is_empty(),
            KeyKind::Log(k) => {
                (self.accounts.is_empty() || self.accounts.contains(&k.account))
                    && (self.regions.is_empty() || self.regions.contains(&k.region))
                    && self.since_ns.is_none_or(|s| k.time_ns >= s)
                    && self
                        .until_ns
                        .is_none_or(|u| k.time_ns < u.saturating_add(DELIVERY_SLACK_NS))
            }
        }
    }
}

/// Puts log files in reading order: per account and region, by file time (then key), so the
/// records of each account and region are read in time order.
pub fn sort_for_reading<T>(items: &mut [(String, KeyKind, T)]) {
    items.sort_by(|(ka, a, _), (kb, b, _)| {
        let rank = |k: &KeyKind| match k {
            KeyKind::Log(i) => (0, i.account.clone(), i.region.clone(), i.time_ns),
            _ => (1, String::new(), String::new(), 0),
        };
        rank(a).cmp(&rank(b)).then_with(|| ka.cmp(kb))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "trails/AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/111122223333_CloudTrail_us-east-1_20240731T1305Z_AbCdEf123.json.gz";

    #[test]
    fn reads_account_region_and_time_from_the_key() {
        let KeyKind::Log(k) = classify(KEY) else {
            panic!("not a log: {KEY}")
        };
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region, "us-east-1");
        assert_eq!(k.org, None);
        assert_eq!(k.time_ns, parse_rfc3339("2024-07-31T13:05:00Z").unwrap());
        let org = "AWSLogs/o-abc123/444455556666/CloudTrail/eu-west-1/2024/08/01/444455556666_CloudTrail_eu-west-1_20240801T0000Z_x.json.gz";
        let KeyKind::Log(k) = classify(org) else {
            panic!()
        };
        assert_eq!(
            (k.org.as_deref(), k.account.as_str(), k.region.as_str()),
            (Some("o-abc123"), "444455556666", "eu-west-1")
        );
    }

    #[test]
    fn digests_insights_and_markers_are_not_logs() {
        for key in [
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/07/31/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240731T1305Z.json.gz",
            "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/07/31/x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/07/31/readme.txt",
            "AWSLogs/notanaccount/CloudTrail/us-east-1/2024/07/31/x.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/13/31/x.json.gz",
        ] {
            assert_eq!(classify(key), KeyKind::NotALog, "{key}");
        }
        assert_eq!(classify("exports/attack.json"), KeyKind::Other);
        assert_eq!(classify("exports/notes.txt"), KeyKind::NotALog);
    }

    #[test]
    fn filters_on_account_region_and_time() {
        let kind = classify(KEY);
        let at = |s: &str| parse_rfc3339(s);
        assert!(KeyFilter::default().accepts(&kind));
        let f = |accounts: &[&str], regions: &[&str], since: Option<&str>, until: Option<&str>| {
            KeyFilter {
                accounts: accounts.iter().map(|s| s.to_string()).collect(),
                regions: regions.iter().map(|s| s.to_string()).collect(),
                since_ns: since.and_then(at),
                until_ns: until.and_then(at),
            }
        };
        assert!(f(&["111122223333"], &[], None, None).accepts(&kind));
        assert!(!f(&["999999999999"], &[], None, None).accepts(&kind));
        assert!(f(&[], &["us-east-1"], None, None).accepts(&kind));
        assert!(!f(&[], &["eu-west-1"], None, None).accepts(&kind));
        assert!(f(&[], &[], Some("2024-07-31T13:00:00Z"), None).accepts(&kind));
        assert!(!f(&[], &[], Some("2024-07-31T13:06:00Z"), None).accepts(&kind));
        // A file stamped 13:05 may hold events of 12:50: kept for until=13:00.
        assert!(f(&[], &[], None, Some("2024-07-31T13:00:00Z")).accepts(&kind));
        assert!(!f(&[], &[], None, Some("2024-07-31T11:00:00Z")).accepts(&kind));
        // Files outside the layout: read unless narrowed to accounts or regions.
        assert!(f(&[], &[], Some("2030-01-01T00:00:00Z"), None).accepts(&KeyKind::Other));
        assert!(!f(&["111122223333"], &[], None, None).accepts(&KeyKind::Other));
    }

    #[test]
    fn reading_order_is_per_account_region_then_time() {
        let k = |acct: &str, region: &str, stamp: &str| {
            format!("AWSLogs/{acct}/CloudTrail/{region}/2024/07/31/{acct}_CloudTrail_{region}_{stamp}_u.json.gz")
        };
        let keys = [
            k("222222222222", "us-east-1", "20240731T1200Z"),
            k("111111111111", "us-east-1", "20240731T1300Z"),
            "other.json".to_string(),
            k("111111111111", "us-east-1", "20240731T1100Z"),
            k("111111111111", "eu-west-1", "20240731T1400Z"),
        ];
        let mut items: Vec<_> = keys.iter().map(|k| (k.clone(), classify(k), ())).collect();
        sort_for_reading(&mut items);
        let order: Vec<&str> = items.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            order,
            [
                keys[4].as_str(),
                keys[3].as_str(),
                keys[1].as_str(),
                keys[0].as_str(),
                "other.json"
            ]
        );
    }
}
