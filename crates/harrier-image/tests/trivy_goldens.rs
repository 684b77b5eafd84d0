//! Trivy's integration goldens (../shared/image/advisories/trivy-testdata): the same installed
//! packages must give the same (advisory, package, installed, fixed) set. Trivy's fixture
//! database (fixtures/db/alpine.yaml) is converted to OSV for the exact comparison; the real
//! Alpine secdb and Debian DSA list must contain every golden finding too.

use std::collections::BTreeSet;
use std::path::PathBuf;

use harrier_image::catalog::Package;
use harrier_image::vulndb::VulnDb;
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn shared(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/image/advisories")
        .join(p)
}

fn pkg(name: &str, version: &str, origin: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        source: origin.into(),
        source_version: version.into(),
        kind: "apk",
        location: "lib/apk/db/installed".into(),
        layer: 0,
    }
}

type Row = (String, String, String, Option<String>);

fn golden(name: &str) -> BTreeSet<Row> {
    let p = shared("trivy-testdata/integration/testdata").join(name);
    let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["Results"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|x| {
            (
                x["VulnerabilityID"].as_str().unwrap().to_string(),
                x["PkgName"].as_str().unwrap().to_string(),
                x["InstalledVersion"].as_str().unwrap().to_string(),
                x["FixedVersion"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Trivy's fixture DB buckets ("alpine 3.9" or "debian 10" -> package -> CVE -> FixedVersion)
/// as OSV files. Debian entries without a FixedVersion are unfixed (affected, no fix); entries
/// with a State (postponed...) are left out.
fn trivy_fixture_to_osv(dir: &std::path::Path) {
    let mut n = 0;
    for file in ["alpine.yaml", "debian.yaml"] {
        let path = shared("trivy-testdata/integration/testdata/fixtures/db").join(file);
        let text = std::fs::read_to_string(path).unwrap();
        let doc = &YamlLoader::load_from_str(&text).unwrap()[0];
        for branch in doc.as_vec().unwrap() {
            let bname = branch["bucket"].as_str().unwrap(); // "alpine 3.9", "debian 10"
            let eco = if let Some(v) = bname.strip_prefix("alpine ") {
                format!("Alpine:v{v}")
            } else if let Some(v) = bname.strip_prefix("debian ") {
                format!("Debian:{v}")
            } else {
                continue;
            };
            if eco.ends_with("edge") {
                continue;
            }
            for p in branch["pairs"].as_vec().unwrap() {
                let name = p["bucket"].as_str().unwrap();
                for c in p["pairs"].as_vec().unwrap() {
                    let id = c["key"].as_str().unwrap();
                    if !matches!(c["value"]["State"], Yaml::BadValue) {
                        continue;
                    }
                    let events = match &c["value"]["FixedVersion"] {
                        Yaml::String(s) => json!([{"introduced": "0"}, {"fixed": s}]),
                        _ if eco.starts_with("Debian") => json!([{"introduced": "0"}]),
                        _ => continue,
                    };
                    let rec = json!({"id": id, "affected": [{"package": {"ecosystem": eco, "name": name},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}]}]});
                    n += 1;
                    std::fs::write(dir.join(format!("{n}.json")), rec.to_string()).unwrap();
                }
            }
        }
    }
}

fn deb(name: &str, version: &str, source: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        source: source.into(),
        source_version: version.into(),
        kind: "dpkg",
        location: "var/lib/dpkg/status".into(),
        layer: 0,
    }
}

fn rows(db: &VulnDb, eco: &str, pkgs: &[Package]) -> BTreeSet<Row> {
    db.matches(eco, pkgs)
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.package, m.installed, m.fixed))
        .collect()
}

fn alpine39() -> Vec<Package> {
    vec![
        pkg("libcrypto1.1", "1.1.1b-r1", "openssl"),
        pkg("libssl1.1", "1.1.1b-r1", "openssl"),
        pkg("musl", "1.1.20-r4", "musl"),
        pkg("musl-utils", "1.1.20-r4", "musl"),
        pkg("busybox", "1.29.3-r10", "busybox"),
    ]
}

fn alpine310() -> Vec<Package> {
    vec![
        pkg("libcrypto1.1", "1.1.1c-r0", "openssl"),
        pkg("libssl1.1", "1.1.1c-r0", "openssl"),
        // Already past the musl fix: must not match.
        pkg("musl", "1.1.22-r3", "musl"),
    ]
}

