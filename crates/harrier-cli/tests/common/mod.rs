//! Helpers shared by the tests that run against moto_server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Moto {
    pub child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh moto_server on a free port, or None when HARRIER_SKIP_MOTO_TESTS is set (scripts/test
/// sets it, and lists the skipped tests, when moto cannot be installed); without it a missing
/// moto_server fails the test.
pub fn moto() -> Option<Moto> {
    if std::env::var_os("HARRIER_SKIP_MOTO_TESTS").is_some() {
        eprintln!("AWS test skipped (HARRIER_SKIP_MOTO_TESTS is set)");
        return None;
    }
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "moto_server must be on PATH (scripts/test installs it; or pip install 'moto[server]')",
        );
    Some(started(child, port))
}

/// The moto started as `child` on `port`, once it answers (a minute at most).
fn started(child: Child, port: u16) -> Moto {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Clears moto's state (`POST /moto-api/reset`).
pub fn reset(m: &Moto) {
    let addr = m.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /moto-api/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "{resp}"
    );
}

/// A Debian `docker-registry` on a free loopback port, with its storage in a temporary
/// directory; None when HARRIER_SKIP_REGISTRY_TESTS is set (scripts/test sets it, and says so,
/// when docker-registry or skopeo cannot be installed).
pub struct Registry {
    pub child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn registry() -> Option<Registry> {
    if std::env::var_os("HARRIER_SKIP_REGISTRY_TESTS").is_some() {
        eprintln!("registry test skipped (HARRIER_SKIP_REGISTRY_TESTS is set)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry must be installed (Debian package docker-registry; scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Registry {
        child,
        port,
        _dir: dir,
    })
}

/// Pushes a `docker save` archive to `dest` with skopeo; returns the manifest digest.
pub fn push_image(archive: &std::path::Path, dest: &str) -> String {
    let st = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{dest}"))
        .status()
        .expect("skopeo must be installed (Debian package skopeo; scripts/test installs it)");
    assert!(st.success(), "skopeo copy to {dest}");
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo inspect {dest}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// [`moto`], with moto's ECS answering a container's `cpu` and `memory` as the strings the
/// ECS API defines (moto answers numbers, which the AWS SDK for Rust refuses).
pub fn moto_ecs_strings() -> Option<Moto> {
    moto_patched(
        "import moto.ecs.models as m\n\
         orig = m.Container.__init__\n\
         def init(self, td):\n    orig(self, td)\n    self.cpu = None if self.cpu is None else str(self.cpu)\n    self.memory = None if self.memory is None else str(self.memory)\n\
         m.Container.__init__ = init\n",
    )
}

/// [`moto`], with `sts:AssumeRole` refused (AccessDenied) for a role that does not exist in
/// its account, as AWS does (moto lets any ARN be assumed). `OrganizationAccountAccessRole`
/// is taken to exist in every account, as Organizations creates it in the accounts it makes.
pub fn moto_strict_roles() -> Option<Moto> {
    moto_patched(
        "import moto.sts.models as sm\n\
         from moto.sts.exceptions import STSClientError\n\
         orig = sm.STSBackend.assume_role\n\
         def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):\n\
         \x20   acct = role_arn.split(':')[4]\n\
         \x20   name = role_arn.split('/')[-1]\n\
         \x20   if name != 'OrganizationAccountAccessRole':\n\
         \x20       roles = []\n\
         \x20       for part in sm.iam_backends[acct]:\n\
         \x20           roles += [r.name for r in sm.iam_backends[acct][part].roles.values()]\n\
         \x20       if name not in roles:\n\
         \x20           raise STSClientError('AccessDenied', 'not authorized to perform sts:AssumeRole on ' + role_arn)\n\
         \x20   return orig(self, region_name, role_session_name, role_arn, policy, duration, external_id)\n\
         sm.STSBackend.assume_role = assume_role\n",
    )
}

/// A moto_server started by moto_server's own Python with `patch` (Python code) run first:
/// for the few places where moto answers differently from AWS in a way a test depends on.
pub fn moto_patched(patch: &str) -> Option<Moto> {
    if std::env::var_os("HARRIER_SKIP_MOTO_TESTS").is_some() {
        eprintln!("AWS test skipped (HARRIER_SKIP_MOTO_TESTS is set)");
        return None;
    }
    let which = Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&which.stdout).trim().to_string();
    assert!(!script.is_empty(), "moto_server must be on PATH");
    let first = std::fs::read_to_string(&script)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let python = first
        .strip_prefix("#!")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.contains(' ') && !s.ends_with("sh"))
        .unwrap_or_else(|| "python3".into());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let code =
        format!("{patch}from moto.server import main\nmain(['-H', '127.0.0.1', '-p', '{port}'])\n");
    let child = Command::new(python)
        .args(["-c", &code])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server's Python");
    Some(started(child, port))
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 100 ms until it holds (failing after `secs`); returns how long it took.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    t.elapsed()
}

/// `GET path` on a loopback port; the whole answer, or nothing when nobody listens.
pub fn http_get(port: u16, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    r
}

/// A metric without labels from `/metrics` on `port` (0 when absent).
pub fn metric(port: u16, name: &str) -> u64 {
    http_get(port, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Stops a `harrier serve` with SIGTERM; asserts it exited cleanly; returns its stderr.
pub fn stop(mut child: Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let st = child.wait().unwrap();
    assert!(st.success(), "serve failed: {err}");
    err
}

/// The JSON lines of an alert file.
pub fn alerts(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `tests/moto/<script>` against moto at `endpoint`; its JSON answer.
pub fn py(script: &str, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/moto")
        .join(script);
    let out = Command::new("python3")
        .arg(path)
        .arg(endpoint)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
