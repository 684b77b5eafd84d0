//! Harrier's event readers.
//!
//! Today: local files, directories (recursive) and standard input, plain or gzip, in any of the
//! layouts CloudTrail records arrive in ([`reader`]). Every reader streams: memory is bounded by
//! the largest record, never by the size of the input.
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod cloudtrail_keys;
pub mod live;
pub mod notification;
pub mod reader;
pub mod walk;
pub mod webhook;

pub use reader::{open, ReadError, ReadErrorKind, Record, RecordReader, MAX_RECORD_BYTES};
pub use walk::{walk, Input, Skipped, Walked};
