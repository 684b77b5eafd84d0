//! Baselines: what is normal for each AWS principal and access key, learned from every
//! CloudTrail event (a backfill counts), and the anomalies that stand out from it.
//!
//! | anomaly | when | needs the learning period |
//! |---|---|---|
//! | [`Anomaly::NewNetworkAndClient`] | a key is used from a network (/24, /48) and a client family (aws-cli, boto3, console...) it never used, both at once (its alert also says when the region or the hour of day is new for the key) | yes |
//! | [`Anomaly::ServiceSweep`] | a principal calls many services it never used within an hour (reconnaissance) | yes |
//! | [`Anomaly::AccessDeniedBurst`] | a principal collects a burst of AccessDenied errors within ten minutes | no |
//! | [`Anomaly::K8s`] | one source refused (403) 20 Kubernetes requests, or one user refused 5 secret reads, within ten minutes ([`crate::k8s_watch`]) | no |
//! | [`Anomaly::NewKeyUsedElsewhere`] | a key created minutes ago is first used from another network than the one that created it | no |
//!
//! A principal's baseline is learned once its first event is at least the learning period
//! (7 days by default) behind the current one; before that it only learns, so a first run over
//! fresh history is not a flood. Two offices are two networks: both become normal.
//!
//! What was learned outlives the process: [`Baselines::take_changed_profiles`] hands out the
//! profiles that changed (a principal or key first seen, or using a network, client or
//! service it never used), which the callers write to the state database's `baselines` table
//! with their alert commits, and [`Baselines::restore_profile`] reads them back at start.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use harrier_events::{Event, FieldRef, Value};
use harrier_rules::Priority;

use crate::entity::{user_agent_family, USER_AGENT_FAMILIES};

/// Baseline settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineOptions {
    /// How long a principal is watched before its anomalies are raised, ns.
    pub learning_ns: i64,
    /// New services within an hour that make a sweep.
    pub sweep_services: usize,
    /// AccessDenied errors within ten minutes that make a burst.
    pub denied_burst: usize,
    /// How soon after its creation a key's first use from elsewhere is an anomaly, ns.
    pub new_key_ns: i64,
}

const MIN: i64 = 60 * 1_000_000_000;

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            learning_ns: 7 * 24 * 60 * MIN,
            sweep_services: 10,
            denied_burst: 10,
            new_key_ns: 60 * MIN,
        }
    }
}

/// What stood out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// A key used from a new network and a new client at once.
    NewNetworkAndClient {
        /// The key.
        key: String,
        /// The new network.
        network: String,
        /// The new client family.
        client: String,
        /// What else is unusual for the key: a region it never used, an hour of the day
        /// (UTC) it is never used at. Empty when nothing.
        also: Vec<String>,
    },
    /// Many never-used services called within an hour.
    ServiceSweep {
        /// How many new services.
        services: usize,
    },
    /// A burst of AccessDenied errors.
    AccessDeniedBurst {
        /// How many within ten minutes.
        errors: usize,
    },
    /// A Kubernetes burst (many 403s to one source, many denied secret reads by one user).
    K8s(crate::k8s_watch::K8sBurst),
    /// A key created minutes ago, first used from another network.
    NewKeyUsedElsewhere {
        /// The key.
        key: String,
        /// Where it was created.
        created_from: String,
        /// Where it is used.
        used_from: String,
    },
}

