//! Any Linux host (CIS Distribution Independent Linux Benchmark v2.0.0, the automated items
//! that a file-level read can judge; Debian and Amazon Linux benchmarks hold the same items
//! under other numbers): mount options, kernel parameters, the SSH daemon, system file
//! permissions, accounts, auditd and the story's signals, services, world-writable files.
//!
//! On the running host kernel parameters and mounts are read live (`/proc`); in a mounted
//! tree they are read from the configuration that will apply at boot, and a parameter that is
//! not configured and whose kernel default is not certain is unknown.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use harrier_posture::check::not_a_snapshot_check;
use harrier_posture::{Check, Severity};

use crate::parse::{self, Mount, Set};
use crate::{Host, HostCheck, Out, Profile};

// ---- mounts

/// The filesystems as mounted (live) or as fstab and systemd's `tmp.mount` will mount them.
fn mount_table(h: &Host) -> Result<(Vec<Mount>, &'static str), String> {
    if h.live {
        let t = h
            .root
            .read("/proc/mounts")?
            .ok_or("/proc/mounts: not present")?;
        return Ok((parse::mounts(&t), "/proc/mounts"));
    }
    let mut m = parse::mounts(&h.root.read("/etc/fstab")?.unwrap_or_default());
    // systemd's tmp.mount, when enabled, mounts /tmp as tmpfs with its own options.
    if !m.iter().any(|x| x.target == "/tmp")
        && h.root
            .exists("/etc/systemd/system/local-fs.target.wants/tmp.mount")
    {
        for unit in [
            "/etc/systemd/system/tmp.mount",
            "/usr/lib/systemd/system/tmp.mount",
            "/lib/systemd/system/tmp.mount",
        ] {
            if let Some(t) = h.root.read(unit)? {
                if let Some(o) = t.lines().find_map(|l| l.trim().strip_prefix("Options=")) {
                    m.push(Mount {
                        target: "/tmp".into(),
                        fstype: "tmpfs".into(),
                        options: o.split(',').map(str::to_string).collect(),
                    });
                    break;
                }
            }
        }
    }
    Ok((m, "/etc/fstab"))
}

fn mount_options(h: &Host, out: &mut Out<'_>, target: &str, default: Option<&[&str]>) {
    let want = ["nodev", "nosuid", "noexec"];
    let (table, from) = match mount_table(h) {
        Ok(t) => t,
        Err(e) => return out.unknown(target, format!("cannot read the mounts: {e}")),
    };
    let opts: Vec<String> = match table.iter().rev().find(|m| m.target == target) {
        Some(m) => m.options.clone(),
        None => match default {
            // systemd mounts /dev/shm itself when fstab does not.
            Some(d) => d.iter().map(|s| s.to_string()).collect(),
            None => {
                return out.fail(
                    target,
                    format!(
                        "not a separate filesystem in {from}: its mount options cannot restrict it"
                    ),
                )
            }
        },
    };
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|w| !opts.iter().any(|o| o == w))
        .collect();
    if missing.is_empty() {
        out.pass(target, format!("mounted {} ({from})", opts.join(",")))
    } else {
        out.fail(
            target,
            format!(
                "mounted {} ({from}): missing {}",
                opts.join(","),
                missing.join(", ")
            ),
        )
    }
}

fn tmp_mount(h: &Host, out: &mut Out<'_>) {
    mount_options(h, out, "/tmp", None);
}

fn shm_mount(h: &Host, out: &mut Out<'_>) {
    mount_options(h, out, "/dev/shm", Some(&["rw", "nosuid", "nodev"]));
}

// ---- kernel parameters

/// A kernel parameter: live from /proc/sys, or as configured.
fn sysctl(
    h: &Host,
    configured: &BTreeMap<String, Set>,
    key: &str,
) -> Result<Option<(String, String)>, String> {
    if h.live {
        let p = format!("/proc/sys/{}", key.replace('.', "/"));
        return Ok(h.root.read(&p)?.map(|v| (v.trim().to_string(), p)));
    }
    Ok(configured.get(key).map(|s| (s.value.clone(), s.at.clone())))
}

/// Each of `keys` must satisfy `ok`; `default` is the kernel's value when not configured
/// (`None`: not certain, so unknown).
fn sysctl_check(
    h: &Host,
    out: &mut Out<'_>,
    keys: &[&str],
    want: &str,
    ok: fn(&str) -> bool,
    default: Option<&str>,
) {
    let (configured, errors) = if h.live {
        (BTreeMap::new(), Vec::new())
    } else {
        parse::sysctl_configured(&h.root)
    };
    for key in keys {
        match sysctl(h, &configured, key) {
            Ok(Some((v, at))) if ok(&v) => out.pass(*key, format!("{v} ({at})")),
            Ok(Some((v, at))) => out.fail(*key, format!("{v} ({at}), expected {want}")),
            Ok(None) if h.live => out.unknown(*key, "not present in /proc/sys on this kernel"),
            Ok(None) if !errors.is_empty() => out.unknown(*key, format!("not configured, and some sysctl files cannot be read: {}", errors.join("; "))),
            Ok(None) => match default {
                Some(d) if ok(d) => out.pass(*key, format!("not configured: the kernel's default {d}")),
                Some(d) => out.fail(*key, format!("not configured: the kernel's default {d}, expected {want}")),
                None => out.unknown(*key, "not configured, and the kernel's default depends on how it was built: read it on the running host"),
            },
            Err(e) => out.unknown(*key, format!("cannot be read: {e}")),
        }
    }
}

