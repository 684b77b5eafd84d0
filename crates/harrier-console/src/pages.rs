//! The web pages: rendered on the server, every value escaped by maud, no script.

use std::collections::BTreeMap;

use harrier_events::time::format_datetime;
use maud::{html, Markup, DOCTYPE};

use crate::api::{self, alert_query, priority_class};
use crate::auth::{Principal, Role};
use crate::i18n::Lang;
use crate::{chart, Console, ConsoleError, In, Out};

type R = Result<Out, ConsoleError>;

pub(crate) fn route(c: &Console, r: &In, who: &Principal) -> R {
    let lang = r.lang();
    let p = r.path.as_str();
    let mut out = match (r.method.as_str(), p) {
        ("GET", "/") => overview(c, r, who, lang)?,
        ("GET", "/incidents") => incidents(c, r, who, lang)?,
        ("GET", "/alerts") => alerts(c, r, who, lang)?,
        ("GET", "/posture") => posture(c, r, who, lang)?,
        ("GET", "/images") => images(c, r, who, lang)?,
        ("GET", "/rules") => rules(c, r, who, lang)?,
        ("GET", "/users") | ("POST", "/users") => users(c, r, who, lang)?,
        ("POST", "/logout") => {
            if let Some(t) = r.cookie(crate::SESSION_COOKIE) {
                c.auth().logout(t)?;
            }
            Out::redirect("/login").header(
                "Set-Cookie",
                &format!(
                    "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
                    crate::SESSION_COOKIE
                ),
            )
        }
        ("GET", _) if p.starts_with("/incidents/") => incident(c, r, who, lang, &p[11..])?,
        ("GET", _) if p.starts_with("/alerts/") => alert(c, r, who, lang, &p[8..])?,
        ("GET", _) if p.starts_with("/images/") => image(c, r, who, lang, &p[8..])?,
        ("GET", _) => not_found(r, who, lang),
        _ => Out::status(405),
    };
    if let Some(l) = r.param("lang").and_then(Lang::parse) {
        out = out.header(
            "Set-Cookie",
            &format!(
                "lang={}; Path=/; SameSite=Strict; Max-Age=31536000",
                l.code()
            ),
        );
    }
    Ok(out)
}

fn page(r: &In, who: &Principal, lang: Lang, title: &str, body: Markup) -> Out {
    let nav = [
        ("/", "overview"),
        ("/incidents", "incidents"),
        ("/alerts", "alerts"),
        ("/posture", "posture"),
        ("/images", "images"),
        ("/rules", "rules"),
    ];
    let other = match lang {
        Lang::En => "ja",
        Lang::Ja => "en",
    };
    // The language switch links to this page: only a path of the console's own (one leading
    // slash, no backslash), never `//host`.
    let here: &str =
        if r.path.starts_with('/') && !r.path.starts_with("//") && !r.path.contains('\\') {
            &r.path
        } else {
            "/"
        };
    Out::html(html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Harrier" }
                link rel="stylesheet" href="/static/console.css";
            }
            body {
                header {
                    a.brand href="/" { "Harrier" }
                    nav {
                        @for (href, key) in nav {
                            a href=(href) class=[(href == here).then_some("here")] { (lang.t(key)) }
                        }
                        @if who.role == Role::Admin {
                            a href="/users" { (lang.t("users")) }
                        }
                    }
                    span.who {
                        a id="lang" href={ (here) "?lang=" (other) } { (lang.t("language")) }
                        " " (who.name) " "
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(who.csrf.as_deref().unwrap_or(""));
                            button type="submit" { (lang.t("logout")) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    })
}

pub(crate) fn login(r: &In, problem: Option<&'static str>) -> Out {
    let lang = r.lang();
    Out::html(html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (lang.t("login")) " · Harrier" }
                link rel="stylesheet" href="/static/console.css";
            }
            body.login {
                main {
                    h1 { "Harrier" }
                    @if let Some(p) = problem { p.problem role="alert" { (lang.t(p)) } }
                    form method="post" action="/login" {
                        label { (lang.t("user")) input name="user" autocomplete="username" required; }
                        label { (lang.t("password")) input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { (lang.t("login")) }
                    }
                }
            }
        }
    })
}

fn not_found(r: &In, who: &Principal, lang: Lang) -> Out {
    page(r, who, lang, "404", html! { p { (lang.t("nothing")) } }).with_status(404)
}

fn time(ns: i64) -> String {
    format_datetime(ns)
}

