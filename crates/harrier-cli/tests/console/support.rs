//! What the console's tests share: the binary, one HTTP/1.1 exchange, a login, `harrier
//! serve` with a console, its first admin's password.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{free_port, wait_until};

pub fn harrier() -> Command {
    Command::new(env!("CARGO_BIN_EXE_harrier"))
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn run(args: &[&str]) {
    let out = harrier().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "harrier {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One HTTP/1.1 exchange: (status, headers lowercased, body).
pub fn req(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    s.write_all(text.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut hs = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        hs.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut b = Vec::new();
    r.read_to_end(&mut b).unwrap();
    if header(&hs, "transfer-encoding") == Some("chunked") {
        b = unchunk(&b);
    }
    (status, hs, String::from_utf8_lossy(&b).into_owned())
}

pub fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&b[..eol])
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn login(port: u16, user: &str, password: &str) -> Option<String> {
    let body = format!("user={user}&password={password}");
    let (st, h, _) = req(
        port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    );
    if st != 303 {
        return None;
    }
    let c = header(&h, "set-cookie")?;
    Some(c.split(';').next()?.to_string())
}

pub fn get_json(port: u16, cookie: &str, path: &str) -> (u16, Value) {
    let (st, _, b) = req(port, "GET", path, &[("Cookie", cookie)], "");
    (st, serde_json::from_str(&b).unwrap_or(Value::Null))
}

/// A running `harrier serve`: stopped cleanly by [`Serve::stop`], killed when dropped (a
/// failing test leaves no server behind).
pub struct Serve {
    child: Option<std::process::Child>,
    pub port: u16,
    pub password: String,
}

impl Serve {
    /// A service started elsewhere, listening on `port`.
    pub fn of(child: std::process::Child, port: u16) -> Serve {
        Serve {
            child: Some(child),
            port,
            password: String::new(),
        }
    }

    /// Stops it with SIGTERM, asserts it exited cleanly; its stderr.
    pub fn stop(mut self) -> String {
        crate::common::stop(self.child.take().expect("still running"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn serve(dir: &Path, extra: &str) -> Serve {
    let port = free_port();
    let cfg = dir.join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir: {}\nconsole:\n  listen: 127.0.0.1:{port}\n{extra}",
            dir.display()
        ),
    )
    .unwrap();
    let mut child = harrier()
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut password = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("with password ").nth(1) {
            password = rest.split_whitespace().next().unwrap().to_string();
        }
        if line.contains("console at ") {
            break;
        }
        line.clear();
    }
    // Keep draining standard error so the service never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = err.read_to_string(&mut sink);
    });
    wait_until("the console", 30, || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Serve {
        child: Some(child),
        port,
        password,
    }
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
