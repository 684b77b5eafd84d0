//! TLS to the server: `sslmode=require` in the connection string connects over TLS (rustls),
//! verifying the server's certificate and name against `sslrootcert` (a PEM file of CA
//! certificates, as libpq names it; RDS's bundle, a private CA) or else the web PKI's roots.
//! Without `sslmode=require` the connection is plain, as before.

use std::sync::Arc;

use postgres::config::SslMode;
use postgres::{Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to reach the server.
#[derive(Clone)]
pub(crate) struct Target {
    /// The connection string without the options only Harrier reads.
    url: String,
    /// The TLS connector, when TLS is required.
    tls: Option<MakeRustlsConnect>,
}

/// Removes option `name` from a URL (`?a=b&name=v`) or key-value (`name=v`) connection string;
/// returns the rest and the option's value.
fn take_option(url: &str, name: &str) -> (String, Option<String>) {
    let prefix = format!("{name}=");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_string(), None);
        };
        let mut value = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.to_string());
                    false
                }
                None => true,
            })
            .collect();
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        (url, value)
    } else {
        let mut value = None;
        let rest: Vec<&str> = url
            .split_whitespace()
            .filter(|kv| match kv.strip_prefix(&prefix) {
                Some(v) => {
                    value = Some(v.to_string());
                    false
                }
                None => true,
            })
            .collect();
        (rest.join(" "), value)
    }
}

impl Target {
    /// The target of a connection string; an error names what is wrong with its TLS options.
    pub(crate) fn of(url: &str) -> Result<Target, String> {
        let (url, ca) = take_option(url, "sslrootcert");
        let cfg: postgres::Config = url.parse().map_err(|e| format!("{e}"))?;
        if cfg.get_ssl_mode() != SslMode::Require {
            if ca.is_some() {
                return Err(
                    "sslrootcert is set but sslmode is not require: add sslmode=require".into(),
                );
            }
            return Ok(Target { url, tls: None });
        }
        let mut roots = rustls::RootCertStore::empty();
        match &ca {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {path}: {e}"))?;
                let mut n = 0;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| format!("sslrootcert {path}: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                    n += 1;
                }
                if n == 0 {
                    return Err(format!("sslrootcert {path}: no PEM certificate in it"));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Target {
            url,
            tls: Some(MakeRustlsConnect::new(config)),
        })
    }

    /// Connects: within 10 s unless the connection string says otherwise (`connect_timeout`),
    /// with TCP keepalives, so a server gone silent fails the call (and its caller retries)
    /// instead of holding it, and with it an admission request or a console page, forever.
    pub(crate) fn connect(&self) -> Result<Client, postgres::Error> {
        let mut cfg: postgres::Config = self.url.parse()?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(std::time::Duration::from_secs(10));
        }
        cfg.keepalives(true);
        cfg.keepalives_idle(std::time::Duration::from_secs(30));
        match &self.tls {
            Some(t) => cfg.connect(t.clone()),
            None => cfg.connect(NoTls),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harriers_own_options_leave_the_connection_string() {
        assert_eq!(
            take_option(
                "postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem",
                "sslrootcert"
            ),
            (
                "postgres://u@h/db?sslmode=require".to_string(),
                Some("/ca.pem".to_string())
            )
        );
        assert_eq!(
            take_option("host=h sslrootcert=/ca.pem user=u", "sslrootcert"),
            ("host=h user=u".to_string(), Some("/ca.pem".to_string()))
        );
        assert_eq!(take_option("postgres://u@h/db", "sslrootcert").1, None);
        assert!(
            Target::of("host=h sslrootcert=/ca.pem").is_err(),
            "needs sslmode=require"
        );
        assert!(Target::of("host=h sslmode=require sslrootcert=/nonexistent.pem").is_err());
        assert!(Target::of("host=h sslmode=require").unwrap().tls.is_some());
        assert!(Target::of("host=h").unwrap().tls.is_none());
    }
}
