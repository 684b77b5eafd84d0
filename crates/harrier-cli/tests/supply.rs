//! The image supply chain end to end: `harrier serve` scanning ECR pushes (CloudTrail through
//! S3 notifications on SQS, and EventBridge events on SQS, all in moto) by pulling them from a
//! real registry (Debian's docker-registry, filled by skopeo); `harrier image inventory` over
//! moto's ECS and a Kubernetes API answer served over HTTPS; and the admission webhook over
//! HTTPS with real AdmissionReview v1 bodies.

mod common;

#[path = "../../harrier-store-pg/tests/support/pg_server.rs"]
mod pg_server;

use common::{alerts, free_port, http_get, metric, stop, wait_until};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn backdoored() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/images/backdoored-web.tar")
}

fn clean() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/image/image-archives/scalibr-basic-docker-archive.tar")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn py(endpoint: &str, args: &[&str]) -> Value {
    common::py("supply.py", endpoint, args)
}

fn serve(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["serve", "--config"])
        .arg(config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("HARRIER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn put_image(id: &str, time: &str, identity: Value, tag: &str, digest: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": time,
        "eventSource": "ecr.amazonaws.com", "eventName": "PutImage", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.50", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"repositoryName": "web", "imageTag": tag, "registryId": "111122223333"},
        "responseElements": {"image": {"registryId": "111122223333", "repositoryName": "web",
            "imageId": {"imageDigest": digest, "imageTag": tag}}},
        "requestID": format!("req-{id}"), "eventID": id, "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333"}]})
}

#[test]
fn pushed_images_are_scanned_once_and_a_person_moving_a_tag_is_alerted() {
    pushes(None);
}

/// The same run with `store: postgres://...`: the scan queue, the scans and the tags are the
/// shared database's; the worker's state directory gets no images.db.
#[test]
fn with_a_postgres_store_the_scans_are_the_shared_ones() {
    let Some(db) = pg_server::Server::start() else {
        return;
    };
    db.database("supply");
    pushes(Some(format!(
        "postgres://harrier@127.0.0.1:{}/supply",
        db.port
    )));
}

