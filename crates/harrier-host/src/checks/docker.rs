//! The Docker daemon (CIS Docker Benchmark v1.6.0, as docker-bench-security checks it): its
//! configuration (`/etc/docker/daemon.json`, and flags on the `dockerd` line of its systemd
//! unit, which win), its socket, and, through the Engine API socket when there is one, the
//! running containers.

use std::collections::BTreeMap;

use harrier_posture::check::not_a_snapshot_check;
use harrier_posture::{Check, Severity};
use serde_json::Value;

use super::file_mode_check;
use crate::parse;
use crate::{Host, HostCheck, Out, Profile};

const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const UNITS: [&str; 3] = [
    "/lib/systemd/system/docker.service",
    "/usr/lib/systemd/system/docker.service",
    "/etc/systemd/system/docker.service",
];

/// The daemon's settings by key, and the files they were read from.
type Settings = (BTreeMap<String, Value>, String);

/// The daemon's settings: daemon.json's keys, overridden by `dockerd` flags of the unit.
fn settings(h: &Host) -> Result<Option<Settings>, String> {
    let mut out = BTreeMap::new();
    let mut from = Vec::new();
    if let Some(t) = h.root.read(DAEMON_JSON)? {
        let v: Value = serde_json::from_str(&t).map_err(|e| {
            format!(
                "{DAEMON_JSON}: line {}, column {}: expected JSON: {e}",
                e.line(),
                e.column()
            )
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| format!("{DAEMON_JSON}: expected a JSON object"))?;
        out.extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
        from.push(DAEMON_JSON.to_string());
    }
    for u in UNITS {
        if let Some(t) = h.root.read(u)? {
            for l in t
                .lines()
                .filter(|l| l.trim_start().starts_with("ExecStart=") && l.contains("dockerd"))
            {
                let words: Vec<&str> = l.split_whitespace().collect();
                for (k, v) in parse::flags(words) {
                    let v = match v.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        _ => Value::String(v),
                    };
                    if k == "host" || k == "H" {
                        out.insert("hosts".into(), Value::Array(vec![v]));
                    } else {
                        out.insert(k, v);
                    }
                }
                from.push(u.to_string());
            }
        }
    }
    if from.is_empty() {
        return Ok(None);
    }
    Ok(Some((out, from.join(" and "))))
}

fn with_settings(
    h: &Host,
    out: &mut Out<'_>,
    judge: impl FnOnce(&BTreeMap<String, Value>, &str, &mut Out<'_>),
) {
    match settings(h) {
        Ok(Some((s, from))) => judge(&s, &from, out),
        Ok(None) => out.unknown(
            DAEMON_JSON,
            "neither daemon.json nor a dockerd unit found: the daemon's settings are unknown",
        ),
        Err(e) => out.unknown(DAEMON_JSON, format!("cannot be read: {e}")),
    }
}

fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s == "true"),
        _ => None,
    }
}

/// A boolean setting that must be `want`; unset is the daemon's `default`.
fn bool_setting(h: &Host, out: &mut Out<'_>, key: &str, want: bool, default: bool) {
    with_settings(h, out, |s, from, out| {
        let res = format!("dockerd {key}");
        match truthy(s.get(key)) {
            Some(v) if v == want => out.pass(res, format!("{key}: {v} ({from})")),
            Some(v) => out.fail(res, format!("{key}: {v} ({from}), expected {want}")),
            None if default == want => out.pass(res, format!("not set: the default is {default}")),
            None => out.fail(
                res,
                format!("not set in {from}: the default is {default}, expected {want}"),
            ),
        }
    });
}

fn icc(h: &Host, out: &mut Out<'_>) {
    bool_setting(h, out, "icc", false, true);
}

fn live_restore(h: &Host, out: &mut Out<'_>) {
    bool_setting(h, out, "live-restore", true, false);
}

fn no_new_privs(h: &Host, out: &mut Out<'_>) {
    bool_setting(h, out, "no-new-privileges", true, false);
}

