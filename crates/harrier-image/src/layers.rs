//! Applying layers, in order, to an in-memory file index: whiteouts and opaque directories
//! honoured, hard links resolved, nothing written to disk. While a layer streams past, the files
//! the analyzers want are captured (size-limited) and every regular file is searched for the
//! malware indicators of a [`Scanner`]. Hostile input is reported as a [`Problem`] and skipped:
//! `..` in names, layers past the size limit (decompression bombs), too many entries, digests
//! that do not match.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use aho_corasick::AhoCorasick;
use sha2::{Digest, Sha256};

use crate::archive::{hex, Image, Layer};

/// Limits on what a layer may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes per layer.
    pub layer_bytes: u64,
    /// Entries per layer.
    pub entries: u64,
    /// Largest file captured for the analyzers.
    pub capture_bytes: u64,
    /// Largest file searched for indicators.
    pub scan_bytes: u64,
    /// Largest executable read whole (for the packages compiled into it).
    pub exec_bytes: u64,
    /// Total bytes of captured files kept for the analyzers, over the whole image.
    pub capture_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            layer_bytes: 16 << 30,
            entries: 2_000_000,
            capture_bytes: 32 << 20,
            scan_bytes: 256 << 20,
            exec_bytes: 128 << 20,
            capture_total: 1 << 30,
        }
    }
}

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target (never followed on disk).
    Symlink(String),
    /// Device, fifo...
    Other,
}

/// A file in the final image.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// The layer that last wrote it.
    pub layer: usize,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (with setuid/setgid).
    pub mode: u32,
    /// Kind.
    pub kind: Kind,
    /// Content, when the analyzers asked for this path.
    pub content: Option<Rc<Vec<u8>>>,
    /// Packages compiled into it (Go build info, cargo-auditable).
    pub bin_packages: Vec<crate::binaries::BinPackage>,
    /// SHA-256 (hex) of executables read whole, for known-malware hashes.
    pub sha256: Option<String>,
}

