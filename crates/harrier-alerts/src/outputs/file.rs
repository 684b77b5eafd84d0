//! A file output: JSON lines (Harrier's alert shape or OCSF), appended, synced after every
//! batch, rotated by size.
//!
//! Each batch first reads the file's last line: when it is an alert of the batch, that alert
//! and those before it were written already (by this output before a failure, or by another
//! worker that died holding the output's lease before its cursor moved), so writing resumes
//! after it and the file gets each alert once. A last line cut short (a writer that died
//! mid-line) is ended first, so it spoils no line after it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Attempt, Output};
use crate::store::StoredAlert;

/// What each line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileShape {
    /// Harrier's alert JSON (Falco's shape plus `id`, `event_id`, `rule_file`).
    Json,
    /// OCSF Detection Finding.
    Ocsf,
}

/// Size-based rotation: when the file would pass `max_bytes`, it becomes `<file>.1` (older
/// ones shift to `.2` ...) and at most `keep` old files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Size that triggers a rotation.
    pub max_bytes: u64,
    /// Old files kept.
    pub keep: u32,
}

/// The last complete line of the file at `path` (`len` bytes), and whether a line cut short
/// follows it; `None` when there is no complete line in its last MiB.
fn last_line(path: &Path, len: u64) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path)?;
    // A small read first; a longer line needs a longer one.
    for tail_len in [64 << 10, 1 << 20] {
        let from = len.saturating_sub(tail_len);
        f.seek(SeekFrom::Start(from))?;
        let mut tail = Vec::new();
        (&mut f).take(len - from).read_to_end(&mut tail)?;
        let cut_short = tail.last() != Some(&b'\n');
        let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let complete = &tail[..end];
        match complete.iter().rposition(|&b| b == b'\n') {
            Some(start) => return Ok(Some((complete[start + 1..].to_vec(), cut_short))),
            None if from == 0 => return Ok(Some((complete.to_vec(), cut_short))),
            None => continue,
        }
    }
    Ok(None)
}

/// The file output.
pub struct FileOutput {
    name: String,
    path: PathBuf,
    shape: FileShape,
    rotation: Option<Rotation>,
    file: Option<File>,
    size: u64,
    /// The file's length after this output's last write, when it knows it.
    mine: Option<u64>,
}

impl FileOutput {
    /// An output appending to `path`.
    pub fn new(
        name: impl Into<String>,
        path: &Path,
        shape: FileShape,
        rotation: Option<Rotation>,
    ) -> Self {
        FileOutput {
            name: name.into(),
            path: path.to_path_buf(),
            shape,
            rotation,
            file: None,
            size: 0,
            mine: None,
        }
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let Some(r) = self.rotation else {
            return Ok(());
        };
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        let numbered = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if r.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(r.keep));
            for n in (1..r.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.size = 0;
        Ok(())
    }

    fn line(&self, a: &StoredAlert) -> String {
        let mut s = match self.shape {
            FileShape::Json => a.json.clone(),
            FileShape::Ocsf => super::ocsf_detection_finding(a).to_string(),
        };
        s.push('\n');
        s
    }

    /// How many alerts from the start of `batch` the file holds already: those up to the one
    /// its last complete line is. Ends a last line cut short.
    fn written_already(&mut self, batch: &[StoredAlert]) -> std::io::Result<usize> {
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        // As this output left it: nobody wrote after it (the usual case, no read).
        if len == 0 || self.mine == Some(len) {
            return Ok(0);
        }
        let Some((line, cut_short)) = last_line(&self.path, len)? else {
            return Ok(0);
        };
        if cut_short {
            // A writer died mid-line: end it (it stays one unreadable line).
            let f = self.open()?;
            f.write_all(b"\n")?;
            self.size += 1;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
            return Ok(0);
        };
        let id = match self.shape {
            FileShape::Json => v["id"].as_str(),
            FileShape::Ocsf => v["finding_info"]["uid"].as_str(),
        };
        Ok(id
            .and_then(|id| batch.iter().position(|a| a.id == id))
            .map_or(0, |k| k + 1))
    }

    fn write_batch(&mut self, batch: &[StoredAlert]) -> Result<usize, (usize, std::io::Error)> {
        let mut written = 0;
        for a in batch {
            let line = self.line(a);
            let over = self
                .rotation
                .is_some_and(|r| self.size > 0 && self.size + line.len() as u64 > r.max_bytes);
            if over {
                self.rotate().map_err(|e| (written, e))?;
            }
            let f = self.open().map_err(|e| (written, e))?;
            f.write_all(line.as_bytes()).map_err(|e| (written, e))?;
            self.size += line.len() as u64;
            written += 1;
        }
        if let Some(f) = &self.file {
            crate::sink::sync_file(f).map_err(|e| (0, e))?;
        }
        Ok(written)
    }
}

impl Output for FileOutput {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, batch: &[StoredAlert]) -> Attempt {
        let skip = match self.written_already(batch) {
            Ok(n) => n,
            Err(e) => {
                self.file = None;
                return Attempt::partial(0, format!("{}: {e}", self.path.display()));
            }
        };
        match self.write_batch(&batch[skip..]) {
            Ok(n) => {
                self.mine = std::fs::metadata(&self.path).ok().map(|m| m.len());
                Attempt::all(skip + n)
            }
            Err((_, e)) => {
                self.mine = None;
                // What was written may not be durable: deliver the rest again (the last line
                // tells what is there already).
                self.file = None;
                Attempt::partial(skip, format!("{}: {e}", self.path.display()))
            }
        }
    }
}