fn userns(h: &Host, out: &mut Out<'_>) {
    with_settings(h, out, |s, from, out| {
        match s.get("userns-remap").and_then(Value::as_str) {
            Some(v) if !v.is_empty() => out.pass(
                "dockerd userns-remap",
                format!("userns-remap: {v} ({from})"),
            ),
            _ => out.fail(
                "dockerd userns-remap",
                format!("not set in {from}: root in a container is root on the host"),
            ),
        }
    });
}

fn log_driver(h: &Host, out: &mut Out<'_>) {
    with_settings(h, out, |s, from, out| {
        match s.get("log-driver").and_then(Value::as_str) {
            Some(d) if !matches!(d, "json-file" | "local" | "none") => {
                out.pass("dockerd log-driver", format!("log-driver: {d} ({from})"))
            }
            Some(d) => out.fail(
                "dockerd log-driver",
                format!("log-driver: {d} ({from}): logs stay on the host"),
            ),
            None => out.fail(
                "dockerd log-driver",
                format!("not set in {from}: the default json-file keeps logs on the host"),
            ),
        }
    });
}

fn tcp_tls(h: &Host, out: &mut Out<'_>) {
    with_settings(h, out, |s, from, out| {
        let hosts: Vec<String> = match s.get("hosts") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(h)) => vec![h.clone()],
            _ => Vec::new(),
        };
        let tcp: Vec<&String> = hosts.iter().filter(|h| h.starts_with("tcp://")).collect();
        if tcp.is_empty() {
            return out.pass("dockerd hosts", format!("no TCP listener ({from})"));
        }
        if truthy(s.get("tlsverify")) == Some(true) {
            out.pass(
                "dockerd hosts",
                format!("{} with tlsverify ({from})", tcp[0]),
            )
        } else {
            out.fail(
                "dockerd hosts",
                format!(
                    "{} without tlsverify ({from}): anyone who reaches it controls the host",
                    tcp[0]
                ),
            )
        }
    });
}

fn socket_mode(h: &Host, out: &mut Out<'_>) {
    let sock = ["/var/run/docker.sock", "/run/docker.sock"]
        .into_iter()
        .find(|p| h.root.exists(p));
    match sock {
        Some(p) => file_mode_check(h, out, p, 0o660, false),
        None => file_mode_check(h, out, DAEMON_JSON, 0o644, false),
    }
}

fn daemon_json_mode(h: &Host, out: &mut Out<'_>) {
    file_mode_check(h, out, DAEMON_JSON, 0o644, false);
    file_mode_check(h, out, DAEMON_JSON, 0o7777, true);
}

/// The TLS files the daemon is configured with: CA and certificate 444, key 400, root-owned.
fn tls_files(h: &Host, out: &mut Out<'_>) {
    with_settings(h, out, |s, from, out| {
        let mut any = false;
        for (key, max) in [("tlscacert", 0o444), ("tlscert", 0o444), ("tlskey", 0o400)] {
            if let Some(p) = s.get(key).and_then(Value::as_str) {
                any = true;
                file_mode_check(h, out, p, max, false);
                file_mode_check(h, out, p, 0o7777, true);
            }
        }
        if !any {
            out.pass(
                "dockerd TLS files",
                format!("no TLS files configured ({from})"),
            );
        }
    });
}

/// Runs `judge` on each running container, or says why they cannot be seen.
fn each_container(h: &Host, out: &mut Out<'_>, judge: fn(&Value) -> Result<String, String>) {
    let Some(sock) = &h.docker_socket else {
        return out.unknown(
            "containers",
            "not the running host: containers are not inspected",
        );
    };
    if !sock.exists() {
        return out.unknown(
            "containers",
            format!("{}: no Docker socket", sock.display()),
        );
    }
    match crate::docker_api::containers(sock) {
        Ok(cs) if cs.is_empty() => out.pass("containers", "no running container"),
        Ok(cs) => {
            for c in cs {
                let name = c["Name"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/')
                    .to_string();
                let id: String = c["Id"].as_str().unwrap_or("").chars().take(12).collect();
                let res = format!("container {name} ({id})");
                match judge(&c) {
                    Ok(why) => out.pass(res, why),
                    Err(why) => out.fail(res, why),
                }
            }
        }
        Err(e) => out.unknown("containers", format!("cannot ask the Docker daemon: {e}")),
    }
}

fn privileged(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| match c["HostConfig"]["Privileged"].as_bool() {
        Some(true) => Err("privileged: every device and capability of the host".into()),
        _ => Ok("not privileged".into()),
    });
}

