//! One test per link, per exclusion, and for the window.

use harrier_alerts::AlertRecord;
use harrier_events::cloudtrail::CloudTrailEvent;
use harrier_events::k8saudit::K8sAuditEvent;
use harrier_events::lazy::Scratch;
use harrier_events::syscall::SyscallEvent;
use harrier_rules::Priority;

use crate::{Correlator, Entity, Extractor, Kind, Options, Tactic};

const H: i64 = 3600 * 1_000_000_000;

fn ct(json: &str) -> Vec<Entity> {
    let s = Scratch::default();
    Extractor::new().entities(&CloudTrailEvent::new(json.as_bytes(), 0, &s))
}

fn k8s(json: &str) -> Vec<Entity> {
    let s = Scratch::default();
    Extractor::new().entities(&K8sAuditEvent::new(json.as_bytes(), 0, &s))
}

fn sys(json: &str) -> Vec<Entity> {
    let s = Scratch::default();
    Extractor::new().entities(&SyscallEvent::new(json.as_bytes(), 0, &s))
}

fn alert(rule: &str, t: i64, tags: &[&str]) -> AlertRecord {
    AlertRecord {
        time_ns: t,
        rule: rule.into(),
        priority: Priority::Warning,
        source: "aws_cloudtrail".into(),
        output: rule.into(),
        output_fields: vec![],
        tags: tags.iter().map(|t| t.to_string()).collect(),
        hostname: "h".into(),
        event_id: Some(format!("{rule}-{t}")),
        rule_file: "r".into(),
        event: None,
        entities: None,
    }
}

fn has(es: &[Entity], kind: Kind, v: &str) -> bool {
    es.iter().any(|e| e.kind == kind && e.value == v)
}

fn incidents(pairs: Vec<(AlertRecord, Vec<Entity>)>) -> Vec<Vec<String>> {
    let mut c = Correlator::new(Options::default());
    for (a, e) in pairs {
        c.observe(&a, e);
    }
    c.incidents()
        .into_iter()
        .map(|i| i.alerts.into_iter().map(|a| a.rule).collect())
        .collect()
}

const ALICE_KEY: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAALICE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEALICE0001","userName":"alice"},"eventTime":"2026-11-20T10:04:28Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.15.0","requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"accessKeyId":"AKIAEXAMPLEBOB000002","userName":"bob"}},"eventID":"e1","recipientAccountId":"111122223333"}"#;

