//! A push taken through the image database and the scanner into alerts.
//!
//! A digest is scanned once: a push of a digest already scanned (a re-push under another tag,
//! the same push told by CloudTrail and EventBridge) is recorded and judged from the stored
//! scan. A tag that now points at a different digest than before is an alert of its own when
//! a person moved it (a pipeline's role moving its tags is how releases work).

use harrier_alerts::Alert;
use harrier_incidents::{Entity, Kind};
use harrier_rules::Priority;

use crate::push::Push;
use crate::results::ImageResults;
use crate::scanner::Scanner;
use crate::verdict::{Bar, Summary};

/// The rule name of a pushed image that fails its scan.
pub const RULE_PUSH_FAILS: &str = "Pushed Image Fails Its Scan";
/// The rule name of a tag moved to another digest by a person.
pub const RULE_TAG_MOVED: &str = "Image Tag Moved To Another Digest";

/// How pushes are judged.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The registry host to pull from instead of ECR's (a mirror; a local registry in tests).
    pub registry: Option<String>,
    /// What makes a scan alert.
    pub bar: Bar,
}

/// An alert the supply chain raises, owned, with the entities that correlate it.
#[derive(Debug, Clone)]
pub struct SupplyAlert {
    /// Rule name.
    pub rule: &'static str,
    /// Priority.
    pub priority: Priority,
    /// The text.
    pub output: String,
    /// Named values.
    pub fields: Vec<(&'static str, Option<String>)>,
    /// Tags (MITRE among them).
    pub tags: Vec<String>,
    /// A deterministic id: one push, one alert of each rule.
    pub event_id: String,
    /// When.
    pub time_ns: i64,
    /// Who and what, for incidents.
    pub entities: Vec<Entity>,
}

impl SupplyAlert {
    /// The alert, as every sink takes it.
    pub fn alert<'a>(&'a self, hostname: &'a str) -> Alert<'a> {
        Alert {
            time_ns: self.time_ns,
            rule: self.rule,
            priority: self.priority,
            source: "image",
            output: self.output.clone(),
            output_fields: self.fields.clone(),
            tags: &self.tags,
            hostname,
            event_id: Some(self.event_id.clone().into()),
            rule_file: "<images>",
            event: None,
        }
    }
}

/// What one push came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The digest's scan.
    pub summary: Summary,
    /// Whether it was scanned now (`false`: the digest was known).
    pub scanned: bool,
    /// The digest the tag pointed to before, when it moved.
    pub moved_from: Option<String>,
    /// Alerts to store.
    pub alerts: Vec<SupplyAlert>,
}

fn short(d: &str) -> &str {
    d.get(..19).unwrap_or(d)
}

