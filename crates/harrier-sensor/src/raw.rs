//! Kernel records as the BPF programs write them (src/bpf/sensor.bpf.c), decoded without
//! `unsafe`: every field is read at its offset with bounds checks, so a short or odd record is
//! an error, never a crash.

use std::net::IpAddr;

/// Size of the common header.
pub const HDR_LEN: usize = 80;
/// Size of an exec record.
pub const EXEC_LEN: usize = 104 + PATH_LEN + ARGS_LEN + ENV_LEN;
/// Size of a file record.
pub const FILE_LEN: usize = FILE_BASE_LEN + CWD_SLOTS * CWD_SLOT;
/// Size of a file record sent without the working directory (absolute paths).
pub const FILE_BASE_LEN: usize = 96 + 2 * PATH_LEN + 8;
/// Size of a connect record.
pub const NET_LEN: usize = 104;

const PATH_LEN: usize = 256;
const ARGS_LEN: usize = 1024;
const ENV_LEN: usize = 2048;
const CWD_SLOTS: usize = 8;
const CWD_SLOT: usize = 64;

/// What every record starts with: who did it, where, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Nanoseconds since boot (CLOCK_BOOTTIME).
    pub ts: u64,
    /// The task's cgroup v2 id (the cgroup directory's inode).
    pub cgroup_id: u64,
    /// Record type (EV_* in the C source).
    pub kind: u32,
    /// Process id (thread group id) as the host sees it.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Process id inside the task's own pid namespace.
    pub vpid: u32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Audit login uid (u32::MAX when unset).
    pub loginuid: u32,
    /// Controlling terminal device number, 0 when none.
    pub tty: u32,
    /// Pid namespace inode.
    pub pidns: u32,
    /// Mount namespace inode.
    pub mntns: u32,
    /// The call's return value.
    pub ret: i32,
    /// The task's name (comm).
    pub comm: String,
}

/// What a standard stream of an exec'd process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    /// Closed.
    None,
    /// A regular file.
    File,
    /// A pipe.
    Pipe,
    /// A character device (a terminal, /dev/null).
    Char,
    /// An IPv4 socket.
    Ipv4,
    /// An IPv6 socket.
    Ipv6,
    /// A unix socket.
    Unix,
    /// Another kind of socket.
    Socket,
    /// Anything else.
    Other,
}

impl FdKind {
    fn from_code(c: u32) -> FdKind {
        match c {
            0 => FdKind::None,
            1 => FdKind::File,
            2 => FdKind::Pipe,
            3 => FdKind::Char,
            4 => FdKind::Ipv4,
            5 => FdKind::Ipv6,
            6 => FdKind::Unix,
            7 => FdKind::Socket,
            _ => FdKind::Other,
        }
    }

    /// Falco's name for the kind (`proc.stdin.type`).
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            FdKind::None => return None,
            FdKind::File => "file",
            FdKind::Pipe => "pipe",
            FdKind::Char => "char",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Socket => "socket",
            FdKind::Other => "other",
        })
    }
}

/// Which file call a [`Raw::File`] record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// open, openat, openat2 with write access, O_CREAT or O_TRUNC (or a sensitive read).
    Open,
    /// unlink, unlinkat.
    Unlink,
    /// rename, renameat, renameat2.
    Rename,
    /// truncate (by path).
    Truncate,
    /// ftruncate: `dfd` is the file descriptor (the kernel record marks it with flags = 1).
    Ftruncate,
    /// symlink, symlinkat: `path` is the target, `path2` the link.
    Symlink,
}

