//! Readers of the configuration formats the checks judge: sysctl files, `sshd_config` (with
//! `Include`), fstab and mount tables, command-line flags, YAML and JSON documents. Each is
//! lenient about what it does not need and says where it met what it cannot read.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::root::Root;

/// A value and the file (and line) it was set in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// The value.
    pub value: String,
    /// `file:line`.
    pub at: String,
}

/// Kernel parameters as configured: `/etc/sysctl.d`, `/run/sysctl.d`, `/usr/local/lib/sysctl.d`,
/// `/usr/lib/sysctl.d`, `/lib/sysctl.d` (`*.conf`, by file name, the first directory holding a
/// name winning), then `/etc/sysctl.conf`; a later setting of a key replaces an earlier one,
/// as `systemd-sysctl` applies them. Unreadable files are returned as errors.
pub fn sysctl_configured(root: &Root) -> (BTreeMap<String, Set>, Vec<String>) {
    let dirs = [
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/local/lib/sysctl.d",
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
    ];
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut errors = Vec::new();
    for d in dirs {
        match root.list(d) {
            Ok(names) => {
                for n in names.into_iter().filter(|n| n.ends_with(".conf")) {
                    by_name
                        .entry(n.clone())
                        .or_insert_with(|| format!("{d}/{n}"));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let mut files: Vec<String> = by_name.into_values().collect();
    files.push("/etc/sysctl.conf".into());
    let mut out = BTreeMap::new();
    for f in files {
        match root.read(&f) {
            Ok(Some(text)) => {
                for (i, line) in text.lines().enumerate() {
                    let l = line.trim();
                    if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                        continue;
                    }
                    let l = l.strip_prefix('-').unwrap_or(l);
                    if let Some((k, v)) = l.split_once('=') {
                        out.insert(
                            k.trim().replace('/', "."),
                            Set {
                                value: v.trim().to_string(),
                                at: format!("{f}:{}", i + 1),
                            },
                        );
                    }
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

/// The global settings of `sshd_config` (before any `Match`), with `Include`d files read in
/// place (globs `*` in the last component, relative to `/etc/ssh`), keys in lower case. As
/// sshd does, the first value of a key wins.
pub fn sshd_config(root: &Root) -> Result<Option<BTreeMap<String, Set>>, String> {
    let Some(text) = root.read("/etc/ssh/sshd_config")? else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    let mut in_match = false;
    sshd_lines(
        root,
        "/etc/ssh/sshd_config",
        &text,
        &mut out,
        &mut in_match,
        0,
    )?;
    Ok(Some(out))
}

fn sshd_lines(
    root: &Root,
    file: &str,
    text: &str,
    out: &mut BTreeMap<String, Set>,
    in_match: &mut bool,
    depth: usize,
) -> Result<(), String> {
    if depth > 8 {
        return Err(format!("{file}: Include nested more than 8 deep"));
    }
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (k, v) = match l.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, v)) => (
                k.to_ascii_lowercase(),
                v.trim_start_matches([' ', '\t', '=']).trim(),
            ),
            None => (l.to_ascii_lowercase(), ""),
        };
        if k == "match" {
            *in_match = true;
            continue;
        }
        if k == "include" {
            for pattern in v.split_whitespace() {
                let p = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                for f in glob_last(root, &p)? {
                    if let Some(t) = root.read(&f)? {
                        sshd_lines(root, &f, &t, out, in_match, depth + 1)?;
                    }
                }
            }
            continue;
        }
        if *in_match {
            continue;
        }
        out.entry(k).or_insert(Set {
            value: v.to_string(),
            at: format!("{file}:{}", i + 1),
        });
    }
    Ok(())
}

/// The files matching a path whose last component may hold `*` (sorted).
fn glob_last(root: &Root, pattern: &str) -> Result<Vec<String>, String> {
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if !name.contains('*') {
        return Ok(vec![pattern.to_string()]);
    }
    let parts: Vec<&str> = name.split('*').collect();
    let matches = |n: &str| {
        let mut rest = n;
        for (i, p) in parts.iter().enumerate() {
            if i == 0 {
                let Some(r) = rest.strip_prefix(p) else {
                    return false;
                };
                rest = r;
            } else if i == parts.len() - 1 {
                return rest.ends_with(p);
            } else if let Some(at) = rest.find(p) {
                rest = &rest[at + p.len()..];
            } else {
                return false;
            }
        }
        rest.is_empty()
    };
    Ok(root
        .list(if dir.is_empty() { "/" } else { dir })?
        .into_iter()
        .filter(|n| matches(n))
        .map(|n| format!("{dir}/{n}"))
        .collect())
}

/// One mounted (or to-be-mounted) filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where.
    pub target: String,
    /// Filesystem type.
    pub fstype: String,
    /// Options.
    pub options: Vec<String>,
}

/// The lines of an fstab or a mount table (`/proc/mounts`): device, target, type, options.
pub fn mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| Mount {
                target: f[1].replace("\\040", " "),
                fstype: f[2].to_string(),
                options: f[3].split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// `--name=value` / `--name value` flags of a command line (or of a service file's lines),
/// the last one of a name winning, as Go's flag parsing does; a flag alone is `true`.
pub fn flags<'a>(args: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let args: Vec<&str> = args.into_iter().collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].trim_matches(|c| c == '"' || c == '\'');
        if let Some(f) = a.strip_prefix("--") {
            match f.split_once('=') {
                Some((k, v)) => {
                    out.insert(k.to_string(), v.to_string());
                }
                None => {
                    let next = args.get(i + 1).copied().unwrap_or("");
                    if !next.is_empty() && !next.starts_with('-') && !next.contains('=') {
                        out.insert(f.to_string(), next.to_string());
                        i += 1;
                    } else {
                        out.insert(f.to_string(), "true".to_string());
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// A YAML (or JSON) document as JSON; `Err` names the file and what was wrong. Aliases are
/// refused (a billion laughs is one small file), and depth is bounded.
pub fn yaml(file: &str, text: &str) -> Result<Value, String> {
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::Marker;
    use yaml_rust2::{Yaml, YamlLoader};
    // First a pass over the events: the loader copies what an alias names, so a few lines
    // of aliases would expand to gigabytes.
    struct NoAlias(Option<Marker>);
    impl MarkedEventReceiver for NoAlias {
        fn on_event(&mut self, ev: Event, m: Marker) {
            if matches!(ev, Event::Alias(_)) && self.0.is_none() {
                self.0 = Some(m);
            }
        }
    }
    let mut scan = NoAlias(None);
    Parser::new_from_str(text)
        .load(&mut scan, true)
        .map_err(|e| format!("{file}: {e}"))?;
    if let Some(m) = scan.0 {
        return Err(format!(
            "{file}: line {}, column {}: YAML aliases are not read",
            m.line(),
            m.col() + 1
        ));
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{file}: {e}"))?;
    fn conv(y: &Yaml, depth: usize) -> Result<Value, String> {
        if depth > 64 {
            return Err("nested more than 64 deep".into());
        }
        Ok(match y {
            Yaml::Null | Yaml::BadValue => Value::Null,
            Yaml::Boolean(b) => Value::Bool(*b),
            Yaml::Integer(i) => Value::from(*i),
            Yaml::Real(r) => r
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::String(r.clone()), Value::Number),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Array(a) => Value::Array(
                a.iter()
                    .map(|x| conv(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Hash(h) => {
                let mut m = serde_json::Map::new();
                for (k, v) in h {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    m.insert(key, conv(v, depth + 1)?);
                }
                Value::Object(m)
            }
            Yaml::Alias(_) => return Err("YAML aliases are not read".into()),
        })
    }
    match docs.first() {
        None => Ok(Value::Null),
        Some(d) => conv(d, 0).map_err(|e| format!("{file}: {e}")),
    }
}

/// The lines of `/etc/passwd` or `/etc/shadow` as their `:`-separated fields.
pub fn colon_file(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_take_both_forms_and_the_last_wins() {
        let f = flags(
            "/usr/bin/kubelet --anonymous-auth=false --read-only-port 10255 --rotate-certificates --read-only-port=0"
                .split_whitespace(),
        );
        assert_eq!(f["anonymous-auth"], "false");
        assert_eq!(f["read-only-port"], "0");
        assert_eq!(f["rotate-certificates"], "true");
    }

    #[test]
    fn sshd_first_value_wins_includes_are_read_and_match_blocks_are_not_global() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc/ssh/sshd_config.d")).unwrap();
        std::fs::write(
            d.path().join("etc/ssh/sshd_config"),
            "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nMaxAuthTries=3\nMatch User bob\n  PasswordAuthentication yes\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/ssh/sshd_config.d/10-hard.conf"),
            "PermitRootLogin no\n",
        )
        .unwrap();
        let c = sshd_config(&Root::new(d.path())).unwrap().unwrap();
        assert_eq!(c["permitrootlogin"].value, "no");
        assert_eq!(
            c["permitrootlogin"].at,
            "/etc/ssh/sshd_config.d/10-hard.conf:1"
        );
        assert_eq!(c["maxauthtries"].value, "3");
        assert!(!c.contains_key("passwordauthentication"));
    }

    #[test]
    fn yaml_aliases_and_depth_are_refused() {
        let e = yaml("a.yaml", "a: &x [1]\nb: *x\n").unwrap_err();
        assert!(e.starts_with("a.yaml:"), "{e}");
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(yaml("d.json", &deep).unwrap_err().contains("deep"));
        assert_eq!(
            yaml("k.yaml", "readOnlyPort: 0\n").unwrap()["readOnlyPort"],
            0
        );
    }
}
