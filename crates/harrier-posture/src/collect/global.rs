//! Global services: the caller's identity, IAM, S3 (buckets are listed once for the account).

use std::sync::Arc;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;

use super::json::{strings, time};
use super::{classify, entry, CollectError, Sink};
use crate::snapshot::{Entry, GLOBAL};

/// Calls to S3 in flight at once (per-bucket calls of many buckets).
const S3_CONCURRENCY: usize = 16;

/// `sts:GetCallerIdentity`; the account id, or why the credentials do not work.
pub(crate) async fn identity(cfg: &SdkConfig, sink: &Sink) -> Result<String, CollectError> {
    let sts = aws_sdk_sts::Client::new(cfg);
    match sts.get_caller_identity().send().await {
        Ok(out) => {
            let account = out.account().unwrap_or_default().to_string();
            sink.put(
                GLOBAL,
                "sts-get-caller-identity",
                Entry::Ok {
                    data: json!({"Account": account, "Arn": out.arn(), "UserId": out.user_id()}),
                },
            );
            Ok(account)
        }
        Err(e) => Err(CollectError::Identity(match classify(&e) {
            Entry::AccessDenied { message } | Entry::Error { message } => message,
            Entry::NotConfigured { message } => message,
            Entry::Ok { .. } => String::new(),
        })),
    }
}

/// IAM and S3, concurrently.
pub(crate) async fn collect(cfg: &SdkConfig, sink: &Sink, account: &str, custom_endpoint: bool) {
    tokio::join!(iam(cfg, sink), s3(cfg, sink, account, custom_endpoint));
}

pub(crate) async fn iam(cfg: &SdkConfig, sink: &Sink) {
    let iam = aws_sdk_iam::Client::new(cfg);
    tokio::join!(
        credential_report(&iam, sink),
        async {
            let r = iam.get_account_password_policy().send().await;
            sink.put(
                GLOBAL,
                "iam-get-account-password-policy",
                entry(r, |o| {
                    let p = o.password_policy();
                    json!({"PasswordPolicy": p.map(|p| json!({
                        "MinimumPasswordLength": p.minimum_password_length(),
                        "PasswordReusePrevention": p.password_reuse_prevention(),
                        "RequireSymbols": p.require_symbols(),
                        "RequireNumbers": p.require_numbers(),
                        "RequireUppercaseCharacters": p.require_uppercase_characters(),
                        "RequireLowercaseCharacters": p.require_lowercase_characters(),
                        "AllowUsersToChangePassword": p.allow_users_to_change_password(),
                        "ExpirePasswords": p.expire_passwords(),
                        "MaxPasswordAge": p.max_password_age(),
                        "HardExpiry": p.hard_expiry(),
                    }))})
                }),
            );
        },
        authorization_details(&iam, sink),
        async {
            let r: Result<Vec<_>, _> = iam
                .list_server_certificates()
                .into_paginator()
                .send()
                .collect()
                .await;
            sink.put(
                GLOBAL,
                "iam-list-server-certificates",
                entry(r, |pages| {
                    let certs: Vec<Value> = pages
                        .iter()
                        .flat_map(|p| p.server_certificate_metadata_list())
                        .map(|c| {
                            json!({
                                "ServerCertificateName": c.server_certificate_name(),
                                "Arn": c.arn(),
                                "Expiration": time(c.expiration()),
                            })
                        })
                        .collect();
                    json!({"ServerCertificateMetadataList": certs})
                }),
            );
        },
        async {
            let r = iam.get_account_summary().send().await;
            sink.put(
                GLOBAL,
                "iam-get-account-summary",
                entry(r, |o| {
                    let mut m = Map::new();
                    for (k, v) in o.summary_map().into_iter().flatten() {
                        m.insert(k.as_str().to_string(), json!(v));
                    }
                    json!({"SummaryMap": m})
                }),
            );
        },
        async {
            let r: Result<Vec<_>, _> = iam
                .list_virtual_mfa_devices()
                .into_paginator()
                .send()
                .collect()
                .await;
            sink.put(GLOBAL, "iam-list-virtual-mfa-devices", entry(r, |pages| {
                let devices: Vec<Value> = pages
                    .iter()
                    .flat_map(|p| p.virtual_mfa_devices())
                    .map(|d| json!({
                        "SerialNumber": d.serial_number(),
                        "User": d.user().map(|u| json!({"Arn": u.arn(), "UserName": u.user_name()})),
                    }))
                    .collect();
                json!({"VirtualMFADevices": devices})
            }));
        },
    );
}