fn entities(p: &Push) -> Vec<Entity> {
    let mut out: Vec<Entity> = [
        Entity::new(Kind::ImageDigest, p.digest.clone()),
        p.tag
            .as_ref()
            .and_then(|t| Entity::new(Kind::Image, format!("{}:{t}", p.repository))),
        p.pusher
            .as_ref()
            .and_then(|a| Entity::new(Kind::Principal, a.clone())),
        p.access_key
            .as_ref()
            .and_then(|k| Entity::new(Kind::AccessKey, k.clone())),
        p.source_ip
            .as_ref()
            .and_then(|i| Entity::new(Kind::SourceIp, i.clone())),
        Entity::new(Kind::Account, p.registry_id.clone()),
        Entity::new(Kind::Region, p.region.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.sort();
    out
}

/// Takes `push` through the database (its tag pointed at its digest, the digest scanned
/// unless it was before) and says what to alert. An error (the registry unreachable, the
/// image unreadable) leaves the push for another attempt.
pub fn process(
    db: &dyn ImageResults,
    scanner: &dyn Scanner,
    push: &Push,
    s: &Settings,
) -> Result<Outcome, String> {
    // Tags are ECR's, kept by ECR's host even when the pull goes through a mirror (two
    // accounts' `web:1.0` are different tags).
    let registry = push.registry_host(None);
    let (summary, scanned) = match db.scan(&push.digest).map_err(|e| e.to_string())? {
        Some(known) => (known, false),
        None => {
            let sum = scanner.scan(&push.reference(s.registry.as_deref()))?;
            db.put_scan(&sum).map_err(|e| e.to_string())?;
            (sum, true)
        }
    };
    // The tag moves only once the scan is stored: a failed attempt is retried whole.
    let moved_from = db.point_tag(&registry, push).map_err(|e| e.to_string())?;
    let by = push.pusher.as_deref().unwrap_or("an unknown pusher");
    let mut fields = vec![
        ("image.repository", Some(push.repository.clone())),
        ("image.tag", push.tag.clone()),
        ("image.digest", Some(push.digest.clone())),
        ("image.registry", Some(registry.clone())),
        ("image.pusher", push.pusher.clone()),
        ("image.access_key", push.access_key.clone()),
    ];
    let tags: Vec<String> = [
        "aws",
        "ecr",
        "container",
        "image",
        "mitre_persistence",
        "T1525",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    let mut alerts = Vec::new();
    if let Some(from) = &moved_from {
        if push.person || push.pusher.is_none() {
            let mut f = fields.clone();
            f.push(("image.previous_digest", Some(from.clone())));
            alerts.push(SupplyAlert {
                rule: RULE_TAG_MOVED,
                priority: if push.person {
                    Priority::Error
                } else {
                    Priority::Warning
                },
                output: format!(
                    "Tag {} in {registry} moved from {} to {} by {by}{} (via {})",
                    push.name(),
                    short(from),
                    short(&push.digest),
                    push.source_ip
                        .as_deref()
                        .map(|i| format!(" from {i}"))
                        .unwrap_or_default(),
                    push.via
                ),
                fields: f,
                tags: tags.clone(),
                event_id: format!("{}/tag-moved", push.event_id),
                time_ns: push.time_ns,
                entities: entities(push),
            });
        }
    }
    let reasons = summary.reasons(s.bar);
    if !reasons.is_empty() {
        let malware = !summary.malware.is_empty();
        fields.push(("image.findings", Some(reasons.join("; "))));
        alerts.push(SupplyAlert {
            rule: RULE_PUSH_FAILS,
            priority: if malware {
                Priority::Critical
            } else {
                Priority::Error
            },
            output: format!(
                "Image {} ({}) pushed to {registry} by {by} fails its scan: {}{}",
                push.name(),
                short(&push.digest),
                reasons
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
                if reasons.len() > 3 {
                    format!(" (and {} more)", reasons.len() - 3)
                } else {
                    String::new()
                }
            ),
            fields,
            tags,
            event_id: format!("{}/scan", push.event_id),
            time_ns: push.time_ns,
            entities: entities(push),
        });
    }
    Ok(Outcome {
        summary,
        scanned,
        moved_from,
        alerts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::ImageDb;
    use crate::verdict::Item;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Fake {
        scans: AtomicUsize,
    }
    impl Scanner for Fake {
        fn digest(
            &self,
            r: &harrier_image::registry::Reference,
            _: std::time::Duration,
        ) -> Result<String, String> {
            Ok(r.reference.clone())
        }
        fn scan(&self, r: &harrier_image::registry::Reference) -> Result<Summary, String> {
            self.scans.fetch_add(1, Ordering::SeqCst);
            let bad = r.reference.contains("bbbb");
            Ok(Summary {
                digest: r.reference.clone(),
                reference: r.to_string(),
                scanned_at_ns: 1,
                os: None,
                packages: 1,
                vulnerability_database: false,
                malware: if bad {
                    vec![Item {
                        id: "ld-so-preload".into(),
                        severity: "critical".into(),
                        what: "/etc/ld.so.preload".into(),
                        layer: Some(2),
                        fixed: None,
                    }]
                } else {
                    vec![]
                },
                vulnerabilities: vec![],
                practice: vec![],
            })
        }
    }

    fn push(id: &str, c: char, t: i64, person: bool) -> Push {
        Push {
            registry_id: "111122223333".into(),
            region: "eu-west-1".into(),
            repository: "web".into(),
            tag: Some("v1.4.2".into()),
            digest: format!("sha256:{}", c.to_string().repeat(64)),
            pusher: Some(if person {
                "arn:aws:iam::111122223333:user/alice".into()
            } else {
                "arn:aws:sts::111122223333:assumed-role/ci-deploy/b".into()
            }),
            person,
            access_key: Some("AKIAEXAMPLE".into()),
            source_ip: Some("203.0.113.7".into()),
            time_ns: t,
            event_id: id.into(),
            via: "cloudtrail".into(),
        }
    }

    #[test]
    fn a_backdoored_repush_over_a_tag_alerts_twice_and_a_clean_push_not_at_all() {
        let d = tempfile::tempdir().unwrap();
        let db = ImageDb::open(&d.path().join("i.db")).unwrap();
        let f = Fake {
            scans: AtomicUsize::new(0),
        };
        let s = Settings::default();
        let clean = process(&db, &f, &push("ci", 'a', 1, false), &s).unwrap();
        assert!(clean.alerts.is_empty(), "{:?}", clean.alerts);
        let bad = process(&db, &f, &push("attacker", 'b', 2, true), &s).unwrap();
        let rules: Vec<&str> = bad.alerts.iter().map(|a| a.rule).collect();
        assert_eq!(rules, [RULE_TAG_MOVED, RULE_PUSH_FAILS]);
        assert_eq!(bad.alerts[1].priority, Priority::Critical);
        assert!(
            bad.alerts[1].output.contains("ld-so-preload"),
            "{}",
            bad.alerts[1].output
        );
        assert!(bad.alerts[1]
            .entities
            .iter()
            .any(|e| e.kind == Kind::Principal && e.value.ends_with("user/alice")));
        // The same digest again under another tag: recorded, judged, not rescanned.
        let mut again = push("attacker-2", 'b', 3, true);
        again.tag = Some("latest".into());
        let o = process(&db, &f, &again, &s).unwrap();
        assert!(!o.scanned);
        assert_eq!(f.scans.load(Ordering::SeqCst), 2);
        assert_eq!(o.alerts.len(), 1, "no tag moved, the scan still fails");
        // A pipeline moving its tag back is not a tag-moved alert.
        let o = process(&db, &f, &push("ci-2", 'a', 4, false), &s).unwrap();
        assert!(o.moved_from.is_some());
        assert!(o.alerts.is_empty(), "{:?}", o.alerts);
    }
}