#[test]
fn trivy_alpine_and_debian_goldens_are_reproduced_exactly() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("osv");
    std::fs::create_dir_all(&src).unwrap();
    trivy_fixture_to_osv(&src);
    let mut db = VulnDb::open(&d.path().join("v.db")).unwrap();
    db.import(&src, &mut |p| panic!("{p}")).unwrap();
    assert_eq!(
        rows(&db, "Alpine:v3.9", &alpine39()),
        golden("alpine-39.json.golden")
    );
    assert_eq!(
        rows(&db, "Alpine:v3.10", &alpine310()),
        golden("alpine-310.json.golden")
    );
    // Debian: matched by source package (e2fsprogs for its four binary packages); bash's CVE is
    // unfixed, so it has no fixed version.
    let stretch = [
        deb("bash", "4.4-5", "bash"),
        deb("e2fslibs", "1.43.4-2", "e2fsprogs"),
        deb("e2fsprogs", "1.43.4-2", "e2fsprogs"),
        deb("libcomerr2", "1.43.4-2", "e2fsprogs"),
        deb("libss2", "1.43.4-2", "e2fsprogs"),
    ];
    assert_eq!(
        rows(&db, "Debian:9", &stretch),
        golden("debian-stretch.json.golden")
    );
    // A near miss: e2fsprogs past its fix in buster does not match.
    let buster = [
        deb("bash", "5.0-4", "bash"),
        deb("libidn2-0", "2.0.5-1", "libidn2"),
        deb("e2fsprogs", "1.44.5-1+deb10u3", "e2fsprogs"),
    ];
    assert_eq!(
        rows(&db, "Debian:10", &buster),
        golden("debian-buster.json.golden")
    );
}

#[test]
fn the_real_alpine_secdb_and_debian_dsa_list_agree_with_the_goldens() {
    let d = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(&d.path().join("v.db")).unwrap();
    for branch in ["v3.9", "v3.10"] {
        let n = db
            .import(
                &shared("alpine-secdb-json/alpine")
                    .join(branch)
                    .join("main.json"),
                &mut |p| panic!("{p}"),
            )
            .unwrap();
        assert!(n.records > 100, "{branch}: {n:?}");
    }
    let real39 = rows(&db, "Alpine:v3.9", &alpine39());
    let g = golden("alpine-39.json.golden");
    assert!(
        g.is_subset(&real39),
        "missing: {:?}",
        g.difference(&real39).collect::<Vec<_>>()
    );
    // The 3.10 branch was imported after 3.9: both stay (the same CVE in two branches).
    let real310 = rows(&db, "Alpine:v3.10", &alpine310());
    let g = golden("alpine-310.json.golden");
    assert!(
        g.is_subset(&real310),
        "missing: {:?}",
        g.difference(&real310).collect::<Vec<_>>()
    );
    // musl 1.1.22-r3 is past the CVE-2019-14697 fix (1.1.20-r5), though a later CVE (fixed in
    // 1.1.22-r4) does affect it.
    assert!(
        !real310.iter().any(|r| r.0 == "CVE-2019-14697"),
        "{real310:?}"
    );
    assert!(real310.contains(&(
        "CVE-2020-28928".into(),
        "musl".into(),
        "1.1.22-r3".into(),
        Some("1.1.22-r4".into())
    )));

    // Debian buster: libidn2-0 (source libidn2) is fixed by DSA-4613-1, alias CVE-2019-18224.
    let n = db
        .import(
            &shared("debian-security-tracker-lists/DSA.list"),
            &mut |p| panic!("{p}"),
        )
        .unwrap();
    assert!(n.records > 4000, "{n:?}");
    let deb = Package {
        name: "libidn2-0".into(),
        version: "2.0.5-1".into(),
        source: "libidn2".into(),
        source_version: "2.0.5-1".into(),
        kind: "dpkg",
        location: "var/lib/dpkg/status".into(),
        layer: 0,
    };
    let m = db.matches("Debian:10", std::slice::from_ref(&deb)).unwrap();
    let dsa = m.iter().find(|x| x.id == "DSA-4613-1").expect("DSA-4613-1");
    assert!(
        dsa.aliases.contains(&"CVE-2019-18224".to_string()),
        "{:?}",
        dsa.aliases
    );
    assert_eq!(dsa.fixed.as_deref(), Some("2.0.5-1+deb10u1"));
    let mut fixed = deb.clone();
    fixed.version = "2.0.5-1+deb10u1".into();
    fixed.source_version = "2.0.5-1+deb10u1".into();
    assert!(!db
        .matches("Debian:10", &[fixed])
        .unwrap()
        .iter()
        .any(|x| x.id == "DSA-4613-1"));
}
