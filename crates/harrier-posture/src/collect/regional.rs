//! Regional services, all read concurrently within a region: EC2/VPC, CloudTrail, KMS, Config,
//! GuardDuty, Security Hub, ECR, EKS.

use aws_config::SdkConfig;
use serde_json::{json, Value};

use super::json::{strings, time};
use super::{classify, entry, CollectError, Sink};

/// Per-resource calls (one per KMS key) in flight at once in a region.
const PER_RESOURCE_CONCURRENCY: usize = 16;
use crate::snapshot::Entry;

/// The regions enabled for the account.
pub(crate) async fn enabled_regions(cfg: &SdkConfig) -> Result<Vec<String>, CollectError> {
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    match ec2.describe_regions().send().await {
        Ok(o) => Ok(o
            .regions()
            .iter()
            .filter_map(|r| r.region_name().map(String::from))
            .collect()),
        Err(e) => Err(CollectError::Regions(format!(
            "ec2:DescribeRegions failed ({:?}); pass --regions",
            classify(&e)
        ))),
    }
}

/// Everything Harrier reads in one region.
pub(crate) async fn collect(cfg: &SdkConfig, sink: &Sink, region: &str) {
    tokio::join!(
        ec2(cfg, sink, region),
        cloudtrail(cfg, sink, region),
        kms(cfg, sink, region),
        services(cfg, sink, region),
        ecr(cfg, sink, region),
        eks(cfg, sink, region),
        monitoring(cfg, sink, region),
        ecs(cfg, sink, region),
        super::compute::collect(cfg, sink, region),
    );
}