#[test]
fn cloudtrail_names_principal_key_ip_and_the_key_made_for_another_user() {
    let e = ct(ALICE_KEY);
    assert!(has(
        &e,
        Kind::Principal,
        "arn:aws:iam::111122223333:user/alice"
    ));
    assert!(has(&e, Kind::AccessKey, "AKIAEXAMPLEALICE0001"));
    assert!(has(&e, Kind::SourceIp, "198.51.100.23"));
    assert!(has(&e, Kind::UserAgent, "aws-cli"));
    assert!(has(&e, Kind::Account, "111122223333"));
    // CreateAccessKey's response links the new key to the user it was made for.
    assert!(has(&e, Kind::AccessKey, "AKIAEXAMPLEBOB000002"));
    assert!(has(
        &e,
        Kind::TargetPrincipal,
        "arn:aws:iam::111122223333:user/bob"
    ));
    assert!(
        !has(&e, Kind::Principal, "arn:aws:iam::111122223333:user/bob"),
        "bob is not an actor"
    );
    // Later, the new key used from elsewhere joins the same incident.
    let bob_use = ct(
        r#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEBOB000002"},"eventTime":"2026-11-20T12:00:00Z","eventName":"StopLogging","sourceIPAddress":"203.0.113.50","eventID":"e2"}"#,
    );
    let got = incidents(vec![
        (alert("Key For Another User", 0, &[]), e),
        (alert("Trail Stopped", H, &[]), bob_use),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn eks_identity_links_a_kubectl_exec_to_the_iam_key() {
    let exec = k8s(
        r#"{"kind":"Event","auditID":"a1","stage":"ResponseStarted","verb":"create","user":{"username":"kubernetes-admin","extra":{"accessKeyId":["AKIAEXAMPLEALICE0001"],"arn":["arn:aws:iam::111122223333:user/alice"]}},"sourceIPs":["192.0.2.77"],"objectRef":{"resource":"pods","namespace":"web","name":"nginx-7c9f","subresource":"exec"},"stageTimestamp":"2026-11-20T11:01:00Z"}"#,
    );
    assert!(has(&exec, Kind::AccessKey, "AKIAEXAMPLEALICE0001"));
    assert!(has(&exec, Kind::Pod, "web/nginx-7c9f"));
    assert!(has(&exec, Kind::K8sUser, "kubernetes-admin"));
    // A different source IP: only the EKS identity links them.
    let got = incidents(vec![
        (alert("Key Created", 0, &[]), ct(ALICE_KEY)),
        (alert("Exec Into Pod", H, &[]), exec.clone()),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
    // Near miss: without the extra identity, nothing links.
    let plain = k8s(
        r#"{"kind":"Event","auditID":"a2","user":{"username":"dev@example.com"},"sourceIPs":["192.0.2.77"],"objectRef":{"resource":"pods","namespace":"web","name":"api-1","subresource":"exec"},"stageTimestamp":"2026-11-20T11:01:00Z"}"#,
    );
    let got = incidents(vec![
        (alert("Key Created", 0, &[]), ct(ALICE_KEY)),
        (alert("Exec Into Pod", H, &[]), plain),
    ]);
    assert_eq!(got.len(), 2, "{got:?}");
}

const NGINX_PROC: &str = r#"{"source":"syscall","ts":1732100472000000000,"hostname":"node-1","evt":{"type":"execve"},"proc":{"name":"xmrig"},"container":{"id":"3f2a6b1c9d0e","full_id":"3f2a6b1c9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a","image":"111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v1.4.2"},"k8s":{"pod":{"name":"nginx-7c9f"},"ns":{"name":"web"}}}"#;

#[test]
fn a_pod_links_the_exec_to_the_process_in_its_container() {
    let proc = sys(NGINX_PROC);
    assert!(has(&proc, Kind::Pod, "web/nginx-7c9f"));
    assert!(has(&proc, Kind::Container, "3f2a6b1c9d0e"));
    assert!(has(&proc, Kind::Image, "web:v1.4.2"));
    assert!(has(&proc, Kind::Host, "node-1"));
    let exec = k8s(
        r#"{"kind":"Event","auditID":"a1","user":{"username":"alice@example.com"},"objectRef":{"resource":"pods","namespace":"web","name":"nginx-7c9f","subresource":"exec"}}"#,
    );
    assert_eq!(
        incidents(vec![
            (alert("Exec", 0, &[]), exec),
            (alert("Miner", 60, &[]), proc)
        ])
        .len(),
        1
    );
    // Near miss: another pod of the same namespace and host stays apart.
    let other = sys(&NGINX_PROC
        .replace("nginx-7c9f", "api-55d")
        .replace("3f2a6b1c9d0e", "aaaaaaaaaaaa")
        .replace(
            "ecr.eu-west-1.amazonaws.com/web",
            "ecr.eu-west-1.amazonaws.com/api",
        ));
    let exec = k8s(
        r#"{"kind":"Event","auditID":"a1","user":{"username":"alice@example.com"},"objectRef":{"resource":"pods","namespace":"web","name":"nginx-7c9f","subresource":"exec"}}"#,
    );
    assert_eq!(
        incidents(vec![
            (alert("Exec", 0, &[]), exec),
            (alert("Miner", 60, &[]), other)
        ])
        .len(),
        2
    );
}

#[test]
fn an_ecs_task_links_execute_command_to_its_fargate_container() {
    let task = "5a1c2b3d4e5f60718293a4b5c6d7e8f9";
    let exec = ct(&format!(
        r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"eventName":"ExecuteCommand","sourceIPAddress":"198.51.100.23","requestParameters":{{"cluster":"prod","task":"arn:aws:ecs:eu-west-1:111122223333:task/prod/{task}"}},"eventID":"x"}}"#
    ));
    assert!(has(&exec, Kind::EcsTask, task));
    let fargate = sys(&format!(
        r#"{{"source":"syscall","evt":{{"type":"execve"}},"container":{{"id":"5a1c2b3d4e5f","full_id":"{task}-1527013210","runtime":"ecs"}}}}"#
    ));
    assert!(has(&fargate, Kind::EcsTask, task));
    assert_eq!(
        incidents(vec![
            (alert("ECS Exec", 0, &[]), exec),
            (alert("Botnet", 60, &[]), fargate)
        ])
        .len(),
        1
    );
}

#[test]
fn an_ecr_push_links_the_pusher_to_containers_running_that_image() {
    let push = ct(
        r#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"eventName":"PutImage","sourceIPAddress":"198.51.100.23","requestParameters":{"repositoryName":"web","imageTag":"v1.4.2"},"responseElements":{"image":{"imageId":{"imageDigest":"sha256:bbbb","imageTag":"v1.4.2"}}},"eventID":"p"}"#,
    );
    assert!(has(&push, Kind::Image, "web:v1.4.2"));
    assert!(has(&push, Kind::ImageDigest, "sha256:bbbb"));
    let proc = sys(&NGINX_PROC.replace("nginx-7c9f", "web-2"));
    assert_eq!(
        incidents(vec![
            (alert("Pushed By A Person", 0, &[]), push),
            (alert("Miner", 60, &[]), proc)
        ])
        .len(),
        1
    );
    // Public images link nothing: every cluster runs nginx.
    let public = sys(&NGINX_PROC.replace(
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v1.4.2",
        "nginx:1.25",
    ));
    assert!(!public.iter().any(|e| e.kind == Kind::Image));
}

#[test]
fn shared_things_do_not_join_two_actors() {
    let by = |user: &str, ip: &str| {
        ct(&format!(
            r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","accountId":"111122223333","accessKeyId":"AKIA{user}"}},"eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2","eventID":"{user}"}}"#
        ))
    };
    // Same account, region, user agent; service and private addresses: apart.
    for ip in ["AWS Internal", "10.1.2.3", "cloudformation.amazonaws.com"] {
        let got = incidents(vec![
            (alert("A", 0, &[]), by("carol", ip)),
            (alert("B", 60, &[]), by("dave", ip)),
        ]);
        assert_eq!(got.len(), 2, "{ip}: {got:?}");
    }
    // A public IP shared by two people links them (one office, one attacker's box)...
    let got = incidents(vec![
        (alert("A", 0, &[]), by("carol", "203.0.113.9")),
        (alert("B", 60, &[]), by("dave", "203.0.113.9")),
    ]);
    assert_eq!(got.len(), 1);
    // ...but one seen with more than three principals is a shared gateway and stops linking.
    let mut pairs: Vec<_> = ["u1", "u2", "u3", "u4"]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (
                alert(&format!("R{i}"), i as i64, &[]),
                by(u, "203.0.113.10"),
            )
        })
        .collect();
    pairs.push((alert("Late", 100, &[]), by("u5", "203.0.113.10")));
    let got = incidents(pairs);
    assert!(got.iter().any(|i| i == &["Late".to_string()]), "{got:?}");
}

#[test]
fn a_run_id_in_the_user_agent_names_one_run_of_a_tool() {
    use crate::entity::tool_run;
    let run = "stratus-red-team_39f95f43-cd2f-4beb-b69e-be60b6fe1f57";
    assert_eq!(tool_run(run), Some(run));
    assert_eq!(tool_run(&format!("[{run}]")), Some(run));
    // Terraform's set-up for the run carries the same id at the end of its agent.
    let tf = format!("APN/1.0 HashiCorp/1.0 Terraform/1.1.2 terraform-provider-aws/3.76.1 aws-sdk-go/1.44.10 (go1.19.3; linux; amd64) {run}");
    assert_eq!(tool_run(&tf), Some(run));
    assert_eq!(
        tool_run("aws-sdk-go-v2/1.32.3 os/linux md/GOARCH#amd64 exec-env/grimoire_095724e3-1fa0-4e3e-b68a-e8581d194380"),
        Some("grimoire_095724e3-1fa0-4e3e-b68a-e8581d194380")
    );
    // Near misses: ordinary clients, a bare id, an id that is not a UUID.
    for ua in [
        "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian md/command#iam.create-user",
        "Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-46-generic Botocore/1.29.165",
        "39f95f43-cd2f-4beb-b69e-be60b6fe1f57",
        "tool_39f95f43-cd2f-4beb-b69e-be60b6fe1f5z",
    ] {
        assert_eq!(tool_run(ua), None, "{ua}");
    }
}

#[test]
fn one_key_running_two_tool_runs_makes_two_incidents() {
    let call = |ua: &str, id: &str| {
        ct(&format!(
            r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/operator","accountId":"111122223333","accessKeyId":"AKIAOPERATOR"}},"eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"{ua}","eventID":"{id}"}}"#
        ))
    };
    let run1 = "stratus-red-team_11111111-1111-4111-8111-111111111111";
    let run2 = "stratus-red-team_22222222-2222-4222-8222-222222222222";
    assert!(has(&call(run1, "x"), Kind::ToolRun, run1));
    // Two runs by one key from one address, a minute apart: two incidents, each holding its
    // own set-up (Terraform with the run's id) and detonation.
    let got = incidents(vec![
        (
            alert("Setup1", 0, &[]),
            call(&format!("Terraform/1.1.2 {run1}"), "a"),
        ),
        (alert("Run1", 30, &[]), call(run1, "b")),
        (alert("Run2", 60, &[]), call(run2, "c")),
        (
            alert("Setup2", 61, &[]),
            call(&format!("Terraform/1.1.2 {run2}"), "d"),
        ),
    ]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.contains(&vec!["Setup1".to_string(), "Run1".to_string()]),
        "{got:?}"
    );
    // Without run ids the same calls are one actor: one incident.
    let got = incidents(vec![
        (alert("A", 0, &[]), call("aws-cli/2.15.0", "a")),
        (alert("B", 60, &[]), call("aws-cli/2.15.0", "b")),
    ]);
    assert_eq!(got.len(), 1, "{got:?}");
}