fn aslr(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &["kernel.randomize_va_space"],
        "2",
        |v| v == "2",
        Some("2"),
    );
}
fn ptrace(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &["kernel.yama.ptrace_scope"],
        "1 or more",
        |v| v.parse::<u8>().is_ok_and(|n| n >= 1),
        None,
    );
}
fn dmesg(h: &Host, out: &mut Out<'_>) {
    sysctl_check(h, out, &["kernel.dmesg_restrict"], "1", |v| v == "1", None);
}
fn kptr(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &["kernel.kptr_restrict"],
        "1 or 2",
        |v| v == "1" || v == "2",
        None,
    );
}
fn ip_forward(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"],
        "0 (a Docker host or Kubernetes node needs 1: accept the failure there)",
        |v| v == "0",
        Some("0"),
    );
}
fn send_redirects(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &[
            "net.ipv4.conf.all.send_redirects",
            "net.ipv4.conf.default.send_redirects",
        ],
        "0",
        |v| v == "0",
        Some("1"),
    );
}
fn accept_redirects(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &[
            "net.ipv4.conf.all.accept_redirects",
            "net.ipv4.conf.default.accept_redirects",
            "net.ipv6.conf.all.accept_redirects",
            "net.ipv6.conf.default.accept_redirects",
        ],
        "0",
        |v| v == "0",
        Some("1"),
    );
}
fn source_route(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &[
            "net.ipv4.conf.all.accept_source_route",
            "net.ipv4.conf.default.accept_source_route",
        ],
        "0",
        |v| v == "0",
        None,
    );
}
fn syn_cookies(h: &Host, out: &mut Out<'_>) {
    sysctl_check(
        h,
        out,
        &["net.ipv4.tcp_syncookies"],
        "1",
        |v| v == "1",
        Some("1"),
    );
}

// ---- SSH daemon

