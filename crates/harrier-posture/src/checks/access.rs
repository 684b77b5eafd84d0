//! IAM access hygiene beyond users and keys: permissions through groups, stored server
//! certificates, IAM Access Analyzer.

use crate::check::{Check, Severity, Status};

pub static PERMISSIONS_THROUGH_GROUPS: Check = Check {
    id: "iam_user_permissions_through_groups",
    title: "IAM users get permissions only through groups",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::Low,
    rationale: "Policies attached to individual users are easy to miss in a review and pile up as people change jobs; granting through groups keeps access visible and revocable in one place.",
    remediation: "Move each user's inline and attached policies to a group that matches the job, add the user to it, then remove the user's own policies.",
    cli: &[
        "aws iam add-user-to-group --user-name <user> --group-name <group>",
        "aws iam detach-user-policy --user-name <user> --policy-arn <arn>",
        "aws iam delete-user-policy --user-name <user> --policy-name <name>",
    ],
    frameworks: &[
            ("cis-5.0", &["1.14"]),
            ("pci-4.0", &["7.2.1", "7.2.2"]),
            ("nist-800-53-r5", &["AC-2", "AC-6"]),
            ("nist-800-53-r4", &["AC-2", "AC-6"]),
            ("soc2", &["cc_6_3"]),
        ],
    eval: |cx, out| {
        let d = match cx.global("iam-get-account-authorization-details") {
            Ok(d) => d,
            Err(e) => return out.push(cx.unknown("global", e)),
        };
        for u in d["UserDetailList"].as_array().into_iter().flatten() {
            let arn = u["Arn"].as_str().or(u["UserName"].as_str()).unwrap_or("?");
            let inline: Vec<&str> = u["UserPolicyList"].as_array().into_iter().flatten().filter_map(|p| p["PolicyName"].as_str()).collect();
            let attached: Vec<&str> = u["AttachedManagedPolicies"].as_array().into_iter().flatten().filter_map(|p| p["PolicyArn"].as_str()).collect();
            out.push(if inline.is_empty() && attached.is_empty() {
                cx.finding("global", arn, Status::Pass, "no policies of its own")
            } else {
                let mut parts = Vec::new();
                if !inline.is_empty() {
                    parts.push(format!("inline: {}", inline.join(", ")));
                }
                if !attached.is_empty() {
                    parts.push(format!("attached: {}", attached.join(", ")));
                }
                cx.finding("global", arn, Status::Fail, format!("policies on the user ({})", parts.join("; ")))
            });
        }
    },
};

pub static EXPIRED_SERVER_CERTIFICATES: Check = Check {
    id: "iam_no_expired_server_certificates",
    title: "No expired SSL/TLS certificates are stored in IAM",
    service: "iam",
    resource_type: "AWS::IAM::ServerCertificate",
    severity: Severity::Low,
    rationale: "An expired certificate still attached to a load balancer or CloudFront breaks clients or teaches users to click through warnings; stored, it can be deployed by mistake.",
    remediation: "Delete expired server certificates (after moving any listener to a valid certificate, preferably from ACM).",
    cli: &["aws iam delete-server-certificate --server-certificate-name <name>"],
    frameworks: &[
            ("cis-5.0", &["1.18"]),
            ("pci-4.0", &["4.2.1"]),
            ("nist-800-53-r5", &["SC-12", "SC-17"]),
            ("nist-800-53-r4", &["SC-12", "SC-17"]),
            ("soc2", &["cc_6_7"]),
        ],
    eval: |cx, out| {
        let d = match cx.global("iam-list-server-certificates") {
            Ok(d) => d,
            Err(e) => return out.push(cx.unknown("global", e)),
        };
        let certs: Vec<_> = d["ServerCertificateMetadataList"].as_array().into_iter().flatten().collect();
        if certs.is_empty() {
            return out.push(cx.finding("global", cx.account(), Status::Pass, "no server certificates stored"));
        }
        for c in certs {
            let id = c["Arn"].as_str().or(c["ServerCertificateName"].as_str()).unwrap_or("?");
            let exp = c["Expiration"].as_str();
            out.push(match exp.and_then(harrier_events::time::parse_rfc3339) {
                Some(ns) if ns / 1_000_000_000 < cx.now => cx.finding("global", id, Status::Fail, format!("expired {}", exp.unwrap_or("?"))),
                Some(_) => cx.finding("global", id, Status::Pass, format!("valid until {}", exp.unwrap_or("?"))),
                None => cx.finding("global", id, Status::Unknown, "expiration not reported"),
            });
        }
    },
};

