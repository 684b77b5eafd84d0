//! `harrier serve`: the Kubernetes audit webhook over real HTTP and HTTPS sockets on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `harrier serve` on a free port and waits until it listens.
fn serve(extra: &[&str], alerts: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "-o",
            alerts.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Served { child, port }
}

fn exchange<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let _ = s.flush();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    exchange(
        TcpStream::connect(("127.0.0.1", port)).unwrap(),
        method,
        path,
        headers,
        body,
    )
}

fn https(port: u16, body: &[u8]) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(fixture("test-ca.pem")).unwrap();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    exchange(
        rustls::StreamOwned::new(conn, tcp),
        "POST",
        "/k8s-audit",
        &[],
        body,
    )
}

fn exec_batch(id: &str) -> String {
    format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{id}","stage":"ResponseStarted","verb":"create","requestURI":"/api/v1/namespaces/web/pods/nginx/exec?command=xmrig&container=nginx","user":{{"username":"alice"}},"sourceIPs":["198.51.100.23"],"objectRef":{{"resource":"pods","namespace":"web","name":"nginx","subresource":"exec"}},"responseStatus":{{"code":101}},"annotations":{{"authorization.k8s.io/decision":"allow"}},"stageTimestamp":"2026-11-20T11:00:00.5Z"}},{{"kind":"Event","auditID":"{id}-2","stage":"ResponseComplete","verb":"get","objectRef":{{"resource":"pods"}},"stageTimestamp":"2026-11-20T11:00:01Z"}}]}}"#
    )
}

#[test]
fn accepted_batch_is_alerted_before_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let s = serve(&[], &alerts);
    let (code, body) = http(
        s.port,
        "POST",
        "/k8s-audit",
        &[],
        exec_batch("h1").as_bytes(),
    );
    assert_eq!((code, body.as_str()), (200, r#"{"accepted":2}"#));
    // Durable before the 200: the alert is in the file now.
    let written = std::fs::read_to_string(&alerts).unwrap();
    let alert: serde_json::Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert_eq!(alert["rule"], "K8s Exec Or Attach Into Pod");
    assert_eq!(alert["event_id"], "h1");
    assert_eq!(alert["source"], "k8s_audit");
    assert_eq!(
        written.lines().count(),
        1,
        "the near-miss (a plain get) raises nothing"
    );
    assert_eq!(http(s.port, "GET", "/healthz", &[], b"").0, 200);
}

#[test]
fn bad_bodies_methods_and_paths_get_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&["--max-body", "4096"], &dir.path().join("a.jsonl"));
    let (code, body) = http(
        s.port,
        "POST",
        "/k8s-audit",
        &[],
        b"{\"kind\": \"EventList\", \"items\": [",
    );
    assert_eq!(code, 400);
    assert!(body.contains("invalid JSON at byte"), "{body}");
    let (code, body) = http(
        s.port,
        "POST",
        "/k8s-audit",
        &[],
        br#"{"eventName":"StopLogging"}"#,
    );
    assert_eq!(code, 400);
    assert!(body.contains("Event or EventList"), "{body}");
    let big = format!(r#"{{"kind":"Event","pad":"{}"}}"#, "x".repeat(10_000));
    assert_eq!(
        http(s.port, "POST", "/k8s-audit", &[], big.as_bytes()).0,
        413
    );
    assert_eq!(http(s.port, "GET", "/k8s-audit", &[], b"").0, 405);
    assert_eq!(http(s.port, "POST", "/elsewhere", &[], b"{}").0, 404);
    // The server is still up and working after all of that.
    assert_eq!(
        http(
            s.port,
            "POST",
            "/k8s-audit",
            &[],
            exec_batch("h2").as_bytes()
        )
        .0,
        200
    );
}

#[test]
fn bearer_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let s = serve(
        &["--token-file", token.to_str().unwrap()],
        &dir.path().join("a.jsonl"),
    );
    let batch = exec_batch("t1");
    assert_eq!(
        http(s.port, "POST", "/k8s-audit", &[], batch.as_bytes()).0,
        401
    );
    assert_eq!(
        http(
            s.port,
            "POST",
            "/k8s-audit",
            &[("Authorization", "Bearer wrong")],
            batch.as_bytes()
        )
        .0,
        401
    );
    assert_eq!(
        http(
            s.port,
            "POST",
            "/k8s-audit",
            &[("Authorization", "Bearer s3cret-token")],
            batch.as_bytes()
        )
        .0,
        200
    );
}

#[test]
fn https_with_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let (cert, key) = (fixture("test-cert.pem"), fixture("test-key.pem"));
    let s = serve(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &alerts,
    );
    let (code, body) = https(s.port, exec_batch("tls1").as_bytes());
    assert_eq!((code, body.as_str()), (200, r#"{"accepted":2}"#));
    assert!(std::fs::read_to_string(&alerts)
        .unwrap()
        .contains("\"event_id\":\"tls1\""));
    // Plain HTTP to the TLS port gets nothing useful.
    assert_ne!(http(s.port, "GET", "/healthz", &[], b"").0, 200);
}

#[test]
fn sigterm_stops_cleanly_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = serve(&[], &dir.path().join("a.jsonl"));
    assert_eq!(
        http(
            s.port,
            "POST",
            "/k8s-audit",
            &[],
            exec_batch("s1").as_bytes()
        )
        .0,
        200
    );
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut rest)
        .unwrap();
    assert!(
        rest.contains("stopped;") && rest.contains("2 record(s)"),
        "{rest}"
    );
}
