//! EC2 instances, RDS and EFS: metadata service, instance roles, encryption at rest, exposure.

use serde_json::Value;

use crate::check::{Check, Ctx, Finding, Severity, Status};

/// Runs `judge` on every item at `path` (a list, or a list of lists) of `key`, per region;
/// unknown where the document is missing. `judge` returns the resource id and verdict, or `None`
/// to skip the item.
fn each_item(
    cx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    key: &str,
    path: &[&str],
    judge: &dyn Fn(&Value) -> Option<Verdict>,
) {
    fn walk<'v>(v: &'v Value, path: &[&str], f: &mut dyn FnMut(&'v Value)) {
        match path.split_first() {
            None => f(v),
            Some((head, rest)) => {
                for item in v[*head].as_array().into_iter().flatten() {
                    walk(item, rest, f);
                }
            }
        }
    }
    for region in cx.snap.regions() {
        match cx.doc(region, key) {
            Ok(d) => walk(d, path, &mut |item| {
                if let Some((id, status, why)) = judge(item) {
                    out.push(cx.finding(region, id, status, why));
                }
            }),
            Err(e) => out.push(cx.unknown(region, e)),
        }
    }
}

/// A resource id, its status and why.
type Verdict = (String, Status, String);

const INSTANCES: &[&str] = &["Reservations", "Instances"];

fn live_instance(i: &Value) -> bool {
    !matches!(
        i["State"]["Name"].as_str(),
        Some("terminated" | "shutting-down")
    )
}

