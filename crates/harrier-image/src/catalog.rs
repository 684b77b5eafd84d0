//! Installed-package catalogs: dpkg (`var/lib/dpkg/status`, distroless `status.d/*`) and apk
//! (`lib/apk/db/installed`), with the distribution from `etc/os-release`.

use crate::layers::Walk;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Binary package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Source package name (Debian: what advisories name), else the name.
    pub source: String,
    /// Source package version, else the version.
    pub source_version: String,
    /// `dpkg` or `apk`.
    pub kind: &'static str,
    /// The database file it was read from.
    pub location: String,
    /// The layer that last wrote that file.
    pub layer: usize,
}

/// The distribution (`etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Os {
    /// `ID` (debian, ubuntu, alpine...).
    pub id: String,
    /// `VERSION_ID` (12, 22.04, 3.18.4...).
    pub version_id: String,
    /// `PRETTY_NAME`.
    pub pretty: String,
}

impl Os {
    /// The OSV ecosystem of its packages (`Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04`).
    pub fn ecosystem(&self) -> Option<String> {
        match self.id.as_str() {
            "debian" => Some(format!(
                "Debian:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            // OSV names LTS releases (even years, April) `Ubuntu:22.04:LTS`.
            "ubuntu" => {
                let lts = self.version_id.ends_with(".04")
                    && self
                        .version_id
                        .split('.')
                        .next()
                        .and_then(|y| y.parse::<u32>().ok())
                        .is_some_and(|y| y % 2 == 0);
                Some(format!(
                    "Ubuntu:{}{}",
                    self.version_id,
                    if lts { ":LTS" } else { "" }
                ))
            }
            "rocky" => Some(format!(
                "Rocky Linux:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            "almalinux" => Some(format!(
                "AlmaLinux:{}",
                self.version_id.split('.').next().unwrap_or("")
            )),
            "rhel" => Some("Red Hat".to_string()),
            "alpine" => {
                let mut it = self.version_id.split('.');
                Some(format!(
                    "Alpine:v{}.{}",
                    it.next().unwrap_or(""),
                    it.next().unwrap_or("")
                ))
            }
            _ => None,
        }
    }
}

/// Paths the catalogs read (for [`crate::layers::walk`]'s `wanted`).
pub fn wanted(path: &str) -> bool {
    matches!(
        path,
        "var/lib/dpkg/status"
            | "lib/apk/db/installed"
            | "etc/os-release"
            | "usr/lib/os-release"
            | "var/lib/rpm/rpmdb.sqlite"
            | "usr/lib/sysimage/rpm/rpmdb.sqlite"
    ) || path.starts_with("var/lib/dpkg/status.d/")
        || path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || path.ends_with("/Cargo.lock")
        || path == "Cargo.lock"
        || npm_manifest(path)
}

/// `.../node_modules/<name>/package.json` or `.../node_modules/@scope/<name>/package.json`.
fn npm_manifest(path: &str) -> bool {
    let Some(rest) = path.strip_suffix("/package.json") else {
        return false;
    };
    let Some(i) = rest.rfind("node_modules/") else {
        return false;
    };
    let name = &rest[i + "node_modules/".len()..];
    match name.split_once('/') {
        None => !name.is_empty(),
        Some((scope, n)) => scope.starts_with('@') && !n.is_empty() && !n.contains('/'),
    }
}

/// The OSV ecosystem of a language package kind.
pub fn language_ecosystem(kind: &str) -> Option<&'static str> {
    match kind {
        "python" => Some("PyPI"),
        "npm" => Some("npm"),
        "cargo" => Some("crates.io"),
        "go" => Some("Go"),
        _ => None,
    }
}

fn lang(name: &str, version: &str, kind: &'static str, location: &str, layer: usize) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        source: name.to_string(),
        source_version: version.to_string(),
        kind,
        location: location.to_string(),
        layer,
    }
}

