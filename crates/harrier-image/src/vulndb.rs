//! The vulnerability database: OSV records in SQLite, and matching installed packages against
//! their affected ranges with each ecosystem's version ordering.

use std::io::Read;
use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;

use crate::catalog::Package;
use crate::malware::Severity;
use crate::version::Scheme;

/// Largest OSV record read.
const MAX_RECORD: u64 = 8 << 20;
/// Largest archive downloaded by [`VulnDb::update`].
const MAX_DOWNLOAD: u64 = 4 << 30;

/// osv.dev's bucket of per-ecosystem archives.
pub const OSV_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// Ecosystems `harrier db update` downloads by default.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "Debian",
    "Ubuntu",
    "Alpine",
    "PyPI",
    "npm",
    "crates.io",
    "Go",
];

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite said no.
    #[error("vulnerability database {path}: {source}")]
    Sql {
        /// The database.
        path: String,
        /// The error.
        #[source]
        source: rusqlite::Error,
    },
    /// Reading an input failed.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vulns (
    id TEXT PRIMARY KEY, modified TEXT, summary TEXT, aliases TEXT, severity TEXT, json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS affected (
    vuln_id TEXT NOT NULL, ecosystem TEXT NOT NULL, package TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected(ecosystem, package);
";

/// The database.
pub struct VulnDb {
    conn: Connection,
    path: String,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Records stored.
    pub records: u64,
    /// Files that were not OSV records (reported).
    pub skipped: u64,
}

/// A package affected by a vulnerability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Advisory id.
    pub id: String,
    /// Aliases (CVE ids...).
    pub aliases: Vec<String>,
    /// The package (binary name).
    pub package: String,
    /// What advisories call it (source package for Debian).
    pub advisory_package: String,
    /// Installed version.
    pub installed: String,
    /// First fixed version, when one exists.
    pub fixed: Option<String>,
    /// The advisory's severity; `None` when it gives none (shown as `unknown`).
    pub severity: Option<Severity>,
    /// One line.
    pub summary: String,
    /// The layer that installed the package.
    pub layer: usize,
}

fn severity_of(v: &Value) -> String {
    let s = v["database_specific"]["severity"].as_str().unwrap_or("");
    match s.to_ascii_uppercase().as_str() {
        "CRITICAL" => "critical",
        "HIGH" => "high",
        "MODERATE" | "MEDIUM" => "medium",
        "LOW" => "low",
        _ => "unknown",
    }
    .to_string()
}

impl Match {
    /// The severity's name, `unknown` when the advisory gives none.
    pub fn severity_name(&self) -> &'static str {
        self.severity.map_or("unknown", Severity::as_str)
    }
}

impl VulnDb {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<VulnDb, DbError> {
        let p = path.display().to_string();
        let sql = |source| DbError::Sql {
            path: p.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(VulnDb { conn, path: p })
    }

