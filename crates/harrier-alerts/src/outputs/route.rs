//! Routing: which alerts an output receives.
//!
//! Each output may narrow what it is sent, so the right people are told: Critical identity
//! alerts to the on-call channel, everything to the SIEM, one cluster's runtime alerts to its
//! team. An alert an output's [`Route`] refuses is passed over (its cursor moves past it) and
//! never sent to that output; other outputs are not affected.

use serde_json::Value;

use crate::store::StoredAlert;
use harrier_rules::Priority;

/// Output fields that name the AWS account an alert is about.
pub const ACCOUNT_FIELDS: &[&str] = &["ct.recipientaccountid", "ct.user.accountid"];
/// Output fields that name the Kubernetes namespace an alert is about.
pub const NAMESPACE_FIELDS: &[&str] = &["ka.target.namespace", "k8s.ns.name"];

/// A filter on alerts; the default admits every alert, and each non-empty setting narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// At or above this priority.
    pub min_priority: Option<Priority>,
    /// Only these rules (by name).
    pub rules: Vec<String>,
    /// Not these rules.
    pub exclude_rules: Vec<String>,
    /// Only alerts with at least one of these tags.
    pub tags: Vec<String>,
    /// Not alerts with any of these tags.
    pub exclude_tags: Vec<String>,
    /// Only these event sources (`aws_cloudtrail`, `k8s_audit`, `syscall`).
    pub sources: Vec<String>,
    /// Only alerts whose account field ([`ACCOUNT_FIELDS`]) is one of these.
    pub accounts: Vec<String>,
    /// Only alerts whose namespace field ([`NAMESPACE_FIELDS`]) is one of these.
    pub namespaces: Vec<String>,
}

impl Route {
    /// Whether every alert passes (nothing to check).
    pub fn is_all(&self) -> bool {
        *self == Route::default()
    }

    /// Whether `a` goes to the output.
    pub fn admits(&self, a: &StoredAlert) -> bool {
        if self.min_priority.is_some_and(|p| !a.priority.at_least(p)) {
            return false;
        }
        let named = |list: &[String], v: &str| list.iter().any(|x| x == v);
        if (!self.rules.is_empty() && !named(&self.rules, &a.rule))
            || named(&self.exclude_rules, &a.rule)
            || (!self.sources.is_empty() && !named(&self.sources, &a.source))
        {
            return false;
        }
        if self.tags.is_empty()
            && self.exclude_tags.is_empty()
            && self.accounts.is_empty()
            && self.namespaces.is_empty()
        {
            return true;
        }
        // The rest is in the alert's JSON.
        let v: Value = serde_json::from_str(&a.json).unwrap_or(Value::Null);
        let tags: Vec<&str> = v
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !self.tags.is_empty() && !tags.iter().any(|t| named(&self.tags, t)) {
            return false;
        }
        if tags.iter().any(|t| named(&self.exclude_tags, t)) {
            return false;
        }
        let field_in = |fields: &[&str], wanted: &[String]| {
            fields.iter().any(|f| {
                v.get("output_fields")
                    .and_then(|o| o.get(*f))
                    .and_then(Value::as_str)
                    .is_some_and(|x| named(wanted, x))
            })
        };
        (self.accounts.is_empty() || field_in(ACCOUNT_FIELDS, &self.accounts))
            && (self.namespaces.is_empty() || field_in(NAMESPACE_FIELDS, &self.namespaces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(
        rule: &str,
        p: Priority,
        source: &str,
        tags: &[&str],
        fields: &[(&str, &str)],
    ) -> StoredAlert {
        let mut of = serde_json::Map::new();
        for (k, v) in fields {
            of.insert(k.to_string(), Value::from(*v));
        }
        StoredAlert {
            seq: 1,
            id: "x".into(),
            time_ns: 0,
            stored_ns: 0,
            rule: rule.into(),
            priority: p,
            source: source.into(),
            suppressed: false,
            json: serde_json::json!({"rule": rule, "tags": tags, "output_fields": of}).to_string(),
        }
    }

    #[test]
    fn each_setting_narrows() {
        let key = alert(
            "Create Access Key For Another User",
            Priority::Critical,
            "aws_cloudtrail",
            &["aws", "iam"],
            &[("ct.user.accountid", "111122223333")],
        );
        let exec = alert(
            "Exec Into Pod",
            Priority::Notice,
            "k8s_audit",
            &["k8s"],
            &[("ka.target.namespace", "payments")],
        );
        assert!(Route::default().admits(&key) && Route::default().admits(&exec));
        let oncall = Route {
            min_priority: Some(Priority::Critical),
            tags: vec!["iam".into()],
            ..Route::default()
        };
        assert!(oncall.admits(&key));
        assert!(!oncall.admits(&exec));
        // Near miss: the right tag, one priority too low.
        let mut lower = key.clone();
        lower.priority = Priority::Error;
        assert!(!oncall.admits(&lower));
        let team = Route {
            sources: vec!["k8s_audit".into(), "syscall".into()],
            namespaces: vec!["payments".into()],
            ..Route::default()
        };
        assert!(team.admits(&exec) && !team.admits(&key));
        let mut other_ns = exec.clone();
        other_ns.json = other_ns.json.replace("payments", "web");
        assert!(!team.admits(&other_ns));
        let acct = Route {
            accounts: vec!["111122223333".into()],
            ..Route::default()
        };
        assert!(acct.admits(&key) && !acct.admits(&exec));
        let quiet = Route {
            exclude_rules: vec!["Exec Into Pod".into()],
            exclude_tags: vec!["iam".into()],
            ..Route::default()
        };
        assert!(!quiet.admits(&exec) && !quiet.admits(&key));
        let only = Route {
            rules: vec!["Exec Into Pod".into()],
            ..Route::default()
        };
        assert!(only.admits(&exec) && !only.admits(&key));
    }
}
