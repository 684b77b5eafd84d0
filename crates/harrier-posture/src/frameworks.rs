//! Framework mappings of each check: CIS AWS Foundations Benchmark v5.0.0, PCI DSS v4.0,
//! NIST SP 800-53 rev5 and rev4 (base controls), SOC 2 (trust services criteria).
//!
//! Requirement ids as the frameworks publish them, gathered from the public compliance mappings
//! of equivalent checks; a check with no entry for a framework does not count toward it.

/// Frameworks, by the ids `harrier posture report --framework` takes.
pub const FRAMEWORKS: [(&str, &str); 5] = [
    (
        "cis-5.0",
        "CIS Amazon Web Services Foundations Benchmark v5.0.0",
    ),
    ("pci-4.0", "PCI DSS v4.0"),
    ("nist-800-53-r5", "NIST SP 800-53 Revision 5"),
    ("nist-800-53-r4", "NIST SP 800-53 Revision 4"),
    ("soc2", "SOC 2 (AICPA Trust Services Criteria)"),
];

type Mapping = &'static [(&'static str, &'static [&'static str])];

/// The CIS monitoring checks (metric filter + alarm) share every mapping but their CIS id.
fn monitoring(cis: &'static str) -> Mapping {
    macro_rules! arms {
        ($($id:literal),*) => {
            match cis {
                $($id => &[
                    ("cis-5.0", &[$id]),
                    ("pci-4.0", &["10.2.1", "10.4.1.1"]),
                    ("nist-800-53-r5", &["AU-6", "SI-4"]),
                    ("nist-800-53-r4", &["AU-6", "SI-4"]),
                    ("soc2", &["cc_7_2"]),
                ],)*
                _ => &[],
            }
        };
    }
    arms!(
        "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8", "4.9", "4.10", "4.11", "4.12",
        "4.13", "4.14", "4.15"
    )
}

