//! Loading the BPF programs, reading their ring buffer, and handing events on.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::os::fd::{AsRawFd, RawFd};

use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader};

use crate::container::Containers;
use crate::context::Context;
use crate::filter::{fnv1a, KernelFilter, PREFIX_MAX};
use crate::hidden;
use crate::raw;

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
    /// What the kernel does not send (default: everything is sent; see
    /// [`KernelFilter::for_rules`]).
    pub filter: KernelFilter,
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
            filter: KernelFilter::everything(),
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

fn read_drops(map: &PerCpuArray<MapData, u64>) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        if let Ok(per_cpu) = map.get(&(i as u32), 0) {
            *slot = per_cpu.iter().copied().fold(0u64, u64::saturating_add);
        }
    }
    out
}

/// The BPF object built from `src/bpf/sensor.bpf.c` by `scripts/build-bpf` (committed, so that
/// building needs no clang or libbpf; a test checks it is current).
static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!("bpf/sensor.bpf.o");

/// Every program of the object: (function, tracepoint category, tracepoint, required). The
/// optional ones are calls some kernels or architectures lack (aarch64 has no `open`, `unlink`,
/// `rename`, `symlink`): the sensor runs without them.
pub(crate) const PROGRAMS: &[(&str, &str, &str, bool)] = &[
    ("handle_exec", "sched", "sched_process_exec", true),
    ("handle_exit", "sched", "sched_process_exit", true),
    ("enter_openat", "syscalls", "sys_enter_openat", true),
    ("exit_openat", "syscalls", "sys_exit_openat", true),
    ("enter_open", "syscalls", "sys_enter_open", false),
    ("exit_open", "syscalls", "sys_exit_open", false),
    ("enter_openat2", "syscalls", "sys_enter_openat2", false),
    ("exit_openat2", "syscalls", "sys_exit_openat2", false),
    ("enter_unlinkat", "syscalls", "sys_enter_unlinkat", true),
    ("exit_unlinkat", "syscalls", "sys_exit_unlinkat", true),
    ("enter_unlink", "syscalls", "sys_enter_unlink", false),
    ("exit_unlink", "syscalls", "sys_exit_unlink", false),
    ("enter_renameat2", "syscalls", "sys_enter_renameat2", false),
    ("exit_renameat2", "syscalls", "sys_exit_renameat2", false),
    ("enter_renameat", "syscalls", "sys_enter_renameat", false),
    ("exit_renameat", "syscalls", "sys_exit_renameat", false),
    ("enter_rename", "syscalls", "sys_enter_rename", false),
    ("exit_rename", "syscalls", "sys_exit_rename", false),
    ("enter_truncate", "syscalls", "sys_enter_truncate", false),
    ("exit_truncate", "syscalls", "sys_exit_truncate", false),
    ("enter_ftruncate", "syscalls", "sys_enter_ftruncate", false),
    ("exit_ftruncate", "syscalls", "sys_exit_ftruncate", false),
    ("enter_symlinkat", "syscalls", "sys_enter_symlinkat", false),
    ("exit_symlinkat", "syscalls", "sys_exit_symlinkat", false),
    ("enter_symlink", "syscalls", "sys_enter_symlink", false),
    ("exit_symlink", "syscalls", "sys_exit_symlink", false),
    ("enter_ptrace", "syscalls", "sys_enter_ptrace", false),
    ("exit_ptrace", "syscalls", "sys_exit_ptrace", false),
    ("enter_socket", "syscalls", "sys_enter_socket", false),
    ("exit_socket", "syscalls", "sys_exit_socket", false),
    ("enter_connect", "syscalls", "sys_enter_connect", true),
    ("exit_connect", "syscalls", "sys_exit_connect", true),
];

fn load_err(e: impl std::error::Error) -> SensorError {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    SensorError::Load(msg)
}

