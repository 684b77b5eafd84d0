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
fn syscall_rule_files_parse_unchanged() {
    for files in [
        &["falco_rules.yaml"][..],
        &["falco_rules.yaml", "falco-incubating_rules.yaml"],
        &["falco_rules.yaml", "falco-sandbox_rules.yaml"],
        &["falco-incubating_rules.yaml"],
        &["falco-sandbox_rules.yaml"],
    ] {
        let (rules, diags) = load(files);
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        assert!(errors.is_empty(), "{files:?}: {errors:#?}");
        // Everything else is the unknown-source report.
        for d in &diags {
            assert_eq!(d.severity, Severity::Warning);
            assert!(
                d.message.contains("unknown-source") || d.message.contains("plugin"),
                "{d}"
            );
        }
        assert!(!rules.rules().is_empty());
        assert!(rules.rules().iter().all(|r| !r.is_runnable()));
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
