//! Falco's own CloudTrail rules (../shared/rules/falco/aws_cloudtrail_rules.yaml), loaded
//! unchanged: every one of the 22 rules fires on a real or crafted record, and does not fire on a
//! near-miss of that record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harrier_alerts::{Alert, AlertRecord, AlertSink, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use serde_json::{json, Value};

#[derive(Default)]
struct Capture(Vec<AlertRecord>);

impl AlertSink for Capture {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(alert.to_record());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// Falco's file, with the two rules it ships disabled switched on by an override file, as a user
/// would do.
fn falco_rules() -> RuleSet {
    let text = std::fs::read_to_string(shared("rules/falco/aws_cloudtrail_rules.yaml")).unwrap();
    let enable =
        "- rule: All Cloudtrail Events\n  enabled: true\n  override:\n    enabled: replace\n\
                  - rule: List Buckets\n  enabled: true\n  override:\n    enabled: replace\n";
    let (rules, diags) = RuleSet::load([
        ("aws_cloudtrail_rules.yaml", text.as_str()),
        ("enable.yaml", enable),
    ]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    rules
}

fn fired(rules: &RuleSet, record: &Value) -> Vec<String> {
    let mut d = Detector::new(rules, "test", Options::default());
    let mut sink = Capture::default();
    let bytes = serde_json::to_vec(record).unwrap();
    d.process_record(&bytes, 0, "test", &mut sink, &mut |p| panic!("{p}"))
        .unwrap();
    sink.0.into_iter().map(|a| a.rule).collect()
}

/// Every record of the corpora: (where it came from, the record).
fn corpus() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = [
        "corpus/cloudtrail/stratus-red-team",
        "corpus/cloudtrail/invictus-ir",
    ]
    .iter()
    .flat_map(|d| {
        std::fs::read_dir(shared(d))
            .unwrap()
            .map(|e| e.unwrap().path())
    })
    .filter(|p| p.extension().is_some_and(|x| x == "json"))
    .collect();
    files.sort();
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let records = match v {
            Value::Array(a) => a,
            Value::Object(mut o) => match o.remove("Records") {
                Some(Value::Array(a)) => a,
                _ => continue,
            },
            _ => continue,
        };
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        out.extend(
            records
                .into_iter()
                .enumerate()
                .map(|(i, r)| (format!("{name}#{i}"), r)),
        );
    }
    let panther =
        std::fs::read_to_string(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    for (i, line) in panther.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        // Some Panther tests hold events of other log types: only CloudTrail records count.
        if v["event"]["eventName"].is_string() {
            out.push((format!("panther#{i}"), v["event"].clone()));
        }
    }
    out
}

/// Records crafted for the rules no corpus record exercises.
fn crafted() -> Vec<(String, Value)> {
    let who = json!({"type": "Root", "userName": "root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"});
    let base = |name: &str, src: &str, req: Value| {
        json!({"eventName": name, "eventSource": format!("{src}.amazonaws.com"), "eventTime": "2026-11-20T10:00:00Z",
               "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.23", "userIdentity": who, "requestParameters": req,
               "eventID": format!("crafted-{name}")})
    };
    vec![
        (
            "crafted#DeactivateMFADevice".into(),
            base(
                "DeactivateMFADevice",
                "iam",
                json!({"userName": "AWS ROOT USER", "serialNumber": "arn:aws:iam::111122223333:mfa/root"}),
            ),
        ),
        (
            "crafted#CreateGroup".into(),
            base("CreateGroup", "iam", json!({"groupName": "ops"})),
        ),
        (
            "crafted#DeleteGroup".into(),
            base("DeleteGroup", "iam", json!({"groupName": "ops"})),
        ),
        (
            "crafted#CreateService".into(),
            base(
                "CreateService",
                "ecs",
                json!({"cluster": "prod", "serviceName": "web", "taskDefinition": "web:3"}),
            ),
        ),
        (
            "crafted#RunTask".into(),
            base(
                "RunTask",
                "ecs",
                json!({"cluster": "prod", "taskDefinition": "miner:1"}),
            ),
        ),
        (
            "crafted#PutBucketPublicAccessBlock".into(),
            base(
                "PutBucketPublicAccessBlock",
                "s3",
                json!({"bucketName": "b", "publicAccessBlock": "",
            "PublicAccessBlockConfiguration": {"RestrictPublicBuckets": false, "BlockPublicPolicy": true, "BlockPublicAcls": true, "IgnorePublicAcls": true}}),
            ),
        ),
    ]
}

