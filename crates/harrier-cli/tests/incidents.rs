//! `harrier detect --incidents` on the README's story: one incident across CloudTrail,
//! Kubernetes audit and the runtime sensor.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn detect(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["detect", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_story_is_one_incident_with_every_alert_and_the_tactics_in_order() {
    let s = samples();
    let all = detect(&[s.to_str().unwrap(), "--incidents"]);
    let (incidents, alerts): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|v| v["type"] == "incident");
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let inc = incidents[0];
    // Every alert of the three sources is in it.
    let mut ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut held: Vec<&str> = inc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort();
    held.sort();
    assert_eq!(ids, held);
    let sources: std::collections::BTreeSet<&str> = inc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["aws_cloudtrail", "k8s_audit", "syscall"]
    );
    // It names the leaked key's user, and the key.
    let principals: Vec<&str> = inc["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        principals.contains(&"arn:aws:iam::111122223333:user/alice"),
        "{principals:?}"
    );
    assert!(inc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "access_key" && e["value"] == "AKIAEXAMPLEALICE0001"));
    // Tactics in the order they happened: persistence first, the miner's execution after the
    // cloud steps, impact later.
    let tactics: Vec<&str> = inc["tactics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tactic"].as_str().unwrap())
        .collect();
    let at = |t: &str| {
        tactics
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("{t} missing: {tactics:?}"))
    };
    assert_eq!(tactics[0], "Persistence");
    assert!(at("Persistence") < at("Defense Evasion") && at("Defense Evasion") < at("Execution"));
    assert!(at("Execution") < at("Impact"));
    let times: Vec<&str> = inc["tactics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["first_seen"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(inc["severity"], "Critical");
}

#[test]
fn the_runtime_file_alone_is_two_stories_the_pod_and_the_fargate_task() {
    // Without the CloudTrail and audit records that tie them to alice, the nginx pod and the
    // Fargate task share nothing (different containers, hosts and images): two incidents.
    let f = samples().join("runtime-story.jsonl");
    let all = detect(&[f.to_str().unwrap(), "--incidents"]);
    let incidents: Vec<&Value> = all.iter().filter(|v| v["type"] == "incident").collect();
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
}

#[test]
fn stored_incidents_are_listed_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let s = samples();
    let all = detect(&[
        s.to_str().unwrap(),
        "--incidents",
        "--store",
        "--state-dir",
        state,
    ]);
    let id = all.iter().find(|v| v["type"] == "incident").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let harrier = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_harrier"))
            .args(args)
            .args(["--state-dir", state])
            .output()
            .unwrap()
    };
    let list = harrier(&["incidents", "list", "--format", "json"]);
    assert!(list.status.success());
    let listed: Vec<Value> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["alerts"].as_array().unwrap().len(), 25);
    let show = harrier(&["incidents", "show", &id]);
    assert!(show.status.success());
    let text = String::from_utf8(show.stdout).unwrap();
    assert!(
        text.starts_with(&format!("INCIDENT {id} Critical")) && text.contains("timeline:"),
        "{text}"
    );
    // Storing again (a second run over the same files) keeps one incident.
    detect(&[
        s.to_str().unwrap(),
        "--incidents",
        "--store",
        "--state-dir",
        state,
    ]);
    let list = harrier(&["incidents", "list"]);
    assert_eq!(String::from_utf8(list.stdout).unwrap().lines().count(), 1);
    let missing = harrier(&["incidents", "show", "inc-nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("inc-nope"));
}

fn shared_corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/cloudtrail")
        .join(rel)
}

fn runs_of(inc: &Value) -> Vec<String> {
    inc["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "tool_run")
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_recorded_stratus_technique_is_its_own_incident() {
    // 35 techniques, each recorded in its own account: one incident per technique file.
    let all = detect(&[
        shared_corpus("stratus-red-team").to_str().unwrap(),
        "--incidents",
    ]);
    let incidents: Vec<&Value> = all.iter().filter(|v| v["type"] == "incident").collect();
    assert_eq!(incidents.len(), 35);
    let mut accounts: Vec<&str> = incidents
        .iter()
        .map(|i| {
            let acct: Vec<&Value> = i["entities"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "account")
                .collect();
            assert_eq!(acct.len(), 1, "{i:#}");
            acct[0]["value"].as_str().unwrap()
        })
        .collect();
    accounts.sort();
    accounts.dedup();
    assert_eq!(accounts.len(), 35);
}

#[test]
fn one_operator_key_running_many_techniques_gives_one_incident_per_run() {
    // Invictus's recording: one operator's IAM user and key ran the techniques minutes apart;
    // each run's calls carry `stratus-red-team_<uuid>` in the user agent. Every incident
    // holds exactly one run, and no run is split. The one incident without a run is the
    // Terraform clean-up deleting two trails and a log group (Critical: a trail deleted).
    let all = detect(&[
        shared_corpus("invictus-ir").to_str().unwrap(),
        "--incidents",
    ]);
    let incidents: Vec<&Value> = all.iter().filter(|v| v["type"] == "incident").collect();
    let mut runs = Vec::new();
    let mut without = Vec::new();
    for i in &incidents {
        let r = runs_of(i);
        assert!(r.len() <= 1, "{i:#}");
        match r.into_iter().next() {
            Some(r) => runs.push(r),
            None => without.push(i),
        }
    }
    let n = runs.len();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), n, "a run split over incidents");
    assert_eq!(n, 23);
    assert_eq!(without.len(), 1);
    let rules: Vec<&str> = without[0]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules
            .iter()
            .all(|r| r.contains("Trail Stopped Or Deleted") || r.contains("Log Group")),
        "{rules:?}"
    );
}

#[test]
fn baselines_learned_by_one_run_are_used_by_the_next() {
    // Run 1 learns eight days of alice's key from her office with the CLI; run 2 (a new
    // process) sees the key from a new network with a new client: raised, because the
    // learning period was stored with the baseline. Without the store, run 2 alone is
    // still learning and raises nothing.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let call = |day: u32, ip: &str, ua: &str| {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAALICE","userName":"alice"}},"eventTime":"2026-11-{day:02}T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"{ua}","eventID":"e{day}{ip}","recipientAccountId":"111122223333"}}"#
        )
    };
    let history: Vec<String> = (1..=9)
        .map(|d| call(d, "198.51.100.7", "aws-cli/2.15.0 Python/3.11"))
        .collect();
    let h = dir.path().join("history.json");
    std::fs::write(&h, format!("{{\"Records\":[{}]}}", history.join(","))).unwrap();
    let leak = dir.path().join("leak.json");
    std::fs::write(
        &leak,
        format!(
            "{{\"Records\":[{}]}}",
            call(10, "45.9.20.1", "Mozilla/5.0 (X11)")
        ),
    )
    .unwrap();
    let anomaly = "Anomaly: Access Key Used From A New Network And Client";
    let run = |f: &PathBuf, store: bool| {
        let mut args = vec![f.to_str().unwrap(), "--anomalies"];
        if store {
            args.extend(["--store", "--state-dir", state.to_str().unwrap()]);
        }
        detect(&args)
            .iter()
            .filter(|a| a["rule"] == anomaly)
            .count()
    };
    assert_eq!(run(&leak, false), 0, "a first run is learning");
    assert_eq!(run(&h, true), 0, "history is normal");
    assert_eq!(
        run(&leak, true),
        1,
        "the stored baseline is past its learning period"
    );
}