impl Anomaly {
    /// The rule name its alert carries.
    pub fn rule(&self) -> &'static str {
        match self {
            Anomaly::NewNetworkAndClient { .. } => {
                "Anomaly: Access Key Used From A New Network And Client"
            }
            Anomaly::ServiceSweep { .. } => "Anomaly: Principal Calls Many Services It Never Used",
            Anomaly::AccessDeniedBurst { .. } => "Anomaly: Burst Of Access Denied Errors",
            Anomaly::NewKeyUsedElsewhere { .. } => "Anomaly: New Access Key Used From Elsewhere",
            Anomaly::K8s(crate::k8s_watch::K8sBurst::Forbidden { .. }) => {
                "Anomaly: Many Forbidden Kubernetes Requests From One Source"
            }
            Anomaly::K8s(crate::k8s_watch::K8sBurst::DeniedSecrets { .. }) => {
                "Anomaly: Burst Of Denied Kubernetes Secret Reads"
            }
        }
    }

    /// Its priority.
    pub fn priority(&self) -> Priority {
        match self {
            Anomaly::NewKeyUsedElsewhere { .. } => Priority::Critical,
            Anomaly::NewNetworkAndClient { .. } => Priority::Error,
            Anomaly::ServiceSweep { .. } | Anomaly::AccessDeniedBurst { .. } | Anomaly::K8s(_) => {
                Priority::Warning
            }
        }
    }

    /// ATT&CK tags, as rules write them.
    pub fn tags(&self) -> &'static [&'static str] {
        match self {
            Anomaly::NewNetworkAndClient { .. } | Anomaly::NewKeyUsedElsewhere { .. } => {
                &["aws", "anomaly", "mitre_initial_access", "T1078.004"]
            }
            Anomaly::ServiceSweep { .. } | Anomaly::AccessDeniedBurst { .. } => {
                &["aws", "anomaly", "mitre_discovery", "T1526"]
            }
            Anomaly::K8s(crate::k8s_watch::K8sBurst::Forbidden { .. }) => {
                &["k8s", "anomaly", "mitre_discovery", "T1613"]
            }
            Anomaly::K8s(crate::k8s_watch::K8sBurst::DeniedSecrets { .. }) => {
                &["k8s", "anomaly", "mitre_credential_access", "T1552.007"]
            }
        }
    }

    /// The event source its alert is of, and the output fields naming who and from where.
    pub fn source_and_fields(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Anomaly::K8s(_) => ("k8s_audit", "ka.user.name", "ka.sourceips"),
            _ => ("aws_cloudtrail", "ct.user.arn", "ct.srcip"),
        }
    }

    /// One line: what, who, from where.
    pub fn describe(&self, principal: &str, ip: &str, event: &str) -> String {
        match self {
            Anomaly::NewNetworkAndClient {
                key,
                network,
                client,
                also,
            } => {
                let also = if also.is_empty() {
                    String::new()
                } else {
                    format!(", also {}", also.join(", "))
                };
                format!(
                    "{key} of {principal} used from a new network {network} ({ip}) with a new client {client}{also} ({event})"
                )
            }
            Anomaly::ServiceSweep { services } => format!(
                "{principal} called {services} services it never used within an hour, from {ip} (latest: {event})"
            ),
            Anomaly::AccessDeniedBurst { errors } => format!(
                "{principal} was denied {errors} calls within ten minutes, from {ip} (latest: {event})"
            ),
            Anomaly::NewKeyUsedElsewhere { key, created_from, used_from } => format!(
                "{key} of {principal}, created from {created_from} minutes ago, first used from {used_from} ({event})"
            ),
            Anomaly::K8s(crate::k8s_watch::K8sBurst::Forbidden { count }) => format!(
                "{ip} was refused (403) {count} Kubernetes requests within ten minutes (latest by {principal}: {event})"
            ),
            Anomaly::K8s(crate::k8s_watch::K8sBurst::DeniedSecrets { count }) => format!(
                "{principal} was refused {count} secret reads within ten minutes, from {ip} (latest: {event})"
            ),
        }
    }
}

/// The network of an address: its /24 (IPv4) or /48 (IPv6); the text itself otherwise
/// (`AWS Internal`, a service name).
pub fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.to_string(),
    }
}

/// A network as a number: an IPv4 /24 or an IPv6 /48, else a hash of the text (`AWS
/// Internal`, a service name). Compared for every record: no string is made.
fn network_key(ip: &str) -> u64 {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            (1 << 62) | (u64::from(o[0]) << 16) | (u64::from(o[1]) << 8) | u64::from(o[2])
        }
        Ok(std::net::IpAddr::V6(a)) => {
            let s = a.segments();
            (2 << 62) | (u64::from(s[0]) << 32) | (u64::from(s[1]) << 16) | u64::from(s[2])
        }
        Err(_) => {
            let mut h: u64 = 0xcbf29ce484222325;
            for b in ip.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
            }
            (3 << 62) | (h >> 2)
        }
    }
}

