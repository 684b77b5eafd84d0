//! `harrier rules ...`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::{ruleload, OutputFormat};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Check rule files and list every error found (not only the first).
    Validate {
        /// Rule files or directories, loaded together in this order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the rule tests (events stored as JSON beside the rules) and report each rule's result.
    Test {
        /// Rule directories holding rules and their `*.json` tests; the built-in pack when none.
        dirs: Vec<PathBuf>,
        /// Do not load the built-in rule pack (when testing directories).
        #[arg(long)]
        no_default_rules: bool,
    },
    /// List loaded rules: name, language, source, priority, tags, file.
    List {
        /// Extra rule files or directories.
        #[arg(long = "rules", value_name = "FILE|DIR")]
        rules: Vec<PathBuf>,
        /// Do not load the built-in rule pack.
        #[arg(long)]
        no_default_rules: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Validate { paths } => {
            let (rules, diags) = ruleload::load(&paths, true)?;
            let errors = ruleload::report(&diags);
            let runnable = rules.rules().iter().filter(|r| r.is_runnable()).count();
            if errors > 0 {
                eprintln!("harrier: {errors} error(s) in rule files");
                return Ok(ExitCode::from(2));
            }
            println!(
                "{} rule(s) loaded, {} runnable, {} warning(s)",
                rules.rules().len(),
                runnable,
                diags.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test {
            dirs,
            no_default_rules,
        } => test(&dirs, no_default_rules),
        RulesCommand::List {
            rules,
            no_default_rules,
            format,
        } => {
            let (set, diags) = ruleload::load(&rules, no_default_rules)?;
            if ruleload::report(&diags) > 0 {
                return Ok(ExitCode::from(2));
            }
            for r in set.rules() {
                let state = match (r.is_runnable(), r.enabled) {
                    (false, _) => "not-run",
                    (true, false) => "disabled",
                    (true, true) => "enabled",
                };
                match format {
                    OutputFormat::Json => println!(
                        "{}",
                        serde_json::json!({
                            "name": r.name, "language": r.language.as_str(), "source": r.source,
                            "priority": r.priority.as_str(), "tags": r.tags, "file": r.file,
                            "line": r.pos.line, "state": state,
                        })
                    ),
                    OutputFormat::Text => println!(
                        "{:<55} {:<6} {:<15} {:<13} {:<8} {:<40} {}:{}",
                        r.name,
                        r.language.as_str(),
                        r.source,
                        r.priority.as_str(),
                        state,
                        r.tags.join(","),
                        r.file,
                        r.pos.line
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn test(dirs: &[PathBuf], no_default_rules: bool) -> Result<ExitCode> {
    let (rules, diags) = ruleload::load(dirs, no_default_rules && !dirs.is_empty())?;
    if ruleload::report(&diags) > 0 {
        return Ok(ExitCode::from(2));
    }
    let mut cases = Vec::new();
    for (file, text) in ruleload::read_test_texts(dirs)? {
        cases.extend(
            harrier_detect::ruletest::parse_cases(&file, &text).map_err(anyhow::Error::msg)?,
        );
    }
    let roots: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let under_test = |r: &harrier_rules::Rule| {
        if roots.is_empty() {
            r.file.starts_with("<builtin>/")
        } else {
            roots.iter().any(|root| r.file.starts_with(root.as_str()))
        }
    };
    let report = harrier_detect::ruletest::run(&rules, &cases, under_test);
    for r in &report.rules {
        let status = if r.passed() { "PASS" } else { "FAIL" };
        println!(
            "{status}  {}  (fires {}/{}, near-misses {}/{})",
            r.rule, r.fire.0, r.fire.1, r.no_fire.0, r.no_fire.1
        );
        for f in &r.failures {
            println!("      {f}");
        }
    }
    for d in &report.disabled {
        println!("SKIP  {d}  (disabled by default)");
    }
    for o in &report.orphans {
        println!("FAIL  {o}");
    }
    let failed = report.failures();
    let passed = report.rules.len() - report.rules.iter().filter(|r| !r.passed()).count();
    println!(
        "{} cases; rules: {passed} passed, {failed} failed, {} skipped",
        cases.len(),
        report.disabled.len()
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