fn with_sshd(
    h: &Host,
    out: &mut Out<'_>,
    judge: impl FnOnce(&BTreeMap<String, Set>, &mut Out<'_>),
) {
    match parse::sshd_config(&h.root) {
        Ok(Some(c)) => judge(&c, out),
        Ok(None) => out.unknown(
            "/etc/ssh/sshd_config",
            "not present: no SSH daemon configured",
        ),
        Err(e) => out.unknown("/etc/ssh/sshd_config", format!("cannot be read: {e}")),
    }
}

/// A keyword's value must satisfy `ok`; `default` is sshd's own when unset.
fn sshd_check(
    h: &Host,
    out: &mut Out<'_>,
    key: &str,
    want: &str,
    ok: fn(&str) -> bool,
    default: &str,
) {
    let res = format!("sshd {key}");
    with_sshd(h, out, |c, out| match c.get(&key.to_ascii_lowercase()) {
        Some(s) if ok(&s.value) => out.pass(res, format!("{} ({})", s.value, s.at)),
        Some(s) => out.fail(res, format!("{} ({}), expected {want}", s.value, s.at)),
        None if ok(default) => out.pass(res, format!("not set: sshd's default {default}")),
        None => out.fail(
            res,
            format!("not set: sshd's default {default}, expected {want}"),
        ),
    });
}

fn sshd_root(h: &Host, out: &mut Out<'_>) {
    sshd_check(
        h,
        out,
        "PermitRootLogin",
        "no",
        |v| v.eq_ignore_ascii_case("no"),
        "prohibit-password",
    );
}
fn sshd_password(h: &Host, out: &mut Out<'_>) {
    sshd_check(
        h,
        out,
        "PasswordAuthentication",
        "no",
        |v| v.eq_ignore_ascii_case("no"),
        "yes",
    );
}
fn sshd_empty(h: &Host, out: &mut Out<'_>) {
    sshd_check(
        h,
        out,
        "PermitEmptyPasswords",
        "no",
        |v| v.eq_ignore_ascii_case("no"),
        "no",
    );
}
fn sshd_max_auth(h: &Host, out: &mut Out<'_>) {
    sshd_check(
        h,
        out,
        "MaxAuthTries",
        "4 or less",
        |v| v.parse::<u32>().is_ok_and(|n| n <= 4),
        "6",
    );
}
fn sshd_idle(h: &Host, out: &mut Out<'_>) {
    sshd_check(
        h,
        out,
        "ClientAliveInterval",
        "1 to 300 seconds",
        |v| v.parse::<u32>().is_ok_and(|n| (1..=300).contains(&n)),
        "0",
    );
    sshd_check(
        h,
        out,
        "ClientAliveCountMax",
        "3 or less",
        |v| v.parse::<u32>().is_ok_and(|n| n <= 3),
        "3",
    );
}

/// The algorithms a list keyword ends with, given sshd's default (`+` appends, `-` removes,
/// `^` puts first).
fn algorithms(value: Option<&Set>, default: &[&str]) -> Vec<String> {
    let d: Vec<String> = default.iter().map(|s| s.to_string()).collect();
    let Some(v) = value else { return d };
    let v = v.value.as_str();
    let list = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
    if let Some(r) = v.strip_prefix('+') {
        d.into_iter().chain(list(r)).collect()
    } else if let Some(r) = v.strip_prefix('-') {
        let drop = list(r);
        d.into_iter()
            .filter(|a| !drop.iter().any(|x| x == a))
            .collect()
    } else if let Some(r) = v.strip_prefix('^') {
        list(r).into_iter().chain(d).collect()
    } else {
        list(v)
    }
}

/// OpenSSH 9's defaults.
const DEFAULT_CIPHERS: [&str; 6] = [
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
];
const DEFAULT_MACS: [&str; 10] = [
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
];

fn weak_list(h: &Host, out: &mut Out<'_>, key: &str, default: &[&str], weak: fn(&str) -> bool) {
    let res = format!("sshd {key}");
    with_sshd(h, out, |c, out| {
        let set = c.get(&key.to_ascii_lowercase());
        let algs = algorithms(set, default);
        let bad: Vec<&String> = algs.iter().filter(|a| weak(a)).collect();
        let at = set.map_or("sshd's default".to_string(), |s| s.at.clone());
        if bad.is_empty() {
            out.pass(res, format!("no weak algorithm ({at})"))
        } else {
            out.fail(
                res,
                format!(
                    "weak: {} ({at})",
                    bad.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
    });
}

fn sshd_ciphers(h: &Host, out: &mut Out<'_>) {
    weak_list(h, out, "Ciphers", &DEFAULT_CIPHERS, |a| {
        a.ends_with("-cbc") || a.starts_with("arcfour") || a.contains("cbc@") || a == "none"
    });
}
fn sshd_macs(h: &Host, out: &mut Out<'_>) {
    weak_list(h, out, "MACs", &DEFAULT_MACS, |a| {
        a.starts_with("hmac-md5")
            || a.starts_with("hmac-sha1")
            || a.starts_with("umac-64")
            || a.starts_with("hmac-ripemd160")
    });
}

// ---- files and accounts

/// The gid of a group, from the tree's /etc/group.
fn gid_of(h: &Host, group: &str) -> Option<u32> {
    let t = h.root.read("/etc/group").ok()??;
    parse::colon_file(&t)
        .iter()
        .find(|f| f.first() == Some(&group))
        .and_then(|f| f.get(2)?.parse().ok())
}

/// Mode at most `max`, owner root, group root or one of `groups`.
fn file_check(h: &Host, out: &mut Out<'_>, path: &str, max: u32, groups: &[&str]) {
    match h.root.meta(path) {
        Ok(Some(m)) => {
            let gids: Vec<u32> = std::iter::once(0)
                .chain(groups.iter().filter_map(|g| gid_of(h, g)))
                .collect();
            let mut bad = Vec::new();
            if m.mode & !max != 0 {
                bad.push(format!(
                    "mode {:04o}, expected {max:04o} or more restrictive",
                    m.mode
                ));
            }
            if m.uid != 0 {
                bad.push(format!("owner uid {}, expected root", m.uid));
            }
            if !gids.contains(&m.gid) {
                bad.push(format!(
                    "group gid {}, expected root{}",
                    m.gid,
                    groups
                        .iter()
                        .map(|g| format!(" or {g}"))
                        .collect::<String>()
                ));
            }
            if bad.is_empty() {
                out.pass(path, format!("mode {:04o}, root-owned", m.mode))
            } else {
                out.fail(path, bad.join("; "))
            }
        }
        Ok(None) => out.unknown(path, "not present"),
        Err(e) => out.unknown(path, format!("cannot be read: {e}")),
    }
}

fn passwd_mode(h: &Host, out: &mut Out<'_>) {
    file_check(h, out, "/etc/passwd", 0o644, &[]);
}
fn shadow_mode(h: &Host, out: &mut Out<'_>) {
    file_check(h, out, "/etc/shadow", 0o640, &["shadow"]);
}
fn group_mode(h: &Host, out: &mut Out<'_>) {
    file_check(h, out, "/etc/group", 0o644, &[]);
}
fn gshadow_mode(h: &Host, out: &mut Out<'_>) {
    file_check(h, out, "/etc/gshadow", 0o640, &["shadow"]);
}
fn cron_mode(h: &Host, out: &mut Out<'_>) {
    let mut any = false;
    for (p, max) in [
        ("/etc/crontab", 0o600),
        ("/etc/cron.hourly", 0o700),
        ("/etc/cron.daily", 0o700),
        ("/etc/cron.weekly", 0o700),
        ("/etc/cron.monthly", 0o700),
        ("/etc/cron.d", 0o700),
    ] {
        if h.root.exists(p) {
            any = true;
            file_check(h, out, p, max, &[]);
        }
    }
    if !any {
        out.pass("cron", "no cron configuration on this host");
    }
}

fn empty_passwords(h: &Host, out: &mut Out<'_>) {
    match h.root.read("/etc/shadow") {
        Ok(Some(t)) => {
            let empty: Vec<&str> = parse::colon_file(&t)
                .iter()
                .filter(|f| f.len() > 1 && f[1].is_empty())
                .map(|f| f[0])
                .collect();
            if empty.is_empty() {
                out.pass("/etc/shadow", "every account has a password or is locked")
            } else {
                out.fail(
                    "/etc/shadow",
                    format!("no password (anyone may log in): {}", empty.join(", ")),
                )
            }
        }
        Ok(None) => out.unknown("/etc/shadow", "not present"),
        Err(e) => out.unknown(
            "/etc/shadow",
            format!("cannot be read (run as root to judge it): {e}"),
        ),
    }
}

fn uid0(h: &Host, out: &mut Out<'_>) {
    match h.root.read("/etc/passwd") {
        Ok(Some(t)) => {
            let extra: Vec<&str> = parse::colon_file(&t)
                .iter()
                .filter(|f| f.len() > 2 && f[2] == "0" && f[0] != "root")
                .map(|f| f[0])
                .collect();
            if extra.is_empty() {
                out.pass("/etc/passwd", "root is the only UID 0 account")
            } else {
                out.fail(
                    "/etc/passwd",
                    format!("other UID 0 accounts: {}", extra.join(", ")),
                )
            }
        }
        Ok(None) => out.unknown("/etc/passwd", "not present"),
        Err(e) => out.unknown("/etc/passwd", format!("cannot be read: {e}")),
    }
}

// ---- auditd and the story's signals

fn auditd(h: &Host, out: &mut Out<'_>) {
    match ["/sbin/auditd", "/usr/sbin/auditd"]
        .into_iter()
        .find(|p| h.root.exists(p))
    {
        Some(p) => out.pass("auditd", format!("installed ({p})")),
        None => out.fail(
            "auditd",
            "not installed: no kernel audit trail of file and identity changes",
        ),
    }
}

/// The audit rules: /etc/audit/rules.d/*.rules and /etc/audit/audit.rules.
fn audit_rules(h: &Host) -> Result<String, String> {
    let (files, bad) = h.root.read_dir_files("/etc/audit/rules.d", ".rules");
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    let mut all: String = files.into_iter().map(|(_, t)| t + "\n").collect();
    if let Some(t) = h.root.read("/etc/audit/audit.rules")? {
        all.push_str(&t);
    }
    Ok(all)
}

/// Whether the rules watch `path` for writes (`-w path -p ...wa...`, or a syscall rule on it).
fn watched(rules: &str, path: &str) -> bool {
    rules
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(2).any(|p| {
                (p[0] == "-w" && p[1] == path) || (p[0] == "-F" && p[1] == format!("path={path}"))
            }) && w
                .windows(2)
                .find(|p| p[0] == "-p")
                .is_none_or(|p| p[1].contains('w'))
        })
}

fn audit_watch(h: &Host, out: &mut Out<'_>, paths: &[&str]) {
    match audit_rules(h) {
        Ok(r) => {
            for p in paths {
                if watched(&r, p) {
                    out.pass(format!("audit {p}"), "written changes are audited")
                } else {
                    out.fail(
                        format!("audit {p}"),
                        format!("no audit rule watches it (add `-w {p} -p wa -k harrier`)"),
                    )
                }
            }
        }
        Err(e) => out.unknown("/etc/audit/rules.d", format!("cannot be read: {e}")),
    }
}

fn audit_identity(h: &Host, out: &mut Out<'_>) {
    audit_watch(
        h,
        out,
        &[
            "/etc/passwd",
            "/etc/group",
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/security/opasswd",
        ],
    );
}
fn audit_preload(h: &Host, out: &mut Out<'_>) {
    audit_watch(h, out, &["/etc/ld.so.preload"]);
}

fn ld_preload(h: &Host, out: &mut Out<'_>) {
    match h.root.read("/etc/ld.so.preload") {
        Ok(None) => out.pass("/etc/ld.so.preload", "not present"),
        Ok(Some(t)) => {
            let libs: Vec<&str> = t
                .split_whitespace()
                .filter(|w| !w.starts_with('#'))
                .collect();
            if libs.is_empty() {
                out.pass("/etc/ld.so.preload", "present but empty")
            } else {
                out.fail(
                    "/etc/ld.so.preload",
                    format!(
                        "loads {} into every process (how rootkits hide miners): {}",
                        if libs.len() == 1 {
                            "a library"
                        } else {
                            "libraries"
                        },
                        libs.join(", ")
                    ),
                )
            }
        }
        Err(e) => out.unknown("/etc/ld.so.preload", format!("cannot be read: {e}")),
    }
}

// ---- services and world-writable files

/// Services a server rarely needs, by systemd unit name.
const UNNEEDED: [&str; 20] = [
    "xinetd",
    "avahi-daemon",
    "cups",
    "isc-dhcp-server",
    "isc-dhcp-server6",
    "slapd",
    "nfs-server",
    "nfs-kernel-server",
    "rpcbind",
    "bind9",
    "named",
    "vsftpd",
    "apache2",
    "dovecot",
    "smbd",
    "squid",
    "snmpd",
    "rsync",
    "ypserv",
    "telnet",
];

fn services(h: &Host, out: &mut Out<'_>) {
    let mut enabled = Vec::new();
    let dirs = match h.root.list("/etc/systemd/system") {
        Ok(d) => d,
        Err(e) => return out.unknown("/etc/systemd/system", format!("cannot be read: {e}")),
    };
    for d in dirs.iter().filter(|d| d.ends_with(".wants")) {
        for unit in h
            .root
            .list(&format!("/etc/systemd/system/{d}"))
            .unwrap_or_default()
        {
            let name = unit
                .trim_end_matches(".service")
                .trim_end_matches(".socket");
            if UNNEEDED
                .iter()
                .any(|u| name == *u || name.starts_with(&format!("{u}@")))
                && !enabled.contains(&name.to_string())
            {
                enabled.push(name.to_string());
            }
        }
    }
    if enabled.is_empty() {
        out.pass("systemd", "none of the listed services is enabled")
    } else {
        out.fail(
            "systemd",
            format!(
                "enabled: {} (disable what this host does not serve)",
                enabled.join(", ")
            ),
        )
    }
}

/// System directories walked for world-writable entries.
const SYSTEM_DIRS: [&str; 8] = [
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/opt", "/var", "/boot",
];
const MAX_WALK: usize = 300_000;

/// World-writable directories without the sticky bit, and world-writable files, under one
/// base directory; the entries seen.
fn walk_writable(
    real: std::path::PathBuf,
    base: &str,
    budget: usize,
) -> (Vec<String>, Vec<String>, usize) {
    let (mut dirs, mut files, mut seen) = (Vec::new(), Vec::new(), 0usize);
    let mut stack = vec![(real, base.to_string(), 0usize)];
    while let Some((p, shown, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > budget {
                return (dirs, files, seen);
            }
            // The entry's own metadata (not following links), read relative to its directory.
            let Ok(m) = e.metadata() else { continue };
            let ww = m.mode() & 0o002 != 0;
            if m.is_dir() {
                let name = format!("{shown}/{}", e.file_name().to_string_lossy());
                if ww && m.mode() & 0o1000 == 0 {
                    dirs.push(name.clone());
                }
                if depth < 32 {
                    stack.push((e.path(), name, depth + 1));
                }
            } else if m.is_file() && ww {
                files.push(format!("{shown}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    (dirs, files, seen)
}

fn world_writable(h: &Host, out: &mut Out<'_>) {
    // One thread per base directory: the walk is system calls, and every core helps.
    let bases: Vec<(std::path::PathBuf, &str)> = SYSTEM_DIRS
        .iter()
        .filter_map(|b| h.root.resolve(b, true).ok().map(|r| (r, *b)))
        .collect();
    let budget = MAX_WALK / bases.len().max(1);
    let parts: Vec<(Vec<String>, Vec<String>, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = bases
            .into_iter()
            .map(|(real, base)| s.spawn(move || walk_writable(real, base, budget)))
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let (mut dirs, mut files, mut truncated) = (Vec::new(), Vec::new(), false);
    for (d, f, n) in parts {
        dirs.extend(d);
        files.extend(f);
        truncated |= n > budget;
    }
    let seen = if truncated { MAX_WALK + 1 } else { 0 };
    let show = |v: &mut Vec<String>| {
        v.sort();
        let n = v.len();
        let mut s = v.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        if n > 10 {
            s.push_str(&format!(" and {} more", n - 10));
        }
        s
    };
    let partial = if seen > MAX_WALK {
        format!(" (first {MAX_WALK} entries)")
    } else {
        String::new()
    };
    if dirs.is_empty() {
        out.pass(
            "world-writable directories",
            format!("all have the sticky bit{partial}"),
        );
    } else {
        out.fail(
            "world-writable directories",
            format!("without the sticky bit: {}{partial}", show(&mut dirs)),
        );
    }
    if files.is_empty() {
        out.pass(
            "world-writable files",
            format!("none in system directories{partial}"),
        );
    } else {
        out.fail(
            "world-writable files",
            format!("{}{partial}", show(&mut files)),
        );
    }
}

// ---- the catalogue

macro_rules! lcheck {
    ($name:ident, $id:expr, $svc:expr, $rt:expr, $cis:expr, $sev:expr, $title:expr, $why:expr, $fix:expr, $cli:expr, $run:expr) => {
        /// See its `title`.
        pub static $name: HostCheck = HostCheck {
            profile: Profile::Linux,
            run: $run,
            check: Check {
                id: $id,
                title: $title,
                service: $svc,
                resource_type: $rt,
                severity: $sev,
                rationale: $why,
                remediation: $fix,
                cli: $cli,
                frameworks: $cis,
                eval: not_a_snapshot_check,
            },
        };
    };
}

const SYSCTL_FIX: &str = "Set it in a file of /etc/sysctl.d (e.g. /etc/sysctl.d/60-harrier.conf) and apply it with `sysctl --system`.";
const SSHD_FIX: &str = "systemctl reload ssh";

lcheck!(TMP_MOUNT, "linux_tmp_nodev_nosuid_noexec", "filesystem", "mount", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["1.1.2", "1.1.3", "1.1.4", "1.1.5"])], Severity::Medium,
    "/tmp is its own filesystem, mounted nodev, nosuid and noexec",
    "Every user can write /tmp: without noexec and nosuid a dropped binary (a miner, an exploit) runs from it.",
    "Mount /tmp separately, e.g. the fstab line `tmpfs /tmp tmpfs defaults,rw,nosuid,nodev,noexec,relatime 0 0`, or enable tmp.mount with `Options=mode=1777,strictatime,nosuid,nodev,noexec`.",
    &["mount -o remount,nodev,nosuid,noexec /tmp"], tmp_mount);
lcheck!(SHM_MOUNT, "linux_dev_shm_nodev_nosuid_noexec", "filesystem", "mount", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["1.1.15", "1.1.16", "1.1.17"])], Severity::Medium,
    "/dev/shm is mounted nodev, nosuid and noexec",
    "Shared memory is writable by every process: attackers run payloads from it to leave no file on disk.",
    "Add the fstab line `tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0`.",
    &["mount -o remount,nodev,nosuid,noexec /dev/shm"], shm_mount);
lcheck!(
    ASLR,
    "linux_aslr_enabled",
    "kernel",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["1.5.3"])],
    Severity::High,
    "Address space layout randomisation is full (kernel.randomize_va_space = 2)",
    "Without randomisation, memory-corruption exploits know where to jump.",
    "`kernel.randomize_va_space = 2` in /etc/sysctl.d.",
    &["sysctl -w kernel.randomize_va_space=2"],
    aslr
);
lcheck!(PTRACE, "linux_ptrace_scope_restricted", "kernel", "sysctl", &[("nist-800-53-r5", &["CM-6"])], Severity::Medium,
    "ptrace is restricted to a process's descendants (kernel.yama.ptrace_scope >= 1)",
    "With scope 0 any process can attach to every other process of its user and read its memory (keys, tokens).",
    "`kernel.yama.ptrace_scope = 1` in /etc/sysctl.d.", &["sysctl -w kernel.yama.ptrace_scope=1"], ptrace);
lcheck!(
    DMESG,
    "linux_dmesg_restricted",
    "kernel",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"])],
    Severity::Low,
    "The kernel log is readable by root only (kernel.dmesg_restrict = 1)",
    "The kernel log leaks addresses and hardware details that help kernel exploits.",
    "`kernel.dmesg_restrict = 1` in /etc/sysctl.d.",
    &["sysctl -w kernel.dmesg_restrict=1"],
    dmesg
);
lcheck!(
    KPTR,
    "linux_kptr_restricted",
    "kernel",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"])],
    Severity::Low,
    "Kernel pointers are hidden from users (kernel.kptr_restrict >= 1)",
    "Kernel addresses in /proc defeat kernel address randomisation.",
    "`kernel.kptr_restrict = 1` in /etc/sysctl.d.",
    &["sysctl -w kernel.kptr_restrict=1"],
    kptr
);
lcheck!(
    IP_FORWARD,
    "linux_ip_forwarding_disabled",
    "network",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["3.1.1"])],
    Severity::Medium,
    "IP forwarding is off (unless the host routes: Docker, Kubernetes)",
    "A host that forwards packets can be used to reach networks behind it.",
    SYSCTL_FIX,
    &["sysctl -w net.ipv4.ip_forward=0"],
    ip_forward
);
lcheck!(
    SEND_REDIRECTS,
    "linux_send_redirects_disabled",
    "network",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["3.1.2"])],
    Severity::Low,
    "The host sends no ICMP redirects",
    "Only routers send redirects; a host that does can be used to misroute its neighbours.",
    SYSCTL_FIX,
    &[
        "sysctl -w net.ipv4.conf.all.send_redirects=0",
        "sysctl -w net.ipv4.conf.default.send_redirects=0"
    ],
    send_redirects
);
lcheck!(
    ACCEPT_REDIRECTS,
    "linux_accept_redirects_disabled",
    "network",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["3.2.2"])],
    Severity::Medium,
    "The host ignores ICMP redirects",
    "Accepted redirects let an attacker on the network reroute the host's traffic through itself.",
    SYSCTL_FIX,
    &[
        "sysctl -w net.ipv4.conf.all.accept_redirects=0",
        "sysctl -w net.ipv6.conf.all.accept_redirects=0"
    ],
    accept_redirects
);
lcheck!(
    SOURCE_ROUTE,
    "linux_source_route_disabled",
    "network",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["3.2.1"])],
    Severity::Medium,
    "Source-routed packets are refused",
    "Source routing lets a sender choose the path, around firewalls.",
    SYSCTL_FIX,
    &["sysctl -w net.ipv4.conf.all.accept_source_route=0"],
    source_route
);
lcheck!(
    SYN_COOKIES,
    "linux_tcp_syn_cookies",
    "network",
    "sysctl",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["3.2.8"])],
    Severity::Low,
    "TCP SYN cookies are on",
    "SYN cookies keep the host answering during a SYN flood.",
    SYSCTL_FIX,
    &["sysctl -w net.ipv4.tcp_syncookies=1"],
    syn_cookies
);
lcheck!(SSHD_ROOT, "linux_sshd_no_root_login", "ssh", "sshd_config", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["5.2.10"])], Severity::High,
    "SSH refuses logins as root (PermitRootLogin no)",
    "Direct root logins leave no trace of who logged in, and make root's key or password the one secret to steal.",
    "`PermitRootLogin no` in /etc/ssh/sshd_config (before any Match block), then reload sshd.", &[SSHD_FIX], sshd_root);