#[test]
fn the_window_bounds_links_and_memory() {
    let key = || vec![Entity::new(Kind::AccessKey, "AKIAEXAMPLE").unwrap()];
    assert_eq!(
        incidents(vec![
            (alert("A", 0, &[]), key()),
            (alert("B", 23 * H, &[]), key())
        ])
        .len(),
        1
    );
    assert_eq!(
        incidents(vec![
            (alert("A", 0, &[]), key()),
            (alert("B", 25 * H, &[]), key())
        ])
        .len(),
        2
    );
    // Out of order within the window still joins.
    assert_eq!(
        incidents(vec![
            (alert("B", 5 * H, &[]), key()),
            (alert("A", 0, &[]), key())
        ])
        .len(),
        1
    );
    // The index forgets what the window left behind.
    let mut c = Correlator::new(Options::default());
    for i in 0..10_000i64 {
        let e = vec![Entity::new(Kind::AccessKey, format!("AKIA{i}")).unwrap()];
        c.observe(&alert("R", i * H / 100, &[]), e);
    }
    assert!(c.indexed() < 4_096 + 2_500, "{} entries kept", c.indexed());
}

#[test]
fn a_service_forgets_closed_incidents() {
    let opts = Options {
        forget_closed: true,
        ..Options::default()
    };
    let mut c = Correlator::new(opts);
    for i in 0..20_000i64 {
        let e = vec![Entity::new(Kind::AccessKey, format!("AKIA{i}")).unwrap()];
        c.observe(&alert("R", i * H / 10, &[]), e);
        if i % 1000 == 0 {
            c.take_changed();
        }
    }
    // A day of alerts is 240 at this pace; what is kept stays near that, not 20,000.
    assert!(
        c.retained_alerts() < 4_096 + 1_000,
        "{} alerts kept",
        c.retained_alerts()
    );
    // detect's default keeps everything.
    let mut keep = Correlator::new(Options::default());
    for i in 0..5_000i64 {
        let e = vec![Entity::new(Kind::AccessKey, format!("AKIA{i}")).unwrap()];
        keep.observe(&alert("R", i * H / 10, &[]), e);
    }
    assert_eq!(keep.retained_alerts(), 5_000);
}