/// The requirement ids a check maps to, per framework.
pub fn of(check: &str) -> Mapping {
    match check {
        "cloudwatch_alarm_unauthorized_api_calls" => monitoring("4.1"),
        "cloudwatch_alarm_console_login_without_mfa" => monitoring("4.2"),
        "cloudwatch_alarm_root_usage" => monitoring("4.3"),
        "cloudwatch_alarm_iam_policy_changes" => monitoring("4.4"),
        "cloudwatch_alarm_cloudtrail_changes" => monitoring("4.5"),
        "cloudwatch_alarm_console_auth_failures" => monitoring("4.6"),
        "cloudwatch_alarm_cmk_disable_or_deletion" => monitoring("4.7"),
        "cloudwatch_alarm_s3_bucket_policy_changes" => monitoring("4.8"),
        "cloudwatch_alarm_config_changes" => monitoring("4.9"),
        "cloudwatch_alarm_security_group_changes" => monitoring("4.10"),
        "cloudwatch_alarm_nacl_changes" => monitoring("4.11"),
        "cloudwatch_alarm_network_gateway_changes" => monitoring("4.12"),
        "cloudwatch_alarm_route_table_changes" => monitoring("4.13"),
        "cloudwatch_alarm_vpc_changes" => monitoring("4.14"),
        "cloudwatch_alarm_organizations_changes" => monitoring("4.15"),
        "ecs_task_definition_not_privileged" => &[
            ("nist-800-53-r5", &["AC-6", "CM-7"]),
            ("nist-800-53-r4", &["AC-6", "CM-7"]),
            ("soc2", &["cc_6_1"]),
        ],
        "ecs_service_exec_disabled" => &[
            ("nist-800-53-r5", &["AC-6", "AC-17"]),
            ("nist-800-53-r4", &["AC-6", "AC-17"]),
            ("soc2", &["cc_6_1"]),
        ],
        "iam_root_hardware_mfa" => &[
            ("cis-5.0", &["1.5"]),
            ("pci-4.0", &["8.4.1"]),
            ("nist-800-53-r5", &["IA-2"]),
            ("nist-800-53-r4", &["IA-2"]),
            ("soc2", &["cc_6_1"]),
        ],
        "iam_user_permissions_through_groups" => &[
            ("cis-5.0", &["1.14"]),
            ("pci-4.0", &["7.2.1", "7.2.2"]),
            ("nist-800-53-r5", &["AC-2", "AC-6"]),
            ("nist-800-53-r4", &["AC-2", "AC-6"]),
            ("soc2", &["cc_6_3"]),
        ],
        "iam_no_expired_server_certificates" => &[
            ("cis-5.0", &["1.18"]),
            ("pci-4.0", &["4.2.1"]),
            ("nist-800-53-r5", &["SC-12", "SC-17"]),
            ("nist-800-53-r4", &["SC-12", "SC-17"]),
            ("soc2", &["cc_6_7"]),
        ],
        "accessanalyzer_enabled" => &[
            ("cis-5.0", &["1.19"]),
            ("nist-800-53-r5", &["AC-3", "AC-6", "CA-7"]),
            ("nist-800-53-r4", &["AC-3", "AC-6", "CA-7"]),
            ("soc2", &["cc_6_1", "cc_7_1"]),
        ],
        "ec2_sg_no_world_cifs" => &[
            ("cis-5.0", &["5.1.2"]),
            ("pci-4.0", &["1.3.1", "1.4.1"]),
            ("nist-800-53-r5", &["SC-7", "AC-4"]),
            ("nist-800-53-r4", &["SC-7", "AC-4"]),
            ("soc2", &["cc_6_6"]),
        ],
        "ec2_instance_imdsv2_required" => &[
            ("cis-5.0", &["5.7"]),
            ("pci-4.0", &["2.2.1"]),
            ("nist-800-53-r5", &["AC-3", "CM-6", "SC-7"]),
            ("nist-800-53-r4", &["AC-3", "CM-6", "SC-7"]),
            ("soc2", &["cc_6_1"]),
        ],
        "ec2_instance_uses_role" => &[
            ("cis-5.0", &["1.17"]),
            ("nist-800-53-r5", &["AC-2", "IA-5"]),
            ("nist-800-53-r4", &["AC-2", "IA-5"]),
            ("soc2", &["cc_6_1"]),
        ],
        "rds_instance_storage_encrypted" => &[
            ("cis-5.0", &["2.2.1"]),
            ("pci-4.0", &["3.5.1"]),
            ("nist-800-53-r5", &["SC-28", "SC-13"]),
            ("nist-800-53-r4", &["SC-28", "SC-13"]),
            ("soc2", &["cc_6_1", "cc_6_7"]),
        ],
        "rds_instance_auto_minor_upgrade" => &[
            ("cis-5.0", &["2.2.2"]),
            ("pci-4.0", &["6.3.3"]),
            ("nist-800-53-r5", &["SI-2"]),
            ("nist-800-53-r4", &["SI-2"]),
            ("soc2", &["cc_7_1"]),
        ],
        "rds_instance_not_public" => &[
            ("cis-5.0", &["2.2.3"]),
            ("pci-4.0", &["1.3.1", "1.4.4"]),
            ("nist-800-53-r5", &["AC-3", "AC-4", "SC-7"]),
            ("nist-800-53-r4", &["AC-3", "AC-4", "SC-7"]),
            ("soc2", &["cc_6_1", "cc_6_6"]),
        ],
        "efs_encrypted" => &[
            ("cis-5.0", &["2.3.1"]),
            ("pci-4.0", &["3.5.1"]),
            ("nist-800-53-r5", &["SC-28", "SC-13"]),
            ("nist-800-53-r4", &["SC-28", "SC-13"]),
            ("soc2", &["cc_6_1", "cc_6_7"]),
        ],
        "cloudtrail_s3_object_write_events" => &[
            ("cis-5.0", &["3.8"]),
            ("pci-4.0", &["10.2.1"]),
            ("nist-800-53-r5", &["AU-2", "AU-12"]),
            ("nist-800-53-r4", &["AU-2", "AU-12"]),
            ("soc2", &["cc_7_2"]),
        ],
        "cloudtrail_s3_object_read_events" => &[
            ("cis-5.0", &["3.9"]),
            ("pci-4.0", &["10.2.1"]),
            ("nist-800-53-r5", &["AU-2", "AU-12"]),
            ("nist-800-53-r4", &["AU-2", "AU-12"]),
            ("soc2", &["cc_7_2"]),
        ],
        "iam_support_role_exists" => &[("cis-5.0", &["1.16"])],
        "s3_bucket_denies_http" => &[
            ("cis-5.0", &["2.1.1"]),
            ("pci-4.0", &["4.2.1"]),
            ("nist-800-53-r5", &["SC-8"]),
            ("nist-800-53-r4", &["SC-8"]),
            ("soc2", &["cc_6_7"]),
        ],
        "ec2_nacl_no_world_admin_ports" => &[
            ("cis-5.0", &["5.2"]),
            ("pci-4.0", &["1.2.8", "1.3.1", "1.3.2", "1.4.2"]),
            ("nist-800-53-r5", &["AC-4", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
            ("soc2", &["cc_6_6"]),
        ],
        "iam_root_no_access_keys" => &[
            ("cis-5.0", &["1.3"]),
            (
                "pci-4.0",
                &[
                    "7.2.1", "7.2.2", "7.2.3", "8.2.1", "8.2.2", "8.2.4", "8.2.5", "8.3.11",
                ],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-6", "CM-5", "CM-6", "CM-9", "IA-2",
                    "IA-4", "IA-5", "MP-2", "SC-23", "SC-25",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AC-3", "AC-6"]),
        ],
        "iam_root_mfa_enabled" => &[
            ("cis-5.0", &["1.4"]),
            ("pci-4.0", &["8.4.1", "8.4.2", "8.4.3"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-7", "CM-6", "CM-9", "IA-2", "SC-23",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "IA-2"]),
        ],
        "iam_root_not_used_recently" => &[("cis-5.0", &["1.6"])],
        "iam_password_policy_minimum_length_14" => &[
            ("cis-5.0", &["1.7"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-7", "CM-12", "CM-5", "CM-6", "CM-9",
                    "IA-4", "IA-5", "IA-8", "MA-4", "SC-23",
                ],
            ),
        ],
        "iam_password_policy_reuse_24" => &[
            ("cis-5.0", &["1.8"]),
            ("nist-800-53-r4", &["AC-2", "IA-2", "IA-5"]),
        ],
        "iam_user_console_mfa" => &[
            ("cis-5.0", &["1.9"]),
            ("pci-4.0", &["8.4.1", "8.4.2", "8.4.3"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-7", "CM-5", "CM-6", "CM-9", "IA-2",
                    "SC-23",
                ],
            ),
            ("nist-800-53-r4", &["IA-2"]),
        ],
        "iam_user_active_keys_without_mfa" => &[
            ("cis-5.0", &["1.9"]),
            ("pci-4.0", &["8.4.1", "8.4.2", "8.4.3"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-7", "CM-5", "CM-6", "CM-9", "IA-2",
                    "SC-23",
                ],
            ),
            ("nist-800-53-r4", &["IA-2"]),
        ],
        "iam_user_one_active_key" => &[("cis-5.0", &["1.12"])],
        "iam_user_keys_rotated_90_days" => &[
            ("cis-5.0", &["1.13"]),
            ("pci-4.0", &["8.3.10.1", "8.3.5", "8.3.7", "8.3.9", "8.6.3"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "CM-5", "CM-6", "CM-9", "SC-23",
                ],
            ),
            ("nist-800-53-r4", &["AC-2"]),
        ],
        "iam_user_credentials_unused_45_days" => &[
            ("cis-5.0", &["1.11"]),
            ("pci-4.0", &["7.2.4", "7.2.5.1", "8.2.6", "A3.4.1"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-6", "CM-5", "CM-6", "CM-9", "MP-2",
                    "SC-23",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AC-3", "AC-6"]),
            ("soc2", &["cc_1_3"]),
        ],
        "iam_no_full_admin_policies" => &[
            ("cis-5.0", &["1.15"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-5", "AC-6", "CM-5", "CM-6", "CM-9",
                    "MP-2", "SC-23", "SC-25",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AC-3", "AC-5", "AC-6", "SC-2"]),
            ("soc2", &["cc_1_3", "cc_6_3"]),
        ],
        "iam_no_iam_full_access_policies" => &[
            ("cis-5.0", &["1.15"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-24", "AC-3", "AC-4", "AC-5", "AC-6", "CM-5", "CM-6", "CM-9",
                    "MP-2", "SC-23", "SC-25",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AC-3", "AC-5", "AC-6", "SC-2"]),
            ("soc2", &["cc_1_3", "cc_6_3"]),
        ],
        "s3_account_public_access_block" => &[
            ("cis-5.0", &["2.1.4"]),
            (
                "pci-4.0",
                &[
                    "1.2.8", "1.3.1", "1.3.2", "1.4.2", "1.5.1", "10.3.2", "3.5.1.3", "A1.1.2",
                    "A1.1.3", "A3.4.1",
                ],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AC-17", "AC-2", "AC-3", "AC-4", "AC-6", "CM-6", "CM-9", "MP-2", "SC-25",
                    "SC-7",
                ],
            ),
            ("nist-800-53-r4", &["SC-7"]),
        ],
        "s3_bucket_public_access_block" => &[("cis-5.0", &["2.1.4"])],
        "s3_bucket_no_public_write" => &[],
        "ec2_sg_no_world_admin_ports" => &[
            ("cis-5.0", &["5.3", "5.4"]),
            (
                "pci-4.0",
                &["1.2.8", "1.3.1", "1.3.2", "1.4.2", "1.5.1", "A1.1.3"],
            ),
            ("nist-800-53-r5", &["AC-17", "CM-9", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
            ("soc2", &["cc_6_6", "cc_7_2"]),
        ],
        "ec2_default_sg_restricts_all" => &[
            ("cis-5.0", &["5.5"]),
            ("nist-800-53-r5", &["AC-17", "AC-4", "CM-6", "CM-9", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
        ],
        "ec2_ebs_default_encryption" => &[
            ("cis-5.0", &["5.1.1"]),
            ("pci-4.0", &["3.5.1", "8.3.2"]),
            (
                "nist-800-53-r5",
                &[
                    "AU-9", "CM-6", "CM-9", "CP-9", "SC-13", "SC-28", "SC-8", "SI-19",
                ],
            ),
            ("nist-800-53-r4", &["SC-28"]),
            ("soc2", &["pi_1_5"]),
        ],
        "vpc_flow_logs_enabled" => &[
            ("cis-5.0", &["3.7"]),
            (
                "pci-4.0",
                &[
                    "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5",
                    "10.2.1.6", "10.2.1.7", "10.2.2", "10.3.1", "10.6.3", "5.3.4", "A1.2.1",
                ],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AC-4", "AU-12", "AU-14", "AU-2", "AU-3", "AU-6", "AU-8", "CA-7", "CM-5",
                    "CM-6", "CM-9", "IA-3", "MA-4", "PM-14", "PM-31", "SI-4", "SI-7",
                ],
            ),
            ("nist-800-53-r4", &["AU-12", "AU-2", "AU-3"]),
            ("soc2", &["cc_7_2", "cc_7_3"]),
        ],
        "cloudtrail_multi_region_logging" => &[
            ("cis-5.0", &["3.1"]),
            (
                "pci-4.0",
                &[
                    "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5",
                    "10.2.1.6", "10.2.1.7", "10.2.2", "10.3.1", "10.6.3", "5.3.4", "A1.2.1",
                ],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-3", "AC-4", "AC-6", "AU-10", "AU-12", "AU-14", "AU-2", "AU-3",
                    "AU-6", "AU-8", "CA-7", "CM-5", "CM-6", "CM-9", "IA-3", "MA-4", "PM-14",
                    "PM-31", "SC-7", "SI-1", "SI-10", "SI-3", "SI-4", "SI-7",
                ],
            ),
            ("nist-800-53-r4", &["AC-2", "AU-12", "AU-2", "AU-3", "CM-2"]),
            ("soc2", &["cc_2_1", "cc_7_2", "cc_a_1_1", "pi_1_3"]),
        ],
        "cloudtrail_log_file_validation" => &[
            ("cis-5.0", &["3.2"]),
            ("pci-4.0", &["10.3.2", "10.3.3", "10.3.4", "A1.2.1"]),
            (
                "nist-800-53-r5",
                &[
                    "AU-9", "CM-6", "CM-9", "PM-11", "PM-17", "SA-1", "SA-10", "SC-16", "SI-1",
                    "SI-4", "SI-7",
                ],
            ),
            ("nist-800-53-r4", &["SI-7"]),
            ("soc2", &["cc_7_3", "pi_1_3"]),
        ],
        "cloudtrail_kms_encryption" => &[
            ("cis-5.0", &["3.5"]),
            (
                "pci-4.0",
                &["10.3.2", "10.3.3", "10.3.4", "3.5.1", "8.3.2", "A1.2.1"],
            ),
            (
                "nist-800-53-r5",
                &[
                    "AU-9", "CM-6", "CM-9", "CP-9", "SC-13", "SC-28", "SC-8", "SI-19",
                ],
            ),
            ("nist-800-53-r4", &["AU-9", "SC-28"]),
        ],
        "cloudtrail_cloudwatch_logs" => &[],
        "kms_cmk_rotation" => &[
            ("cis-5.0", &["3.6"]),
            ("pci-4.0", &["3.7.4", "3.7.5"]),
            ("nist-800-53-r5", &["CM-6", "CM-9", "SA-9", "SC-12"]),
            ("nist-800-53-r4", &["SC-12"]),
            ("soc2", &["pi_1_5"]),
        ],
        "config_recorder_enabled" => &[
            ("cis-5.0", &["3.3"]),
            ("soc2", &["cc_2_1", "cc_3_1", "cc_3_4", "cc_8_1", "pi_1_3"]),
        ],
        "ecr_tag_immutability" => &[],
        "ecr_scan_on_push" => &[("pci-4.0", &["11.3.1", "11.3.1.2", "11.3.1.3"])],
        "eks_endpoint_not_public" => &[(
            "pci-4.0",
            &["1.2.8", "1.3.1", "1.3.2", "1.4.2", "1.5.1", "A1.1.3"],
        )],
        "eks_audit_logging" => &[(
            "pci-4.0",
            &[
                "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6",
                "10.2.1.7", "10.2.2", "10.3.1", "10.6.3", "5.3.4", "A1.2.1",
            ],
        )],
        "guardduty_enabled" => &[
            ("pci-4.0", &["11.5.1", "11.5.1.1"]),
            (
                "nist-800-53-r5",
                &[
                    "AC-2", "AC-3", "AU-12", "AU-14", "AU-3", "AU-6", "CA-2", "CA-7", "CM-8",
                    "PE-6", "PM-14", "PM-16", "PM-31", "RA-1", "RA-10", "RA-3", "RA-5", "SC-43",
                    "SC-5", "SI-3", "SI-4", "SI-5",
                ],
            ),
            (
                "nist-800-53-r4",
                &["AC-17", "AC-2", "AU-6", "CA-7", "RA-5", "SA-10", "SI-4"],
            ),
            (
                "soc2",
                &[
                    "cc_3_1", "cc_3_2", "cc_4_2", "cc_6_8", "cc_7_1", "cc_7_2", "cc_7_3", "cc_7_4",
                ],
            ),
        ],
        "securityhub_enabled" => &[
            ("cis-5.0", &["4.16"]),
            (
                "pci-4.0",
                &[
                    "10.2.1.1", "10.4.1", "10.4.1.1", "10.4.2", "10.6.3", "10.7.1", "10.7.2",
                    "A3.3.1", "A3.5.1",
                ],
            ),
            (
                "nist-800-53-r5",
                &["AU-12", "AU-14", "AU-6", "CA-2", "CA-7", "PM-14", "PM-31"],
            ),
            (
                "nist-800-53-r4",
                &["AC-17", "AC-2", "AU-6", "CA-7", "SA-10", "SI-4"],
            ),
            (
                "soc2",
                &["cc_3_1", "cc_6_8", "cc_7_1", "cc_7_2", "cc_7_3", "cc_7_4"],
            ),
        ],
        _ => &[],
    }
}
