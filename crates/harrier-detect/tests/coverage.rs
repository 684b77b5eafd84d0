//! Coverage of the built-in rule pack, measured on the shared corpora, asserted, and written to
//! docs/coverage.md (`HARRIER_BLESS=1 cargo test -p harrier-detect --test coverage` rewrites
//! the page; the test fails when it is out of date or when a target is missed):
//!
//! - every step of the attack story (samples/attack-story.json) raises an alert;
//! - every Stratus Red Team technique raises at least one alert on its attack events;
//! - on the Invictus IR corpus, fewer than 2% of the events outside the attack runs alert;
//! - agreement with Panther's labelled tests of rules with the same intent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use harrier_alerts::{Alert, AlertRecord, AlertSink, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::RuleSet;
use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn shared(rel: &str) -> PathBuf {
    repo("../shared").join(rel)
}

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

fn pack() -> RuleSet {
    let mut files: Vec<PathBuf> = ["rules/aws", "rules/k8s", "rules/runtime"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(repo(d))
                .unwrap()
                .map(|e| e.unwrap().path())
        })
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).unwrap()))
        .collect();
    let (rules, diags) = RuleSet::load(texts.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    rules
}

fn fired(rules: &RuleSet, rec: &Value) -> Vec<String> {
    let mut d = Detector::new(rules, "coverage", Options::default());
    let mut sink = Capture::default();
    let bytes = serde_json::to_vec(rec).unwrap();
    d.process_record(&bytes, 0, "corpus", &mut sink, &mut |_| {})
        .unwrap();
    sink.0.into_iter().map(|a| a.rule).collect()
}

