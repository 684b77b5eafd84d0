//! The console, end to end: `harrier serve` with `console:` over a state directory filled from
//! the story's samples (`detect --store --incidents`), a posture snapshot recorded twice, and
//! the sample image (`image scan --record`). Every API endpoint with and without a session, bad
//! ids and filters, CSRF, roles, tokens, escaping, the security headers, the login limit; then
//! the pages in Debian's Chromium through Playwright (tests/console/browser.py), which also
//! writes the screenshots of docs/console/ when HARRIER_BLESS=1.

mod common;

#[path = "console/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::*;

/// Fills a state directory as the story would: alerts and the incident, two posture scans, the
/// scanned sample image.
fn fill(dir: &Path) {
    let r = repo();
    let s = |p: &str| r.join(p).to_string_lossy().into_owned();
    let d = dir.to_str().unwrap();
    run(&[
        "detect",
        &s("samples/attack-story.json"),
        &s("samples/k8s-audit-story.jsonl"),
        &s("samples/runtime-story.jsonl"),
        "--incidents",
        "--store",
        "--state-dir",
        d,
        "-o",
        "/dev/null",
    ]);
    let snap = dir.join("snap.json");
    run(&[
        "posture",
        "import",
        &s("../shared/corpus/posture/cloudmapper-demo/account-data/demo"),
        "-o",
        snap.to_str().unwrap(),
    ]);
    for now in ["2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"] {
        run(&[
            "posture",
            "evaluate",
            snap.to_str().unwrap(),
            "--record",
            "--now",
            now,
            "--state-dir",
            d,
        ]);
    }
    let out = harrier()
        .args([
            "image",
            "scan",
            &s("samples/images/backdoored-web.tar"),
            "--record",
            "--state-dir",
            d,
        ])
        .output()
        .unwrap();
    // Exit 0 or 1 (findings); what matters is that the scan was recorded.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recorded sha256:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn console_api_pages_and_browser() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ci viewer 0123456789abcdef0123456789abcdef\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let s = serve(dir.path(), &format!("  token_file: {}\n", tokens.display()));
    let port = s.port;
    assert_eq!(
        s.password.len(),
        24,
        "the first admin's password is printed once"
    );

    // Without a session: every API endpoint is 401, pages go to the login.
    let endpoints = [
        "/api/v1/overview",
        "/api/v1/alerts",
        "/api/v1/alerts/x",
        "/api/v1/incidents",
        "/api/v1/incidents/x",
        "/api/v1/posture",
        "/api/v1/images",
        "/api/v1/images/x",
        "/api/v1/images/x/sbom",
        "/api/v1/rules",
        "/api/v1/users",
        "/api/v1/session",
        "/api/v1/openapi.json",
    ];
    for e in endpoints {
        let (st, h, _) = req(port, "GET", e, &[], "");
        assert_eq!(st, 401, "{e}");
        assert!(header(&h, "content-security-policy")
            .unwrap()
            .contains("default-src 'none'"));
    }
    let (st, h, _) = req(port, "GET", "/alerts", &[], "");
    assert_eq!((st, header(&h, "location")), (303, Some("/login")));
    let (st, _, _) = req(port, "POST", "/api/v1/users", &[], "{}");
    assert_eq!(st, 401);
    // A forged cookie is no session.
    let (st, _) = get_json(
        port,
        &format!("harrier_session={}", "0".repeat(64)),
        "/api/v1/alerts",
    );
    assert_eq!(st, 401);

    // Wrong password, then the right one; the session cookie is HttpOnly and SameSite=Strict.
    assert!(login(port, "admin", "not-the-password").is_none());
    let (_, h, _) = req(
        port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("user=admin&password={}", s.password),
    );
    let set = header(&h, "set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let c = cookie.as_str();

    // The OpenAPI document names every endpoint.
    let (st, doc) = get_json(port, c, "/api/v1/openapi.json");
    assert_eq!((st, doc["openapi"].as_str()), (200, Some("3.1.0")));
    for e in [
        "/api/v1/overview",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/api/v1/incidents/{id}",
        "/api/v1/posture",
        "/api/v1/images/{digest}/sbom",
        "/api/v1/rules",
        "/api/v1/users",
    ] {
        assert!(doc["paths"][e].is_object(), "{e} missing from openapi.json");
    }

    // Overview: the story's 25 alerts and its one incident.
    let (_, o) = get_json(port, c, "/api/v1/overview");
    assert_eq!(o["alerts"], 25);
    assert_eq!(o["open_incidents"].as_array().unwrap().len(), 1);
    assert!(o["posture_score"].as_f64().is_some());

    // Alerts: pages without overlap, filters, full text, bad filters.
    let (_, p1) = get_json(port, c, "/api/v1/alerts?limit=10");
    let cursor = p1["next_cursor"].as_str().unwrap().to_string();
    let (_, p2) = get_json(port, c, &format!("/api/v1/alerts?limit=10&cursor={cursor}"));
    let (_, p3) = get_json(
        port,
        c,
        &format!(
            "/api/v1/alerts?limit=10&cursor={}",
            p2["next_cursor"].as_str().unwrap()
        ),
    );
    let mut ids: Vec<String> = [&p1, &p2, &p3]
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().iter())
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert!(p3["next_cursor"].is_null());
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((n, ids.len()), (25, 25));
    let (_, xmrig) = get_json(port, c, "/api/v1/alerts?q=xmrig");
    let items = xmrig["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|a| a["output"].as_str().unwrap().contains("xmrig")
            || a["output_fields"].to_string().contains("xmrig")));
    let (_, none) = get_json(port, c, "/api/v1/alerts?q=nosuchwordanywhere");
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let (_, ct) = get_json(
        port,
        c,
        "/api/v1/alerts?source=aws_cloudtrail&priority=critical",
    );
    let ct = ct["items"].as_array().unwrap();
    assert!(!ct.is_empty());
    assert!(ct
        .iter()
        .all(|a| a["source"] == "aws_cloudtrail" && a["priority"] == "Critical"));
    let principal = ct[0]["principal"].as_str().unwrap().to_string();
    assert!(principal.contains("alice"), "{principal}");
    let account = ct[0]["account"].as_str().unwrap().to_string();
    let (_, by) = get_json(
        port,
        c,
        &format!(
            "/api/v1/alerts?principal={}&account={account}",
            enc(&principal)
        ),
    );
    assert!(by["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["principal"] == principal.as_str()));
    let (_, later) = get_json(port, c, "/api/v1/alerts?since=2030-01-01");
    assert_eq!(later["items"].as_array().unwrap().len(), 0);
    for (bad, param) in [
        ("priority=urgent", "priority"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("since=yesterday", "since"),
        ("cursor=x", "cursor"),
    ] {
        let (st, v) = get_json(port, c, &format!("/api/v1/alerts?{bad}"));
        assert_eq!(st, 400, "{bad}");
        assert!(
            v["error"].as_str().unwrap().starts_with(param),
            "{bad}: {v}"
        );
    }

    // One alert with its raw event; a bad id.
    let id = ct[0]["id"].as_str().unwrap();
    let (st, a) = get_json(port, c, &format!("/api/v1/alerts/{id}"));
    assert_eq!(st, 200);
    assert!(a["event"]["eventName"].is_string(), "{a}");
    assert_eq!(get_json(port, c, "/api/v1/alerts/nope").0, 404);

    // Incidents.
    let (_, inc) = get_json(port, c, "/api/v1/incidents");
    let iid = inc["items"][0]["id"].as_str().unwrap().to_string();
    let (st, one) = get_json(port, c, &format!("/api/v1/incidents/{iid}"));
    assert_eq!((st, one["alerts"].as_array().unwrap().len()), (200, 25));
    assert_eq!(get_json(port, c, "/api/v1/incidents/inc-nope").0, 404);
    assert_eq!(get_json(port, c, "/api/v1/incidents?cursor=zz").0, 400);

    // Posture: score, trend of two scans, failing checks with their fixes.
    let (_, p) = get_json(port, c, "/api/v1/posture");
    assert_eq!(p["trend"].as_array().unwrap().len(), 2);
    let failing = p["failing"].as_array().unwrap();
    assert!(failing
        .iter()
        .any(|f| f["remediation"].as_str().is_some_and(|r| !r.is_empty())
            && !f["cli"].as_array().unwrap().is_empty()));
    assert_eq!(get_json(port, c, "/api/v1/posture?scan=abc").0, 400);
    assert_eq!(get_json(port, c, "/api/v1/posture?scan=999").0, 400);

    // Images: the backdoored sample's malware, its SBOM.
    let (_, im) = get_json(port, c, "/api/v1/images");
    let digest = im["items"][0]["digest"].as_str().unwrap().to_string();
    let (_, scan) = get_json(port, c, &format!("/api/v1/images/{digest}"));
    assert!(scan["malware"].to_string().contains("miner"), "{scan}");
    let (_, sbom) = get_json(port, c, &format!("/api/v1/images/{digest}/sbom"));
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(get_json(port, c, "/api/v1/images/sha256:00").0, 404);
    assert_eq!(get_json(port, c, "/api/v1/images/sha256:00/sbom").0, 404);

    // Rules: loaded, with how often each fired.
    let (_, rules) = get_json(port, c, "/api/v1/rules");
    assert!(rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["fired"].as_u64() > Some(0)));
    assert_eq!(get_json(port, c, "/api/v1/nothing-here").0, 404);

    // CSRF: a state change with the session but without (or with a wrong) token, or from
    // another origin, is refused; with it, done.
    let (_, session) = get_json(port, c, "/api/v1/session");
    let csrf = session["csrf_token"].as_str().unwrap().to_string();
    let user = r#"{"name":"vera","role":"viewer","password":"a long viewer password"}"#;
    let json_h = ("Content-Type", "application/json");
    let (st, _, _) = req(
        port,
        "POST",
        "/api/v1/users",
        &[("Cookie", c), json_h],
        user,
    );
    assert_eq!(st, 403);
    let (st, _, _) = req(
        port,
        "POST",
        "/api/v1/users",
        &[("Cookie", c), json_h, ("X-CSRF-Token", &"0".repeat(64))],
        user,
    );
    assert_eq!(st, 403);
    let (st, _, _) = req(
        port,
        "POST",
        "/api/v1/users",
        &[
            ("Cookie", c),
            json_h,
            ("X-CSRF-Token", &csrf),
            ("Origin", "https://evil.example"),
        ],
        user,
    );
    assert_eq!(st, 403);
    let (st, _, b) = req(
        port,
        "POST",
        "/api/v1/users",
        &[("Cookie", c), json_h, ("X-CSRF-Token", &csrf)],
        user,
    );
    assert_eq!(st, 201, "{b}");
    let (st, _, b) = req(
        port,
        "POST",
        "/api/v1/users",
        &[("Cookie", c), json_h, ("X-CSRF-Token", &csrf)],
        r#"{"name":"x","password":"short"}"#,
    );
    assert_eq!(st, 400, "{b}");
    // The form on /users takes the token as a field; without it, 403.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let (st, _, _) = req(
        port,
        "POST",
        "/users",
        &[("Cookie", c), form],
        "name=w&role=viewer&password=another+long+password",
    );
    assert_eq!(st, 403);
    let (st, _, page) = req(
        port,
        "POST",
        "/users",
        &[("Cookie", c), form],
        &format!("csrf={csrf}&name=walt&role=viewer&password=another+long+password"),
    );
    assert_eq!(st, 200);
    assert!(page.contains("walt"));

    // A viewer reads but does not manage users.
    let viewer = login(port, "vera", "a+long+viewer+password").expect("the viewer logs in");
    assert_eq!(get_json(port, &viewer, "/api/v1/alerts").0, 200);
    assert_eq!(get_json(port, &viewer, "/api/v1/users").0, 403);
    let (st, _, _) = req(port, "GET", "/users", &[("Cookie", &viewer)], "");
    assert_eq!(st, 403);

    // A token from the token file: no CSRF needed (browsers do not send it), role still holds.
    let bearer = ("Authorization", "Bearer 0123456789abcdef0123456789abcdef");
    let (st, _, _) = req(port, "GET", "/api/v1/alerts", &[bearer], "");
    assert_eq!(st, 200);
    let (st, _, _) = req(port, "POST", "/api/v1/users", &[bearer, json_h], user);
    assert_eq!(st, 403);
    let (st, _, _) = req(
        port,
        "GET",
        "/api/v1/alerts",
        &[("Authorization", "Bearer 0123456789abcdef0123456789abcdeX")],
        "",
    );
    assert_eq!(st, 401);

    // Every value escaped: a filter echoed into the page.
    let (st, _, page) = req(
        port,
        "GET",
        "/alerts?rule=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        &[("Cookie", c)],
        "",
    );
    assert_eq!(st, 200);
    assert!(!page.contains("<script>alert(1)"), "unescaped");
    assert!(page.contains("&lt;script&gt;alert(1)"));
    // The language switch never links off-site, whatever the path.
    let (st, _, page) = req(port, "GET", "//evil.example", &[("Cookie", c)], "");
    assert_eq!(st, 404);
    assert!(
        !page.contains("href=\"//evil"),
        "an off-site link in the header"
    );
    // Hostile paging is an answer, not a crash.
    assert_eq!(
        get_json(port, c, "/api/v1/posture?offset=4294967295").0,
        200
    );
    assert_eq!(
        get_json(port, c, "/api/v1/posture?offset=18446744073709551615").0,
        400
    );
    let (st, _, _) = req(
        port,
        "GET",
        "/posture?offset=4294967295",
        &[("Cookie", c)],
        "",
    );
    assert_eq!(st, 200);
    // Japanese by Accept-Language.
    let (_, _, page) = req(
        port,
        "GET",
        "/",
        &[("Cookie", c), ("Accept-Language", "ja,en;q=0.5")],
        "",
    );
    assert!(page.contains("概要"));

    // The browser: log in, the incident, an alert's raw event, the posture chart and a fix,
    // the image's malware, Japanese.
    browser(port, &s.password);

    // Logging out ends the session.
    let (st, _, _) = req(
        port,
        "POST",
        "/logout",
        &[("Cookie", c), form],
        &format!("csrf={csrf}"),
    );
    assert_eq!(st, 303);
    assert_eq!(get_json(port, c, "/api/v1/alerts").0, 401);

    // Failed logins are limited (last: it locks this client out for a minute).
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let (st, _, _) = req(
            port,
            "POST",
            "/login",
            &[form],
            "user=admin&password=guess-guess-guess",
        );
        statuses.push(st);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let (st, _, _) = req(
        port,
        "POST",
        "/login",
        &[form],
        &format!("user=admin&password={}", s.password),
    );
    assert_eq!(st, 429, "even the right password waits");
    s.stop();
}

fn browser(port: u16, password: &str) {
    if std::env::var_os("HARRIER_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("SKIPPED: the console in a browser (HARRIER_SKIP_BROWSER_TESTS is set)");
        return;
    }
    let python = std::env::var("HARRIER_PLAYWRIGHT_PYTHON").unwrap_or_else(|_| "python3".into());
    let chromium = std::env::var("HARRIER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let shots = tempfile::tempdir().unwrap();
    let dest = if std::env::var_os("HARRIER_BLESS").is_some() {
        repo().join("docs/console")
    } else {
        shots.path().to_path_buf()
    };
    std::fs::create_dir_all(&dest).unwrap();
    let out = Command::new(&python)
        .arg(repo().join("crates/harrier-cli/tests/console/browser.py"))
        .args([
            &format!("http://127.0.0.1:{port}"),
            "admin",
            password,
            dest.to_str().unwrap(),
            &chromium,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser test failed (python {python}, chromium {chromium}):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.join("overview-ja.png").exists());
}
