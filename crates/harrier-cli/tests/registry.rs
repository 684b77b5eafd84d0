//! `harrier image scan <registry reference>` against a real registry on 127.0.0.1 (Debian's
//! `docker-registry`), with the image pushed by `skopeo` (both installed by scripts/test;
//! HARRIER_SKIP_REGISTRY_TESTS=1, set by scripts/test when it cannot, skips them and says so): the
//! attack story's re-pushed image is pulled through the OCI distribution API and caught.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry() -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry must be installed (Debian package docker-registry; scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Registry {
        child,
        port,
        _dir: dir,
    }
}

fn push(archive: &Path, dest: &str) {
    let st = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{dest}"))
        .status()
        .expect("skopeo must be installed (Debian package skopeo; scripts/test installs it)");
    assert!(st.success(), "skopeo copy to {dest}");
}

#[test]
fn an_image_pulled_from_a_registry_is_scanned_like_a_local_one() {
    if std::env::var_os("HARRIER_SKIP_REGISTRY_TESTS").is_some() {
        eprintln!("registry test skipped (HARRIER_SKIP_REGISTRY_TESTS is set)");
        return;
    }
    let reg = registry();
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/images/backdoored-web.tar");
    let reference = format!("127.0.0.1:{}/web:1.4", reg.port);
    push(&sample, &reference);
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
