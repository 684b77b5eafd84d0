//! Pulling an image from a registry through the OCI distribution API (Docker Hub, ECR, a local
//! registry): the manifest (following a multi-platform index to linux/amd64), the config and
//! the layer blobs are streamed into a temporary OCI layout, whose digests are then verified
//! like any other layout's. Bearer token auth (the `WWW-Authenticate` challenge) and basic
//! credentials (ECR's `AWS:<token>`) are supported. Credentials are never logged.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::archive::ImageError;

/// Largest manifest accepted.
const MAX_MANIFEST: u64 = 4 << 20;
/// Largest blob accepted.
pub const MAX_BLOB: u64 = 8 << 30;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// An image reference: `[host[:port]/]repository[:tag|@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (and port).
    pub host: String,
    /// Repository path.
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

impl Reference {
    /// Parses a reference the way Docker does (`nginx` is `registry-1.docker.io/library/nginx:latest`).
    pub fn parse(s: &str) -> Option<Reference> {
        let s = s.trim();
        if s.is_empty() || s.contains(char::is_whitespace) || s.contains("..") {
            return None;
        }
        let (first, rest) = match s.split_once('/') {
            Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => {
                (f.to_string(), r.to_string())
            }
            _ => ("registry-1.docker.io".to_string(), s.to_string()),
        };
        let (repo, reference) = if let Some((r, d)) = rest.split_once('@') {
            // `repo:tag@sha256:...` names the digest; the tag is only a label.
            let r = match r.rsplit_once(':') {
                Some((repo, _tag)) if !_tag.contains('/') => repo,
                _ => r,
            };
            (r.to_string(), d.to_string())
        } else {
            match rest.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
                _ => (rest.clone(), "latest".to_string()),
            }
        };
        let repo = if first == "registry-1.docker.io" && !repo.contains('/') {
            format!("library/{repo}")
        } else {
            repo
        };
        // A host is a name or address and an optional port, nothing else: no `#`, `?`, `@`
        // or `\` that would make the URL's real host another one.
        let host_ok = {
            let (name, port) = match first.rsplit_once(':') {
                Some((n, p)) if !n.ends_with(']') || n.starts_with('[') => (n, Some(p)),
                _ => (first.as_str(), None),
            };
            let name_ok = if let Some(v6) = name.strip_prefix('[') {
                v6.strip_suffix(']').is_some_and(|a| {
                    !a.is_empty() && a.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
                })
            } else {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            };
            name_ok
                && port.is_none_or(|p| {
                    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
                })
        };
        let ok = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
        if !host_ok
            || repo.is_empty()
            || !repo.chars().all(ok)
            || !reference
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
        {
            return None;
        }
        Some(Reference {
            host: first,
            repository: repo,
            reference,
        })
    }

    /// Whether the registry is on this machine (plain HTTP is then allowed).
    pub fn is_local(&self) -> bool {
        let h = self.host.split(':').next().unwrap_or("");
        matches!(h, "localhost" | "127.0.0.1" | "::1" | "[::1]")
    }

    /// Whether this is an ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`).
    pub fn ecr_region(&self) -> Option<String> {
        // Exactly `<12 digits>.dkr.ecr.<region>.amazonaws.com` (or `.amazonaws.com.cn`): ECR
        // credentials go to nothing else.
        let parts: Vec<&str> = self.host.split('.').collect();
        let tail_ok = matches!(
            &parts[4..],
            ["amazonaws", "com"] | ["amazonaws", "com", "cn"]
        );
        (parts.len() >= 6
            && parts[0].len() == 12
            && parts[0].bytes().all(|b| b.is_ascii_digit())
            && parts[1] == "dkr"
            && parts[2] == "ecr"
            && !parts[3].is_empty()
            && parts[3]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && tail_ok)
            .then(|| parts[3].to_string())
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "{}/{}{sep}{}",
            self.host, self.repository, self.reference
        )
    }
}

/// Basic credentials for a registry (user, password).
#[derive(Clone, Default)]
pub struct Credentials(pub Option<(String, String)>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Credentials(<redacted>)"
        } else {
            "Credentials(none)"
        })
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
    creds: Credentials,
    token: Option<String>,
    name: String,
}

fn err(name: &str, m: impl Into<String>) -> ImageError {
    ImageError::Format {
        path: name.to_string(),
        message: m.into(),
    }
}

/// `Bearer realm="...",service="...",scope="..."` parameters.
fn challenge(h: &str) -> Option<(String, Vec<(String, String)>)> {
    let rest = h.strip_prefix("Bearer ")?;
    let mut realm = None;
    let mut params = Vec::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        let v = v.trim_matches('"').to_string();
        if k == "realm" {
            realm = Some(v);
        } else {
            params.push((k.to_string(), v));
        }
    }
    Some((realm?, params))
}

