//! Every check, grouped by service. Each check is one self-describing [`Check`]: id, title,
//! severity, rationale, remediation with CLI commands, and (through `frameworks`) its mappings.

mod access;
mod compute;
mod containers;
mod dataevents;
mod ec2;
mod iam;
mod logging;
mod monitoring;
mod s3;

use std::cell::OnceCell;

use crate::check::Check;

/// What several checks derive from the same documents, computed once per evaluation.
#[derive(Default)]
pub struct Cache {
    pub(crate) report: OnceCell<Result<Vec<iam::Row>, String>>,
    pub(crate) policies: OnceCell<Result<Vec<iam::PolicyGrant>, String>>,
}

/// Every check, in report order.
pub static ALL: [&Check; 64] = [
    &iam::ROOT_ACCESS_KEYS,
    &iam::ROOT_MFA,
    &iam::ROOT_HARDWARE_MFA,
    &iam::ROOT_RECENT_USE,
    &iam::PASSWORD_LENGTH,
    &iam::PASSWORD_REUSE,
    &iam::CONSOLE_MFA,
    &iam::KEYS_WITHOUT_MFA,
    &iam::ONE_ACTIVE_KEY,
    &iam::KEY_ROTATION,
    &iam::UNUSED_CREDENTIALS,
    &iam::ADMIN_POLICIES,
    &iam::IAM_FULL_POLICIES,
    &iam::SUPPORT_ROLE,
    &access::PERMISSIONS_THROUGH_GROUPS,
    &access::EXPIRED_SERVER_CERTIFICATES,
    &access::ACCESS_ANALYZER,
    &s3::ACCOUNT_PUBLIC_ACCESS_BLOCK,
    &s3::BUCKET_PUBLIC_ACCESS_BLOCK,
    &s3::BUCKET_PUBLIC_WRITE,
    &s3::BUCKET_SECURE_TRANSPORT,
    &ec2::SG_WORLD_ADMIN_PORTS,
    &ec2::SG_WORLD_CIFS,
    &ec2::NACL_WORLD_ADMIN_PORTS,
    &ec2::DEFAULT_SG,
    &ec2::EBS_DEFAULT_ENCRYPTION,
    &ec2::VPC_FLOW_LOGS,
    &compute::IMDSV2,
    &compute::INSTANCE_PROFILE,
    &compute::RDS_ENCRYPTED,
    &compute::RDS_MINOR_UPGRADE,
    &compute::RDS_NOT_PUBLIC,
    &compute::EFS_ENCRYPTED,
    &logging::MULTI_REGION,
    &logging::LOG_VALIDATION,
    &logging::KMS_ENCRYPTION,
    &logging::CLOUDWATCH,
    &logging::KMS_ROTATION,
    &dataevents::S3_WRITE_EVENTS,
    &dataevents::S3_READ_EVENTS,
    &monitoring::UNAUTHORIZED_CALLS,
    &monitoring::CONSOLE_NO_MFA,
    &monitoring::ROOT_USAGE,
    &monitoring::IAM_CHANGES,
    &monitoring::TRAIL_CHANGES,
    &monitoring::CONSOLE_FAILURES,
    &monitoring::CMK_DELETION,
    &monitoring::S3_POLICY_CHANGES,
    &monitoring::CONFIG_CHANGES,
    &monitoring::SG_CHANGES,
    &monitoring::NACL_CHANGES,
    &monitoring::GATEWAY_CHANGES,
    &monitoring::ROUTE_CHANGES,
    &monitoring::VPC_CHANGES,
    &monitoring::ORG_CHANGES,
    &logging::CONFIG_RECORDER,
    &logging::GUARDDUTY,
    &logging::SECURITY_HUB,
    &containers::ECR_TAG_IMMUTABILITY,
    &containers::ECR_SCAN_ON_PUSH,
    &containers::EKS_PUBLIC_ENDPOINT,
    &containers::EKS_AUDIT_LOGGING,
    &containers::ECS_PRIVILEGED,
    &containers::ECS_EXEC,
];