fn pushes(pg: Option<String>) {
    let (Some(m), Some(reg)) = (common::moto(), common::registry()) else {
        return;
    };
    let clean_digest = common::push_image(&clean(), &format!("127.0.0.1:{}/web:v1.4.2", reg.port));
    let bad_digest =
        common::push_image(&backdoored(), &format!("127.0.0.1:{}/web:v1.4.2", reg.port));
    assert_ne!(clean_digest, bad_digest);
    let queues = py(&m.url, &["setup", "trail-bucket"]);
    let (trail_q, ecr_q) = (
        queues["trail"].as_str().unwrap(),
        queues["ecr"].as_str().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let mport = free_port();
    let cfg = dir.path().join("harrier.yaml");
    std::fs::write(
        &cfg,
        format!(
            "{store}state_dir: {state}\naws: {{region: us-east-1, endpoint_url: '{url}'}}\nsources:\n  - {{type: sqs, queue_url: '{trail_q}', wait_seconds: 1}}\n  - {{type: ecr_events, queue_url: '{ecr_q}', wait_seconds: 1}}\nimages: {{registry: '127.0.0.1:{port}'}}\nincidents: {{}}\nmetrics: {{listen: '127.0.0.1:{mport}'}}\noutputs:\n  - {{type: file, path: {out}}}\n",
            store = pg.as_ref().map_or(String::new(), |u| format!("store: '{u}'\n")),
            state = dir.path().join("state").display(),
            url = m.url,
            port = reg.port,
            out = out.display(),
        ),
    )
    .unwrap();
    let child = serve(&cfg);
    wait_until("metrics", 60, || http_get(mport, "/healthz").contains("ok"));

    // The pipeline pushes the clean image: scanned, nothing to say.
    let ci = json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ci-deploy/build-17",
        "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLECI0000001",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/ci-deploy", "userName": "ci-deploy"}}});
    let f1 = dir.path().join("ci.json");
    std::fs::write(
        &f1,
        put_image(
            "push-ci",
            "2026-11-20T10:02:14Z",
            ci,
            "v1.4.2",
            &clean_digest,
        )
        .to_string(),
    )
    .unwrap();
    py(
        &m.url,
        &[
            "trail",
            "trail-bucket",
            trail_q,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/ci.json.gz",
            f1.to_str().unwrap(),
        ],
    );
    wait_until("the clean push scanned", 120, || {
        metric(mport, "harrier_image_scans_total") >= 1
    });
    // The attacker re-pushes the backdoored image under the same tag.
    let alice = json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"});
    let f2 = dir.path().join("attack.json");
    std::fs::write(
        &f2,
        put_image(
            "push-attacker",
            "2026-11-20T10:41:02Z",
            alice,
            "v1.4.2",
            &bad_digest,
        )
        .to_string(),
    )
    .unwrap();
    py(
        &m.url,
        &[
            "trail",
            "trail-bucket",
            trail_q,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/attack.json.gz",
            f2.to_str().unwrap(),
        ],
    );
    let took = wait_until("the backdoored push alerted", 120, || {
        alerts(&out)
            .iter()
            .any(|a| a["rule"] == "Pushed Image Fails Its Scan")
    });
    eprintln!("backdoored push: notification to alert in {took:?}");
    // EventBridge tells of the clean digest under another tag, then sends junk: the digest is
    // known (not scanned again), the junk is counted.
    let eb = json!({"version": "0", "id": "eb-stable", "detail-type": "ECR Image Action",
        "source": "aws.ecr", "account": "111122223333", "time": "2026-11-20T11:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"result": "SUCCESS", "repository-name": "web", "image-digest": clean_digest,
                   "action-type": "PUSH", "image-tag": "stable"}});
    py(&m.url, &["send", ecr_q, &eb.to_string()]);
    py(
        &m.url,
        &[
            "send",
            ecr_q,
            r#"{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {"action-type": "PUSH", "result": "SUCCESS"}}"#,
        ],
    );
    wait_until("the EventBridge push recorded", 60, || {
        metric(mport, "harrier_image_known_digests_total") >= 1
            && metric(mport, "harrier_image_bad_messages_total") >= 1
    });
    assert_eq!(
        metric(mport, "harrier_image_scans_total"),
        2,
        "each digest scanned once"
    );
    std::thread::sleep(Duration::from_secs(2));
    let err = stop(child);

    let all = alerts(&out);
    let image: Vec<&Value> = all.iter().filter(|a| a["source"] == "image").collect();
    let rules: Vec<&str> = image.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules.len(),
        2,
        "only the attacker's push alerts: {rules:?}\n{err}"
    );
    let scan = image
        .iter()
        .find(|a| a["rule"] == "Pushed Image Fails Its Scan")
        .unwrap();
    assert_eq!(scan["priority"], "Critical");
    let text = scan["output"].as_str().unwrap();
    assert!(
        text.contains("web:v1.4.2") && text.contains("user/alice"),
        "{text}"
    );
    assert!(text.contains("malware ld-so-preload"), "{text}");
    let fields = &scan["output_fields"];
    assert_eq!(fields["image.digest"], bad_digest.as_str());
    assert_eq!(
        fields["image.pusher"],
        "arn:aws:iam::111122223333:user/alice"
    );
    let moved = image
        .iter()
        .find(|a| a["rule"] == "Image Tag Moved To Another Digest")
        .unwrap();
    assert!(moved["output"]
        .as_str()
        .unwrap()
        .contains("by arn:aws:iam::111122223333:user/alice"));
    assert_eq!(
        moved["output_fields"]["image.previous_digest"],
        clean_digest.as_str()
    );

    if let Some(url) = &pg {
        // The shared database holds both scans and where the tag points; the worker keeps none.
        use harrier_supply::results::ImageResults;
        let store = harrier_store_pg::PgStore::connect(url).unwrap();
        let mut scanned: Vec<String> = store
            .scans(10)
            .unwrap()
            .into_iter()
            .map(|s| s.digest)
            .collect();
        scanned.sort();
        let mut want = vec![clean_digest.clone(), bad_digest.clone()];
        want.sort();
        assert_eq!(scanned, want);
        assert_eq!(store.tags_of(&bad_digest).unwrap(), ["web:v1.4.2"]);
        assert_eq!(store.depth().unwrap(), 0, "nothing left to scan");
        assert!(!dir.path().join("state/images.db").exists());
    }
    // The scan alerts join the pusher's incident, with the pack's alert on the push itself
    // (with PostgreSQL, correlated through the shared store).
    let mut inc = Command::new(env!("CARGO_BIN_EXE_harrier"));
    inc.args(["incidents", "list", "--format", "json", "--state-dir"])
        .arg(dir.path().join("state"));
    if let Some(url) = &pg {
        inc.args(["--store", url]);
    }
    let inc = inc.output().unwrap();
    let incidents: Vec<Value> = String::from_utf8_lossy(&inc.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let with_scan = incidents
        .iter()
        .find(|i| i.to_string().contains("Pushed Image Fails Its Scan"))
        .unwrap_or_else(|| panic!("no incident holds the scan alert: {incidents:?}"));
    assert!(with_scan.to_string().contains("user/alice"), "{with_scan}");
}