#[test]
fn a_chain_of_tactics_raises_the_severity() {
    let key = || vec![Entity::new(Kind::AccessKey, "AKIAEXAMPLE").unwrap()];
    let mut c = Correlator::new(Options::default());
    c.observe(&alert("Key Created", 0, &["mitre_persistence"]), key());
    c.observe(
        &alert("Logs Deleted", 60, &["mitre_defense_evasion"]),
        key(),
    );
    let two = c.incidents().remove(0);
    assert_eq!(two.severity, Priority::Error, "two tactics: at least Error");
    c.observe(&alert("Bucket Public", 120, &["mitre_impact"]), key());
    let three = c.incidents().remove(0);
    assert_eq!(three.severity, Priority::Critical);
    assert_eq!(
        three.tactics.iter().map(|t| t.0).collect::<Vec<_>>(),
        [Tactic::Persistence, Tactic::DefenseEvasion, Tactic::Impact]
    );
    let json = three.to_json();
    assert_eq!(json["type"], "incident");
    assert_eq!(json["alerts"].as_array().unwrap().len(), 3);
    // Near miss: one tactic, warnings stay warnings.
    let mut c = Correlator::new(Options::default());
    c.observe(&alert("Key Created", 0, &["mitre_persistence"]), key());
    c.observe(&alert("Key Created 2", 60, &["mitre_persistence"]), key());
    assert_eq!(c.incidents()[0].severity, Priority::Warning);
}