/// CloudWatch Logs metric filters and CloudWatch alarms (CIS monitoring).
pub(crate) async fn monitoring(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(cfg);
    let cw = aws_sdk_cloudwatch::Client::new(cfg);
    let (filters, alarms) = tokio::join!(
        logs.describe_metric_filters()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>(),
        cw.describe_alarms()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>(),
    );
    sink.put(
        region,
        "logs-describe-metric-filters",
        entry(filters, |pages| {
            let f: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.metric_filters())
                .map(|f| {
                    json!({
                        "filterName": f.filter_name(), "filterPattern": f.filter_pattern(),
                        "logGroupName": f.log_group_name(),
                        "metricTransformations": f.metric_transformations().iter().map(|m| json!({
                            "metricName": m.metric_name(), "metricNamespace": m.metric_namespace(),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({"metricFilters": f})
        }),
    );
    sink.put(
        region,
        "cloudwatch-describe-alarms",
        entry(alarms, |pages| {
            let a: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.metric_alarms())
                .map(|a| {
                    json!({
                        "AlarmName": a.alarm_name(), "MetricName": a.metric_name(),
                        "Namespace": a.namespace(), "ActionsEnabled": a.actions_enabled(),
                        "AlarmActions": strings(a.alarm_actions()),
                    })
                })
                .collect();
            json!({"MetricAlarms": a})
        }),
    );
}

/// ECS clusters, their services, and the latest active revision of each task definition family.
pub(crate) async fn ecs(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let ecs = aws_sdk_ecs::Client::new(cfg);
    let clusters = ecs
        .list_clusters()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    let arns: Vec<String> = match &clusters {
        Ok(pages) => pages
            .iter()
            .flat_map(|p| p.cluster_arns())
            .cloned()
            .collect(),
        Err(_) => vec![],
    };
    sink.put(
        region,
        "ecs-list-clusters",
        entry(clusters, |pages| {
            let a: Vec<&str> = pages
                .iter()
                .flat_map(|p| p.cluster_arns())
                .map(String::as_str)
                .collect();
            json!({"clusterArns": a})
        }),
    );
    for cluster in &arns {
        let services = ecs
            .list_services()
            .cluster(cluster)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await;
        let names: Vec<String> = match services {
            Ok(pages) => pages
                .iter()
                .flat_map(|p| p.service_arns())
                .cloned()
                .collect(),
            Err(e) => {
                sink.put(
                    region,
                    format!("ecs-describe-services/{cluster}"),
                    classify(&e),
                );
                continue;
            }
        };
        let mut described = Vec::new();
        let mut failed = None;
        for chunk in names.chunks(10) {
            match ecs
                .describe_services()
                .cluster(cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
            {
                Ok(o) => described.extend(o.services().iter().map(|s| {
                    json!({
                        "serviceArn": s.service_arn(), "serviceName": s.service_name(),
                        "enableExecuteCommand": s.enable_execute_command(),
                        "launchType": s.launch_type().map(|l| l.as_str()),
                    })
                })),
                Err(e) => failed = Some(classify(&e)),
            }
        }
        sink.put(
            region,
            format!("ecs-describe-services/{cluster}"),
            match failed {
                Some(e) => e,
                None => Entry::Ok {
                    data: json!({"services": described}),
                },
            },
        );
    }
    let defs = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    // Latest revision per family: older revisions are history, not what runs next.
    let mut latest: std::collections::BTreeMap<String, (u64, String)> = Default::default();
    if let Ok(pages) = &defs {
        for arn in pages.iter().flat_map(|p| p.task_definition_arns()) {
            let Some((family, rev)) = arn.rsplit_once(':') else {
                continue;
            };
            let rev: u64 = rev.parse().unwrap_or(0);
            let e = latest
                .entry(family.to_string())
                .or_insert((rev, arn.clone()));
            if rev >= e.0 {
                *e = (rev, arn.clone());
            }
        }
    }
    let chosen: Vec<String> = latest.into_values().map(|(_, a)| a).collect();
    sink.put(
        region,
        "ecs-list-task-definitions",
        entry(
            defs,
            |_| json!({"taskDefinitionArns": chosen, "note": "latest active revision per family"}),
        ),
    );
    for arn in &chosen {
        let r = ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await;
        sink.put(
            region,
            format!("ecs-describe-task-definition/{arn}"),
            entry(r, |o| {
                json!({"taskDefinition": o.task_definition().map(|t| json!({
                    "taskDefinitionArn": t.task_definition_arn(),
                    "containerDefinitions": t.container_definitions().iter().map(|c| json!({
                        "name": c.name(), "image": c.image(), "privileged": c.privileged(),
                    })).collect::<Vec<_>>(),
                }))})
            }),
        );
    }
}

fn permissions(list: &[aws_sdk_ec2::types::IpPermission]) -> Value {
    list.iter()
        .map(|p| {
            json!({
                "IpProtocol": p.ip_protocol(),
                "FromPort": p.from_port(),
                "ToPort": p.to_port(),
                "IpRanges": p.ip_ranges().iter().map(|r| json!({"CidrIp": r.cidr_ip()})).collect::<Vec<_>>(),
                "Ipv6Ranges": p.ipv6_ranges().iter().map(|r| json!({"CidrIpv6": r.cidr_ipv6()})).collect::<Vec<_>>(),
                "UserIdGroupPairs": p.user_id_group_pairs().iter().map(|g| json!({"GroupId": g.group_id()})).collect::<Vec<_>>(),
            })
        })
        .collect()
}

pub(crate) async fn ec2(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let ec2 = aws_sdk_ec2::Client::new(cfg);
    tokio::join!(
        async {
            let r: Result<Vec<_>, _> = ec2
                .describe_security_groups()
                .into_paginator()
                .send()
                .collect()
                .await;
            sink.put(
                region,
                "ec2-describe-security-groups",
                entry(r, |pages| {
                    let groups: Vec<Value> = pages
                    .iter()
                    .flat_map(|p| p.security_groups())
                    .map(|g| json!({
                        "GroupId": g.group_id(), "GroupName": g.group_name(), "VpcId": g.vpc_id(),
                        "IpPermissions": permissions(g.ip_permissions()),
                        "IpPermissionsEgress": permissions(g.ip_permissions_egress()),
                    }))
                    .collect();
                    json!({"SecurityGroups": groups})
                }),
            );
        },
        async {
            let r: Result<Vec<_>, _> = ec2.describe_vpcs().into_paginator().send().collect().await;
            sink.put(region, "ec2-describe-vpcs", entry(r, |pages| {
                let vpcs: Vec<Value> = pages
                    .iter()
                    .flat_map(|p| p.vpcs())
                    .map(|v| json!({"VpcId": v.vpc_id(), "IsDefault": v.is_default(), "CidrBlock": v.cidr_block()}))
                    .collect();
                json!({"Vpcs": vpcs})
            }));
        },
        async {
            let r: Result<Vec<_>, _> = ec2
                .describe_flow_logs()
                .into_paginator()
                .send()
                .collect()
                .await;
            sink.put(
                region,
                "ec2-describe-flow-logs",
                entry(r, |pages| {
                    let logs: Vec<Value> = pages
                        .iter()
                        .flat_map(|p| p.flow_logs())
                        .map(|f| {
                            json!({
                                "FlowLogId": f.flow_log_id(), "ResourceId": f.resource_id(),
                                "FlowLogStatus": f.flow_log_status(),
                                "TrafficType": f.traffic_type().map(|t| t.as_str()),
                            })
                        })
                        .collect();
                    json!({"FlowLogs": logs})
                }),
            );
        },
        async {
            let r = ec2.get_ebs_encryption_by_default().send().await;
            sink.put(
                region,
                "ec2-get-ebs-encryption-by-default",
                entry(
                    r,
                    |o| json!({"EbsEncryptionByDefault": o.ebs_encryption_by_default()}),
                ),
            );
        },
        async {
            let r: Result<Vec<_>, _> = ec2
                .describe_network_acls()
                .into_paginator()
                .send()
                .collect()
                .await;
            sink.put(region, "ec2-describe-network-acls", entry(r, |pages| {
                let acls: Vec<Value> = pages
                    .iter()
                    .flat_map(|p| p.network_acls())
                    .map(|a| json!({
                        "NetworkAclId": a.network_acl_id(), "VpcId": a.vpc_id(), "IsDefault": a.is_default(),
                        "Entries": a.entries().iter().map(|e| json!({
                            "RuleNumber": e.rule_number(), "Protocol": e.protocol(),
                            "RuleAction": e.rule_action().map(|r| r.as_str()), "Egress": e.egress(),
                            "CidrBlock": e.cidr_block(), "Ipv6CidrBlock": e.ipv6_cidr_block(),
                            "PortRange": e.port_range().map(|p| json!({"From": p.from(), "To": p.to()})),
                        })).collect::<Vec<_>>(),
                    }))
                    .collect();
                json!({"NetworkAcls": acls})
            }));
        },
    );
}

pub(crate) async fn cloudtrail(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let ct = aws_sdk_cloudtrail::Client::new(cfg);
    let r = ct
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await;
    // Status and selectors are read in the trail's home region only.
    let own: Vec<(String, String)> = match &r {
        Ok(o) => o
            .trail_list()
            .iter()
            .filter(|t| t.home_region() == Some(region))
            .filter_map(|t| Some((t.name()?.to_string(), t.trail_arn()?.to_string())))
            .collect(),
        Err(_) => vec![],
    };
    sink.put(
        region,
        "cloudtrail-describe-trails",
        entry(r, |o| {
            let trails: Vec<Value> = o
                .trail_list()
                .iter()
                .map(|t| {
                    json!({
                        "Name": t.name(), "TrailARN": t.trail_arn(), "HomeRegion": t.home_region(),
                        "IsMultiRegionTrail": t.is_multi_region_trail(),
                        "IsOrganizationTrail": t.is_organization_trail(),
                        "IncludeGlobalServiceEvents": t.include_global_service_events(),
                        "LogFileValidationEnabled": t.log_file_validation_enabled(),
                        "KmsKeyId": t.kms_key_id(), "S3BucketName": t.s3_bucket_name(),
                        "CloudWatchLogsLogGroupArn": t.cloud_watch_logs_log_group_arn(),
                    })
                })
                .collect();
            json!({"trailList": trails})
        }),
    );
    for (name, arn) in own {
        let (status, selectors) = tokio::join!(
            ct.get_trail_status().name(&arn).send(),
            ct.get_event_selectors().trail_name(&arn).send()
        );
        sink.put(region, format!("cloudtrail-get-trail-status/{name}"), entry(status, |o| {
            json!({"IsLogging": o.is_logging(), "LatestDeliveryTime": time(o.latest_delivery_time())})
        }));
        sink.put(
            region,
            format!("cloudtrail-get-event-selectors/{name}"),
            entry(selectors, |o| {
                let sel: Vec<Value> = o
                    .event_selectors()
                    .iter()
                    .map(|s| {
                        json!({
                            "ReadWriteType": s.read_write_type().map(|t| t.as_str()),
                            "IncludeManagementEvents": s.include_management_events(),
                            "DataResources": s.data_resources().iter().map(|d| json!({
                                "Type": d.r#type(), "Values": d.values(),
                            })).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let adv: Vec<Value> = o
                .advanced_event_selectors()
                .iter()
                .map(|s| json!({
                    "Name": s.name(),
                    "FieldSelectors": s.field_selectors().iter().map(|f| json!({
                        "Field": f.field(), "Equals": f.equals(), "NotEquals": f.not_equals(),
                        "StartsWith": f.starts_with(),
                    })).collect::<Vec<_>>(),
                }))
                .collect();
                json!({"EventSelectors": sel, "AdvancedEventSelectors": adv})
            }),
        );
    }
}

pub(crate) async fn kms(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let kms = aws_sdk_kms::Client::new(cfg);
    let r: Result<Vec<_>, _> = kms.list_keys().into_paginator().send().collect().await;
    let ids: Vec<String> = match &r {
        Ok(pages) => pages
            .iter()
            .flat_map(|p| p.keys())
            .filter_map(|k| k.key_id().map(String::from))
            .collect(),
        Err(_) => vec![],
    };
    sink.put(
        region,
        "kms-list-keys",
        entry(r, |pages| {
            let keys: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.keys())
                .map(|k| json!({"KeyId": k.key_id(), "KeyArn": k.key_arn()}))
                .collect();
            json!({"Keys": keys})
        }),
    );
    // Keys are read concurrently, a bounded number at a time.
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(PER_RESOURCE_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let (kms, sink, region, limit) =
            (kms.clone(), sink.clone(), region.to_string(), limit.clone());
        tasks.spawn(async move {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            kms_key(&kms, &sink, &region, &id).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn kms_key(kms: &aws_sdk_kms::Client, sink: &Sink, region: &str, id: &str) {
    let d = kms.describe_key().key_id(id).send().await;
    // Rotation applies to customer-managed symmetric keys that are enabled.
    let rotatable = d
        .as_ref()
        .ok()
        .and_then(|o| o.key_metadata())
        .is_some_and(|m| {
            m.key_manager().map(|k| k.as_str()) == Some("CUSTOMER")
                && m.key_spec().map(|k| k.as_str()) == Some("SYMMETRIC_DEFAULT")
                && m.key_state().map(|k| k.as_str()) == Some("Enabled")
        });
    sink.put(
        region,
        format!("kms-describe-key/{id}"),
        entry(d, |o| {
            json!({"KeyMetadata": o.key_metadata().map(|m| json!({
                "KeyId": m.key_id(), "Arn": m.arn(),
                "KeyManager": m.key_manager().map(|k| k.as_str()),
                "KeySpec": m.key_spec().map(|k| k.as_str()),
                "KeyState": m.key_state().map(|k| k.as_str()),
            }))})
        }),
    );
    if rotatable {
        let r = kms.get_key_rotation_status().key_id(id).send().await;
        sink.put(
            region,
            format!("kms-get-key-rotation-status/{id}"),
            entry(
                r,
                |o| json!({"KeyRotationEnabled": o.key_rotation_enabled()}),
            ),
        );
    }
}

/// Config, GuardDuty and Security Hub: is the service on in this region?
pub(crate) async fn services(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let config = aws_sdk_config::Client::new(cfg);
    let gd = aws_sdk_guardduty::Client::new(cfg);
    let hub = aws_sdk_securityhub::Client::new(cfg);
    let (c, g, h) = tokio::join!(
        config.describe_configuration_recorder_status().send(),
        gd.list_detectors()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>(),
        hub.describe_hub().send(),
    );
    sink.put(
        region,
        "config-describe-configuration-recorder-status",
        entry(c, |o| {
            let s: Vec<Value> = o
                .configuration_recorders_status()
                .iter()
                .map(|r| json!({"name": r.name(), "recording": r.recording()}))
                .collect();
            json!({"ConfigurationRecordersStatus": s})
        }),
    );
    sink.put(
        region,
        "guardduty-list-detectors",
        entry(g, |pages| {
            let ids: Vec<&str> = pages
                .iter()
                .flat_map(|p| p.detector_ids())
                .map(String::as_str)
                .collect();
            json!({"DetectorIds": ids})
        }),
    );
    sink.put(
        region,
        "securityhub-describe-hub",
        entry(
            h,
            |o| json!({"HubArn": o.hub_arn(), "SubscribedAt": o.subscribed_at()}),
        ),
    );
}

pub(crate) async fn ecr(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let ecr = aws_sdk_ecr::Client::new(cfg);
    let (repos, scanning) = tokio::join!(
        ecr.describe_repositories()
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>(),
        ecr.get_registry_scanning_configuration().send(),
    );
    sink.put(
        region,
        "ecr-describe-repositories",
        entry(repos, |pages| {
            let r: Vec<Value> = pages
                .iter()
                .flat_map(|p| p.repositories())
                .map(|r| {
                    json!({
                        "repositoryName": r.repository_name(), "repositoryArn": r.repository_arn(),
                        "imageTagMutability": r.image_tag_mutability().map(|m| m.as_str()),
                        "imageScanningConfiguration": r.image_scanning_configuration()
                            .map(|c| json!({"scanOnPush": c.scan_on_push()})),
                    })
                })
                .collect();
            json!({"repositories": r})
        }),
    );
    sink.put(
        region,
        "ecr-get-registry-scanning-configuration",
        entry(scanning, |o| {
            json!({"scanningConfiguration": o.scanning_configuration().map(|c| json!({
                "scanType": c.scan_type().map(|t| t.as_str()),
                "rules": c.rules().iter().map(|r| json!({
                    "scanFrequency": r.scan_frequency().as_str(),
                    "repositoryFilters": r.repository_filters().iter().map(|f| json!({
                        "filter": f.filter(), "filterType": f.filter_type().as_str(),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }))})
        }),
    );
}

pub(crate) async fn eks(cfg: &SdkConfig, sink: &Sink, region: &str) {
    let eks = aws_sdk_eks::Client::new(cfg);
    let r: Result<Vec<_>, _> = eks.list_clusters().into_paginator().send().collect().await;
    let names: Vec<String> = match &r {
        Ok(pages) => pages.iter().flat_map(|p| p.clusters()).cloned().collect(),
        Err(_) => vec![],
    };
    sink.put(
        region,
        "eks-list-clusters",
        entry(r, |pages| {
            let c: Vec<&str> = pages
                .iter()
                .flat_map(|p| p.clusters())
                .map(String::as_str)
                .collect();
            json!({"clusters": c})
        }),
    );
    for name in names {
        let r = eks.describe_cluster().name(&name).send().await;
        sink.put(
            region,
            format!("eks-describe-cluster/{name}"),
            entry(r, |o| {
                json!({"cluster": o.cluster().map(|c| json!({
                    "name": c.name(), "arn": c.arn(),
                    "resourcesVpcConfig": c.resources_vpc_config().map(|v| json!({
                        "endpointPublicAccess": v.endpoint_public_access(),
                        "endpointPrivateAccess": v.endpoint_private_access(),
                        "publicAccessCidrs": strings(v.public_access_cidrs()),
                    })),
                    "logging": c.logging().map(|l| json!({
                        "clusterLogging": l.cluster_logging().iter().map(|s| json!({
                            "types": s.types().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                            "enabled": s.enabled(),
                        })).collect::<Vec<_>>(),
                    })),
                }))})
            }),
        );
    }
}
