//! Folding repeated alerts for a one-shot run (`harrier detect`): the same throttle keys and
//! limits as the service's store ([`Throttle`]), applied in memory on event time. The first
//! alerts of a key within its window go through; the rest are counted, with the calls they
//! were about, and reported at the end, so 680 root calls of one session are one alert and
//! one line saying what else that session did.

use std::collections::{BTreeMap, HashMap};

use harrier_rules::Priority;

use crate::alert::Alert;
use crate::sink::{AlertSink, SinkError};
use crate::store::Throttle;

/// The most folded groups reported one by one (beyond, they are only counted).
const MAX_GROUPS: usize = 10_000;
/// The most distinct calls listed per group.
const MAX_CALLS: usize = 64;
/// Output fields that name what a folded alert was about, the first present wins.
const CALL_FIELDS: [&str; 4] = ["ct.name", "ka.verb", "evt.type", "proc.name"];

/// What was folded under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    /// The rule.
    pub rule: String,
    /// Its priority.
    pub priority: Priority,
    /// The output of the first alert delivered for the key (who, from where).
    pub first_output: String,
    /// Alerts folded (not delivered).
    pub folded: u64,
    /// Event time of the first and last folded alert, ns.
    pub first_ns: i64,
    /// See `first_ns`.
    pub last_ns: i64,
    /// The calls the folded alerts were about (API, verb, syscall), with counts.
    pub calls: BTreeMap<String, u64>,
}

struct Group {
    start_ns: i64,
    delivered: u32,
    first_output: String,
    folded: Option<usize>,
}

/// An [`AlertSink`] that folds repeats before `inner`.
pub struct FoldSink {
    inner: Box<dyn AlertSink>,
    throttle: Throttle,
    groups: HashMap<String, Group>,
    folded: Vec<Folded>,
    /// Alerts folded in all.
    pub total_folded: u64,
    newest_ns: i64,
    sends: u64,
}

impl FoldSink {
    /// Folds by `throttle` in front of `inner`.
    pub fn new(inner: Box<dyn AlertSink>, throttle: Throttle) -> FoldSink {
        FoldSink {
            inner,
            throttle,
            groups: HashMap::new(),
            folded: Vec::new(),
            total_folded: 0,
            newest_ns: i64::MIN,
            sends: 0,
        }
    }

    /// What was folded, by key, in the order first folded.
    pub fn folded(&self) -> &[Folded] {
        &self.folded
    }

    /// Forgets keys whose window ended long ago (memory follows the window, not the input).
    fn sweep(&mut self) {
        let newest = self.newest_ns;
        let t = &self.throttle;
        self.groups.retain(|k, g| {
            let rule = k.split('\u{1f}').next().unwrap_or("");
            t.limit(rule).is_some_and(|l| {
                let w = i64::try_from(l.window.as_nanos()).unwrap_or(i64::MAX);
                newest.saturating_sub(g.start_ns) <= w.saturating_mul(2)
            })
        });
    }
}

impl AlertSink for FoldSink {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        let Some(limit) = self.throttle.limit(alert.rule) else {
            return self.inner.send(alert);
        };
        self.sends += 1;
        self.newest_ns = self.newest_ns.max(alert.time_ns);
        if self.sends.is_multiple_of(10_000) {
            self.sweep();
        }
        let window = i64::try_from(limit.window.as_nanos()).unwrap_or(i64::MAX);
        let key = self.throttle.key(&alert.to_record());
        let fresh = |alert: &Alert<'_>| Group {
            start_ns: alert.time_ns,
            delivered: 0,
            first_output: alert.output.clone(),
            folded: None,
        };
        let g = self.groups.entry(key).or_insert_with(|| fresh(alert));
        if (alert.time_ns - g.start_ns).abs() > window {
            *g = fresh(alert);
        }
        if g.delivered < limit.max {
            g.delivered += 1;
            return self.inner.send(alert);
        }
        self.total_folded += 1;
        let call = CALL_FIELDS.iter().find_map(|f| {
            alert
                .output_fields
                .iter()
                .find(|(k, v)| k == f && v.is_some())
                .and_then(|(_, v)| v.clone())
        });
        let idx = match g.folded {
            Some(i) => Some(i),
            None if self.folded.len() < MAX_GROUPS => {
                self.folded.push(Folded {
                    rule: alert.rule.to_string(),
                    priority: alert.priority,
                    first_output: g.first_output.clone(),
                    folded: 0,
                    first_ns: alert.time_ns,
                    last_ns: alert.time_ns,
                    calls: BTreeMap::new(),
                });
                g.folded = Some(self.folded.len() - 1);
                g.folded
            }
            None => None,
        };
        if let Some(i) = idx {
            let f = &mut self.folded[i];
            f.folded += 1;
            f.first_ns = f.first_ns.min(alert.time_ns);
            f.last_ns = f.last_ns.max(alert.time_ns);
            if let Some(c) = call {
                if f.calls.len() < MAX_CALLS || f.calls.contains_key(&c) {
                    *f.calls.entry(c).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Limit, RuleThrottle};
    use std::time::Duration;

    struct Count(std::rc::Rc<std::cell::Cell<u32>>);
    impl AlertSink for Count {
        fn send(&mut self, _: &Alert<'_>) -> Result<(), SinkError> {
            self.0.set(self.0.get() + 1);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[test]
    fn one_session_is_one_alert_and_a_count_of_its_calls() {
        let n = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut t = Throttle::default();
        t.rules.insert(
            "Root".into(),
            RuleThrottle {
                limit: Some(Limit {
                    window: Duration::from_secs(4 * 3600),
                    max: 1,
                }),
                key_fields: Some(vec!["ct.srcip".into(), "ct.useragent".into()]),
            },
        );
        let mut f = FoldSink::new(Box::new(Count(n.clone())), t);
        let tags: Vec<String> = vec![];
        let alert = |t: i64, ip: &'static str, api: &'static str| Alert {
            time_ns: t * 1_000_000_000,
            rule: "Root",
            priority: Priority::Error,
            source: "aws_cloudtrail",
            output: format!("root {api} from {ip}"),
            output_fields: vec![
                ("ct.name", Some(api.into())),
                ("ct.srcip", Some(ip.into())),
                ("ct.useragent", Some("Mozilla".into())),
            ],
            tags: &tags,
            hostname: "h",
            event_id: None,
            rule_file: "r",
            event: None,
        };
        for i in 0..680 {
            let api = if i % 2 == 0 {
                "ListBuckets"
            } else {
                "GetBucketAcl"
            };
            f.send(&alert(i, "203.0.113.5", api)).unwrap();
        }
        // Another address is another session; the same address five hours on is too.
        f.send(&alert(700, "198.51.100.9", "ListBuckets")).unwrap();
        f.send(&alert(5 * 3600, "203.0.113.5", "ListBuckets"))
            .unwrap();
        // A rule without a limit is never folded.
        let mut other = alert(1, "203.0.113.5", "X");
        other.rule = "Other";
        f.send(&other).unwrap();
        f.send(&other).unwrap();
        assert_eq!(n.get(), 1 + 1 + 1 + 2);
        assert_eq!(f.total_folded, 679);
        let g = &f.folded()[0];
        assert_eq!((g.rule.as_str(), g.folded), ("Root", 679));
        assert_eq!(g.first_output, "root ListBuckets from 203.0.113.5");
        assert_eq!(g.calls["GetBucketAcl"], 340);
        assert_eq!(g.calls["ListBuckets"], 339);
    }
}