lcheck!(
    SSHD_PASSWORD,
    "linux_sshd_no_password_auth",
    "ssh",
    "sshd_config",
    &[("nist-800-53-r5", &["CM-6"])],
    Severity::Medium,
    "SSH accepts keys only (PasswordAuthentication no)",
    "Password logins can be guessed and sprayed from the internet; keys cannot.",
    "`PasswordAuthentication no` in /etc/ssh/sshd_config, then reload sshd.",
    &[SSHD_FIX],
    sshd_password
);
lcheck!(
    SSHD_EMPTY,
    "linux_sshd_no_empty_passwords",
    "ssh",
    "sshd_config",
    &[
        ("nist-800-53-r5", &["CM-6"]),
        ("cis-linux-2.0", &["5.2.11"])
    ],
    Severity::High,
    "SSH refuses accounts with empty passwords",
    "An account without a password is an open door.",
    "`PermitEmptyPasswords no` in /etc/ssh/sshd_config, then reload sshd.",
    &[SSHD_FIX],
    sshd_empty
);
lcheck!(
    SSHD_MAX_AUTH,
    "linux_sshd_max_auth_tries",
    "ssh",
    "sshd_config",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["5.2.7"])],
    Severity::Low,
    "SSH allows at most 4 authentication attempts per connection",
    "Fewer attempts per connection slow guessing and log it sooner.",
    "`MaxAuthTries 4` in /etc/ssh/sshd_config, then reload sshd.",
    &[SSHD_FIX],
    sshd_max_auth
);
lcheck!(SSHD_IDLE, "linux_sshd_idle_timeout", "ssh", "sshd_config", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["5.2.16"])], Severity::Low,
    "Idle SSH sessions are closed (ClientAliveInterval 1-300, ClientAliveCountMax <= 3)",
    "An unattended open session is a logged-in shell for whoever finds it.",
    "`ClientAliveInterval 300` and `ClientAliveCountMax 3` in /etc/ssh/sshd_config, then reload sshd.", &[SSHD_FIX], sshd_idle);
