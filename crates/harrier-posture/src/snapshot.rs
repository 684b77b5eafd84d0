//! The account snapshot: what `posture collect` read, as the AWS APIs returned it.
//!
//! A snapshot holds one document per API call, keyed like the AWS CLI names its commands
//! (`iam-get-credential-report`, `ec2-describe-security-groups`), per region (`global` for IAM,
//! S3 and other global services), with a per-resource suffix for calls made once per resource
//! (`s3-get-bucket-policy/<bucket>`). Each document records whether the call succeeded: a
//! check that needs a document that was denied, not configured or failed reports **unknown**,
//! never pass or fail.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest document file read by [`Snapshot::import_cli_dir`].
const MAX_DOC_BYTES: u64 = 64 << 20;

/// How a call went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Entry {
    /// The API answered; `data` is its response.
    Ok {
        /// The response, as JSON.
        data: Value,
    },
    /// The caller is not allowed to make the call.
    AccessDenied {
        /// The error message.
        message: String,
    },
    /// The feature is not set up (no password policy, no bucket policy...), which the API
    /// reports as an error.
    NotConfigured {
        /// The error code or message.
        message: String,
    },
    /// Any other failure.
    Error {
        /// The error message.
        message: String,
    },
}

/// A snapshot of one account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version.
    pub version: u32,
    /// The account id, when known.
    pub account_id: Option<String>,
    /// When the snapshot was taken (RFC 3339).
    pub collected_at: Option<String>,
    /// Region (or `global`) -> call key -> result.
    pub regions: BTreeMap<String, BTreeMap<String, Entry>>,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a snapshot.
    #[error("{path}: not a snapshot: {message}")]
    Format {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Regions whose calls are global services.
pub const GLOBAL: &str = "global";

/// The call keys of global services (read from `global`, or from any region in imports).
fn is_global_key(key: &str) -> bool {
    key.starts_with("iam-")
        || key.starts_with("s3-")
        || key.starts_with("s3control-")
        || key.starts_with("sts-")
        || key.starts_with("organizations-")
}

impl Snapshot {
    /// Reads a snapshot written by `harrier posture collect`.
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Io {
            path: p.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| SnapshotError::Format {
            path: p,
            message: e.to_string(),
        })
    }

    /// Writes the snapshot as JSON.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let p = path.display().to_string();
        let text = serde_json::to_string_pretty(self).map_err(|e| SnapshotError::Format {
            path: p.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|source| SnapshotError::Io { path: p, source })
    }

    /// Imports a directory of AWS CLI outputs laid out as `<region>/<service>-<operation>.json`
    /// and `<region>/<service>-<operation>/<resource>` (the layout CloudMapper's `collect`
    /// writes). Global services' documents are filed under `global`.
    pub fn import_cli_dir(dir: &Path) -> Result<Snapshot, SnapshotError> {
        let io = |p: &Path, source| SnapshotError::Io {
            path: p.display().to_string(),
            source,
        };
        let mut snap = Snapshot {
            version: 1,
            ..Default::default()
        };
        let mut regions: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .filter_map(Result::ok)
            .collect();
        regions.sort_by_key(|e| e.file_name());
        for region in regions {
            let rpath = region.path();
            if !rpath.is_dir() {
                continue;
            }
            let rname = region.file_name().to_string_lossy().to_string();
            let mut stack = vec![(rpath.clone(), String::new())];
            while let Some((d, prefix)) = stack.pop() {
                for e in std::fs::read_dir(&d)
                    .map_err(|e| io(&d, e))?
                    .filter_map(Result::ok)
                {
                    let p = e.path();
                    let name = e.file_name().to_string_lossy().to_string();
                    let key = if prefix.is_empty() {
                        name.strip_suffix(".json").unwrap_or(&name).to_string()
                    } else {
                        format!("{prefix}/{name}")
                    };
                    // CloudMapper's collect misspells Access Analyzer's file name.
                    let key = match key.strip_prefix("accessanalzyer-") {
                        Some(rest) => format!("accessanalyzer-{rest}"),
                        None => key,
                    };
                    if p.is_dir() {
                        stack.push((p, key));
                        continue;
                    }
                    let meta = e.metadata().map_err(|err| io(&p, err))?;
                    if meta.len() > MAX_DOC_BYTES {
                        continue;
                    }
                    let text = std::fs::read_to_string(&p).map_err(|err| io(&p, err))?;
                    let entry = match serde_json::from_str::<Value>(&text) {
                        Ok(data) => Entry::Ok { data },
                        Err(err) => Entry::Error {
                            message: format!("not JSON: {err}"),
                        },
                    };
                    let region = if is_global_key(&key) {
                        GLOBAL.to_string()
                    } else {
                        rname.clone()
                    };
                    snap.regions
                        .entry(region)
                        .or_default()
                        .entry(key)
                        .or_insert(entry);
                }
            }
        }
        if let Some(Entry::Ok { data }) = snap
            .regions
            .get(GLOBAL)
            .and_then(|r| r.get("sts-get-caller-identity"))
        {
            snap.account_id = data["Account"].as_str().map(str::to_string);
        }
        if snap.regions.is_empty() {
            return Err(SnapshotError::Format {
                path: dir.display().to_string(),
                message: "no region directories with AWS CLI outputs".into(),
            });
        }
        Ok(snap)
    }

    /// The regions with regional documents (everything but `global`).
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions
            .keys()
            .map(String::as_str)
            .filter(|r| *r != GLOBAL)
    }

    /// A document.
    pub fn entry(&self, region: &str, key: &str) -> Option<&Entry> {
        self.regions.get(region).and_then(|r| r.get(key))
    }

    /// The per-resource documents of a call: `(resource, entry)` for every `<call>/<resource>`.
    pub fn per_resource<'a>(
        &'a self,
        region: &str,
        call: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        self.regions.get(region).into_iter().flat_map(move |r| {
            r.range(format!("{call}/")..)
                .take_while(move |(k, _)| {
                    k.starts_with(call) && k.as_bytes().get(call.len()) == Some(&b'/')
                })
                .map(move |(k, v)| (&k[call.len() + 1..], v))
        })
    }
}
