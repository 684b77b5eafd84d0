//! The REST API (`/api/v1`), and the readings of the store the pages share with it.

use harrier_alerts::store::{AlertQuery, DeliveryState, QueriedAlert, StoredIncident};
use harrier_events::time::{format_iso8601, parse_rfc3339};
use harrier_rules::Priority;
use serde_json::{json, Value};

use crate::auth::{Principal, Role};
use crate::{Console, ConsoleError, In, Out, RuleInfo};

type R = Result<Out, ConsoleError>;

/// CSS class of a priority.
pub(crate) fn priority_class(p: Priority) -> &'static str {
    match p {
        Priority::Emergency | Priority::Alert | Priority::Critical => "p-critical",
        Priority::Error => "p-error",
        Priority::Warning => "p-warning",
        Priority::Notice => "p-notice",
        _ => "p-info",
    }
}

fn time_param(r: &In, name: &str) -> Result<Option<i64>, String> {
    match r.param(name) {
        None => Ok(None),
        Some(v) => {
            let v = if v.len() == 10 && v.as_bytes()[4] == b'-' {
                format!("{v}T00:00:00Z")
            } else {
                v.to_string()
            };
            parse_rfc3339(&v).map(Some).ok_or_else(|| {
                format!("{name}: expected a time like 2024-07-31 or 2024-07-31T13:06:24Z")
            })
        }
    }
}

fn num_param<T: std::str::FromStr>(r: &In, name: &str, what: &str) -> Result<Option<T>, String> {
    r.param(name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| format!("{name}: expected {what}"))
        })
        .transpose()
}

fn limit_param(r: &In) -> Result<Option<u32>, String> {
    match num_param::<u32>(r, "limit", "a number from 1 to 500")? {
        Some(n) if !(1..=500).contains(&n) => Err("limit: expected a number from 1 to 500".into()),
        n => Ok(n),
    }
}

/// The alert filters of a request (pages and API take the same).
pub(crate) fn alert_query(r: &In) -> Result<AlertQuery, String> {
    let s = |k: &str| r.param(k).map(str::to_string);
    let min_priority = r
        .param("priority")
        .map(|p| {
            p.parse::<Priority>()
                .map_err(|_| format!("priority: expected one of {}", names()))
        })
        .transpose()?;
    Ok(AlertQuery {
        since_ns: time_param(r, "since")?,
        until_ns: time_param(r, "until")?,
        min_priority,
        rule: s("rule"),
        source: s("source"),
        principal: s("principal"),
        resource: s("resource"),
        account: s("account"),
        region: s("region"),
        text: s("q"),
        include_suppressed: r.param("suppressed") == Some("true"),
        before_seq: num_param(r, "cursor", "the next_cursor of a previous page")?,
        limit: limit_param(r)?,
    })
}

fn names() -> String {
    Priority::ALL
        .iter()
        .map(|p| p.as_str().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn alert_json(a: &QueriedAlert, with_event: bool) -> Value {
    let full: Value = serde_json::from_str(&a.alert.json).unwrap_or(Value::Null);
    let mut v = json!({
        "id": a.alert.id,
        "seq": a.alert.seq,
        "time": format_iso8601(a.alert.time_ns),
        "rule": a.alert.rule,
        "priority": a.alert.priority.as_str(),
        "source": a.alert.source,
        "output": full["output"],
        "tags": full["tags"],
        "output_fields": full["output_fields"],
        "principal": a.facets.principal,
        "resource": a.facets.resource,
        "account": a.facets.account,
        "region": a.facets.region,
        "suppressed": a.alert.suppressed,
    });
    if with_event {
        v["event"] = a
            .event
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or(Value::Null);
    }
    v
}

fn incident_json(i: &StoredIncident) -> Value {
    json!({
        "id": i.id,
        "title": i.title,
        "severity": i.severity.as_str(),
        "first_seen": format_iso8601(i.first_ns),
        "last_seen": format_iso8601(i.last_ns),
        "alerts": i.alerts,
    })
}

/// A page of incidents per the request's `cursor` (`<last ns>:<id>`) and `limit`.
pub(crate) fn incident_page(
    c: &Console,
    r: &In,
) -> Result<(Vec<StoredIncident>, Option<String>), String> {
    let limit = limit_param(r)?.unwrap_or(50);
    let cursor = match r.param("cursor") {
        None => None,
        Some(cur) => {
            let (t, id) = cur
                .split_once(':')
                .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id)))
                .ok_or("cursor: expected the next_cursor of a previous page")?;
            Some((t, id.to_string()))
        }
    };
    let (list, next) = c
        .with_store(
            |s| Ok(s.incidents_page(cursor.as_ref().map(|(t, i)| (*t, i.as_str())), limit)?),
        )
        .map_err(|e| e.to_string())?;
    Ok((list, next.map(|(t, id)| format!("{t}:{id}"))))
}

