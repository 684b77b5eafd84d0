//! The version-ordering vectors of ../shared/image/versions ("a < b", "a = b", "a > b" lines).

use std::cmp::Ordering;
use std::path::PathBuf;

use harrier_image::version::Scheme;

fn vectors(file: &str) -> Vec<(String, Ordering, String)> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/image/versions")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "{file}: {l}");
            let o = match parts[1] {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                ">" => Ordering::Greater,
                x => panic!("{file}: operator {x}"),
            };
            (parts[0].to_string(), o, parts[2].to_string())
        })
        .collect()
}

fn check(scheme: Scheme, files: &[&str]) {
    let mut failures = Vec::new();
    let mut n = 0;
    for f in files {
        for (a, o, b) in vectors(f) {
            n += 1;
            if scheme.compare(&a, &b) != o || scheme.compare(&b, &a) != o.reverse() {
                failures.push(format!(
                    "{f}: {a} {o:?} {b}, got {:?}",
                    scheme.compare(&a, &b)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} vectors fail:\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}

#[test]
fn dpkg_vectors() {
    check(
        Scheme::Dpkg,
        &["debian-versions.txt", "debian-versions-generated.txt"],
    );
}

#[test]
fn apk_vectors() {
    check(
        Scheme::Apk,
        &["alpine-versions.txt", "alpine-versions-generated.txt"],
    );
}

#[test]
fn semver_vectors() {
    check(Scheme::Semver, &["semver-versions.txt"]);
}

#[test]
fn rpm_vectors() {
    check(Scheme::Rpm, &["redhat-versions.txt"]);
}

#[test]
fn pep440_vectors() {
    check(Scheme::Pep440, &["pypi-versions.txt"]);
}
