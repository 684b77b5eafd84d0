//! Targeted re-reads: the documents of one [`Area`] of the account (one service's calls in one
//! region, or IAM / S3 for the account) read again, to replace those of a snapshot, so a change
//! is re-checked with a few calls instead of a whole scan.

use std::collections::BTreeMap;

use super::{global, regional, sdk_config, CollectError, CollectOptions, Sink};
use crate::snapshot::{Entry, Snapshot, GLOBAL};

/// A part of the account read by one group of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// IAM (global).
    Iam,
    /// S3 buckets and the account's public access block (global).
    S3,
    /// Security groups, network ACLs, VPC flow logs, EBS default encryption.
    Ec2,
    /// Instances, RDS, EFS, IAM Access Analyzer.
    Compute,
    /// Trails and their logging.
    CloudTrail,
    /// KMS keys and rotation.
    Kms,
    /// Config, GuardDuty, Security Hub.
    Services,
    /// ECR repositories and scanning.
    Ecr,
    /// EKS clusters.
    Eks,
    /// ECS clusters and task definitions.
    Ecs,
    /// CloudWatch Logs metric filters and alarms.
    Monitoring,
}

/// Call names that only read (never re-checked for).
const READS: &[&str] = &[
    "Describe",
    "List",
    "Get",
    "Head",
    "Lookup",
    "BatchGet",
    "Search",
    "Select",
    "Scan",
    "Query",
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "Simulate",
    "Test",
    "Validate",
    "Estimate",
    "AssumeRole",
    "FilterLogEvents",
    "StartQuery",
    "Check",
    "Preview",
    // Calls that change no configuration a check reads (a re-read of IAM itself calls
    // GenerateCredentialReport: it must not schedule another).
    "GenerateCredentialReport",
    "GenerateServiceLastAccessedDetails",
    "Sign",
    "Verify",
    "ReEncrypt",
    "GenerateRandom",
    "GenerateMac",
];

