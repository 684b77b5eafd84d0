//! Rule tests: CloudTrail events stored as JSON beside the rules, each naming a rule and whether
//! it must fire on the event. `harrier rules test` runs them.
//!
//! A test file is a JSON array of cases:
//!
//! ```json
//! [{"rule": "IAM User Created", "expect": "fire", "why": "a person creates a user", "event": {...}},
//!  {"rule": "IAM User Created", "expect": "no-fire", "why": "near-miss: a role does", "event": {...}}]
//! ```
//!
//! Every enabled rule under test needs at least one case that fires and one near-miss.

use harrier_alerts::{Alert, AlertSink, SinkError};
use harrier_rules::{Rule, RuleSet};

use crate::{Detector, Options};

/// One test case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Test file.
    pub file: String,
    /// Position in the file, from 0.
    pub index: usize,
    /// The rule under test.
    pub rule: String,
    /// Whether the rule must fire.
    pub fire: bool,
    /// What the case shows.
    pub why: String,
    /// The event, as JSON text.
    pub event: String,
}

/// Parses a test file.
pub fn parse_cases(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{file}: invalid JSON: {e}"))?;
    let arr = v
        .as_array()
        .ok_or_else(|| format!("{file}: expected a JSON array of test cases"))?;
    arr.iter()
        .enumerate()
        .map(|(index, c)| {
            let at = || format!("{file}: case {index}");
            let rule = c["rule"]
                .as_str()
                .ok_or_else(|| format!("{}: missing \"rule\"", at()))?;
            let fire = match c["expect"].as_str() {
                Some("fire") => true,
                Some("no-fire") => false,
                _ => {
                    return Err(format!(
                        "{}: \"expect\" must be \"fire\" or \"no-fire\"",
                        at()
                    ))
                }
            };
            if !c["event"].is_object() {
                return Err(format!(
                    "{}: \"event\" must be a CloudTrail record (an object)",
                    at()
                ));
            }
            Ok(Case {
                file: file.to_string(),
                index,
                rule: rule.to_string(),
                fire,
                why: c["why"].as_str().unwrap_or("").to_string(),
                event: c["event"].to_string(),
            })
        })
        .collect()
}

/// Results for one rule.
#[derive(Debug, Clone, Default)]
pub struct RuleResult {
    /// Rule name.
    pub rule: String,
    /// Cases that must fire: passed, total.
    pub fire: (usize, usize),
    /// Near-misses: passed, total.
    pub no_fire: (usize, usize),
    /// What went wrong.
    pub failures: Vec<String>,
}

impl RuleResult {
    /// Whether every case passed and the rule has both kinds of case.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The outcome of a test run.
#[derive(Debug, Default)]
pub struct Report {
    /// Per rule under test, in load order.
    pub rules: Vec<RuleResult>,
    /// Disabled rules (not tested).
    pub disabled: Vec<String>,
    /// Cases naming rules that do not exist.
    pub orphans: Vec<String>,
}

impl Report {
    /// Number of rules that failed, plus orphan cases.
    pub fn failures(&self) -> usize {
        self.rules.iter().filter(|r| !r.passed()).count() + self.orphans.len()
    }
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

/// Runs `cases` against `rules`. Rules for which `under_test` holds must be covered.
pub fn run(rules: &RuleSet, cases: &[Case], under_test: impl Fn(&Rule) -> bool) -> Report {
    let mut report = Report::default();
    for r in rules
        .rules()
        .iter()
        .filter(|r| under_test(r) && r.is_runnable())
    {
        if r.enabled {
            report.rules.push(RuleResult {
                rule: r.name.clone(),
                ..Default::default()
            });
        } else {
            report.disabled.push(r.name.clone());
        }
    }
    for case in cases {
        let label = format!("{} case {} ({})", case.file, case.index, case.why);
        let Some(res) = report.rules.iter_mut().find(|r| r.rule == case.rule) else {
            if !report.disabled.contains(&case.rule) {
                report
                    .orphans
                    .push(format!("{label}: no enabled rule named '{}'", case.rule));
            }
            continue;
        };
        let mut d = Detector::new(
            rules,
            "rule-test",
            Options {
                validate_all: true,
                ..Options::default()
            },
        );
        let mut sink = Names::default();
        let mut problems = Vec::new();
        let outcome = d.process_record(case.event.as_bytes(), 0, &case.file, &mut sink, &mut |p| {
            problems.push(p.message)
        });
        let fired = sink.0.contains(&case.rule);
        let slot = if case.fire {
            &mut res.fire
        } else {
            &mut res.no_fire
        };
        slot.1 += 1;
        if outcome.is_err() || !problems.is_empty() {
            res.failures.push(format!(
                "{label}: the event was rejected: {}",
                problems.join("; ")
            ));
        } else if fired == case.fire {
            slot.0 += 1;
        } else if case.fire {
            res.failures.push(format!(
                "{label}: expected to fire, did not (fired: {:?})",
                sink.0
            ));
        } else {
            res.failures.push(format!("{label}: fired on a near-miss"));
        }
    }
    for r in &mut report.rules {
        if r.fire.1 == 0 {
            r.failures.push("no test event that must fire".into());
        }
        if r.no_fire.1 == 0 {
            r.failures.push("no near-miss test event".into());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "- rule: Stop\n  desc: d\n  condition: ct.name = StopLogging\n  output: o\n  priority: INFO\n  source: aws_cloudtrail\n\
                         - rule: Off\n  desc: d\n  condition: ct.name = X\n  output: o\n  priority: INFO\n  source: aws_cloudtrail\n  enabled: false\n";

    fn case(rule: &str, fire: bool, name: &str) -> String {
        format!(
            r#"{{"rule":"{rule}","expect":"{}","why":"w","event":{{"eventName":"{name}"}}}}"#,
            if fire { "fire" } else { "no-fire" }
        )
    }

    #[test]
    fn passes_fails_and_demands_both_kinds_of_case() {
        let (rules, _) = RuleSet::load([("r.yaml", RULES)]);
        let ok = format!(
            "[{},{}]",
            case("Stop", true, "StopLogging"),
            case("Stop", false, "StartLogging")
        );
        let report = run(&rules, &parse_cases("t.json", &ok).unwrap(), |_| true);
        assert_eq!(report.failures(), 0, "{report:?}");
        assert_eq!(report.disabled, vec!["Off"]);

        let wrong = format!(
            "[{},{}]",
            case("Stop", true, "StartLogging"),
            case("Stop", false, "StopLogging")
        );
        let report = run(&rules, &parse_cases("t.json", &wrong).unwrap(), |_| true);
        assert_eq!(report.failures(), 1);
        let f = &report.rules[0].failures;
        assert!(
            f[0].contains("expected to fire") && f[1].contains("fired on a near-miss"),
            "{f:?}"
        );

        let only_fire = format!("[{}]", case("Stop", true, "StopLogging"));
        let report = run(&rules, &parse_cases("t.json", &only_fire).unwrap(), |_| {
            true
        });
        assert!(report.rules[0].failures[0].contains("no near-miss"));

        let orphan = format!("[{}]", case("Nope", true, "StopLogging"));
        assert_eq!(
            run(&rules, &parse_cases("t.json", &orphan).unwrap(), |_| false)
                .orphans
                .len(),
            1
        );
        assert!(parse_cases("t.json", r#"[{"rule":"Stop","expect":"maybe","event":{}}]"#).is_err());
        assert!(parse_cases("t.json", "{").is_err());
    }
}
