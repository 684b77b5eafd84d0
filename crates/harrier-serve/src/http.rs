//! One HTTP layer for everything the service answers: the Kubernetes audit webhook, metrics
//! and health today; the console and the admission webhook attach here as more routes.
//!
//! A [`Listener`] is one socket (HTTP, or HTTPS with a PEM certificate and key); the service
//! groups every endpoint configured on the same address onto one listener, served by one
//! thread. Every listener answers `GET /healthz`; unknown paths get 404. Requests are handled
//! one at a time, in order, on the listener's thread: the webhook's detector lives there.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harrier_sources::webhook::{error_body, respond};
use tiny_http::{Method, Request, Server, SslConfig};

/// A listening socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} ({what}): {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// What wanted it (`k8s_audit`, `metrics`).
    pub what: String,
    /// What the server said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A route: requests whose path (without the query) is `path` go to `handler`.
pub struct Route<'a> {
    /// The path (`/k8s-audit`, `/metrics`).
    pub path: String,
    /// Answers a request; it must respond (or drop the request, which closes it).
    pub handler: Box<dyn FnMut(Request) + 'a>,
}

/// One bound socket.
pub struct Listener {
    server: Server,
    https: bool,
}

impl Listener {
    /// Binds `addr`; HTTPS when `tls` (PEM certificate chain, PEM key) is given.
    pub fn bind(
        addr: SocketAddr,
        tls: Option<(Vec<u8>, Vec<u8>)>,
        what: &str,
    ) -> Result<Listener, BindError> {
        let https = tls.is_some();
        let server = match tls {
            None => Server::http(addr),
            Some((certificate, private_key)) => Server::https(
                addr,
                SslConfig {
                    certificate,
                    private_key,
                },
            ),
        }
        .map_err(|source| BindError {
            addr,
            what: what.to_string(),
            source,
        })?;
        Ok(Listener { server, https })
    }

    /// The address bound (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// `http://addr` or `https://addr`.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        match self.local_addr() {
            Some(a) => format!("{scheme}://{a}"),
            None => format!("{scheme}://?"),
        }
    }

    /// Serves `routes` until `stop` is set.
    pub fn serve(&self, routes: &mut [Route<'_>], stop: &AtomicBool) {
        self.serve_all(
            &mut |req: Request| {
                let path = req.url().split('?').next().unwrap_or("");
                match routes.iter_mut().find(|r| r.path == path) {
                    Some(r) => (r.handler)(req),
                    None => respond(req, 404, error_body("not found")),
                }
            },
            stop,
        );
    }

    /// Serves every request (but `GET /healthz`) with `handler` until `stop` is set; several
    /// threads may serve one listener at once, each with its own handler.
    pub fn serve_all(&self, handler: &mut dyn FnMut(Request), stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let req = match self.server.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "http: accept failed");
                    continue;
                }
            };
            let healthz = req.url().split('?').next() == Some("/healthz");
            if healthz && *req.method() == Method::Get {
                respond(req, 200, "{\"status\":\"ok\"}".into());
            } else {
                handler(req);
            }
        }
    }
}