/// What the overview shows.
pub(crate) struct Overview {
    pub incidents: Vec<StoredIncident>,
    pub alerts: u64,
    pub days: Vec<(String, Vec<(i64, u64)>)>,
    pub score: Option<f64>,
    pub scores: Vec<(String, f64)>,
    pub outputs: Vec<DeliveryState>,
    /// Alerts each output has still to deliver (suppressed ones aside), by `outputs`' order:
    /// counted, since a shared store's positions have gaps.
    pub lags: Vec<u64>,
    pub sources: Vec<(String, String, i64)>,
}

const DAY_NS: i64 = 86_400_000_000_000;

pub(crate) fn overview_data(c: &Console) -> Result<Overview, ConsoleError> {
    let (incidents, alerts, outputs, sources, newest) = c.with_store(|s| {
        let newest = s
            .query(&AlertQuery {
                limit: Some(1),
                include_suppressed: true,
                ..Default::default()
            })?
            .alerts
            .first()
            .map(|a| a.alert.time_ns);
        let mut outputs = s.deliveries()?;
        outputs.retain(|d| harrier_alerts::store::is_output(&d.output));
        let lags = outputs
            .iter()
            .map(|d| s.undelivered(&d.output))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            s.incidents(10)?,
            s.counted()?,
            (outputs, lags),
            s.checkpoints()?,
            newest,
        ))
    })?;
    let (outputs, lags) = outputs;
    // The 30 days up to the newest alert's day (a backfill of last year still shows).
    let end = newest.map_or(harrier_events::time::now_ns(), |t| t) / DAY_NS * DAY_NS + DAY_NS;
    let start = end - 30 * DAY_NS;
    let hist = c.with_store(|s| Ok(s.alerts_per_day(start / DAY_NS, end / DAY_NS)?))?;
    let days = (0..30)
        .map(|d| {
            let at = start + d * DAY_NS;
            let day = format_iso8601(at).get(..10).unwrap_or("").to_string();
            let counts = hist
                .iter()
                .filter(|(b, _, _)| *b * DAY_NS == at)
                .map(|(_, p, n)| (*p, *n))
                .collect();
            (day, counts)
        })
        .collect();
    let scans = c.history()?.scans(None, 60)?;
    let scores = scans
        .iter()
        .filter_map(|s| {
            let at = if s.taken_at.is_empty() {
                format!("#{}", s.id)
            } else {
                s.taken_at.clone()
            };
            Some((at, s.score?))
        })
        .collect();
    Ok(Overview {
        incidents,
        alerts,
        days,
        score: scans.last().and_then(|s| s.score),
        scores,
        outputs,
        lags,
        sources,
    })
}

/// A failing check on a resource, with what the check says about itself.
pub(crate) struct Failing {
    pub check: String,
    pub title: &'static str,
    pub severity: &'static str,
    pub region: String,
    pub resource: String,
    pub reason: String,
    pub rationale: &'static str,
    pub remediation: &'static str,
    pub cli: Vec<&'static str>,
}

/// `(check, region, resource)`.
pub(crate) type Key = (String, String, String);

