//! The `syscall` field table: the Falco syscall fields the sensor can fill, plus `evt.*`.
//! Names and meanings follow Falco's; where Harrier differs, docs/fields.md says how.

use crate::field::{common, ArgSpec, Extract, FieldInfo, FieldType};

/// A number (signed where Falco's is: `fd.num`, `evt.rawres`), compared numerically.
const fn n(name: &'static str, path: &'static [&'static str], desc: &'static str) -> FieldInfo {
    FieldInfo {
        name,
        ty: FieldType::U64,
        arg: ArgSpec::None,
        extract: Extract::Json(path),
        desc,
    }
}

const fn b(name: &'static str, path: &'static [&'static str], desc: &'static str) -> FieldInfo {
    FieldInfo {
        name,
        ty: FieldType::String,
        arg: ArgSpec::None,
        extract: Extract::Bool(path),
        desc,
    }
}

pub(super) const ARGS: u16 = 1;
pub(super) const DIR: u16 = 2;
pub(super) const CMDLINE: u16 = 3;
pub(super) const PROC_ARGS: u16 = 4;
pub(super) const ANAME: u16 = 5;
pub(super) const AEXEPATH: u16 = 6;
pub(super) const APID: u16 = 7;
pub(super) const ENV: u16 = 8;
pub(super) const PCMDLINE: u16 = 9;
pub(super) const ACMDLINE: u16 = 10;
pub(super) const PNAME: u16 = 11;
pub(super) const AEXE: u16 = 14;
pub(super) const PEXE: u16 = 12;
pub(super) const PEXEPATH: u16 = 13;

/// Every field of the `syscall` source.
pub static FIELDS: [FieldInfo; 79] = [
    FieldInfo::json("evt.type", &["evt", "type"], "the system call (execve, openat, connect...) or sensor event"),
    FieldInfo::special("evt.dir", FieldType::String, ArgSpec::None, DIR, "always '<': the sensor reports each call once, on its return"),
    FieldInfo::json("evt.res", &["evt", "res"], "SUCCESS or the error name (ENOENT...)"),
    n("evt.rawres", &["evt", "rawres"], "the raw return value (a file descriptor, 0, or minus an errno)"),
    FieldInfo::special("evt.args", FieldType::String, ArgSpec::None, ARGS, "every argument as name=value, space separated"),
    FieldInfo::json("evt.arg.flags", &["evt", "args", "flags"], "open flags as O_WRONLY|O_CREAT|... (openat), AT_REMOVEDIR (unlinkat)"),
    FieldInfo::json("evt.arg.mode", &["evt", "args", "mode"], "the mode of a created file, octal"),
    FieldInfo::json("evt.arg.name", &["evt", "args", "name"], "the path as the process passed it (openat, unlinkat, truncate)"),
    FieldInfo::json("evt.arg.path", &["evt", "args", "name"], "alias of evt.arg.name"),
    FieldInfo::json("evt.arg.pathname", &["evt", "args", "name"], "alias of evt.arg.name"),
    FieldInfo::json("evt.arg.filename", &["evt", "args", "filename"], "the program path passed to execve"),
    FieldInfo::json("evt.arg.oldpath", &["evt", "args", "oldpath"], "rename: the old path"),
    FieldInfo::json("evt.arg.newpath", &["evt", "args", "newpath"], "rename: the new path"),
    FieldInfo::json("evt.arg.addr", &["evt", "args", "addr"], "connect: the address connected to"),
    FieldInfo::json("evt.arg.fd", &["evt", "args", "fd"], "the file descriptor the call acts on"),
    FieldInfo::json("evt.arg.target", &["evt", "args", "target"], "symlink: what the link points to, as written"),
    FieldInfo::json("evt.arg.linkpath", &["evt", "args", "linkpath"], "symlink: the link's path, as written"),
    FieldInfo::json("evt.arg.request", &["evt", "args", "request"], "ptrace: the request (PTRACE_ATTACH...; only injection requests and PTRACE_TRACEME are reported)"),
    FieldInfo::json("evt.arg.pid", &["evt", "args", "pid"], "ptrace: the target process"),
    FieldInfo::json("evt.arg.domain", &["evt", "args", "domain"], "socket: the address family (only AF_PACKET sockets are reported)"),
    FieldInfo::json("evt.arg.type", &["evt", "args", "type"], "socket: the socket type (SOCK_RAW...)"),
    FieldInfo::json("evt.arg.count", &["evt", "args", "count"], "harrier_drops: events lost since the last report"),
    FieldInfo::json("evt.arg.by", &["evt", "args", "by"], "harrier_hidden_process: which views disagree"),
    FieldInfo::json("proc.stdin.type", &["proc", "stdin_type"], "what the exec's standard input is: ipv4, ipv6, unix, socket, pipe, file, char (a terminal or /dev/null)"),
    FieldInfo::json("proc.stdout.type", &["proc", "stdout_type"], "what the exec's standard output is, as proc.stdin.type"),
    b("evt.is_open_write", &["evt", "is_open_write"], "true for an open with write access or O_TRUNC"),
    b("evt.is_open_read", &["evt", "is_open_read"], "true for an open with read access"),
    FieldInfo::json("evt.hostname", &["hostname"], "the host the sensor runs on"),
    FieldInfo::json("proc.name", &["proc", "name"], "the process name (the kernel's comm, up to 15 characters)"),
    FieldInfo::json("proc.exe", &["proc", "exe"], "the first command-line argument (argv[0])"),
    FieldInfo::json("proc.exepath", &["proc", "exepath"], "the full path of the executable"),
    FieldInfo::special("proc.cmdline", FieldType::String, ArgSpec::None, CMDLINE, "the name and arguments, space separated"),
    FieldInfo::special("proc.args", FieldType::String, ArgSpec::None, PROC_ARGS, "the arguments (without argv[0]), space separated"),
    FieldInfo::json("proc.cwd", &["proc", "cwd"], "the working directory at exec, with a trailing slash (read from /proc when the event is handled: absent for a process already gone)"),
    n("proc.pid", &["proc", "pid"], "the process id (as the host sees it)"),
    n("proc.tid", &["proc", "tid"], "the thread id"),
    n("thread.tid", &["proc", "tid"], "alias of proc.tid"),
    n("proc.vpid", &["proc", "vpid"], "the process id in its pid namespace (1 for a container's init)"),
    n("proc.ppid", &["proc", "ppid"], "the parent's process id"),
    n("proc.tty", &["proc", "tty"], "the controlling terminal's device number, 0 when none"),
    FieldInfo::special("proc.pname", FieldType::String, ArgSpec::None, PNAME, "the parent's name"),
    FieldInfo::special("proc.pexe", FieldType::String, ArgSpec::None, PEXE, "the parent's argv[0]"),
    FieldInfo::special("proc.pexepath", FieldType::String, ArgSpec::None, PEXEPATH, "the parent's executable path"),
    FieldInfo::special("proc.pcmdline", FieldType::String, ArgSpec::None, PCMDLINE, "the parent's command line"),
    FieldInfo::special("proc.aname", FieldType::StringList, ArgSpec::OptionalIndex, ANAME, "ancestor names: [0] the process, [1] its parent...; without index any ancestor"),
    FieldInfo::special("proc.aexepath", FieldType::StringList, ArgSpec::OptionalIndex, AEXEPATH, "ancestor executable paths, indexed as proc.aname"),
    FieldInfo::special("proc.apid", FieldType::StringList, ArgSpec::OptionalIndex, APID, "ancestor process ids, indexed as proc.aname"),
    FieldInfo::special("proc.acmdline", FieldType::StringList, ArgSpec::OptionalIndex, ACMDLINE, "ancestor command lines, indexed as proc.aname"),
    FieldInfo::special("proc.env", FieldType::String, ArgSpec::OptionalKey, ENV, "an environment variable of the exec; without key all kept ones as NAME=value (the sensor keeps the LD_*, GLIBC_TUNABLES, HISTFILE and proxy variables)"),
    FieldInfo::special("proc.aexe", FieldType::StringList, ArgSpec::OptionalIndex, AEXE, "ancestor argv[0]s, indexed as proc.aname"),
    b("proc.is_exe_upper_layer", &["proc", "is_exe_upper_layer"], "true when the executable was written inside the container after it started (seen by the sensor)"),
    b("proc.is_exe_from_memfd", &["proc", "is_exe_from_memfd"], "true when the executable is a memfd (fileless)"),
    n("user.uid", &["user", "uid"], "the effective user id"),
    FieldInfo::json("user.name", &["user", "name"], "the user name (from the host's /etc/passwd; the uid when unknown)"),
    n("user.loginuid", &["user", "loginuid"], "the audit login uid (4294967295 when unset)"),
    FieldInfo::json("user.loginname", &["user", "loginname"], "the name of the login uid"),
    n("group.gid", &["group", "gid"], "the effective group id"),
    FieldInfo::json("group.name", &["group", "name"], "the group name"),
    n("fd.num", &["fd", "num"], "the file descriptor (-1 when the call failed)"),
    FieldInfo::json("fd.name", &["fd", "name"], "the full path, or client->server addresses for a connection"),
    FieldInfo::json("fd.type", &["fd", "type"], "file, directory, ipv4, ipv6, unix..."),
    FieldInfo::json("fd.typechar", &["fd", "typechar"], "f (file), 4 (ipv4), 6 (ipv6), u (unix)..."),
    FieldInfo::json("fd.directory", &["fd", "directory"], "the directory of a file path"),
    FieldInfo::json("fd.filename", &["fd", "filename"], "the last component of a file path"),
    FieldInfo::json("fd.sip", &["fd", "sip"], "the server address of a connection"),
    n("fd.sport", &["fd", "sport"], "the server port of a connection"),
    FieldInfo::json("fd.rip", &["fd", "sip"], "the remote address (connect: the server's)"),
    n("fd.rport", &["fd", "sport"], "the remote port (connect: the server's)"),
    FieldInfo::json("container.id", &["container", "id"], "the container id (12 characters), 'host' outside containers"),
    FieldInfo::json("container.full_id", &["container", "full_id"], "the container's full runtime id (64 hex; on ECS/Fargate `<task id>-<digits>`)"),
    FieldInfo::json("container.name", &["container", "name"], "the container name, where the runtime's metadata gives it"),
    FieldInfo::json("container.image", &["container", "image"], "the image, where the runtime's metadata gives it"),
    FieldInfo::json("fs.path.name", &["fs", "path", "name"], "the path an open, unlink or truncate acts on, resolved"),
    FieldInfo::json("fs.path.source", &["fs", "path", "source"], "rename: the old path, resolved"),
    FieldInfo::json("fs.path.target", &["fs", "path", "target"], "rename: the new path, resolved"),
    FieldInfo::json("container.image.repository", &["container", "image_repository"], "the image repository, where the runtime's metadata gives it"),
    FieldInfo::json("k8s.pod.name", &["k8s", "pod", "name"], "the pod name, where the runtime's metadata gives it"),
    FieldInfo::json("k8s.ns.name", &["k8s", "ns", "name"], "the pod's namespace, where the runtime's metadata gives it"),
    FieldInfo::json("k8s.pod.uid", &["k8s", "pod", "uid"], "the pod's UID, from the cgroup path"),
];

/// Every field, with the `evt.*` fields all sources have.
pub static ALL: [FieldInfo; 86] = {
    let mut out = [common::FIELDS[0]; 86];
    let mut i = 0;
    while i < FIELDS.len() {
        out[i] = FIELDS[i];
        i += 1;
    }
    let mut j = 0;
    while j < common::FIELDS.len() {
        out[FIELDS.len() + j] = common::FIELDS[j];
        j += 1;
    }
    out
};

/// Falco syscall fields the sensor does not fill yet. A rule that needs one is loaded but not
/// run, and listed with the field it lacks (a typo stays an error).
pub static MISSING: &[&str] = &[
    "container.image.tag",
    "container.image.digest",
    "container.privileged",
    "container.start_ts",
    "container.duration",
    "container.mounts",
    "container.mount.dest",
    "container.healthcheck",
    "container.liveness_probe",
    "container.readiness_probe",
    "container.type",
    "evt.arg.tuple",
    "proc.sid",
    "proc.sname",
    "fd.nameraw",
    "fd.l4proto",
    "fd.cip",
    "fd.cport",
    "evt.arg.data",
    "evt.arg.res",
    "evt.arg.uid",
    "evt.arg.cmd",
    "evt.arg.dev",
    "evt.arg.sig",
    "evt.arg.level",
    "evt.arg.optname",
    "evt.arg.ino",
    "evt.arg.size",
    "evt.arg.exe_ino",
    "evt.buffer",
    "evt.count",
    "evt.deltatime",
    "evt.latency",
    "evt.rawarg.flags",
    "evt.rawarg.fd",
    "evt.rawarg.request",
    "evt.is_io",
    "evt.is_io_read",
    "evt.is_io_write",
    "evt.failed",
    "evt.is_open_exec",
    "fd.cip.name",
    "fd.rip.name",
    "fd.lip.name",
    "evt.around",
    "fd.cnet",
    "fd.connected",
    "fd.containerdirectory",
    "fd.containername",
    "fd.dev",
    "fd.ino",
    "fd.ip",
    "fd.is_server",
    "fd.lip",
    "fd.lport",
    "fd.name_changed",
    "fd.net",
    "fd.port",
    "fd.proto",
    "fd.rnet",
    "fd.sip.name",
    "fd.snet",
    "fd.sockfamily",
    "fd.types",
    "group.id",
    "k8s.deployment.name",
    "k8s.pod.label",
    "k8s.pod.labels",
    "k8s.rc.name",
    "k8s.svc.name",
    "proc.cap_effective",
    "proc.cap_inheritable",
    "proc.cap_permitted",
    "proc.duration",
    "proc.exe_ino",
    "proc.exe_ino.ctime",
    "proc.exe_ino.ctime_duration_proc_start",
    "proc.exe_ino.mtime",
    "proc.fdopencount",
    "proc.is_container_healthcheck",
    "proc.is_container_liveness_probe",
    "proc.is_container_readiness_probe",
    "proc.is_exe_writable",
    "proc.is_sid_leader",
    "proc.is_vpgid_leader",
    "proc.loginshellid",
    "proc.nthreads",
    "proc.pid.ts",
    "proc.ppid.duration",
    "proc.ppid.ts",
    "proc.sid.exe",
    "proc.sid.exepath",
    "proc.stdin.name",
    "proc.stdout.name",
    "proc.vpgid",
    "proc.vpgid.exe",
    "proc.vpgid.exepath",
    "proc.vpgid.name",
    "thread.cap_effective",
    "thread.cap_inheritable",
    "thread.cap_permitted",
    "user.homedir",
    "user.shell",
    "user.log",
];