#[test]
fn opening_and_escalation_are_announced_once() {
    let key = || vec![Entity::new(Kind::AccessKey, "AKIAEXAMPLE").unwrap()];
    let mut c = Correlator::new(Options::default());
    let opened = c.observe(&alert("Key Created", 0, &["mitre_persistence"]), key());
    let Some(crate::Notice::Opened {
        id,
        severity: Priority::Warning,
    }) = opened
    else {
        panic!("{opened:?}")
    };
    let esc = c.observe(
        &alert("Logs Deleted", 60, &["mitre_defense_evasion"]),
        key(),
    );
    assert!(
        matches!(&esc, Some(crate::Notice::Escalated { id: i, from: Priority::Warning, to: Priority::Error, .. }) if *i == id),
        "{esc:?}"
    );
    assert_eq!(c.incidents()[0].id, id, "the id it was opened with");
    assert!(matches!(
        c.observe(&alert("Bucket Public", 120, &["mitre_impact"]), key()),
        Some(crate::Notice::Escalated {
            to: Priority::Critical,
            alerts: 3,
            ..
        })
    ));
    let changed = c.take_changed();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].alerts.len(), 3);
    assert!(c.take_changed().is_empty(), "nothing changed since");
    // Nothing new: no notice. Another actor: a notice of its own.
    assert_eq!(
        c.observe(&alert("Key Created 2", 130, &["mitre_persistence"]), key()),
        None
    );
    let other = vec![Entity::new(Kind::AccessKey, "AKIAOTHER").unwrap()];
    assert!(matches!(
        c.observe(&alert("Key Created", 140, &[]), other),
        Some(crate::Notice::Opened { .. })
    ));
}

mod baselines {
    use super::*;
    use crate::{Anomaly, BaselineOptions, Baselines};

    const DAY: i64 = 24 * H;

    fn time(ns: i64) -> String {
        harrier_events::time::format_iso8601(ns)
    }

    /// A call by alice at `t` ns from `ip` with `ua`.
    fn call(t: i64, ip: &str, ua: &str, service: &str, extra: &str) -> String {
        format!(
            r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAALICE"}},"eventTime":"{}","eventSource":"{service}","eventName":"ListThings","sourceIPAddress":"{ip}","userAgent":"{ua}","eventID":"{t}"{extra}}}"#,
            time(t)
        )
    }

    fn observe(b: &mut Baselines, json: &str) -> Vec<Anomaly> {
        let s = Scratch::default();
        b.observe(&CloudTrailEvent::new(json.as_bytes(), 0, &s))
            .into_iter()
            .map(|(a, _, _)| a)
            .collect()
    }

