//! Where alerts of `detect` and `sensor` go: stdout or a file, and optionally the alert store.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use harrier_alerts::store::{StoreSink, Throttle};
use harrier_alerts::{Alert, AlertSink, Format, SinkError, WriterSink};

use crate::detect::Color;
use crate::{state, OutputFormat};

/// The alert destinations a command was given.
pub struct AlertOut {
    /// Append to this file instead of printing.
    pub output: Option<PathBuf>,
    /// Text or JSON lines.
    pub format: OutputFormat,
    /// Colour for text.
    pub color: Color,
    /// Also record alerts in the store.
    pub store: bool,
    /// The store's state directory.
    pub state_dir: Option<PathBuf>,
}

/// Every sink, in order; an alert is delivered when all took it.
struct All(Vec<Box<dyn AlertSink>>);

impl AlertSink for All {
    fn send(&mut self, alert: &Alert<'_>) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|s| s.send(alert))
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|s| s.flush())
    }
}

/// Opens the sinks.
pub fn open(o: &AlertOut) -> Result<Box<dyn AlertSink>> {
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let color = match o.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => tty && o.output.is_none() && std::env::var_os("NO_COLOR").is_none(),
    };
    let format = match o.format {
        OutputFormat::Text => Format::Text { color },
        OutputFormat::Json => Format::Json,
    };
    let mut all: Vec<Box<dyn AlertSink>> = Vec::new();
    match &o.output {
        Some(p) => all
            .push(Box::new(WriterSink::append_file(p, format).with_context(
                || format!("cannot open output {}", p.display()),
            )?)),
        None => all.push(Box::new(WriterSink::new(
            "stdout",
            stdout.lock(),
            format,
            tty,
        ))),
    }
    if o.store {
        all.push(Box::new(StoreSink::new(
            state::alert_store(o.state_dir.as_deref())?,
            Throttle::default(),
        )));
    }
    Ok(Box::new(All(all)))
}

/// Writes `text` where the alerts went: appended to `output`, or to stdout.
fn append_after_alerts(text: &str, output: Option<&std::path::Path>, what: &str) -> Result<()> {
    use std::io::Write;
    match output {
        Some(p) => std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {what} to {}", p.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .with_context(|| format!("cannot write {what}")),
    }
}

/// Prints what the noise window folded, after the alerts: a line each, or one JSON object
/// (`"type": "folded"`) per key.
pub fn print_folded(
    folded: &[harrier_alerts::fold::Folded],
    format: OutputFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let time = harrier_events::time::format_iso8601;
    let mut text = String::new();
    for f in folded {
        match format {
            OutputFormat::Json => {
                let v = serde_json::json!({
                    "type": "folded",
                    "rule": f.rule,
                    "priority": f.priority.as_str(),
                    "first_output": f.first_output,
                    "folded": f.folded,
                    "first_time": time(f.first_ns),
                    "last_time": time(f.last_ns),
                    "calls": f.calls,
                });
                text.push_str(&v.to_string());
                text.push('\n');
            }
            OutputFormat::Text => {
                let mut calls: Vec<(&String, &u64)> = f.calls.iter().collect();
                calls.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let calls: Vec<String> = calls
                    .iter()
                    .take(12)
                    .map(|(c, n)| format!("{c} x{n}"))
                    .collect();
                let more = f.calls.len().saturating_sub(12);
                text.push_str(&format!(
                    "FOLDED {}: {} more like \"{}\" from {} to {}; calls: {}{}\n",
                    f.rule,
                    f.folded,
                    f.first_output,
                    time(f.first_ns),
                    time(f.last_ns),
                    calls.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    append_after_alerts(&text, output, "the folded alerts")
}

/// Prints incidents where the alerts went: a timeline each, or one JSON object per line.
pub fn print_incidents(
    incidents: &[harrier_incidents::Incident],
    format: OutputFormat,
    output: Option<&std::path::Path>,
) -> Result<()> {
    let mut text = String::new();
    for i in incidents {
        match format {
            OutputFormat::Json => {
                text.push_str(&i.to_json().to_string());
                text.push('\n');
            }
            OutputFormat::Text => {
                text.push('\n');
                text.push_str(&i.to_text());
            }
        }
    }
    append_after_alerts(&text, output, "incidents")?;
    eprintln!("harrier: {} incident(s)", incidents.len());
    Ok(())
}