fn overview(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let o = api::overview_data(c)?;
    let buckets: Vec<(String, Vec<(i64, u64)>)> = o
        .days
        .iter()
        .map(|(day, counts)| (day.clone(), counts.clone()))
        .collect();
    let body = html! {
        section.cards {
            div.card { h2 { (lang.t("open_incidents")) } p.big { (o.incidents.len()) } }
            div.card { h2 { (lang.t("total_alerts")) } p.big { (o.alerts) } }
            div.card {
                h2 { (lang.t("posture_score")) }
                p.big { @match o.score { Some(s) => (format!("{s:.1}")), None => "–" } }
            }
        }
        section {
            h2 { (lang.t("alerts_over_time")) }
            (chart::stacked(lang.t("alerts_over_time"), &buckets))
        }
        @if o.scores.len() > 1 {
            section {
                h2 { (lang.t("score_over_time")) }
                (chart::line(lang.t("score_over_time"), &o.scores))
            }
        }
        section {
            h2 { (lang.t("open_incidents")) }
            (incident_table(lang, &o.incidents))
        }
        section {
            h2 { (lang.t("health")) }
            table {
                tr { th { (lang.t("output")) } th { (lang.t("delivered")) } th { (lang.t("lag")) } th { (lang.t("failures")) } th { (lang.t("last_error")) } }
                @for (d, lag) in o.outputs.iter().zip(&o.lags) {
                    tr { td { (d.output) } td { (d.delivered) } td { (lag) } td { (d.failures) } td { (d.last_error.as_deref().unwrap_or("")) } }
                }
                tr { th { (lang.t("source")) } th colspan="4" { (lang.t("last_checkpoint")) } }
                @for (s, _, at) in &o.sources {
                    tr { td { (s) } td colspan="4" { (time(*at)) } }
                }
            }
        }
    };
    Ok(page(r, who, lang, lang.t("overview"), body))
}

fn incident_table(lang: Lang, list: &[harrier_alerts::store::StoredIncident]) -> Markup {
    html! {
        @if list.is_empty() { p { (lang.t("nothing")) } } @else {
            table {
                tr { th { (lang.t("severity")) } th { (lang.t("title")) } th { (lang.t("first_seen")) } th { (lang.t("last_seen")) } th { (lang.t("alerts")) } }
                @for i in list {
                    tr {
                        td class=(priority_class(i.severity)) { (i.severity.as_str()) }
                        td { a href={ "/incidents/" (i.id) } { (i.title) } }
                        td { (time(i.first_ns)) } td { (time(i.last_ns)) } td { (i.alerts) }
                    }
                }
            }
        }
    }
}

fn incidents(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let page_ = match api::incident_page(c, r) {
        Ok(p) => p,
        Err(msg) => return Ok(bad(r, who, lang, &msg)),
    };
    let body = html! {
        (incident_table(lang, &page_.0))
        @if let Some(next) = &page_.1 { p { a href={ "/incidents?cursor=" (next) } { (lang.t("next_page")) } } }
    };
    Ok(page(r, who, lang, lang.t("incidents"), body))
}

fn incident(c: &Console, r: &In, who: &Principal, lang: Lang, id: &str) -> R {
    let Some(i) = c.with_store(|s| Ok(s.incident(id)?))? else {
        return Ok(not_found(r, who, lang));
    };
    let v: serde_json::Value = serde_json::from_str(&i.json).unwrap_or_default();
    let empty = Vec::new();
    let alerts = v["alerts"].as_array().unwrap_or(&empty);
    let body = html! {
        p { span class=(priority_class(i.severity)) { (i.severity.as_str()) } " · " (time(i.first_ns)) " – " (time(i.last_ns)) }
        @if let Some(p) = v["principals"].as_array() {
            p { (lang.t("principal")) ": "
                @for x in p { @if let Some(x) = x.as_str() { a href={ "/alerts?principal=" (enc(x)) } { (x) } " " } }
            }
        }
        h2 { (lang.t("timeline")) }
        table {
            tr { th { (lang.t("time")) } th { (lang.t("priority")) } th { (lang.t("source")) } th { (lang.t("rule")) } th { (lang.t("what")) } }
            @for a in alerts {
                tr {
                    td { (a["time"].as_str().unwrap_or("")) }
                    td { (a["priority"].as_str().unwrap_or("")) }
                    td { (a["source"].as_str().unwrap_or("")) }
                    td { a href={ "/alerts/" (a["id"].as_str().unwrap_or("")) } { (a["rule"].as_str().unwrap_or("")) } }
                    td { (a["output"].as_str().unwrap_or("")) }
                }
            }
        }
    };
    Ok(page(r, who, lang, &i.title, body))
}

