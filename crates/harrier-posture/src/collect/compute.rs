//! EC2 instances, RDS, EFS and IAM Access Analyzer, per region (CIS 1.17, 1.19, 2.2, 2.3, 5.7).

use aws_config::SdkConfig;
use serde_json::{json, Value};

use super::{entry, Sink};

/// Everything this module reads in one region.
pub(crate) async fn collect(cfg: &SdkConfig, sink: &Sink, region: &str) {
    tokio::join!(
        instances(cfg, sink, region),
        rds(cfg, sink, region),
        efs(cfg, sink, region),
        access_analyzer(cfg, sink, region),
    );
}

async fn instances(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    let r: Result<Vec<_>, _> = ec2
        .describe_instances()
        .into_paginator()
        .send()
        .collect()
        .await;
    // The AWS CLI's shape: reservations holding instances.
    sink.put(
        region,
        "ec2-describe-instances",
        entry(r, |pages| {
            let reservations: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.reservations())
                .map(|r| {
                    json!({"Instances": r.instances().iter().map(|i| json!({
                "InstanceId": i.instance_id(),
                "State": {"Name": i.state().and_then(|s| s.name()).map(|n| n.as_str())},
                "MetadataOptions": i.metadata_options().map(|m| json!({
                    "HttpTokens": m.http_tokens().map(|t| t.as_str()),
                    "HttpEndpoint": m.http_endpoint().map(|t| t.as_str()),
                })),
                "IamInstanceProfile": i.iam_instance_profile().map(|p| json!({"Arn": p.arn()})),
            })).collect::<Vec<_>>()})
                })
                .collect();
            json!({"Reservations": reservations})
        }),
    );
}

async fn rds(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let rds = aws_sdk_rds::Client::new(cfg);
    let r: Result<Vec<_>, _> = rds
        .describe_db_instances()
        .into_paginator()
        .send()
        .collect()
        .await;
    sink.put(
        region,
        "rds-describe-db-instances",
        entry(r, |pages| {
            let list: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.db_instances())
                .map(|d| {
                    json!({
                        "DBInstanceIdentifier": d.db_instance_identifier(),
                        "DBInstanceArn": d.db_instance_arn(),
                        "Engine": d.engine(),
                        "StorageEncrypted": d.storage_encrypted(),
                        "PubliclyAccessible": d.publicly_accessible(),
                        "AutoMinorVersionUpgrade": d.auto_minor_version_upgrade(),
                    })
                })
                .collect();
            json!({"DBInstances": list})
        }),
    );
}

async fn efs(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let efs = aws_sdk_efs::Client::new(cfg);
    let r: Result<Vec<_>, _> = efs
        .describe_file_systems()
        .into_paginator()
        .send()
        .collect()
        .await;
    sink.put(
        region,
        "efs-describe-file-systems",
        entry(r, |pages| {
            let list: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.file_systems())
                .map(|f| {
                    json!({
                        "FileSystemId": f.file_system_id(),
                        "FileSystemArn": f.file_system_arn(),
                        "Encrypted": f.encrypted(),
                        "KmsKeyId": f.kms_key_id(),
                    })
                })
                .collect();
            json!({"FileSystems": list})
        }),
    );
}

async fn access_analyzer(cfg: &SdkConfig, sink: &Sink, region: &str) {
    // Few retries: an endpoint without Access Analyzer (moto) answers 500, which the standard
    // policy would retry for seconds; one retry still rides out a real transient error.
    let aa = aws_sdk_accessanalyzer::Client::from_conf(
        aws_sdk_accessanalyzer::config::Builder::from(cfg)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
            .build(),
    );
    let r: Result<Vec<_>, _> = aa.list_analyzers().into_paginator().send().collect().await;
    sink.put(
        region,
        "accessanalyzer-list-analyzers",
        entry(r, |pages| {
            let list: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.analyzers())
                .map(|a| {
                    json!({
                        "name": a.name(),
                        "arn": a.arn(),
                        "type": a.r#type().as_str(),
                        "status": a.status().as_str(),
                    })
                })
                .collect();
            json!({"analyzers": list})
        }),
    );
}
