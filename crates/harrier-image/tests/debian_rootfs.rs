//! A real Debian root filesystem, built by `mmdebstrap` from the Debian archive (installed by
//! scripts/test; HARRIER_SKIP_ROOTFS_TESTS=1, set by scripts/test when it cannot, skips it and
//! says so), scanned as an image: every installed package must be cataloged with the version
//! `dpkg-query` reports for the same database.

use std::collections::BTreeSet;
use std::process::Command;

use harrier_image::layers::Limits;
use harrier_image::scan::scan;

#[test]
fn every_package_of_a_debian_rootfs_is_cataloged() {
    if std::env::var_os("HARRIER_SKIP_ROOTFS_TESTS").is_some() {
        eprintln!("Debian root filesystem test skipped (HARRIER_SKIP_ROOTFS_TESTS is set)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tar = d.path().join("rootfs.tar");
    let st = Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet", "bookworm"])
        .arg(&tar)
        .status()
        .expect(
            "mmdebstrap must be installed (Debian package mmdebstrap; scripts/test installs it)",
        );
    assert!(
        st.success(),
        "mmdebstrap failed (is the Debian archive reachable?)"
    );

    // What dpkg itself says, from the same database.
    let db = d.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&db)
        .arg("./var/lib/dpkg")
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}", db.join("var/lib/dpkg").display()))
        .args(["-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\\n"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let want: BTreeSet<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with("ii "))
        .map(|l| {
            let mut p = l.split_whitespace();
            (p.next().unwrap().to_string(), p.next().unwrap().to_string())
        })
        .collect();
    assert!(
        want.len() > 80,
        "minbase has about 90 packages: {}",
        want.len()
    );

    let r = scan(&tar, None, &Limits::default()).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let got: BTreeSet<(String, String)> = r
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    let os = r.os.unwrap();
    assert_eq!(
        (os.id.as_str(), os.ecosystem().as_deref()),
        ("debian", Some("Debian:12"))
    );
    // A stock Debian has no planted malware.
    assert!(r.malware.is_empty(), "{:?}", r.malware);
}
