//! Harrier's runtime sensor.
//!
//! BPF programs (`src/bpf/sensor.bpf.c`, C compiled by clang into the committed
//! `src/bpf/sensor.bpf.o` by `scripts/build-bpf`, CO-RE against the `vmlinux.h` kept beside
//! them, loaded by the pure-Rust loader aya) report process execs and exits, opens for write (and reads of
//! a few sensitive files), truncations, deletions, renames and IPv4/IPv6 connects. User space
//! adds what the kernel record lacks (the process tree, the container and pod, user names,
//! files written inside each container) and renders each record as a `syscall` event, which
//! the same rules engine as audit logs evaluates (`harrier_events::syscall`).
//!
//! - [`raw`]: the kernel record layouts, decoded with bounds checks.
//! - [`container`]: cgroup id -> container id, runtime and pod.
//! - [`context`]: the process table and event rendering.
//! - [`filter`]: what the kernel drops before sending, derived from the loaded rules.
//! - [`sensor`]: loading, attaching, the ring buffer loop, drop reporting.
//! - [`hidden`]: the hidden-process check (raw getdents64 and kill probing vs libc readdir).
#![warn(missing_docs)]

pub mod container;
pub mod context;
pub mod filter;
pub mod hidden;
mod json;
pub mod raw;
pub mod sensor;

#[cfg(test)]
mod object_tests;

pub use filter::KernelFilter;
pub use sensor::{check_hidden, run, Options, SensorError, Summary};
