//! IAM checks: the root user, passwords, MFA, access keys, administrative policies.

use std::collections::BTreeMap;

use harrier_events::cloudtrail::{policy_grants, Grant};
use serde_json::Value;

use crate::check::{Check, Ctx, Finding, Severity, Status};
use crate::snapshot::GLOBAL;

const REPORT: &str = "iam-get-credential-report";
const DAY: i64 = 86_400;

/// One row of the credential report.
pub(crate) type Row = BTreeMap<String, String>;

/// The credential report's rows, parsed once per evaluation (every user check reads them).
fn report<'a>(cx: &Ctx<'a>) -> Result<&'a [Row], String> {
    cx.cache
        .report
        .get_or_init(|| parse_report(cx))
        .as_deref()
        .map_err(Clone::clone)
}

/// The credential report's rows (its `Content` is base64 CSV, as the API returns it).
fn parse_report(cx: &Ctx<'_>) -> Result<Vec<Row>, String> {
    let doc = cx.global(REPORT)?;
    let content = doc["Content"]
        .as_str()
        .ok_or("credential report has no Content")?;
    // The API returns the CSV base64-encoded; some tools store it decoded.
    let text = if content.starts_with("user,") {
        content.to_string()
    } else {
        let bytes = harrier_events::base64::decode(content)
            .ok_or("credential report Content is neither CSV nor base64")?;
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty credential report")?
        .split(',')
        .collect();
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect())
}

fn field<'r>(row: &'r Row, k: &str) -> &'r str {
    row.get(k).map(String::as_str).unwrap_or("")
}

fn is_true(row: &Row, k: &str) -> bool {
    field(row, k) == "true"
}

/// Seconds since the epoch of a report timestamp; `None` for N/A, no_information, ...
fn when(row: &Row, k: &str) -> Option<i64> {
    let v = field(row, k);
    // The report writes "2019-01-01T00:00:00+00:00".
    harrier_events::time::parse_rfc3339(v).map(|ns| ns / 1_000_000_000)
}

fn is_root(row: &Row) -> bool {
    field(row, "user") == "<root_account>"
}

/// Runs `f` over the users of the report (root excluded), or reports unknown.
fn each_user(cx: &Ctx<'_>, out: &mut Vec<Finding>, f: impl Fn(&Row) -> Option<(Status, String)>) {
    match report(cx) {
        Err(e) => out.push(cx.unknown(GLOBAL, e)),
        Ok(rows) => {
            for r in rows.iter().filter(|r| !is_root(r)) {
                if let Some((status, reason)) = f(r) {
                    out.push(cx.finding(GLOBAL, field(r, "arn"), status, reason));
                }
            }
        }
    }
}

fn root_row(cx: &Ctx<'_>, out: &mut Vec<Finding>) -> Option<Row> {
    match report(cx) {
        Err(e) => {
            out.push(cx.unknown(GLOBAL, e));
            None
        }
        Ok(rows) => match rows.iter().find(|r| is_root(r)) {
            Some(r) => Some(r.clone()),
            None => {
                out.push(cx.unknown(
                    GLOBAL,
                    "the credential report has no <root_account> row".into(),
                ));
                None
            }
        },
    }
}

