//! `harrier serve --config` without AWS: the audit webhook as the source, metrics on the same
//! listener, several outputs with their own names and filters, over real sockets on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const EXEC_RULE: &str = "K8s Exec Or Attach Into Pod";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        code,
        resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

fn exec_event(id: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","stage":"ResponseStarted","verb":"create","requestURI":"/api/v1/namespaces/web/pods/nginx/exec?command=xmrig&container=nginx","user":{{"username":"alice"}},"sourceIPs":["198.51.100.23"],"objectRef":{{"resource":"pods","namespace":"web","name":"nginx","subresource":"exec"}},"responseStatus":{{"code":101}},"annotations":{{"authorization.k8s.io/decision":"allow"}},"stageTimestamp":"2026-11-20T11:00:00.5Z"}}"#
    )
}

/// A running `serve`, killed if a test fails before stopping it.
struct Served(Option<Child>);

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `serve --config` and waits for its "serving" line.
fn serve(config: &Path, env: &[(&str, &str)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("HARRIER_WEBHOOK_TOKEN")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("harrier: serving"), "{line}");
    Served(Some(child))
}

/// SIGTERM, then the process must exit 0 within 20 s (no thread left waiting for another).
fn stop(mut served: Served) -> (String, String) {
    let mut child = served.0.take().unwrap();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status:?}: {err}");
    (out, err)
}

fn write_config(dir: &Path, port: u16, outputs: &str) -> std::path::PathBuf {
    write_config_with_metrics(dir, port, port, outputs)
}

fn write_config_with_metrics(
    dir: &Path,
    port: u16,
    metrics: u16,
    outputs: &str,
) -> std::path::PathBuf {
    let config = dir.join("harrier.yaml");
    std::fs::write(
        &config,
        format!(
            "state_dir: {state}\nsources:\n  - type: k8s_audit\n    listen: 127.0.0.1:{port}\nmetrics:\n  listen: 127.0.0.1:{metrics}\noutputs:\n{outputs}",
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn every_output_gets_what_its_name_and_filter_say() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (exec_only, critical) = (
        dir.path().join("exec.jsonl"),
        dir.path().join("critical.jsonl"),
    );
    let config = write_config(
        dir.path(),
        port,
        &format!(
            "  - {{type: stdout, name: first}}\n  - {{type: stdout, name: second}}\n  - type: file\n    name: exec-only\n    path: {}\n    filter: {{rules: [\"{EXEC_RULE}\"], namespaces: [web]}}\n  - type: file\n    name: critical\n    path: {}\n    filter: {{min_priority: critical}}\n",
            exec_only.display(),
            critical.display()
        ),
    );
    let child = serve(&config, &[]);
    let (code, body) = http(port, "POST", "/k8s-audit", &[], exec_event("r1").as_bytes());
    assert_eq!((code, body.as_str()), (200, r#"{"accepted":1}"#));
    // Metrics and health on the webhook's own listener.
    let (code, metrics) = http(port, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    assert!(
        metrics.contains(&format!(
            "harrier_events_total{{source=\"k8s_audit://127.0.0.1:{port}\"}} 1"
        )),
        "{metrics}"
    );
    assert_eq!(http(port, "GET", "/healthz", &[], b"").0, 200);
    let (out, err) = stop(child);
    // Two stdout outputs with different names: each has its own cursor, so the alert is
    // printed once by each.
    let printed = out.lines().filter(|l| l.contains(EXEC_RULE)).count();
    assert_eq!(printed, 2, "stdout: {out}\nstderr: {err}");
    // The exec-only file got it (its rule, its namespace); the critical file did not (the
    // rule is a Warning).
    let exec_lines = std::fs::read_to_string(&exec_only).unwrap();
    assert_eq!(exec_lines.lines().count(), 1, "{exec_lines}");
    assert!(exec_lines.contains(EXEC_RULE));
    assert_eq!(
        std::fs::read_to_string(&critical).unwrap_or_default(),
        "",
        "a Warning passed a min_priority: critical filter"
    );
    assert!(!err.contains("not yet delivered"), "{err}");
}

#[test]
fn metrics_on_their_own_address_stop_with_the_outputs() {
    // The metrics listener outlives the sources (it stops with the outputs): SIGTERM must
    // still end the process, with the alert delivered.
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics) = (free_port(), free_port());
    let file = dir.path().join("all.jsonl");
    let config = write_config_with_metrics(
        dir.path(),
        port,
        metrics,
        &format!("  - {{type: file, path: {}}}\n", file.display()),
    );
    let child = serve(&config, &[]);
    assert_eq!(
        http(port, "POST", "/k8s-audit", &[], exec_event("m1").as_bytes()).0,
        200
    );
    let (code, text) = http(metrics, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    assert!(
        text.contains("harrier_output_delivered_total{output=\"file\"}"),
        "{text}"
    );
    assert_eq!(
        http(port, "GET", "/metrics", &[], b"").0,
        404,
        "metrics are not on the webhook's address"
    );
    let (_, err) = stop(child);
    assert!(!err.contains("not yet delivered"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);
}

#[test]
fn the_webhook_token_from_the_environment_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "  - {type: stdout}\n");
    let child = serve(&config, &[("HARRIER_WEBHOOK_TOKEN", "t0ken")]);
    let body = exec_event("t1");
    assert_eq!(
        http(port, "POST", "/k8s-audit", &[], body.as_bytes()).0,
        401
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/k8s-audit",
            &[("Authorization", "Bearer wrong")],
            body.as_bytes()
        )
        .0,
        401
    );
    assert_eq!(
        http(
            port,
            "POST",
            "/k8s-audit",
            &[("Authorization", "Bearer t0ken")],
            body.as_bytes()
        )
        .0,
        200
    );
    let (_, err) = stop(child);
    assert!(!err.contains("t0ken"), "the token was logged: {err}");
}

#[test]
fn a_config_mistake_names_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.yaml");
    std::fs::write(
        &config,
        "sources:\n  - type: k8s_audit\n    listen: 127.0.0.1:0\noutputs:\n  - type: stdout\n    filter: {min_priority: loudest}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: line 6", config.display()))
            && err.contains("outputs[0].filter.min_priority")
            && err.contains("loudest"),
        "{err}"
    );
}

