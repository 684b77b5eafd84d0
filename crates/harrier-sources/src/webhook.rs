//! The Kubernetes audit webhook: an HTTP(S) endpoint the API server posts audit batches to
//! (`--audit-webhook-config-file`).
//!
//! `POST <path>` with an `audit.k8s.io` `Event` or `EventList` body. Each request is handed to
//! a handler, which must make its alerts durable before it returns: the API server is answered
//! 200 only then, so a batch is never acknowledged and lost. Hostile input is bounded: bodies
//! over the size limit get 413 without being buffered, a missing or wrong bearer token gets 401
//! (compared in constant time, never logged), malformed bodies get 400, other methods 405. The
//! listener (harrier-serve's HTTP layer) routes the endpoint's path here, and answers 404 and
//! `GET /healthz` itself.

use std::io::Read;

use tiny_http::{Header, Method, Request, Response};

/// Default largest body accepted (the API server's own batch limit is smaller).
pub const DEFAULT_MAX_BODY: usize = 12 << 20;

/// Webhook settings.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Path of the endpoint (`/k8s-audit`).
    pub path: String,
    /// Bearer token callers must present, if any.
    pub token: Option<String>,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and the key never appear in logs.
        f.debug_struct("WebhookConfig")
            .field("path", &self.path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// What the handler made of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Processed; this many events, their alerts durably written.
    Accepted(usize),
    /// The body is not a valid audit event batch (400).
    BadRequest(String),
    /// The alerts could not be written: the caller should retry (503).
    Unavailable(String),
}

/// The endpoint: answers the requests an HTTP listener routes to its path.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    cfg: WebhookConfig,
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON response with `code`.
pub fn json_response(code: u16, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut r = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        r.add_header(h);
    }
    r
}

/// `{"error": msg}`, escaped.
pub fn error_body(msg: &str) -> String {
    let mut s = String::from("{\"error\":\"");
    for c in msg.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => s.push(' '),
            c => s.push(c),
        }
    }
    s.push_str("\"}");
    s
}

/// Answers `req` with `code` and `body`, logging a client that went away.
pub fn respond(req: Request, code: u16, body: String) {
    if let Err(e) = req.respond(json_response(code, body)) {
        tracing::debug!(error = %e, "webhook: client went away before the response");
    }
}

impl WebhookEndpoint {
    /// The endpoint of `cfg`.
    pub fn new(cfg: WebhookConfig) -> Self {
        WebhookEndpoint { cfg }
    }

    /// The path it answers.
    pub fn path(&self) -> &str {
        &self.cfg.path
    }

    /// Answers one request to [`WebhookEndpoint::path`]: method, bearer token and body size
    /// are checked before the body reaches `handler`.
    pub fn handle(&self, mut req: Request, handler: &mut dyn FnMut(&[u8]) -> Verdict) {
        if *req.method() != Method::Post {
            return respond(req, 405, error_body("use POST"));
        }
        if let Some(token) = &self.cfg.token {
            let presented = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .and_then(|h| {
                    h.value
                        .as_str()
                        .strip_prefix("Bearer ")
                        .map(|t| t.trim().to_string())
                });
            if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
                let mut r = json_response(401, error_body("missing or wrong bearer token"));
                if let Ok(h) = Header::from_bytes(&b"WWW-Authenticate"[..], &b"Bearer"[..]) {
                    r.add_header(h);
                }
                let _ = req.respond(r);
                return;
            }
        }
        if req.body_length().is_some_and(|n| n > self.cfg.max_body) {
            return respond(
                req,
                413,
                error_body(&format!("body larger than {} bytes", self.cfg.max_body)),
            );
        }
        let mut body = Vec::new();
        let limit = self.cfg.max_body as u64 + 1;
        if let Err(e) = req.as_reader().take(limit).read_to_end(&mut body) {
            return respond(req, 400, error_body(&format!("cannot read body: {e}")));
        }
        if body.len() > self.cfg.max_body {
            return respond(
                req,
                413,
                error_body(&format!("body larger than {} bytes", self.cfg.max_body)),
            );
        }
        match handler(&body) {
            Verdict::Accepted(n) => respond(req, 200, format!("{{\"accepted\":{n}}}")),
            Verdict::BadRequest(m) => respond(req, 400, error_body(&m)),
            Verdict::Unavailable(m) => respond(req, 503, error_body(&m)),
        }
    }
}