pub static ROOT_ACCESS_KEYS: Check = Check {
    id: "iam_root_no_access_keys",
    title: "The root user has no access keys",
    service: "iam",
    resource_type: "AWS::IAM::RootUser",
    severity: Severity::Critical,
    rationale: "Root access keys cannot be restricted by any policy; a leaked one is the whole account.",
    remediation: "Sign in as root, open Security credentials, and delete every access key. Use IAM roles or users instead.",
    cli: &["aws iam delete-access-key --access-key-id <root key id>   # run with root credentials"],
    frameworks: &[
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
    eval: |cx, out| {
        if let Some(r) = root_row(cx, out) {
            let active = is_true(&r, "access_key_1_active") || is_true(&r, "access_key_2_active");
            let (s, why) = if active { (Status::Fail, "the root user has an active access key") } else { (Status::Pass, "no root access key is active") };
            out.push(cx.finding(GLOBAL, field(&r, "arn"), s, why));
        }
    },
};

pub static ROOT_MFA: Check = Check {
    id: "iam_root_mfa_enabled",
    title: "The root user has MFA",
    service: "iam",
    resource_type: "AWS::IAM::RootUser",
    severity: Severity::Critical,
    rationale: "Without MFA the root password alone opens the account.",
    remediation: "Sign in as root and assign an MFA device (preferably hardware) under Security credentials.",
    cli: &["aws iam create-virtual-mfa-device --virtual-mfa-device-name root-mfa --outfile qr.png --bootstrap-method QRCodePNG", "aws iam enable-mfa-device --user-name <root> --serial-number <arn> --authentication-code1 <c1> --authentication-code2 <c2>"],
    frameworks: &[
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
    eval: |cx, out| {
        if let Some(r) = root_row(cx, out) {
            let (s, why) = if is_true(&r, "mfa_active") { (Status::Pass, "root MFA is active") } else { (Status::Fail, "root has no MFA") };
            out.push(cx.finding(GLOBAL, field(&r, "arn"), s, why));
        }
    },
};

pub static ROOT_HARDWARE_MFA: Check = Check {
    id: "iam_root_hardware_mfa",
    title: "The root user's MFA is a hardware device",
    service: "iam",
    resource_type: "AWS::IAM::RootUser",
    severity: Severity::High,
    rationale: "A virtual MFA lives on a phone or laptop that can be lost, cloned or phished along with the password; a hardware key or FIDO token cannot be copied.",
    remediation: "Sign in as root, register a hardware MFA or FIDO security key, then deactivate and delete the virtual device.",
    cli: &["aws iam list-virtual-mfa-devices --assignment-status Assigned", "aws iam deactivate-mfa-device --user-name <root> --serial-number <virtual-mfa-arn>"],
    frameworks: &[
            ("cis-5.0", &["1.5"]),
            ("pci-4.0", &["8.4.1"]),
            ("nist-800-53-r5", &["IA-2"]),
            ("nist-800-53-r4", &["IA-2"]),
            ("soc2", &["cc_6_1"]),
        ],
    eval: |cx, out| {
        let Some(r) = root_row(cx, out) else { return };
        let arn = field(&r, "arn").to_string();
        if !is_true(&r, "mfa_active") {
            return out.push(cx.finding(GLOBAL, arn, Status::Fail, "root has no MFA at all"));
        }
        match cx.global("iam-list-virtual-mfa-devices") {
            Err(e) => out.push(cx.finding(GLOBAL, arn, Status::Unknown, e)),
            Ok(d) => {
                // A virtual device assigned to root has the root ARN as its user, or a serial
                // named root-account-mfa-device.
                let virtual_root = d["VirtualMFADevices"].as_array().into_iter().flatten().any(|v| {
                    v["User"]["Arn"].as_str().is_some_and(|a| a.ends_with(":root"))
                        || v["SerialNumber"].as_str().is_some_and(|s| s.ends_with("/root-account-mfa-device"))
                });
                out.push(if virtual_root {
                    cx.finding(GLOBAL, arn, Status::Fail, "root's MFA is a virtual device")
                } else {
                    cx.finding(GLOBAL, arn, Status::Pass, "root's MFA is not a virtual device")
                });
            }
        }
    },
};

pub static SUPPORT_ROLE: Check = Check {
    id: "iam_support_role_exists",
    title: "A role can manage incidents with AWS Support",
    service: "iam",
    resource_type: "AWS::IAM::Role",
    severity: Severity::Low,
    rationale: "During an incident someone must be able to open AWS Support cases without using root or an administrator: a dedicated role with AWSSupportAccess.",
    remediation: "Create a role for the incident responders and attach the AWSSupportAccess managed policy.",
    cli: &["aws iam create-role --role-name aws-support --assume-role-policy-document file://trust.json", "aws iam attach-role-policy --role-name aws-support --policy-arn arn:aws:iam::aws:policy/AWSSupportAccess"],
    frameworks: &[("cis-5.0", &["1.16"])],
    eval: |cx, out| match cx.global("iam-get-account-authorization-details") {
        Err(e) => out.push(cx.unknown(GLOBAL, e)),
        Ok(d) => {
            let role = d["RoleDetailList"].as_array().into_iter().flatten().find(|r| {
                r["AttachedManagedPolicies"].as_array().into_iter().flatten().any(|p| {
                    p["PolicyArn"].as_str().is_some_and(|a| a.ends_with(":policy/AWSSupportAccess"))
                })
            });
            out.push(match role {
                Some(r) => cx.finding(GLOBAL, r["Arn"].as_str().unwrap_or("?"), Status::Pass, "has AWSSupportAccess"),
                None => cx.finding(GLOBAL, cx.account(), Status::Fail, "no role has AWSSupportAccess attached"),
            });
        }
    },
};

pub static ROOT_RECENT_USE: Check = Check {
    id: "iam_root_not_used_recently",
    title: "The root user was not used in the last 90 days",
    service: "iam",
    resource_type: "AWS::IAM::RootUser",
    severity: Severity::Medium,
    rationale: "Daily work as root bypasses every guardrail; its use should be rare and deliberate.",
    remediation: "Create administrative IAM roles or users for daily work and keep root credentials locked away.",
    cli: &[],
    frameworks: &[("cis-5.0", &["1.6"])],
    eval: |cx, out| {
        if let Some(r) = root_row(cx, out) {
            let last = ["password_last_used", "access_key_1_last_used_date", "access_key_2_last_used_date"]
                .iter()
                .filter_map(|k| when(&r, k))
                .max();
            let (s, why) = match last {
                Some(t) if cx.now - t < 90 * DAY => (Status::Fail, format!("root was used {} days ago", (cx.now - t) / DAY)),
                Some(t) => (Status::Pass, format!("root last used {} days ago", (cx.now - t) / DAY)),
                None => (Status::Pass, "root was never used".to_string()),
            };
            out.push(cx.finding(GLOBAL, field(&r, "arn"), s, why));
        }
    },
};

fn password_policy<'a>(cx: &Ctx<'a>, out: &mut Vec<Finding>) -> Option<Option<&'a Value>> {
    use crate::snapshot::Entry;
    match cx.snap.entry(GLOBAL, "iam-get-account-password-policy") {
        Some(Entry::Ok { data }) => Some(Some(&data["PasswordPolicy"])),
        // NoSuchEntity: the account has no password policy at all, i.e. AWS defaults.
        Some(Entry::NotConfigured { .. }) => Some(None),
        other => {
            out.push(cx.unknown(
                GLOBAL,
                crate::check::missing("iam-get-account-password-policy", other),
            ));
            None
        }
    }
}