/// The near-miss of a record that fired `rule`: the same call, but it failed (or, for the region
/// rule, was made in the approved region).
fn near_miss(rule: &str, record: &Value) -> Value {
    let mut r = record.clone();
    let o = r.as_object_mut().unwrap();
    if rule == "Run Instances in Non-approved Region" {
        o.insert("awsRegion".into(), json!("us-east-0"));
        o.remove("errorCode");
    } else if rule == "Delete Bucket Public Access Block" {
        o.insert("requestParameters".into(), json!({"bucketName": "b", "publicAccessBlock": "",
            "PublicAccessBlockConfiguration": {"RestrictPublicBuckets": true, "BlockPublicPolicy": true, "BlockPublicAcls": true, "IgnorePublicAcls": true}}));
    } else {
        o.insert("errorCode".into(), json!("AccessDenied"));
    }
    r
}

#[test]
fn all_22_falco_cloudtrail_rules_fire_where_they_should() {
    let rules = falco_rules();
    assert_eq!(rules.rules().len(), 22);
    let mut first_hit: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (origin, rec) in corpus().into_iter().chain(crafted()) {
        for rule in fired(&rules, &rec) {
            first_hit
                .entry(rule)
                .or_insert_with(|| (origin.clone(), rec.clone()));
        }
    }
    let missing: Vec<&str> = rules
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !first_hit.contains_key(*n))
        .collect();
    assert!(missing.is_empty(), "rules that never fired: {missing:?}");
    for (rule, (origin, rec)) in &first_hit {
        if rule == "All Cloudtrail Events" {
            continue;
        }
        let miss = fired(&rules, &near_miss(rule, rec));
        assert!(
            !miss.contains(rule),
            "{rule} fired on the near-miss of {origin}"
        );
    }
}

#[test]
fn named_stratus_techniques_raise_the_expected_falco_alerts() {
    let rules = falco_rules();
    let all = corpus();
    let hits = |prefix: &str, rule: &str| -> usize {
        all.iter()
            .filter(|(o, _)| o.starts_with(prefix))
            .filter(|(_, r)| fired(&rules, r).iter().any(|x| x == rule))
            .count()
    };
    assert_eq!(
        hits(
            "aws.defense-evasion.cloudtrail-stop.json#",
            "CloudTrail Logging Disabled"
        ),
        1
    );
    assert_eq!(
        hits(
            "aws.initial-access.console-login-without-mfa.json#",
            "Console Login Without MFA"
        ),
        1
    );
    assert!(
        hits(
            "aws.execution.ec2-launch-unusual-instances.json#",
            "Run Instances"
        ) == 0,
        "failed calls must not alert"
    );
}

#[test]
fn alerts_carry_falco_output_and_event_id() {
    let rules = falco_rules();
    let rec = corpus()
        .into_iter()
        .find(|(o, _)| o.starts_with("aws.defense-evasion.cloudtrail-stop.json"))
        .unwrap()
        .1;
    let mut d = Detector::new(&rules, "host-1", Options::default());
    let mut sink = Capture::default();
    let bytes = serde_json::to_vec(&rec).unwrap();
    d.process_record(&bytes, 0, "t", &mut sink, &mut |p| panic!("{p}"))
        .unwrap();
    let a = sink
        .0
        .iter()
        .find(|a| a.rule == "CloudTrail Logging Disabled")
        .unwrap();
    assert_eq!(
        a.output,
        "The CloudTrail logging has been disabled. (requesting user=christophe, requesting IP=86.245.153.234, AWS region=apiso-centralnorth-2r, resource name=stratus-red-team-ct-stop-trail-buykxbqejv)"
    );
    assert_eq!(
        a.event_id.as_deref(),
        Some("10163ed2-2253-469d-a5ee-cbc6651f8934")
    );
    assert_eq!(a.hostname, "host-1");
    assert_eq!(a.rule_file, "aws_cloudtrail_rules.yaml");
    assert_eq!(a.tags, vec!["cloud", "aws", "aws_cloudtrail"]);
    assert_eq!(d.stats.evaluated, 1);
}