fn https(port: u16, path: &str, body: &[u8]) -> (u16, String) {
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
    let mut s = rustls::StreamOwned::new(conn, tcp);
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut r = Vec::new();
    let _ = s.read_to_end(&mut r);
    let r = String::from_utf8_lossy(&r).to_string();
    let code = r
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = r
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn review(uid: &str, kind: &str, object: Value) -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "web", "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object, "oldObject": null, "dryRun": false}})
    .to_string()
}

fn pod_spec(image: &str) -> Value {
    json!({"containers": [{"name": "nginx", "image": image}]})
}

#[test]
fn the_admission_webhook_refuses_the_backdoored_image_over_https() {
    let Some(reg) = common::registry() else {
        return;
    };
    let bad = format!("127.0.0.1:{}/web:1.4", reg.port);
    common::push_image(&backdoored(), &bad);
    let good_digest = common::push_image(&clean(), &format!("127.0.0.1:{}/web:1.3", reg.port));
    let good = format!("127.0.0.1:{}/web@{good_digest}", reg.port);
    // A registry that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    let dir = tempfile::tempdir().unwrap();
    let (p_enforce, p_audit, mport) = (free_port(), free_port(), free_port());
    let tls = format!(
        "tls_cert: {}, tls_key: {}",
        fixture("test-cert.pem").display(),
        fixture("test-key.pem").display()
    );
    let cfg = dir.path().join("harrier.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {state}\nsources:\n  - {{type: admission, listen: '127.0.0.1:{p_enforce}', {tls}, timeout: 2s}}\n  - {{type: admission, listen: '127.0.0.1:{p_audit}', {tls}, mode: audit, timeout: 2s}}\nmetrics: {{listen: '127.0.0.1:{mport}'}}\noutputs:\n  - {{type: file, path: {out}}}\n",
            state = dir.path().join("state").display(),
            out = dir.path().join("alerts.jsonl").display(),
        ),
    )
    .unwrap();
    let child = serve(&cfg);
    wait_until("the webhook", 60, || {
        http_get(mport, "/healthz").contains("ok")
    });

    let answer = |port: u16, uid: &str, kind: &str, obj: Value| -> Value {
        let (code, body) = https(port, "/validate", review(uid, kind, obj).as_bytes());
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["response"]["uid"], uid);
        v["response"].clone()
    };
    // The backdoored image, as a Pod, a Deployment and a CronJob: refused, saying why.
    for (uid, kind, obj) in [
        (
            "u-pod",
            "Pod",
            json!({"metadata": {"name": "nginx"}, "spec": pod_spec(&bad)}),
        ),
        (
            "u-deploy",
            "Deployment",
            json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": pod_spec(&bad)}}}),
        ),
        (
            "u-cron",
            "CronJob",
            json!({"metadata": {"name": "job"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec(&bad)}}}}}),
        ),
    ] {
        let r = answer(p_enforce, uid, kind, obj);
        assert_eq!(r["allowed"], false, "{kind}: {r}");
        assert_eq!(r["status"]["code"], 403);
        let m = r["status"]["message"].as_str().unwrap();
        assert!(
            m.contains("malware miner-binary") && m.contains(&bad),
            "{m}"
        );
    }
    // A clean image pinned by digest: allowed.
    let r = answer(
        p_enforce,
        "u-good",
        "Pod",
        json!({"metadata": {"name": "ok"}, "spec": pod_spec(&good)}),
    );
    assert_eq!(r["allowed"], true, "{r}");
    // latest: refused before any registry is asked.
    let r = answer(
        p_enforce,
        "u-latest",
        "Pod",
        json!({"metadata": {"name": "l"}, "spec": pod_spec(&format!("127.0.0.1:{}/web:latest", reg.port))}),
    );
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("the latest tag"));
    // A registry that never answers: the failure policy (Fail) within the timeout.
    let t = Instant::now();
    let r = answer(
        p_enforce,
        "u-silent",
        "Pod",
        json!({"metadata": {"name": "s"}, "spec": pod_spec(&format!("127.0.0.1:{silent_port}/web:1.0"))}),
    );
    eprintln!("unreachable registry answered in {:?}", t.elapsed());
    assert_eq!(r["allowed"], false);
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be checked"),
        "{r}"
    );
    // Audit mode: allowed, with the refusal as a warning.
    let r = answer(
        p_audit,
        "u-audit",
        "Pod",
        json!({"metadata": {"name": "nginx"}, "spec": pod_spec(&bad)}),
    );
    assert_eq!(r["allowed"], true);
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("would be refused"),
        "{r}"
    );
    // Malformed reviews: 400, saying what is wrong; another method: 405.
    let (code, body) = https(p_enforce, "/validate", b"{\"kind\":\"AdmissionReview\"");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("malformed AdmissionReview"), "{body}");
    let (code, _) = https(
        p_enforce,
        "/validate",
        br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}}"#,
    );
    assert_eq!(code, 400);
    assert!(metric(mport, "harrier_admission_denied_total") >= 5);
    assert_eq!(metric(mport, "harrier_admission_bad_requests_total"), 2);
    drop(silent);
    stop(child);
    // Each refusal is stored as an alert.
    let stored = alerts(&dir.path().join("alerts.jsonl"));
    let denied: Vec<&Value> = stored
        .iter()
        .filter(|a| a["rule"] == "Admission Denied")
        .collect();
    assert_eq!(denied.len(), 5, "{stored:?}");
    assert!(denied.iter().any(|a| a["priority"] == "Critical"));
}