    const OFFICE_A: &str = "198.51.100.10";
    const OFFICE_B: &str = "203.0.113.20";
    const CLI: &str = "aws-cli/2.15.0 Python/3.11";
    const BOTO: &str = "Boto3/1.34.0 Python/3.12 Botocore/1.34.0";

    #[test]
    fn a_new_network_and_client_after_learning_stands_out_and_not_before() {
        let mut b = Baselines::new(BaselineOptions::default());
        // During the learning period, even a strange call only teaches.
        assert!(observe(&mut b, &call(0, OFFICE_A, CLI, "s3.amazonaws.com", "")).is_empty());
        assert!(observe(
            &mut b,
            &call(DAY, "192.0.2.99", BOTO, "s3.amazonaws.com", "")
        )
        .is_empty());
        // After it: a new network with a known client is not enough...
        assert!(observe(
            &mut b,
            &call(8 * DAY, "100.24.5.6", CLI, "s3.amazonaws.com", "")
        )
        .is_empty());
        // ...a new network and a new client at once is.
        let a = observe(
            &mut b,
            &call(9 * DAY, "45.9.20.1", "Mozilla/5.0", "s3.amazonaws.com", ""),
        );
        assert!(
            matches!(&a[..], [Anomaly::NewNetworkAndClient { client, also, .. }] if client == "console" && also.is_empty()),
            "{a:?}"
        );
        // From yet another network and client, in a region and at an hour the key never
        // used: the alert says so.
        let a = observe(
            &mut b,
            &call(
                10 * DAY + 3 * H,
                "45.9.77.1",
                "Terraform/1.5.0",
                "s3.amazonaws.com",
                r#","awsRegion":"ap-east-1""#,
            ),
        );
        let [Anomaly::NewNetworkAndClient { also, .. }] = &a[..] else {
            panic!("{a:?}")
        };
        assert_eq!(
            also,
            &[
                "a region it never used (ap-east-1)",
                "at an hour it is never used (03h UTC)"
            ]
        );
    }

    #[test]
    fn two_offices_are_both_normal() {
        let mut b = Baselines::new(BaselineOptions::default());
        for d in 0..8 {
            assert!(observe(
                &mut b,
                &call(d * DAY, OFFICE_A, CLI, "s3.amazonaws.com", "")
            )
            .is_empty());
            assert!(observe(
                &mut b,
                &call(d * DAY + H, OFFICE_B, BOTO, "s3.amazonaws.com", "")
            )
            .is_empty());
        }
        // Office B with the CLI, office A with boto3: known networks, known clients.
        assert!(observe(
            &mut b,
            &call(10 * DAY, "203.0.113.77", CLI, "s3.amazonaws.com", "")
        )
        .is_empty());
        assert!(observe(
            &mut b,
            &call(10 * DAY + H, OFFICE_A, BOTO, "s3.amazonaws.com", "")
        )
        .is_empty());
    }