    fn sql(&self, source: rusqlite::Error) -> DbError {
        DbError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Imports OSV records: a JSON file, or a directory of them (recursively). Files that are
    /// not OSV records are reported through `on_problem` and skipped.
    pub fn import(
        &mut self,
        path: &Path,
        on_problem: &mut dyn FnMut(String),
    ) -> Result<Imported, DbError> {
        let mut files = Vec::new();
        let mut stack = vec![path.to_path_buf()];
        while let Some(p) = stack.pop() {
            let meta = std::fs::symlink_metadata(&p).map_err(|e| DbError::Input {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            if meta.is_dir() {
                let rd = std::fs::read_dir(&p).map_err(|e| DbError::Input {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
                for e in rd.filter_map(Result::ok) {
                    stack.push(e.path());
                }
            } else if meta.is_file()
                && p.extension()
                    .is_some_and(|x| x == "json" || x == "list" || x == "zip")
            {
                files.push(p);
            }
        }
        files.sort();
        let mut done = Imported::default();
        let tx = self.conn.transaction().map_err(|e| DbError::Sql {
            path: self.path.clone(),
            source: e,
        })?;
        for f in files {
            let name = f.display().to_string();
            let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            // Zips are bounded member by member, not as a whole.
            let is_zip = f.extension().is_some_and(|x| x == "zip");
            if size > MAX_RECORD && !is_zip {
                on_problem(format!(
                    "{name}: {size} bytes, over the {MAX_RECORD}-byte limit"
                ));
                done.skipped += 1;
                continue;
            }
            if f.extension().is_some_and(|x| x == "zip") {
                // osv.dev's per-ecosystem archives: every .json member is a record.
                let file = match std::fs::File::open(&f) {
                    Ok(x) => x,
                    Err(e) => {
                        on_problem(format!("{name}: cannot read: {e}"));
                        done.skipped += 1;
                        continue;
                    }
                };
                let mut zip = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
                    Ok(z) => z,
                    Err(e) => {
                        on_problem(format!("{name}: not a zip archive: {e}"));
                        done.skipped += 1;
                        continue;
                    }
                };
                for i in 0..zip.len() {
                    let mut member = match zip.by_index(i) {
                        Ok(m) => m,
                        Err(e) => {
                            on_problem(format!("{name}: member {i}: {e}"));
                            done.skipped += 1;
                            continue;
                        }
                    };
                    let mname = member.name().to_string();
                    if !member.is_file() || !(mname.ends_with(".json") || mname.ends_with(".list"))
                    {
                        continue;
                    }
                    // Declared sizes can lie: read at most the limit, then check.
                    let mut bytes = Vec::new();
                    if let Err(e) =
                        std::io::Read::take(&mut member, MAX_RECORD + 1).read_to_end(&mut bytes)
                    {
                        on_problem(format!("{name}: {mname}: {e}"));
                        done.skipped += 1;
                        continue;
                    }
                    if bytes.len() as u64 > MAX_RECORD {
                        on_problem(format!("{name}: {mname}: over the {MAX_RECORD}-byte limit"));
                        done.skipped += 1;
                        continue;
                    }
                    store(
                        &tx,
                        &self.path,
                        &format!("{name}: {mname}"),
                        mname.ends_with(".list"),
                        &bytes,
                        on_problem,
                        &mut done,
                    )?;
                }
                continue;
            }
            let bytes = match std::fs::read(&f) {
                Ok(b) => b,
                Err(e) => {
                    on_problem(format!("{name}: cannot read: {e}"));
                    done.skipped += 1;
                    continue;
                }
            };
            let list = f.extension().is_some_and(|x| x == "list");
            store(&tx, &self.path, &name, list, &bytes, on_problem, &mut done)?;
        }
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(done)
    }

    /// Downloads each ecosystem's `all.zip` from `base_url` (osv.dev's layout:
    /// `<base>/<ecosystem>/all.zip`) and imports it. An ecosystem that cannot be downloaded is
    /// reported and the others go on.
    pub fn update(
        &mut self,
        base_url: &str,
        ecosystems: &[String],
        on_problem: &mut dyn FnMut(String),
    ) -> Result<Imported, DbError> {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(std::time::Duration::from_secs(15))
            .timeout_read(std::time::Duration::from_secs(300))
            .build();
        let mut total = Imported::default();
        for eco in ecosystems {
            let url = format!("{}/{}/all.zip", base_url.trim_end_matches('/'), eco);
            let dir = tempfile::tempdir().map_err(|e| DbError::Input {
                path: url.clone(),
                message: e.to_string(),
            })?;
            let zip_path = dir.path().join("all.zip");
            let got = agent
                .get(&url)
                .call()
                .map_err(|e| match e {
                    ureq::Error::Status(c, _) => format!("HTTP {c}"),
                    ureq::Error::Transport(t) => t.kind().to_string(),
                })
                .and_then(|r| {
                    let mut f = std::fs::File::create(&zip_path).map_err(|e| e.to_string())?;
                    let n = std::io::copy(&mut r.into_reader().take(MAX_DOWNLOAD + 1), &mut f)
                        .map_err(|e| e.to_string())?;
                    if n > MAX_DOWNLOAD {
                        return Err(format!("over the {MAX_DOWNLOAD}-byte limit"));
                    }
                    Ok(())
                });
            if let Err(e) = got {
                on_problem(format!("{url}: {e}"));
                total.skipped += 1;
                continue;
            }
            let n = self.import(&zip_path, &mut |p| {
                on_problem(p.replace(&zip_path.display().to_string(), &url))
            })?;
            total.records += n.records;
            total.skipped += n.skipped;
        }
        Ok(total)
    }

    /// Number of advisories stored.
    pub fn count(&self) -> Result<u64, DbError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM vulns", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    /// The advisories affecting `packages` of `ecosystem` (`Debian:12`).
    pub fn matches(&self, ecosystem: &str, packages: &[Package]) -> Result<Vec<Match>, DbError> {
        let Some(scheme) = Scheme::of_ecosystem(ecosystem) else {
            return Ok(Vec::new());
        };
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.vuln_id, a.data, v.summary, v.aliases, v.severity FROM affected a JOIN vulns v ON v.id = a.vuln_id \
                 WHERE (a.ecosystem = ?1 OR a.ecosystem = ?2) AND a.package = ?3",
            )
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for p in packages {
            // Debian, Ubuntu and Alpine advisories name source packages (apk's origin); the
            // binary package's version is what is installed.
            let (name, version) = match scheme {
                // Debian advisories give source versions (libgcc1 1:8.3.0-6 is gcc-8 8.3.0-6).
                Scheme::Dpkg => (p.source.as_str(), p.source_version.as_str()),
                Scheme::Apk | Scheme::Rpm => (p.source.as_str(), p.version.as_str()),
                Scheme::Semver | Scheme::Pep440 => (p.name.as_str(), p.version.as_str()),
            };
            let rows: Vec<(String, String, String, String, String)> = stmt
                .query_map(params![ecosystem, base, name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(|e| self.sql(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.sql(e))?;
            for (id, data, summary, aliases, severity) in rows {
                let a: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                if let Some(fixed) = affects(&a, scheme, version) {
                    if out
                        .iter()
                        .any(|m: &Match| m.id == id && m.package == p.name)
                    {
                        continue;
                    }
                    out.push(Match {
                        id,
                        aliases: aliases
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                        package: p.name.clone(),
                        advisory_package: name.to_string(),
                        installed: p.version.clone(),
                        fixed,
                        severity: severity.parse().ok(),
                        summary,
                        layer: p.layer,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Stores the records of one document (OSV JSON, Alpine secdb JSON, or a Debian DSA/DLA list).
fn store(
    tx: &rusqlite::Transaction<'_>,
    db_path: &str,
    name: &str,
    list: bool,
    bytes: &[u8],
    on_problem: &mut dyn FnMut(String),
    done: &mut Imported,
) -> Result<(), DbError> {
    // Three inputs: OSV records, Alpine secdb JSON, the Debian tracker's DSA/DLA lists.
    let records: Vec<Value> = if list {
        crate::convert::debian_list(&String::from_utf8_lossy(bytes))
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) if crate::convert::is_alpine_secdb(&v) => crate::convert::alpine_secdb(&v),
            Ok(v) => vec![v],
            Err(e) => {
                on_problem(format!("{name}: not JSON: {e}"));
                done.skipped += 1;
                return Ok(());
            }
        }
    };
    for v in records {
        let (Some(id), Some(affected)) = (v["id"].as_str(), v["affected"].as_array()) else {
            on_problem(format!(
                "{name}: not an OSV record (expected `id` and `affected`)"
            ));
            done.skipped += 1;
            continue;
        };
        let sqlerr = |e| DbError::Sql {
            path: db_path.to_string(),
            source: e,
        };
        // A record replaces what the store had for the same advisory and packages; the
        // same CVE for other ecosystems or packages (another Alpine branch) stays.
        for a in affected {
            let (Some(eco), Some(pkg)) = (
                a["package"]["ecosystem"].as_str(),
                a["package"]["name"].as_str(),
            ) else {
                continue;
            };
            tx.execute(
                "DELETE FROM affected WHERE vuln_id = ?1 AND ecosystem = ?2 AND package = ?3",
                params![id, eco, pkg],
            )
            .map_err(sqlerr)?;
        }
        let aliases: Vec<&str> = v["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let summary = v["summary"]
            .as_str()
            .or(v["details"].as_str())
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        tx.execute(
                    "INSERT OR REPLACE INTO vulns (id, modified, summary, aliases, severity, json) VALUES (?1,?2,?3,?4,?5,?6)",
                    params![id, v["modified"].as_str(), summary, aliases.join(","), severity_of(&v), v.to_string()],
                )
                .map_err(sqlerr)?;
        for a in affected {
            let (Some(eco), Some(pkg)) = (
                a["package"]["ecosystem"].as_str(),
                a["package"]["name"].as_str(),
            ) else {
                continue;
            };
            tx.execute(
                "INSERT INTO affected (vuln_id, ecosystem, package, data) VALUES (?1,?2,?3,?4)",
                params![id, eco, pkg, a.to_string()],
            )
            .map_err(sqlerr)?;
        }
        done.records += 1;
    }
    Ok(())
}

/// Whether `version` is affected by the OSV `affected` entry `a`; `Some(first fixed version)`
/// (inner `None` when no fix exists) when it is.
pub fn affects(a: &Value, scheme: Scheme, version: &str) -> Option<Option<String>> {
    use std::cmp::Ordering::*;
    if a["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v.as_str() == Some(version))
    {
        return Some(None);
    }
    for r in a["ranges"].as_array().into_iter().flatten() {
        let t = r["type"].as_str().unwrap_or("");
        if t != "ECOSYSTEM" && t != "SEMVER" {
            continue;
        }
        let mut events: Vec<(&str, &str)> = r["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_object())
            .filter_map(|o| {
                o.iter()
                    .next()
                    .and_then(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
            })
            .collect();
        let key = |v: &str| v == "0";
        events.sort_by(|x, y| match (key(x.1), key(y.1)) {
            (true, true) => Equal,
            (true, false) => Less,
            (false, true) => Greater,
            _ => scheme.compare(x.1, y.1),
        });
        let mut affected = false;
        let mut fix = None;
        for (kind, v) in &events {
            let cmp = if *v == "0" {
                Greater
            } else {
                scheme.compare(version, v)
            };
            match *kind {
                "introduced" if cmp != Less => affected = true,
                "fixed" if cmp != Less => affected = false,
                "fixed" if affected && fix.is_none() => fix = Some(v.to_string()),
                "last_affected" if cmp == Greater => affected = false,
                _ => {}
            }
        }
        if affected {
            return Some(fix);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranges_introduced_fixed_last_affected() {
        let a = json!({"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.1-2.2+wheezy3"}]}]});
        assert_eq!(
            affects(&a, Scheme::Dpkg, "1.2.1-2.2+wheezy2"),
            Some(Some("1.2.1-2.2+wheezy3".into()))
        );
        assert_eq!(affects(&a, Scheme::Dpkg, "1.2.1-2.2+wheezy3"), None);
        let b = json!({"ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "1.4.0"}]}]});
        assert!(affects(&b, Scheme::Semver, "0.9.0").is_none());
        assert_eq!(affects(&b, Scheme::Semver, "1.4.0"), Some(None));
        assert!(affects(&b, Scheme::Semver, "1.4.1").is_none());
        let c = json!({"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]});
        assert_eq!(affects(&c, Scheme::Dpkg, "2.3.11-2"), Some(None));
        let d = json!({"versions": ["3.0"], "ranges": [{"type": "GIT", "events": [{"introduced": "abc"}]}]});
        assert_eq!(affects(&d, Scheme::Semver, "3.0"), Some(None));
        assert!(affects(&d, Scheme::Semver, "3.1").is_none());
    }
}
