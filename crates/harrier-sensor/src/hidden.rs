//! Hidden processes: compares what the kernel says runs with what a program sees through
//! libc's `readdir` on /proc. A libprocesshider-style rootkit (a library in /etc/ld.so.preload
//! hooking `readdir`) hides a process from ps and top; a kernel rootkit hooking getdents
//! hides it from every listing, but the pid still answers signals.
//!
//! The check's own view never goes through libc: /proc is listed with the getdents64 system
//! call and pids are probed with kill(pid, 0), both issued with the `syscall` instruction
//! directly, so a preloaded library cannot hook them.

use std::collections::BTreeSet;
use std::os::fd::AsRawFd;

/// One process missing from a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// Process id.
    pub pid: u32,
    /// Which view misses it: `readdir` (libc; a preload rootkit) or `getdents` (the kernel's
    /// listing; a kernel rootkit), or `sensor`.
    pub missing_from: &'static str,
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn raw_syscall3(n: i64, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: a plain system call with three register arguments; the kernel clobbers rcx and
    // r11 only. The callers pass a valid buffer and its length (getdents64) or integers (kill).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
fn raw_syscall3(n: i64, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: a plain system call (svc 0, number in x8); see the x86_64 version.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a as isize => ret,
            in("x1") b,
            in("x2") c,
            options(nostack),
        );
    }
    ret
}

/// Pids listed in /proc by the kernel (getdents64), without libc.
pub fn kernel_pids() -> std::io::Result<BTreeSet<u32>> {
    let dir = std::fs::File::open("/proc")?;
    let fd = dir.as_raw_fd() as usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = BTreeSet::new();
    loop {
        let n = raw_syscall3(
            libc::SYS_getdents64,
            fd,
            buf.as_mut_ptr() as usize,
            buf.len(),
        );
        if n < 0 {
            return Err(std::io::Error::from_raw_os_error(-n as i32));
        }
        if n == 0 {
            break;
        }
        let n = n as usize;
        let mut off = 0;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while off + 19 <= n {
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            // A record shorter than its fixed part or past the data is malformed: stop there
            // rather than read out of bounds.
            if reclen < 19 || off + reclen > n {
                break;
            }
            let name = &buf[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(pid) = std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()) {
                out.insert(pid);
            }
            off += reclen;
        }
    }
    Ok(out)
}

/// Pids listed in /proc through libc's readdir (what ps sees; a preload library hooks this).
pub fn libc_pids() -> std::io::Result<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir("/proc")? {
        if let Some(pid) = e?.file_name().to_str().and_then(|s| s.parse().ok()) {
            out.insert(pid);
        }
    }
    Ok(out)
}

/// Whether a pid exists (kill(pid, 0) answers 0 or EPERM), without libc.
pub fn pid_alive(pid: u32) -> bool {
    let r = raw_syscall3(libc::SYS_kill, pid as usize, 0, 0);
    r == 0 || r == -(libc::EPERM as isize)
}

/// Whether `pid` is a process (thread group leader), not another thread of one.
fn is_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|t| t.trim().parse::<u32>().ok())
        })
        == Some(pid)
}

/// What the check compares.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Also probe every pid up to pid_max with kill(pid, 0) (a second or two): finds processes
    /// hidden from the kernel's own listing.
    pub probe: bool,
}

/// Runs the check; `sensor_pids` are pids the sensor saw start and not exit (may be empty).
pub fn check(opts: CheckOptions, sensor_pids: &BTreeSet<u32>) -> std::io::Result<Vec<Hidden>> {
    // Kernel, libc, kernel again: a pid in both kernel listings but not in libc's did not
    // merely start or end in between.
    let k1 = kernel_pids()?;
    let lib = libc_pids()?;
    let k2 = kernel_pids()?;
    let mut out = Vec::new();
    for pid in k1.intersection(&k2) {
        if !lib.contains(pid) && pid_alive(*pid) {
            out.push(Hidden {
                pid: *pid,
                missing_from: "readdir",
            });
        }
    }
    let mut candidates: BTreeSet<u32> = sensor_pids.clone();
    if opts.probe {
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(32768)
            .min(1 << 22);
        candidates.extend((1..=max).filter(|p| pid_alive(*p)));
    }
    for pid in candidates {
        if k1.contains(&pid) || k2.contains(&pid) || out.iter().any(|h| h.pid == pid) {
            continue;
        }
        // Threads answer kill() but are not listed at the top of /proc; a process that ends
        // while it is looked at is not hidden (alive again after the fresh listing).
        if pid_alive(pid) && is_process(pid) && !kernel_pids()?.contains(&pid) && pid_alive(pid) {
            out.push(Hidden {
                pid,
                missing_from: "getdents",
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_agree_on_an_ordinary_system_and_see_this_process() {
        let me = std::process::id();
        let k = kernel_pids().unwrap();
        assert!(k.contains(&me) && k.contains(&1));
        assert!(libc_pids().unwrap().contains(&me));
        assert!(pid_alive(me));
        assert!(!pid_alive(u32::MAX >> 1));
        let found = check(CheckOptions::default(), &BTreeSet::new()).unwrap();
        assert!(found.iter().all(|h| h.pid != me), "{found:?}");
    }
}
