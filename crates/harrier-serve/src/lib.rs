//! Harrier as a service (`harrier serve --config`): the typed configuration ([`config`]), one
//! builder per component ([`components`]: sources, outputs, throttling, webhooks), one HTTP
//! layer ([`http`]) for the audit webhook, metrics and health (and later the console and the
//! admission webhook), the metrics ([`metrics`]), and supervision: a component that fails or
//! panics stops the service with an error naming it.
//!
//! ```no_run
//! let cfg = harrier_serve::config::load(std::path::Path::new("harrier.yaml"))?;
//! let (rules, diagnostics) = harrier_serve::load_rules(&cfg)?;
//! assert!(diagnostics.iter().all(|d| !d.is_error()));
//! let stopped = harrier_serve::run(&cfg, &rules)?;
//! println!("{} alerts in {}", stopped.alerts, stopped.store.display());
//! # Ok::<(), harrier_serve::ServeError>(())
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod components;
pub mod config;
pub mod console;
pub mod http;
pub mod images;
pub mod incidents;
pub mod metrics;
pub mod posture;
mod service;
pub mod store;
mod supervise;

use std::path::PathBuf;

use harrier_rules::{Diagnostic, RuleSet};

pub use service::{run, Stopped};

/// Why the service did not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A rule file could not be read.
    #[error(transparent)]
    RuleFiles(#[from] harrier_detect::rulefiles::RuleFileError),
    /// The state directory could not be made.
    #[error(transparent)]
    StateDir(#[from] harrier_alerts::state::StateDirError),
    /// The alert store failed.
    #[error(transparent)]
    Store(#[from] harrier_alerts::store::StoreError),
    /// A listening socket could not be opened.
    #[error(transparent)]
    Bind(#[from] http::BindError),
    /// A file the configuration names could not be read or made.
    #[error("{what}: {path}: {source}")]
    File {
        /// Which setting.
        what: String,
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Two settings cannot both hold.
    #[error("{0}")]
    Conflict(String),
    /// An AWS call the setup needs failed.
    #[error("{what}: {source}")]
    Aws {
        /// What needed it.
        what: String,
        /// The call.
        #[source]
        source: harrier_aws::CallError,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signal(#[source] std::io::Error),
    /// Components failed; the service stopped (and drained what it could).
    #[error("the service stopped: {}", .0.join("; "))]
    Failed(Vec<String>, Stopped),
}

/// The rules the configuration asks for (built-in pack unless `rules.builtin: false`, then
/// `rules.paths`), with `rules.min_priority` applied, and every diagnostic (the caller shows
/// them and refuses to serve when one is an error).
pub fn load_rules(cfg: &config::Config) -> Result<(RuleSet, Vec<Diagnostic>), ServeError> {
    let (mut rules, diags) = harrier_detect::rulefiles::load(&cfg.rules.paths, !cfg.rules.builtin)?;
    if let Some(p) = cfg.rules.min_priority {
        rules.set_min_priority(p.0);
    }
    Ok((rules, diags))
}
