//! A scan: open, walk the layers, catalog, match, look for malware; and the report's forms.

use std::path::Path;

use serde_json::{json, Value};

use crate::archive::{Image, ImageError};
use crate::catalog::{self, Os, Package};
use crate::layers::{self, Limits, Problem};
use crate::malware::{self, Severity};
use crate::vulndb::{DbError, Match, VulnDb};

/// One layer, as the report shows it.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// Position from the base.
    pub index: usize,
    /// Blob digest.
    pub digest: Option<String>,
    /// The step that made it.
    pub created_by: Option<String>,
}

/// Everything a scan found.
#[derive(Debug)]
pub struct Report {
    /// What was scanned.
    pub source: String,
    /// Tags the archive names.
    pub tags: Vec<String>,
    /// Layers.
    pub layers: Vec<LayerInfo>,
    /// Distribution.
    pub os: Option<Os>,
    /// Installed packages.
    pub packages: Vec<Package>,
    /// Vulnerable packages (empty without a database).
    pub vulnerabilities: Vec<Match>,
    /// Whether a vulnerability database was used.
    pub db_used: bool,
    /// Malware and tampering.
    pub malware: Vec<malware::Finding>,
    /// Dockerfile practice, from the config and history.
    pub practice: Vec<crate::lint::LintFinding>,
    /// Problems met in the image (hostile or broken entries), each skipped.
    pub problems: Vec<Problem>,
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The image could not be opened.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Scans the image at `path`.
pub fn scan(path: &Path, db: Option<&VulnDb>, limits: &Limits) -> Result<Report, ScanError> {
    scan_with(path, db, limits, &malware::KnownHashes::new())
}

/// [`scan`], also flagging executables whose SHA-256 is in `known`.
pub fn scan_with(
    path: &Path,
    db: Option<&VulnDb>,
    limits: &Limits,
    known: &malware::KnownHashes,
) -> Result<Report, ScanError> {
    let image = Image::open(path)?;
    let scanner = malware::scanner();
    let w = layers::walk(&image, &catalog::wanted, &scanner, limits);
    let (os, packages) = catalog::catalog(&w);
    let mut vulnerabilities = Vec::new();
    if let Some(db) = db {
        let (os_pkgs, lang_pkgs): (Vec<Package>, Vec<Package>) = packages
            .iter()
            .cloned()
            .partition(|p| catalog::language_ecosystem(p.kind).is_none());
        if let Some(eco) = os.as_ref().and_then(Os::ecosystem) {
            vulnerabilities.extend(db.matches(&eco, &os_pkgs)?);
        }
        for eco in ["PyPI", "npm", "crates.io", "Go"] {
            let these: Vec<Package> = lang_pkgs
                .iter()
                .filter(|p| catalog::language_ecosystem(p.kind) == Some(eco))
                .cloned()
                .collect();
            if !these.is_empty() {
                vulnerabilities.extend(db.matches(eco, &these)?);
            }
        }
    }
    vulnerabilities.sort_by(|a, b| (&a.package, &a.id).cmp(&(&b.package, &b.id)));
    Ok(Report {
        source: image.source.clone(),
        tags: image.tags.clone(),
        layers: image
            .layers
            .iter()
            .map(|l| LayerInfo {
                index: l.index,
                digest: l.digest.clone().or(l.diff_id.clone()),
                created_by: l.created_by.clone(),
            })
            .collect(),
        os,
        malware: malware::analyze_with(&w, known),
        practice: crate::lint::lint_config(&image.config),
        packages,
        vulnerabilities,
        db_used: db.is_some(),
        problems: w.problems,
    })
}

impl Report {
    /// Whether anything at or above `min` was found (malware, or vulnerabilities of known
    /// severity).
    pub fn fails(&self, min: Severity) -> bool {
        self.malware.iter().any(|m| m.severity <= min)
            || self.practice.iter().any(|p| p.severity <= min)
            || self
                .vulnerabilities
                .iter()
                .any(|v| v.severity.is_some_and(|s| s <= min))
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let layer = |i: usize| {
            self.layers
                .get(i)
                .map(|l| json!({"index": i, "digest": l.digest, "created_by": l.created_by}))
                .unwrap_or(json!({"index": i}))
        };
        json!({
            "source": self.source,
            "tags": self.tags,
            "os": self.os.as_ref().map(|o| json!({"id": o.id, "version_id": o.version_id, "name": o.pretty, "ecosystem": o.ecosystem()})),
            "layers": self.layers.iter().map(|l| json!({"index": l.index, "digest": l.digest, "created_by": l.created_by})).collect::<Vec<_>>(),
            "packages": self.packages.iter().map(|p| json!({"name": p.name, "version": p.version, "source": p.source, "type": p.kind, "layer": p.layer})).collect::<Vec<_>>(),
            "vulnerability_database": self.db_used,
            "vulnerabilities": self.vulnerabilities.iter().map(|v| json!({
                "id": v.id, "aliases": v.aliases, "package": v.package, "advisory_package": v.advisory_package,
                "installed": v.installed, "fixed": v.fixed, "severity": v.severity_name(), "summary": v.summary, "layer": layer(v.layer),
            })).collect::<Vec<_>>(),
            "malware": self.malware.iter().map(|m| json!({
                "id": m.id, "severity": m.severity.as_str(), "path": format!("/{}", m.path), "detail": m.detail, "layer": layer(m.layer),
            })).collect::<Vec<_>>(),
            "practice": self.practice.iter().map(|p| json!({
                "id": p.id, "severity": p.severity.as_str(), "location": p.location, "detail": p.detail,
                "title": crate::lint::rule(p.id).title, "fix": crate::lint::rule(p.id).fix,
            })).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        })
    }