pub static PASSWORD_LENGTH: Check = Check {
    id: "iam_password_policy_minimum_length_14",
    title: "The password policy requires at least 14 characters",
    service: "iam",
    resource_type: "AWS::IAM::AccountPasswordPolicy",
    severity: Severity::Medium,
    rationale: "Short passwords fall to guessing and cracking.",
    remediation: "Set the account password policy's minimum length to 14 or more.",
    cli: &["aws iam update-account-password-policy --minimum-password-length 14"],
    frameworks: &[
        ("cis-5.0", &["1.7"]),
        (
            "nist-800-53-r5",
            &[
                "AC-2", "AC-24", "AC-3", "AC-4", "AC-7", "CM-12", "CM-5", "CM-6", "CM-9", "IA-4",
                "IA-5", "IA-8", "MA-4", "SC-23",
            ],
        ),
    ],
    eval: |cx, out| {
        if let Some(p) = password_policy(cx, out) {
            let len = p.and_then(|p| p["MinimumPasswordLength"].as_u64());
            let (s, why) = match len {
                Some(n) if n >= 14 => (Status::Pass, format!("minimum length {n}")),
                Some(n) => (Status::Fail, format!("minimum length is {n}")),
                None => (
                    Status::Fail,
                    "no password policy (AWS default: 8 characters)".into(),
                ),
            };
            out.push(cx.finding(GLOBAL, cx.account(), s, why));
        }
    },
};

pub static PASSWORD_REUSE: Check = Check {
    id: "iam_password_policy_reuse_24",
    title: "The password policy prevents reusing the last 24 passwords",
    service: "iam",
    resource_type: "AWS::IAM::AccountPasswordPolicy",
    severity: Severity::Low,
    rationale: "Reused passwords keep leaked credentials valid.",
    remediation: "Set password reuse prevention to 24.",
    cli: &["aws iam update-account-password-policy --password-reuse-prevention 24"],
    frameworks: &[
        ("cis-5.0", &["1.8"]),
        ("nist-800-53-r4", &["AC-2", "IA-2", "IA-5"]),
    ],
    eval: |cx, out| {
        if let Some(p) = password_policy(cx, out) {
            let n = p.and_then(|p| p["PasswordReusePrevention"].as_u64());
            let (s, why) = match n {
                Some(n) if n >= 24 => (Status::Pass, format!("reuse prevention {n}")),
                Some(n) => (Status::Fail, format!("reuse prevention is {n}")),
                None => (Status::Fail, "password reuse is not prevented".into()),
            };
            out.push(cx.finding(GLOBAL, cx.account(), s, why));
        }
    },
};