pub static ACCESS_ANALYZER: Check = Check {
    id: "accessanalyzer_enabled",
    title: "IAM Access Analyzer is active in every region",
    service: "accessanalyzer",
    resource_type: "AWS::AccessAnalyzer::Analyzer",
    severity: Severity::Low,
    rationale: "Access Analyzer reports buckets, keys, roles and queues shared outside the account or organisation; without it, a resource policy opened to the world goes unnoticed.",
    remediation: "Create an account (or organisation) analyzer in each region.",
    cli: &["aws accessanalyzer create-analyzer --analyzer-name default --type ACCOUNT --region <region>"],
    frameworks: &[
            ("cis-5.0", &["1.19"]),
            ("nist-800-53-r5", &["AC-3", "AC-6", "CA-7"]),
            ("nist-800-53-r4", &["AC-3", "AC-6", "CA-7"]),
            ("soc2", &["cc_6_1", "cc_7_1"]),
        ],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            match cx.doc(region, "accessanalyzer-list-analyzers") {
                Ok(d) => {
                    let active: Vec<&str> = d["analyzers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|a| a["status"] == "ACTIVE")
                        .filter_map(|a| a["name"].as_str())
                        .collect();
                    out.push(if active.is_empty() {
                        cx.finding(region, cx.account(), Status::Fail, "no active analyzer")
                    } else {
                        cx.finding(region, cx.account(), Status::Pass, format!("active analyzer(s): {}", active.join(", ")))
                    });
                }
                Err(e) => out.push(cx.unknown(region, e)),
            }
        }
    },
};

#[cfg(test)]
mod tests {
    use crate::snapshot::{Entry, Snapshot, GLOBAL};
    use crate::{evaluate, Status};
    use serde_json::json;

    fn snap(global: &[(&str, Entry)], regional: &[(&str, Entry)]) -> Snapshot {
        let mut s = Snapshot {
            account_id: Some("111122223333".into()),
            ..Snapshot::default()
        };
        let g = s.regions.entry(GLOBAL.into()).or_default();
        for (k, e) in global {
            g.insert(k.to_string(), e.clone());
        }
        let r = s.regions.entry("eu-west-1".into()).or_default();
        for (k, e) in regional {
            r.insert(k.to_string(), e.clone());
        }
        s
    }

    fn ok(v: serde_json::Value) -> Entry {
        Entry::Ok { data: v }
    }

    fn verdicts(s: &Snapshot, check: &str, now: i64) -> Vec<(String, Status)> {
        evaluate(s, now)
            .into_iter()
            .filter(|f| f.check == check)
            .map(|f| (f.resource, f.status))
            .collect()
    }

    #[test]
    fn users_with_their_own_policies_fail() {
        let s = snap(
            &[(
                "iam-get-account-authorization-details",
                ok(json!({"UserDetailList": [
                    {"UserName": "alice", "Arn": "arn:u/alice", "GroupList": ["dev"], "UserPolicyList": [], "AttachedManagedPolicies": []},
                    {"UserName": "svc", "Arn": "arn:u/svc", "UserPolicyList": [{"PolicyName": "maint"}], "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]},
                ]})),
            )],
            &[],
        );
        assert_eq!(
            verdicts(&s, "iam_user_permissions_through_groups", 0),
            [
                ("arn:u/alice".into(), Status::Pass),
                ("arn:u/svc".into(), Status::Fail)
            ]
        );
        assert_eq!(
            verdicts(&snap(&[], &[]), "iam_user_permissions_through_groups", 0)[0].1,
            Status::Unknown
        );
    }

    #[test]
    fn expired_certificates_fail_as_of_the_evaluation_time() {
        let s = snap(
            &[(
                "iam-list-server-certificates",
                ok(json!({"ServerCertificateMetadataList": [
                    {"ServerCertificateName": "old", "Arn": "arn:cert/old", "Expiration": "2024-01-01T00:00:00Z"},
                    {"ServerCertificateName": "new", "Arn": "arn:cert/new", "Expiration": "2030-01-01T00:00:00Z"},
                ]})),
            )],
            &[],
        );
        let now = 1_763_640_000; // 2025-11-20
        assert_eq!(
            verdicts(&s, "iam_no_expired_server_certificates", now),
            [
                ("arn:cert/old".into(), Status::Fail),
                ("arn:cert/new".into(), Status::Pass)
            ]
        );
        // Before the old one expired, both pass.
        assert!(
            verdicts(&s, "iam_no_expired_server_certificates", 1_600_000_000)
                .iter()
                .all(|(_, st)| *st == Status::Pass)
        );
        let none = snap(
            &[(
                "iam-list-server-certificates",
                ok(json!({"ServerCertificateMetadataList": []})),
            )],
            &[],
        );
        assert_eq!(
            verdicts(&none, "iam_no_expired_server_certificates", now),
            [("111122223333".into(), Status::Pass)]
        );
    }

    #[test]
    fn access_analyzer_per_region() {
        let on = snap(
            &[],
            &[(
                "accessanalyzer-list-analyzers",
                ok(
                    json!({"analyzers": [{"name": "default", "status": "ACTIVE", "type": "ACCOUNT"}]}),
                ),
            )],
        );
        let off = snap(
            &[],
            &[(
                "accessanalyzer-list-analyzers",
                ok(json!({"analyzers": [{"name": "x", "status": "DISABLED", "type": "ACCOUNT"}]})),
            )],
        );
        // moto does not implement Access Analyzer: the collection error makes it unknown.
        let err = snap(
            &[],
            &[(
                "accessanalyzer-list-analyzers",
                Entry::Error {
                    message: "HTTP 500".into(),
                },
            )],
        );
        let st = |s: &Snapshot| -> Vec<Status> {
            verdicts(s, "accessanalyzer_enabled", 0)
                .into_iter()
                .filter(|(_, _)| true)
                .map(|(_, st)| st)
                .collect()
        };
        assert_eq!(st(&on), [Status::Pass]);
        assert_eq!(st(&off), [Status::Fail]);
        assert_eq!(st(&err), [Status::Unknown]);
    }
}
