//! Loading the BPF programs, reading their ring buffer, and handing events on.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, RingBufferBuilder};

use crate::container::Containers;
use crate::context::Context;
use crate::hidden;
use crate::raw;
use crate::skel::SensorSkelBuilder;

/// Errors that stop the sensor.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// The BPF programs could not be loaded or attached.
    #[error("cannot load the BPF sensor: {0} (the sensor needs root, BTF and tracefs; see docs/sensor.md)")]
    Load(String),
    /// The handler failed (an alert could not be written): the run stops so none is lost.
    #[error("{0}")]
    Handler(String),
}

/// Sensor settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where container runtimes keep per-container metadata (OCI bundles, Docker configs).
    pub runtime_roots: Vec<PathBuf>,
    /// Bytes pending in the ring buffer before user space is woken.
    pub wakeup_bytes: u64,
    /// Longest wait for events before reading whatever is pending.
    pub poll: Duration,
    /// Run the hidden-process check this often (None: never).
    pub hidden_every: Option<Duration>,
    /// How often drop counters are read and reported.
    pub drop_report_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runtime_roots: vec![
                PathBuf::from("/run/containerd/io.containerd.runtime.v2.task"),
                PathBuf::from("/run/docker/containerd/daemon/io.containerd.runtime.v2.task"),
                PathBuf::from("/var/lib/docker/containers"),
            ],
            wakeup_bytes: 256 * 1024,
            poll: Duration::from_millis(100),
            hidden_every: Some(Duration::from_secs(300)),
            drop_report_every: Duration::from_secs(1),
        }
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Kernel records read.
    pub records: u64,
    /// Events handed on.
    pub events: u64,
    /// Records that could not be decoded (each logged).
    pub bad_records: u64,
    /// Records the kernel could not queue: exec, file, network, exit.
    pub drops: [u64; 4],
    /// Hidden processes found.
    pub hidden: u64,
}

impl Summary {
    /// Every dropped record.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// This process's effective user id, from /proc/self/status.
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Mounts tracefs when the kernel's tracepoints are not visible (tracepoint programs need it).
pub fn ensure_tracefs() {
    if Path::new("/sys/kernel/tracing/events").exists()
        || Path::new("/sys/kernel/debug/tracing/events").exists()
    {
        return;
    }
    let ok = std::process::Command::new("mount")
        .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        tracing::warn!("tracefs is not mounted and mounting it failed: tracepoints may not attach");
    }
}

fn read_drops(map: &dyn MapCore) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        if let Ok(Some(per_cpu)) = map.lookup_percpu(&(i as u32).to_ne_bytes(), MapFlags::ANY) {
            *slot = per_cpu
                .iter()
                .filter(|v| v.len() >= 8)
                .map(|v| u64::from_ne_bytes(v[..8].try_into().unwrap_or([0; 8])))
                .sum();
        }
    }
    out
}