pub static CONSOLE_MFA: Check = Check {
    id: "iam_user_console_mfa",
    title: "Users with a console password have MFA",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::High,
    rationale: "A phished or reused password is enough to sign in to a console user without MFA.",
    remediation: "Assign an MFA device to the user, or remove the console password if the user does not need it.",
    cli: &["aws iam enable-mfa-device --user-name <user> --serial-number <arn> --authentication-code1 <c1> --authentication-code2 <c2>", "aws iam delete-login-profile --user-name <user>"],
    frameworks: &[
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
    eval: |cx, out| {
        each_user(cx, out, |r| {
            if !is_true(r, "password_enabled") {
                return None;
            }
            Some(if is_true(r, "mfa_active") {
                (Status::Pass, "console password with MFA".into())
            } else {
                (Status::Fail, "console password without MFA".into())
            })
        })
    },
};

pub static KEYS_WITHOUT_MFA: Check = Check {
    id: "iam_user_active_keys_without_mfa",
    title: "Users with active access keys have MFA",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::High,
    rationale: "Keys of users without MFA are long-lived secrets nothing else protects; leaked CLI keys are how most account takeovers start.",
    remediation: "Give the user an MFA device and require it for sensitive actions (aws:MultiFactorAuthPresent), or replace the keys with role-based access.",
    cli: &["aws iam enable-mfa-device --user-name <user> --serial-number <arn> --authentication-code1 <c1> --authentication-code2 <c2>"],
    frameworks: &[
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
    eval: |cx, out| {
        each_user(cx, out, |r| {
            if !(is_true(r, "access_key_1_active") || is_true(r, "access_key_2_active")) {
                return None;
            }
            Some(if is_true(r, "mfa_active") {
                (Status::Pass, "active keys, MFA enabled".into())
            } else {
                (Status::Fail, "active access keys and no MFA".into())
            })
        })
    },
};

pub static ONE_ACTIVE_KEY: Check = Check {
    id: "iam_user_one_active_key",
    title: "Users have at most one active access key",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::Medium,
    rationale: "A second active key is often one nobody tracks, or one an intruder created.",
    remediation: "Deactivate and delete the key that is not in use.",
    cli: &[
        "aws iam update-access-key --user-name <user> --access-key-id <id> --status Inactive",
        "aws iam delete-access-key --user-name <user> --access-key-id <id>",
    ],
    frameworks: &[("cis-5.0", &["1.12"])],
    eval: |cx, out| {
        each_user(cx, out, |r| {
            let n =
                is_true(r, "access_key_1_active") as u8 + is_true(r, "access_key_2_active") as u8;
            match n {
                0 => None,
                1 => Some((Status::Pass, "one active key".into())),
                _ => Some((Status::Fail, "two active access keys".into())),
            }
        })
    },
};

pub static KEY_ROTATION: Check = Check {
    id: "iam_user_keys_rotated_90_days",
    title: "Active access keys were rotated in the last 90 days",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::Medium,
    rationale: "Old keys have had more time to leak.",
    remediation:
        "Create a new key, move the application to it, then deactivate and delete the old one.",
    cli: &[
        "aws iam create-access-key --user-name <user>",
        "aws iam update-access-key --user-name <user> --access-key-id <old id> --status Inactive",
    ],
    frameworks: &[
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
    eval: |cx, out| {
        each_user(cx, out, |r| {
            let mut oldest: Option<i64> = None;
            for k in ["1", "2"] {
                if is_true(r, &format!("access_key_{k}_active")) {
                    if let Some(t) = when(r, &format!("access_key_{k}_last_rotated")) {
                        oldest = Some(oldest.map_or(t, |o| o.min(t)));
                    }
                }
            }
            let t = oldest?;
            let days = (cx.now - t) / DAY;
            Some(if days > 90 {
                (Status::Fail, format!("an active key is {days} days old"))
            } else {
                (
                    Status::Pass,
                    format!("keys rotated {days} days ago at most"),
                )
            })
        })
    },
};

pub static UNUSED_CREDENTIALS: Check = Check {
    id: "iam_user_credentials_unused_45_days",
    title: "Credentials unused for 45 days are disabled",
    service: "iam",
    resource_type: "AWS::IAM::User",
    severity: Severity::Medium,
    rationale: "Forgotten passwords and keys are targets nobody watches.",
    remediation: "Remove the console password and deactivate access keys not used in 45 days.",
    cli: &[
        "aws iam delete-login-profile --user-name <user>",
        "aws iam update-access-key --user-name <user> --access-key-id <id> --status Inactive",
    ],
    frameworks: &[
        ("cis-5.0", &["1.11"]),
        ("pci-4.0", &["7.2.4", "7.2.5.1", "8.2.6", "A3.4.1"]),
        (
            "nist-800-53-r5",
            &[
                "AC-2", "AC-24", "AC-3", "AC-4", "AC-6", "CM-5", "CM-6", "CM-9", "MP-2", "SC-23",
            ],
        ),
        ("nist-800-53-r4", &["AC-2", "AC-3", "AC-6"]),
        ("soc2", &["cc_1_3"]),
    ],
    eval: |cx, out| {
        each_user(cx, out, |r| {
            let created = when(r, "user_creation_time");
            let mut stale = Vec::new();
            let mut any = false;
            let old = |last: Option<i64>, issued: Option<i64>| match last.or(issued) {
                Some(t) => cx.now - t > 45 * DAY,
                None => false,
            };
            if is_true(r, "password_enabled") {
                any = true;
                if old(
                    when(r, "password_last_used"),
                    when(r, "password_last_changed").or(created),
                ) {
                    stale.push("console password");
                }
            }
            for k in ["1", "2"] {
                if is_true(r, &format!("access_key_{k}_active")) {
                    any = true;
                    if old(
                        when(r, &format!("access_key_{k}_last_used_date")),
                        when(r, &format!("access_key_{k}_last_rotated")),
                    ) {
                        stale.push(if k == "1" {
                            "access key 1"
                        } else {
                            "access key 2"
                        });
                    }
                }
            }
            if !any {
                return None;
            }
            Some(if stale.is_empty() {
                (Status::Pass, "credentials used in the last 45 days".into())
            } else {
                (
                    Status::Fail,
                    format!("unused for more than 45 days: {}", stale.join(", ")),
                )
            })
        })
    },
};

/// Every policy document of the account, with what it is attached to: from account
/// authorization details (inline policies of users, groups and roles; managed policies'
/// default versions with their attachment count).
fn policy_documents<'a>(cx: &Ctx<'a>) -> Result<&'a [PolicyGrant], String> {
    cx.cache
        .policies
        .get_or_init(|| parse_policy_documents(cx))
        .as_deref()
        .map_err(Clone::clone)
}

/// A policy document's grant: (resource arn, grant, description).
pub(crate) type PolicyGrant = (String, Grant, String);

fn parse_policy_documents(cx: &Ctx<'_>) -> Result<Vec<PolicyGrant>, String> {
    let d = cx.global("iam-get-account-authorization-details")?;
    let mut out = Vec::new();
    let doc_bytes = |v: &Value| -> Option<Vec<u8>> {
        match v {
            // The raw API returns URL-encoded JSON text; the CLI decodes it into an object.
            Value::String(s) => Some(percent_decode(s).into_bytes()),
            Value::Object(_) => serde_json::to_vec(v).ok(),
            _ => None,
        }
    };
    for (list, kind, name_key, inline_key) in [
        ("UserDetailList", "user", "UserName", "UserPolicyList"),
        ("GroupDetailList", "group", "GroupName", "GroupPolicyList"),
        ("RoleDetailList", "role", "RoleName", "RolePolicyList"),
    ] {
        for p in d[list].as_array().into_iter().flatten() {
            let arn = p["Arn"]
                .as_str()
                .unwrap_or(p[name_key].as_str().unwrap_or("?"))
                .to_string();
            for ip in p[inline_key].as_array().into_iter().flatten() {
                if let Some(b) = doc_bytes(&ip["PolicyDocument"]) {
                    if let Some((g, _)) = policy_grants(&b) {
                        let pname = ip["PolicyName"].as_str().unwrap_or("?");
                        out.push((
                            arn.clone(),
                            g,
                            format!(
                                "inline policy {pname} of {kind} {}",
                                p[name_key].as_str().unwrap_or("?")
                            ),
                        ));
                    }
                }
            }
        }
    }
    for p in d["Policies"].as_array().into_iter().flatten() {
        if p["AttachmentCount"].as_u64() == Some(0) {
            continue;
        }
        let default = p["DefaultVersionId"].as_str();
        for v in p["PolicyVersionList"].as_array().into_iter().flatten() {
            if v["IsDefaultVersion"].as_bool() == Some(true) || v["VersionId"].as_str() == default {
                if let Some(b) = doc_bytes(&v["Document"]) {
                    if let Some((g, _)) = policy_grants(&b) {
                        let arn = p["Arn"].as_str().unwrap_or("?").to_string();
                        out.push((
                            arn.clone(),
                            g,
                            format!(
                                "managed policy {} (attached {} times)",
                                p["PolicyName"].as_str().unwrap_or("?"),
                                p["AttachmentCount"].as_u64().unwrap_or(0)
                            ),
                        ));
                    }
                }
            }
        }
    }
    // AWS-managed admin policies attached by ARN (their documents are not in the details).
    for (list, name_key) in [
        ("UserDetailList", "UserName"),
        ("GroupDetailList", "GroupName"),
        ("RoleDetailList", "RoleName"),
    ] {
        for p in d[list].as_array().into_iter().flatten() {
            for ap in p["AttachedManagedPolicies"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let parn = ap["PolicyArn"].as_str().unwrap_or("");
                let g = harrier_events::cloudtrail::managed_policy_grant(parn);
                if g != Grant::None && parn.starts_with("arn:aws:iam::aws:policy/") {
                    let arn = p["Arn"].as_str().unwrap_or("?").to_string();
                    out.push((
                        arn,
                        g,
                        format!("{parn} attached to {}", p[name_key].as_str().unwrap_or("?")),
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // RFC 3986 percent-encoding, as IAM uses it ('+' is a literal plus).
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn grants_check(cx: &Ctx<'_>, out: &mut Vec<Finding>, bad: &[Grant], what: &str) {
    match policy_documents(cx) {
        Err(e) => out.push(cx.unknown(GLOBAL, e)),
        Ok(docs) => {
            let mut any = false;
            for (arn, g, desc) in docs {
                if bad.contains(g) {
                    any = true;
                    out.push(cx.finding(
                        GLOBAL,
                        arn,
                        Status::Fail,
                        format!("{desc} grants {}", g.as_str()),
                    ));
                }
            }
            if !any {
                out.push(cx.finding(
                    GLOBAL,
                    cx.account(),
                    Status::Pass,
                    format!("no attached policy grants {what}"),
                ));
            }
        }
    }
}

pub static ADMIN_POLICIES: Check = Check {
    id: "iam_no_full_admin_policies",
    title: "No attached policy grants full administrative access (*:*)",
    service: "iam",
    resource_type: "AWS::IAM::Policy",
    severity: Severity::High,
    rationale: "A principal allowed every action on every resource is an account takeover waiting for one leaked credential.",
    remediation: "Replace the policy with one that grants only the actions needed (least privilege); keep full admin to a break-glass role with MFA.",
    cli: &["aws iam detach-user-policy --user-name <user> --policy-arn <arn>", "aws iam delete-user-policy --user-name <user> --policy-name <name>"],
    frameworks: &[
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
    eval: |cx, out| grants_check(cx, out, &[Grant::Admin], "*:*"),
};

pub static IAM_FULL_POLICIES: Check = Check {
    id: "iam_no_iam_full_access_policies",
    title: "No attached policy grants every IAM action (iam:*)",
    service: "iam",
    resource_type: "AWS::IAM::Policy",
    severity: Severity::High,
    rationale: "iam:* lets its holder grant itself anything: it is administrator access by another name.",
    remediation: "Remove iam:* (and IAMFullAccess) from the policy; grant only the IAM actions the principal needs.",
    cli: &["aws iam delete-user-policy --user-name <user> --policy-name <name>", "aws iam detach-user-policy --user-name <user> --policy-arn arn:aws:iam::aws:policy/IAMFullAccess"],
    frameworks: &[
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
    eval: |cx, out| grants_check(cx, out, &[Grant::IamFull], "iam:*"),
};

#[cfg(test)]
mod decode_tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding_is_rfc_3986_and_never_splits_characters() {
        assert_eq!(
            percent_decode("%7B%22Action%22%3A%22iam%3A*%22%7D"),
            r#"{"Action":"iam:*"}"#
        );
        assert_eq!(percent_decode("a+b"), "a+b");
        // A stray '%' before a multi-byte character or at the end stays as it is.
        assert_eq!(percent_decode("%é%"), "%é%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