    #[test]
    fn what_was_learned_survives_a_restart_through_its_profiles() {
        let mut b = Baselines::new(BaselineOptions::default());
        for d in 0..8 {
            observe(
                &mut b,
                &call(d * DAY, OFFICE_A, CLI, "s3.amazonaws.com", ""),
            );
        }
        let saved = b.take_changed_profiles();
        let subjects: Vec<&str> = saved.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "key:AKIAALICE",
                "principal:arn:aws:iam::111122223333:user/alice"
            ]
        );
        // Nothing new since: nothing to save.
        observe(
            &mut b,
            &call(8 * DAY, OFFICE_A, CLI, "s3.amazonaws.com", ""),
        );
        assert!(b.take_changed_profiles().is_empty());
        // A restart: the restored key is past its learning period, so a new network and
        // client at once is raised at once...
        let leaked = call(9 * DAY, "45.9.20.1", "Mozilla/5.0", "s3.amazonaws.com", "");
        let mut restarted = Baselines::new(BaselineOptions::default());
        for (subject, profile) in &saved {
            restarted.restore_profile(subject, profile).unwrap();
        }
        assert!(
            matches!(
                &observe(&mut restarted, &leaked)[..],
                [Anomaly::NewNetworkAndClient { .. }]
            ),
            "restored"
        );
        // ...while a start without them would still be learning.
        let mut fresh = Baselines::new(BaselineOptions::default());
        assert!(observe(&mut fresh, &leaked).is_empty());
        // A damaged profile is refused with its subject and what was expected.
        let err = fresh
            .restore_profile(
                "key:AKIAX",
                r#"{"first_ns":1,"networks":["x"],"clients":[],"services":[]}"#,
            )
            .unwrap_err();
        assert!(
            err.contains("key:AKIAX") && err.contains("networks"),
            "{err}"
        );
        let err = fresh.restore_profile("bogus", "{}").unwrap_err();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn a_key_created_minutes_ago_used_from_elsewhere() {
        let create = |t: i64| {
            call(
                t,
                OFFICE_A,
                CLI,
                "iam.amazonaws.com",
                r#","responseElements":{"accessKey":{"accessKeyId":"AKIANEW"}}"#,
            )
            .replace("ListThings", "CreateAccessKey")
        };
        let use_new = |t: i64, ip: &str| {
            call(t, ip, BOTO, "s3.amazonaws.com", "").replace("AKIAALICE", "AKIANEW")
        };
        let mut b = Baselines::new(BaselineOptions::default());
        assert!(observe(&mut b, &create(0)).is_empty());
        let a = observe(&mut b, &use_new(10 * 60 * 1_000_000_000, "45.9.20.1"));
        assert!(
            matches!(&a[..], [Anomaly::NewKeyUsedElsewhere { key, .. }] if key == "AKIANEW"),
            "{a:?}"
        );
        // Near misses: used from the network that made it; or first used hours later.
        let mut b = Baselines::new(BaselineOptions::default());
        observe(&mut b, &create(0));
        assert!(observe(&mut b, &use_new(600_000_000_000, "198.51.100.200")).is_empty());
        let mut b = Baselines::new(BaselineOptions::default());
        observe(&mut b, &create(0));
        assert!(observe(&mut b, &use_new(3 * H, "45.9.20.1")).is_empty());
    }

    #[test]
    fn bursts_of_denials_and_sweeps_of_new_services() {
        let denied = r#","errorCode":"AccessDenied""#;
        let mut b = Baselines::new(BaselineOptions::default());
        let mut raised = 0;
        for i in 0..9 {
            raised += observe(
                &mut b,
                &call(
                    i * 1_000_000_000,
                    OFFICE_A,
                    CLI,
                    "iam.amazonaws.com",
                    denied,
                ),
            )
            .len();
        }
        assert_eq!(raised, 0, "nine denials: not a burst");
        let a = observe(
            &mut b,
            &call(10_000_000_000, OFFICE_A, CLI, "iam.amazonaws.com", denied),
        );
        assert!(
            matches!(&a[..], [Anomaly::AccessDeniedBurst { errors: 10 }]),
            "{a:?}"
        );
        assert!(
            observe(
                &mut b,
                &call(11_000_000_000, OFFICE_A, CLI, "iam.amazonaws.com", denied)
            )
            .is_empty(),
            "once per burst"
        );

        let mut b = Baselines::new(BaselineOptions::default());
        observe(&mut b, &call(0, OFFICE_A, CLI, "s3.amazonaws.com", ""));
        let mut found = Vec::new();
        for (i, svc) in [
            "ec2", "iam", "kms", "rds", "lambda", "sns", "sqs", "ecr", "eks", "ssm",
        ]
        .iter()
        .enumerate()
        {
            found.extend(observe(
                &mut b,
                &call(
                    8 * DAY + i as i64 * 60_000_000_000,
                    OFFICE_A,
                    CLI,
                    &format!("{svc}.amazonaws.com"),
                    "",
                ),
            ));
        }
        assert!(
            matches!(&found[..], [Anomaly::ServiceSweep { services: 10 }]),
            "{found:?}"
        );
        assert!(
            b.remembered() <= 3,
            "state per principal and key, not per event"
        );
    }
}

mod k8s_bursts {
    use super::*;
    use crate::k8s_watch::K8sBurst;
    use crate::{Anomaly, BaselineOptions, Baselines};