/// Runs the sensor until `stop` is set: every event (JSON bytes of a `syscall` event) goes to
/// `handler`. `ready` is called once the programs are attached. A handler error stops the run
/// after nothing more is read (records still in the ring buffer are not acknowledged to anyone:
/// the kernel simply drops the buffer).
pub fn run(
    opts: &Options,
    stop: &AtomicBool,
    ready: &mut dyn FnMut(),
    handler: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) -> Result<Summary, SensorError> {
    if effective_uid() != Some(0) {
        return Err(SensorError::Load(
            "not running as root (loading BPF programs needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)".into(),
        ));
    }
    ensure_tracefs();
    let load = |e: libbpf_rs::Error| SensorError::Load(format!("{e:#}"));
    let mut storage = MaybeUninit::uninit();
    let mut open = SensorSkelBuilder::default()
        .open(&mut storage)
        .map_err(load)?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.self_tgid = std::process::id();
        ro.wakeup_bytes = opts.wakeup_bytes;
    }
    let skel = open.load().map_err(load)?;
    let p = &skel.progs;
    let progs = [
        ("sched_process_exec", &p.handle_exec, true),
        ("sched_process_exit", &p.handle_exit, true),
        ("sys_enter_openat", &p.enter_openat, true),
        ("sys_exit_openat", &p.exit_openat, true),
        ("sys_enter_open", &p.enter_open, false),
        ("sys_exit_open", &p.exit_open, false),
        ("sys_enter_openat2", &p.enter_openat2, false),
        ("sys_exit_openat2", &p.exit_openat2, false),
        ("sys_enter_unlinkat", &p.enter_unlinkat, true),
        ("sys_exit_unlinkat", &p.exit_unlinkat, true),
        ("sys_enter_unlink", &p.enter_unlink, false),
        ("sys_exit_unlink", &p.exit_unlink, false),
        ("sys_enter_renameat2", &p.enter_renameat2, false),
        ("sys_exit_renameat2", &p.exit_renameat2, false),
        ("sys_enter_renameat", &p.enter_renameat, false),
        ("sys_exit_renameat", &p.exit_renameat, false),
        ("sys_enter_rename", &p.enter_rename, false),
        ("sys_exit_rename", &p.exit_rename, false),
        ("sys_enter_truncate", &p.enter_truncate, false),
        ("sys_exit_truncate", &p.exit_truncate, false),
        ("sys_enter_ftruncate", &p.enter_ftruncate, false),
        ("sys_exit_ftruncate", &p.exit_ftruncate, false),
        ("sys_enter_symlinkat", &p.enter_symlinkat, false),
        ("sys_exit_symlinkat", &p.exit_symlinkat, false),
        ("sys_enter_symlink", &p.enter_symlink, false),
        ("sys_exit_symlink", &p.exit_symlink, false),
        ("sys_enter_ptrace", &p.enter_ptrace, false),
        ("sys_exit_ptrace", &p.exit_ptrace, false),
        ("sys_enter_socket", &p.enter_socket, false),
        ("sys_exit_socket", &p.exit_socket, false),
        ("sys_enter_connect", &p.enter_connect, true),
        ("sys_exit_connect", &p.exit_connect, true),
    ];
    let mut links: Vec<Link> = Vec::new();
    for (name, prog, required) in progs {
        match prog.attach() {
            Ok(l) => links.push(l),
            Err(e) if required => {
                return Err(SensorError::Load(format!("attaching {name}: {e:#}")))
            }
            Err(e) => tracing::warn!("tracepoint {name} not attached: {e:#}"),
        }
    }

    let ctx = RefCell::new(Context::new(Containers::new(
        None,
        opts.runtime_roots.clone(),
    )));
    let summary = RefCell::new(Summary::default());
    let failure: RefCell<Option<String>> = RefCell::new(None);
    let handler = RefCell::new(handler);
    let mut builder = RingBufferBuilder::new();
    builder
        .add(&skel.maps.events, |data: &[u8]| {
            let mut s = summary.borrow_mut();
            s.records += 1;
            match raw::decode(data) {
                Ok(r) => {
                    let ev = ctx.borrow_mut().event(&r);
                    if let Some(ev) = ev {
                        s.events += 1;
                        if let Err(e) = (handler.borrow_mut())(&ev) {
                            *failure.borrow_mut() = Some(e);
                            return -1;
                        }
                    }
                }
                Err(e) => {
                    s.bad_records += 1;
                    tracing::warn!("skipping a kernel record: {e}");
                }
            }
            0
        })
        .map_err(load)?;
    let rb = builder.build().map_err(load)?;
    ready();

    let mut last_drops = [0u64; 4];
    let mut last_drop_check = Instant::now();
    let mut last_hidden = Instant::now();
    let emit = |ty: &str, pid: u32, args: &[(&str, String)]| -> Result<(), SensorError> {
        let ev = ctx.borrow_mut().sensor_event(ty, pid, args);
        summary.borrow_mut().events += 1;
        (handler.borrow_mut())(&ev).map_err(SensorError::Handler)
    };
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        // Wake-ups are batched in the kernel: poll for a wake-up, then read what is pending
        // either way.
        if !stopping {
            let _ = rb.poll(opts.poll);
        }
        let _ = rb.consume();
        if let Some(e) = failure.borrow_mut().take() {
            return Err(SensorError::Handler(e));
        }
        if stopping || last_drop_check.elapsed() >= opts.drop_report_every {
            last_drop_check = Instant::now();
            let now = read_drops(&skel.maps.drops);
            let delta: Vec<u64> = now
                .iter()
                .zip(last_drops)
                .map(|(a, b)| a.saturating_sub(b))
                .collect();
            let total: u64 = delta.iter().sum();
            if total > 0 {
                tracing::warn!("the kernel dropped {total} records (ring buffer full)");
                emit(
                    "harrier_drops",
                    0,
                    &[
                        ("count", total.to_string()),
                        ("exec", delta[0].to_string()),
                        ("file", delta[1].to_string()),
                        ("net", delta[2].to_string()),
                        ("exit", delta[3].to_string()),
                    ],
                )?;
            }
            last_drops = now;
            summary.borrow_mut().drops = now;
        }
        if let Some(every) = opts.hidden_every {
            if !stopping && last_hidden.elapsed() >= every {
                last_hidden = Instant::now();
                let seen: BTreeSet<u32> = ctx.borrow().live_pids().collect();
                match hidden::check(hidden::CheckOptions::default(), &seen) {
                    Ok(found) => {
                        summary.borrow_mut().hidden += found.len() as u64;
                        for ev in hidden_events(&mut ctx.borrow_mut(), &found) {
                            summary.borrow_mut().events += 1;
                            (handler.borrow_mut())(&ev).map_err(SensorError::Handler)?;
                        }
                    }
                    Err(e) => tracing::warn!("hidden-process check failed: {e}"),
                }
            }
        }
        if stopping {
            break;
        }
    }
    drop(rb);
    drop(links);
    let s = summary.borrow().clone();
    Ok(s)
}

/// The `harrier_hidden_process` events for what the check found.
fn hidden_events(ctx: &mut Context, found: &[hidden::Hidden]) -> Vec<Vec<u8>> {
    found
        .iter()
        .map(|h| {
            ctx.sensor_event(
                "harrier_hidden_process",
                h.pid,
                &[("by", h.missing_from.to_string())],
            )
        })
        .collect()
}

/// Runs the hidden-process check once, as events for the rules (`harrier_hidden_process`).
pub fn check_hidden(probe: bool) -> std::io::Result<Vec<Vec<u8>>> {
    let found = hidden::check(hidden::CheckOptions { probe }, &BTreeSet::new())?;
    let mut ctx = Context::new(Containers::new(None, Options::default().runtime_roots));
    Ok(hidden_events(&mut ctx, &found))
}
