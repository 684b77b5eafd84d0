//! `harrier host bench` on a fixture tree: every posture format, the exit code, the history.

use std::process::Command;

use serde_json::Value;

fn harrier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(args)
        .output()
        .unwrap()
}

fn weak_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let put = |p: &str, t: &str| {
        let f = d.path().join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    };
    put("etc/ld.so.preload", "/usr/local/lib/libprocesshider.so\n");
    put("etc/ssh/sshd_config", "PermitRootLogin yes\n");
    put("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    d
}

#[test]
fn every_format_carries_the_findings_and_the_scan_is_recorded() {
    let tree = weak_tree();
    let root = tree.path().to_str().unwrap();
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap();

    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "json",
        "--state-dir",
        st,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains("linux_no_ld_so_preload") && text.contains("libprocesshider"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("profiles linux"));

    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "table",
        "--no-history",
    ]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("fail") && table.contains("linux_sshd_no_root_login"),
        "{table}"
    );
    assert!(
        table.contains("CIS Distribution Independent Linux Benchmark v2.0.0"),
        "{table}"
    );

    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "csv",
        "--no-history",
    ]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.contains("linux_no_ld_so_preload") && l.contains("fail")),
        "{csv}"
    );

    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "html",
        "--no-history",
        "--state-dir",
        st,
    ]);
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(
        html.contains("<html") && html.contains("CIS Distribution Independent Linux"),
        "html"
    );
    assert!(!html.contains("<script>"), "no inline script");

    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "ocsf",
        "--no-history",
    ]);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines
        .iter()
        .any(|o| o.to_string().contains("linux_no_ld_so_preload")));

    // ASFF is an AWS account's format.
    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--format",
        "asff",
        "--no-history",
    ]);
    assert!(!out.status.success());

    // Exit code 1 when a critical check fails (the preload), with --fail-on critical.
    let out = harrier(&[
        "host",
        "bench",
        "--root",
        root,
        "--no-history",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(1));

    // The first run was recorded under the tree's name.
    let out = harrier(&["posture", "history", "--state-dir", st]);
    let hist = String::from_utf8(out.stdout).unwrap();
    assert!(hist.contains(&format!("root:{root}")), "{hist}");

    // A root that is not a directory is refused with its name.
    let out = harrier(&["host", "bench", "--root", "/nonexistent-harrier-root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-harrier-root"));
}