lcheck!(SSHD_CIPHERS, "linux_sshd_strong_ciphers", "ssh", "sshd_config", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["5.2.13"])], Severity::Medium,
    "SSH offers no weak cipher (CBC modes, arcfour)",
    "CBC ciphers and RC4 have known attacks that recover plaintext.",
    "`Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr` in /etc/ssh/sshd_config.", &[SSHD_FIX], sshd_ciphers);
lcheck!(SSHD_MACS, "linux_sshd_strong_macs", "ssh", "sshd_config", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["5.2.14"])], Severity::Low,
    "SSH offers no weak MAC (MD5, SHA-1, 64-bit UMAC)",
    "Weak MACs make tampering with the session easier.",
    "`MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-512,hmac-sha2-256` in /etc/ssh/sshd_config.", &[SSHD_FIX], sshd_macs);
lcheck!(
    PASSWD_MODE,
    "linux_passwd_permissions",
    "accounts",
    "file",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.1.2"])],
    Severity::High,
    "/etc/passwd is 644 or more restrictive and owned by root",
    "Whoever can write /etc/passwd can add a UID 0 account.",
    "Restore its owner and mode.",
    &["chown root:root /etc/passwd", "chmod 644 /etc/passwd"],
    passwd_mode
);
lcheck!(
    SHADOW_MODE,
    "linux_shadow_permissions",
    "accounts",
    "file",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.1.3"])],
    Severity::Critical,
    "/etc/shadow is 640 or more restrictive, owned by root (group root or shadow)",
    "Readable password hashes are cracked offline.",
    "Restore its owner and mode.",
    &["chown root:shadow /etc/shadow", "chmod 640 /etc/shadow"],
    shadow_mode
);
lcheck!(
    GROUP_MODE,
    "linux_group_permissions",
    "accounts",
    "file",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.1.4"])],
    Severity::High,
    "/etc/group is 644 or more restrictive and owned by root",
    "Whoever can write /etc/group can join sudo, docker or root's group.",
    "Restore its owner and mode.",
    &["chown root:root /etc/group", "chmod 644 /etc/group"],
    group_mode
);
lcheck!(
    GSHADOW_MODE,
    "linux_gshadow_permissions",
    "accounts",
    "file",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.1.5"])],
    Severity::High,
    "/etc/gshadow is 640 or more restrictive, owned by root (group root or shadow)",
    "Group password hashes are cracked offline.",
    "Restore its owner and mode.",
    &["chown root:shadow /etc/gshadow", "chmod 640 /etc/gshadow"],
    gshadow_mode
);
lcheck!(
    CRON_MODE,
    "linux_cron_permissions",
    "cron",
    "file",
    &[
        ("nist-800-53-r5", &["CM-6"]),
        (
            "cis-linux-2.0",
            &["5.1.2", "5.1.3", "5.1.4", "5.1.5", "5.1.6", "5.1.7"]
        )
    ],
    Severity::Medium,
    "crontab and the cron directories are root's alone (600 / 700)",
    "Whoever can write a cron file runs commands as root on schedule: the classic persistence.",
    "Restrict them to root.",
    &[
        "chown root:root /etc/crontab && chmod 600 /etc/crontab",
        "chmod 700 /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly /etc/cron.d"
    ],
    cron_mode
);
lcheck!(
    EMPTY_PASSWORDS,
    "linux_no_empty_passwords",
    "accounts",
    "account",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.2.1"])],
    Severity::Critical,
    "No account has an empty password",
    "An account without a password can be logged into by anyone who reaches a login service.",
    "Lock the account or give it a password.",
    &["passwd -l <user>"],
    empty_passwords
);
lcheck!(
    UID0,
    "linux_only_root_uid0",
    "accounts",
    "account",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["6.2.5"])],
    Severity::Critical,
    "root is the only account with UID 0",
    "A second UID 0 account is root under another name: a classic backdoor.",
    "Remove the account or give it its own UID.",
    &["usermod -u <new-uid> <user>"],
    uid0
);
lcheck!(AUDITD, "linux_auditd_installed", "audit", "package", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["4.1.2"])], Severity::Medium,
    "auditd is installed",
    "The kernel audit trail records who changed identity files and loaded libraries, independent of the sensor.",
    "Install the audit daemon and enable it.", &["apt-get install auditd audispd-plugins && systemctl enable --now auditd"], auditd);