/// Loads the object (CO-RE relocations against the running kernel's BTF, the sensor's own
/// settings written into its read-only data) and attaches every program. The programs stay
/// attached as long as the returned object lives.
fn load_programs(opts: &Options) -> Result<Ebpf, SensorError> {
    let self_tgid: u32 = std::process::id();
    let wakeup_bytes: u64 = opts.wakeup_bytes;
    let f = &opts.filter;
    // The path cut needs the host's mount namespace (opens elsewhere are always sent) and
    // must fit the maps; without either, every open for write is sent.
    let host_mntns = host_mount_namespace();
    // An empty prefix admits every path.
    let open_paths = f.open_paths.as_ref().filter(|p| {
        host_mntns.is_some()
            && !p.prefixes.contains("")
            && p.prefixes.len() <= OPEN_MAP_ENTRIES
            && p.names.len() <= OPEN_MAP_ENTRIES
    });
    if f.open_paths.is_some() && open_paths.is_none() {
        tracing::warn!("every open for write is sent: the host's mount namespace is unknown, or the rules name too many paths or an empty prefix");
    }
    // Bit L: some prefix is L bytes long (the kernel looks prefixes up at those lengths).
    let prefix_lens: u64 = open_paths.map_or(0, |p| {
        p.prefixes
            .iter()
            .fold(0, |acc, s| acc | (1u64 << s.len().min(PREFIX_MAX)))
    });
    let send_kinds: u32 = f.kinds;
    let filter_opens: u32 = open_paths.is_some().into();
    let send_failed_files: u32 = f.failed_file_calls.into();
    let host_mntns: u32 = host_mntns.unwrap_or(0);
    let mut bpf = EbpfLoader::new()
        .override_global("self_tgid", &self_tgid, true)
        .override_global("wakeup_bytes", &wakeup_bytes, true)
        .override_global("send_kinds", &send_kinds, true)
        .override_global("filter_opens", &filter_opens, true)
        .override_global("send_failed_files", &send_failed_files, true)
        .override_global("host_mntns", &host_mntns, true)
        .override_global("prefix_lens", &prefix_lens, true)
        .load(BPF_OBJECT)
        .map_err(load_err)?;
    if let Some(paths) = open_paths {
        let mut prefixes: BpfHashMap<_, u64, u8> =
            BpfHashMap::try_from(bpf.map_mut("open_prefixes").ok_or_else(|| {
                SensorError::Load("the BPF object has no map `open_prefixes`".into())
            })?)
            .map_err(load_err)?;
        for p in &paths.prefixes {
            prefixes
                .insert(fnv1a(&p.as_bytes()[..p.len().min(PREFIX_MAX)]), 1, 0)
                .map_err(load_err)?;
        }
        let mut names: BpfHashMap<_, u64, u8> =
            BpfHashMap::try_from(bpf.map_mut("open_names").ok_or_else(|| {
                SensorError::Load("the BPF object has no map `open_names`".into())
            })?)
            .map_err(load_err)?;
        for n in &paths.names {
            names.insert(fnv1a(n.as_bytes()), 1, 0).map_err(load_err)?;
        }
    }
    for &(name, category, tracepoint, required) in PROGRAMS {
        let attached = (|| -> Result<(), SensorError> {
            let prog: &mut TracePoint = bpf
                .program_mut(name)
                .ok_or_else(|| {
                    SensorError::Load(format!("the BPF object has no program `{name}`"))
                })?
                .try_into()
                .map_err(load_err)?;
            prog.load().map_err(load_err)?;
            prog.attach(category, tracepoint).map_err(load_err)?;
            Ok(())
        })();
        match attached {
            Ok(()) => {}
            Err(SensorError::Load(e)) if required => {
                return Err(SensorError::Load(format!("attaching {tracepoint}: {e}")))
            }
            Err(e) => tracing::warn!("tracepoint {tracepoint} not attached: {e}"),
        }
    }
    Ok(bpf)
}

/// Entries of the kernel's path maps (max_entries of open_prefixes and open_names).
const OPEN_MAP_ENTRIES: usize = 4096;

/// The inode number of the host's mount namespace: pid 1's, or when that cannot be read (a
/// sandbox), the sensor's own (it runs in the host's, or one a container shares with it).
fn host_mount_namespace() -> Option<u32> {
    let inum = |pid: &str| -> Option<u32> {
        let link = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok()?;
        let s = link.to_str()?;
        s.strip_prefix("mnt:[")?.strip_suffix(']')?.parse().ok()
    };
    inum("1").or_else(|| inum("self"))
}

/// Waits until `fd` is readable or `timeout` passes (an interrupted wait returns early; the
/// caller reads whatever is pending either way).
fn wait_readable(fd: RawFd, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `pfd` is one valid pollfd that outlives the call, and the count passed is 1.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::poll(&mut pfd, 1, ms) };
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
    let mut bpf = load_programs(opts)?;
    let drops_map = bpf
        .take_map("drops")
        .ok_or_else(|| SensorError::Load("the BPF object has no map `drops`".into()))?;
    let drops: PerCpuArray<MapData, u64> = PerCpuArray::try_from(drops_map).map_err(load_err)?;
    let events_map = bpf
        .take_map("events")
        .ok_or_else(|| SensorError::Load("the BPF object has no map `events`".into()))?;
    let mut rb = RingBuf::try_from(events_map).map_err(load_err)?;

    let ctx = RefCell::new(Context::new(Containers::new(
        None,
        opts.runtime_roots.clone(),
    )));
    let summary = RefCell::new(Summary::default());
    let handler = RefCell::new(handler);
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
            wait_readable(rb.as_raw_fd(), opts.poll);
        }
        while let Some(item) = rb.next() {
            let mut s = summary.borrow_mut();
            s.records += 1;
            match raw::decode(&item) {
                Ok(r) => {
                    if let Some(ev) = ctx.borrow_mut().event(&r) {
                        s.events += 1;
                        drop(s);
                        (handler.borrow_mut())(&ev).map_err(SensorError::Handler)?;
                    }
                }
                Err(e) => {
                    s.bad_records += 1;
                    tracing::warn!("skipping a kernel record: {e}");
                }
            }
        }
        if stopping || last_drop_check.elapsed() >= opts.drop_report_every {
            last_drop_check = Instant::now();
            let now = read_drops(&drops);
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
    // Dropping the loaded object detaches every program.
    drop(rb);
    drop(bpf);
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
