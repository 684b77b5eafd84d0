//! What pulls and scans an image: [`Scanner`], and [`RegistryScanner`], the real one (the OCI
//! distribution API, ECR credentials under feature `aws`, Harrier's scanner and vulnerability
//! database).

use std::path::PathBuf;
use std::time::Duration;

use harrier_image::layers::Limits;
use harrier_image::registry::{self, Credentials, Reference};
use harrier_image::vulndb::VulnDb;

use crate::verdict::Summary;

/// Resolves and scans images. Implementations are shared between threads.
pub trait Scanner: Send + Sync {
    /// The digest `r` names now (a tag resolved by the registry), within `timeout`.
    fn digest(&self, r: &Reference, timeout: Duration) -> Result<String, String>;
    /// Pulls `r` (by digest) and scans it.
    fn scan(&self, r: &Reference) -> Result<Summary, String>;
}

/// The real scanner.
#[derive(Debug, Clone, Default)]
pub struct RegistryScanner {
    /// The vulnerability database, when there is one.
    pub vulnerability_db: Option<PathBuf>,
    /// Plain HTTP to every registry (it is always allowed to localhost).
    pub plain_http: bool,
    /// The AWS endpoint for ECR's GetAuthorizationToken (moto, LocalStack).
    pub aws_endpoint_url: Option<String>,
    /// Basic credentials for registries other than ECR (user, password).
    pub registry_user: Option<(String, String)>,
}

impl RegistryScanner {
    fn credentials(&self, r: &Reference) -> Result<Credentials, String> {
        #[cfg(feature = "aws")]
        if let Some(c) = harrier_image::ecr::credentials(r, self.aws_endpoint_url.clone())
            .map_err(|e| e.to_string())?
        {
            return Ok(c);
        }
        #[cfg(not(feature = "aws"))]
        let _ = r;
        Ok(Credentials(self.registry_user.clone()))
    }
}

impl Scanner for RegistryScanner {
    fn digest(&self, r: &Reference, timeout: Duration) -> Result<String, String> {
        let creds = self.credentials(r)?;
        registry::resolve(r, &creds, self.plain_http, timeout).map_err(|e| e.to_string())
    }

    fn scan(&self, r: &Reference) -> Result<Summary, String> {
        let creds = self.credentials(r)?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
        registry::pull(r, &creds, self.plain_http, dir.path()).map_err(|e| e.to_string())?;
        let db = match &self.vulnerability_db {
            Some(p) if p.exists() => Some(VulnDb::open(p).map_err(|e| e.to_string())?),
            _ => None,
        };
        let report = harrier_image::scan::scan(dir.path(), db.as_ref(), &Limits::default())
            .map_err(|e| e.to_string())?;
        let digest = if r.reference.starts_with("sha256:") {
            r.reference.clone()
        } else {
            registry::resolve(r, &creds, self.plain_http, Duration::from_secs(30))
                .map_err(|e| e.to_string())?
        };
        Ok(Summary::of(
            &report,
            &digest,
            &r.to_string(),
            harrier_events::time::now_ns(),
        ))
    }
}
