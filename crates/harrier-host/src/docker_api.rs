//! A minimal client of the Docker Engine API on its Unix socket: `GET` only, HTTP/1.0 (the
//! daemon closes the connection after the answer), bounded in time and size. Enough to list
//! the running containers and inspect each.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// The largest answer read.
const MAX_ANSWER: u64 = 16 << 20;
/// The most containers inspected.
pub const MAX_CONTAINERS: usize = 1000;

/// `GET path` on the socket, the JSON answer of a 200.
pub fn get(socket: &Path, path: &str) -> Result<Value, String> {
    let at = |e: std::io::Error| format!("{}: {e}", socket.display());
    let mut s = UnixStream::connect(socket).map_err(at)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(at)?;
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(at)?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .map_err(at)?;
    let mut buf = Vec::new();
    s.take(MAX_ANSWER + 1).read_to_end(&mut buf).map_err(at)?;
    if buf.len() as u64 > MAX_ANSWER {
        return Err(format!(
            "{}: GET {path}: answer larger than {MAX_ANSWER} bytes",
            socket.display()
        ));
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{}: GET {path}: expected an HTTP answer", socket.display()))?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!(
            "{}: GET {path}: HTTP status {status}",
            socket.display()
        ));
    }
    let mut body = buf[split + 4..].to_vec();
    if head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    }) {
        body = dechunk(&body)
            .ok_or_else(|| format!("{}: GET {path}: bad chunked body", socket.display()))?;
    }
    serde_json::from_slice(&body)
        .map_err(|e| format!("{}: GET {path}: expected JSON: {e}", socket.display()))
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// The running containers, each as `docker inspect` shows it.
pub fn containers(socket: &Path) -> Result<Vec<Value>, String> {
    let list = get(socket, "/containers/json")?;
    let ids: Vec<String> = list
        .as_array()
        .ok_or_else(|| format!("{}: /containers/json: expected a list", socket.display()))?
        .iter()
        .filter_map(|c| c["Id"].as_str())
        .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit()))
        .take(MAX_CONTAINERS)
        .map(str::to_string)
        .collect();
    ids.iter()
        .map(|id| get(socket, &format!("/containers/{id}/json")))
        .collect()
}