impl Area {
    /// Every area.
    pub const ALL: &'static [Area] = &[
        Area::Iam,
        Area::S3,
        Area::Ec2,
        Area::Compute,
        Area::CloudTrail,
        Area::Kms,
        Area::Services,
        Area::Ecr,
        Area::Eks,
        Area::Ecs,
        Area::Monitoring,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Area::Iam => "iam",
            Area::S3 => "s3",
            Area::Ec2 => "ec2",
            Area::Compute => "compute",
            Area::CloudTrail => "cloudtrail",
            Area::Kms => "kms",
            Area::Services => "services",
            Area::Ecr => "ecr",
            Area::Eks => "eks",
            Area::Ecs => "ecs",
            Area::Monitoring => "monitoring",
        }
    }

    /// Whether its documents are the account's (`global`) rather than a region's.
    pub fn is_global(self) -> bool {
        matches!(self, Area::Iam | Area::S3)
    }

    /// The call keys (before any `/resource`) its re-read writes: a snapshot's keys of these
    /// families are replaced by the re-read's.
    pub fn families(self) -> &'static [&'static str] {
        match self {
            Area::Iam => &["iam-"],
            Area::S3 => &["s3-", "s3control-"],
            Area::Ec2 => &[
                "ec2-describe-security-groups",
                "ec2-describe-vpcs",
                "ec2-describe-flow-logs",
                "ec2-get-ebs-encryption-by-default",
                "ec2-describe-network-acls",
            ],
            Area::Compute => &["ec2-describe-instances", "efs-", "rds-", "accessanalyzer-"],
            Area::CloudTrail => &["cloudtrail-"],
            Area::Kms => &["kms-"],
            Area::Services => &["config-", "guardduty-", "securityhub-"],
            Area::Ecr => &["ecr-"],
            Area::Eks => &["eks-"],
            Area::Ecs => &["ecs-"],
            Area::Monitoring => &["logs-", "cloudwatch-"],
        }
    }

    /// Whether `key` is one of this area's documents.
    pub fn owns(self, key: &str) -> bool {
        let family = key.split('/').next().unwrap_or(key);
        self.families().iter().any(|f| family.starts_with(f))
    }

    /// Whether checks of `service` (a [`crate::Check`]'s) read this area's documents.
    pub fn judges(self, service: &str) -> bool {
        match self {
            Area::Iam => service == "iam",
            Area::S3 => service == "s3",
            Area::Ec2 => service == "ec2",
            Area::Compute => matches!(service, "ec2" | "rds" | "efs" | "accessanalyzer"),
            Area::CloudTrail => service == "cloudtrail",
            Area::Kms => service == "kms",
            Area::Services => matches!(service, "config" | "guardduty" | "securityhub"),
            Area::Ecr => service == "ecr",
            Area::Eks => service == "eks",
            Area::Ecs => service == "ecs",
            Area::Monitoring => service == "cloudwatch",
        }
    }

    /// Whether a call of this name only reads.
    pub fn is_read(event_name: &str) -> bool {
        READS.iter().any(|r| event_name.starts_with(r))
    }

    /// The area a successful CloudTrail call changes, or `None` for a read or a call no check
    /// judges (`PutObject` is data, not configuration).
    pub fn of_call(event_source: &str, event_name: &str) -> Option<Area> {
        if Area::is_read(event_name) {
            return None;
        }
        let service = event_source.strip_suffix(".amazonaws.com")?;
        Some(match service {
            "iam" => Area::Iam,
            "s3" if event_name.contains("Bucket") || event_name.contains("PublicAccessBlock") => {
                Area::S3
            }
            "s3" => return None,
            "ec2" if event_name.contains("Instance") => Area::Compute,
            "ec2"
                if [
                    "SecurityGroup",
                    "NetworkAcl",
                    "Vpc",
                    "FlowLogs",
                    "EbsEncryption",
                ]
                .iter()
                .any(|w| event_name.contains(w)) =>
            {
                Area::Ec2
            }
            "rds" | "elasticfilesystem" | "access-analyzer" => Area::Compute,
            "cloudtrail" => Area::CloudTrail,
            "kms" => Area::Kms,
            "config" | "guardduty" | "securityhub" => Area::Services,
            "ecr" if event_name != "PutImage" && !event_name.starts_with("UploadLayerPart") => {
                Area::Ecr
            }
            "eks" => Area::Eks,
            "ecs" if event_name.contains("TaskDefinition") || event_name.contains("Cluster") => {
                Area::Ecs
            }
            "logs" if event_name.contains("MetricFilter") => Area::Monitoring,
            "monitoring" if event_name.contains("Alarm") => Area::Monitoring,
            _ => return None,
        })
    }
}

/// The documents of `areas` (each with its region; global areas ignore it), read now.
pub fn recollect(
    opts: &CollectOptions,
    account: &str,
    areas: &[(Area, String)],
) -> Result<BTreeMap<String, BTreeMap<String, Entry>>, CollectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let sink = Sink::default();
        let home = opts
            .home_region
            .clone()
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = opts.endpoint_url.is_some();
        for (area, region) in areas {
            let cfg = sdk_config(opts, if area.is_global() { &home } else { region }).await;
            match area {
                Area::Iam => global::iam(&cfg, &sink).await,
                Area::S3 => global::s3(&cfg, &sink, account, endpoint).await,
                Area::Ec2 => regional::ec2(&cfg, &sink, region).await,
                Area::Compute => super::compute::collect(&cfg, &sink, region).await,
                Area::CloudTrail => regional::cloudtrail(&cfg, &sink, region).await,
                Area::Kms => regional::kms(&cfg, &sink, region).await,
                Area::Services => regional::services(&cfg, &sink, region).await,
                Area::Ecr => regional::ecr(&cfg, &sink, region).await,
                Area::Eks => regional::eks(&cfg, &sink, region).await,
                Area::Ecs => regional::ecs(&cfg, &sink, region).await,
                Area::Monitoring => regional::monitoring(&cfg, &sink, region).await,
            }
        }
        let docs = sink.docs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(docs)
    })
}