lcheck!(AUDIT_IDENTITY, "linux_audit_identity_files", "audit", "audit rule", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["4.1.6"])], Severity::Medium,
    "Changes to the identity files are audited",
    "A new account or a group change (the story's admin user) must leave a record on the host.",
    "Add to /etc/audit/rules.d/50-identity.rules: `-w /etc/passwd -p wa -k identity`, and the same for /etc/group, /etc/shadow, /etc/gshadow and /etc/security/opasswd; then `augenrules --load`.",
    &["augenrules --load"], audit_identity);
lcheck!(AUDIT_PRELOAD, "linux_audit_ld_so_preload", "audit", "audit rule", &[("nist-800-53-r5", &["CM-6"])], Severity::Medium,
    "Writes to /etc/ld.so.preload are audited",
    "/etc/ld.so.preload is how userland rootkits hide a miner from ps and top (the story's xmrig); its change must be recorded.",
    "Add `-w /etc/ld.so.preload -p wa -k preload` to /etc/audit/rules.d/, then `augenrules --load`.", &["augenrules --load"], audit_preload);
lcheck!(LD_PRELOAD, "linux_no_ld_so_preload", "integrity", "file", &[("nist-800-53-r5", &["CM-6"])], Severity::Critical,
    "/etc/ld.so.preload loads nothing",
    "Libraries listed there are loaded into every process: the hook userland rootkits (libprocesshider) use to hide processes and files. Legitimate use is rare.",
    "Find out what installed it; remove the entries and the libraries, and treat the host as compromised if you did not put them there.",
    &["cat /etc/ld.so.preload"], ld_preload);