    /// A readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str(&self.source);
        if !self.tags.is_empty() {
            s.push_str(&format!(" ({})", self.tags.join(", ")));
        }
        s.push('\n');
        if let Some(o) = &self.os {
            s.push_str(&format!(
                "os: {} {} ({} packages)\n",
                o.id,
                o.version_id,
                self.packages.len()
            ));
        } else {
            s.push_str(&format!("os: unknown ({} packages)\n", self.packages.len()));
        }
        s.push_str(&format!(
            "\nmalware and tampering: {}\n",
            self.malware.len()
        ));
        for m in &self.malware {
            let by = self
                .layers
                .get(m.layer)
                .and_then(|l| l.created_by.as_deref())
                .unwrap_or("");
            s.push_str(&format!(
                "  {:<9} {:<20} /{}  layer {}{}\n      {}\n",
                m.severity.as_str(),
                m.id,
                m.path,
                m.layer,
                if by.is_empty() {
                    String::new()
                } else {
                    format!(": {by}")
                },
                m.detail
            ));
        }
        s.push_str(&format!("\nimage practice: {}\n", self.practice.len()));
        for p in &self.practice {
            let r = crate::lint::rule(p.id);
            s.push_str(&format!(
                "  {:<9} {:<20} {}: {} ({})\n      fix: {}\n",
                p.severity.as_str(),
                p.id,
                p.location,
                r.title,
                p.detail,
                r.fix
            ));
        }
        if self.db_used {
            s.push_str(&format!(
                "\nvulnerabilities: {}\n",
                self.vulnerabilities.len()
            ));
            for v in &self.vulnerabilities {
                s.push_str(&format!(
                    "  {:<9} {:<20} {} {} -> {}\n",
                    v.severity_name(),
                    v.id,
                    v.package,
                    v.installed,
                    v.fixed.as_deref().unwrap_or("no fix")
                ));
            }
        } else {
            s.push_str("\nvulnerabilities: not checked (no database: harrier db import PATH)\n");
        }
        if !self.problems.is_empty() {
            s.push_str(&format!(
                "\nproblems in the image (entries skipped): {}\n",
                self.problems.len()
            ));
            for p in &self.problems {
                s.push_str(&format!("  {p}\n"));
            }
        }
        s
    }
}
