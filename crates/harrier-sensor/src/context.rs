//! User-space context: the process table (names, paths, arguments and ancestry of every
//! process seen), containers, user names, files written inside each container, and the
//! rendering of kernel records as `syscall` events (JSON, see `harrier_events::syscall`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use std::rc::Rc;

use crate::container::{image_repository, ContainerInfo, Containers};
use crate::json::Obj;
use crate::raw::{
    errno_name, open_flags, opens_for_write, ptrace_request, socket_type, FdKind, FileOp, Header,
    Raw, O_CREAT,
};

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

/// Bytes of arguments kept per process.
const MAX_ARGS_BYTES: usize = 1024;
/// Most descriptor paths remembered per process.
const MAX_FDS_PER_PROC: usize = 1024;
/// Ancestors kept per event.
const MAX_ANCESTORS: usize = 8;
/// Most processes tracked; the oldest entries go first past it.
const MAX_PROCS: usize = 262_144;
/// Most written paths remembered per container.
const MAX_WRITTEN: usize = 4096;
/// Most cgroups whose rendered container part is kept.
const MAX_CGROUPS_RENDERED: usize = 16384;
/// Most containers with written paths remembered.
const MAX_WRITTEN_CONTAINERS: usize = 1024;

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
    /// Changes whenever the entry is replaced (an exec): cached ancestor chains check it.
    pub version: u64,
    /// Working directory when the process started (or was first read), with a trailing slash.
    pub cwd: Option<String>,
}

/// Files written inside one container since the sensor saw it (64-bit hashes of their paths,
/// 16 bytes each), oldest first out.
#[derive(Default)]
struct Written {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

fn path_hash(p: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(p)
}

impl Written {
    fn insert(&mut self, p: &str) {
        let h = path_hash(p);
        if self.set.insert(h) {
            self.order.push_back(h);
            if self.order.len() > MAX_WRITTEN {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    fn contains(&self, p: &str) -> bool {
        self.set.contains(&path_hash(p))
    }
}

/// `scheme://user:password@host` -> `scheme://host`: proxy variables may carry credentials.
pub fn strip_userinfo(v: &str) -> String {
    let (scheme, rest) = v.split_once("://").unwrap_or(("", v));
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if scheme.is_empty() {
        host.to_string()
    } else {
        format!("{scheme}://{host}")
    }
}

/// An ancestor chain rendered once, valid while every process in it is unchanged.
struct Chain {
    members: Vec<(u32, u64)>,
    json: Rc<str>,
}

/// A container's part of every event, rendered once.
struct Rendered {
    info: ContainerInfo,
    container: String,
    k8s: Option<String>,
}

/// Turns kernel records into events.
pub struct Context {
    procs: HashMap<u32, Proc>,
    next_version: u64,
    chains: HashMap<u32, Chain>,
    /// Paths of the descriptors each process opened for write (from open events), so that an
    /// ftruncate names its file even after the process is gone.
    open_fds: HashMap<u32, HashMap<i32, String>>,
    rendered: HashMap<u64, Rc<Rendered>>,
    /// Pids in the order they were added, with the version added: eviction removes an entry
    /// only if it is still that version (a reused pid is not evicted for its predecessor).
    proc_order: VecDeque<(u32, u64)>,
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
        args: cap_args(argv.collect()),
        ppid,
        version: 0,
        cwd: read_cwd(pid),
    })
}

/// The working directory of a process, with a trailing slash.
fn read_cwd(pid: u32) -> Option<String> {
    let s = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()?
        .display()
        .to_string();
    Some(if s.ends_with('/') { s } else { format!("{s}/") })
}

/// Keeps arguments up to 1 KiB in all, as the kernel side captures them.
pub fn cap_args(mut args: Vec<String>) -> Vec<String> {
    let mut total = 0;
    let mut keep = args.len();
    for (i, a) in args.iter_mut().enumerate() {
        if total + a.len() > MAX_ARGS_BYTES {
            let mut cut = MAX_ARGS_BYTES.saturating_sub(total);
            while !a.is_char_boundary(cut) {
                cut -= 1;
            }
            a.truncate(cut);
            keep = i + 1;
            break;
        }
        total += a.len() + 1;
    }
    args.truncate(keep);
    args
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
            next_version: 1,
            chains: HashMap::new(),
            open_fds: HashMap::new(),
            rendered: HashMap::new(),
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

    fn remember(&mut self, pid: u32, mut p: Proc) -> Proc {
        p.version = self.next_version;
        self.next_version += 1;
        self.proc_order.push_back((pid, p.version));
        self.procs.insert(pid, p.clone());
        while self.procs.len() > MAX_PROCS {
            match self.proc_order.pop_front() {
                Some((old, v)) => {
                    if self.procs.get(&old).is_some_and(|e| e.version == v) {
                        self.procs.remove(&old);
                        self.chains.remove(&old);
                    }
                }
                None => break,
            }
        }
        if self.proc_order.len() > 2 * MAX_PROCS {
            let procs = &self.procs;
            self.proc_order
                .retain(|(p, v)| procs.get(p).is_some_and(|e| e.version == *v));
        }
        if self.chains.len() > MAX_PROCS {
            self.chains.clear();
        }
        p
    }

    fn proc(&mut self, pid: u32) -> Option<Proc> {
        if let Some(p) = self.procs.get(&pid) {
            return Some(p.clone());
        }
        let p = proc_from_procfs(pid)?;
        Some(self.remember(pid, p))
    }

    /// The ancestors from `ppid` up, as a JSON array (cached while the chain is unchanged).
    fn ancestors(&mut self, ppid: u32) -> Rc<str> {
        if let Some(c) = self.chains.get(&ppid) {
            let procs = &self.procs;
            if c.members
                .iter()
                .all(|(pid, v)| procs.get(pid).is_some_and(|p| p.version == *v))
            {
                return Rc::clone(&c.json);
            }
        }
        let mut members = Vec::new();
        let mut out = String::from("[");
        let mut cur = ppid;
        while cur > 0 && members.len() < MAX_ANCESTORS {
            let Some(p) = self.proc(cur) else { break };
            if !members.is_empty() {
                out.push(',');
            }
            let mut o = Obj::new(&mut out);
            o.num("pid", cur)
                .str("name", &p.name)
                .str("exe", &p.exe)
                .str("exepath", &p.exepath)
                .strs("args", p.args.iter().map(String::as_str));
            o.end();
            members.push((cur, p.version));
            if p.ppid == cur {
                break;
            }
            cur = p.ppid;
        }
        out.push(']');
        let json: Rc<str> = out.into();
        self.chains.insert(
            ppid,
            Chain {
                members,
                json: Rc::clone(&json),
            },
        );
        json
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
            // The process is gone: its directory when it started is the best guess left.
            Err(_) => match self.procs.get(&pid).and_then(|p| p.cwd.as_deref()) {
                Some(cwd) if dfd == -100 => normalize(&format!("{cwd}{path}")),
                _ => path.to_string(),
            },
        }
    }

