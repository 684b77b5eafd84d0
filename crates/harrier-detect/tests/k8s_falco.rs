//! Falco's Kubernetes audit rules (../shared/rules/falco/k8s_audit_rules.yaml, unchanged) over
//! Falco's own audit traces (../shared/corpus/k8saudit): each trace must raise exactly the
//! alerts Falco's test suite expects (falco_k8s_audit_tests.yaml). Agreement is written to
//! docs/coverage.md (`HARRIER_BLESS=1` rewrites it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_detect::{Detector, Options};
use harrier_rules::yaml::{self, Node};
use harrier_rules::RuleSet;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn shared(rel: &str) -> PathBuf {
    repo("../shared").join(rel)
}

#[derive(Default)]
struct Names(Vec<String>);

impl AlertSink for Names {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.push(alert.rule.to_string());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Rules renamed upstream since the test suite was written.
fn current_name(old: &str) -> &str {
    match old {
        "K8s Role/Clusterrole Created" => "K8s ClusterRole Created",
        "K8s Role/Clusterrole Deleted" => "K8s ClusterRole Deleted",
        "K8s Role/Clusterrolebinding Created" => "K8s ClusterRoleBinding Created",
        "K8s Role/Clusterrolebinding Deleted" => "K8s ClusterRoleBinding Deleted",
        other => other,
    }
}

struct Case {
    name: String,
    trace: String,
    detect: bool,
    counts: Vec<(String, usize)>,
    standard_rules_only: bool,
}

fn cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(shared("corpus/k8saudit/falco_k8s_audit_tests.yaml")).unwrap();
    // The file's `!mux` tag is YAML syntax our loader does not need: drop it.
    let docs = yaml::parse(&text.replace("!mux", "")).unwrap();
    let Some(Node::Map(tests, _)) = docs[0].get("trace_files") else {
        panic!("no trace_files")
    };
    let mut out = Vec::new();
    for (k, v) in tests {
        let name = k.as_str().unwrap().to_string();
        let opts = v
            .get("addl_cmdline_opts")
            .and_then(Node::as_str)
            .unwrap_or("");
        let Some(trace) = opts
            .split("k8s_audit/")
            .nth(1)
            .map(|t| t.trim().to_string())
        else {
            continue;
        };
        let files: Vec<String> = match v.get("rules_file") {
            Some(Node::Seq(items, _)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let standard_rules_only = files
            .iter()
            .all(|f| f.ends_with("/falco_rules.yaml") || f.ends_with("/k8s_audit_rules.yaml"))
            && files.iter().any(|f| f.ends_with("/k8s_audit_rules.yaml"));
        let counts = match v.get("detect_counts") {
            Some(Node::Seq(items, _)) => items
                .iter()
                .filter_map(|i| match i {
                    Node::Map(e, _) => e.first().map(|(k, n)| {
                        (
                            current_name(k.as_str().unwrap()).to_string(),
                            n.as_str().unwrap().parse().unwrap(),
                        )
                    }),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let detect = v
            .get("detect")
            .and_then(Node::as_str)
            .is_some_and(|d| d.eq_ignore_ascii_case("true"));
        out.push(Case {
            name,
            trace,
            detect,
            counts,
            standard_rules_only,
        });
    }
    out
}

fn falco_rules() -> RuleSet {
    let a = std::fs::read_to_string(shared("rules/falco/falco_rules.yaml")).unwrap();
    let b = std::fs::read_to_string(shared("rules/falco/k8s_audit_rules.yaml")).unwrap();
    let (rules, diags) = RuleSet::load([
        ("falco_rules.yaml", a.as_str()),
        ("k8s_audit_rules.yaml", b.as_str()),
    ]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert!(
        diags.iter().all(|d| !d.message.contains("k8saudit")),
        "the k8saudit plugin is built in: {diags:?}"
    );
    rules
}

fn run_trace(rules: &RuleSet, trace: &str) -> BTreeMap<String, usize> {
    let path = shared(&format!("corpus/k8saudit/falco-traces/{trace}"));
    let mut d = Detector::new(rules, "test", Options::default());
    let mut sink = Names::default();
    d.process_input(&harrier_sources::Input::File(path), &mut sink, &mut |_| {})
        .unwrap();
    let mut counts = BTreeMap::new();
    for n in sink.0 {
        *counts.entry(n).or_default() += 1;
    }
    counts
}

const BEGIN: &str = "<!-- BEGIN GENERATED K8S -->\n";
const END: &str = "<!-- END GENERATED K8S -->\n";

#[test]
fn falco_k8s_audit_rules_raise_what_falco_expects() {
    let rules = falco_rules();
    assert_eq!(
        rules
            .rules()
            .iter()
            .filter(|r| r.source == "k8s_audit")
            .count(),
        48
    );
    assert!(rules
        .rules()
        .iter()
        .filter(|r| r.source == "k8s_audit")
        .all(|r| r.is_runnable()));
    let mut doc = String::from(
        "## Falco's Kubernetes audit rules on Falco's audit traces\n\n\
         `../shared/rules/falco/k8s_audit_rules.yaml` loaded unchanged (48 rules, all compile) with `falco_rules.yaml`, \
         over the traces of `../shared/corpus/k8saudit`. A test agrees when the trace raises exactly the expected count of \
         each expected rule (`detect: true`), or no alert at all (`detect: false`). Tests that need Falco's test-only rule files (allow-lists, trusted containers, \
         engine-v4 variants; not in ../shared) are listed as not run.\n\n\
         | test | trace | expected | Harrier | agrees |\n|---|---|---|---|---|\n",
    );
    let (mut agree, mut total, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for c in cases() {
        let expected: String = if c.detect {
            c.counts
                .iter()
                .map(|(r, n)| format!("{r} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "no alert".into()
        };
        if !c.standard_rules_only {
            skipped += 1;
            doc.push_str(&format!(
                "| {} | {} | {expected} | not run: needs Falco's test-only rule files | — |\n",
                c.name, c.trace
            ));
            continue;
        }
        total += 1;
        let got = run_trace(&rules, &c.trace);
        let ok = if c.detect {
            c.counts.iter().all(|(r, n)| got.get(r) == Some(n))
        } else {
            got.is_empty()
        };
        if ok {
            agree += 1;
        } else {
            failures.push(format!("{}: expected {expected}, got {got:?}", c.name));
        }
        let got_s = if got.is_empty() {
            "no alert".to_string()
        } else {
            got.iter()
                .map(|(r, n)| format!("{r} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        doc.push_str(&format!(
            "| {} | {} | {expected} | {got_s} | {} |\n",
            c.name,
            c.trace,
            if ok { "yes" } else { "**no**" }
        ));
    }
    doc.push_str(&format!("\n{agree} of {total} runnable tests agree; {skipped} need rule files that are not in ../shared.\n"));
    assert!(failures.is_empty(), "{failures:#?}");
    let path = repo("docs/coverage.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let (a, b) = (
        page.find(BEGIN).expect("begin marker"),
        page.find(END).expect("end marker"),
    );
    if page[a + BEGIN.len()..b] != doc {
        if std::env::var_os("HARRIER_BLESS").is_some() {
            std::fs::write(&path, format!("{}{BEGIN}{doc}{}", &page[..a], &page[b..])).unwrap();
        } else {
            panic!("docs/coverage.md is out of date: run HARRIER_BLESS=1 cargo test -p harrier-detect --test k8s_falco");
        }
    }
}
