//! A single self-contained HTML report: score, score over time (an inline SVG chart), scores per
//! framework and service, and every failing or unknown finding with its fix. No scripts, no
//! external resources; every value from the account is escaped.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::{check, framework_score, frameworks, score, Finding, Status};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn fmt_score(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The score-over-time chart: `points` are `(label, score)`, oldest first.
fn chart(points: &[(String, f64)]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 180.0;
    const PAD: f64 = 30.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" aria-label="score over time">"#
    );
    let _ = write!(
        svg,
        r##"<rect x="{PAD}" y="10" width="{}" height="{}" fill="#f6f8fa" stroke="#d0d7de"/>"##,
        W - 2.0 * PAD,
        H - 40.0
    );
    for v in [0.0, 50.0, 100.0] {
        let y = 10.0 + (H - 40.0) * (1.0 - v / 100.0);
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" font-size="10" fill="#57606a">{v}</text>"##,
            y + 3.0
        );
    }
    let n = points.len();
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, (_, s))| {
            let x = if n > 1 {
                PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
            } else {
                W / 2.0
            };
            (x, 10.0 + (H - 40.0) * (1.0 - s.clamp(0.0, 100.0) / 100.0))
        })
        .collect();
    if n > 1 {
        let path: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="#0969da" stroke-width="2" points="{}"/>"##,
            path.join(" ")
        );
    }
    for ((x, y), (label, s)) in xy.iter().zip(points) {
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="#0969da"><title>{}: {s:.1}</title></circle>"##,
            escape(label)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            r##"<text x="{PAD}" y="{}" font-size="10" fill="#57606a">{}</text><text x="{}" y="{}" font-size="10" fill="#57606a" text-anchor="end">{}</text>"##,
            H - 12.0,
            escape(&first.0),
            W - PAD,
            H - 12.0,
            escape(&last.0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The report. `trend` holds earlier scores of the same account, oldest first, ending with this
/// scan's when it was recorded.
pub fn report(
    account: &str,
    taken_at: &str,
    findings: &[Finding],
    trend: &[(String, f64)],
) -> String {
    let overall = score(findings, |_| true);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Harrier posture: {acct}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#f6f8fa}}
.fail{{color:#cf222e;font-weight:600}}.unknown{{color:#9a6700;font-weight:600}}.score{{font-size:2.5em;font-weight:700}}
code{{background:#f6f8fa;padding:1px 4px}}</style></head><body>
<h1>Posture of account {acct}</h1><p>Snapshot taken {taken}. Harrier {ver}.</p>
<p class="score">{score}</p><p>{pass} passed, {fail} failed, {unknown} unknown (unknown: the data could not be read; it counts neither way).</p>"#,
        acct = escape(account),
        taken = escape(taken_at),
        ver = env!("CARGO_PKG_VERSION"),
        score = fmt_score(overall.value),
        pass = overall.pass,
        fail = overall.fail,
        unknown = overall.unknown,
    );
    h.push_str("<h2>Score over time</h2>");
    h.push_str(&chart(trend));
    h.push_str("<h2>Frameworks</h2><table><tr><th>framework</th><th>score</th><th>pass</th><th>fail</th><th>unknown</th></tr>");
    for (id, name) in frameworks::FRAMEWORKS {
        let s = framework_score(findings, id);
        if s.pass + s.fail + s.unknown == 0 {
            // A framework none of these checks maps to (an account's report, a host's).
            continue;
        }
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            fmt_score(s.value),
            s.pass,
            s.fail,
            s.unknown
        );
    }
    h.push_str("</table><h2>Services</h2><table><tr><th>service</th><th>score</th><th>pass</th><th>fail</th><th>unknown</th></tr>");
    let services: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| check(f.check))
        .map(|c| c.service)
        .collect();
    for s in services {
        let sc = score(findings, |f| check(f.check).is_some_and(|c| c.service == s));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(s),
            fmt_score(sc.value),
            sc.pass,
            sc.fail,
            sc.unknown
        );
    }
    h.push_str("</table><h2>Findings to act on</h2><table><tr><th>status</th><th>severity</th><th>check</th><th>region</th><th>resource</th><th>why</th><th>fix</th></tr>");
    let mut todo: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status != Status::Pass)
        .collect();
    todo.sort_by_key(|f| (f.status != Status::Fail, check(f.check).map(|c| c.severity)));
    for f in todo {
        let c = check(f.check);
        let fix = c.map_or(String::new(), |c| {
            let cmds: Vec<String> = c
                .cli
                .iter()
                .map(|x| format!("<code>{}</code>", escape(x)))
                .collect();
            format!("{}<br>{}", escape(c.remediation), cmds.join("<br>"))
        });
        let _ = write!(
            h,
            r#"<tr><td class="{st}">{st}</td><td>{sev}</td><td>{id}<br><small>{title}</small></td><td>{region}</td><td>{res}</td><td>{why}</td><td>{fix}</td></tr>"#,
            st = f.status.as_str(),
            sev = c.map_or("", |c| c.severity.as_str()),
            id = escape(f.check),
            title = escape(c.map_or("", |c| c.title)),
            region = escape(&f.region),
            res = escape(&f.resource),
            why = escape(&f.reason),
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

/// The report, with the verdicts re-checks changed since the last full scan (who changed
/// what) before the findings.
pub fn report_with_changes(
    account: &str,
    taken_at: &str,
    findings: &[Finding],
    trend: &[(String, f64)],
    changes: &[crate::history::ChangeRecord],
) -> String {
    let page = report(account, taken_at, findings, trend);
    if changes.is_empty() {
        return page;
    }
    let mut c = String::from("<h2>Changes since the last full scan</h2><table><tr><th>when</th><th>became</th><th>check</th><th>region</th><th>resource</th><th>changed by</th><th>call</th></tr>");
    for x in changes {
        let _ = write!(
            c,
            r#"<tr><td>{}</td><td class="{}">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&x.at),
            if x.became == "fail" { "fail" } else { "pass" },
            if x.became == "fail" {
                "newly failing"
            } else {
                "fixed"
            },
            escape(&x.check),
            escape(&x.region),
            escape(&x.resource),
            escape(x.actor.as_deref().unwrap_or("?")),
            escape(x.event.as_deref().unwrap_or("")),
        );
    }
    c.push_str("</table>");
    page.replacen("<h2>Frameworks</h2>", &format!("{c}<h2>Frameworks</h2>"), 1)
}

/// One account of an organisation, as [`org_report`] shows it.
#[derive(Debug, Clone)]
pub struct OrgRow {
    /// The account id.
    pub account: String,
    /// Its name.
    pub name: String,
    /// Why it was not assessed (`None`: assessed).
    pub not_assessed: Option<String>,
    /// Its findings (empty when not assessed).
    pub findings: Vec<Finding>,
}

/// The organisation view: the roll-up score, then one row per account (score, counts, the
/// checks failing there), accounts not assessed in their own colour with the reason.
pub fn org_report(taken_at: &str, rows: &[OrgRow]) -> String {
    let all: Vec<Finding> = rows
        .iter()
        .flat_map(|r| r.findings.iter().cloned())
        .collect();
    let overall = score(&all, |_| true);
    let assessed = rows.iter().filter(|r| r.not_assessed.is_none()).count();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Harrier posture: organisation</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#f6f8fa}}
.fail{{color:#cf222e;font-weight:600}}.unknown{{color:#9a6700;font-weight:600}}.score{{font-size:2.5em;font-weight:700}}</style></head><body>
<h1>Posture of the organisation</h1><p>Scanned {taken}. {assessed} of {n} accounts assessed.</p>
<p class="score">{score}</p><p>{pass} passed, {fail} failed, {unknown} unknown over the assessed accounts; accounts not assessed count neither way.</p>
<table><tr><th>account</th><th>name</th><th>score</th><th>pass</th><th>fail</th><th>unknown</th><th>failing checks</th></tr>"#,
        taken = escape(taken_at),
        n = rows.len(),
        score = fmt_score(overall.value),
        pass = overall.pass,
        fail = overall.fail,
        unknown = overall.unknown,
    );
    for r in rows {
        match &r.not_assessed {
            Some(why) => {
                let _ = write!(
                    h,
                    r#"<tr><td>{}</td><td>{}</td><td class="unknown" colspan="5">NOT ASSESSED: {}</td></tr>"#,
                    escape(&r.account),
                    escape(&r.name),
                    escape(why)
                );
            }
            None => {
                let s = score(&r.findings, |_| true);
                let failing: BTreeSet<&str> = r
                    .findings
                    .iter()
                    .filter(|f| f.status == Status::Fail)
                    .map(|f| f.check)
                    .collect();
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"fail\">{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&r.account),
                    escape(&r.name),
                    fmt_score(s.value),
                    s.pass,
                    s.fail,
                    s.unknown,
                    failing.iter().map(|c| escape(c)).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    h.push_str("</table></body></html>\n");
    h
}