/// The posture of one account's latest scan.
pub(crate) struct Posture {
    pub scan: i64,
    pub account: String,
    pub taken_at: String,
    pub score: Option<f64>,
    pub trend: Vec<(String, f64)>,
    pub frameworks: Vec<(&'static str, &'static str, Option<f64>)>,
    /// Newly failed and fixed since the previous scan: `(check, region, resource)` each.
    pub changes: Option<(Vec<Key>, Vec<Key>)>,
    pub failing: Vec<Failing>,
    /// Failing findings in the scan, and where this page of them starts.
    pub failing_total: i64,
    pub offset: usize,
    pub limit: usize,
}

/// The posture per `account` (default: the latest scan's) and `scan` (default: its latest).
pub(crate) fn posture_data(
    c: &Console,
    r: &In,
) -> Result<Result<Option<Posture>, String>, ConsoleError> {
    let h = c.history()?;
    let scan_id = match num_param::<i64>(r, "scan", "a scan id") {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let all = h.scans(r.param("account"), 1000)?;
    let Some(cur) = (match scan_id {
        Some(id) => all.iter().find(|s| s.id == id),
        None => all.last(),
    }) else {
        return Ok(match scan_id {
            Some(_) => Err("scan: no such scan".into()),
            None => Ok(None),
        });
    };
    let mine: Vec<_> = all.iter().filter(|s| s.account == cur.account).collect();
    let label = |s: &harrier_posture::history::ScanSummary| {
        if s.taken_at.is_empty() {
            format!("#{}", s.id)
        } else {
            s.taken_at.clone()
        }
    };
    let trend = mine
        .iter()
        .filter_map(|s| Some((label(s), s.score?)))
        .collect();
    let prev = mine.iter().rev().find(|s| s.id < cur.id);
    let changes = match prev {
        Some(p) => {
            let ch = h.changes(p.id, cur.id)?;
            Some((ch.newly_failed, ch.fixed))
        }
        None => None,
    };
    let mut frameworks = Vec::new();
    for (id, name) in harrier_posture::frameworks::FRAMEWORKS.iter().take(5) {
        frameworks.push((
            *id,
            *name,
            h.scope_score(cur.id, &format!("framework:{id}"))?,
        ));
    }
    let offset = match num_param::<u32>(r, "offset", "a number up to 4294967295") {
        Ok(o) => o.unwrap_or(0) as usize,
        Err(e) => return Ok(Err(e)),
    };
    let limit = match limit_param(r) {
        Ok(l) => l.unwrap_or(200) as usize,
        Err(e) => return Ok(Err(e)),
    };
    let failing = h
        .findings(cur.id, Some("fail"), offset, limit)?
        .into_iter()
        .map(|(check, region, resource, _, reason)| {
            let meta = harrier_posture::check(&check);
            Failing {
                title: meta.map_or("", |m| m.title),
                severity: meta.map_or("unknown", |m| m.severity.as_str()),
                rationale: meta.map_or("", |m| m.rationale),
                remediation: meta.map_or("", |m| m.remediation),
                cli: meta.map_or(Vec::new(), |m| m.cli.to_vec()),
                check,
                region,
                resource,
                reason,
            }
        })
        .collect();
    Ok(Ok(Some(Posture {
        scan: cur.id,
        account: cur.account.clone(),
        taken_at: label(cur),
        score: cur.score,
        trend,
        frameworks,
        changes,
        failing,
        failing_total: cur.fail,
        offset,
        limit,
    })))
}

/// Scanned images, newest first, with their tags.
pub(crate) fn image_list(
    c: &Console,
) -> Result<Vec<(harrier_supply::verdict::Summary, Vec<String>)>, ConsoleError> {
    let db = c.images()?;
    let scans = db.scans(500)?;
    let digests: Vec<&str> = scans.iter().map(|s| s.digest.as_str()).collect();
    let mut tags = db.tags_of_each(&digests)?;
    Ok(scans
        .into_iter()
        .map(|s| {
            let t = tags.remove(&s.digest).unwrap_or_default();
            (s, t)
        })
        .collect())
}

/// Loaded rules with how often each fired.
pub(crate) fn rule_list(c: &Console) -> Result<Vec<(RuleInfo, u64)>, ConsoleError> {
    let counts = c.with_store(|s| Ok(s.rule_counts()?))?;
    let counts: std::collections::HashMap<String, u64> = counts.into_iter().collect();
    Ok(c.opts
        .rules
        .iter()
        .map(|r| (r.clone(), counts.get(&r.name).copied().unwrap_or(0)))
        .collect())
}

fn bad(msg: &str) -> Out {
    Out::json(400, &json!({ "error": msg }))
}

fn not_found(what: &str) -> Out {
    Out::json(404, &json!({ "error": format!("no such {what}") }))
}

pub(crate) fn route(c: &Console, r: &In, who: &Principal) -> R {
    let p = r.path.trim_start_matches("/api/v1");
    if r.method == "POST" && p == "/users" {
        return add_user(c, r, who);
    }
    if r.method != "GET" {
        return Ok(Out::json(405, &json!({"error": "method not allowed"})));
    }
    Ok(match p {
        "/openapi.json" => Out::json(200, &crate::openapi::document()),
        "/session" => Out::json(
            200,
            &json!({"user": who.name, "role": who.role.as_str(), "csrf_token": who.csrf}),
        ),
        "/overview" => {
            let o = overview_data(c)?;
            Out::json(
                200,
                &json!({
                    "alerts": o.alerts,
                    "open_incidents": o.incidents.iter().map(incident_json).collect::<Vec<_>>(),
                    "alerts_by_day": o.days.iter().map(|(d, counts)| json!({
                        "day": d,
                        "by_priority": counts.iter().map(|(p, n)| (harrier_alerts::store::priority_of(*p).as_str().to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
                    })).collect::<Vec<_>>(),
                    "posture_score": o.score,
                    "posture_trend": o.scores.iter().map(|(t, s)| json!({"taken_at": t, "score": s})).collect::<Vec<_>>(),
                    "outputs": o.outputs.iter().zip(&o.lags).map(|(d, lag)| json!({"output": d.output, "delivered": d.delivered, "lag": lag, "failures": d.failures, "last_error": d.last_error})).collect::<Vec<_>>(),
                    "sources": o.sources.iter().map(|(s, v, at)| json!({"source": s, "checkpoint": v, "updated": format_iso8601(*at)})).collect::<Vec<_>>(),
                }),
            )
        }
        "/alerts" => match alert_query(r) {
            Err(m) => bad(&m),
            Ok(q) => {
                let page = c.with_store(|s| Ok(s.query(&q)?))?;
                Out::json(
                    200,
                    &json!({
                        "items": page.alerts.iter().map(|a| alert_json(a, false)).collect::<Vec<_>>(),
                        "next_cursor": page.next.map(|n| n.to_string()),
                    }),
                )
            }
        },
        "/incidents" => match incident_page(c, r) {
            Err(m) => bad(&m),
            Ok((list, next)) => Out::json(
                200,
                &json!({"items": list.iter().map(incident_json).collect::<Vec<_>>(), "next_cursor": next}),
            ),
        },
        "/posture" => match posture_data(c, r)? {
            Err(m) => bad(&m),
            Ok(None) => Out::json(200, &json!({"scan": null})),
            Ok(Some(d)) => Out::json(
                200,
                &json!({
                    "scan": d.scan, "account": d.account, "taken_at": d.taken_at, "score": d.score,
                    "trend": d.trend.iter().map(|(t, s)| json!({"taken_at": t, "score": s})).collect::<Vec<_>>(),
                    "frameworks": d.frameworks.iter().map(|(id, name, s)| json!({"id": id, "name": name, "score": s})).collect::<Vec<_>>(),
                    "failing_total": d.failing_total,
                    "next_offset": ((d.offset.saturating_add(d.limit) as i64) < d.failing_total).then_some(d.offset + d.limit),
                    "newly_failed": d.changes.as_ref().map(|c| keys(&c.0)),
                    "fixed": d.changes.as_ref().map(|c| keys(&c.1)),
                    "failing": d.failing.iter().map(|f| json!({
                        "check": f.check, "title": f.title, "severity": f.severity, "region": f.region,
                        "resource": f.resource, "reason": f.reason, "rationale": f.rationale,
                        "remediation": f.remediation, "cli": f.cli,
                    })).collect::<Vec<_>>(),
                }),
            ),
        },
        "/images" => {
            let list = image_list(c)?;
            Out::json(
                200,
                &json!({"items": list.iter().map(|(s, tags)| json!({
                    "digest": s.digest, "reference": s.reference, "tags": tags,
                    "scanned": format_iso8601(s.scanned_at_ns), "malware": s.malware.len(),
                    "vulnerabilities": s.vulnerabilities.len(), "practice": s.practice.len(),
                })).collect::<Vec<_>>()}),
            )
        }
        "/rules" => {
            let list = rule_list(c)?;
            Out::json(
                200,
                &json!({"items": list.iter().map(|(r, n)| json!({
                    "name": r.name, "description": r.desc, "priority": r.priority.as_str(),
                    "source": r.source, "tags": r.tags, "file": r.file, "enabled": r.enabled, "fired": n,
                })).collect::<Vec<_>>()}),
            )
        }
        "/users" => {
            if who.role != Role::Admin {
                return Ok(Out::json(403, &json!({"error": "admins only"})));
            }
            let list = c.auth().users()?;
            Out::json(
                200,
                &json!({"items": list.iter().map(|(n, r)| json!({"name": n, "role": r})).collect::<Vec<_>>()}),
            )
        }
        _ => {
            if let Some(id) = p.strip_prefix("/alerts/") {
                match c.with_store(|s| Ok(s.alert(id)?))? {
                    Some(a) => Out::json(200, &alert_json(&a, true)),
                    None => not_found("alert"),
                }
            } else if let Some(id) = p.strip_prefix("/incidents/") {
                match c.with_store(|s| Ok(s.incident(id)?))? {
                    Some(i) => Out::new(200, "application/json", i.json.into_bytes()),
                    None => not_found("incident"),
                }
            } else if let Some(d) = p
                .strip_prefix("/images/")
                .and_then(|d| d.strip_suffix("/sbom"))
            {
                match c.images()?.sbom(d)? {
                    Some(s) => Out::new(200, "application/vnd.cyclonedx+json", s.into_bytes())
                        .header(
                            "Content-Disposition",
                            &format!("attachment; filename=\"{}.cdx.json\"", safe_name(d)),
                        ),
                    None => not_found("SBOM"),
                }
            } else if let Some(d) = p.strip_prefix("/images/") {
                match c.images()?.scan(d)? {
                    Some(s) => {
                        let mut v = serde_json::to_value(&s).unwrap_or(Value::Null);
                        v["tags"] = json!(c.images()?.tags_of(d)?);
                        let out = Out::json(200, &v);
                        if r.param("download").is_some() {
                            out.header(
                                "Content-Disposition",
                                &format!(
                                    "attachment; filename=\"harrier-scan-{}.json\"",
                                    safe_name(d)
                                ),
                            )
                        } else {
                            out
                        }
                    }
                    None => not_found("image"),
                }
            } else {
                not_found("endpoint")
            }
        }
    })
}

fn safe_name(d: &str) -> String {
    d.chars()
        .take(80)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn keys(list: &[(String, String, String)]) -> Value {
    json!(list
        .iter()
        .map(|(c, r, res)| json!({"check": c, "region": r, "resource": res}))
        .collect::<Vec<_>>())
}

fn add_user(c: &Console, r: &In, who: &Principal) -> R {
    if who.role != Role::Admin {
        return Ok(Out::json(403, &json!({"error": "admins only"})));
    }
    let v: Value = match serde_json::from_slice(&r.body) {
        Ok(v) => v,
        Err(e) => return Ok(bad(&format!("body: expected a JSON object: {e}"))),
    };
    let (Some(name), Some(password)) = (v["name"].as_str(), v["password"].as_str()) else {
        return Ok(bad("body: expected {\"name\", \"password\", \"role\"}"));
    };
    let Some(role) = Role::parse(v["role"].as_str().unwrap_or("viewer")) else {
        return Ok(bad("role: expected viewer or admin"));
    };
    match c.auth().add_user(name, role, password) {
        Ok(()) => Ok(Out::json(
            201,
            &json!({"name": name, "role": role.as_str()}),
        )),
        Err(ConsoleError::Invalid(m)) => Ok(bad(&m)),
        Err(e) => Err(e),
    }
}
