//! Falco's own rule files load unchanged.

use std::path::PathBuf;

use harrier_rules::{RuleSet, Severity};

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

fn load(names: &[&str]) -> (RuleSet, Vec<harrier_rules::Diagnostic>) {
    let texts: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            let p = shared(&format!("rules/falco/{n}"));
            (
                n.to_string(),
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
        })
        .collect();
    RuleSet::load(texts.iter().map(|(a, b)| (a.as_str(), b.as_str())))
}

#[test]
fn cloudtrail_rules_load_and_all_22_compile() {
    let (rules, diags) = load(&["aws_cloudtrail_rules.yaml"]);
    for d in &diags {
        println!("{d}");
    }
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    assert_eq!(rules.rules().len(), 22);
    assert!(rules.rules().iter().all(|r| r.is_runnable()));
    // Two rules ship disabled.
    assert_eq!(rules.active_count(), 20);
}

#[test]
fn syscall_rule_files_load_each_rule_runs_or_names_the_field_it_lacks() {
    for (files, runnable) in [
        (&["falco_rules.yaml"][..], 18),
        (&["falco_rules.yaml", "falco-incubating_rules.yaml"], 38),
        (&["falco_rules.yaml", "falco-sandbox_rules.yaml"], 46),
        (&["falco-incubating_rules.yaml"], 20),
        (&["falco-sandbox_rules.yaml"], 28),
    ] {
        let (rules, diags) = load(files);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        assert!(errors.is_empty(), "{files:?}: {errors:#?}");
        for d in &diags {
            assert_eq!(d.severity, Severity::Warning);
            assert!(d.message.starts_with("missing-field: "), "{d}");
        }
        // Every rule either compiles or is named, with the fields it lacks.
        for r in rules.rules() {
            assert_eq!(r.source, "syscall");
            let listed = diags.iter().any(|d| {
                d.item.as_deref() == Some(&format!("rule '{}'", r.name))
                    && d.message.contains("needs '")
            });
            assert!(
                r.is_runnable() != listed,
                "{}: runnable={} listed={listed}",
                r.name,
                r.is_runnable()
            );
        }
        assert_eq!(
            rules.rules().iter().filter(|r| r.is_runnable()).count(),
            runnable,
            "{files:?}"
        );
    }
}

#[test]
fn k8s_audit_rules_load_unchanged_and_all_48_compile() {
    let (rules, diags) = load(&["k8s_audit_rules.yaml"]);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(rules.rules().len(), 48);
    assert!(rules
        .rules()
        .iter()
        .all(|r| r.is_runnable() && r.source == "k8s_audit"));
}
