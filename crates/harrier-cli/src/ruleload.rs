//! Finding and reading rule files: the embedded pack and `--rules` paths.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use harrier_rules::{Diagnostic, RuleSet};

include!(concat!(env!("OUT_DIR"), "/default_rules.rs"));

/// Largest rule file read.
const MAX_RULE_FILE: u64 = 16 << 20;

fn rule_files_in(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let e = e.with_context(|| format!("cannot list {}", d.display()))?;
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

/// Reads the rule files: the built-in pack first (unless `no_defaults`), then each path in
/// order (a directory contributes its `.yaml`/`.yml` files, sorted).
pub fn read_rule_texts(paths: &[PathBuf], no_defaults: bool) -> Result<Vec<(String, String)>> {
    let mut texts: Vec<(String, String)> = Vec::new();
    if !no_defaults {
        texts.extend(
            DEFAULT_RULES
                .iter()
                .map(|(n, t)| (format!("<builtin>/{n}"), t.to_string())),
        );
    }
    let mut files = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).with_context(|| format!("cannot read rules {}", p.display()))?;
        if meta.is_dir() {
            rule_files_in(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    for f in files {
        let meta =
            std::fs::metadata(&f).with_context(|| format!("cannot read rules {}", f.display()))?;
        if meta.len() > MAX_RULE_FILE {
            bail!(
                "{}: rule file larger than {} MiB",
                f.display(),
                MAX_RULE_FILE >> 20
            );
        }
        let text = std::fs::read_to_string(&f)
            .with_context(|| format!("cannot read rules {}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    Ok(texts)
}

/// Rule test files: the built-in pack's when `dirs` is empty, else every `.json` file under them.
pub fn read_test_texts(dirs: &[PathBuf]) -> Result<Vec<(String, String)>> {
    if dirs.is_empty() {
        return Ok(DEFAULT_RULE_TESTS
            .iter()
            .map(|(n, t)| (format!("<builtin>/{n}"), t.to_string()))
            .collect());
    }
    let mut out = Vec::new();
    for d in dirs {
        let mut stack = vec![d.clone()];
        let mut found = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in
                std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let p = e
                    .with_context(|| format!("cannot list {}", dir.display()))?
                    .path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    found.push(p);
                }
            }
        }
        found.sort();
        for f in found {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            out.push((f.display().to_string(), text));
        }
    }
    Ok(out)
}

/// Loads and compiles rules.
pub fn load(paths: &[PathBuf], no_defaults: bool) -> Result<(RuleSet, Vec<Diagnostic>)> {
    let texts = read_rule_texts(paths, no_defaults)?;
    Ok(RuleSet::load(
        texts.iter().map(|(n, t)| (n.as_str(), t.as_str())),
    ))
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