pub static IMDSV2: Check = Check {
    id: "ec2_instance_imdsv2_required",
    title: "EC2 instances accept only IMDSv2",
    service: "ec2",
    resource_type: "AWS::EC2::Instance",
    severity: Severity::High,
    rationale: "IMDSv1 answers any GET: an SSRF in an application on the instance hands its role credentials to an attacker. IMDSv2 requires a session token obtained with a PUT.",
    remediation: "Require session tokens on the instance metadata service (and set it as the account default for new instances).",
    cli: &[
        "aws ec2 modify-instance-metadata-options --instance-id <id> --http-tokens required --http-endpoint enabled",
        "aws ec2 modify-instance-metadata-defaults --region <region> --http-tokens required",
    ],
    frameworks: &[
            ("cis-5.0", &["5.7"]),
            ("pci-4.0", &["2.2.1"]),
            ("nist-800-53-r5", &["AC-3", "CM-6", "SC-7"]),
            ("nist-800-53-r4", &["AC-3", "CM-6", "SC-7"]),
            ("soc2", &["cc_6_1"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "ec2-describe-instances", INSTANCES, &|i| {
            if !live_instance(i) {
                return None;
            }
            let id = i["InstanceId"].as_str().unwrap_or("?").to_string();
            let m = &i["MetadataOptions"];
            Some(match (m["HttpEndpoint"].as_str(), m["HttpTokens"].as_str()) {
                (Some("disabled"), _) => (id, Status::Pass, "metadata service disabled".into()),
                (_, Some("required")) => (id, Status::Pass, "IMDSv2 required".into()),
                (_, Some(t)) => (id, Status::Fail, format!("IMDSv1 allowed (HttpTokens={t})")),
                (_, None) => (id, Status::Unknown, "metadata options not reported".into()),
            })
        })
    },
};

pub static INSTANCE_PROFILE: Check = Check {
    id: "ec2_instance_uses_role",
    title: "EC2 instances reach AWS through an instance role",
    service: "ec2",
    resource_type: "AWS::EC2::Instance",
    severity: Severity::Low,
    rationale: "An instance without a role that calls AWS does so with long-lived access keys stored on its disk, where they leak; a role gives short-lived, rotated credentials.",
    remediation: "Attach an instance profile with the permissions the workload needs and remove keys from the instance.",
    cli: &["aws ec2 associate-iam-instance-profile --instance-id <id> --iam-instance-profile Name=<profile>"],
    frameworks: &[
            ("cis-5.0", &["1.17"]),
            ("nist-800-53-r5", &["AC-2", "IA-5"]),
            ("nist-800-53-r4", &["AC-2", "IA-5"]),
            ("soc2", &["cc_6_1"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "ec2-describe-instances", INSTANCES, &|i| {
            if !live_instance(i) {
                return None;
            }
            let id = i["InstanceId"].as_str().unwrap_or("?").to_string();
            Some(match i["IamInstanceProfile"]["Arn"].as_str() {
                Some(arn) => (id, Status::Pass, format!("instance profile {arn}")),
                None => (id, Status::Fail, "no instance profile".into()),
            })
        })
    },
};

fn rds_id(d: &Value) -> String {
    d["DBInstanceArn"]
        .as_str()
        .or(d["DBInstanceIdentifier"].as_str())
        .unwrap_or("?")
        .to_string()
}

pub static RDS_ENCRYPTED: Check = Check {
    id: "rds_instance_storage_encrypted",
    title: "RDS instances are encrypted at rest",
    service: "rds",
    resource_type: "AWS::RDS::DBInstance",
    severity: Severity::High,
    rationale: "Unencrypted database storage, snapshots and replicas expose their data to anyone who gets a copy; encryption cannot be turned on in place later.",
    remediation: "Encrypt a snapshot copy with a KMS key and restore the instance from it, then switch clients over.",
    cli: &[
        "aws rds create-db-snapshot --db-instance-identifier <db> --db-snapshot-identifier <db>-plain",
        "aws rds copy-db-snapshot --source-db-snapshot-identifier <db>-plain --target-db-snapshot-identifier <db>-enc --kms-key-id <key>",
        "aws rds restore-db-instance-from-db-snapshot --db-instance-identifier <db>-enc --db-snapshot-identifier <db>-enc",
    ],
    frameworks: &[
            ("cis-5.0", &["2.2.1"]),
            ("pci-4.0", &["3.5.1"]),
            ("nist-800-53-r5", &["SC-28", "SC-13"]),
            ("nist-800-53-r4", &["SC-28", "SC-13"]),
            ("soc2", &["cc_6_1", "cc_6_7"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "rds-describe-db-instances", &["DBInstances"], &|d| {
            Some(match d["StorageEncrypted"].as_bool() {
                Some(true) => (rds_id(d), Status::Pass, "storage encrypted".into()),
                Some(false) => (rds_id(d), Status::Fail, "storage not encrypted".into()),
                None => (rds_id(d), Status::Unknown, "encryption not reported".into()),
            })
        })
    },
};

pub static RDS_MINOR_UPGRADE: Check = Check {
    id: "rds_instance_auto_minor_upgrade",
    title: "RDS instances take minor engine upgrades automatically",
    service: "rds",
    resource_type: "AWS::RDS::DBInstance",
    severity: Severity::Low,
    rationale: "Minor versions carry security fixes; without automatic upgrades they wait for someone to remember.",
    remediation: "Turn on auto minor version upgrade (applied in the maintenance window).",
    cli: &["aws rds modify-db-instance --db-instance-identifier <db> --auto-minor-version-upgrade --apply-immediately"],
    frameworks: &[
            ("cis-5.0", &["2.2.2"]),
            ("pci-4.0", &["6.3.3"]),
            ("nist-800-53-r5", &["SI-2"]),
            ("nist-800-53-r4", &["SI-2"]),
            ("soc2", &["cc_7_1"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "rds-describe-db-instances", &["DBInstances"], &|d| {
            Some(match d["AutoMinorVersionUpgrade"].as_bool() {
                Some(true) => (rds_id(d), Status::Pass, "auto minor version upgrade on".into()),
                Some(false) => (rds_id(d), Status::Fail, "auto minor version upgrade off".into()),
                None => (rds_id(d), Status::Unknown, "upgrade setting not reported".into()),
            })
        })
    },
};

pub static RDS_NOT_PUBLIC: Check = Check {
    id: "rds_instance_not_public",
    title: "RDS instances are not publicly accessible",
    service: "rds",
    resource_type: "AWS::RDS::DBInstance",
    severity: Severity::Critical,
    rationale: "A publicly accessible instance gets a public DNS name and address: one security-group mistake away from the internet's password guessers.",
    remediation: "Turn public accessibility off and reach the database from inside the VPC.",
    cli: &["aws rds modify-db-instance --db-instance-identifier <db> --no-publicly-accessible --apply-immediately"],
    frameworks: &[
            ("cis-5.0", &["2.2.3"]),
            ("pci-4.0", &["1.3.1", "1.4.4"]),
            ("nist-800-53-r5", &["AC-3", "AC-4", "SC-7"]),
            ("nist-800-53-r4", &["AC-3", "AC-4", "SC-7"]),
            ("soc2", &["cc_6_1", "cc_6_6"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "rds-describe-db-instances", &["DBInstances"], &|d| {
            Some(match d["PubliclyAccessible"].as_bool() {
                Some(false) => (rds_id(d), Status::Pass, "not publicly accessible".into()),
                Some(true) => (rds_id(d), Status::Fail, "publicly accessible".into()),
                None => (rds_id(d), Status::Unknown, "accessibility not reported".into()),
            })
        })
    },
};

pub static EFS_ENCRYPTED: Check = Check {
    id: "efs_encrypted",
    title: "EFS file systems are encrypted at rest",
    service: "efs",
    resource_type: "AWS::EFS::FileSystem",
    severity: Severity::Medium,
    rationale: "Unencrypted file systems and their backups expose data to anyone with access to the underlying storage or a copy; encryption is set at creation only.",
    remediation: "Create an encrypted file system, copy the data (AWS DataSync), and delete the old one.",
    cli: &["aws efs create-file-system --encrypted --kms-key-id <key> --creation-token <token>"],
    frameworks: &[
            ("cis-5.0", &["2.3.1"]),
            ("pci-4.0", &["3.5.1"]),
            ("nist-800-53-r5", &["SC-28", "SC-13"]),
            ("nist-800-53-r4", &["SC-28", "SC-13"]),
            ("soc2", &["cc_6_1", "cc_6_7"]),
        ],
    eval: |cx, out| {
        each_item(cx, out, "efs-describe-file-systems", &["FileSystems"], &|f| {
            let id = f["FileSystemArn"]
                .as_str()
                .or(f["FileSystemId"].as_str())
                .unwrap_or("?")
                .to_string();
            Some(match f["Encrypted"].as_bool() {
                Some(true) => (id, Status::Pass, "encrypted".into()),
                Some(false) => (id, Status::Fail, "not encrypted".into()),
                None => (id, Status::Unknown, "encryption not reported".into()),
            })
        })
    },
};

#[cfg(test)]
mod tests {
    use crate::checks::ALL;
    use crate::snapshot::{Entry, Snapshot};
    use crate::{evaluate, Status};
    use serde_json::json;

    fn snap(docs: &[(&str, Entry)]) -> Snapshot {
        let mut s = Snapshot {
            account_id: Some("111122223333".into()),
            ..Snapshot::default()
        };
        let r = s.regions.entry("eu-west-1".into()).or_default();
        for (k, e) in docs {
            r.insert(k.to_string(), e.clone());
        }
        s
    }

    fn ok(v: serde_json::Value) -> Entry {
        Entry::Ok { data: v }
    }

    fn verdicts(s: &Snapshot, check: &str) -> Vec<(String, Status)> {
        assert!(ALL.iter().any(|c| c.id == check));
        evaluate(s, 0)
            .into_iter()
            .filter(|f| f.check == check)
            .map(|f| (f.resource, f.status))
            .collect()
    }

    #[test]
    fn imdsv2_and_instance_roles() {
        let s = snap(&[(
            "ec2-describe-instances",
            ok(json!({"Reservations": [
                {"Instances": [
                    {"InstanceId": "i-good", "State": {"Name": "running"}, "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"}, "IamInstanceProfile": {"Arn": "arn:aws:iam::111122223333:instance-profile/web"}},
                    {"InstanceId": "i-v1", "State": {"Name": "stopped"}, "MetadataOptions": {"HttpTokens": "optional", "HttpEndpoint": "enabled"}},
                ]},
                {"Instances": [{"InstanceId": "i-gone", "State": {"Name": "terminated"}, "MetadataOptions": {"HttpTokens": "optional"}}]},
            ]})),
        )]);
        assert_eq!(
            verdicts(&s, "ec2_instance_imdsv2_required"),
            [
                ("i-good".into(), Status::Pass),
                ("i-v1".into(), Status::Fail)
            ]
        );
        assert_eq!(
            verdicts(&s, "ec2_instance_uses_role"),
            [
                ("i-good".into(), Status::Pass),
                ("i-v1".into(), Status::Fail)
            ]
        );
        let denied = snap(&[(
            "ec2-describe-instances",
            Entry::AccessDenied {
                message: "no".into(),
            },
        )]);
        assert_eq!(
            verdicts(&denied, "ec2_instance_imdsv2_required")[0].1,
            Status::Unknown
        );
    }

    #[test]
    fn rds_encryption_exposure_and_upgrades() {
        let s = snap(&[(
            "rds-describe-db-instances",
            ok(json!({"DBInstances": [
                {"DBInstanceArn": "arn:db:good", "StorageEncrypted": true, "PubliclyAccessible": false, "AutoMinorVersionUpgrade": true},
                {"DBInstanceArn": "arn:db:bad", "StorageEncrypted": false, "PubliclyAccessible": true, "AutoMinorVersionUpgrade": false},
            ]})),
        )]);
        for check in [
            "rds_instance_storage_encrypted",
            "rds_instance_not_public",
            "rds_instance_auto_minor_upgrade",
        ] {
            assert_eq!(
                verdicts(&s, check),
                [
                    ("arn:db:good".into(), Status::Pass),
                    ("arn:db:bad".into(), Status::Fail)
                ],
                "{check}"
            );
        }
        let failed = snap(&[(
            "rds-describe-db-instances",
            Entry::Error {
                message: "timeout".into(),
            },
        )]);
        assert_eq!(
            verdicts(&failed, "rds_instance_not_public")[0].1,
            Status::Unknown
        );
    }

    #[test]
    fn efs_encryption() {
        let s = snap(&[(
            "efs-describe-file-systems",
            ok(json!({"FileSystems": [
                {"FileSystemArn": "arn:fs:enc", "Encrypted": true},
                {"FileSystemArn": "arn:fs:plain", "Encrypted": false},
            ]})),
        )]);
        assert_eq!(
            verdicts(&s, "efs_encrypted"),
            [
                ("arn:fs:enc".into(), Status::Pass),
                ("arn:fs:plain".into(), Status::Fail)
            ]
        );
        assert_eq!(verdicts(&snap(&[]), "efs_encrypted")[0].1, Status::Unknown);
    }
}