impl Client {
    fn get(&mut self, path: &str, accept: Option<&str>) -> Result<ureq::Response, ImageError> {
        let url = format!("{}{}", self.base, path);
        for attempt in 0..2 {
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.set("Accept", a);
            }
            if let Some(t) = &self.token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            } else if let Some((u, p)) = &self.creds.0 {
                req = req.set(
                    "Authorization",
                    &format!(
                        "Basic {}",
                        harrier_events::base64::encode(format!("{u}:{p}").as_bytes())
                    ),
                );
            }
            match req.call() {
                Ok(r) => return Ok(r),
                Err(ureq::Error::Status(401, r)) if attempt == 0 => {
                    let h = r.header("WWW-Authenticate").unwrap_or("").to_string();
                    match challenge(&h) {
                        Some((realm, params)) => {
                            self.token = Some(self.fetch_token(&realm, &params)?)
                        }
                        None if self.creds.0.is_some() => {
                            return Err(err(
                                &self.name,
                                "401 Unauthorized with the given credentials",
                            ))
                        }
                        None => {
                            return Err(err(&self.name, "401 Unauthorized: credentials needed"))
                        }
                    }
                }
                Err(ureq::Error::Status(code, _)) => {
                    return Err(err(&self.name, format!("HTTP {code} for {path}")))
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err(err(
                        &self.name,
                        format!("cannot reach the registry: {}", t.kind()),
                    ))
                }
            }
        }
        Err(err(&self.name, "authentication failed"))
    }

    fn fetch_token(&self, realm: &str, params: &[(String, String)]) -> Result<String, ImageError> {
        let mut req = self.agent.get(realm);
        for (k, v) in params {
            req = req.query(k, v);
        }
        if let Some((u, p)) = &self.creds.0 {
            req = req.set(
                "Authorization",
                &format!(
                    "Basic {}",
                    harrier_events::base64::encode(format!("{u}:{p}").as_bytes())
                ),
            );
        }
        let r = req.call().map_err(|e| {
            err(
                &self.name,
                format!(
                    "token request failed: {}",
                    match e {
                        ureq::Error::Status(c, _) => format!("HTTP {c}"),
                        ureq::Error::Transport(t) => t.kind().to_string(),
                    }
                ),
            )
        })?;
        let mut body = String::new();
        r.into_reader()
            .take(1 << 20)
            .read_to_string(&mut body)
            .map_err(|e| err(&self.name, e.to_string()))?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| err(&self.name, format!("token response: {e}")))?;
        v["token"]
            .as_str()
            .or(v["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| err(&self.name, "token response without a token"))
    }

    fn json(&mut self, path: &str, accept: Option<&str>) -> Result<Vec<u8>, ImageError> {
        let r = self.get(path, accept)?;
        let mut b = Vec::new();
        r.into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut b)
            .map_err(|e| err(&self.name, e.to_string()))?;
        if b.len() as u64 > MAX_MANIFEST {
            return Err(err(
                &self.name,
                format!("{path}: over {MAX_MANIFEST} bytes"),
            ));
        }
        Ok(b)
    }
}

fn blob_file(dir: &Path, digest: &str) -> Result<std::path::PathBuf, String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or("only sha256 digests are supported")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad digest {digest:?}"));
    }
    Ok(dir.join("blobs/sha256").join(hex))
}

fn client(r: &Reference, creds: &Credentials, plain_http: bool, read: Duration) -> Client {
    let scheme = if plain_http || r.is_local() {
        "http"
    } else {
        "https"
    };
    Client {
        agent: ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10).min(read))
            .timeout_read(read)
            .redirects(5)
            .build(),
        base: format!("{scheme}://{}/v2/{}", r.host, r.repository),
        creds: creds.clone(),
        token: None,
        name: r.to_string(),
    }
}

/// The digest of the manifest (or index) `r` names now: for a tag, what the tag points to; for
/// a digest, the digest itself once the registry's answer is checked against it. One manifest
/// request (no layers), each step within `timeout`.
pub fn resolve(
    r: &Reference,
    creds: &Credentials,
    plain_http: bool,
    timeout: Duration,
) -> Result<String, ImageError> {
    let mut c = client(r, creds, plain_http, timeout);
    let top = c.json(&format!("/manifests/{}", r.reference), Some(ACCEPT))?;
    let digest = format!(
        "sha256:{}",
        crate::archive::hex(&<sha2::Sha256 as sha2::Digest>::digest(&top))
    );
    if r.reference.starts_with("sha256:") && r.reference != digest {
        return Err(err(
            &c.name,
            format!("the registry sent a manifest with digest {digest}"),
        ));
    }
    Ok(digest)
}

