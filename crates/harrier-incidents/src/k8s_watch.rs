//! Bursts in a Kubernetes audit log that no single event shows: one source collecting many
//! `403 Forbidden` answers (probing what a stolen token may do), and one user denied secret
//! reads again and again (hunting for credentials). Counted on `ResponseComplete` (one per
//! request, whichever other stages are logged) in a sliding window; raised once per spell.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use harrier_events::{Event, FieldRef, Value};

/// Burst thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct K8sWatchOptions {
    /// Forbidden answers to one source within the window that make a burst.
    pub forbidden: usize,
    /// Denied secret reads by one user within the window that make a burst.
    pub denied_secrets: usize,
    /// The window, ns.
    pub window_ns: i64,
}

impl Default for K8sWatchOptions {
    fn default() -> Self {
        K8sWatchOptions {
            forbidden: 20,
            denied_secrets: 5,
            window_ns: 10 * 60 * 1_000_000_000,
        }
    }
}

/// What a burst was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum K8sBurst {
    /// Many 403s to one source address.
    Forbidden {
        /// How many within the window.
        count: usize,
    },
    /// Many denied secret reads by one user.
    DeniedSecrets {
        /// How many within the window.
        count: usize,
    },
}

#[derive(Default)]
struct Spell {
    times: VecDeque<i64>,
    raised: bool,
}

impl Spell {
    /// Adds `t`; true when the count reaches `n` for the first time in this spell.
    fn add(&mut self, t: i64, window: i64, n: usize) -> Option<usize> {
        self.times.push_back(t);
        while self.times.front().is_some_and(|&x| t - x > window) {
            self.times.pop_front();
        }
        if self.times.len() >= n {
            if !self.raised {
                self.raised = true;
                return Some(self.times.len());
            }
        } else {
            self.raised = false;
        }
        None
    }
}

/// The watch over one audit stream.
pub struct K8sWatch {
    opts: K8sWatchOptions,
    by_source: HashMap<String, Spell>,
    by_user: HashMap<String, Spell>,
    fields: [FieldRef; 6],
    seen: u64,
}

impl K8sWatch {
    /// A watch with `opts`.
    pub fn new(opts: K8sWatchOptions) -> Self {
        let src = &harrier_events::k8saudit::SOURCE;
        let r = |n: &str, a: Option<&str>| src.resolve(n, a).expect("a k8s_audit field");
        K8sWatch {
            opts,
            by_source: HashMap::new(),
            by_user: HashMap::new(),
            fields: [
                r("ka.stage", None),
                r("ka.response.code", None),
                r("ka.sourceips", Some("0")),
                r("ka.user.name", None),
                r("ka.target.resource", None),
                r("ka.verb", None),
            ],
            seen: 0,
        }
    }

    fn get<'e>(&self, ev: &'e dyn Event, i: usize) -> Option<Cow<'e, str>> {
        match ev.extract(&self.fields[i])? {
            Value::Str(s) => Some(s),
            Value::U64(n) => Some(Cow::Owned(n.to_string())),
            Value::Multi(m) => m.into_iter().flatten().next(),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// Sources and users remembered (bounded by the window's traffic, swept as it moves).
    pub fn remembered(&self) -> usize {
        self.by_source.len() + self.by_user.len()
    }

    /// Counts one audit event; returns a burst with the user and source address it is about.
    pub fn observe(&mut self, ev: &dyn Event) -> Vec<(K8sBurst, String, String)> {
        let Some(t) = ev.timestamp_ns() else {
            return Vec::new();
        };
        if self.get(ev, 0).is_some_and(|s| s != "ResponseComplete") {
            return Vec::new();
        }
        if self.get(ev, 1).as_deref() != Some("403") {
            return Vec::new();
        }
        let ip = self.get(ev, 2).unwrap_or_default().into_owned();
        let user = self.get(ev, 3).unwrap_or_default().into_owned();
        let (w, o) = (self.opts.window_ns, self.opts);
        let mut out = Vec::new();
        if !ip.is_empty() {
            if let Some(count) =
                self.by_source
                    .entry(ip.clone())
                    .or_default()
                    .add(t, w, o.forbidden)
            {
                out.push((K8sBurst::Forbidden { count }, user.clone(), ip.clone()));
            }
        }
        let secret_read = self.get(ev, 4).as_deref() == Some("secrets")
            && self
                .get(ev, 5)
                .is_some_and(|v| matches!(v.as_ref(), "get" | "list" | "watch"));
        if secret_read && !user.is_empty() {
            if let Some(count) =
                self.by_user
                    .entry(user.clone())
                    .or_default()
                    .add(t, w, o.denied_secrets)
            {
                out.push((K8sBurst::DeniedSecrets { count }, user.clone(), ip.clone()));
            }
        }
        self.seen += 1;
        if self.seen.is_multiple_of(4096) {
            let keep = |s: &Spell| s.times.back().is_some_and(|&x| t - x <= w);
            self.by_source.retain(|_, s| keep(s));
            self.by_user.retain(|_, s| keep(s));
        }
        out
    }
}
