//! `harrier image scan <registry reference>` against a real registry on 127.0.0.1 (Debian's
//! `docker-registry`), with the image pushed by `skopeo` (both installed by scripts/test;
//! HARRIER_SKIP_REGISTRY_TESTS=1, set by scripts/test when it cannot, skips them and says so): the
//! attack story's re-pushed image is pulled through the OCI distribution API and caught.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn an_image_pulled_from_a_registry_is_scanned_like_a_local_one() {
    let Some(reg) = common::registry() else {
        return;
    };
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/images/backdoored-web.tar");
    let reference = format!("127.0.0.1:{}/web:1.4", reg.port);
    common::push_image(&sample, &reference);
    let remote = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args([
            "image",
            "scan",
            "--format",
            "json",
            "--fail-on",
            "critical",
            &reference,
        ])
        .output()
        .unwrap();
    assert_eq!(
        remote.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let local = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["image", "scan", "--format", "json"])
        .arg(&sample)
        .output()
        .unwrap();
    let (r, l): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&remote.stdout).unwrap(),
        serde_json::from_slice(&local.stdout).unwrap(),
    );
    // The same findings, layers and packages, whether pulled or read from the archive (the
    // registry holds the layers compressed, so only the blob digests differ).
    let strip = |v: &serde_json::Value| -> Vec<(String, String, i64, String)> {
        v["malware"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap().to_string(),
                    m["path"].as_str().unwrap().to_string(),
                    m["layer"]["index"].as_i64().unwrap(),
                    m["layer"]["created_by"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(strip(&r), strip(&l));
    assert_eq!(strip(&r).len(), 7);
    assert_eq!(r["packages"], l["packages"]);
    assert_eq!(r["source"], reference);
    assert!(r["malware"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "miner-pool-url"));

    // A tag that does not exist: a clear error, exit 2.
    let missing = Command::new(env!("CARGO_BIN_EXE_harrier"))
        .args(["image", "scan", &format!("127.0.0.1:{}/web:nope", reg.port)])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("HTTP 404"));
}
