//! Finding and reading rule files: the built-in pack ([`harrier_rules::builtin`]) and the
//! files or directories a user names, in a stable order, with size limits.

use std::path::{Path, PathBuf};

use harrier_rules::{Diagnostic, RuleSet};

/// Largest rule or rule-test file read.
pub const MAX_RULE_FILE: u64 = 16 << 20;

/// A rule file or directory that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// Listing, opening or reading failed.
    #[error("cannot read rules {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_RULE_FILE`].
    #[error("{path}: rule file larger than {} MiB", MAX_RULE_FILE >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RuleFileError + '_ {
    move |source| RuleFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every file under `dir` whose extension is one of `exts`, sorted (iteratively: no recursion
/// on hostile directory depth).
fn files_in(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) -> Result<(), RuleFileError> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io(&d))? {
            let e = e.map_err(io(&d))?;
            let p = e.path();
            if e.file_type().map_err(io(&p))?.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

fn read_limited(f: &Path) -> Result<String, RuleFileError> {
    let meta = std::fs::metadata(f).map_err(io(f))?;
    if meta.len() > MAX_RULE_FILE {
        return Err(RuleFileError::TooLarge {
            path: f.to_path_buf(),
        });
    }
    std::fs::read_to_string(f).map_err(io(f))
}

/// Reads the rule files: the built-in pack first (unless `no_defaults`), then each path in
/// order (a directory contributes its `.yaml`/`.yml` files, sorted). Returns (name, text).
pub fn read_rule_texts(
    paths: &[PathBuf],
    no_defaults: bool,
) -> Result<Vec<(String, String)>, RuleFileError> {
    let mut texts: Vec<(String, String)> = Vec::new();
    if !no_defaults {
        texts.extend(
            harrier_rules::builtin::RULES
                .iter()
                .map(|(n, t)| (format!("<builtin>/{n}"), t.to_string())),
        );
    }
    let mut files = Vec::new();
    for p in paths {
        if std::fs::metadata(p).map_err(io(p))?.is_dir() {
            files_in(p, &["yaml", "yml"], &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    for f in files {
        let text = read_limited(&f)?;
        texts.push((f.display().to_string(), text));
    }
    Ok(texts)
}

/// Rule test files: the built-in pack's when `dirs` is empty, else every `.json` file under them.
pub fn read_test_texts(dirs: &[PathBuf]) -> Result<Vec<(String, String)>, RuleFileError> {
    if dirs.is_empty() {
        return Ok(harrier_rules::builtin::TESTS
            .iter()
            .map(|(n, t)| (format!("<builtin>/{n}"), t.to_string()))
            .collect());
    }
    let mut out = Vec::new();
    for d in dirs {
        let mut found = Vec::new();
        files_in(d, &["json"], &mut found)?;
        for f in found {
            let text = read_limited(&f)?;
            out.push((f.display().to_string(), text));
        }
    }
    Ok(out)
}

/// Reads and compiles rules; diagnostics are returned, not printed.
pub fn load(
    paths: &[PathBuf],
    no_defaults: bool,
) -> Result<(RuleSet, Vec<Diagnostic>), RuleFileError> {
    let texts = read_rule_texts(paths, no_defaults)?;
    Ok(RuleSet::load(
        texts.iter().map(|(n, t)| (n.as_str(), t.as_str())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_give_sorted_yaml_and_missing_paths_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b.yaml"), "- list: b\n  items: []\n").unwrap();
        std::fs::write(d.path().join("a.yml"), "- list: a\n  items: []\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        let t = read_rule_texts(&[d.path().to_path_buf()], true).unwrap();
        let names: Vec<_> = t
            .iter()
            .map(|(n, _)| n.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.yml", "b.yaml"]);
        let missing = d.path().join("nope.yaml");
        let e = read_rule_texts(&[missing], true).unwrap_err().to_string();
        assert!(e.contains("nope.yaml"), "{e}");
        let with_pack = read_rule_texts(&[], false).unwrap();
        assert!(with_pack
            .iter()
            .all(|(n, _)| n.starts_with("<builtin>/rules/")));
    }
}
