//! Container service checks: ECR repositories, EKS clusters, ECS services and task definitions.

use serde_json::Value;

use crate::check::{Check, Severity, Status};

pub static ECR_TAG_IMMUTABILITY: Check = Check {
    id: "ecr_tag_immutability",
    title: "ECR repositories have immutable tags",
    service: "ecr",
    resource_type: "AWS::ECR::Repository",
    severity: Severity::High,
    rationale: "With mutable tags, anyone who can push can replace what `app:v1.4.2` means, and every deployment picks up the backdoored image.",
    remediation: "Set the repository's tag mutability to IMMUTABLE and deploy by digest.",
    cli: &["aws ecr put-image-tag-mutability --repository-name <repo> --image-tag-mutability IMMUTABLE"],
    frameworks: &[],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            match cx.doc(region, "ecr-describe-repositories") {
                Err(e) => out.push(cx.unknown(region, e)),
                Ok(d) => {
                    for r in d["repositories"].as_array().into_iter().flatten() {
                        let arn = r["repositoryArn"].as_str().unwrap_or("?");
                        out.push(match r["imageTagMutability"].as_str() {
                            Some("IMMUTABLE") | Some("IMMUTABLE_WITH_EXCLUSION") => cx.finding(region, arn, Status::Pass, "tags immutable"),
                            _ => cx.finding(region, arn, Status::Fail, "tags are mutable"),
                        });
                    }
                }
            }
        }
    },
};

pub static ECR_SCAN_ON_PUSH: Check = Check {
    id: "ecr_scan_on_push",
    title: "ECR images are scanned on push",
    service: "ecr",
    resource_type: "AWS::ECR::Repository",
    severity: Severity::Medium,
    rationale: "Scanning on push catches known-vulnerable images before they are deployed.",
    remediation: "Turn on scan on push for the repository, or a registry-wide scanning rule.",
    cli: &["aws ecr put-image-scanning-configuration --repository-name <repo> --image-scanning-configuration scanOnPush=true"],
    frameworks: &[("pci-4.0", &["11.3.1", "11.3.1.2", "11.3.1.3"])],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            let registry_wide = cx.doc(region, "ecr-get-registry-scanning-configuration").ok().is_some_and(|c| {
                c["scanningConfiguration"]["rules"].as_array().into_iter().flatten().any(|r| {
                    matches!(r["scanFrequency"].as_str(), Some("SCAN_ON_PUSH" | "CONTINUOUS_SCAN"))
                        && r["repositoryFilters"].as_array().into_iter().flatten().any(|f| f["filter"] == "*")
                })
            });
            match cx.doc(region, "ecr-describe-repositories") {
                Err(e) => out.push(cx.unknown(region, e)),
                Ok(d) => {
                    for r in d["repositories"].as_array().into_iter().flatten() {
                        let arn = r["repositoryArn"].as_str().unwrap_or("?");
                        let own = r["imageScanningConfiguration"]["scanOnPush"].as_bool() == Some(true);
                        out.push(if own || registry_wide {
                            cx.finding(region, arn, Status::Pass, "scanned on push")
                        } else {
                            cx.finding(region, arn, Status::Fail, "not scanned on push")
                        });
                    }
                }
            }
        }
    },
};

fn each_cluster(
    cx: &crate::check::Ctx<'_>,
    out: &mut Vec<crate::check::Finding>,
    f: &dyn Fn(&str, &serde_json::Value) -> (Status, String),
) {
    for region in cx.snap.regions() {
        let names = match cx.doc(region, "eks-list-clusters") {
            Ok(d) => d["clusters"].as_array().cloned().unwrap_or_default(),
            Err(e) => {
                out.push(cx.unknown(region, e));
                continue;
            }
        };
        for n in names.iter().filter_map(|n| n.as_str()) {
            match cx.doc(region, &format!("eks-describe-cluster/{n}")) {
                Ok(c) => {
                    let arn = c["cluster"]["arn"].as_str().unwrap_or(n);
                    let (s, why) = f(region, &c["cluster"]);
                    out.push(cx.finding(region, arn, s, why));
                }
                Err(e) => out.push(cx.finding(region, n, Status::Unknown, e)),
            }
        }
    }
}