#[derive(Default)]
struct Normal {
    first_ns: i64,
    networks: HashSet<u64>,
    clients: HashSet<&'static str>,
    services: HashSet<String>,
    /// Regions called in (keys).
    regions: HashSet<String>,
    /// Hours of the day (UTC) used, a bit each (keys).
    hours: u32,
    /// New services first called, with when (the last hour).
    new_services: VecDeque<i64>,
    /// AccessDenied errors (the last ten minutes).
    denied: VecDeque<i64>,
    /// Whether a sweep or burst was raised in the current spell (raised once per spell).
    swept: bool,
    burst: bool,
}

/// Per principal and key: what is normal.
pub struct Baselines {
    opts: BaselineOptions,
    principals: HashMap<String, Normal>,
    keys: HashMap<String, Normal>,
    /// Keys made by CreateAccessKey: (created ns, network it was created from, as text).
    created: HashMap<String, (i64, u64, String)>,
    fields: Vec<FieldRef>,
    /// Bursts in Kubernetes audit events.
    k8s: crate::k8s_watch::K8sWatch,
    /// Subjects (`principal:<arn>`, `key:<id>`) whose profile changed since the last
    /// [`Baselines::take_changed_profiles`].
    dirty: HashSet<String>,
}

const F_ARN: usize = 0;
const F_KEY: usize = 1;
const F_IP: usize = 2;
const F_UA: usize = 3;
const F_SRC: usize = 4;
const F_ERR: usize = 5;
const F_NAME: usize = 6;
const F_NEWKEY: usize = 7;
const F_REGION: usize = 8;

/// The baseline of `key`, made if new; the flag says whether it is new or its first time
/// moved back (a change to save).
fn normal<'m>(map: &'m mut HashMap<String, Normal>, key: &str, t: i64) -> (&'m mut Normal, bool) {
    let mut changed = false;
    if !map.contains_key(key) {
        changed = true;
        map.insert(
            key.to_string(),
            Normal {
                first_ns: t,
                ..Normal::default()
            },
        );
    }
    let n = map.get_mut(key).expect("inserted above");
    if t < n.first_ns {
        n.first_ns = t;
        changed = true;
    }
    (n, changed)
}

const PRINCIPAL: &str = "principal:";
const KEY: &str = "key:";

impl Normal {
    /// What is kept across restarts: when it was first seen, its networks, clients and
    /// services (the sliding counts of the last hour are not).
    fn profile(&self) -> String {
        let mut networks: Vec<u64> = self.networks.iter().copied().collect();
        networks.sort_unstable();
        let mut clients: Vec<&str> = self.clients.iter().copied().collect();
        clients.sort_unstable();
        let mut services: Vec<&str> = self.services.iter().map(String::as_str).collect();
        services.sort_unstable();
        let mut regions: Vec<&str> = self.regions.iter().map(String::as_str).collect();
        regions.sort_unstable();
        serde_json::json!({
            "first_ns": self.first_ns,
            "networks": networks,
            "clients": clients,
            "services": services,
            "regions": regions,
            "hours": self.hours,
        })
        .to_string()
    }

    fn from_profile(text: &str) -> Result<Normal, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let list = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_array())
                .ok_or_else(|| format!("expected a list `{k}`"))
        };
        let mut n = Normal {
            first_ns: v
                .get("first_ns")
                .and_then(|x| x.as_i64())
                .ok_or("expected an integer `first_ns`")?,
            ..Normal::default()
        };
        for x in list("networks")? {
            n.networks
                .insert(x.as_u64().ok_or("expected numbers in `networks`")?);
        }
        for x in list("clients")? {
            let c = x.as_str().ok_or("expected strings in `clients`")?;
            let family = USER_AGENT_FAMILIES
                .iter()
                .find(|f| **f == c)
                .ok_or_else(|| format!("unknown client family {c:?}"))?;
            n.clients.insert(family);
        }
        for x in list("services")? {
            n.services.insert(
                x.as_str()
                    .ok_or("expected strings in `services`")?
                    .to_string(),
            );
        }
        Ok(n)
    }
}

