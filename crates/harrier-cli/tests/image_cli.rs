//! `harrier image scan` and `harrier db import` end to end, on the sample image that ships in
//! the repository (samples/images/backdoored-web.tar, made by scripts/make-sample-image.py).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn harrier() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
}

#[test]
fn the_backdoored_sample_fails_ci_and_names_the_layer() {
    let st = tempfile::tempdir().unwrap();
    let db = st.path().join("vulns.db");
    let imp = harrier()
        .args(["db", "import"])
        .arg(repo().join("../shared/image/osv/Debian"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        imp.status.success(),
        "{}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let out = harrier()
        .args([
            "image",
            "scan",
            "--format",
            "json",
            "--fail-on",
            "critical",
            "--db",
        ])
        .arg(&db)
        .arg(repo().join("samples/images/backdoored-web.tar"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["malware"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for id in [
        "miner-binary",
        "miner-pool-url",
        "ld-so-preload",
        "ssh-authorized-keys",
        "cron-entry",
        "history-wiped",
    ] {
        assert!(ids.contains(&id), "{id}: {ids:?}");
    }
    assert!(v["malware"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["layer"]["index"] == 1));
    assert!(v["malware"][0]["layer"]["created_by"]
        .as_str()
        .unwrap()
        .contains("curl"));
    assert_eq!(v["vulnerabilities"][0]["id"], "DSA-3029-1");
    assert_eq!(v["os"]["ecosystem"], "Debian:7");
}

#[test]
fn a_clean_root_filesystem_passes_and_bad_records_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("rootfs");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.18.4\n",
    )
    .unwrap();
    std::fs::write(
        root.join("lib/apk/db/installed"),
        "P:musl\nV:1.2.4-r2\no:musl\n\n",
    )
    .unwrap();
    let out = harrier()
        .args(["image", "scan", "--fail-on", "low", "--state-dir"])
        .arg(d.path())
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("os: alpine 3.18.4 (1 packages)"), "{text}");
    assert!(text.contains("malware and tampering: 0"), "{text}");
    // A file that is not an OSV record: named, skipped, exit 2.
    std::fs::write(d.path().join("junk.json"), "{\"hello\": 1}").unwrap();
    let out = harrier()
        .args(["db", "import", "--state-dir"])
        .arg(d.path())
        .arg(d.path().join("junk.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.json: not an OSV record"));
}

/// A zip of `files` (name, bytes).
fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn db_update_downloads_per_ecosystem_archives() {
    let osv = repo().join("../shared/image/osv");
    let mut debian: Vec<(&str, Vec<u8>)> = Vec::new();
    for f in [
        "DSA-3029-1.json",
        "CVE-2024-1013.json",
        "CVE-2024-3847.json",
    ] {
        debian.push((f, std::fs::read(osv.join("Debian").join(f)).unwrap()));
    }
    debian.push(("junk.json", b"{\"not\": \"osv\"}".to_vec()));
    let pypi = vec![(
        "GHSA-j8r2-6x86-q33q.json",
        std::fs::read(osv.join("PyPI/GHSA-j8r2-6x86-q33q.json")).unwrap(),
    )];
    let (deb_zip, pypi_zip) = (zip_of(&debian), zip_of(&pypi));
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for r in server.incoming_requests() {
            let body = match r.url() {
                "/Debian/all.zip" => Some(deb_zip.clone()),
                "/PyPI/all.zip" => Some(pypi_zip.clone()),
                _ => None,
            };
            let _ = match body {
                Some(b) => r.respond(tiny_http::Response::from_data(b)),
                None => r.respond(tiny_http::Response::from_string("no").with_status_code(404)),
            };
        }
    });
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("v.db");
    let out = harrier()
        .args([
            "db",
            "update",
            "--base-url",
            &base,
            "--ecosystem",
            "Debian",
            "--ecosystem",
            "PyPI",
            "--ecosystem",
            "npm",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // npm is missing upstream and one Debian member is not a record: both reported, exit 2.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("npm/all.zip: HTTP 404"), "{err}");
    assert!(err.contains("junk.json: not an OSV record"), "{err}");
    assert!(err.contains("4 advisories imported"), "{err}");
    let scan = harrier()
        .args(["image", "scan", "--format", "json", "--db"])
        .arg(&db)
        .arg(repo().join("samples/images/backdoored-web.tar"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert_eq!(v["vulnerabilities"][0]["id"], "DSA-3029-1");
}
