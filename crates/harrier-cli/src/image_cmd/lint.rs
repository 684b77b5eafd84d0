//! `harrier image lint`: a Dockerfile's findings, as text or JSON.

use std::process::ExitCode;

use anyhow::{Context, Result};
use harrier_image::malware::Severity;

use super::ImageFormat;

pub fn lint(
    dockerfile: &std::path::Path,
    format: ImageFormat,
    fail_on: Option<Severity>,
) -> Result<ExitCode> {
    let meta = std::fs::metadata(dockerfile)
        .with_context(|| format!("cannot read {}", dockerfile.display()))?;
    anyhow::ensure!(
        meta.len() <= 1 << 20,
        "{}: larger than 1 MiB, not a Dockerfile",
        dockerfile.display()
    );
    let text = std::fs::read_to_string(dockerfile)
        .with_context(|| format!("cannot read {}", dockerfile.display()))?;
    let found = harrier_image::lint::lint_dockerfile(&text);
    match format {
        ImageFormat::Json => {
            let v: Vec<serde_json::Value> = found
                .iter()
                .map(|f| {
                    let r = harrier_image::lint::rule(f.id);
                    serde_json::json!({"id": f.id, "severity": f.severity.as_str(), "location": f.location, "detail": f.detail, "title": r.title, "fix": r.fix})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            for f in &found {
                let r = harrier_image::lint::rule(f.id);
                println!(
                    "{}:{} {:<8} {:<20} {} ({})\n    fix: {}",
                    dockerfile.display(),
                    f.location.trim_start_matches("line "),
                    f.severity.as_str(),
                    f.id,
                    r.title,
                    f.detail,
                    r.fix
                );
            }
            eprintln!("harrier: {} finding(s)", found.len());
        }
    }
    Ok(
        if fail_on.is_some_and(|s| found.iter().any(|f| f.severity <= s)) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
