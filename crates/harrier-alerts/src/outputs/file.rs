//! A file output: JSON lines (Harrier's alert shape or OCSF), appended, synced after every
//! batch, rotated by size.

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

/// The file output.
pub struct FileOutput {
    name: String,
    path: PathBuf,
    shape: FileShape,
    rotation: Option<Rotation>,
    file: Option<File>,
    size: u64,
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
        match self.write_batch(batch) {
            Ok(n) => Attempt::all(n),
            Err((_, e)) => {
                // What was written may not be durable: deliver the batch again (ids tell repeats).
                self.file = None;
                Attempt::partial(0, format!("{}: {e}", self.path.display()))
            }
        }
    }
}
