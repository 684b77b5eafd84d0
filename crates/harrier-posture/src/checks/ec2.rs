//! EC2 and VPC checks: security groups, EBS encryption, flow logs.

use serde_json::Value;

use crate::check::{Check, Ctx, Finding, Severity, Status};

const ADMIN_PORTS: [i64; 7] = [22, 3389, 5985, 5986, 23, 2375, 6443];

fn is_world(cidr: &str) -> bool {
    harrier_events::cloudtrail::is_world(cidr)
}

/// Whether a permission admits 0.0.0.0/0 or ::/0.
fn open_to_world(perm: &Value) -> bool {
    perm["IpRanges"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["CidrIp"].as_str().is_some_and(is_world))
        || perm["Ipv6Ranges"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["CidrIpv6"].as_str().is_some_and(is_world))
}

/// The world-open ranges of one permission, with the admin ports they reach.
fn world_admin(perm: &Value) -> Option<String> {
    let world = open_to_world(perm);
    if !world {
        return None;
    }
    let proto = perm["IpProtocol"].as_str().unwrap_or("-1");
    if proto == "-1" {
        return Some("all traffic".into());
    }
    let (from, to) = (
        perm["FromPort"].as_i64().unwrap_or(0),
        perm["ToPort"].as_i64().unwrap_or(65535),
    );
    let hit: Vec<String> = ADMIN_PORTS
        .iter()
        .filter(|p| from <= **p && **p <= to)
        .map(|p| p.to_string())
        .collect();
    (!hit.is_empty()).then(|| format!("{proto} {}", hit.join(",")))
}

fn each_region(
    cx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    key: &str,
    f: &dyn Fn(&str, &Value, &mut Vec<Finding>),
) {
    for region in cx.snap.regions() {
        match cx.doc(region, key) {
            Ok(d) => f(region, d, out),
            Err(e) => out.push(cx.unknown(region, e)),
        }
    }
}