/// Pulls `r` into an OCI layout at `dir` (which must exist and be empty). Digests are checked
/// when the layout is opened.
pub fn pull(
    r: &Reference,
    creds: &Credentials,
    plain_http: bool,
    dir: &Path,
) -> Result<(), ImageError> {
    let mut c = client(r, creds, plain_http, Duration::from_secs(120));
    let name = c.name.clone();
    std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(|e| err(&name, e.to_string()))?;
    let write = |digest: &str, bytes: &[u8]| -> Result<(), ImageError> {
        let p = blob_file(dir, digest).map_err(|m| err(&name, m))?;
        std::fs::write(p, bytes).map_err(|e| err(&name, e.to_string()))
    };
    // The manifest (or index) the reference names.
    let top = c.json(&format!("/manifests/{}", r.reference), Some(ACCEPT))?;
    let top_digest = format!(
        "sha256:{}",
        crate::archive::hex(&<sha2::Sha256 as sha2::Digest>::digest(&top))
    );
    if r.reference.starts_with("sha256:") && r.reference != top_digest {
        return Err(err(
            &name,
            format!("the registry sent a manifest with digest {top_digest}"),
        ));
    }
    write(&top_digest, &top)?;
    let mut manifest: Value =
        serde_json::from_slice(&top).map_err(|e| err(&name, format!("manifest: {e}")))?;
    if let Some(list) = manifest["manifests"].as_array() {
        let pick = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .or(list.first())
            .ok_or_else(|| err(&name, "empty image index"))?;
        let d = pick["digest"].as_str().unwrap_or("").to_string();
        let b = c.json(&format!("/manifests/{d}"), Some(ACCEPT))?;
        write(&d, &b)?;
        manifest = serde_json::from_slice(&b).map_err(|e| err(&name, format!("manifest: {e}")))?;
    }
    let mut digests: Vec<String> = vec![manifest["config"]["digest"]
        .as_str()
        .unwrap_or("")
        .to_string()];
    digests.extend(
        manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["digest"].as_str().map(str::to_string)),
    );
    for d in digests {
        let p = blob_file(dir, &d).map_err(|m| err(&name, m))?;
        let resp = c.get(&format!("/blobs/{d}"), None)?;
        let mut f = std::fs::File::create(&p).map_err(|e| err(&name, e.to_string()))?;
        let n = std::io::copy(&mut resp.into_reader().take(MAX_BLOB + 1), &mut f)
            .map_err(|e| err(&name, format!("blob {d}: {e}")))?;
        if n > MAX_BLOB {
            return Err(err(&name, format!("blob {d} is over {MAX_BLOB} bytes")));
        }
        f.flush().map_err(|e| err(&name, e.to_string()))?;
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": top_digest, "size": top.len()}]});
    std::fs::write(dir.join("index.json"), index.to_string())
        .map_err(|e| err(&name, e.to_string()))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(|e| err(&name, e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_docker() {
        let r = Reference::parse("nginx").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("registry-1.docker.io", "library/nginx", "latest")
        );
        let r = Reference::parse("127.0.0.1:5000/web:1.4").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "web", "1.4")
        );
        assert!(r.is_local());
        let r =
            Reference::parse("111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web@sha256:abc")
                .unwrap();
        assert_eq!(r.ecr_region().as_deref(), Some("us-east-1"));
        assert_eq!(r.reference, "sha256:abc");
        let r = Reference::parse("127.0.0.1:5000/web:1.4@sha256:abc").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "web", "sha256:abc")
        );
        assert!(Reference::parse("a b").is_none());
        // Hosts that would send credentials elsewhere are not references.
        assert!(
            Reference::parse("3232235777:443#.dkr.ecr.us-east-1.amazonaws.com/web:1").is_none()
        );
        assert!(Reference::parse("evil.com?.dkr.ecr.us-east-1.amazonaws.com/web:1").is_none());
        assert!(Reference::parse("user@evil.com/web:1").is_none());
        let near =
            Reference::parse("111122223333.dkr.ecr.us-east-1.amazonaws.com.evil.io/web:1").unwrap();
        assert_eq!(near.ecr_region(), None, "not ECR");
        let v6 = Reference::parse("[::1]:5000/web:1").unwrap();
        assert_eq!(v6.host, "[::1]:5000");
        assert!(Reference::parse("host/../../etc").is_none());
    }

    #[test]
    fn base64_and_challenges() {
        assert_eq!(harrier_events::base64::encode(b"AWS:pw"), "QVdTOnB3");
        assert_eq!(harrier_events::base64::encode(b"a"), "YQ==");
        let (realm, p) = challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#).unwrap();
        assert_eq!(realm, "https://auth.docker.io/token");
        assert_eq!(
            p[1],
            (
                "scope".to_string(),
                "repository:library/nginx:pull".to_string()
            )
        );
        assert!(
            format!("{:?}", Credentials(Some(("u".into(), "secret".into())))).contains("redacted")
        );
    }
}