/// Serves one recorded `GET /api/v1/pods` answer over HTTPS with the test certificate.
fn fake_api_server(body: String) -> (u16, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::https(
        "127.0.0.1:0",
        tiny_http::SslConfig {
            certificate: std::fs::read(fixture("test-cert.pem")).unwrap(),
            private_key: std::fs::read(fixture("test-key.pem")).unwrap(),
        },
    )
    .unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let t = std::thread::spawn(move || {
        if let Ok(Some(req)) = server.recv_timeout(Duration::from_secs(60)) {
            let ok = req.url().starts_with("/api/v1/pods")
                && req
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("Authorization") && h.value == "Bearer test-token");
            let resp = if ok {
                tiny_http::Response::from_string(body)
            } else {
                tiny_http::Response::from_string("{}").with_status_code(401)
            };
            let _ = req.respond(resp);
        }
    });
    (port, t)
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

#[test]
fn running_ecs_tasks_and_kubernetes_pods_are_found_and_scanned() {
    let (Some(m), Some(reg)) = (common::moto_ecs_strings(), common::registry()) else {
        return;
    };
    let bad = format!("127.0.0.1:{}/web:1.4", reg.port);
    let bad_digest = common::push_image(&backdoored(), &bad);
    let good = format!("127.0.0.1:{}/web:1.3", reg.port);
    common::push_image(&clean(), &good);
    py(&m.url, &["ecs", &bad]);
    // A recorded pod list: nginx runs the backdoored digest, api the clean image.
    let pods = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": [
        {"metadata": {"name": "nginx-7d9-abc", "namespace": "web", "ownerReferences": [{"kind": "ReplicaSet", "name": "nginx-7d9"}]},
         "spec": {"containers": [{"name": "nginx", "image": bad}]},
         "status": {"phase": "Running", "containerStatuses": [{"name": "nginx", "imageID": format!("{bad}@{bad_digest}")}]}},
        {"metadata": {"name": "api-1", "namespace": "web"},
         "spec": {"containers": [{"name": "api", "image": good}]},
         "status": {"phase": "Running"}}]});
    let (api_port, server) = fake_api_server(pods.to_string());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let ca = harrier_events::base64::encode(&std::fs::read(fixture("test-ca.pem")).unwrap());
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: test\ncontexts:\n- name: test\n  context: {{cluster: test, user: test}}\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{api_port}\n    certificate-authority-data: {ca}\nusers:\n- name: test\n  user: {{token: test-token}}\n"),
    )
    .unwrap();
    let out = run(Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args([
            "image",
            "inventory",
            "--ecs",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &m.url,
            "--format",
            "json",
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .arg("--state-dir")
        .arg(dir.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test"));
    server.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let row = |platform: &str, container: &str| -> &Value {
        rows.iter()
            .find(|r| r["platform"] == platform && r["container"] == container)
            .unwrap_or_else(|| panic!("no {platform} {container} in {rows:?}"))
    };
    let ecs = row("ecs", "web");
    assert!(
        ecs["workload"]
            .as_str()
            .unwrap()
            .starts_with("prod/family:web task "),
        "{ecs}"
    );
    assert_eq!(
        ecs["digest"],
        bad_digest.as_str(),
        "the task's tag resolved to its digest"
    );
    assert!(
        ecs["problems"][0].as_str().unwrap().starts_with("malware"),
        "{ecs}"
    );
    let nginx = row("kubernetes", "nginx");
    assert_eq!(
        nginx["workload"],
        "web/nginx-7d9-abc (ReplicaSet nginx-7d9)"
    );
    assert!(!nginx["problems"].as_array().unwrap().is_empty());
    let api = row("kubernetes", "api");
    assert_eq!(api["problems"].as_array().unwrap().len(), 0, "{api}");
    assert_eq!(api["error"], Value::Null);

    // The same as a periodic serve source: the running task's image is alerted once, however
    // many rounds see it.
    let out = dir.path().join("alerts.jsonl");
    let mport = free_port();
    let cfg = dir.path().join("harrier.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {state}\naws: {{region: us-east-1, endpoint_url: '{url}'}}\nsources:\n  - {{type: inventory, ecs: true, every: 1s}}\nimages: {{}}\nmetrics: {{listen: '127.0.0.1:{mport}'}}\noutputs:\n  - {{type: file, path: {out}}}\n",
            state = dir.path().join("serve-state").display(),
            url = m.url,
            out = out.display(),
        ),
    )
    .unwrap();
    let child = serve(&cfg);
    wait_until("three inventory rounds", 120, || {
        metric(mport, "harrier_inventory_rounds_total") >= 3
    });
    assert_eq!(metric(mport, "harrier_running_bad_images"), 1);
    assert_eq!(
        metric(mport, "harrier_image_scans_total"),
        0,
        "scans are not pushes"
    );
    stop(child);
    let running: Vec<Value> = alerts(&out)
        .into_iter()
        .filter(|a| a["rule"] == "Running Image Fails Its Scan")
        .collect();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["priority"], "Critical");
    assert_eq!(
        running[0]["output_fields"]["image.digest"],
        bad_digest.as_str()
    );
    assert!(running[0]["output"]
        .as_str()
        .unwrap()
        .starts_with("ecs prod/family:web task "));
}