    fn mark_written(&mut self, c: &ContainerInfo, path: &str) {
        if !c.is_container() {
            return;
        }
        if !self.written.contains_key(&c.id) && self.written.len() >= MAX_WRITTEN_CONTAINERS {
            self.written.clear();
        }
        self.written.entry(c.id.clone()).or_default().insert(path);
    }

    /// The container of a cgroup id and its rendered members.
    fn container(&mut self, cgroup_id: u64, pid: u32) -> Rc<Rendered> {
        if let Some(r) = self.rendered.get(&cgroup_id) {
            return Rc::clone(r);
        }
        let c = self.containers.lookup(cgroup_id, pid);
        let known = self.containers.knows(cgroup_id);
        let mut container = String::new();
        let mut o = Obj::new(&mut container);
        o.str("id", &c.id);
        let mut k8s = None;
        if c.is_container() {
            o.str("full_id", &c.full_id)
                .opt("runtime", c.runtime)
                .opt("name", c.name.as_deref())
                .opt("image", c.image.as_deref())
                .opt("image_repository", c.image.as_deref().map(image_repository));
            if c.pod_uid.is_some() || c.pod_name.is_some() || c.namespace.is_some() {
                let mut s = String::new();
                let mut k = Obj::new(&mut s);
                if c.pod_uid.is_some() || c.pod_name.is_some() {
                    k.obj("pod", |p| {
                        p.opt("name", c.pod_name.as_deref())
                            .opt("uid", c.pod_uid.as_deref());
                    });
                }
                if let Some(ns) = &c.namespace {
                    k.obj("ns", |n| {
                        n.str("name", ns);
                    });
                }
                k.end();
                k8s = Some(s);
            }
        }
        o.end();
        let r = Rc::new(Rendered {
            info: c,
            container,
            k8s,
        });
        if known {
            if self.rendered.len() > MAX_CGROUPS_RENDERED {
                self.rendered.clear();
            }
            self.rendered.insert(cgroup_id, Rc::clone(&r));
        }
        r
    }