pub static EKS_PUBLIC_ENDPOINT: Check = Check {
    id: "eks_endpoint_not_public",
    title: "EKS API endpoints are not open to the internet",
    service: "eks",
    resource_type: "AWS::EKS::Cluster",
    severity: Severity::High,
    rationale: "A public Kubernetes API endpoint open to 0.0.0.0/0 is one leaked kubeconfig away from an intruder.",
    remediation: "Make the endpoint private, or restrict public access to known CIDRs.",
    cli: &["aws eks update-cluster-config --name <cluster> --resources-vpc-config endpointPublicAccess=false,endpointPrivateAccess=true"],
    frameworks: &[(
            "pci-4.0",
            &["1.2.8", "1.3.1", "1.3.2", "1.4.2", "1.5.1", "A1.1.3"],
        )],
    eval: |cx, out| {
        each_cluster(cx, out, &|_, c| {
            let cfg = &c["resourcesVpcConfig"];
            if cfg["endpointPublicAccess"].as_bool() != Some(true) {
                return (Status::Pass, "endpoint is private".into());
            }
            let cidrs: Vec<&str> = cfg["publicAccessCidrs"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
            if cidrs.is_empty() || cidrs.iter().any(|c| harrier_events::cloudtrail::is_world(c)) {
                (Status::Fail, "public endpoint open to 0.0.0.0/0".into())
            } else {
                (Status::Pass, format!("public endpoint limited to {}", cidrs.join(", ")))
            }
        })
    },
};

pub static EKS_AUDIT_LOGGING: Check = Check {
    id: "eks_audit_logging",
    title: "EKS clusters send audit logs to CloudWatch Logs",
    service: "eks",
    resource_type: "AWS::EKS::Cluster",
    severity: Severity::Medium,
    rationale: "The Kubernetes audit log is the only record of kubectl exec, secret reads and RBAC changes.",
    remediation: "Enable the audit (and authenticator) control-plane log types.",
    cli: &["aws eks update-cluster-config --name <cluster> --logging '{\"clusterLogging\":[{\"types\":[\"audit\",\"authenticator\"],\"enabled\":true}]}'"],
    frameworks: &[(
            "pci-4.0",
            &[
                "10.2.1", "10.2.1.1", "10.2.1.2", "10.2.1.3", "10.2.1.4", "10.2.1.5", "10.2.1.6",
                "10.2.1.7", "10.2.2", "10.3.1", "10.6.3", "5.3.4", "A1.2.1",
            ],
        )],
    eval: |cx, out| {
        each_cluster(cx, out, &|_, c| {
            let on = c["logging"]["clusterLogging"].as_array().into_iter().flatten().any(|l| {
                l["enabled"].as_bool() == Some(true) && l["types"].as_array().into_iter().flatten().any(|t| t == "audit")
            });
            if on { (Status::Pass, "audit logging on".into()) } else { (Status::Fail, "audit logging off".into()) }
        })
    },
};

pub static ECS_PRIVILEGED: Check = Check {
    id: "ecs_task_definition_not_privileged",
    title: "No active ECS task definition runs a privileged container",
    service: "ecs",
    resource_type: "AWS::ECS::TaskDefinition",
    severity: Severity::High,
    rationale: "A privileged container has every capability and the host's devices: whoever gets a shell in it (ECS Exec, an exploited app) owns the instance.",
    remediation: "Register a new revision without `privileged: true` (add only the capabilities the app needs) and deregister the old one.",
    cli: &["aws ecs register-task-definition --cli-input-json file://taskdef-without-privileged.json", "aws ecs deregister-task-definition --task-definition <family>:<revision>"],
    frameworks: &[
            ("nist-800-53-r5", &["AC-6", "CM-7"]),
            ("nist-800-53-r4", &["AC-6", "CM-7"]),
            ("soc2", &["cc_6_1"]),
        ],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            let list = match cx.doc(region, "ecs-list-task-definitions") {
                Ok(d) => d,
                Err(e) => {
                    out.push(cx.unknown(region, e));
                    continue;
                }
            };
            for arn in list["taskDefinitionArns"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                let key = format!("ecs-describe-task-definition/{arn}");
                match cx.doc(region, &key) {
                    Ok(d) => {
                        let privileged: Vec<&str> = d["taskDefinition"]["containerDefinitions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|c| c["privileged"] == Value::Bool(true))
                            .map(|c| c["name"].as_str().unwrap_or("?"))
                            .collect();
                        out.push(if privileged.is_empty() {
                            cx.finding(region, arn, Status::Pass, "no privileged container")
                        } else {
                            cx.finding(region, arn, Status::Fail, format!("privileged container(s): {}", privileged.join(", ")))
                        });
                    }
                    Err(e) => out.push(cx.finding(region, arn, Status::Unknown, e)),
                }
            }
        }
    },
};

pub static ECS_EXEC: Check = Check {
    id: "ecs_service_exec_disabled",
    title: "ECS services do not keep ECS Exec enabled",
    service: "ecs",
    resource_type: "AWS::ECS::Service",
    severity: Severity::Medium,
    rationale: "ECS Exec gives an interactive shell in running tasks to anyone allowed ecs:ExecuteCommand; attackers with stolen keys use it to install tools in Fargate tasks. Enable it only while debugging.",
    remediation: "Turn ECS Exec off on the service (and force a new deployment so running tasks lose it); restrict ecs:ExecuteCommand to break-glass roles.",
    cli: &["aws ecs update-service --cluster <cluster> --service <service> --disable-execute-command --force-new-deployment"],
    frameworks: &[
            ("nist-800-53-r5", &["AC-6", "AC-17"]),
            ("nist-800-53-r4", &["AC-6", "AC-17"]),
            ("soc2", &["cc_6_1"]),
        ],
    eval: |cx, out| {
        for region in cx.snap.regions() {
            let clusters = match cx.doc(region, "ecs-list-clusters") {
                Ok(d) => d,
                Err(e) => {
                    out.push(cx.unknown(region, e));
                    continue;
                }
            };
            for cluster in clusters["clusterArns"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                match cx.doc(region, &format!("ecs-describe-services/{cluster}")) {
                    Ok(d) => {
                        for s in d["services"].as_array().into_iter().flatten() {
                            let arn = s["serviceArn"].as_str().unwrap_or("?");
                            out.push(if s["enableExecuteCommand"] == Value::Bool(true) {
                                cx.finding(region, arn, Status::Fail, "ECS Exec enabled")
                            } else {
                                cx.finding(region, arn, Status::Pass, "ECS Exec disabled")
                            });
                        }
                    }
                    Err(e) => out.push(cx.finding(region, cluster, Status::Unknown, e)),
                }
            }
        }
    },
};
