//! A root filesystem read as if chrooted into it: every path is resolved inside the root,
//! symbolic links included (an absolute link points into the root, `..` stops at it), so a
//! hostile tree (an image, a snapshot) cannot make Harrier read the host's own files. Reads
//! are bounded; nothing in the tree is ever executed.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The largest file read (configuration files are small; a larger one is refused).
pub const MAX_FILE: u64 = 4 << 20;
/// The most symbolic links followed while resolving one path.
const MAX_LINKS: usize = 40;
/// The most entries read from one directory.
pub const MAX_DIR_ENTRIES: usize = 10_000;

/// What is known about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// A directory.
    pub dir: bool,
}

/// A root filesystem.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// The tree at `dir` (`/` for the running host).
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    /// The directory of the root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `path` (absolute, as seen inside the root) is on this machine, links resolved
    /// inside the root. The last component is resolved too when `follow_last`.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<PathBuf, String> {
        let mut todo: Vec<String> = components(path);
        todo.reverse();
        let mut at: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                at.pop();
                continue;
            }
            let mut candidate = self.dir.clone();
            candidate.extend(at.iter());
            candidate.push(&c);
            let last = todo.is_empty();
            match fs::symlink_metadata(&candidate) {
                Ok(m) if m.file_type().is_symlink() && (!last || follow_last) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(format!("{path}: more than {MAX_LINKS} symbolic links"));
                    }
                    let target = fs::read_link(&candidate)
                        .map_err(|e| format!("{path}: cannot read a link: {e}"))?;
                    let t = target.to_string_lossy().to_string();
                    if t.starts_with('/') {
                        at.clear();
                    }
                    let mut more = components(&t);
                    more.reverse();
                    todo.extend(more);
                }
                _ => at.push(c),
            }
        }
        let mut out = self.dir.clone();
        out.extend(at.iter());
        Ok(out)
    }

    /// The text of a file: `Ok(None)` when it does not exist; `Err` (with the path and why)
    /// when it cannot be read or is larger than [`MAX_FILE`].
    pub fn read(&self, path: &str) -> Result<Option<String>, String> {
        let p = self.resolve(path, true)?;
        let f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{path}: {e}")),
        };
        let m = f.metadata().map_err(|e| format!("{path}: {e}"))?;
        if m.is_dir() {
            return Err(format!("{path}: a directory, expected a file"));
        }
        if m.len() > MAX_FILE {
            return Err(format!(
                "{path}: {} bytes, larger than the {MAX_FILE} bytes read",
                m.len()
            ));
        }
        let mut buf = Vec::new();
        f.take(MAX_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    /// Owner, group and mode of a file (links followed): `Ok(None)` when it does not exist.
    pub fn meta(&self, path: &str) -> Result<Option<Meta>, String> {
        let p = self.resolve(path, true)?;
        match fs::metadata(&p) {
            Ok(m) => Ok(Some(Meta {
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                dir: m.is_dir(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{path}: {e}")),
        }
    }

    /// Whether `path` exists (a dangling link does not).
    pub fn exists(&self, path: &str) -> bool {
        matches!(self.meta(path), Ok(Some(_)))
    }

    /// The names in a directory, sorted (at most [`MAX_DIR_ENTRIES`]): `Ok(empty)` when it
    /// does not exist.
    pub fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let p = self.resolve(path, true)?;
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{path}: {e}")),
        };
        let mut out = Vec::new();
        for e in rd.take(MAX_DIR_ENTRIES) {
            let e = e.map_err(|e| format!("{path}: {e}"))?;
            out.push(e.file_name().to_string_lossy().into_owned());
        }
        out.sort();
        Ok(out)
    }

    /// The text of every file in `dir` whose name ends with `suffix`, in name order, as
    /// `(path, text)`; unreadable ones as errors.
    pub fn read_dir_files(&self, dir: &str, suffix: &str) -> (Vec<(String, String)>, Vec<String>) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        match self.list(dir) {
            Ok(names) => {
                for n in names.into_iter().filter(|n| n.ends_with(suffix)) {
                    let p = format!("{}/{n}", dir.trim_end_matches('/'));
                    match self.read(&p) {
                        Ok(Some(t)) => ok.push((p, t)),
                        Ok(None) => {}
                        Err(e) => bad.push(e),
                    }
                }
            }
            Err(e) => bad.push(e),
        }
        (ok, bad)
    }
}

/// The normal components of a path (`.` dropped; `..` kept for the resolver).
fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_and_dot_dots_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "host secret").unwrap();
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/real"), "inside").unwrap();
        // An absolute link to the host's file, a relative one climbing out, a loop.
        symlink(outside.path().join("secret"), r.join("etc/abs")).unwrap();
        symlink("../../../../../../../../etc/real", r.join("etc/climb")).unwrap();
        symlink("/etc/real", r.join("etc/rooted")).unwrap();
        symlink("loop2", r.join("etc/loop1")).unwrap();
        symlink("loop1", r.join("etc/loop2")).unwrap();
        let root = Root::new(r);
        assert_eq!(root.read("/etc/rooted").unwrap().as_deref(), Some("inside"));
        assert_eq!(root.read("/etc/climb").unwrap().as_deref(), Some("inside"));
        assert_eq!(
            root.read("/../../etc/real").unwrap().as_deref(),
            Some("inside")
        );
        // The absolute link is read inside the root, where it does not exist.
        assert_eq!(root.read("/etc/abs").unwrap(), None);
        let e = root.read("/etc/loop1").unwrap_err();
        assert!(
            e.contains("/etc/loop1") && e.contains("symbolic links"),
            "{e}"
        );
    }

    #[test]
    fn big_files_and_directories_are_refused_with_their_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc/x")).unwrap();
        let f = std::fs::File::create(d.path().join("etc/big")).unwrap();
        f.set_len(MAX_FILE + 1).unwrap();
        let root = Root::new(d.path());
        let e = root.read("/etc/big").unwrap_err();
        assert!(e.starts_with("/etc/big:") && e.contains("larger"), "{e}");
        assert!(root.read("/etc/x").unwrap_err().contains("directory"));
        assert_eq!(root.read("/etc/none").unwrap(), None);
    }
}
