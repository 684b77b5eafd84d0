//! Shared by the integration tests of harrier-detect.

use harrier_rules::RuleSet;

/// The built-in rule pack, loaded without errors.
pub fn pack() -> RuleSet {
    let texts: Vec<(String, String)> = harrier_rules::builtin::RULES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let (rules, diags) = RuleSet::load(texts.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    assert!(diags.iter().all(|d| !d.is_error()));
    rules
}
