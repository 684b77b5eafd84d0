//! Harrier's rule languages, compiled to one matcher.
//!
//! Rules are read (no I/O here: callers pass file names and texts), checked, and compiled into
//! a [`RuleSet`]: each condition becomes a [`matcher::Node`] tree of pre-built tests, and each
//! source gets an index from event type (the CloudTrail `eventName`) to the rules that can match
//! it, derived from the conditions themselves, through macros. An event therefore meets only the
//! rules that could fire on it.
//!
//! Pipeline: [`yaml`] (positions kept) → [`falco::loader`] (items, overrides) →
//! [`falco::condition`] ([`ast::Expr`]) → [`compile`] (macros, lists, fields) →
//! [`matcher::Node`] → [`RuleSet::matching`].
//!
//! ```
//! use harrier_rules::RuleSet;
//! let (rules, diags) = RuleSet::load([(
//!     "demo.yaml",
//!     "- rule: Stop logging\n  desc: d\n  condition: ct.name = StopLogging\n  output: by %ct.user\n  priority: warning\n  source: aws_cloudtrail\n",
//! )]);
//! assert!(diags.is_empty());
//! assert_eq!(rules.active_count(), 1);
//! ```
#![deny(missing_docs)]

pub mod ast;
pub mod builtin;
pub mod compile;
pub mod diag;
pub mod falco;
pub mod glob;
pub mod interest;
pub mod matcher;
pub mod output;
pub mod priority;
pub mod ruleset;
pub mod sigma;
pub mod yaml;

pub use diag::{Diagnostic, Severity};
pub use priority::Priority;
pub use ruleset::{Language, Noise, Rule, RuleSet};