/// One decoded kernel record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    /// A successful execve/execveat (the sched_process_exec tracepoint).
    Exec {
        /// Who, where, when.
        h: Header,
        /// The path given to execve.
        filename: String,
        /// argv (argv[0] first), possibly cut at 1 KiB.
        argv: Vec<String>,
        /// The environment as NAME=value strings, possibly cut at 2 KiB.
        env: Vec<String>,
        /// Standard input.
        stdin: FdKind,
        /// Standard output.
        stdout: FdKind,
    },
    /// A process exited.
    Exit {
        /// The process.
        h: Header,
    },
    /// A file call, reported on its return.
    File {
        /// Who, where, when, and the return value.
        h: Header,
        /// Which call.
        op: FileOp,
        /// Directory fd the path is relative to (-100 for the working directory).
        dfd: i32,
        /// Open flags (or unlinkat's, renameat2's).
        flags: u32,
        /// Mode of a created file.
        mode: u32,
        /// The path (the old path of a rename).
        path: String,
        /// The new path of a rename.
        path2: String,
        /// The working directory at the call, read by the kernel for a relative path (`None`
        /// when the path is absolute or the directory is deeper than the kernel reads).
        cwd: Option<String>,
    },
    /// A ptrace call that injects or attaches (PTRACE_TRACEME, POKE*, SETREGS, ATTACH,
    /// SEIZE), reported on its return.
    Ptrace {
        /// Who, where, when, and the return value.
        h: Header,
        /// The ptrace request number.
        request: u32,
        /// The target process.
        target_pid: u32,
    },
    /// A packet socket created (AF_PACKET: raw sniffing), reported on its return (the fd).
    PacketSocket {
        /// Who, where, when, and the return value.
        h: Header,
        /// The address family (17, AF_PACKET).
        family: u32,
        /// The socket type (SOCK_RAW, SOCK_DGRAM), flags included.
        sock_type: u32,
    },
    /// An IPv4/IPv6 connect, reported on its return.
    Connect {
        /// Who, where, when, and the return value.
        h: Header,
        /// The socket.
        fd: u32,
        /// Where to.
        addr: IpAddr,
        /// Port.
        port: u16,
    },
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kernel record of {len} bytes: {why}")]
pub struct RawError {
    /// The record's size.
    pub len: usize,
    /// What was wrong.
    pub why: &'static str,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_ne_bytes(a)
}

/// A NUL-terminated string in a fixed-size field.
fn cstr(b: &[u8]) -> String {
    let end = memchr(b).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == 0)
}