pub static SG_WORLD_ADMIN_PORTS: Check = Check {
    id: "ec2_sg_no_world_admin_ports",
    title: "No security group opens remote-administration ports to the world",
    service: "ec2",
    resource_type: "AWS::EC2::SecurityGroup",
    severity: Severity::Critical,
    rationale: "SSH, RDP, WinRM, Docker and Kubernetes API ports open to 0.0.0.0/0 or ::/0 are scanned and brute-forced within minutes.",
    remediation: "Remove the rule, or narrow it to known addresses; reach instances through SSM Session Manager or a bastion.",
    cli: &["aws ec2 revoke-security-group-ingress --group-id <sg> --protocol tcp --port 22 --cidr 0.0.0.0/0"],
    frameworks: &[
            ("cis-5.0", &["5.3", "5.4"]),
            (
                "pci-4.0",
                &["1.2.8", "1.3.1", "1.3.2", "1.4.2", "1.5.1", "A1.1.3"],
            ),
            ("nist-800-53-r5", &["AC-17", "CM-9", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
            ("soc2", &["cc_6_6", "cc_7_2"]),
        ],
    eval: |cx, out| {
        each_region(cx, out, "ec2-describe-security-groups", &|region, d, out| {
            for sg in d["SecurityGroups"].as_array().into_iter().flatten() {
                let id = sg["GroupId"].as_str().unwrap_or("?");
                let open: Vec<String> = sg["IpPermissions"].as_array().into_iter().flatten().filter_map(world_admin).collect();
                out.push(if open.is_empty() {
                    cx.finding(region, id, Status::Pass, "no admin port open to the world")
                } else {
                    cx.finding(region, id, Status::Fail, format!("open to the world: {}", open.join("; ")))
                });
            }
        })
    },
};

/// Whether a world-open permission reaches the CIFS/SMB ports (445, 139).
fn world_cifs(perm: &Value) -> bool {
    let world = open_to_world(perm);
    let proto = perm["IpProtocol"].as_str().unwrap_or("-1");
    let (from, to) = (
        perm["FromPort"].as_i64().unwrap_or(0),
        perm["ToPort"].as_i64().unwrap_or(65535),
    );
    world
        && (proto == "-1"
            || (matches!(proto, "tcp" | "6") && [445, 139].iter().any(|p| from <= *p && *p <= to)))
}

pub static SG_WORLD_CIFS: Check = Check {
    id: "ec2_sg_no_world_cifs",
    title: "No security group opens CIFS/SMB to the world",
    service: "ec2",
    resource_type: "AWS::EC2::SecurityGroup",
    severity: Severity::High,
    rationale: "SMB (445, 139) exposed to the internet is how worms such as WannaCry spread and how file shares leak.",
    remediation: "Remove the rule, or narrow it to the networks that mount the share.",
    cli: &["aws ec2 revoke-security-group-ingress --group-id <sg> --protocol tcp --port 445 --cidr 0.0.0.0/0"],
    frameworks: &[
            ("cis-5.0", &["5.1.2"]),
            ("pci-4.0", &["1.3.1", "1.4.1"]),
            ("nist-800-53-r5", &["SC-7", "AC-4"]),
            ("nist-800-53-r4", &["SC-7", "AC-4"]),
            ("soc2", &["cc_6_6"]),
        ],
    eval: |cx, out| {
        each_region(cx, out, "ec2-describe-security-groups", &|region, d, out| {
            for sg in d["SecurityGroups"].as_array().into_iter().flatten() {
                let id = sg["GroupId"].as_str().unwrap_or("?");
                let open = sg["IpPermissions"].as_array().into_iter().flatten().any(world_cifs);
                out.push(if open {
                    cx.finding(region, id, Status::Fail, "CIFS/SMB (445/139) open to the world")
                } else {
                    cx.finding(region, id, Status::Pass, "CIFS/SMB not open to the world")
                });
            }
        })
    },
};

pub static DEFAULT_SG: Check = Check {
    id: "ec2_default_sg_restricts_all",
    title: "Default security groups allow no traffic",
    service: "ec2",
    resource_type: "AWS::EC2::SecurityGroup",
    severity: Severity::Medium,
    rationale: "Resources launched without a chosen group land in the default one; it should let nothing through.",
    remediation: "Remove every inbound and outbound rule of each VPC's default security group.",
    cli: &["aws ec2 revoke-security-group-ingress --group-id <default sg> --ip-permissions '<rules>'", "aws ec2 revoke-security-group-egress --group-id <default sg> --ip-permissions '<rules>'"],
    frameworks: &[
            ("cis-5.0", &["5.5"]),
            ("nist-800-53-r5", &["AC-17", "AC-4", "CM-6", "CM-9", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
        ],
    eval: |cx, out| {
        each_region(cx, out, "ec2-describe-security-groups", &|region, d, out| {
            for sg in d["SecurityGroups"].as_array().into_iter().flatten().filter(|s| s["GroupName"] == "default") {
                let rules = sg["IpPermissions"].as_array().map_or(0, Vec::len) + sg["IpPermissionsEgress"].as_array().map_or(0, Vec::len);
                let id = sg["GroupId"].as_str().unwrap_or("?");
                out.push(if rules == 0 {
                    cx.finding(region, id, Status::Pass, "no rules")
                } else {
                    cx.finding(region, id, Status::Fail, format!("{rules} rule(s) in the default group"))
                });
            }
        })
    },
};

pub static EBS_DEFAULT_ENCRYPTION: Check = Check {
    id: "ec2_ebs_default_encryption",
    title: "EBS encryption by default is on in every region",
    service: "ec2",
    resource_type: "AWS::EC2::Region",
    severity: Severity::Medium,
    rationale: "Unencrypted volumes and snapshots leak data when copied or shared.",
    remediation: "Turn on EBS encryption by default in each region.",
    cli: &["aws ec2 enable-ebs-encryption-by-default --region <region>"],
    frameworks: &[
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
    eval: |cx, out| {
        each_region(
            cx,
            out,
            "ec2-get-ebs-encryption-by-default",
            &|region, d, out| {
                out.push(match d["EbsEncryptionByDefault"].as_bool() {
                    Some(true) => cx.finding(region, region, Status::Pass, "on"),
                    Some(false) => cx.finding(region, region, Status::Fail, "off"),
                    None => cx.finding(
                        region,
                        region,
                        Status::Unknown,
                        "no EbsEncryptionByDefault in the answer",
                    ),
                });
            },
        )
    },
};

pub static VPC_FLOW_LOGS: Check = Check {
    id: "vpc_flow_logs_enabled",
    title: "Every VPC has flow logs",
    service: "ec2",
    resource_type: "AWS::EC2::VPC",
    severity: Severity::Medium,
    rationale: "Without flow logs there is no record of what talked to what during an incident.",
    remediation: "Create a flow log for the VPC (REJECT at least, ALL preferably).",
    cli: &["aws ec2 create-flow-logs --resource-type VPC --resource-ids <vpc> --traffic-type ALL --log-destination-type s3 --log-destination <bucket arn>"],
    frameworks: &[
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
    eval: |cx, out| {
        for region in cx.snap.regions() {
            let (vpcs, logs) = match (cx.doc(region, "ec2-describe-vpcs"), cx.doc(region, "ec2-describe-flow-logs")) {
                (Ok(v), Ok(l)) => (v, l),
                (Err(e), _) | (_, Err(e)) => {
                    out.push(cx.unknown(region, e));
                    continue;
                }
            };
            let with_logs: Vec<&str> = logs["FlowLogs"].as_array().into_iter().flatten().filter_map(|l| l["ResourceId"].as_str()).collect();
            for v in vpcs["Vpcs"].as_array().into_iter().flatten() {
                let id = v["VpcId"].as_str().unwrap_or("?");
                out.push(if with_logs.contains(&id) {
                    cx.finding(region, id, Status::Pass, "flow logs on")
                } else {
                    cx.finding(region, id, Status::Fail, "no flow log")
                });
            }
        }
    },
};

/// Whether a network ACL admits `port` (TCP) from the internet: its ingress entries for a
/// world-wide source range are evaluated in rule-number order and the first that covers the
/// port decides, as AWS does.
fn nacl_admits(acl: &Value, port: i64) -> bool {
    let mut entries: Vec<&Value> = acl["Entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["Egress"] != Value::Bool(true))
        .filter(|e| {
            e["CidrBlock"].as_str().is_some_and(is_world)
                || e["Ipv6CidrBlock"].as_str().is_some_and(is_world)
        })
        .collect();
    entries.sort_by_key(|e| e["RuleNumber"].as_i64().unwrap_or(i64::MAX));
    for e in entries {
        let proto = e["Protocol"].as_str().unwrap_or("-1");
        let covers = match proto {
            "-1" => true,
            "6" | "tcp" => {
                let r = &e["PortRange"];
                r["From"].as_i64().unwrap_or(0) <= port && port <= r["To"].as_i64().unwrap_or(65535)
            }
            _ => false,
        };
        if covers {
            return e["RuleAction"].as_str() == Some("allow");
        }
    }
    false
}

pub static NACL_WORLD_ADMIN_PORTS: Check = Check {
    id: "ec2_nacl_no_world_admin_ports",
    title: "No network ACL admits remote-administration ports from the world",
    service: "ec2",
    resource_type: "AWS::EC2::NetworkAcl",
    severity: Severity::Medium,
    rationale: "Network ACLs are the subnet-wide layer under security groups: one that admits SSH or RDP from anywhere leaves a single security-group mistake between the internet and the host.",
    remediation: "Add a deny entry for 0.0.0.0/0 and ::/0 on ports 22 and 3389 with a rule number below the allow entries, or narrow the allow entries to known ranges.",
    cli: &["aws ec2 create-network-acl-entry --network-acl-id <acl> --ingress --rule-number 50 --protocol tcp --port-range From=22,To=22 --cidr-block 0.0.0.0/0 --rule-action deny"],
    frameworks: &[
            ("cis-5.0", &["5.2"]),
            ("pci-4.0", &["1.2.8", "1.3.1", "1.3.2", "1.4.2"]),
            ("nist-800-53-r5", &["AC-4", "SC-7"]),
            ("nist-800-53-r4", &["AC-4", "SC-7"]),
            ("soc2", &["cc_6_6"]),
        ],
    eval: |cx, out| {
        each_region(cx, out, "ec2-describe-network-acls", &|region, d, out| {
            for acl in d["NetworkAcls"].as_array().into_iter().flatten() {
                let id = acl["NetworkAclId"].as_str().unwrap_or("?");
                let open: Vec<String> = [22, 3389]
                    .into_iter()
                    .filter(|p| nacl_admits(acl, *p))
                    .map(|p| p.to_string())
                    .collect();
                out.push(if open.is_empty() {
                    cx.finding(region, id, Status::Pass, "admin ports not admitted from the world")
                } else {
                    cx.finding(region, id, Status::Fail, format!("admits port(s) {} from the world", open.join(",")))
                });
            }
        })
    },
};

#[cfg(test)]
mod tests {
    use super::nacl_admits;
    use serde_json::json;

    fn acl(entries: serde_json::Value) -> serde_json::Value {
        json!({"NetworkAclId": "acl-1", "Entries": entries})
    }

    #[test]
    fn default_allow_all_nacl_admits_ssh() {
        let a = acl(json!([
            {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
            {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "0.0.0.0/0"},
        ]));
        assert!(nacl_admits(&a, 22));
    }

    #[test]
    fn a_lower_numbered_deny_wins_and_egress_and_private_ranges_do_not_count() {
        let a = acl(json!([
            {"RuleNumber": 50, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}},
            {"RuleNumber": 60, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 3389, "To": 3389}},
            {"RuleNumber": 70, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"},
            {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 0, "To": 1024}},
        ]));
        assert!(!nacl_admits(&a, 22));
        assert!(!nacl_admits(&a, 3389));
        assert!(nacl_admits(&a, 80) && !nacl_admits(&a, 8080));
    }
}