/// A problem with the input, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The layer, when inside one.
    pub layer: Option<usize>,
    /// The entry name, when about one.
    pub entry: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = self.layer {
            write!(f, "layer {l}: ")?;
        }
        if let Some(e) = &self.entry {
            write!(f, "{e}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What one layer did.
#[derive(Debug, Clone, Default)]
pub struct LayerChanges {
    /// Regular files written (added or replaced), with their mode and size.
    pub written: Vec<(String, u32, u64)>,
    /// Paths deleted by whiteouts (including opaque directories' earlier contents).
    pub removed: Vec<String>,
    /// Indicator hits: (path, indicator name).
    pub hits: Vec<(String, &'static str)>,
}

/// The result of applying every layer.
#[derive(Debug, Default)]
pub struct Walk {
    /// The final file index, by clean path (`etc/os-release`).
    pub files: BTreeMap<String, FileEntry>,
    /// Per layer, what it changed.
    pub changes: Vec<LayerChanges>,
    /// Problems met; the walk went on past each.
    pub problems: Vec<Problem>,
    /// Bytes of captured content held.
    pub captured: u64,
}

/// Byte patterns searched for in every file, each with a name.
pub struct Scanner {
    ac: AhoCorasick,
    names: Vec<&'static str>,
}

impl Scanner {
    /// A scanner for `(name, pattern)` pairs (ASCII case-insensitive).
    pub fn new(patterns: &[(&'static str, &'static str)]) -> Scanner {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns.iter().map(|(_, p)| p))
            .expect("static patterns compile");
        Scanner {
            ac,
            names: patterns.iter().map(|(n, _)| *n).collect(),
        }
    }

    fn scan_bytes(&self, b: &[u8], out: &mut Vec<&'static str>) {
        for m in self.ac.find_overlapping_iter(b) {
            let n = self.names[m.pattern().as_usize()];
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }

    fn scan_stream(&self, r: &mut dyn Read, out: &mut Vec<&'static str>) -> std::io::Result<()> {
        // Overlapping windows so a pattern across a chunk boundary is still found.
        let keep = 256;
        let mut buf = vec![0u8; 256 << 10];
        let mut filled = 0;
        loop {
            let n = r.read(&mut buf[filled..])?;
            if n == 0 {
                self.scan_bytes(&buf[..filled], out);
                return Ok(());
            }
            filled += n;
            if filled == buf.len() {
                self.scan_bytes(&buf[..filled], out);
                buf.copy_within(filled - keep..filled, 0);
                filled = keep;
            }
        }
    }
}

/// Normalizes an entry name to a path inside the image root; `Err` for `..` components.
pub fn clean(name: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path traversal: '..' in the entry name".into()),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    state: Rc<RefCell<(Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.0.update(&buf[..n]);
        s.1 += n as u64;
        Ok(n)
    }
}

/// A reader that fails past `limit` bytes.
struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "more than {} bytes uncompressed (decompression bomb?)",
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Applies every layer of `image`. `wanted` says which paths to capture.
pub fn walk(
    image: &Image,
    wanted: &dyn Fn(&str) -> bool,
    scanner: &Scanner,
    limits: &Limits,
) -> Walk {
    let mut w = Walk::default();
    if let Some(dir) = &image.rootfs_dir {
        let mut ch = LayerChanges::default();
        walk_dir(dir, "", 0, &mut w, &mut ch, wanted, scanner, limits);
        w.changes.push(ch);
        return w;
    }
    for layer in &image.layers {
        let mut ch = LayerChanges::default();
        if let Err(p) = apply(image, layer, &mut w, &mut ch, wanted, scanner, limits) {
            w.problems.push(p);
        }
        w.changes.push(ch);
    }
    w
}

fn apply(
    image: &Image,
    layer: &Layer,
    w: &mut Walk,
    ch: &mut LayerChanges,
    wanted: &dyn Fn(&str) -> bool,
    scanner: &Scanner,
    limits: &Limits,
) -> Result<(), Problem> {
    let li = layer.index;
    let problem = |entry: Option<String>, message: String| Problem {
        layer: Some(li),
        entry,
        message,
    };
    let raw = image
        .blob_reader(layer)
        .map_err(|e| problem(None, e.to_string()))?;
    let blob_hash = Rc::new(RefCell::new((Sha256::new(), 0u64)));
    let mut blob = std::io::BufReader::new(Hashing {
        inner: raw,
        state: Rc::clone(&blob_hash),
    });
    let gz = {
        use std::io::BufRead;
        let head = blob
            .fill_buf()
            .map_err(|e| problem(None, format!("cannot read: {e}")))?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let inner: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(blob))
    } else {
        Box::new(blob)
    };
    let diff_hash = Rc::new(RefCell::new((Sha256::new(), 0u64)));
    let tarred = Limited {
        inner: Hashing {
            inner,
            state: Rc::clone(&diff_hash),
        },
        left: limits.layer_bytes,
        limit: limits.layer_bytes,
    };
    let mut ar = tar::Archive::new(tarred);
    let entries = ar
        .entries()
        .map_err(|e| problem(None, format!("not a tar: {e}")))?;
    let mut count = 0u64;
    for e in entries {
        count += 1;
        if count > limits.entries {
            return Err(problem(
                None,
                format!("more than {} entries", limits.entries),
            ));
        }
        let mut e = match e {
            Ok(e) => e,
            Err(err) => return Err(problem(None, format!("broken tar: {err}"))),
        };
        let raw_name = String::from_utf8_lossy(&e.path_bytes()).to_string();
        let path = match clean(&raw_name) {
            Ok(p) if !p.is_empty() => p,
            Ok(_) => continue,
            Err(m) => {
                w.problems.push(problem(Some(raw_name), m));
                continue;
            }
        };
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (String::new(), path.clone()),
        };
        // Whiteouts.
        if base == ".wh..wh..opq" {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            let gone: Vec<String> = w
                .files
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(_, f)| f.layer < li)
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                w.files.remove(&k);
                ch.removed.push(k);
            }
            continue;
        }
        if let Some(target) = base.strip_prefix(".wh.") {
            let victim = if dir.is_empty() {
                target.to_string()
            } else {
                format!("{dir}/{target}")
            };
            // The path and everything under it, from lower layers only (a whiteout never
            // hides a file of its own layer). `foo/` sorts after siblings such as `foo-bar`,
            // so the two ranges are walked apart.
            let under = format!("{victim}/");
            let mut gone: Vec<String> = Vec::new();
            if w.files.get(&victim).is_some_and(|f| f.layer < li) {
                gone.push(victim.clone());
            }
            gone.extend(
                w.files
                    .range(under.clone()..)
                    .take_while(|(k, _)| k.starts_with(&under))
                    .filter(|(_, f)| f.layer < li)
                    .map(|(k, _)| k.clone()),
            );
            for k in &gone {
                w.files.remove(k);
            }
            ch.removed.push(victim);
            continue;
        }
        let h = e.header();
        let mode = h.mode().unwrap_or(0);
        let size = h.size().unwrap_or(0);
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                Kind::File
            }
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(
                e.link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).to_string())
                    .unwrap_or_default(),
            ),
            tar::EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).to_string())
                    .unwrap_or_default();
                match clean(&target).ok().and_then(|t| w.files.get(&t).cloned()) {
                    Some(mut f) => {
                        f.layer = li;
                        if f.kind == Kind::File {
                            ch.written.push((path.clone(), f.mode, f.size));
                        }
                        w.files.insert(path, f);
                    }
                    None => w.problems.push(problem(
                        Some(raw_name),
                        format!("hard link to {target}, which is not in the image"),
                    )),
                }
                continue;
            }
            _ => Kind::Other,
        };
        let mut content = None;
        let mut bin_packages = Vec::new();
        let mut sha = None;
        if kind == Kind::File {
            let mut hits = Vec::new();
            if mode & 0o111 != 0 && size <= limits.exec_bytes && !wanted(&path) {
                // An executable: read whole (one at a time) for what is compiled into it.
                let mut buf = Vec::with_capacity(size as usize);
                if let Err(err) = (&mut e).take(limits.exec_bytes).read_to_end(&mut buf) {
                    return Err(problem(Some(raw_name), format!("cannot read: {err}")));
                }
                scanner.scan_bytes(&buf, &mut hits);
                bin_packages = crate::binaries::packages(&buf);
                sha = Some(hex(&Sha256::digest(&buf)));
            } else if wanted(&path)
                && size <= limits.capture_bytes
                && w.captured.saturating_add(size) > limits.capture_total
            {
                w.problems.push(problem(
                    Some(raw_name.clone()),
                    format!(
                        "not read: the {}-byte budget for package databases is spent",
                        limits.capture_total
                    ),
                ));
                if let Err(err) = scanner.scan_stream(&mut e, &mut hits) {
                    return Err(problem(Some(raw_name), format!("cannot read: {err}")));
                }
            } else if wanted(&path) && size <= limits.capture_bytes {
                let mut buf = Vec::with_capacity(size as usize);
                if let Err(err) = (&mut e).take(limits.capture_bytes).read_to_end(&mut buf) {
                    return Err(problem(Some(raw_name), format!("cannot read: {err}")));
                }
                scanner.scan_bytes(&buf, &mut hits);
                w.captured += buf.len() as u64;
                content = Some(Rc::new(buf));
            } else if size <= limits.scan_bytes {
                if let Err(err) = scanner.scan_stream(&mut e, &mut hits) {
                    return Err(problem(Some(raw_name), format!("cannot read: {err}")));
                }
            }
            for n in hits {
                ch.hits.push((path.clone(), n));
            }
            ch.written.push((path.clone(), mode, size));
        }
        w.files.insert(
            path,
            FileEntry {
                layer: li,
                size,
                mode,
                kind,
                content,
                bin_packages,
                sha256: sha,
            },
        );
    }
    // Read what follows the last entry (padding, trailing data) so the digests cover the blob.
    let mut rest = ar.into_inner();
    if let Err(err) = std::io::copy(&mut rest, &mut std::io::sink()) {
        return Err(problem(None, format!("cannot read: {err}")));
    }
    drop(rest);
    if let Some(d) = &layer.digest {
        let got = format!("sha256:{}", hex(&blob_hash.borrow().0.clone().finalize()));
        if &got != d {
            return Err(problem(
                None,
                format!("digest mismatch: expected {d}, blob is {got}"),
            ));
        }
    }
    if let Some(d) = &layer.diff_id {
        let got = format!("sha256:{}", hex(&diff_hash.borrow().0.clone().finalize()));
        if &got != d {
            return Err(problem(
                None,
                format!("diff_id mismatch: expected {d}, layer is {got}"),
            ));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn walk_dir(
    dir: &Path,
    prefix: &str,
    depth: usize,
    w: &mut Walk,
    ch: &mut LayerChanges,
    wanted: &dyn Fn(&str) -> bool,
    scanner: &Scanner,
    limits: &Limits,
) {
    if depth > 64 {
        w.problems.push(Problem {
            layer: None,
            entry: Some(prefix.to_string()),
            message: "directories nested deeper than 64 levels".into(),
        });
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            w.problems.push(Problem {
                layer: None,
                entry: Some(dir.display().to_string()),
                message: format!("cannot list: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_dir() {
            w.files.insert(
                path.clone(),
                FileEntry {
                    layer: 0,
                    size: 0,
                    mode,
                    kind: Kind::Dir,
                    content: None,
                    bin_packages: Vec::new(),
                    sha256: None,
                },
            );
            walk_dir(&e.path(), &path, depth + 1, w, ch, wanted, scanner, limits);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(e.path())
                .map(|t| t.to_string_lossy().to_string())
                .unwrap_or_default();
            w.files.insert(
                path,
                FileEntry {
                    layer: 0,
                    size: 0,
                    mode,
                    kind: Kind::Symlink(target),
                    content: None,
                    bin_packages: Vec::new(),
                    sha256: None,
                },
            );
        } else if ft.is_file() {
            let size = meta.len();
            let mut hits = Vec::new();
            let mut content = None;
            let mut bin_packages = Vec::new();
            let mut sha = None;
            if let Ok(f) = std::fs::File::open(e.path()) {
                if mode & 0o111 != 0 && size <= limits.exec_bytes && !wanted(&path) {
                    let mut buf = Vec::new();
                    if f.take(limits.exec_bytes).read_to_end(&mut buf).is_ok() {
                        scanner.scan_bytes(&buf, &mut hits);
                        bin_packages = crate::binaries::packages(&buf);
                        sha = Some(hex(&Sha256::digest(&buf)));
                    }
                } else if wanted(&path) && size <= limits.capture_bytes {
                    let mut buf = Vec::new();
                    if f.take(limits.capture_bytes).read_to_end(&mut buf).is_ok() {
                        scanner.scan_bytes(&buf, &mut hits);
                        content = Some(Rc::new(buf));
                    }
                } else if size <= limits.scan_bytes {
                    let _ = scanner.scan_stream(&mut std::io::BufReader::new(f), &mut hits);
                }
            }
            for n in hits {
                ch.hits.push((path.clone(), n));
            }
            ch.written.push((path.clone(), mode, size));
            w.files.insert(
                path,
                FileEntry {
                    layer: 0,
                    size,
                    mode,
                    kind: Kind::File,
                    content,
                    bin_packages,
                    sha256: sha,
                },
            );
        }
    }
}

impl Walk {
    /// Looks `path` up, following symbolic links inside the image (at most 16, never leaving
    /// the root: `..` stops at `/`). Returns the final path and entry.
    pub fn resolve(&self, path: &str) -> Option<(String, &FileEntry)> {
        let mut cur = path.trim_start_matches('/').to_string();
        for _ in 0..16 {
            // Hostile link targets: bounded length and depth.
            if cur.len() > 4096 || cur.matches('/').count() > 256 {
                return None;
            }
            // Resolve links in the parents first.
            let mut built: Vec<String> = Vec::new();
            let parts: Vec<&str> = cur.split('/').filter(|p| !p.is_empty()).collect();
            let mut restarted = false;
            for (i, part) in parts.iter().enumerate() {
                match *part {
                    "." => continue,
                    ".." => {
                        built.pop();
                        continue;
                    }
                    p => built.push(p.to_string()),
                }
                let so_far = built.join("/");
                if let Some(FileEntry {
                    kind: Kind::Symlink(t),
                    ..
                }) = self.files.get(&so_far)
                {
                    let base: Vec<String> = if t.starts_with('/') {
                        Vec::new()
                    } else {
                        built[..built.len() - 1].to_vec()
                    };
                    let mut next = base.join("/");
                    for seg in t.split('/').chain(parts[i + 1..].iter().copied()) {
                        if !next.is_empty() {
                            next.push('/');
                        }
                        next.push_str(seg);
                    }
                    cur = next;
                    restarted = true;
                    break;
                }
            }
            if !restarted {
                let p = built.join("/");
                return self.files.get(&p).map(|f| (p, f));
            }
        }
        None
    }

    /// The content of `path` (links followed), when it was captured.
    pub fn content(&self, path: &str) -> Option<Rc<Vec<u8>>> {
        self.resolve(path).and_then(|(_, f)| f.content.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_traversal_refused() {
        assert_eq!(clean("./etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(clean("/usr//bin/./sh").unwrap(), "usr/bin/sh");
        assert!(clean("../../etc/shadow")
            .unwrap_err()
            .contains("path traversal"));
        assert!(clean("usr/../../x").is_err());
    }

    #[test]
    fn links_resolve_inside_the_root_only() {
        let mut w = Walk::default();
        let file = |content: &str| FileEntry {
            layer: 0,
            size: content.len() as u64,
            mode: 0o644,
            kind: Kind::File,
            content: Some(Rc::new(content.as_bytes().to_vec())),
            bin_packages: Vec::new(),
            sha256: None,
        };
        let link = |t: &str| FileEntry {
            layer: 0,
            size: 0,
            mode: 0o777,
            kind: Kind::Symlink(t.into()),
            content: None,
            bin_packages: Vec::new(),
            sha256: None,
        };
        w.files
            .insert("usr/lib/os-release".into(), file("ID=debian"));
        w.files
            .insert("etc/os-release".into(), link("../usr/lib/os-release"));
        w.files.insert("escape".into(), link("../../../../tmp/x"));
        w.files.insert("tmp/x".into(), file("inside"));
        w.files.insert("loop".into(), link("loop"));
        assert_eq!(&**w.content("etc/os-release").unwrap(), b"ID=debian");
        // `..` past the root stays at the root: /escape is /tmp/x of the image.
        assert_eq!(&**w.content("escape").unwrap(), b"inside");
        assert!(w.resolve("loop").is_none());
    }
}
