//! Loading the rules a command runs, and printing what is wrong with them.

use std::path::PathBuf;

use anyhow::Result;
use harrier_rules::{Diagnostic, RuleSet};

pub use harrier_detect::rulefiles::read_test_texts;

/// Loads and compiles rules (the built-in pack unless `no_defaults`, then `paths`).
pub fn load(paths: &[PathBuf], no_defaults: bool) -> Result<(RuleSet, Vec<Diagnostic>)> {
    Ok(harrier_detect::rulefiles::load(paths, no_defaults)?)
}

/// Loads the rules a command runs: prints every diagnostic, and returns `None` (after saying
/// so) when any is an error, since a rule set with errors runs nothing.
pub fn load_runnable(
    paths: &[PathBuf],
    no_defaults: bool,
    min_priority: Option<harrier_rules::Priority>,
) -> Result<Option<RuleSet>> {
    let (mut rules, diags) = load(paths, no_defaults)?;
    let errors = report(&diags);
    if errors > 0 {
        eprintln!("harrier: {errors} error(s) in rule files: nothing was run");
        return Ok(None);
    }
    if let Some(p) = min_priority {
        rules.set_min_priority(p);
    }
    Ok(Some(rules))
}

/// Parses a priority given on the command line.
pub fn parse_priority(s: &str) -> Result<harrier_rules::Priority, String> {
    s.parse::<harrier_rules::Priority>()
        .map_err(|e| e.to_string())
}

/// Prints diagnostics to stderr; returns the number of errors.
pub fn report(diags: &[Diagnostic]) -> usize {
    for d in diags {
        eprintln!("{d}");
    }
    diags.iter().filter(|d| d.is_error()).count()
}