/// Generates the credential report (polling while AWS builds it), then reads it. The CSV is
/// stored decoded.
async fn credential_report(iam: &aws_sdk_iam::Client, sink: &Sink) {
    const KEY: &str = "iam-get-credential-report";
    for attempt in 0..20 {
        match iam.generate_credential_report().send().await {
            Ok(out) => {
                let done = out
                    .state()
                    .is_some_and(|s| *s == aws_sdk_iam::types::ReportStateType::Complete);
                if done {
                    break;
                }
            }
            Err(e) => {
                sink.put(GLOBAL, KEY, classify(&e));
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250 * (attempt + 1).min(8))).await;
    }
    let r = iam.get_credential_report().send().await;
    sink.put(
        GLOBAL,
        KEY,
        entry(r, |o| {
            let csv = o
                .content()
                .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                .unwrap_or_default();
            json!({"Content": csv, "GeneratedTime": time(o.generated_time())})
        }),
    );
}

fn inline(list: &[aws_sdk_iam::types::PolicyDetail]) -> Value {
    list.iter()
        .map(|p| json!({"PolicyName": p.policy_name(), "PolicyDocument": p.policy_document()}))
        .collect()
}

fn attached(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Value {
    list.iter()
        .map(|p| json!({"PolicyName": p.policy_name(), "PolicyArn": p.policy_arn()}))
        .collect()
}

async fn authorization_details(iam: &aws_sdk_iam::Client, sink: &Sink) {
    let r: Result<Vec<_>, _> = iam
        .get_account_authorization_details()
        .into_paginator()
        .send()
        .collect()
        .await;
    sink.put(
        GLOBAL,
        "iam-get-account-authorization-details",
        entry(r, |pages| {
            let (mut users, mut groups, mut roles, mut policies) = (vec![], vec![], vec![], vec![]);
            for p in &pages {
                for u in p.user_detail_list() {
                    users.push(json!({
                        "UserName": u.user_name(), "UserId": u.user_id(), "Arn": u.arn(),
                        "CreateDate": time(u.create_date()),
                        "GroupList": strings(u.group_list()),
                        "UserPolicyList": inline(u.user_policy_list()),
                        "AttachedManagedPolicies": attached(u.attached_managed_policies()),
                    }));
                }
                for g in p.group_detail_list() {
                    groups.push(json!({
                        "GroupName": g.group_name(), "Arn": g.arn(),
                        "GroupPolicyList": inline(g.group_policy_list()),
                        "AttachedManagedPolicies": attached(g.attached_managed_policies()),
                    }));
                }
                for r in p.role_detail_list() {
                    roles.push(json!({
                        "RoleName": r.role_name(), "Arn": r.arn(),
                        "AssumeRolePolicyDocument": r.assume_role_policy_document(),
                        "RolePolicyList": inline(r.role_policy_list()),
                        "AttachedManagedPolicies": attached(r.attached_managed_policies()),
                    }));
                }
                for m in p.policies() {
                    let versions: Vec<Value> = m
                        .policy_version_list()
                        .iter()
                        .map(|v| {
                            json!({
                                "Document": v.document(), "VersionId": v.version_id(),
                                "IsDefaultVersion": v.is_default_version(),
                            })
                        })
                        .collect();
                    policies.push(json!({
                        "PolicyName": m.policy_name(), "Arn": m.arn(),
                        "AttachmentCount": m.attachment_count(),
                        "DefaultVersionId": m.default_version_id(),
                        "PolicyVersionList": versions,
                    }));
                }
            }
            json!({"UserDetailList": users, "GroupDetailList": groups,
               "RoleDetailList": roles, "Policies": policies})
        }),
    );
}

pub(crate) async fn s3(cfg: &SdkConfig, sink: &Sink, account: &str, custom_endpoint: bool) {
    // A custom endpoint (moto, LocalStack) serves buckets by path, not by host name.
    let s3 = harrier_aws::s3_client(cfg, custom_endpoint);
    let control = aws_sdk_s3control::Client::new(cfg);
    let account_block = async {
        if custom_endpoint {
            // S3 Control puts the account id in front of the host name, which a custom
            // endpoint (moto, LocalStack) cannot resolve: the SDK would retry a DNS failure for
            // seconds. Recorded as a failure, so the account-level check says unknown.
            sink.put(
                GLOBAL,
                "s3control-get-public-access-block",
                Entry::Error {
                    message: "not read: S3 Control cannot be reached through a custom endpoint URL"
                        .into(),
                },
            );
            return;
        }
        let r = control
            .get_public_access_block()
            .account_id(account)
            .send()
            .await;
        sink.put(
            GLOBAL,
            "s3control-get-public-access-block",
            entry(r, |o| {
                json!({"PublicAccessBlockConfiguration":
                o.public_access_block_configuration().map(|c| json!({
                    "BlockPublicAcls": c.block_public_acls(),
                    "IgnorePublicAcls": c.ignore_public_acls(),
                    "BlockPublicPolicy": c.block_public_policy(),
                    "RestrictPublicBuckets": c.restrict_public_buckets(),
                }))})
            }),
        );
    };
    let buckets = async {
        let listed = s3.list_buckets().send().await;
        let names: Vec<String> = match &listed {
            Ok(o) => o
                .buckets()
                .iter()
                .filter_map(|b| b.name().map(String::from))
                .collect(),
            Err(_) => vec![],
        };
        sink.put(
            GLOBAL,
            "s3-list-buckets",
            entry(listed, |o| {
                let b: Vec<Value> = o
                    .buckets()
                    .iter()
                    .map(|b| json!({"Name": b.name(), "CreationDate": time(b.creation_date())}))
                    .collect();
                json!({"Buckets": b})
            }),
        );
        let limit = Arc::new(Semaphore::new(S3_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for name in names {
            let (sink, limit, s3) = (sink.clone(), limit.clone(), s3.clone());
            let cfg = cfg.clone();
            tasks.spawn(async move {
                let Ok(_permit) = limit.acquire().await else {
                    return;
                };
                // Each bucket answers from its own region.
                let loc = s3.get_bucket_location().bucket(&name).send().await;
                let region = match &loc {
                    Ok(o) => match o.location_constraint().map(|c| c.as_str()) {
                        None | Some("") => "us-east-1".to_string(),
                        Some("EU") => "eu-west-1".to_string(),
                        Some(r) => r.to_string(),
                    },
                    Err(_) => cfg.region().map_or("us-east-1".into(), |r| r.to_string()),
                };
                sink.put(
                    GLOBAL,
                    format!("s3-get-bucket-location/{name}"),
                    entry(loc, |_| json!({"LocationConstraint": region})),
                );
                let s3 = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&cfg)
                        .force_path_style(custom_endpoint)
                        .region(Region::new(region.clone()))
                        .build(),
                );
                bucket(&s3, &sink, &name).await;
            });
        }
        while tasks.join_next().await.is_some() {}
    };
    tokio::join!(account_block, buckets);
}

async fn bucket(s3: &aws_sdk_s3::Client, sink: &Sink, name: &str) {
    let pab = async {
        let r = s3.get_public_access_block().bucket(name).send().await;
        sink.put(
            GLOBAL,
            format!("s3-get-public-access-block/{name}"),
            entry(r, |o| {
                json!({"PublicAccessBlockConfiguration":
                o.public_access_block_configuration().map(|c| json!({
                    "BlockPublicAcls": c.block_public_acls(),
                    "IgnorePublicAcls": c.ignore_public_acls(),
                    "BlockPublicPolicy": c.block_public_policy(),
                    "RestrictPublicBuckets": c.restrict_public_buckets(),
                }))})
            }),
        );
    };
    let acl = async {
        let r = s3.get_bucket_acl().bucket(name).send().await;
        sink.put(
            GLOBAL,
            format!("s3-get-bucket-acl/{name}"),
            entry(r, |o| {
                let grants: Vec<Value> = o
                    .grants()
                    .iter()
                    .map(|g| {
                        json!({
                            "Grantee": g.grantee().map(|e| json!({
                                "Type": e.r#type().as_str(), "ID": e.id(), "URI": e.uri(),
                            })),
                            "Permission": g.permission().map(|p| p.as_str()),
                        })
                    })
                    .collect();
                json!({"Owner": o.owner().map(|w| json!({"ID": w.id()})), "Grants": grants})
            }),
        );
    };
    let policy = async {
        let r = s3.get_bucket_policy().bucket(name).send().await;
        sink.put(
            GLOBAL,
            format!("s3-get-bucket-policy/{name}"),
            entry(r, |o| json!({"Policy": o.policy()})),
        );
    };
    let versioning = async {
        let r = s3.get_bucket_versioning().bucket(name).send().await;
        sink.put(
            GLOBAL,
            format!("s3-get-bucket-versioning/{name}"),
            entry(r, |o| {
                json!({"Status": o.status().map(|s| s.as_str()),
                   "MFADelete": o.mfa_delete().map(|s| s.as_str())})
            }),
        );
    };
    tokio::join!(pab, acl, policy, versioning);
}