/// NUL-separated strings (argv, environ) in the first `len` bytes.
fn strings(b: &[u8], len: usize) -> Vec<String> {
    let len = len.min(b.len());
    b[..len]
        .split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The working directory from its slots (innermost component first); `None` when unknown.
fn cwd_of(b: &[u8]) -> Option<String> {
    let depth = u32_at(b, 0) as usize;
    if depth == 0 {
        // Either the root or not read (absolute path): the caller only asks for relative ones.
        return Some("/".into());
    }
    if depth > CWD_SLOTS || b.len() < 8 + depth * CWD_SLOT {
        return None;
    }
    let slots = &b[8..];
    let mut parts: Vec<String> = (0..depth)
        .map(|i| cstr(&slots[i * CWD_SLOT..(i + 1) * CWD_SLOT]))
        .collect();
    if parts.iter().any(|p| p.is_empty() || p.contains('/')) {
        return None;
    }
    parts.reverse();
    Some(format!("/{}", parts.join("/")))
}

fn header(b: &[u8]) -> Header {
    Header {
        ts: u64_at(b, 0),
        cgroup_id: u64_at(b, 8),
        kind: u32_at(b, 16),
        pid: u32_at(b, 20),
        tid: u32_at(b, 24),
        ppid: u32_at(b, 28),
        vpid: u32_at(b, 32),
        uid: u32_at(b, 36),
        gid: u32_at(b, 40),
        loginuid: u32_at(b, 44),
        tty: u32_at(b, 48),
        pidns: u32_at(b, 52),
        mntns: u32_at(b, 56),
        ret: u32_at(b, 60) as i32,
        comm: cstr(&b[64..80]),
    }
}

/// Decodes one record from the ring buffer.
pub fn decode(b: &[u8]) -> Result<Raw, RawError> {
    let err = |why| RawError { len: b.len(), why };
    if b.len() < HDR_LEN {
        return Err(err("shorter than the header"));
    }
    let h = header(b);
    let need = |n: usize| {
        if b.len() < n {
            Err(err("shorter than its type's layout"))
        } else {
            Ok(())
        }
    };
    Ok(match h.kind {
        1 => {
            need(EXEC_LEN)?;
            let (args_len, env_len) = (u32_at(b, 84) as usize, u32_at(b, 88) as usize);
            let fo = 104;
            let ao = fo + PATH_LEN;
            let eo = ao + ARGS_LEN;
            Raw::Exec {
                filename: cstr(&b[fo..ao]),
                argv: strings(&b[ao..eo], args_len),
                env: strings(&b[eo..eo + ENV_LEN], env_len),
                stdin: FdKind::from_code(u32_at(b, 92)),
                stdout: FdKind::from_code(u32_at(b, 96)),
                h,
            }
        }
        2 => Raw::Exit { h },
        // ptrace and socket records share the file record's layout: the request or family
        // where a file record has its flags, the pid or type where it has its mode.
        9 => {
            need(FILE_BASE_LEN)?;
            Raw::Ptrace {
                request: u32_at(b, 84),
                target_pid: u32_at(b, 88),
                h,
            }
        }
        10 => {
            need(FILE_BASE_LEN)?;
            Raw::PacketSocket {
                family: u32_at(b, 84),
                sock_type: u32_at(b, 88),
                h,
            }
        }
        3..=6 | 8 => {
            need(FILE_BASE_LEN)?;
            let flags = u32_at(b, 84);
            let op = match h.kind {
                3 => FileOp::Open,
                4 => FileOp::Unlink,
                5 => FileOp::Rename,
                6 if flags == 1 => FileOp::Ftruncate,
                6 => FileOp::Truncate,
                _ => FileOp::Symlink,
            };
            Raw::File {
                op,
                dfd: u32_at(b, 80) as i32,
                flags,
                mode: u32_at(b, 88),
                path: cstr(&b[96..96 + PATH_LEN]),
                path2: cstr(&b[96 + PATH_LEN..96 + 2 * PATH_LEN]),
                cwd: cwd_of(&b[96 + 2 * PATH_LEN..]),
                h,
            }
        }
        7 => {
            need(NET_LEN)?;
            let family = u16_at(b, 80);
            let port = u16_at(b, 82);
            let fd = u32_at(b, 84);
            let a = &b[88..104];
            let addr = match family {
                2 => IpAddr::from([a[0], a[1], a[2], a[3]]),
                10 => {
                    let mut x = [0u8; 16];
                    x.copy_from_slice(a);
                    IpAddr::from(x)
                }
                _ => return Err(err("connect record with an unknown address family")),
            };
            Raw::Connect { h, fd, addr, port }
        }
        _ => return Err(err("unknown record type")),
    })
}

/// `O_CREAT`.
pub const O_CREAT: u32 = 0o100;
const O_TRUNC: u32 = 0o1000;
const O_ACCMODE: u32 = 3;

/// Whether an open writes the file: write access or `O_TRUNC` (`evt.is_open_write`; the BPF
/// side also passes `O_CREAT` opens).
pub fn opens_for_write(flags: u32) -> bool {
    flags & O_ACCMODE != 0 || flags & O_TRUNC != 0
}

/// Open flags as Falco prints them: `O_WRONLY|O_CREAT|O_TRUNC`.
pub fn open_flags(flags: u32) -> String {
    let mut out = vec![match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    }];
    for (bit, name) in [
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o2000000, "O_CLOEXEC"),
        (0o20000000, "O_TMPFILE"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.join("|")
}

/// A ptrace request's name, as Falco prints `evt.arg.request`.
pub fn ptrace_request(r: u32) -> String {
    match r {
        0 => "PTRACE_TRACEME",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSR",
        13 => "PTRACE_SETREGS",
        16 => "PTRACE_ATTACH",
        0x4206 => "PTRACE_SEIZE",
        _ => return format!("{r}"),
    }
    .to_string()
}

/// A socket type's name (`SOCK_RAW`), flags cut off.
pub fn socket_type(t: u32) -> String {
    match t & 0xf {
        1 => "SOCK_STREAM",
        2 => "SOCK_DGRAM",
        3 => "SOCK_RAW",
        5 => "SOCK_SEQPACKET",
        10 => "SOCK_PACKET",
        _ => return format!("{t}"),
    }
    .to_string()
}

/// The name of an errno value (`ENOENT`), for `evt.res`.
pub fn errno_name(e: i32) -> String {
    match e {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        26 => "ETXTBSY",
        28 => "ENOSPC",
        30 => "EROFS",
        36 => "ENAMETOOLONG",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => return format!("E{e}"),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(kind: u32) -> Vec<u8> {
        let mut b = vec![0u8; HDR_LEN];
        b[0..8].copy_from_slice(&7u64.to_ne_bytes());
        b[16..20].copy_from_slice(&kind.to_ne_bytes());
        b[20..24].copy_from_slice(&42u32.to_ne_bytes());
        b[60..64].copy_from_slice(&(-2i32).to_ne_bytes());
        b[64..68].copy_from_slice(b"bash");
        b
    }

    #[test]
    fn overloaded_kernel_fields_come_out_named() {
        // ptrace: the request where a file record has flags, the target pid where it has mode.
        let mut b = hdr(9);
        b.resize(FILE_LEN, 0);
        b[84..88].copy_from_slice(&16u32.to_ne_bytes());
        b[88..92].copy_from_slice(&4242u32.to_ne_bytes());
        assert!(matches!(
            decode(&b).unwrap(),
            Raw::Ptrace {
                request: 16,
                target_pid: 4242,
                ..
            }
        ));
        // socket: family and type.
        let mut b = hdr(10);
        b.resize(FILE_LEN, 0);
        b[84..88].copy_from_slice(&17u32.to_ne_bytes());
        b[88..92].copy_from_slice(&3u32.to_ne_bytes());
        assert!(matches!(
            decode(&b).unwrap(),
            Raw::PacketSocket {
                family: 17,
                sock_type: 3,
                ..
            }
        ));
        // truncate with flags 1 is ftruncate (the fd in dfd); without, truncate by path.
        let mut b = hdr(6);
        b.resize(FILE_LEN, 0);
        b[84..88].copy_from_slice(&1u32.to_ne_bytes());
        assert!(matches!(
            decode(&b).unwrap(),
            Raw::File {
                op: FileOp::Ftruncate,
                ..
            }
        ));
        b[84..88].copy_from_slice(&0u32.to_ne_bytes());
        assert!(matches!(
            decode(&b).unwrap(),
            Raw::File {
                op: FileOp::Truncate,
                ..
            }
        ));
        assert!(decode(&hdr(9)).is_err(), "a short ptrace record is refused");
    }

    #[test]
    fn decodes_records_and_refuses_short_or_unknown_ones() {
        let mut b = hdr(3);
        b.resize(FILE_LEN, 0);
        b[84..88].copy_from_slice(&0o1101u32.to_ne_bytes());
        b[96..96 + 19].copy_from_slice(b"/root/.bash_history");
        let Raw::File {
            h, op, flags, path, ..
        } = decode(&b).unwrap()
        else {
            panic!()
        };
        assert_eq!((h.pid, h.ret, h.comm.as_str()), (42, -2, "bash"));
        assert_eq!((op, path.as_str()), (FileOp::Open, "/root/.bash_history"));
        assert_eq!(open_flags(flags), "O_WRONLY|O_CREAT|O_TRUNC");
        // The working directory the kernel read: innermost component first.
        let co = 96 + 2 * PATH_LEN;
        b[co..co + 4].copy_from_slice(&2u32.to_ne_bytes());
        b[co + 8..co + 9].copy_from_slice(b"b");
        b[co + 8 + CWD_SLOT..co + 9 + CWD_SLOT].copy_from_slice(b"a");
        let Raw::File { cwd, .. } = decode(&b).unwrap() else {
            panic!()
        };
        assert_eq!(cwd.as_deref(), Some("/a/b"));
        b[co..co + 4].copy_from_slice(&9u32.to_ne_bytes());
        let Raw::File { cwd, .. } = decode(&b).unwrap() else {
            panic!()
        };
        assert_eq!(cwd, None, "deeper than the slots: unknown");
        assert!(decode(&b[..100]).is_err());
        assert!(decode(&hdr(99)).is_err());
        assert!(decode(&[0u8; 10]).is_err());
        let mut e = hdr(1);
        e.resize(EXEC_LEN, 0);
        let ao = 104 + PATH_LEN;
        e[ao..ao + 12].copy_from_slice(b"xmrig\0-o\0x\0\0");
        e[84..88].copy_from_slice(&12u32.to_ne_bytes());
        let Raw::Exec { argv, .. } = decode(&e).unwrap() else {
            panic!()
        };
        assert_eq!(argv, ["xmrig", "-o", "x"]);
        assert_eq!(errno_name(115), "EINPROGRESS");
    }
}
