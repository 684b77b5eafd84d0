//! Rendering findings: a table for people, JSON and CSV for tools, per-requirement framework
//! reports.

use std::fmt::Write as _;

use crate::{check, framework_score, frameworks, score, Finding, Status};

/// A plain-text report: failures first, with the fix, then the scores.
pub fn table(findings: &[Finding], color: bool) -> String {
    let mut out = String::new();
    let paint = |s: Status, t: &str| -> String {
        if !color {
            return t.to_string();
        }
        let c = match s {
            Status::Fail => "\x1b[1;31m",
            Status::Pass => "\x1b[32m",
            Status::Unknown => "\x1b[33m",
        };
        format!("{c}{t}\x1b[0m")
    };
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| {
        let sev = check(f.check).map(|c| c.severity);
        (
            match f.status {
                Status::Fail => 0,
                Status::Unknown => 1,
                Status::Pass => 2,
            },
            sev,
            f.check,
            f.resource.clone(),
        )
    });
    for f in &sorted {
        let c = check(f.check);
        let sev = c.map(|c| c.severity.as_str()).unwrap_or("?");
        let _ = writeln!(
            out,
            "{:<7} {:<8} {:<40} {:<12} {} — {}",
            paint(f.status, f.status.as_str()),
            sev,
            f.check,
            f.region,
            f.resource,
            f.reason
        );
        if f.status == Status::Fail {
            if let Some(c) = c {
                let _ = writeln!(out, "        fix: {}", c.remediation);
                for cmd in c.cli {
                    let _ = writeln!(out, "             $ {cmd}");
                }
            }
        }
    }
    let s = score(findings, |_| true);
    let _ = writeln!(
        out,
        "\nscore {} ({} pass, {} fail, {} unknown)",
        s.value.map_or("n/a".into(), |v| format!("{v:.0}/100")),
        s.pass,
        s.fail,
        s.unknown
    );
    for (id, name) in frameworks::FRAMEWORKS {
        let fs = framework_score(findings, id);
        if let Some(v) = fs.value {
            let _ = writeln!(out, "  {name}: {v:.0}/100");
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV: one row per finding.
pub fn csv(findings: &[Finding]) -> String {
    let mut out = String::from("status,severity,check,title,region,resource,reason,cis_5_0\n");
    for f in findings {
        let c = check(f.check);
        let cis = c
            .and_then(|c| c.frameworks().iter().find(|(fw, _)| *fw == "cis-5.0"))
            .map(|(_, ids)| ids.join(" "))
            .unwrap_or_default();
        let row = [
            f.status.as_str(),
            c.map_or("", |c| c.severity.as_str()),
            f.check,
            c.map_or("", |c| c.title),
            &f.region,
            &f.resource,
            &f.reason,
            &cis,
        ];
        out.push_str(
            &row.iter()
                .map(|v| csv_field(v))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// JSON: findings with their check's metadata, plus scores.
pub fn json(findings: &[Finding]) -> serde_json::Value {
    let items: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let c = check(f.check);
            serde_json::json!({
                "check": f.check,
                "title": c.map(|c| c.title),
                "severity": c.map(|c| c.severity.as_str()),
                "status": f.status.as_str(),
                "region": f.region,
                "resource": f.resource,
                "reason": f.reason,
                "remediation": c.map(|c| c.remediation),
                "cli": c.map(|c| c.cli),
                "frameworks": c.map(|c| c.frameworks().iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>()),
            })
        })
        .collect();
    let s = score(findings, |_| true);
    let fw: serde_json::Map<String, serde_json::Value> = frameworks::FRAMEWORKS
        .iter()
        .map(|(id, _)| {
            (
                id.to_string(),
                serde_json::json!(framework_score(findings, id).value),
            )
        })
        .collect();
    serde_json::json!({"score": s.value, "pass": s.pass, "fail": s.fail, "unknown": s.unknown, "frameworks": fw, "findings": items})
}

/// Pass/fail/unknown per requirement of one framework.
pub fn framework_report(findings: &[Finding], framework: &str) -> String {
    let mut reqs: std::collections::BTreeMap<String, Vec<&Finding>> = Default::default();
    for f in findings {
        if let Some(c) = check(f.check) {
            for (fw, ids) in c.frameworks() {
                if *fw == framework {
                    for id in *ids {
                        reqs.entry(id.to_string()).or_default().push(f);
                    }
                }
            }
        }
    }
    let mut out = String::new();
    let mut keys: Vec<&String> = reqs.keys().collect();
    keys.sort_by_key(|k| {
        k.split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(u32::MAX))
            .collect::<Vec<_>>()
    });
    for k in keys {
        let fs = &reqs[k];
        let status = if fs.iter().any(|f| f.status == Status::Fail) {
            "FAIL"
        } else if fs.iter().any(|f| f.status == Status::Unknown) {
            "UNKNOWN"
        } else {
            "PASS"
        };
        let checks: std::collections::BTreeSet<&str> = fs.iter().map(|f| f.check).collect();
        let _ = writeln!(
            out,
            "{k:<10} {status:<8} {}",
            checks.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let s = framework_score(findings, framework);
    let _ = writeln!(
        out,
        "\n{framework}: score {}",
        s.value.map_or("n/a".into(), |v| format!("{v:.0}/100"))
    );
    out
}