    fn audit(
        i: u32,
        ip: &str,
        user: &str,
        resource: &str,
        verb: &str,
        code: u32,
        stage: &str,
    ) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a{i}","stage":"{stage}","requestURI":"/api/v1/{resource}","verb":"{verb}","user":{{"username":"{user}"}},"sourceIPs":["{ip}"],"objectRef":{{"resource":"{resource}","apiVersion":"v1"}},"responseStatus":{{"code":{code}}},"requestReceivedTimestamp":"2026-11-20T11:{:02}:{:02}.000000Z","stageTimestamp":"2026-11-20T11:{:02}:{:02}.000000Z"}}"#,
            i / 60,
            i % 60,
            i / 60,
            i % 60
        )
    }

    fn observe(b: &mut Baselines, json: &str) -> Vec<Anomaly> {
        let s = Scratch::default();
        b.observe(&K8sAuditEvent::new(json.as_bytes(), 0, &s))
            .into_iter()
            .map(|(a, _, _)| a)
            .collect()
    }

    #[test]
    fn one_source_collecting_many_403s_is_one_burst() {
        let mut b = Baselines::new(BaselineOptions::default());
        let mut raised = Vec::new();
        for i in 0..30 {
            // Each request also logged at ResponseStarted: counted once.
            observe(
                &mut b,
                &audit(
                    i,
                    "203.0.113.8",
                    "stolen",
                    "pods",
                    "list",
                    403,
                    "ResponseStarted",
                ),
            );
            raised.extend(observe(
                &mut b,
                &audit(
                    i,
                    "203.0.113.8",
                    "stolen",
                    "pods",
                    "list",
                    403,
                    "ResponseComplete",
                ),
            ));
        }
        assert_eq!(
            raised,
            vec![Anomaly::K8s(K8sBurst::Forbidden { count: 20 })]
        );
        // Near misses: 19 refusals; 30 successful requests.
        let mut b = Baselines::new(BaselineOptions::default());
        for i in 0..19 {
            assert!(observe(
                &mut b,
                &audit(
                    i,
                    "203.0.113.9",
                    "u",
                    "pods",
                    "list",
                    403,
                    "ResponseComplete"
                )
            )
            .is_empty());
        }
        for i in 0..30 {
            assert!(observe(
                &mut b,
                &audit(
                    i,
                    "203.0.113.10",
                    "u",
                    "pods",
                    "list",
                    200,
                    "ResponseComplete"
                )
            )
            .is_empty());
        }
    }

    #[test]
    fn denied_secret_reads_by_one_user_are_a_burst() {
        let mut b = Baselines::new(BaselineOptions::default());
        let mut raised = Vec::new();
        for i in 0..6 {
            raised.extend(observe(
                &mut b,
                &audit(
                    i,
                    "10.0.0.5",
                    "system:serviceaccount:web:app",
                    "secrets",
                    "get",
                    403,
                    "ResponseComplete",
                ),
            ));
        }
        assert_eq!(
            raised,
            vec![Anomaly::K8s(K8sBurst::DeniedSecrets { count: 5 })]
        );
        assert_eq!(
            raised[0].rule(),
            "Anomaly: Burst Of Denied Kubernetes Secret Reads"
        );
        assert_eq!(raised[0].source_and_fields().0, "k8s_audit");
        // Near misses: four denied reads; denied configmap reads; allowed secret reads.
        let mut b = Baselines::new(BaselineOptions::default());
        for i in 0..4 {
            assert!(observe(
                &mut b,
                &audit(
                    i,
                    "10.0.0.6",
                    "bob",
                    "secrets",
                    "get",
                    403,
                    "ResponseComplete"
                )
            )
            .is_empty());
        }
        for i in 0..6 {
            assert!(observe(
                &mut b,
                &audit(
                    i,
                    "10.0.0.7",
                    "carol",
                    "configmaps",
                    "get",
                    403,
                    "ResponseComplete"
                )
            )
            .is_empty());
            assert!(observe(
                &mut b,
                &audit(
                    i,
                    "10.0.0.8",
                    "dave",
                    "secrets",
                    "list",
                    200,
                    "ResponseComplete"
                )
            )
            .is_empty());
        }
    }
}