impl Snapshot {
    /// Replaces the documents of `area` (in `region`, or the account's for a global area) by
    /// `fresh`'s.
    pub fn replace_area(
        &mut self,
        area: Area,
        region: &str,
        fresh: &BTreeMap<String, BTreeMap<String, Entry>>,
    ) {
        let r = if area.is_global() { GLOBAL } else { region };
        let docs = self.regions.entry(r.to_string()).or_default();
        docs.retain(|k, _| !area.owns(k));
        if let Some(new) = fresh.get(r) {
            for (k, e) in new.iter().filter(|(k, _)| area.owns(k)) {
                docs.insert(k.clone(), e.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_map_to_the_area_whose_checks_judge_them() {
        for (src, name, area) in [
            (
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                Some(Area::Ec2),
            ),
            (
                "ec2.amazonaws.com",
                "ModifyInstanceMetadataOptions",
                Some(Area::Compute),
            ),
            ("s3.amazonaws.com", "PutBucketAcl", Some(Area::S3)),
            (
                "s3.amazonaws.com",
                "DeletePublicAccessBlock",
                Some(Area::S3),
            ),
            ("iam.amazonaws.com", "PutUserPolicy", Some(Area::Iam)),
            (
                "cloudtrail.amazonaws.com",
                "StopLogging",
                Some(Area::CloudTrail),
            ),
            (
                "ecr.amazonaws.com",
                "PutImageTagMutability",
                Some(Area::Ecr),
            ),
            (
                "guardduty.amazonaws.com",
                "DeleteDetector",
                Some(Area::Services),
            ),
            // Near misses: reads, data, and pushes are not configuration changes.
            ("ec2.amazonaws.com", "DescribeSecurityGroups", None),
            ("s3.amazonaws.com", "PutObject", None),
            ("ecr.amazonaws.com", "PutImage", None),
            ("iam.amazonaws.com", "GetUser", None),
            ("sts.amazonaws.com", "AssumeRole", None),
            ("iam.amazonaws.com", "GenerateCredentialReport", None),
            ("kms.amazonaws.com", "Sign", None),
        ] {
            assert_eq!(Area::of_call(src, name), area, "{src} {name}");
        }
    }

    #[test]
    fn a_reread_replaces_only_its_area() {
        let ok = |v: i64| Entry::Ok {
            data: serde_json::json!(v),
        };
        let mut s = Snapshot::default();
        let r = s.regions.entry("eu-west-1".into()).or_default();
        r.insert("ec2-describe-security-groups".into(), ok(1));
        r.insert("ec2-describe-instances".into(), ok(1));
        let g = s.regions.entry(GLOBAL.into()).or_default();
        g.insert("s3-get-bucket-acl/gone".into(), ok(1));
        g.insert("iam-get-account-summary".into(), ok(1));
        let mut fresh: BTreeMap<String, BTreeMap<String, Entry>> = BTreeMap::new();
        fresh
            .entry("eu-west-1".into())
            .or_default()
            .insert("ec2-describe-security-groups".into(), ok(2));
        fresh
            .entry(GLOBAL.into())
            .or_default()
            .insert("s3-list-buckets".into(), ok(2));
        s.replace_area(Area::Ec2, "eu-west-1", &fresh);
        s.replace_area(Area::S3, "eu-west-1", &fresh);
        let r = &s.regions["eu-west-1"];
        assert_eq!(r["ec2-describe-security-groups"], ok(2));
        assert_eq!(r["ec2-describe-instances"], ok(1), "compute's, untouched");
        let g = &s.regions[GLOBAL];
        assert!(
            !g.contains_key("s3-get-bucket-acl/gone"),
            "a deleted bucket's documents go"
        );
        assert_eq!(g["s3-list-buckets"], ok(2));
        assert_eq!(g["iam-get-account-summary"], ok(1));
    }
}