fn records(path: &Path) -> Vec<Value> {
    match serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap() {
        Value::Array(a) => a,
        mut o => o["Records"].take().as_array().cloned().unwrap_or_default(),
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

/// Panther rule id -> the Harrier rules with the same intent.
const PANTHER_MAP: [(&str, &[&str]); 27] = [
    (
        "AWS.CloudTrail.AMIModifiedForPublicAccess",
        &["AMI Shared Outside The Account"],
    ),
    (
        "AWS.CloudTrail.AttemptToLeaveOrg",
        &["Account Tried To Leave Organization"],
    ),
    (
        "AWS.CloudTrail.DNSLogsDeleted",
        &["Route 53 Resolver Query Logging Removed"],
    ),
    (
        "AWS.CloudTrail.EventSelectorsDisabled",
        &["CloudTrail Logging Reduced"],
    ),
    (
        "AWS.CloudTrail.LoginProfileCreatedOrModified",
        &["IAM Login Profile Created Or Updated"],
    ),
    (
        "AWS.CloudTrail.RootAccessKeyCreated",
        &["Root Access Key Created"],
    ),
    (
        "AWS.CloudTrail.SnapshotMadePublic",
        &[
            "EBS Snapshot Shared Outside The Account",
            "RDS Snapshot Shared Outside The Account",
        ],
    ),
    (
        "AWS.CloudTrail.Stopped",
        &["CloudTrail Trail Stopped Or Deleted"],
    ),
    (
        "AWS.Console.LoginWithoutMFA",
        &["Console Login Without MFA"],
    ),
    (
        "AWS.EC2.DownloadInstanceUserData",
        &["EC2 Instance User Data Read"],
    ),
    (
        "AWS.EC2.LaunchUnusualEC2Instances",
        &["Unusual EC2 Instance Type Launched"],
    ),
    (
        "AWS.EC2.ManyPasswordReadAttempts",
        &["EC2 Windows Password Data Requested"],
    ),
    (
        "AWS.EC2.Startup.Script.Change",
        &["EC2 Instance User Data Modified"],
    ),
    (
        "AWS.ConfigService.DisabledDeleted",
        &["AWS Config Recording Stopped"],
    ),
    (
        "AWS.IAM.AttachAdminRolePolicy",
        &["IAM Policy Grants Admin Or IAM-Wide Access"],
    ),
    (
        "AWS.IAM.AttachAdminUserPolicy",
        &["IAM Policy Grants Admin Or IAM-Wide Access"],
    ),
    (
        "AWS.IAM.Backdoor.User.Keys",
        &["IAM Access Key Created For Another User"],
    ),
    ("AWS.IAM.BackdoorRole", &["IAM Role Trust Policy Opened"]),
    ("AWS.IAM.CreateUser", &["IAM User Created"]),
    ("AWS.Root.Activity", &["Root Account Used"]),
    (
        "AWS.S3.DeletePublicAccessBlock",
        &["S3 Public Access Block Removed"],
    ),
    (
        "AWS.SSM.DecryptSSMParams",
        &["SSM SecureString Parameters Decrypted By A Person"],
    ),
    (
        "AWS.SSM.DistributedCommand",
        &["SSM Command Sent To Instances"],
    ),
    (
        "AWS.SecretsManager.BatchRetrieveSecrets",
        &["Secrets Retrieved In Bulk"],
    ),
    (
        "AWS.Potential.Backdoor.Lambda",
        &["Lambda Function Opened To Anyone Or Another Account"],
    ),
    (
        "AWS.Lambda.UpdateFunctionConfiguration",
        &["Lambda Layer Added To Function"],
    ),
    (
        "AWS.RDS.SnapshotShared",
        &["RDS Snapshot Shared Outside The Account"],
    ),
];

fn generate() -> (String, Vec<String>) {
    let rules = pack();
    let mut problems = Vec::new();
    let mut doc = String::new();

    // Attack story.
    doc.push_str("## The attack story (samples/attack-story.json, samples/k8s-audit-story.jsonl, samples/runtime-story.jsonl)\n\n| step | event | rules that fire |\n|---|---|---|\n");
    let mut story = records(&repo("samples/attack-story.json"));
    for lines in [
        "samples/k8s-audit-story.jsonl",
        "samples/runtime-story.jsonl",
    ] {
        let text = std::fs::read_to_string(repo(lines)).unwrap();
        story.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    for rec in &story {
        let who = rec["userIdentity"]["type"].as_str().unwrap_or("");
        let hits = fired(&rules, rec);
        let runtime = rec["source"] == "syscall";
        let what = match rec["eventName"].as_str() {
            Some(n) => n.to_string(),
            None if runtime => format!(
                "runtime {} by {} in {}",
                rec["evt"]["type"].as_str().unwrap_or(""),
                rec["proc"]["name"].as_str().unwrap_or(""),
                rec["container"]["id"].as_str().unwrap_or("")
            ),
            None => format!(
                "k8s {} {}/{} ({})",
                rec["verb"].as_str().unwrap_or(""),
                rec["objectRef"]["resource"].as_str().unwrap_or(""),
                rec["objectRef"]["subresource"].as_str().unwrap_or(""),
                rec["stage"].as_str().unwrap_or("")
            ),
        };
        let benign = who == "AssumedRole"
            || rec["eventName"] == "GetCallerIdentity"
            || (rec["verb"] == "get" && rec["objectRef"]["subresource"].is_null())
            || (rec["stage"] == "ResponseComplete" && rec["objectRef"]["subresource"] == "exec");
        // A dropped file is flagged when it runs, not when it is written.
        let setup = runtime
            && rec["evt"]["type"] == "openat"
            && !rec["fd"]["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("/etc/");
        let step = if benign {
            "benign / recon / duplicate record"
        } else if setup {
            "attack setup (flagged when the file runs)"
        } else {
            "attack"
        };
        if step == "attack" && hits.is_empty() {
            problems.push(format!("story step {what} raised no alert"));
        }
        doc.push_str(&format!(
            "| {step} | `{what}` | {} |\n",
            if hits.is_empty() {
                "—".to_string()
            } else {
                hits.join(", ")
            }
        ));
    }

    // Stratus.
    doc.push_str(
        "\n## Stratus Red Team techniques (../shared/corpus/cloudtrail/stratus-red-team)\n\n",
    );
    doc.push_str("| technique | records | rules that fire (alerts) |\n|---|---:|---|\n");
    let mut covered = 0;
    let files = json_files(&shared("corpus/cloudtrail/stratus-red-team"));
    for f in &files {
        let recs = records(f);
        let mut hits: BTreeMap<String, usize> = BTreeMap::new();
        for r in &recs {
            for h in fired(&rules, r) {
                *hits.entry(h).or_default() += 1;
            }
        }
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        if hits.is_empty() {
            problems.push(format!("Stratus technique {name} raised no alert"));
        } else {
            covered += 1;
        }
        let list: Vec<String> = hits.iter().map(|(r, n)| format!("{r} ({n})")).collect();
        doc.push_str(&format!(
            "| {name} | {} | {} |\n",
            recs.len(),
            list.join(", ")
        ));
    }
    doc.push_str(&format!(
        "\n{covered} of {} techniques raise at least one alert.\n",
        files.len()
    ));

    // Invictus.
    let mut total = 0usize;
    let mut outside = 0usize;
    let mut outside_alerting = 0usize;
    let mut per_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in json_files(&shared("corpus/cloudtrail/invictus-ir")) {
        for r in records(&f) {
            total += 1;
            let attack = r["userAgent"]
                .as_str()
                .unwrap_or("")
                .starts_with("stratus-red-team_");
            if !attack {
                outside += 1;
            }
            let hits = fired(&rules, &r);
            if !attack && !hits.is_empty() {
                outside_alerting += 1;
            }
            for h in hits {
                let e = per_rule.entry(h).or_default();
                if attack {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
    }
    let share = 100.0 * outside_alerting as f64 / outside.max(1) as f64;
    if share >= 2.0 {
        problems.push(format!(
            "{share:.2}% of Invictus events outside the attack runs alert (target < 2%)"
        ));
    }
    doc.push_str(&format!(
        "\n## Invictus IR corpus (../shared/corpus/cloudtrail/invictus-ir)\n\n{total} events, {} from attack runs \
         (user agent `stratus-red-team_*`), {outside} from the Terraform set-up and clean-up around them. \
         **{outside_alerting} of the {outside} events outside the attack runs alert ({share:.2}%; target < 2%).**\n\n\
         | rule | alerts in attack runs | alerts outside |\n|---|---:|---:|\n",
        total - outside
    ));
    for (r, (a, o)) in &per_rule {
        doc.push_str(&format!("| {r} | {a} | {o} |\n"));
    }

    // Panther.
    doc.push_str(
        "\n## Agreement with Panther's labelled rule tests (../shared/corpus/cloudtrail/panther-rule-tests.jsonl)\n\n\
         Panther's tests label CloudTrail events as true (its rule must alert) or false. For Panther rules whose intent a \
         Harrier rule shares, Harrier agrees when its rule fires exactly on the true cases. Panther rules without a \
         counterpart are left out.\n\n| Panther rule | Harrier rule | cases | agree | disagreements |\n|---|---|---:|---:|---|\n",
    );
    let mut all = (0, 0);
    let panther =
        std::fs::read_to_string(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    let cases: Vec<Value> = panther
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (pid, ours) in PANTHER_MAP {
        let mut n = 0;
        let mut agree = 0;
        let mut diffs = BTreeSet::new();
        for c in cases.iter().filter(|c| c["rule_id"] == pid) {
            n += 1;
            let expected = c["expected_result"].as_bool().unwrap_or(false);
            let got = fired(&rules, &c["event"])
                .iter()
                .any(|h| ours.contains(&h.as_str()));
            if got == expected {
                agree += 1;
            } else {
                diffs.insert(format!(
                    "\"{}\" ({})",
                    c["test_name"].as_str().unwrap_or("?"),
                    if expected {
                        "Panther alerts, Harrier does not"
                    } else {
                        "Harrier alerts, Panther does not"
                    }
                ));
            }
        }
        all.0 += n;
        all.1 += agree;
        doc.push_str(&format!(
            "| {pid} | {} | {n} | {agree} | {} |\n",
            ours.join(", "),
            diffs.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    doc.push_str(&format!(
        "\nOverall: {} of {} labelled cases agree ({:.0}%).\n",
        all.1,
        all.0,
        100.0 * all.1 as f64 / all.0.max(1) as f64
    ));
    (doc, problems)
}

const BEGIN: &str = "<!-- BEGIN GENERATED COVERAGE -->\n";
const END: &str = "<!-- END GENERATED COVERAGE -->\n";

#[test]
fn coverage_targets_are_met_and_documented() {
    let (generated, problems) = generate();
    assert!(problems.is_empty(), "{problems:#?}");
    let path = repo("docs/coverage.md");
    let doc = std::fs::read_to_string(&path).expect("docs/coverage.md");
    let (a, b) = (
        doc.find(BEGIN).expect("begin marker"),
        doc.find(END).expect("end marker"),
    );
    if doc[a + BEGIN.len()..b] != generated {
        if std::env::var_os("HARRIER_BLESS").is_some() {
            std::fs::write(
                &path,
                format!("{}{BEGIN}{generated}{}", &doc[..a], &doc[b..]),
            )
            .unwrap();
        } else {
            panic!("docs/coverage.md is out of date: run HARRIER_BLESS=1 cargo test -p harrier-detect --test coverage");
        }
    }
}

/// Every SigmaHQ file in ../shared/rules/sigma: loaded and run, or listed with its reason; hits
/// per rule over the CloudTrail corpora.
fn generate_sigma() -> (String, Vec<String>) {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for d in [
        "rules/sigma/aws_cloudtrail",
        "rules/sigma/aws_other",
        "rules/sigma/kubernetes_audit",
    ] {
        let mut v: Vec<PathBuf> = std::fs::read_dir(shared(d))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml"))
            .collect();
        v.sort();
        files.extend(v);
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let rel = f
                .strip_prefix(shared("rules/sigma"))
                .unwrap()
                .display()
                .to_string();
            (rel, std::fs::read_to_string(f).unwrap())
        })
        .collect();
    let (rules, diags) = RuleSet::load(texts.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    for d in diags.iter().filter(|d| d.is_error()) {
        problems.push(format!("Sigma rule failed to load: {d}"));
    }
    let mut hits: BTreeMap<String, usize> = BTreeMap::new();
    let mut corpus = Vec::new();
    for dir in [
        "corpus/cloudtrail/stratus-red-team",
        "corpus/cloudtrail/invictus-ir",
    ] {
        for f in json_files(&shared(dir)) {
            corpus.extend(records(&f));
        }
    }
    let panther =
        std::fs::read_to_string(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    for l in panther.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["event"]["eventName"].is_string() {
            corpus.push(v["event"].clone());
        }
    }
    for rec in &corpus {
        for h in fired(&rules, rec) {
            *hits.entry(h).or_default() += 1;
        }
    }
    let runnable = rules.rules().iter().filter(|r| r.is_runnable()).count();
    let mut doc = format!(
        "## SigmaHQ rules (../shared/rules/sigma)\n\n{} rules in {} files: {runnable} run, {} are listed with the reason they do not. \
         Hits are over {} CloudTrail records (Stratus Red Team, Invictus IR and the Panther test events).\n\n\
         | file | rule | level | status | hits |\n|---|---|---|---|---:|\n",
        rules.rules().len(),
        files.len(),
        rules.rules().len() - runnable,
        corpus.len()
    );
    for r in rules.rules() {
        let status = if r.is_runnable() {
            "runs".to_string()
        } else {
            diags
                .iter()
                .find(|d| d.file == r.file)
                .map(|d| d.message.replace('|', "\\|"))
                .unwrap_or_else(|| "not run".into())
        };
        doc.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.file,
            r.name,
            r.priority,
            status,
            hits.get(&r.name).copied().unwrap_or(0)
        ));
    }
    (doc, problems)
}

const SIGMA_BEGIN: &str = "<!-- BEGIN GENERATED SIGMA -->\n";
const SIGMA_END: &str = "<!-- END GENERATED SIGMA -->\n";

#[test]
fn every_sigma_rule_loads_or_is_listed_and_hits_are_documented() {
    let (generated, problems) = generate_sigma();
    assert!(problems.is_empty(), "{problems:#?}");
    let path = repo("docs/coverage.md");
    let doc = std::fs::read_to_string(&path).expect("docs/coverage.md");
    let (a, b) = (
        doc.find(SIGMA_BEGIN).expect("begin marker"),
        doc.find(SIGMA_END).expect("end marker"),
    );
    if doc[a + SIGMA_BEGIN.len()..b] != generated {
        if std::env::var_os("HARRIER_BLESS").is_some() {
            std::fs::write(
                &path,
                format!("{}{SIGMA_BEGIN}{generated}{}", &doc[..a], &doc[b..]),
            )
            .unwrap();
        } else {
            panic!("docs/coverage.md is out of date: run HARRIER_BLESS=1 cargo test -p harrier-detect --test coverage");
        }
    }
}