/// Python metadata (`METADATA`, `PKG-INFO`): the `Name` and `Version` headers.
pub fn parse_python(text: &str, location: &str, layer: usize) -> Option<Package> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.is_empty() {
            break; // headers end at the first blank line
        }
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Version:") {
            version = Some(v.trim().to_string());
        }
    }
    Some(lang(&name?, &version?, "python", location, layer))
}

/// An npm `package.json`: `name` and `version`.
pub fn parse_npm(text: &str, location: &str, layer: usize) -> Option<Package> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(lang(
        v["name"].as_str()?,
        v["version"].as_str()?,
        "npm",
        location,
        layer,
    ))
}

/// A `Cargo.lock`: every `[[package]]` with its name and version.
pub fn parse_cargo_lock(text: &str, location: &str, layer: usize) -> Vec<Package> {
    let mut out = Vec::new();
    for block in text.split("[[package]]").skip(1) {
        let mut name = None;
        let mut version = None;
        for line in block.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim() {
                "name" => name = Some(v.to_string()),
                "version" => version = Some(v.to_string()),
                _ => {}
            }
        }
        if let (Some(n), Some(v)) = (name, version) {
            out.push(lang(&n, &v, "cargo", location, layer));
        }
    }
    out
}

/// Parses os-release text.
pub fn parse_os_release(text: &str) -> Os {
    let mut os = Os::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => os.id = v,
            "VERSION_ID" => os.version_id = v,
            "PRETTY_NAME" => os.pretty = v,
            _ => {}
        }
    }
    os
}

/// Parses a dpkg status file (stanzas separated by blank lines). Packages whose Status says they
/// are not installed are left out; a stanza without Status (distroless `status.d`) counts.
pub fn parse_dpkg(text: &str, location: &str, layer: usize) -> Vec<Package> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                continue; // continuation lines (descriptions)
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim(), v.trim().to_string()));
            }
        }
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        if let Some(status) = get("Status") {
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let (source, source_version) = match get("Source") {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_string(),
                    v.trim_end_matches(')').trim().to_string(),
                ),
                None => (s.trim().to_string(), version.to_string()),
            },
            None => (name.to_string(), version.to_string()),
        };
        out.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            source,
            source_version,
            kind: "dpkg",
            location: location.to_string(),
            layer,
        });
    }
    out
}

/// Parses apk's installed database (`P:` name, `V:` version, `o:` origin).
pub fn parse_apk(text: &str, location: &str, layer: usize) -> Vec<Package> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let (mut name, mut version, mut origin) = (None, None, None);
        for line in stanza.lines() {
            match line.split_once(':') {
                Some(("P", v)) => name = Some(v.to_string()),
                Some(("V", v)) => version = Some(v.to_string()),
                Some(("o", v)) => origin = Some(v.to_string()),
                _ => {}
            }
        }
        if let (Some(n), Some(v)) = (name, version) {
            out.push(Package {
                source: origin.unwrap_or_else(|| n.clone()),
                source_version: v.clone(),
                name: n,
                version: v,
                kind: "apk",
                location: location.to_string(),
                layer,
            });
        }
    }
    out
}

