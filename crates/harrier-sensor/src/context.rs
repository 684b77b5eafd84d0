//! User-space context: the process table (names, paths, arguments and ancestry of every
//! process seen), containers, user names, files written inside each container, and the
//! rendering of kernel records as `syscall` events (JSON, see `harrier_events::syscall`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::container::{image_repository, ContainerInfo, Containers};
use crate::raw::{errno_name, open_flags, FdKind, FileOp, Header, Raw};

/// Environment variables an exec event keeps (the rest is never stored or logged: it may hold
/// secrets).
pub const KEPT_ENV: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "GLIBC_TUNABLES",
    "HISTFILE",
    "HISTSIZE",
    "HISTFILESIZE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
];

/// Ancestors kept per event.
const MAX_ANCESTORS: usize = 8;
/// Most processes tracked; the oldest entries go first past it.
const MAX_PROCS: usize = 262_144;
/// Most written paths remembered per container.
const MAX_WRITTEN: usize = 8192;
/// Most containers with written paths remembered.
const MAX_WRITTEN_CONTAINERS: usize = 4096;

/// What is known of one process.
#[derive(Debug, Clone, Default)]
pub struct Proc {
    /// comm.
    pub name: String,
    /// argv[0].
    pub exe: String,
    /// The executable's path.
    pub exepath: String,
    /// Arguments after argv[0].
    pub args: Vec<String>,
    /// Parent pid.
    pub ppid: u32,
}

/// Files written inside one container since the sensor saw it, oldest first out.
#[derive(Default)]
struct Written {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl Written {
    fn insert(&mut self, p: String) {
        if self.set.insert(p.clone()) {
            self.order.push_back(p);
            if self.order.len() > MAX_WRITTEN {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// Turns kernel records into events.
pub struct Context {
    procs: HashMap<u32, Proc>,
    proc_order: VecDeque<u32>,
    containers: Containers,
    written: HashMap<String, Written>,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    /// Wall clock minus boot clock, in nanoseconds.
    boot_to_wall: i128,
    hostname: String,
}

fn id_names(path: &str) -> HashMap<u32, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

/// Wall-clock nanoseconds minus CLOCK_BOOTTIME nanoseconds (from /proc/uptime, 10 ms
/// precision).
pub fn boot_to_wall() -> i128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    let up = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    now - (up * 1e9) as i128
}

/// Lexically normalises an absolute path (`.` and `..`; `..` stops at the root).
pub fn normalize(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            x => out.push(x),
        }
    }
    format!("/{}", out.join("/"))
}

fn split_path(p: &str) -> (String, String) {
    match p.rfind('/') {
        Some(0) => ("/".into(), p[1..].to_string()),
        Some(i) => (p[..i].to_string(), p[i + 1..].to_string()),
        None => (String::new(), p.to_string()),
    }
}

/// Reads a process from /proc (for processes that started before the sensor).
pub fn proc_from_procfs(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may itself contain spaces or parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let ppid = stat
        .get(close + 2..)?
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut argv = cmd
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned());
    let exe = argv.next().unwrap_or_else(|| name.clone());
    let exepath = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    Some(Proc {
        name,
        exe,
        exepath,
        args: argv.collect(),
        ppid,
    })
}

fn fd_type_char(k: FdKind) -> &'static str {
    match k {
        FdKind::Ipv4 => "4",
        FdKind::Ipv6 => "6",
        _ => "f",
    }
}

