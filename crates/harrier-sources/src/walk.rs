//! Expanding the paths given on the command line into the files to read.

use std::path::{Path, PathBuf};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// A name for messages.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// A path that could not be listed or is not usable.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WalkError {
    /// The path.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Files whose names mark them as something other than log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// A CloudTrail digest file (`..._CloudTrail-Digest_...`).
    Digest,
}

/// What walking the inputs produced.
#[derive(Debug, Default)]
pub struct Walked {
    /// Files to read, in order.
    pub inputs: Vec<Input>,
    /// Files skipped, with why.
    pub skipped: Vec<(PathBuf, Skipped)>,
    /// Paths that could not be read.
    pub errors: Vec<WalkError>,
}

/// Whether a file found inside a directory is read: `.json`, `.jsonl`, `.ndjson`, optionally
/// followed by `.gz`. Files named directly are always read.
pub fn is_log_name(name: &str) -> bool {
    let n = name.strip_suffix(".gz").unwrap_or(name);
    n.ends_with(".json") || n.ends_with(".jsonl") || n.ends_with(".ndjson")
}

fn is_digest(p: &Path) -> bool {
    p.to_string_lossy().contains("CloudTrail-Digest")
}

/// Expands `paths`: `-` is stdin, a file is itself, a directory is every log file below it
/// (recursively, sorted by path; symbolic links to directories are not followed, so a link loop
/// cannot trap the walk).
pub fn walk(paths: &[String]) -> Walked {
    let mut w = Walked::default();
    for p in paths {
        if p == "-" {
            w.inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        match std::fs::metadata(&path) {
            Err(e) => w.errors.push(WalkError {
                path: p.clone(),
                message: e.to_string(),
            }),
            Ok(m) if m.is_dir() => walk_dir(&path, &mut w),
            Ok(_) if is_digest(&path) => w.skipped.push((path, Skipped::Digest)),
            Ok(_) => w.inputs.push(Input::File(path)),
        }
    }
    w
}

fn walk_dir(root: &Path, w: &mut Walked) {
    let mut stack = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) => {
                w.errors.push(WalkError {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    w.errors.push(WalkError {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let path = entry.path();
            let ft = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    w.errors.push(WalkError {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if ft.is_dir() {
                stack.push(path);
            } else if is_log_name(&entry.file_name().to_string_lossy()) {
                // Files (and links to files) with a log name.
                if ft.is_symlink() && path.is_dir() {
                    continue;
                }
                files.push(path);
            }
        }
    }
    files.sort();
    for f in files {
        if is_digest(&f) {
            w.skipped.push((f, Skipped::Digest));
        } else {
            w.inputs.push(Input::File(f));
        }
    }
}