fn host_network(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| match c["HostConfig"]["NetworkMode"].as_str() {
        Some("host") => Err("shares the host's network namespace".into()),
        m => Ok(format!("network mode {}", m.unwrap_or("default"))),
    });
}

fn host_pid(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| match c["HostConfig"]["PidMode"].as_str() {
        Some("host") => Err("shares the host's process namespace".into()),
        _ => Ok("own process namespace".into()),
    });
}

fn socket_mounted(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| {
        let mounted = c["Mounts"].as_array().into_iter().flatten().any(|m| {
            m["Source"]
                .as_str()
                .is_some_and(|s| s.ends_with("/docker.sock"))
        });
        if mounted {
            Err(
                "the Docker socket is mounted: the container controls the daemon, and the host"
                    .into(),
            )
        } else {
            Ok("no Docker socket mounted".into())
        }
    });
}

fn memory(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| match c["HostConfig"]["Memory"].as_i64() {
        Some(m) if m > 0 => Ok(format!("memory limited to {m} bytes")),
        _ => Err("no memory limit".into()),
    });
}

fn root_user(h: &Host, out: &mut Out<'_>) {
    each_container(h, out, |c| match c["Config"]["User"].as_str() {
        Some(u)
            if !u.is_empty()
                && u != "root"
                && u != "0"
                && !u.starts_with("0:")
                && !u.starts_with("root:") =>
        {
            Ok(format!("runs as {u}"))
        }
        _ => Err("runs as root".into()),
    });
}

macro_rules! dcheck {
    ($name:ident, $id:expr, $rt:expr, $cis:expr, $sev:expr, $title:expr, $why:expr, $fix:expr, $cli:expr, $run:expr) => {
        /// See its `title`.
        pub static $name: HostCheck = HostCheck {
            profile: Profile::Docker,
            run: $run,
            check: Check {
                id: $id,
                title: $title,
                service: "docker",
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

const RESTART: &str = "systemctl restart docker";

dcheck!(ICC, "docker_icc_disabled", "daemon", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.2"])], Severity::Medium,
    "Traffic between containers on the default bridge is restricted (icc false)",
    "With inter-container communication on, any container on the default bridge reaches every other one's ports.",
    "Set `\"icc\": false` in /etc/docker/daemon.json and restart the daemon.", &[RESTART], icc);
dcheck!(
    USERNS,
    "docker_userns_remap",
    "daemon",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.9"])],
    Severity::Medium,
    "User namespace remapping is on",
    "Without it, root in a container is root on the host once it escapes.",
    "Set `\"userns-remap\": \"default\"` in /etc/docker/daemon.json and restart the daemon.",
    &[RESTART],
    userns
);
dcheck!(
    LIVE_RESTORE,
    "docker_live_restore",
    "daemon",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.15"])],
    Severity::Low,
    "Live restore is on",
    "Containers keep running while the daemon restarts or is upgraded.",
    "Set `\"live-restore\": true` in /etc/docker/daemon.json and restart the daemon.",
    &[RESTART],
    live_restore
);
dcheck!(
    NO_NEW_PRIVS,
    "docker_no_new_privileges",
    "daemon",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.14"])],
    Severity::Medium,
    "Containers cannot gain new privileges by default (no-new-privileges)",
    "setuid binaries in a container can otherwise raise a process's privileges.",
    "Set `\"no-new-privileges\": true` in /etc/docker/daemon.json and restart the daemon.",
    &[RESTART],
    no_new_privs
);
dcheck!(LOG_DRIVER, "docker_remote_logging", "daemon", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.13"])], Severity::Low,
    "Container logs go to a central log service",
    "Logs kept only on the host are lost with it, and an intruder there can erase them.",
    "Set `\"log-driver\"` to `syslog`, `journald`, `awslogs`, `fluentd` or another remote driver in /etc/docker/daemon.json.", &[RESTART], log_driver);
dcheck!(TCP_TLS, "docker_tcp_requires_tls", "daemon", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["2.7"])], Severity::Critical,
    "A TCP listener of the daemon requires TLS client authentication",
    "The Docker API without authentication is root on the host for anyone who reaches the port.",
    "Set `\"tlsverify\": true` with `tlscacert`, `tlscert` and `tlskey` in /etc/docker/daemon.json, or remove the `tcp://` host.", &[RESTART], tcp_tls);
dcheck!(
    SOCKET_MODE,
    "docker_socket_permissions",
    "socket",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["3.16"])],
    Severity::High,
    "The Docker socket is 660 or more restrictive",
    "Whoever can write to the socket controls the daemon, and through it the host.",
    "Restrict the socket to root and the docker group.",
    &["chmod 660 /var/run/docker.sock"],
    socket_mode
);
dcheck!(DAEMON_JSON_MODE, "docker_daemon_json_permissions", "file", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["3.17", "3.18"])], Severity::Medium,
    "daemon.json is 644 or more restrictive and owned by root",
    "Whoever can write daemon.json chooses the daemon's settings at its next start (a TCP listener without TLS, no user namespaces).",
    "Restrict it to root.", &["chown root:root /etc/docker/daemon.json", "chmod 644 /etc/docker/daemon.json"], daemon_json_mode);