#[test]
fn incidents_are_announced_to_the_outputs_once_opened_and_as_they_escalate() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        port,
        "  - {type: stdout}\nincidents: {window: 24h}\n",
    );
    let child = serve(&config, &[]);
    // The story's Kubernetes audit events (exec, secrets listed, events deleted by alice),
    // one batch.
    let story = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../samples/k8s-audit-story.jsonl"),
    )
    .unwrap();
    let items: Vec<&str> = story.lines().filter(|l| !l.trim().is_empty()).collect();
    let batch = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{}]}}"#,
        items.join(",")
    );
    assert_eq!(
        http(port, "POST", "/k8s-audit", &[], batch.as_bytes()).0,
        200
    );
    // The same batch again (the API server retried): nothing new, no new notice.
    assert_eq!(
        http(port, "POST", "/k8s-audit", &[], batch.as_bytes()).0,
        200
    );
    let (out, err) = stop(child);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules = |name: &str| {
        lines
            .iter()
            .filter(|a| a["rule"] == name)
            .collect::<Vec<_>>()
    };
    let opened = rules("Incident Opened");
    let escalated = rules("Incident Escalated");
    assert_eq!(opened.len(), 1, "{out}\n{err}");
    assert!(!escalated.is_empty(), "{out}");
    let id = opened[0]["output_fields"]["incident.id"].as_str().unwrap();
    assert!(id.starts_with("inc-"));
    assert!(
        escalated
            .iter()
            .all(|e| e["output_fields"]["incident.id"] == id),
        "one story: {out}"
    );
    assert_eq!(
        escalated.last().unwrap()["priority"],
        "Critical",
        "three tactics: {out}"
    );
    assert_eq!(opened[0]["source"], "incident");
    // Each rule alert once, notices besides.
    assert_eq!(rules("K8s Exec Or Attach Into Pod").len(), 1);
    // The incident is in the store, as it ended.
    let list = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["incidents", "list", "--format", "json", "--state-dir"])
        .arg(dir.path().join("state"))
        .output()
        .unwrap();
    let stored: Vec<serde_json::Value> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], id);
    assert_eq!(stored[0]["severity"], "Critical");
}