/// Every package of the image, and its distribution.
pub fn catalog(w: &Walk) -> (Option<Os>, Vec<Package>) {
    let os = w
        .content("etc/os-release")
        .or_else(|| w.content("usr/lib/os-release"))
        .map(|b| parse_os_release(&String::from_utf8_lossy(&b)));
    let mut pkgs = Vec::new();
    for (path, f) in &w.files {
        for (name, version, kind) in &f.bin_packages {
            pkgs.push(lang(name, version, kind, path, f.layer));
        }
        let Some(c) = &f.content else { continue };
        let text = String::from_utf8_lossy(c);
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            // status.d also holds .md5sums files: only stanzas with Package and Version count.
            if !path.ends_with(".md5sums") {
                pkgs.extend(parse_dpkg(&text, path, f.layer));
            }
        } else if path == "lib/apk/db/installed" {
            pkgs.extend(parse_apk(&text, path, f.layer));
        } else if path.ends_with("rpm/rpmdb.sqlite") {
            match crate::rpmdb::parse_sqlite(c, path, f.layer) {
                Ok(p) => pkgs.extend(p),
                Err(e) => tracing::warn!(path = %path, error = %e, "cannot read the rpm database"),
            }
        } else if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
            pkgs.extend(parse_python(&text, path, f.layer));
        } else if path.ends_with("package.json") {
            pkgs.extend(parse_npm(&text, path, f.layer));
        } else if path.ends_with("Cargo.lock") {
            pkgs.extend(parse_cargo_lock(&text, path, f.layer));
        }
    }
    (os, pkgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(p: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../../shared/image/pkgdb/{p}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn dpkg_status_with_sources_and_states() {
        let pkgs = parse_dpkg(&shared("dpkg/valid"), "var/lib/dpkg/status", 0);
        assert_eq!(pkgs.len(), 7);
        let ul = pkgs.iter().find(|p| p.source == "util-linux").unwrap();
        assert_eq!(ul.source_version, "2.38.1-5");
        let acl = pkgs.iter().find(|p| p.name == "acl").unwrap();
        assert_eq!(
            (acl.version.as_str(), acl.source.as_str()),
            ("2.3.1-3", "acl")
        );
        let st = parse_dpkg(&shared("dpkg/statusfield"), "s", 0);
        let names: Vec<&str> = st.iter().map(|p| p.name.as_str()).collect();
        assert!(names.contains(&"wantinstall_installed"));
        assert!(names.contains(&"wantnostatus"));
        assert!(!names.contains(&"wantdeinstall_configfiles"));
        assert!(!names.contains(&"wantinstall_unpacked"));
        let d = parse_dpkg(&shared("dpkg/status.d_foo"), "s", 0);
        assert_eq!(
            d.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["foo"]
        );
    }

    #[test]
    fn apk_installed_with_origins() {
        let pkgs = parse_apk(&shared("apk/installed"), "lib/apk/db/installed", 0);
        assert_eq!(pkgs.len(), 15);
        let b = pkgs.iter().find(|p| p.name == "alpine-baselayout").unwrap();
        assert_eq!(
            (b.version.as_str(), b.source.as_str()),
            ("3.4.3-r1", "alpine-baselayout")
        );
    }

    #[test]
    fn language_packages() {
        assert!(wanted(
            "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA"
        ));
        assert!(wanted("app/node_modules/lodash/package.json"));
        assert!(wanted("app/node_modules/@babel/core/package.json"));
        assert!(!wanted("app/node_modules/lodash/lib/package.json"));
        assert!(!wanted("app/package.json"));
        let p = parse_python(
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\nVersion: 9\n",
            "m",
            1,
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str(), p.kind),
            ("requests", "2.31.0", "python")
        );
        let n = parse_npm(r#"{"name": "lodash", "version": "4.17.11"}"#, "p", 0).unwrap();
        assert_eq!((n.name.as_str(), n.version.as_str()), ("lodash", "4.17.11"));
        assert!(parse_npm("{not json", "p", 0).is_none());
        let c = parse_cargo_lock("version = 3\n\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\n\n[[package]]\nname = \"time\"\nversion = \"0.1.44\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n", "Cargo.lock", 0);
        assert_eq!(
            c.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["smallvec", "time"]
        );
    }

    #[test]
    fn ecosystems_from_os_release() {
        let deb = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        );
        assert_eq!(deb.ecosystem().as_deref(), Some("Debian:12"));
        let alp = parse_os_release("ID=alpine\nVERSION_ID=3.18.4\n");
        assert_eq!(alp.ecosystem().as_deref(), Some("Alpine:v3.18"));
        assert_eq!(parse_os_release("ID=arch\n").ecosystem(), None);
        assert_eq!(
            parse_os_release("ID=ubuntu\nVERSION_ID=\"22.04\"\n")
                .ecosystem()
                .as_deref(),
            Some("Ubuntu:22.04:LTS")
        );
        assert_eq!(
            parse_os_release("ID=ubuntu\nVERSION_ID=\"23.10\"\n")
                .ecosystem()
                .as_deref(),
            Some("Ubuntu:23.10")
        );
    }
}