fn bad(r: &In, who: &Principal, lang: Lang, msg: &str) -> Out {
    page(r, who, lang, "400", html! { p.problem { (msg) } }).with_status(400)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn alerts(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let q = match alert_query(r) {
        Ok(q) => q,
        Err(msg) => return Ok(bad(r, who, lang, &msg)),
    };
    let res = c.with_store(|s| Ok(s.query(&q)?))?;
    let field = |name: &'static str, key: &'static str| {
        html! { label { (lang.t(key)) input name=(name) value=(r.param(name).unwrap_or("")); } }
    };
    let keep: String = r
        .query
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.is_empty())
        .map(|(k, v)| format!("{}={}&", enc(k), enc(v)))
        .collect();
    let body = html! {
        form.filters method="get" action="/alerts" {
            (field("q", "search")) (field("since", "since")) (field("until", "until"))
            label { (lang.t("priority"))
                select name="priority" {
                    option value="" { (lang.t("all")) }
                    @for p in harrier_rules::Priority::ALL {
                        option value=(p.as_str()) selected[r.param("priority") == Some(p.as_str())] { (p.as_str()) }
                    }
                }
            }
            (field("rule", "rule")) (field("source", "source")) (field("principal", "principal"))
            (field("resource", "resource")) (field("account", "account")) (field("region", "region"))
            button type="submit" { (lang.t("filter")) }
        }
        @if res.alerts.is_empty() { p { (lang.t("nothing")) } } @else {
            table.alerts {
                tr { th { (lang.t("time")) } th { (lang.t("priority")) } th { (lang.t("rule")) } th { (lang.t("principal")) } th { (lang.t("account")) } th { (lang.t("region")) } }
                @for a in &res.alerts {
                    tr {
                        td { (time(a.alert.time_ns)) }
                        td class=(priority_class(a.alert.priority)) { (a.alert.priority.as_str()) }
                        td { a href={ "/alerts/" (a.alert.id) } { (a.alert.rule) } }
                        td { (a.facets.principal.as_deref().unwrap_or("")) }
                        td { (a.facets.account.as_deref().unwrap_or("")) }
                        td { (a.facets.region.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if let Some(n) = res.next { p { a href={ "/alerts?" (keep) "cursor=" (n) } { (lang.t("next_page")) } } }
    };
    Ok(page(r, who, lang, lang.t("alerts"), body))
}

fn alert(c: &Console, r: &In, who: &Principal, lang: Lang, id: &str) -> R {
    let Some(a) = c.with_store(|s| Ok(s.alert(id)?))? else {
        return Ok(not_found(r, who, lang));
    };
    let related = match &a.facets.principal {
        Some(p) => {
            c.with_store(|s| {
                Ok(s.query(&harrier_alerts::store::AlertQuery {
                    principal: Some(p.clone()),
                    limit: Some(20),
                    ..Default::default()
                })?)
            })?
            .alerts
        }
        None => Vec::new(),
    };
    let full: serde_json::Value = serde_json::from_str(&a.alert.json).unwrap_or_default();
    let event = a
        .event
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok());
    let facet = |key: &'static str, param: &'static str, v: &Option<String>| {
        html! {
            @if let Some(v) = v {
                tr { th { (lang.t(key)) } td { a href={ "/alerts?" (param) "=" (enc(v)) } { (v) } } }
            }
        }
    };
    let body = html! {
        p.output { (full["output"].as_str().unwrap_or("")) }
        table {
            tr { th { (lang.t("time")) } td { (time(a.alert.time_ns)) } }
            tr { th { (lang.t("priority")) } td class=(priority_class(a.alert.priority)) { (a.alert.priority.as_str()) } }
            tr { th { (lang.t("rule")) } td { a href={ "/alerts?rule=" (enc(&a.alert.rule)) } { (a.alert.rule) } } }
            tr { th { (lang.t("source")) } td { (a.alert.source) } }
            (facet("principal", "principal", &a.facets.principal))
            (facet("resource", "resource", &a.facets.resource))
            (facet("account", "account", &a.facets.account))
            (facet("region", "region", &a.facets.region))
            tr { th { (lang.t("tags")) } td { @if let Some(t) = full["tags"].as_array() { @for x in t { span.tag { (x.as_str().unwrap_or("")) } " " } } } }
        }
        h2 { (lang.t("raw_event")) }
        @match &event {
            Some(e) => pre.raw id="raw-event" { (e) },
            None => p { (lang.t("nothing")) },
        }
        h2 { (lang.t("same_principal")) }
        ul {
            @for x in related.iter().filter(|x| x.alert.id != a.alert.id) {
                li { (time(x.alert.time_ns)) " " a href={ "/alerts/" (x.alert.id) } { (x.alert.rule) } }
            }
        }
    };
    Ok(page(r, who, lang, &a.alert.rule, body))
}

fn posture(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let data = match api::posture_data(c, r)? {
        Ok(d) => d,
        Err(msg) => return Ok(bad(r, who, lang, &msg)),
    };
    let Some(d) = data else {
        return Ok(page(
            r,
            who,
            lang,
            lang.t("posture"),
            html! { p { (lang.t("no_scans")) } },
        ));
    };
    let mut by_resource: BTreeMap<&str, Vec<&api::Failing>> = BTreeMap::new();
    for f in &d.failing {
        by_resource.entry(f.resource.as_str()).or_default().push(f);
    }
    let keys = |list: &[(String, String, String)]| {
        html! {
            @if list.is_empty() { p { (lang.t("nothing")) } }
            ul { @for (check, region, res) in list { li { code { (check) } " " (res) " (" (region) ")" } } }
        }
    };
    let body = html! {
        p { (lang.t("account")) " " (d.account) " · " (lang.t("scan")) " " (d.taken_at) " · " (lang.t("score")) " "
            strong id="score" { @match d.score { Some(s) => (format!("{s:.1}")), None => "–" } } }
        section {
            h2 { (lang.t("score_over_time")) }
            (chart::line(lang.t("score_over_time"), &d.trend))
        }
        section {
            h2 { (lang.t("frameworks")) }
            table { @for (id, name, s) in &d.frameworks {
                tr { th { (name) } td { code { (id) } } td { @match s { Some(s) => (format!("{s:.1}")), None => "–" } } }
            } }
        }
        @if let Some((failed, fixed)) = &d.changes {
            section { h2 { (lang.t("newly_failed")) } (keys(failed)) h2 { (lang.t("fixed")) } (keys(fixed)) }
        }
        section {
            h2 { (lang.t("failing_checks")) " (" (d.failing_total) ")" }
            @for (res, list) in &by_resource {
                details.resource {
                    summary { strong { (res) } " — " (list.len()) }
                    @for f in list {
                        div.check {
                            h3 { span class=(format!("sev-{}", f.severity)) { (f.severity) } " " code { (f.check) } " " (f.title) }
                            p { (lang.t("region")) ": " (f.region) " · " (lang.t("reason")) ": " (f.reason) }
                            p { strong { (lang.t("rationale")) } ": " (f.rationale) }
                            p { strong { (lang.t("remediation")) } ": " (f.remediation) }
                            @if !f.cli.is_empty() {
                                p { strong { (lang.t("cli_fix")) } }
                                pre.cli { @for line in &f.cli { (line) "\n" } }
                            }
                        }
                    }
                }
            }
            @if (d.offset.saturating_add(d.limit) as i64) < d.failing_total {
                p { a href={ "/posture?account=" (enc(&d.account)) "&scan=" (d.scan) "&offset=" (d.offset.saturating_add(d.limit)) } { (lang.t("next_page")) } }
            }
        }
    };
    Ok(page(r, who, lang, lang.t("posture"), body))
}

fn images(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let list = api::image_list(c)?;
    let body = html! {
        @if list.is_empty() { p { (lang.t("nothing")) } } @else {
            table {
                tr { th { (lang.t("repository")) } th { (lang.t("tag")) } th { (lang.t("digest")) } th { (lang.t("scanned")) } th { (lang.t("malware")) } th { (lang.t("vulnerabilities")) } th { (lang.t("practice")) } }
                @for (s, tags) in &list {
                    tr {
                        td { (s.reference) }
                        td { @for t in tags { span.tag { (t) } " " } }
                        td { a href={ "/images/" (s.digest) } { code { (s.digest.get(..19).unwrap_or(&s.digest)) } } }
                        td { (time(s.scanned_at_ns)) }
                        td class=[(!s.malware.is_empty()).then_some("bad")] { (s.malware.len()) }
                        td { (s.vulnerabilities.len()) }
                        td { (s.practice.len()) }
                    }
                }
            }
        }
    };
    Ok(page(r, who, lang, lang.t("images"), body))
}

fn image(c: &Console, r: &In, who: &Principal, lang: Lang, digest: &str) -> R {
    let Some(s) = c.images()?.scan(digest)? else {
        return Ok(not_found(r, who, lang));
    };
    let tags = c.images()?.tags_of(digest)?;
    let items = |id: &'static str, key: &'static str, list: &[harrier_supply::verdict::Item]| {
        html! {
            section id=(id) {
                h2 { (lang.t(key)) " (" (list.len()) ")" }
                @if !list.is_empty() {
                    table {
                        tr { th { (lang.t("finding")) } th { (lang.t("severity")) } th { (lang.t("what")) } th { (lang.t("fixed_in")) } th { (lang.t("layer")) } }
                        @for i in list {
                            tr { td { code { (i.id) } } td class=(format!("sev-{}", i.severity)) { (i.severity) } td { (i.what) } td { (i.fixed.as_deref().unwrap_or("")) } td { (i.layer.map(|l| l.to_string()).unwrap_or_default()) } }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        table {
            tr { th { (lang.t("digest")) } td { code { (s.digest) } } }
            tr { th { (lang.t("tag")) } td { @for t in &tags { span.tag { (t) } " " } } }
            tr { th { (lang.t("scanned")) } td { (time(s.scanned_at_ns)) } }
            tr { th { (lang.t("os")) } td { (s.os.as_deref().unwrap_or("")) } }
            tr { th { (lang.t("packages")) } td { (s.packages) } }
        }
        p {
            a href={ "/api/v1/images/" (s.digest) "?download=1" } { (lang.t("download_summary")) }
            " · "
            a href={ "/api/v1/images/" (s.digest) "/sbom" } { (lang.t("download_sbom")) }
        }
        (items("malware", "malware", &s.malware))
        (items("vulnerabilities", "vulnerabilities", &s.vulnerabilities))
        (items("practice", "practice", &s.practice))
    };
    Ok(page(r, who, lang, &s.reference, body))
}

fn rules(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    let list = api::rule_list(c)?;
    let body = html! {
        table {
            tr { th { (lang.t("rule")) } th { (lang.t("priority")) } th { (lang.t("source")) } th { (lang.t("tags")) } th { (lang.t("file")) } th { (lang.t("fired")) } }
            @for (rule, fired) in &list {
                tr {
                    td { a href={ "/alerts?rule=" (enc(&rule.name)) } { (rule.name) } }
                    td class=(priority_class(rule.priority)) { (rule.priority.as_str()) }
                    td { (rule.source) }
                    td { @for t in &rule.tags { span.tag { (t) } " " } }
                    td { (rule.file) }
                    td { (fired) }
                }
            }
        }
    };
    Ok(page(r, who, lang, lang.t("rules"), body))
}

fn users(c: &Console, r: &In, who: &Principal, lang: Lang) -> R {
    if who.role != Role::Admin {
        return Ok(Out::error(r, 403, "admins only"));
    }
    let mut note: Option<String> = None;
    if r.method == "POST" {
        let f = r.form();
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let role = Role::parse(get("role")).unwrap_or(Role::Viewer);
        note = Some(
            match c.auth().add_user(get("name"), role, get("password")) {
                Ok(()) => lang.t("saved").to_string(),
                Err(crate::ConsoleError::Invalid(m)) => m,
                Err(e) => return Err(e),
            },
        );
    }
    let list = c.auth().users()?;
    let body = html! {
        @if let Some(n) = &note { p.note { (n) } }
        table { tr { th { (lang.t("user")) } th { (lang.t("role")) } } @for (n, role) in &list { tr { td { (n) } td { (role) } } } }
        h2 { (lang.t("add_user")) }
        form method="post" action="/users" {
            input type="hidden" name="csrf" value=(who.csrf.as_deref().unwrap_or(""));
            label { (lang.t("user")) input name="name" required; }
            label { (lang.t("role")) select name="role" { option value="viewer" { "viewer" } option value="admin" { "admin" } } }
            label { (lang.t("password")) input name="password" type="password" minlength="12" required; }
            button type="submit" { (lang.t("save")) }
        }
    };
    Ok(page(r, who, lang, lang.t("users"), body))
}
