//! Report formats for tools: SARIF 2.1.0 (code scanning), CycloneDX 1.5 and SPDX 2.3 (SBOMs).

use serde_json::{json, Value};

use crate::catalog::Package;
use crate::malware::Severity;
use crate::scan::Report;

/// The package URL of an installed package.
pub fn purl(p: &Package, os: Option<&crate::catalog::Os>) -> String {
    let enc = |s: &str| {
        s.replace('%', "%25")
            .replace('+', "%2B")
            .replace(':', "%3A")
    };
    match p.kind {
        "dpkg" => {
            let ns = os
                .map(|o| o.id.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("debian");
            let mut u = format!("pkg:deb/{ns}/{}@{}", p.name, enc(&p.version));
            if let Some(o) = os {
                u.push_str(&format!("?distro={}-{}", o.id, o.version_id));
            }
            u
        }
        "apk" => format!("pkg:apk/alpine/{}@{}", p.name, enc(&p.version)),
        "python" => format!(
            "pkg:pypi/{}@{}",
            p.name.to_ascii_lowercase().replace('_', "-"),
            enc(&p.version)
        ),
        "npm" => format!("pkg:npm/{}@{}", p.name.replace('@', "%40"), enc(&p.version)),
        "cargo" => format!("pkg:cargo/{}@{}", p.name, enc(&p.version)),
        "go" => format!("pkg:golang/{}@{}", p.name, enc(&p.version)),
        "rpm" => {
            let ns = os
                .map(|o| o.id.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or("redhat");
            format!("pkg:rpm/{ns}/{}@{}", p.name, enc(&p.version))
        }
        other => format!("pkg:generic/{other}/{}@{}", p.name, enc(&p.version)),
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// SARIF 2.1.0: one rule per finding kind, one result per finding.
pub fn sarif(r: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    let rule = |id: &str, text: &str, help: &str, rules: &mut Vec<Value>| {
        if !rules.iter().any(|x| x["id"] == id) {
            rules.push(
                json!({"id": id, "shortDescription": {"text": text}, "help": {"text": help}}),
            );
        }
    };
    for m in &r.malware {
        rule(m.id, m.id, "Planted malware or tampering: investigate the layer that introduced it and rebuild from a trusted base.", &mut rules);
        results.push(json!({
            "ruleId": m.id, "level": level(m.severity),
            "message": {"text": format!("{} (layer {})", m.detail, m.layer)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": m.path}}}],
            "properties": {"severity": m.severity.as_str(), "layer": m.layer},
        }));
    }
    for p in &r.practice {
        let lr = crate::lint::rule(p.id);
        rule(p.id, lr.title, lr.fix, &mut rules);
        results.push(json!({
            "ruleId": p.id, "level": level(p.severity),
            "message": {"text": format!("{} ({}, {})", lr.title, p.detail, p.location)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.source}}}],
            "properties": {"severity": p.severity.as_str()},
        }));
    }
    for v in &r.vulnerabilities {
        rule(
            &v.id,
            &v.summary,
            "Upgrade the package to the fixed version.",
            &mut rules,
        );
        let sev = v.severity;
        results.push(json!({
            "ruleId": v.id, "level": sev.map(level).unwrap_or("warning"),
            "message": {"text": format!("{} {} is affected by {}; fixed in {}", v.package, v.installed, v.id, v.fixed.as_deref().unwrap_or("no release yet"))},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.packages.iter().find(|p| p.name == v.package).map(|p| p.location.as_str()).unwrap_or("")}}}],
            "properties": {"severity": v.severity_name(), "package": v.package, "installed": v.installed, "fixed": v.fixed},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "harrier", "informationUri": "https://github.com/harrier-security/harrier", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}

/// CycloneDX 1.5 SBOM (JSON), with the matched vulnerabilities.
pub fn cyclonedx(r: &Report) -> Value {
    let os = r.os.as_ref();
    let comps: Vec<Value> = r
        .packages
        .iter()
        .map(|p| json!({"type": "library", "bom-ref": purl(p, os), "name": p.name, "version": p.version, "purl": purl(p, os)}))
        .collect();
    let vulns: Vec<Value> = r
        .vulnerabilities
        .iter()
        .map(|v| {
            let p = r.packages.iter().find(|p| p.name == v.package);
            json!({"id": v.id, "source": {"name": "OSV"}, "ratings": [{"severity": v.severity_name()}],
                   "description": v.summary, "affects": [{"ref": p.map(|p| purl(p, os)).unwrap_or_default()}]})
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": [{"vendor": "Harrier", "name": "harrier", "version": env!("CARGO_PKG_VERSION")}],
            "component": {"type": "container", "name": r.tags.first().cloned().unwrap_or_else(|| r.source.clone())},
        },
        "components": comps,
        "vulnerabilities": vulns,
    })
}

/// SPDX 2.3 document (JSON). `created` is an RFC 3339 time.
pub fn spdx(r: &Report, created: &str) -> Value {
    let os = r.os.as_ref();
    let name = r.tags.first().cloned().unwrap_or_else(|| r.source.clone());
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image", "name": name, "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false, "primaryPackagePurpose": "CONTAINER",
    })];
    let mut rel = vec![
        json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Image"}),
    ];
    for (i, p) in r.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}");
        packages.push(json!({
            "SPDXID": id, "name": p.name, "versionInfo": p.version, "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false, "sourceInfo": format!("from {} ({})", p.location, p.kind),
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl(p, os)}],
        }));
        rel.push(json!({"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id}));
    }
    let ns_hash: String = crate::archive::hex(&<sha2::Sha256 as sha2::Digest>::digest(
        format!("{name}{created}").as_bytes(),
    ))[..16]
        .to_string();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://harrier.dev/spdx/{ns_hash}"),
        "creationInfo": {"created": created, "creators": [format!("Tool: harrier-{}", env!("CARGO_PKG_VERSION"))]},
        "packages": packages,
        "relationships": rel,
    })
}