    /// Renders one event: the header, `evt` (written by `evt`), the process (with `extra`
    /// members), user, group, `more` (members already JSON: `fd`, `fs`), container and pod.
    #[allow(clippy::too_many_arguments)]
    fn render(
        &mut self,
        h: &Header,
        ty: &str,
        c: &Rendered,
        p: &Proc,
        evt: impl FnOnce(&mut Obj<'_>),
        extra: impl FnOnce(&mut Obj<'_>),
        more: &[(&str, &str)],
    ) -> Vec<u8> {
        let anc = self.ancestors(p.ppid);
        let ts = (h.ts as i128 + self.boot_to_wall).max(0) as u64;
        let mut out = String::with_capacity(640 + anc.len());
        let mut o = Obj::new(&mut out);
        o.str("source", "syscall")
            .num("ts", ts)
            .raw("id", &format!("\"{ts}-{}-{ty}\"", h.tid))
            .str("hostname", &self.hostname);
        o.obj("evt", |e| {
            e.str("type", ty);
            let (res, raw) = (h.ret >= 0)
                .then(|| "SUCCESS".to_string())
                .map_or_else(|| (errno_name(-h.ret), h.ret), |s| (s, h.ret));
            e.str("res", &res).num("rawres", raw);
            evt(e);
        });
        o.obj("proc", |q| {
            q.num("pid", h.pid)
                .num("tid", h.tid)
                .num("vpid", h.vpid)
                .num("ppid", p.ppid)
                .str("name", &p.name)
                .str("exe", &p.exe)
                .str("exepath", &p.exepath)
                .strs("args", p.args.iter().map(String::as_str))
                .num("tty", h.tty);
            extra(q);
            q.raw("ancestors", &anc);
        });
        let users = &self.users;
        o.obj("user", |u| {
            let name = users
                .get(&h.uid)
                .cloned()
                .unwrap_or_else(|| h.uid.to_string());
            u.num("uid", h.uid)
                .str("name", &name)
                .num("loginuid", h.loginuid);
            if h.loginuid != u32::MAX {
                u.opt("loginname", users.get(&h.loginuid).map(String::as_str));
            }
        });
        let group = self
            .groups
            .get(&h.gid)
            .cloned()
            .unwrap_or_else(|| h.gid.to_string());
        o.obj("group", |g| {
            g.num("gid", h.gid).str("name", &group);
        });
        for (k, v) in more {
            o.raw(k, v);
        }
        o.raw("container", &c.container);
        if let Some(k) = &c.k8s {
            o.raw("k8s", k);
        }
        o.end();
        out.into_bytes()
    }

    /// The event for a kernel record, as JSON bytes; `None` for records that only update the
    /// context (exits).
    pub fn event(&mut self, raw: &Raw) -> Option<Vec<u8>> {
        match raw {
            Raw::Exit { h } => {
                self.procs.remove(&h.pid);
                self.chains.remove(&h.pid);
                self.open_fds.remove(&h.pid);
                None
            }
            Raw::Exec { .. } => self.exec_event(raw),
            Raw::Ptrace { .. } => self.ptrace_event(raw),
            Raw::PacketSocket { .. } => self.socket_event(raw),
            Raw::File { .. } => self.file_event(raw),
            Raw::Connect { .. } => self.connect_event(raw),
        }
    }

    /// The process of a record: from the table, else /proc, else the record itself.
    fn acting(&mut self, h: &Header) -> Proc {
        self.proc(h.pid).unwrap_or_else(|| Proc {
            name: h.comm.clone(),
            ppid: h.ppid,
            ..Default::default()
        })
    }

    /// A sensor event of Harrier's own (`harrier_drops`, `harrier_hidden_process`), with
    /// string arguments.
    pub fn sensor_event(&mut self, ty: &str, pid: u32, args: &[(&str, String)]) -> Vec<u8> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let h = Header {
            ts: (now - self.boot_to_wall).max(0) as u64,
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
        let c = match (pid > 0).then(|| cgroup_of(pid)).flatten() {
            Some(id) => self.container(id, pid),
            None => Rc::new(Rendered {
                info: ContainerInfo::host(),
                container: "{\"id\":\"host\"}".into(),
                k8s: None,
            }),
        };
        let p = match (pid > 0).then(|| proc_from_procfs(pid)).flatten() {
            Some(p) => p,
            None => Proc {
                name: "harrier".into(),
                ..Default::default()
            },
        };
        self.render(
            &h,
            ty,
            &c,
            &p,
            |e| {
                e.obj("args", |a| {
                    for (k, v) in args {
                        a.str(k, v);
                    }
                });
            },
            |_| {},
            &[],
        )
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

#[path = "context_events.rs"]
mod events;

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
    fn secrets_and_sizes_are_bounded() {
        assert_eq!(
            strip_userinfo("http://bob:s3cret@proxy.corp:3128"),
            "http://proxy.corp:3128"
        );
        assert_eq!(strip_userinfo("proxy.corp:3128"), "proxy.corp:3128");
        let args = cap_args(vec!["a".repeat(600), "é".repeat(300), "c".into()]);
        assert_eq!(args.len(), 2);
        assert!(args.iter().map(|a| a.len() + 1).sum::<usize>() <= MAX_ARGS_BYTES + 1);
    }

    #[test]
    fn procfs_reads_this_process() {
        let p = proc_from_procfs(std::process::id()).unwrap();
        assert!(!p.name.is_empty());
        assert!(p.ppid > 0);
        assert!(p.exepath.starts_with('/'));
    }
}
