//! Converters from distribution advisory formats to OSV records: Alpine's secdb JSON and the
//! Debian security tracker's DSA/DLA lists.

use serde_json::{json, Value};

/// Debian release code names and their version numbers (OSV's `Debian:<n>`).
const DEBIAN: &[(&str, &str)] = &[
    ("hamm", "2"),
    ("slink", "2.1"),
    ("potato", "2.2"),
    ("woody", "3.0"),
    ("sarge", "3.1"),
    ("etch", "4"),
    ("lenny", "5"),
    ("squeeze", "6"),
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
];

fn fixed_range(fixed: &str) -> Value {
    json!([{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}])
}

/// Whether `v` looks like Alpine's secdb JSON (`distroversion` and `packages`).
pub fn is_alpine_secdb(v: &Value) -> bool {
    v["distroversion"].is_string() && v["packages"].is_array()
}

/// Alpine secdb JSON (one branch) to OSV records, one per CVE. Fixes listed under version `0`
/// mean "never affected" and are left out.
pub fn alpine_secdb(v: &Value) -> Vec<Value> {
    let branch = v["distroversion"].as_str().unwrap_or("");
    let eco = format!("Alpine:{branch}");
    let mut by_cve: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for p in v["packages"].as_array().into_iter().flatten() {
        let name = p["pkg"]["name"].as_str().unwrap_or("");
        for (ver, cves) in p["pkg"]["secfixes"].as_object().into_iter().flatten() {
            if ver == "0" {
                continue;
            }
            for cve in cves
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                // Entries are sometimes "CVE-2019-1 CVE-2019-2" in one string.
                for id in cve.split_whitespace() {
                    by_cve.entry(id.to_string()).or_default().push(json!({
                        "package": {"ecosystem": eco, "name": name},
                        "ranges": fixed_range(ver),
                    }));
                }
            }
        }
    }
    by_cve
        .into_iter()
        .map(|(id, affected)| json!({"id": id, "modified": "1970-01-01T00:00:00Z", "affected": affected, "database_specific": {"source": "alpine-secdb"}}))
        .collect()
}

/// The Debian tracker's DSA or DLA list to OSV records, one per advisory, with its CVEs as
/// aliases and a fixed version per release. `<not-affected>` and `<unfixed>` entries are left
/// out (no version to compare with).
pub fn debian_list(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, Vec<String>, Vec<Value>)> = None;
    let flush = |cur: &mut Option<(String, String, Vec<String>, Vec<Value>)>,
                 out: &mut Vec<Value>| {
        if let Some((id, summary, aliases, affected)) = cur.take() {
            if !affected.is_empty() {
                out.push(json!({"id": id, "summary": summary, "aliases": aliases, "modified": "1970-01-01T00:00:00Z", "affected": affected, "database_specific": {"source": "debian-security-tracker"}}));
            }
        }
    };
    for line in text.lines() {
        if line.starts_with('[') {
            flush(&mut cur, &mut out);
            // [01 Apr 2023] DLA-3380-1 firmware-nonfree - security update
            let rest = line.split_once("] ").map(|(_, r)| r).unwrap_or("");
            let mut it = rest.splitn(2, ' ');
            let id = it.next().unwrap_or("").to_string();
            let summary = it.next().unwrap_or("").to_string();
            if id.starts_with("DSA-") || id.starts_with("DLA-") {
                cur = Some((id, summary, Vec::new(), Vec::new()));
            }
            continue;
        }
        let Some((_, _, aliases, affected)) = cur.as_mut() else {
            continue;
        };
        let t = line.trim();
        if let Some(cves) = t.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            aliases.extend(cves.split_whitespace().map(str::to_string));
        } else if let Some(rest) = t.strip_prefix('[') {
            // [buster] - firmware-nonfree 20190114+really20220913-0+deb10u1
            let Some((release, rest)) = rest.split_once(']') else {
                continue;
            };
            let Some(rest) = rest.trim().strip_prefix("- ") else {
                continue;
            };
            let mut parts = rest.split_whitespace();
            let (Some(pkg), Some(ver)) = (parts.next(), parts.next()) else {
                continue;
            };
            if ver.starts_with('<') {
                continue;
            }
            let Some((_, n)) = DEBIAN.iter().find(|(c, _)| *c == release) else {
                continue;
            };
            affected.push(json!({"package": {"ecosystem": format!("Debian:{n}"), "name": pkg}, "ranges": fixed_range(ver)}));
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_lists_become_advisories_per_release() {
        let text = "[01 Apr 2023] DLA-3380-1 firmware-nonfree - security update\n\t{CVE-2020-12362 CVE-2020-12363}\n\t[buster] - firmware-nonfree 20190114+really20220913-0+deb10u1\n[20 Sep 2014] DSA-3029-1 nginx - security update\n\t{CVE-2014-3616}\n\t[wheezy] - nginx 1.2.1-2.2+wheezy3\n\t[squeeze] - nginx <not-affected>\n";
        let r = debian_list(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["id"], "DLA-3380-1");
        assert_eq!(r[0]["aliases"][1], "CVE-2020-12363");
        assert_eq!(r[0]["affected"][0]["package"]["ecosystem"], "Debian:10");
        assert_eq!(
            r[1]["affected"].as_array().unwrap().len(),
            1,
            "not-affected is left out"
        );
        assert_eq!(
            r[1]["affected"][0]["ranges"][0]["events"][1]["fixed"],
            "1.2.1-2.2+wheezy3"
        );
    }

    #[test]
    fn alpine_secdb_becomes_one_record_per_cve() {
        let v = json!({"distroversion": "v3.9", "packages": [
            {"pkg": {"name": "openssl", "secfixes": {"1.1.1d-r0": ["CVE-2019-1549"], "0": ["CVE-2000-1"]}}},
            {"pkg": {"name": "musl", "secfixes": {"1.1.20-r5": ["CVE-2019-14697 CVE-2019-9999"]}}},
        ]});
        assert!(is_alpine_secdb(&v));
        let r = alpine_secdb(&v);
        let ids: Vec<&str> = r.iter().map(|x| x["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["CVE-2019-14697", "CVE-2019-1549", "CVE-2019-9999"]);
        assert_eq!(r[1]["affected"][0]["package"]["ecosystem"], "Alpine:v3.9");
    }
}
