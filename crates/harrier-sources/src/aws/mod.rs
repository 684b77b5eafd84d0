//! The AWS sources (feature `aws`): S3 backfill, SQS notifications, CloudWatch Logs.
//!
//! Calls go through the AWS SDK for Rust on a Tokio runtime the caller owns; the sources
//! themselves are blocking ([`crate::live::LiveSource`]) so the detection pipeline stays plain
//! synchronous code.

pub mod cwlogs;
pub mod s3;
pub mod sqs;

/// Largest S3 object read (compressed); a larger one is reported and skipped. CloudTrail's
/// files are a few MiB at most.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 256 << 20;
