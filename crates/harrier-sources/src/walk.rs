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
    /// Opens the input for reading records (gzip or plain, by content).
    pub fn open(&self) -> std::io::Result<crate::RecordReader<Box<dyn std::io::Read + Send>>> {
        use std::io::BufReader;
        match self {
            Input::Stdin => crate::open(BufReader::with_capacity(256 << 10, std::io::stdin())),
            Input::File(p) => std::fs::File::open(p)
                .and_then(|f| crate::open(BufReader::with_capacity(256 << 10, f))),
        }
    }

    /// Whether the input is worth reading on several cores by itself: standard input, or a
    /// file of at least `min_bytes` (on disk, compressed or not).
    pub fn is_large(&self, min_bytes: u64) -> bool {
        match self {
            Input::Stdin => true,
            Input::File(p) => std::fs::metadata(p).is_ok_and(|m| m.len() >= min_bytes),
        }
    }

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

/// Files found in a directory and not read, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// A CloudTrail digest file (`..._CloudTrail-Digest_...`).
    Digest,
    /// A file without a log name whose first bytes (after gzip, if gzipped) are not JSON.
    NotJson,
}

impl Skipped {
    /// What the summary says of such files.
    pub fn describe(self) -> &'static str {
        match self {
            Skipped::Digest => "CloudTrail digest file(s)",
            Skipped::NotJson => "file(s) whose content is not JSON",
        }
    }
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

/// Whether a file found inside a directory is read by its name alone: `.json`, `.jsonl`,
/// `.ndjson`, optionally followed by `.gz`. Other files (the API server's `audit.log` and its
/// rotations `audit-2026-11-16T22-20-01.000.log[.gz]`, anything else) are read when their
/// content starts as JSON ([`looks_like_json`]). Files named directly are always read.
pub fn is_log_name(name: &str) -> bool {
    let n = name.strip_suffix(".gz").unwrap_or(name);
    n.ends_with(".json") || n.ends_with(".jsonl") || n.ends_with(".ndjson")
}

/// Whether a file's first bytes (decompressed when it is gzipped) are JSON: an object or an
/// array after optional whitespace and byte-order mark. Reads at most 4 KiB.
pub fn looks_like_json(path: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = Vec::with_capacity(4096);
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(4096);
        let mut gz = flate2::read::MultiGzDecoder::new(&head[..]);
        // A truncated stream still yields its first bytes.
        let mut buf = [0u8; 4096];
        loop {
            match gz.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() >= 4096 {
                        break;
                    }
                }
            }
        }
        head = out;
    }
    let body = head
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(&head);
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
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
            } else if ft.is_symlink() && path.is_dir() {
                // Links to directories are not followed (no loops).
                continue;
            } else if is_log_name(&entry.file_name().to_string_lossy()) {
                files.push(path);
            } else if looks_like_json(&path) {
                // audit.log, its rotations, JSON under any other name.
                files.push(path);
            } else {
                w.skipped.push((path, Skipped::NotJson));
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

#[cfg(test)]
mod content_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn files_without_a_log_name_are_read_by_content() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        std::fs::write(p("audit.log"), "\u{feff}  {\"kind\":\"Event\"}\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"[{\"eventName\":\"x\"}]").unwrap();
        std::fs::write(
            p("audit-2026-11-16T22-20-01.000.log.gz"),
            gz.finish().unwrap(),
        )
        .unwrap();
        std::fs::write(p("notes.txt"), "hello {").unwrap();
        std::fs::write(p("empty.log"), "").unwrap();
        std::fs::write(p("pic.png"), b"\x89PNG\r\n\x1a\n").unwrap();
        std::fs::write(p("trail.json"), "not even json").unwrap();
        let w = walk(&[d.path().display().to_string()]);
        let read: Vec<String> = w
            .inputs
            .iter()
            .map(|i| i.display().rsplit('/').next().unwrap().to_string())
            .collect();
        // Log names are read whatever they hold (the reader reports bad content); others by
        // their first bytes.
        assert_eq!(
            read,
            [
                "audit-2026-11-16T22-20-01.000.log.gz",
                "audit.log",
                "trail.json"
            ]
        );
        let mut skipped: Vec<String> = w
            .skipped
            .iter()
            .map(|(p, why)| format!("{}:{why:?}", p.file_name().unwrap().to_string_lossy()))
            .collect();
        skipped.sort();
        assert_eq!(
            skipped,
            ["empty.log:NotJson", "notes.txt:NotJson", "pic.png:NotJson"]
        );
    }
}
