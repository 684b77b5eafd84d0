//! Harrier's incidents: one attack, one story, across cloud, cluster, container and image.
//!
//! Every alert's event names entities ([`entity`], read by [`extract`]): the principal and
//! access key of a CloudTrail call, the IAM identity EKS records behind a `kubectl exec`, the
//! pod and the container a process runs in, the ECS task a Fargate container belongs to, the
//! image a push made. Alerts that share a linking entity within a window are one incident
//! ([`correlate`]), with its timeline, its ATT&CK tactics in order, the principals behind it and
//! a severity that rises with the chain ([`incident`]). No I/O: callers feed alerts and events.
//!
//! ```
//! use harrier_incidents::{Correlator, Entity, Kind, Options};
//! # fn alert(rule: &str, t: i64) -> harrier_alerts::AlertRecord {
//! #     harrier_alerts::AlertRecord { time_ns: t, rule: rule.into(), priority: harrier_rules::Priority::Warning,
//! #         source: "aws_cloudtrail".into(), output: rule.into(), output_fields: vec![], tags: vec![],
//! #         hostname: "h".into(), event_id: Some(rule.into()), rule_file: "r".into(), event: None, entities: None }
//! # }
//! let key = Entity::new(Kind::AccessKey, "AKIAEXAMPLEALICE0001").unwrap();
//! let mut c = Correlator::new(Options::default());
//! c.observe(&alert("IAM User Created", 1), vec![key.clone()]);
//! c.observe(&alert("Trail Stopped", 2), vec![key]);
//! assert_eq!(c.incidents().len(), 1);
//! ```
#![deny(missing_docs)]

pub mod baseline;
pub mod correlate;
pub mod entity;
pub mod extract;
pub mod incident;
pub mod k8s_watch;

pub use baseline::{Anomaly, BaselineOptions, Baselines};
pub use correlate::{Correlator, Notice, Options};
pub use entity::{Entity, Kind};
pub use extract::Extractor;
pub use incident::{Incident, Tactic};

#[cfg(test)]
mod tests;
