//! Harrier's event model.
//!
//! An event is the bytes it arrived in plus a source that knows how to read fields from them.
//! Nothing is parsed up front: [`cloudtrail::CloudTrailEvent`] indexes a record's top-level
//! members only as far as the fields a rule asks for, so an event that no rule can match costs
//! one look at its `eventName`.
//!
//! - [`json`]: the allocation-free, depth-limited JSON scanner all sources share.
//! - [`field`]: field tables ([`SourceInfo`]), resolved field references and values.
//! - [`event`]: the [`Event`] trait the rules engine evaluates.
//! - [`cloudtrail`]: the `aws_cloudtrail` source (Falco's CloudTrail plugin fields).
//! - [`k8saudit`]: the `k8s_audit` source (Falco's k8saudit plugin fields).
//! - [`syscall`]: the `syscall` source (Falco's syscall fields, from Harrier's sensor).
#![deny(missing_docs)]

pub mod base64;
pub mod cloudtrail;
pub mod event;
pub mod field;
pub mod json;
pub mod k8saudit;
pub mod lazy;
pub mod syscall;
pub mod time;

pub use event::Event;
pub use field::{FieldArg, FieldError, FieldInfo, FieldRef, FieldType, SourceInfo, Value};

/// Every source Harrier can read events from, for looking up a rule's `source`.
pub fn sources() -> &'static [&'static SourceInfo] {
    static ALL: [&SourceInfo; 3] = [&cloudtrail::SOURCE, &k8saudit::SOURCE, &syscall::SOURCE];
    &ALL
}

/// Looks a source up by the name rules use (`aws_cloudtrail`).
pub fn source(name: &str) -> Option<&'static SourceInfo> {
    sources().iter().copied().find(|s| s.name == name)
}
