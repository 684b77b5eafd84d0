//! Where alerts go.

use std::io::Write;

use crate::alert::{Alert, Format};

/// A failed write to an output.
#[derive(Debug, thiserror::Error)]
#[error("{output}: {source}")]
pub struct SinkError {
    /// Which output.
    pub output: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// An alert output.
pub trait AlertSink {
    /// Queues an alert for writing.
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError>;
    /// Queues an alert with the encoded entities of its event, for a store that keeps them
    /// for correlation across workers; other sinks write the alert alone.
    fn send_linked(&mut self, alert: &Alert<'_>, entities: &str) -> Result<(), SinkError> {
        let _ = entities;
        self.send(alert)
    }
    /// Writes everything queued; when this returns `Ok`, every alert sent so far is delivered.
    fn flush(&mut self) -> Result<(), SinkError>;
}

/// A writer that can make what was written durable.
pub trait SyncWrite: Write {
    /// Makes everything written so far durable (for files: `fdatasync`); a no-op by default.
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SyncWrite for std::fs::File {
    fn sync(&mut self) -> std::io::Result<()> {
        sync_file(self)
    }
}

/// Makes a file's data durable (`fdatasync`) when it is a regular file. Character devices
/// (`/dev/null`, a terminal), pipes and sockets have nothing to sync, and `fdatasync` on them
/// fails with `EINVAL` on Linux.
pub fn sync_file(f: &std::fs::File) -> std::io::Result<()> {
    if f.metadata()?.file_type().is_file() {
        f.sync_data()
    } else {
        Ok(())
    }
}
impl SyncWrite for std::io::Stdout {}
impl SyncWrite for std::io::StdoutLock<'_> {}
impl SyncWrite for Vec<u8> {}

/// Writes formatted alerts to a [`SyncWrite`] (stdout, an appended file). `flush` syncs, so a
/// flushed alert is on disk.
pub struct WriterSink<W: SyncWrite> {
    name: String,
    w: std::io::BufWriter<W>,
    format: Format,
    scratch: String,
    /// Flush after every alert (for interactive output); such flushes do not sync.
    line_buffered: bool,
}

impl<W: SyncWrite> WriterSink<W> {
    /// A sink named `name` (for errors) writing `format` to `w`.
    pub fn new(name: impl Into<String>, w: W, format: Format, line_buffered: bool) -> Self {
        WriterSink {
            name: name.into(),
            w: std::io::BufWriter::with_capacity(64 << 10, w),
            format,
            scratch: String::new(),
            line_buffered,
        }
    }

    fn wrap(&self, source: std::io::Error) -> SinkError {
        SinkError {
            output: self.name.clone(),
            source,
        }
    }
}

impl<W: SyncWrite> AlertSink for WriterSink<W> {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.scratch.clear();
        alert.write_to(self.format, &mut self.scratch);
        self.w
            .write_all(self.scratch.as_bytes())
            .map_err(|e| self.wrap(e))?;
        if self.line_buffered {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.w.flush().map_err(|e| self.wrap(e))?;
        if !self.line_buffered {
            self.w.get_mut().sync().map_err(|e| self.wrap(e))?;
        }
        Ok(())
    }
}

impl WriterSink<std::fs::File> {
    /// Opens `path` for appending (creating it if needed).
    pub fn append_file(path: &std::path::Path, format: Format) -> Result<Self, SinkError> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SinkError {
                output: path.display().to_string(),
                source,
            })?;
        Ok(WriterSink::new(
            path.display().to_string(),
            f,
            format,
            false,
        ))
    }
}

/// Sends every alert to several sinks; flushed only when all of them are.
pub struct Tee<'a>(pub Vec<&'a mut dyn AlertSink>);

impl AlertSink for Tee<'_> {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        for s in &mut self.0 {
            s.send(alert)?;
        }
        Ok(())
    }

    fn send_linked(&mut self, alert: &Alert<'_>, entities: &str) -> Result<(), SinkError> {
        for s in &mut self.0 {
            s.send_linked(alert, entities)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        for s in &mut self.0 {
            s.flush()?;
        }
        Ok(())
    }
}
