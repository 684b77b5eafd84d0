//! Harrier's image scanner.
//!
//! An image (a `docker save` archive, an OCI layout directory or tar, or a root filesystem
//! directory) is read layer by layer without extracting anything: whiteouts and opaque
//! directories are applied to an in-memory file index, only the files the analyzers need are
//! read, and hostile archives (path traversal, decompression bombs, oversized entries, wrong
//! digests) are reported, never followed. Installed packages are cataloged (dpkg, apk), matched
//! against an OSV database in SQLite, and every layer is searched for planted malware and
//! tampering (miners, `ld.so.preload`, SSH keys, cron jobs, history wiping), each finding naming
//! the layer that introduced it.
#![deny(missing_docs)]

pub mod archive;
pub mod binaries;
pub mod catalog;
pub mod convert;
#[cfg(feature = "aws")]
pub mod ecr;
pub mod formats;
pub mod layers;
pub mod lint;
pub mod malware;
pub mod registry;
pub mod rpmdb;
pub mod scan;
pub mod version;
pub mod vulndb;