dcheck!(TLS_FILES, "docker_tls_files_permissions", "file", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"])], Severity::High,
    "The daemon's TLS CA, certificate (444) and key (400) files are root's and read-only",
    "A readable key lets anyone impersonate the daemon; a writable CA lets them trust their own clients.",
    "Restrict the files named by tlscacert, tlscert and tlskey.", &["chmod 444 <tlscacert> <tlscert>", "chmod 400 <tlskey>", "chown root:root <tlscacert> <tlscert> <tlskey>"], tls_files);
dcheck!(PRIVILEGED, "docker_container_not_privileged", "container", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["5.5"])], Severity::Critical,
    "No running container is privileged",
    "A privileged container has every device and capability of the host: escaping it is one mount away.",
    "Run the container without `--privileged`; grant the single capability it needs with `--cap-add`.", &[], privileged);
dcheck!(HOST_NET, "docker_container_no_host_network", "container", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["5.10"])], Severity::High,
    "No running container shares the host's network namespace",
    "With the host's network a container reaches every service bound to localhost and can sniff the host's traffic.",
    "Run the container without `--network host`.", &[], host_network);
dcheck!(
    HOST_PID,
    "docker_container_no_host_pid",
    "container",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["5.16"])],
    Severity::High,
    "No running container shares the host's process namespace",
    "With the host's PIDs a container sees, and may signal or trace, every process of the host.",
    "Run the container without `--pid host`.",
    &[],
    host_pid
);
dcheck!(
    SOCK_MOUNT,
    "docker_container_no_socket_mount",
    "container",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["5.32"])],
    Severity::Critical,
    "No running container mounts the Docker socket",
    "A container with the socket can start a privileged container: it owns the host.",
    "Remove the `-v /var/run/docker.sock:...` mount.",
    &[],
    socket_mounted
);
dcheck!(
    MEMORY,
    "docker_container_memory_limited",
    "container",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["5.11"])],
    Severity::Low,
    "Every running container has a memory limit",
    "One container (a miner, a leak) can otherwise starve the host and its other containers.",
    "Run the container with `--memory` (or set limits in its orchestrator).",
    &[],
    memory
);
dcheck!(ROOT_USER, "docker_container_not_root", "container", &[("nist-800-53-r5", &["CM-6"]), ("cis-docker-1.6", &["4.1"])], Severity::Medium,
    "No running container runs as root",
    "A process running as root in a container is root on the host once it escapes (without user namespaces).",
    "Set `USER` in the image, or run it with `--user <uid>`.", &[], root_user);