lcheck!(SERVICES, "linux_unneeded_services_disabled", "services", "service", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["2.1.8", "2.1.10", "2.2.3", "2.2.4", "2.2.5", "2.2.6", "2.2.7", "2.2.8", "2.2.9", "2.2.10", "2.2.11", "2.2.12", "2.2.13", "2.2.14", "2.2.16", "2.2.17"])], Severity::Medium,
    "No rarely-needed network service is enabled (xinetd, avahi, cups, DHCP, LDAP, NFS, DNS, FTP, HTTP, mail, Samba, proxy, SNMP, rsync, telnet)",
    "Each service is attack surface; one that nobody uses is not patched or watched either.",
    "Disable each enabled one the host does not serve.", &["systemctl disable --now <service>"], services);
lcheck!(WORLD_WRITABLE, "linux_no_world_writable_system_files", "filesystem", "file", &[("nist-800-53-r5", &["CM-6"]), ("cis-linux-2.0", &["1.1.21", "6.1.10"])], Severity::Medium,
    "System directories hold no world-writable file, and world-writable directories have the sticky bit",
    "A world-writable system file can be replaced by any user; without the sticky bit, any user can delete or rename others' files.",
    "Remove the write bit for others, or set the sticky bit on the directory.", &["chmod o-w <file>", "chmod +t <directory>"], world_writable);
