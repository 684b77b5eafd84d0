//! CIS section 4 (Monitoring): for each kind of risky activity, a CloudWatch Logs metric filter
//! on the log group of a logging multi-region trail, and an alarm with actions on its metric.
//!
//! The filter pattern is compared term by term after removing whitespace, quotes and
//! brackets, so `{ ($.eventName = "DeleteTrail") || ... }` and `{$.eventName=DeleteTrail||...}`
//! are the same filter; it must name every event of the CIS pattern (a filter that watches only
//! some of them fails, with the missing ones in the reason).

use serde_json::Value;

use crate::check::{Check, Ctx, Finding, Severity, Status};

/// Whitespace, quotes and brackets removed.
fn normalize(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '(' | ')' | '{' | '}'))
        .collect()
}

/// `term` occurs in `pattern` as a whole term (not as the prefix of a longer name).
fn has_term(pattern: &str, term: &str) -> bool {
    let mut from = 0;
    while let Some(i) = pattern[from..].find(term) {
        let end = from + i + term.len();
        let next = pattern[end..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return true;
        }
        from = end;
    }
    false
}

/// The `(region, log group name)` of each logging multi-region trail that delivers to
/// CloudWatch Logs, or why that could not be read.
fn trail_groups(cx: &Ctx<'_>) -> Result<Vec<(String, String)>, String> {
    let mut groups = Vec::new();
    let mut read_any = false;
    let mut why = None;
    for region in cx.snap.regions() {
        match cx.doc(region, "cloudtrail-describe-trails") {
            Ok(d) => {
                read_any = true;
                for t in d["trailList"].as_array().into_iter().flatten() {
                    if t["IsMultiRegionTrail"] != Value::Bool(true) {
                        continue;
                    }
                    let Some(arn) = t["CloudWatchLogsLogGroupArn"].as_str() else {
                        continue;
                    };
                    // arn:aws:logs:<region>:<account>:log-group:<name>[:*]
                    let parts: Vec<&str> = arn.split(':').collect();
                    if parts.len() < 7 || parts[5] != "log-group" {
                        continue;
                    }
                    let g = (parts[3].to_string(), parts[6].to_string());
                    if super::logging::is_logging(cx, t) != Some(false) && !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
            Err(e) => why = Some(e),
        }
    }
    match (read_any, why) {
        (false, Some(e)) => Err(e),
        _ => Ok(groups),
    }
}

/// One monitoring check: every term must be in a filter on a trail's log group, whose metric
/// has an alarm with actions.
fn metric_alarm(cx: &Ctx<'_>, out: &mut Vec<Finding>, terms: &[&str]) {
    let account = cx.account();
    let groups = match trail_groups(cx) {
        Ok(g) => g,
        Err(e) => return out.push(cx.unknown("global", e)),
    };
    if groups.is_empty() {
        return out.push(cx.finding(
            "global",
            account,
            Status::Fail,
            "no logging multi-region trail delivers to CloudWatch Logs",
        ));
    }
    let terms: Vec<String> = terms.iter().map(|t| normalize(t)).collect();
    let mut reasons = Vec::new();
    let mut unknown = None;
    for (region, group) in &groups {
        let filters = match cx.doc(region, "logs-describe-metric-filters") {
            Ok(d) => d,
            Err(e) => {
                unknown = Some((region.clone(), e));
                continue;
            }
        };
        let mut best: Option<(usize, &Value)> = None;
        for f in filters["metricFilters"].as_array().into_iter().flatten() {
            if f["logGroupName"].as_str() != Some(group.as_str()) {
                continue;
            }
            let p = normalize(f["filterPattern"].as_str().unwrap_or(""));
            let missing = terms.iter().filter(|t| !has_term(&p, t)).count();
            if best.is_none_or(|(m, _)| missing < m) {
                best = Some((missing, f));
            }
        }
        let Some((0, filter)) = best else {
            let detail = match best {
                // A filter watching at least half of the events is this filter, incomplete;
                // below that it is some other filter.
                Some((m, f)) if 2 * m <= terms.len() => format!(
                    "filter {} on {group} misses {m} of {} required terms",
                    f["filterName"].as_str().unwrap_or("?"),
                    terms.len()
                ),
                _ => format!("no metric filter for this activity on log group {group}"),
            };
            reasons.push(detail);
            continue;
        };
        let alarms = match cx.doc(region, "cloudwatch-describe-alarms") {
            Ok(d) => d,
            Err(e) => {
                unknown = Some((region.clone(), e));
                continue;
            }
        };
        let metrics: Vec<(&str, &str)> = filter["metricTransformations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m["metricName"].as_str()?, m["metricNamespace"].as_str()?)))
            .collect();
        let alarmed = alarms["MetricAlarms"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| {
                metrics.iter().any(|(n, ns)| {
                    a["MetricName"].as_str() == Some(n) && a["Namespace"].as_str() == Some(ns)
                }) && a["ActionsEnabled"] != Value::Bool(false)
                    && a["AlarmActions"].as_array().is_some_and(|x| !x.is_empty())
            });
        match alarmed {
            Some(a) => {
                return out.push(cx.finding(
                    region,
                    account,
                    Status::Pass,
                    format!(
                        "filter {} on {group} with alarm {}",
                        filter["filterName"].as_str().unwrap_or("?"),
                        a["AlarmName"].as_str().unwrap_or("?")
                    ),
                ))
            }
            None => reasons.push(format!(
                "filter {} on {group} has no alarm with actions on its metric",
                filter["filterName"].as_str().unwrap_or("?")
            )),
        }
    }
    out.push(match unknown {
        // A log group we could not read may hold the filter: that is not a fail.
        Some((region, e)) => cx.finding(&region, account, Status::Unknown, e),
        None => cx.finding("global", account, Status::Fail, reasons.join("; ")),
    });
}

macro_rules! monitoring {
    ($name:ident, $id:literal, $cis:literal, $title:literal, $sev:expr, $why:literal, $terms:expr) => {
        #[doc = $title]
        pub static $name: Check = Check {
            id: $id,
            title: $title,
            service: "cloudwatch",
            resource_type: "AWS::Logs::MetricFilter",
            severity: $sev,
            rationale: $why,
            remediation: concat!(
                "On the log group of the multi-region trail, create a metric filter with the CIS ",
                $cis,
                " pattern, an alarm on its metric (threshold 1, period 300 s) and an SNS topic with a subscriber as the alarm action."
            ),
            cli: &[
                "aws logs put-metric-filter --log-group-name <trail-log-group> --filter-name <name> --metric-transformations metricName=<name>,metricNamespace=CISBenchmark,metricValue=1 --filter-pattern '<pattern>'",
                "aws cloudwatch put-metric-alarm --alarm-name <name> --metric-name <name> --namespace CISBenchmark --statistic Sum --period 300 --threshold 1 --comparison-operator GreaterThanOrEqualToThreshold --evaluation-periods 1 --alarm-actions <sns-topic-arn>",
            ],
            frameworks: &[
                ("cis-5.0", &[$cis]),
                ("pci-4.0", &["10.2.1", "10.4.1.1"]),
                ("nist-800-53-r5", &["AU-6", "SI-4"]),
                ("nist-800-53-r4", &["AU-6", "SI-4"]),
                ("soc2", &["cc_7_2"]),
            ],
            eval: |cx, out| metric_alarm(cx, out, $terms),
        };
    };
}

monitoring!(UNAUTHORIZED_CALLS, "cloudwatch_alarm_unauthorized_api_calls", "4.1",
    "Unauthorized API calls raise an alarm", Severity::Medium,
    "Bursts of AccessDenied are how stolen credentials are first noticed: an attacker enumerates what the keys can do.",
    &["$.errorCode=*UnauthorizedOperation", "$.errorCode=AccessDenied*"]);
monitoring!(
    CONSOLE_NO_MFA,
    "cloudwatch_alarm_console_login_without_mfa",
    "4.2",
    "Console sign-in without MFA raises an alarm",
    Severity::Medium,
    "A console login without MFA is either a policy gap or a stolen password in use.",
    &[
        "$.eventName=ConsoleLogin",
        "$.additionalEventData.MFAUsed!=Yes"
    ]
);
monitoring!(ROOT_USAGE, "cloudwatch_alarm_root_usage", "4.3",
    "Use of the root user raises an alarm", Severity::High,
    "The root user can do anything and should never be used day to day; any use needs a human to look.",
    &["$.userIdentity.type=Root", "$.userIdentity.invokedBy NOT EXISTS", "$.eventType!=AwsServiceEvent"]);
monitoring!(IAM_CHANGES, "cloudwatch_alarm_iam_policy_changes", "4.4",
    "IAM policy changes raise an alarm", Severity::High,
    "Attackers who hold IAM rights grant themselves more (an inline iam:* policy, an admin group): policy changes must be seen.",
    &["$.eventName=DeleteGroupPolicy", "$.eventName=DeleteRolePolicy", "$.eventName=DeleteUserPolicy",
      "$.eventName=PutGroupPolicy", "$.eventName=PutRolePolicy", "$.eventName=PutUserPolicy",
      "$.eventName=CreatePolicy", "$.eventName=DeletePolicy", "$.eventName=CreatePolicyVersion",
      "$.eventName=DeletePolicyVersion", "$.eventName=AttachRolePolicy", "$.eventName=DetachRolePolicy",
      "$.eventName=AttachUserPolicy", "$.eventName=DetachUserPolicy", "$.eventName=AttachGroupPolicy",
      "$.eventName=DetachGroupPolicy"]);
monitoring!(
    TRAIL_CHANGES,
    "cloudwatch_alarm_cloudtrail_changes",
    "4.5",
    "CloudTrail configuration changes raise an alarm",
    Severity::High,
    "Stopping or changing the trail is how an attacker blinds the defenders before acting.",
    &[
        "$.eventName=CreateTrail",
        "$.eventName=UpdateTrail",
        "$.eventName=DeleteTrail",
        "$.eventName=StartLogging",
        "$.eventName=StopLogging"
    ]
);
monitoring!(
    CONSOLE_FAILURES,
    "cloudwatch_alarm_console_auth_failures",
    "4.6",
    "Failed console sign-ins raise an alarm",
    Severity::Low,
    "Repeated failed console logins show password guessing.",
    &[
        "$.eventName=ConsoleLogin",
        "$.errorMessage=Failed authentication"
    ]
);
monitoring!(CMK_DELETION, "cloudwatch_alarm_cmk_disable_or_deletion", "4.7",
    "Disabling or scheduling deletion of customer KMS keys raises an alarm", Severity::Medium,
    "Data encrypted under a deleted key is lost for good; disabling keys is also a ransom technique.",
    &["$.eventSource=kms.amazonaws.com", "$.eventName=DisableKey", "$.eventName=ScheduleKeyDeletion"]);
monitoring!(
    S3_POLICY_CHANGES,
    "cloudwatch_alarm_s3_bucket_policy_changes",
    "4.8",
    "S3 bucket policy changes raise an alarm",
    Severity::Medium,
    "A bucket made public by an ACL or policy change is the classic data leak.",
    &[
        "$.eventSource=s3.amazonaws.com",
        "$.eventName=PutBucketAcl",
        "$.eventName=PutBucketPolicy",
        "$.eventName=PutBucketCors",
        "$.eventName=PutBucketLifecycle",
        "$.eventName=PutBucketReplication",
        "$.eventName=DeleteBucketPolicy",
        "$.eventName=DeleteBucketCors",
        "$.eventName=DeleteBucketLifecycle",
        "$.eventName=DeleteBucketReplication"
    ]
);
monitoring!(
    CONFIG_CHANGES,
    "cloudwatch_alarm_config_changes",
    "4.9",
    "AWS Config configuration changes raise an alarm",
    Severity::Medium,
    "Stopping the configuration recorder hides what changes next.",
    &[
        "$.eventSource=config.amazonaws.com",
        "$.eventName=StopConfigurationRecorder",
        "$.eventName=DeleteDeliveryChannel",
        "$.eventName=PutDeliveryChannel",
        "$.eventName=PutConfigurationRecorder"
    ]
);
monitoring!(
    SG_CHANGES,
    "cloudwatch_alarm_security_group_changes",
    "4.10",
    "Security group changes raise an alarm",
    Severity::Medium,
    "Opening a security group to 0.0.0.0/0 is how attackers expose services or their own access.",
    &[
        "$.eventName=AuthorizeSecurityGroupIngress",
        "$.eventName=AuthorizeSecurityGroupEgress",
        "$.eventName=RevokeSecurityGroupIngress",
        "$.eventName=RevokeSecurityGroupEgress",
        "$.eventName=CreateSecurityGroup",
        "$.eventName=DeleteSecurityGroup"
    ]
);
monitoring!(
    NACL_CHANGES,
    "cloudwatch_alarm_nacl_changes",
    "4.11",
    "Network ACL changes raise an alarm",
    Severity::Medium,
    "Network ACL changes can open whole subnets.",
    &[
        "$.eventName=CreateNetworkAcl",
        "$.eventName=CreateNetworkAclEntry",
        "$.eventName=DeleteNetworkAcl",
        "$.eventName=DeleteNetworkAclEntry",
        "$.eventName=ReplaceNetworkAclEntry",
        "$.eventName=ReplaceNetworkAclAssociation"
    ]
);
monitoring!(
    GATEWAY_CHANGES,
    "cloudwatch_alarm_network_gateway_changes",
    "4.12",
    "Network gateway changes raise an alarm",
    Severity::Medium,
    "A new internet or customer gateway is a new path in or out of the network.",
    &[
        "$.eventName=CreateCustomerGateway",
        "$.eventName=DeleteCustomerGateway",
        "$.eventName=AttachInternetGateway",
        "$.eventName=CreateInternetGateway",
        "$.eventName=DeleteInternetGateway",
        "$.eventName=DetachInternetGateway"
    ]
);
monitoring!(
    ROUTE_CHANGES,
    "cloudwatch_alarm_route_table_changes",
    "4.13",
    "Route table changes raise an alarm",
    Severity::Medium,
    "Route changes redirect traffic, for exfiltration or interception.",
    &[
        "$.eventName=CreateRoute",
        "$.eventName=CreateRouteTable",
        "$.eventName=ReplaceRoute",
        "$.eventName=ReplaceRouteTableAssociation",
        "$.eventName=DeleteRouteTable",
        "$.eventName=DeleteRoute",
        "$.eventName=DisassociateRouteTable"
    ]
);
monitoring!(
    VPC_CHANGES,
    "cloudwatch_alarm_vpc_changes",
    "4.14",
    "VPC changes raise an alarm",
    Severity::Medium,
    "New VPCs and peerings connect networks that were meant to stay apart.",
    &[
        "$.eventName=CreateVpc",
        "$.eventName=DeleteVpc",
        "$.eventName=ModifyVpcAttribute",
        "$.eventName=AcceptVpcPeeringConnection",
        "$.eventName=CreateVpcPeeringConnection",
        "$.eventName=DeleteVpcPeeringConnection",
        "$.eventName=RejectVpcPeeringConnection",
        "$.eventName=AttachClassicLinkVpc",
        "$.eventName=DetachClassicLinkVpc",
        "$.eventName=DisableVpcClassicLink",
        "$.eventName=EnableVpcClassicLink"
    ]
);
monitoring!(
    ORG_CHANGES,
    "cloudwatch_alarm_organizations_changes",
    "4.15",
    "AWS Organizations changes raise an alarm",
    Severity::Medium,
    "Organization changes (accounts leaving, policies detached) undo guardrails for every account.",
    &[
        "$.eventSource=organizations.amazonaws.com",
        "$.eventName=AcceptHandshake",
        "$.eventName=AttachPolicy",
        "$.eventName=CreateAccount",
        "$.eventName=CreateOrganizationalUnit",
        "$.eventName=CreatePolicy",
        "$.eventName=DeclineHandshake",
        "$.eventName=DeleteOrganization",
        "$.eventName=DeleteOrganizationalUnit",
        "$.eventName=DeletePolicy",
        "$.eventName=DetachPolicy",
        "$.eventName=DisablePolicyType",
        "$.eventName=EnablePolicyType",
        "$.eventName=InviteAccountToOrganization",
        "$.eventName=LeaveOrganization",
        "$.eventName=MoveAccount",
        "$.eventName=RemoveAccountFromOrganization",
        "$.eventName=UpdatePolicy",
        "$.eventName=UpdateOrganizationalUnit"
    ]
);

#[cfg(test)]
mod tests {
    use super::{has_term, normalize};

    #[test]
    fn terms_match_whole_names_whatever_the_spacing() {
        let p = normalize(r#"{ ($.eventName = "DeleteTrail") || ($.eventName = StopLoggingX) }"#);
        assert!(has_term(&p, &normalize("$.eventName=DeleteTrail")));
        assert!(!has_term(&p, &normalize("$.eventName=StopLogging")));
        let p =
            normalize("{($.userIdentity.type=\"Root\") && ($.userIdentity.invokedBy NOT EXISTS)}");
        assert!(has_term(
            &p,
            &normalize("$.userIdentity.invokedBy NOT EXISTS")
        ));
    }
}
