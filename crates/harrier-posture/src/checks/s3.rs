//! S3 checks: public access blocks and publicly writable buckets.

use serde_json::Value;

use crate::check::{missing, Check, Ctx, Finding, Severity, Status};
use crate::snapshot::{Entry, GLOBAL};

const FLAGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// The flags of a public access block that are not `true`.
fn weak_flags(cfg: &Value) -> Vec<&'static str> {
    FLAGS
        .iter()
        .copied()
        .filter(|f| cfg[*f].as_bool() != Some(true))
        .collect()
}

fn buckets<'a>(cx: &Ctx<'a>, out: &mut Vec<Finding>) -> Option<Vec<&'a str>> {
    match cx.global("s3-list-buckets") {
        Ok(d) => Some(
            d["Buckets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b["Name"].as_str())
                .collect(),
        ),
        Err(e) => {
            out.push(cx.unknown(GLOBAL, e));
            None
        }
    }
}

fn account_block(cx: &Ctx<'_>) -> Result<Vec<&'static str>, String> {
    match cx.snap.entry(GLOBAL, "s3control-get-public-access-block") {
        Some(Entry::Ok { data }) => Ok(weak_flags(&data["PublicAccessBlockConfiguration"])),
        Some(Entry::NotConfigured { .. }) => Ok(FLAGS.to_vec()),
        other => Err(missing("s3control-get-public-access-block", other)),
    }
}

pub static ACCOUNT_PUBLIC_ACCESS_BLOCK: Check = Check {
    id: "s3_account_public_access_block",
    title: "S3 Block Public Access is on for the account",
    service: "s3",
    resource_type: "AWS::S3::AccountPublicAccessBlock",
    severity: Severity::High,
    rationale: "The account-level block stops any bucket ACL or policy, present or future, from making data public.",
    remediation: "Turn on all four Block Public Access settings for the account.",
    cli: &["aws s3control put-public-access-block --account-id <account> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"],
    frameworks: &[
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
    eval: |cx, out| match account_block(cx) {
        Err(e) => out.push(cx.unknown(GLOBAL, e)),
        Ok(weak) if weak.is_empty() => out.push(cx.finding(GLOBAL, cx.account(), Status::Pass, "all four settings on")),
        Ok(weak) => out.push(cx.finding(GLOBAL, cx.account(), Status::Fail, format!("off: {}", weak.join(", ")))),
    },
};

pub static BUCKET_PUBLIC_ACCESS_BLOCK: Check = Check {
    id: "s3_bucket_public_access_block",
    title: "Every bucket has Block Public Access on (itself or through the account)",
    service: "s3",
    resource_type: "AWS::S3::Bucket",
    severity: Severity::High,
    rationale: "Without the block, one ACL or policy change makes the bucket's data public.",
    remediation: "Turn on Block Public Access for the bucket (or for the whole account).",
    cli: &["aws s3api put-public-access-block --bucket <bucket> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"],
    frameworks: &[("cis-5.0", &["2.1.4"])],
    eval: |cx, out| {
        let Some(names) = buckets(cx, out) else { return };
        let account = account_block(cx).ok();
        for b in names {
            let key = format!("s3-get-public-access-block/{b}");
            let own = match cx.snap.entry(GLOBAL, &key) {
                Some(Entry::Ok { data }) => Ok(weak_flags(&data["PublicAccessBlockConfiguration"])),
                Some(Entry::NotConfigured { .. }) => Ok(FLAGS.to_vec()),
                other => Err(missing(&key, other)),
            };
            let arn = format!("arn:aws:s3:::{b}");
            match (own, &account) {
                (Ok(w), _) if w.is_empty() => out.push(cx.finding(GLOBAL, arn, Status::Pass, "bucket block fully on")),
                (_, Some(a)) if a.is_empty() => out.push(cx.finding(GLOBAL, arn, Status::Pass, "covered by the account block")),
                (Ok(w), _) => out.push(cx.finding(GLOBAL, arn, Status::Fail, format!("off: {}", w.join(", ")))),
                (Err(e), _) => out.push(cx.finding(GLOBAL, arn, Status::Unknown, e)),
            }
        }
    },
};

const PUBLIC: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

fn acl_public_write(acl: &Value) -> bool {
    acl["Grants"].as_array().into_iter().flatten().any(|g| {
        g["Grantee"]["URI"]
            .as_str()
            .is_some_and(|u| PUBLIC.contains(&u))
            && matches!(
                g["Permission"].as_str(),
                Some("WRITE" | "WRITE_ACP" | "FULL_CONTROL")
            )
    })
}

fn policy_public_write(policy: &Value) -> bool {
    statements(policy).iter().any(|st| {
        let public = match &st["Principal"] {
            Value::String(s) => s == "*",
            p => match &p["AWS"] {
                Value::String(s) => s == "*",
                Value::Array(a) => a.iter().any(|x| x == "*"),
                _ => false,
            },
        };
        let actions: Vec<&str> = match &st["Action"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        st["Effect"] == "Allow"
            && public
            && st.get("Condition").is_none()
            && actions.iter().any(|a| {
                let a = a.to_ascii_lowercase();
                a == "*" || a == "s3:*" || a.starts_with("s3:put") || a.starts_with("s3:delete")
            })
    })
}

pub static BUCKET_PUBLIC_WRITE: Check = Check {
    id: "s3_bucket_no_public_write",
    title: "No bucket lets anyone write to it",
    service: "s3",
    resource_type: "AWS::S3::Bucket",
    severity: Severity::Critical,
    rationale: "A publicly writable bucket lets anyone plant malware or replace files others trust, and run up the bill.",
    remediation: "Remove the AllUsers/AuthenticatedUsers write grants and the Principal * write statements; turn on Block Public Access.",
    cli: &["aws s3api put-bucket-acl --bucket <bucket> --acl private", "aws s3api delete-bucket-policy --bucket <bucket>"],
    frameworks: &[],
    eval: |cx, out| {
        let Some(names) = buckets(cx, out) else { return };
        for b in names {
            let arn = format!("arn:aws:s3:::{b}");
            let acl = cx.doc(GLOBAL, &format!("s3-get-bucket-acl/{b}"));
            let pol_key = format!("s3-get-bucket-policy/{b}");
            let pol = match cx.snap.entry(GLOBAL, &pol_key) {
                Some(Entry::Ok { data }) => Ok(Some(data)),
                Some(Entry::NotConfigured { .. }) => Ok(None),
                other => Err(missing(&pol_key, other)),
            };
            let f = match (acl, pol) {
                (Ok(a), _) if acl_public_write(a) => cx.finding(GLOBAL, arn, Status::Fail, "the ACL grants write to everyone"),
                (_, Ok(Some(p))) if policy_public_write(p) => cx.finding(GLOBAL, arn, Status::Fail, "the bucket policy lets Principal * write"),
                (Ok(_), Ok(_)) => cx.finding(GLOBAL, arn, Status::Pass, "no public write grant"),
                (Err(e), _) | (_, Err(e)) => cx.finding(GLOBAL, arn, Status::Unknown, e),
            };
            out.push(f);
        }
    },
};

/// The policy's statements, whether the policy is stored as text (the API) or as JSON.
fn statements(policy: &Value) -> Vec<Value> {
    let doc: Value = match &policy["Policy"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

/// A Deny for everyone, on every S3 action, when `aws:SecureTransport` is false.
fn denies_plain_http(policy: &Value) -> bool {
    statements(policy).iter().any(|st| {
        let everyone = st["Principal"] == "*" || st["Principal"]["AWS"] == "*";
        let all_actions = match &st["Action"] {
            Value::String(s) => s == "*" || s.eq_ignore_ascii_case("s3:*"),
            Value::Array(a) => a
                .iter()
                .any(|x| x == "*" || x.as_str().is_some_and(|s| s.eq_ignore_ascii_case("s3:*"))),
            _ => false,
        };
        let insecure = ["Bool", "BoolIfExists"].iter().any(|op| {
            let v = &st["Condition"][*op]["aws:SecureTransport"];
            v == "false"
                || v == &Value::Bool(false)
                || v.as_array().is_some_and(|a| a.iter().any(|x| x == "false"))
        });
        st["Effect"] == "Deny" && everyone && all_actions && insecure
    })
}

pub static BUCKET_SECURE_TRANSPORT: Check = Check {
    id: "s3_bucket_denies_http",
    title: "Bucket policies deny requests not made over TLS",
    service: "s3",
    resource_type: "AWS::S3::Bucket",
    severity: Severity::Medium,
    rationale: "S3 accepts plain HTTP unless the bucket policy refuses it; data and signed requests then cross networks readable and replayable.",
    remediation: "Add a statement denying s3:* to Principal * when aws:SecureTransport is false, for the bucket and its objects.",
    cli: &["aws s3api put-bucket-policy --bucket <bucket> --policy '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::<bucket>\",\"arn:aws:s3:::<bucket>/*\"],\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}'"],
    frameworks: &[
            ("cis-5.0", &["2.1.1"]),
            ("pci-4.0", &["4.2.1"]),
            ("nist-800-53-r5", &["SC-8"]),
            ("nist-800-53-r4", &["SC-8"]),
            ("soc2", &["cc_6_7"]),
        ],
    eval: |cx, out| {
        let Some(names) = buckets(cx, out) else { return };
        for b in names {
            let arn = format!("arn:aws:s3:::{b}");
            let key = format!("s3-get-bucket-policy/{b}");
            out.push(match cx.snap.entry(GLOBAL, &key) {
                Some(Entry::Ok { data }) if denies_plain_http(data) => cx.finding(GLOBAL, arn, Status::Pass, "the policy denies aws:SecureTransport=false"),
                Some(Entry::Ok { .. }) => cx.finding(GLOBAL, arn, Status::Fail, "the policy does not deny plain HTTP"),
                Some(Entry::NotConfigured { .. }) => cx.finding(GLOBAL, arn, Status::Fail, "no bucket policy, so plain HTTP is allowed"),
                other => cx.finding(GLOBAL, arn, Status::Unknown, missing(&key, other)),
            });
        }
    },
};

#[cfg(test)]
mod tests {
    use super::denies_plain_http;
    use serde_json::json;

    #[test]
    fn a_deny_on_insecure_transport_for_everyone_counts_and_near_misses_do_not() {
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        assert!(denies_plain_http(&json!({ "Policy": deny })));
        // Allow instead of Deny, or only for one action, or only when TLS *is* used: no.
        for near in [
            deny.replace("Deny", "Allow"),
            deny.replace("s3:*", "s3:GetObject"),
            deny.replace("\"false\"", "\"true\""),
        ] {
            assert!(!denies_plain_http(&json!({ "Policy": near })), "{near}");
        }
    }
}
