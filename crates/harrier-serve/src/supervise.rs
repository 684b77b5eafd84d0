//! Supervision: a component thread that fails, or panics, stops the whole service, which then
//! drains and exits non-zero naming it. Nothing fails silently; a restart is the job of the
//! process manager (systemd, Kubernetes), which sees the exit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The failures seen so far, and the flag that stops the sources.
pub struct Supervisor<'a> {
    stop: &'a AtomicBool,
    failures: Mutex<Vec<String>>,
}

impl<'a> Supervisor<'a> {
    /// A supervisor that sets `stop` when a component fails.
    pub fn new(stop: &'a AtomicBool) -> Self {
        Supervisor {
            stop,
            failures: Mutex::new(Vec::new()),
        }
    }

    /// Runs component `name`'s body: an `Err` or a panic is recorded and stops the service.
    pub fn run(&self, name: &str, body: impl FnOnce() -> Result<(), String>) {
        let why = match catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("panicked: {msg}")
            }
        };
        eprintln!("harrier: {name} failed: {why}; stopping the service");
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{name} failed: {why}"));
        self.stop.store(true, Ordering::Relaxed);
    }

    /// What failed.
    pub fn failures(self) -> Vec<String> {
        self.failures
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_or_a_panic_stops_the_service_and_is_named() {
        let stop = AtomicBool::new(false);
        let s = Supervisor::new(&stop);
        s.run("output ok", || Ok(()));
        assert!(!stop.load(Ordering::Relaxed));
        s.run("source sensor", || Err("not running as root".into()));
        assert!(stop.load(Ordering::Relaxed));
        s.run("output slack", || panic!("index out of bounds"));
        assert_eq!(
            s.failures(),
            [
                "source sensor failed: not running as root",
                "output slack failed: panicked: index out of bounds"
            ]
        );
    }
}