impl Baselines {
    /// Empty baselines.
    pub fn new(opts: BaselineOptions) -> Self {
        let src = &harrier_events::cloudtrail::SOURCE;
        let r = |n: &str, a: Option<&str>| src.resolve(n, a).expect("a CloudTrail field");
        Baselines {
            opts,
            principals: HashMap::new(),
            keys: HashMap::new(),
            created: HashMap::new(),
            dirty: HashSet::new(),
            k8s: crate::k8s_watch::K8sWatch::new(crate::k8s_watch::K8sWatchOptions::default()),
            fields: vec![
                r("ct.user.arn", None),
                r("json.value", Some("/userIdentity/accessKeyId")),
                r("ct.srcip", None),
                r("ct.useragent", None),
                r("ct.src", None),
                r("ct.error", None),
                r("ct.name", None),
                r(
                    "json.value",
                    Some("/responseElements/accessKey/accessKeyId"),
                ),
                r("ct.region", None),
            ],
        }
    }

    fn get<'e>(&self, ev: &'e dyn Event, i: usize) -> Option<Cow<'e, str>> {
        match ev.extract(&self.fields[i])? {
            Value::Str(s) => Some(s),
            Value::Multi(m) => m.into_iter().flatten().next(),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// The profiles that changed since the last call, as `(subject, profile)` to store; a
    /// profile changes when a principal or key is first seen or uses a network, client or
    /// service it never used, so after learning this is rarely more than a few.
    pub fn take_changed_profiles(&mut self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|subject| {
                let n = if let Some(p) = subject.strip_prefix(PRINCIPAL) {
                    self.principals.get(p)
                } else {
                    self.keys.get(subject.strip_prefix(KEY)?)
                }?;
                Some((subject.clone(), n.profile()))
            })
            .collect();
        out.sort();
        out
    }

    /// Restores a profile stored earlier (by [`Baselines::take_changed_profiles`]); what this
    /// run already learned of the same subject is merged in. An error says what is wrong with
    /// the profile; the subject then starts learning afresh.
    pub fn restore_profile(&mut self, subject: &str, profile: &str) -> Result<(), String> {
        let stored = Normal::from_profile(profile).map_err(|e| format!("{subject}: {e}"))?;
        let (map, name) = if let Some(p) = subject.strip_prefix(PRINCIPAL) {
            (&mut self.principals, p)
        } else if let Some(k) = subject.strip_prefix(KEY) {
            (&mut self.keys, k)
        } else {
            return Err(format!(
                "{subject}: expected a subject `principal:<arn>` or `key:<id>`"
            ));
        };
        match map.get_mut(name) {
            None => {
                map.insert(name.to_string(), stored);
            }
            Some(n) => {
                n.first_ns = n.first_ns.min(stored.first_ns);
                n.networks.extend(stored.networks);
                n.clients.extend(stored.clients);
                n.services.extend(stored.services);
                n.regions.extend(stored.regions);
                n.hours |= stored.hours;
                self.dirty.insert(subject.to_string());
            }
        }
        Ok(())
    }

    /// Principals and keys remembered (the memory bound: not the number of events).
    pub fn remembered(&self) -> usize {
        self.principals.len() + self.keys.len() + self.created.len() + self.k8s.remembered()
    }

    /// Learns from one CloudTrail event; returns what stood out, with the principal and
    /// source IP to describe it.
    pub fn observe(&mut self, ev: &dyn Event) -> Vec<(Anomaly, String, String)> {
        if ev.source().name == "k8s_audit" {
            return self
                .k8s
                .observe(ev)
                .into_iter()
                .map(|(b, user, ip)| (Anomaly::K8s(b), user, ip))
                .collect();
        }
        if ev.source().name != "aws_cloudtrail" {
            return Vec::new();
        }
        let Some(t) = ev.timestamp_ns() else {
            return Vec::new();
        };
        let Some(principal) = self.get(ev, F_ARN) else {
            return Vec::new();
        };
        if principal.ends_with(".amazonaws.com") {
            return Vec::new();
        }
        let mut out: Vec<Anomaly> = Vec::new();
        let ip = self.get(ev, F_IP).unwrap_or_default();
        let net = network_key(&ip);
        let client = user_agent_family(&self.get(ev, F_UA).unwrap_or_default());
        let service = self.get(ev, F_SRC).unwrap_or_default();
        let denied = self
            .get(ev, F_ERR)
            .is_some_and(|e| e.contains("AccessDenied") || e.contains("Unauthorized"));
        let key = self.get(ev, F_KEY);
        let opts = self.opts;
        let learned = |n: &Normal| t - n.first_ns >= opts.learning_ns;

        // A key made minutes ago, first used from another network.
        if let Some(k) = &key {
            if !self.created.is_empty() {
                if let Some((made, from_net, from)) = self.created.remove(k.as_ref()) {
                    if t - made <= opts.new_key_ns && from_net != net && !ip.is_empty() {
                        out.push(Anomaly::NewKeyUsedElsewhere {
                            key: k.to_string(),
                            created_from: from,
                            used_from: ip.to_string(),
                        });
                    }
                }
            }
        }
        if self.get(ev, F_NAME).as_deref() == Some("CreateAccessKey") {
            if let Some(new) = self.get(ev, F_NEWKEY) {
                self.created
                    .insert(new.into_owned(), (t, net, network_of(&ip)));
            }
        }
        // A key from a new network and a new client at once.
        if let Some(k) = &key {
            let region = self.get(ev, F_REGION).unwrap_or_default();
            let hour = 1u32 << (t.rem_euclid(86_400 * 1_000_000_000) / (3600 * 1_000_000_000));
            let (n, fresh) = normal(&mut self.keys, k, t);
            let (new_net, new_client) = (!n.networks.contains(&net), !n.clients.contains(client));
            let new_region = !region.is_empty() && !n.regions.contains(region.as_ref());
            let new_hour = n.hours & hour == 0;
            if fresh || new_net || new_client || new_region || new_hour {
                self.dirty.insert(format!("{KEY}{k}"));
            }
            if learned(n) && new_net && new_client && !ip.is_empty() {
                let mut also = Vec::new();
                if new_region {
                    also.push(format!("a region it never used ({region})"));
                }
                if new_hour {
                    also.push(format!(
                        "at an hour it is never used ({:02}h UTC)",
                        hour.trailing_zeros()
                    ));
                }
                out.push(Anomaly::NewNetworkAndClient {
                    key: k.to_string(),
                    network: network_of(&ip),
                    client: client.to_string(),
                    also,
                });
            }
            n.networks.insert(net);
            n.clients.insert(client);
            n.hours |= hour;
            if new_region {
                n.regions.insert(region.into_owned());
            }
        }
        let (p, mut changed) = normal(&mut self.principals, &principal, t);
        // A sweep of services never used.
        if !service.is_empty() && !p.services.contains(service.as_ref()) {
            changed = true;
            p.services.insert(service.into_owned());
            if learned(p) {
                p.new_services.push_back(t);
            }
        }
        while p.new_services.front().is_some_and(|&x| t - x > 60 * MIN) {
            p.new_services.pop_front();
        }
        if p.new_services.len() >= opts.sweep_services {
            if !p.swept {
                p.swept = true;
                out.push(Anomaly::ServiceSweep {
                    services: p.new_services.len(),
                });
            }
        } else {
            p.swept = false;
        }
        if changed {
            self.dirty.insert(format!("{PRINCIPAL}{principal}"));
        }
        // A burst of denials.
        if denied {
            p.denied.push_back(t);
        }
        while p.denied.front().is_some_and(|&x| t - x > 10 * MIN) {
            p.denied.pop_front();
        }
        if p.denied.len() >= opts.denied_burst {
            if !p.burst {
                p.burst = true;
                out.push(Anomaly::AccessDeniedBurst {
                    errors: p.denied.len(),
                });
            }
        } else {
            p.burst = false;
        }
        // Keys created long ago and never used are forgotten.
        if self.created.len() > 10_000 {
            self.created
                .retain(|_, (made, _, _)| t - *made <= opts.new_key_ns);
        }
        out.into_iter()
            .map(|a| (a, principal.to_string(), ip.to_string()))
            .collect()
    }
}
