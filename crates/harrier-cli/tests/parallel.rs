//! `harrier detect --threads N`: files read on every core, the output byte for byte what one
//! thread writes, including a Kubernetes request whose audit stages are split across files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(p)
}

fn detect(args: &[&str], threads: &str) -> (Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .arg("detect")
        .args(args)
        .args(["--threads", threads])
        .output()
        .unwrap();
    // The summary's timing differs run to run; everything else must not.
    let err: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| match l.find(" in ") {
            Some(i) if l.contains("records/s") => l[..i].to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (out.stdout, err)
}

#[test]
fn a_parallel_run_writes_what_one_thread_writes() {
    let corpus = shared("corpus");
    let corpus = corpus.to_str().unwrap();
    for format in ["json", "text"] {
        let args = [corpus, "--format", format, "--color", "never"];
        let (one, one_err) = detect(&args, "1");
        let (many, many_err) = detect(&args, "3");
        assert!(one.len() > 10_000, "the corpus raises alerts");
        assert!(one == many, "{format}: the outputs differ");
        assert_eq!(one_err, many_err, "{format}: the summaries differ");
    }
}

fn exec_stage(id: &str, stage: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"{id}","stage":"{stage}","requestURI":"/api/v1/namespaces/web/pods/nginx/exec?command=sh&container=nginx","verb":"create","user":{{"username":"alice"}},"sourceIPs":["198.51.100.23"],"objectRef":{{"resource":"pods","namespace":"web","name":"nginx","subresource":"exec"}},"responseStatus":{{"code":101}},"annotations":{{"authorization.k8s.io/decision":"allow"}},"stageTimestamp":"2026-11-20T11:00:00.5Z"}}"#
    ) + "\n"
}

#[test]
fn a_request_split_across_files_alerts_once_as_with_one_thread() {
    let d = tempfile::tempdir().unwrap();
    // One request: ResponseStarted in the first file, ResponseComplete in the second. A second
    // request (another audit id) in the third file is a near miss: it alerts again.
    std::fs::write(
        d.path().join("a.jsonl"),
        exec_stage("req-1", "ResponseStarted"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("b.jsonl"),
        exec_stage("req-1", "ResponseComplete"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("c.jsonl"),
        exec_stage("req-2", "ResponseStarted"),
    )
    .unwrap();
    let dir = d.path().to_str().unwrap();
    let args = [dir, "--format", "json"];
    let (one, one_err) = detect(&args, "1");
    let (many, many_err) = detect(&args, "3");
    assert_eq!(
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&many)
    );
    assert_eq!(one_err, many_err);
    let alerts: Vec<serde_json::Value> = String::from_utf8_lossy(&many)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ids: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["event_id"].as_str())
        .collect();
    assert_eq!(
        ids.iter().filter(|i| **i == "req-1").count() * 2,
        ids.len(),
        "{ids:?}"
    );
    assert!(ids.contains(&"req-2"), "{ids:?}");
    assert!(many_err.contains("not alerted twice"), "{many_err}");
}

/// A JSON Lines file of at least 9 MiB (over the size read in batches on every core) made of
/// the corpus's CloudTrail records, with a line of bad JSON every 5,000 records.
fn large_jsonl(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(shared("corpus/cloudtrail/panther-rule-tests.jsonl")).unwrap();
    let records: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"]["eventName"].is_string())
        .map(|v| v["event"].to_string())
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while out.len() < 9 << 20 {
        if i % 5000 == 4999 {
            out.push_str("{\"eventName\": broken\n");
        } else {
            out.push_str(&records[i % records.len()]);
            out.push('\n');
        }
        i += 1;
    }
    let p = dir.join("big.jsonl");
    std::fs::write(&p, out).unwrap();
    p
}

#[test]
fn a_large_file_read_on_every_core_writes_what_one_thread_writes() {
    let d = tempfile::tempdir().unwrap();
    let big = large_jsonl(d.path());
    let big = big.to_str().unwrap();
    let args = [big, "--format", "json"];
    let (one, one_err) = detect(&args, "1");
    let (many, many_err) = detect(&args, "3");
    assert!(one.len() > 100_000, "the file raises alerts");
    assert!(one == many, "the outputs differ");
    assert_eq!(one_err, many_err, "the summaries differ");
    assert!(one_err.contains("invalid JSON"), "{one_err}");

    // The same records on standard input.
    let piped = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_harrier"))
            .args(["detect", "-", "--format", "json", "--threads", threads])
            .stdin(std::fs::File::open(big).unwrap())
            .output()
            .unwrap();
        out.stdout
    };
    let (a, b) = (piped("1"), piped("2"));
    assert!(a == one, "stdin gives what the file gives");
    assert!(a == b, "stdin: the outputs differ");
}