impl Context {
    /// A context reading containers through `containers`.
    pub fn new(containers: Containers) -> Self {
        Context {
            procs: HashMap::new(),
            proc_order: VecDeque::new(),
            containers,
            written: HashMap::new(),
            users: id_names("/etc/passwd"),
            groups: id_names("/etc/group"),
            boot_to_wall: boot_to_wall(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }

    /// Processes tracked now.
    pub fn tracked(&self) -> usize {
        self.procs.len()
    }

    /// Pids the sensor has seen start and not exit.
    pub fn live_pids(&self) -> impl Iterator<Item = u32> + '_ {
        self.procs.keys().copied()
    }

    fn remember(&mut self, pid: u32, p: Proc) {
        if !self.procs.contains_key(&pid) {
            self.proc_order.push_back(pid);
        }
        self.procs.insert(pid, p);
        while self.procs.len() > MAX_PROCS {
            match self.proc_order.pop_front() {
                Some(old) => {
                    self.procs.remove(&old);
                }
                None => break,
            }
        }
        if self.proc_order.len() > 2 * MAX_PROCS {
            let procs = &self.procs;
            self.proc_order.retain(|p| procs.contains_key(p));
        }
    }

    fn proc(&mut self, pid: u32) -> Option<Proc> {
        if let Some(p) = self.procs.get(&pid) {
            return Some(p.clone());
        }
        let p = proc_from_procfs(pid)?;
        self.remember(pid, p.clone());
        Some(p)
    }

    fn ancestors(&mut self, mut ppid: u32) -> Vec<Value> {
        let mut out = Vec::new();
        while ppid > 0 && out.len() < MAX_ANCESTORS {
            let Some(p) = self.proc(ppid) else { break };
            out.push(json!({"pid": ppid, "name": p.name, "exe": p.exe, "exepath": p.exepath, "args": p.args}));
            if p.ppid == ppid {
                break;
            }
            ppid = p.ppid;
        }
        out
    }

    fn resolve(&self, pid: u32, dfd: i32, path: &str) -> String {
        if path.starts_with('/') {
            return normalize(path);
        }
        let base = if dfd == -100 {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
        } else {
            std::fs::read_link(format!("/proc/{pid}/fd/{dfd}"))
        };
        match base {
            Ok(b) => normalize(&format!("{}/{path}", b.display())),
            Err(_) => path.to_string(),
        }
    }

    fn mark_written(&mut self, c: &ContainerInfo, path: String) {
        if !c.is_container() {
            return;
        }
        if !self.written.contains_key(&c.id) && self.written.len() >= MAX_WRITTEN_CONTAINERS {
            self.written.clear();
        }
        self.written.entry(c.id.clone()).or_default().insert(path);
    }

    fn base(&mut self, h: &Header, ty: &str, c: &ContainerInfo) -> Map<String, Value> {
        let ts = (h.ts as i128 + self.boot_to_wall).max(0) as u64;
        let mut m = Map::new();
        m.insert("source".into(), json!("syscall"));
        m.insert("ts".into(), json!(ts));
        m.insert("id".into(), json!(format!("{ts}-{}-{ty}", h.tid)));
        m.insert("hostname".into(), json!(self.hostname));
        let user = self
            .users
            .get(&h.uid)
            .cloned()
            .unwrap_or_else(|| h.uid.to_string());
        let mut u = json!({"uid": h.uid, "name": user, "loginuid": h.loginuid});
        if h.loginuid != u32::MAX {
            if let Some(n) = self.users.get(&h.loginuid) {
                u["loginname"] = json!(n);
            }
        }
        m.insert("user".into(), u);
        let group = self
            .groups
            .get(&h.gid)
            .cloned()
            .unwrap_or_else(|| h.gid.to_string());
        m.insert("group".into(), json!({"gid": h.gid, "name": group}));
        let mut cont = json!({"id": c.id});
        if c.is_container() {
            cont["full_id"] = json!(c.full_id);
            if let Some(r) = c.runtime {
                cont["runtime"] = json!(r);
            }
            if let Some(n) = &c.name {
                cont["name"] = json!(n);
            }
            if let Some(i) = &c.image {
                cont["image"] = json!(i);
                cont["image_repository"] = json!(image_repository(i));
            }
            let mut k8s = Map::new();
            if c.pod_uid.is_some() || c.pod_name.is_some() {
                k8s.insert("pod".into(), json!({"name": c.pod_name, "uid": c.pod_uid}));
            }
            if let Some(ns) = &c.namespace {
                k8s.insert("ns".into(), json!({"name": ns}));
            }
            if !k8s.is_empty() {
                m.insert("k8s".into(), Value::Object(k8s));
            }
        }
        m.insert("container".into(), cont);
        m
    }

    fn proc_json(&mut self, h: &Header, p: &Proc) -> Value {
        let ancestors = self.ancestors(p.ppid);
        json!({
            "pid": h.pid, "tid": h.tid, "vpid": h.vpid, "ppid": p.ppid,
            "name": p.name, "exe": p.exe, "exepath": p.exepath, "args": p.args,
            "tty": h.tty, "ancestors": ancestors,
        })
    }

    fn res(ret: i32) -> (Value, Value) {
        if ret >= 0 {
            (json!("SUCCESS"), json!(ret))
        } else {
            (json!(errno_name(-ret)), json!(ret))
        }
    }

    /// The event for a kernel record, as JSON bytes; `None` for records that only update the
    /// context (exits).
    pub fn event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        match raw {
            Raw::Exit { h } => {
                self.procs.remove(&h.pid);
                None
            }
            Raw::Exec {
                h,
                filename,
                argv,
                env,
                stdin,
                stdout,
            } => {
                let c = self.containers.lookup(h.cgroup_id);
                let exepath = if filename.starts_with('/') {
                    normalize(filename)
                } else {
                    std::fs::read_link(format!("/proc/{}/exe", h.pid))
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| self.resolve(h.pid, -100, filename))
                };
                let p = Proc {
                    name: h.comm.clone(),
                    exe: argv.first().cloned().unwrap_or_else(|| filename.clone()),
                    exepath: exepath.clone(),
                    args: argv.iter().skip(1).cloned().collect(),
                    ppid: h.ppid,
                };
                self.remember(h.pid, p.clone());
                let upper = c.is_container()
                    && self
                        .written
                        .get(&c.id)
                        .is_some_and(|w| w.set.contains(&exepath));
                let mut m = self.base(h, "execve", &c);
                m.insert(
                    "evt".into(),
                    json!({"type": "execve", "res": "SUCCESS", "rawres": 0, "args": {"filename": filename}}),
                );
                let mut pj = self.proc_json(h, &p);
                pj["is_exe_upper_layer"] = json!(upper);
                pj["is_exe_from_memfd"] = json!(exepath.starts_with("/memfd:"));
                let kept: Map<String, Value> = env
                    .iter()
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(k, _)| KEPT_ENV.contains(k))
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                if !kept.is_empty() {
                    pj["env"] = Value::Object(kept);
                }
                if let Some(t) = stdin.as_str() {
                    pj["stdin_type"] = json!(t);
                }
                if let Some(t) = stdout.as_str() {
                    pj["stdout_type"] = json!(t);
                }
                m.insert("proc".into(), pj);
                serde_json::to_vec(&Value::Object(m)).ok()
            }
            Raw::File {
                h,
                op,
                dfd,
                flags,
                mode,
                path,
                path2,
            } => {
                let c = self.containers.lookup(h.cgroup_id);
                let full = self.resolve(h.pid, *dfd, path);
                let (ty, args) = match op {
                    FileOp::Open => (
                        "openat",
                        json!({"name": path, "flags": open_flags(*flags), "mode": format!("{:o}", mode)}),
                    ),
                    FileOp::Unlink => (
                        "unlinkat",
                        json!({"name": path, "flags": if flags & 0x200 != 0 { "AT_REMOVEDIR" } else { "0" }}),
                    ),
                    FileOp::Rename => ("renameat2", json!({"oldpath": path, "newpath": path2})),
                    FileOp::Truncate => ("truncate", json!({"name": path})),
                };
                let fd_path = if *op == FileOp::Rename {
                    self.resolve(h.pid, *dfd, path2)
                } else {
                    full.clone()
                };
                if h.ret >= 0 {
                    match op {
                        FileOp::Open if flags & 3 != 0 || flags & 0o1100 != 0 => {
                            self.mark_written(&c, full.clone())
                        }
                        FileOp::Rename => self.mark_written(&c, fd_path.clone()),
                        _ => {}
                    }
                }
                let (res, rawres) = Self::res(h.ret);
                let mut m = self.base(h, ty, &c);
                let mut evt = json!({"type": ty, "res": res, "rawres": rawres, "args": args});
                if *op == FileOp::Open {
                    evt["is_open_write"] = json!(flags & 3 != 0 || flags & 0o1000 != 0);
                    evt["is_open_read"] = json!(flags & 3 != 1);
                }
                m.insert("evt".into(), evt);
                let (dir, file) = split_path(&fd_path);
                let num = if *op == FileOp::Open && h.ret >= 0 {
                    h.ret
                } else {
                    -1
                };
                m.insert(
                    "fd".into(),
                    json!({"num": num, "name": fd_path, "type": "file", "typechar": "f", "directory": dir, "filename": file}),
                );
                let p = self.proc(h.pid).unwrap_or_else(|| Proc {
                    name: h.comm.clone(),
                    ppid: h.ppid,
                    ..Default::default()
                });
                let pj = self.proc_json(h, &p);
                m.insert("proc".into(), pj);
                serde_json::to_vec(&Value::Object(m)).ok()
            }
            Raw::Connect { h, fd, addr, port } => {
                let c = self.containers.lookup(h.cgroup_id);
                let (res, rawres) = Self::res(h.ret);
                let kind = if addr.is_ipv4() {
                    FdKind::Ipv4
                } else {
                    FdKind::Ipv6
                };
                let sip = addr.to_string();
                let shown = if addr.is_ipv4() {
                    format!("{sip}:{port}")
                } else {
                    format!("[{sip}]:{port}")
                };
                let mut m = self.base(h, "connect", &c);
                m.insert(
                    "evt".into(),
                    json!({"type": "connect", "res": res, "rawres": rawres, "args": {"fd": fd.to_string(), "addr": shown}}),
                );
                m.insert(
                    "fd".into(),
                    json!({"num": fd, "name": format!("->{shown}"), "type": kind.as_str(), "typechar": fd_type_char(kind), "sip": sip, "sport": port}),
                );
                let p = self.proc(h.pid).unwrap_or_else(|| Proc {
                    name: h.comm.clone(),
                    ppid: h.ppid,
                    ..Default::default()
                });
                let pj = self.proc_json(h, &p);
                m.insert("proc".into(), pj);
                serde_json::to_vec(&Value::Object(m)).ok()
            }
        }
    }

    /// A sensor event of Harrier's own (`harrier_drops`, `harrier_hidden_process`).
    pub fn sensor_event(&mut self, ty: &str, pid: u32, args: Value) -> Vec<u8> {
        let h = Header {
            ts: 0,
            cgroup_id: 0,
            kind: 0,
            pid,
            tid: pid,
            ppid: 0,
            vpid: pid,
            uid: 0,
            gid: 0,
            loginuid: u32::MAX,
            tty: 0,
            pidns: 0,
            mntns: 0,
            ret: 0,
            comm: String::new(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let boot = (now - self.boot_to_wall).max(0) as u64;
        let h = Header { ts: boot, ..h };
        let c = if pid > 0 {
            cgroup_of(pid)
                .map(|id| self.containers.lookup(id))
                .unwrap_or_else(ContainerInfo::host)
        } else {
            ContainerInfo::host()
        };
        let mut m = self.base(&h, ty, &c);
        m.insert(
            "evt".into(),
            json!({"type": ty, "res": "SUCCESS", "rawres": 0, "args": args}),
        );
        let p = if pid > 0 {
            proc_from_procfs(pid).unwrap_or_default()
        } else {
            Proc {
                name: "harrier".into(),
                ..Default::default()
            }
        };
        let pj = self.proc_json(&h, &p);
        m.insert("proc".into(), pj);
        serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
    }

    /// The cgroup v2 root in use.
    pub fn cgroup_root(&self) -> Option<PathBuf> {
        self.containers.root().map(|p| p.to_path_buf())
    }
}

/// The cgroup v2 id (directory inode) of a running process, from /proc/<pid>/cgroup.
fn cgroup_of(pid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let root = crate::container::cgroup2_mount()?;
    let dir = root.join(rel.trim_start_matches('/'));
    std::fs::metadata(dir).ok().map(|m| m.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_lexically() {
        assert_eq!(normalize("/tmp/./x/../y"), "/tmp/y");
        assert_eq!(normalize("/../../etc//ld.so.preload"), "/etc/ld.so.preload");
        assert_eq!(
            split_path("/etc/ld.so.preload"),
            ("/etc".into(), "ld.so.preload".into())
        );
        assert_eq!(split_path("/x"), ("/".into(), "x".into()));
    }

    #[test]
    fn procfs_reads_this_process() {
        let p = proc_from_procfs(std::process::id()).unwrap();
        assert!(!p.name.is_empty());
        assert!(p.ppid > 0);
        assert!(p.exepath.starts_with('/'));
    }
}
