//! Opening an image: a `docker save` archive (legacy or OCI-in-tar), an OCI layout (directory
//! or tar), a root filesystem tar, or a root filesystem directory. Nothing is extracted: tar
//! members are read in place by offset, and every blob addressed by digest is verified while it
//! is read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest manifest, index or config read.
const MAX_JSON: u64 = 8 << 20;
/// Most members read from an outer archive.
const MAX_OUTER_ENTRIES: usize = 100_000;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// What was being read.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Not an image this reader knows, or a broken one.
    #[error("{path}: {message}")]
    Format {
        /// What was being read.
        path: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

fn io(path: impl Into<String>) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::Io { path, source }
}

fn format(path: impl Into<String>, message: impl Into<String>) -> ImageError {
    ImageError::Format {
        path: path.into(),
        message: message.into(),
    }
}

/// A JSON document and its bytes (for digest checks).
type JsonDoc = (Value, Vec<u8>);

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
enum Blob {
    /// A member of the outer tar: offset and size of its data.
    Member { offset: u64, size: u64 },
    /// A file.
    File(PathBuf),
}

/// One layer of an image.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Position, from the base (0).
    pub index: usize,
    /// The compressed blob's digest (`sha256:...`), when the image names it.
    pub digest: Option<String>,
    /// The uncompressed tar's digest (the config's `rootfs.diff_ids`), when known.
    pub diff_id: Option<String>,
    /// The Dockerfile step that made it (config history), when known.
    pub created_by: Option<String>,
    blob: Blob,
    /// A member name or file path, for errors.
    pub name: String,
}

/// An opened image.
#[derive(Debug)]
pub struct Image {
    /// What was opened.
    pub source: String,
    /// Repository tags the archive names.
    pub tags: Vec<String>,
    /// The image config (`Null` for a root filesystem).
    pub config: Value,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// For a root filesystem directory: its path (no layers).
    pub rootfs_dir: Option<PathBuf>,
    outer: Option<PathBuf>,
}

/// Members of an outer tar.
struct Outer {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
    /// More members than indexed: fine for a root filesystem tar, not for an image archive.
    truncated: bool,
}

impl Outer {
    fn index(path: &Path) -> Result<Outer, ImageError> {
        let name = path.display().to_string();
        let f = File::open(path).map_err(io(&name))?;
        let mut ar = tar::Archive::new(BufReader::new(f));
        let mut members = HashMap::new();
        let mut truncated = false;
        for (n, e) in ar.entries().map_err(io(&name))?.enumerate() {
            if n >= MAX_OUTER_ENTRIES {
                truncated = true;
                break;
            }
            let e = e.map_err(io(&name))?;
            if e.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let p = e.path().map_err(io(&name))?.to_string_lossy().to_string();
            let p = p
                .trim_start_matches("./")
                .trim_start_matches('/')
                .to_string();
            members.insert(p, (e.raw_file_position(), e.size()));
        }
        Ok(Outer {
            path: path.to_path_buf(),
            members,
            truncated,
        })
    }

    fn read_json(&self, member: &str) -> Result<(Value, Vec<u8>), ImageError> {
        let (offset, size) = *self.members.get(member).ok_or_else(|| {
            format(
                self.path.display().to_string(),
                format!("member {member} is missing"),
            )
        })?;
        read_json_at(&self.path, Some((offset, size)), member)
    }
}

fn read_json_at(
    path: &Path,
    at: Option<(u64, u64)>,
    what: &str,
) -> Result<(Value, Vec<u8>), ImageError> {
    let name = format!("{}: {what}", path.display());
    let mut f = File::open(path).map_err(io(&name))?;
    let size = match at {
        Some((offset, size)) => {
            f.seek(SeekFrom::Start(offset)).map_err(io(&name))?;
            size
        }
        None => f.metadata().map_err(io(&name))?.len(),
    };
    if size > MAX_JSON {
        return Err(format(
            &name,
            format!("{size} bytes, over the {MAX_JSON}-byte limit for metadata"),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    f.take(size).read_to_end(&mut bytes).map_err(io(&name))?;
    let v =
        serde_json::from_slice(&bytes).map_err(|e| format(&name, format!("invalid JSON: {e}")))?;
    Ok((v, bytes))
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `blobs/sha256/<hex>` for a digest, refusing anything but a 64-hex sha256.
fn blob_path(digest: &str) -> Option<String> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("blobs/sha256/{hex}"))
}

fn verify(name: &str, digest: &str, bytes: &[u8]) -> Result<(), ImageError> {
    let got = format!("sha256:{}", sha256_hex(bytes));
    if got != digest {
        return Err(format(
            name,
            format!("digest mismatch: expected {digest}, content is {got}"),
        ));
    }
    Ok(())
}

/// Pairs the config's non-empty history steps with layers.
fn created_by(config: &Value, n: usize) -> Vec<Option<String>> {
    let steps: Vec<Option<String>> = config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["empty_layer"].as_bool() != Some(true))
        .map(|h| h["created_by"].as_str().map(str::to_string))
        .collect();
    (0..n)
        .map(|i| {
            if steps.len() == n {
                steps[i].clone()
            } else {
                None
            }
        })
        .collect()
}

fn diff_ids(config: &Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect()
}

impl Image {
    /// Opens `path`: a file (docker-archive, OCI layout tar, root filesystem tar) or a directory
    /// (OCI layout, or a root filesystem).
    pub fn open(path: &Path) -> Result<Image, ImageError> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(io(&name))?;
        if meta.is_dir() {
            if path.join("index.json").is_file() {
                return Self::oci_dir(path);
            }
            return Ok(Image {
                source: name,
                tags: Vec::new(),
                config: Value::Null,
                layers: Vec::new(),
                rootfs_dir: Some(path.to_path_buf()),
                outer: None,
            });
        }
        let outer = Outer::index(path)?;
        let is_image =
            outer.members.contains_key("manifest.json") || outer.members.contains_key("index.json");
        if is_image && outer.truncated {
            return Err(format(
                &name,
                format!("more than {MAX_OUTER_ENTRIES} members in an image archive"),
            ));
        }
        if outer.members.contains_key("manifest.json") {
            Self::docker(outer)
        } else if outer.members.contains_key("index.json") {
            Self::oci_tar(outer)
        } else {
            // A root filesystem tar: one layer, the file itself.
            let size = meta.len();
            Ok(Image {
                source: name.clone(),
                tags: Vec::new(),
                config: Value::Null,
                layers: vec![Layer {
                    index: 0,
                    digest: None,
                    diff_id: None,
                    created_by: None,
                    blob: Blob::Member { offset: 0, size },
                    name,
                }],
                rootfs_dir: None,
                outer: Some(path.to_path_buf()),
            })
        }
    }

    fn docker(outer: Outer) -> Result<Image, ImageError> {
        let name = outer.path.display().to_string();
        let (manifest, _) = outer.read_json("manifest.json")?;
        let m = manifest
            .as_array()
            .and_then(|a| a.first())
            .ok_or_else(|| format(&name, "manifest.json: expected an array with one image"))?;
        let config_member = m["Config"]
            .as_str()
            .ok_or_else(|| format(&name, "manifest.json: Config is missing"))?;
        let (config, config_bytes) = outer.read_json(config_member)?;
        if let Some(p) = config_member.strip_prefix("blobs/sha256/") {
            verify(
                &format!("{name}: {config_member}"),
                &format!("sha256:{p}"),
                &config_bytes,
            )?;
        } else if let Some(h) = config_member.strip_suffix(".json") {
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                verify(
                    &format!("{name}: {config_member}"),
                    &format!("sha256:{h}"),
                    &config_bytes,
                )?;
            }
        }
        let members: Vec<&str> = m["Layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let diff = diff_ids(&config);
        if !diff.is_empty() && diff.len() != members.len() {
            return Err(format(
                &name,
                format!(
                    "{} layers but {} diff_ids in the config",
                    members.len(),
                    diff.len()
                ),
            ));
        }
        let steps = created_by(&config, members.len());
        let mut layers = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let (offset, size) = *outer
                .members
                .get(*member)
                .ok_or_else(|| format(&name, format!("layer {i}: member {member} is missing")))?;
            layers.push(Layer {
                index: i,
                digest: member
                    .strip_prefix("blobs/sha256/")
                    .map(|h| format!("sha256:{h}")),
                diff_id: diff.get(i).cloned(),
                created_by: steps[i].clone(),
                blob: Blob::Member { offset, size },
                name: format!("{name}: {member}"),
            });
        }
        Ok(Image {
            source: name,
            tags: m["RepoTags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            config,
            layers,
            rootfs_dir: None,
            outer: Some(outer.path),
        })
    }

    /// Reads an OCI index/manifest chain through `get` (member or file reader by blob path).
    fn oci(
        name: &str,
        get: &dyn Fn(&str) -> Result<JsonDoc, ImageError>,
        locate: &dyn Fn(&str) -> Result<Blob, ImageError>,
    ) -> Result<(Value, Vec<Layer>), ImageError> {
        let (index, _) = get("index.json")?;
        let mut desc = index["manifests"]
            .as_array()
            .and_then(|a| a.first())
            .cloned()
            .ok_or_else(|| format(name, "index.json: no manifests"))?;
        // An index may point at another index (multi-platform): follow one level.
        for _ in 0..2 {
            let digest = desc["digest"].as_str().unwrap_or("");
            let p =
                blob_path(digest).ok_or_else(|| format(name, format!("bad digest {digest:?}")))?;
            let (doc, bytes) = get(&p)?;
            verify(&format!("{name}: {p}"), digest, &bytes)?;
            if doc["manifests"].is_array() {
                desc = doc["manifests"]
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .find(|m| {
                                m["platform"]["os"] == "linux"
                                    && m["platform"]["architecture"] == "amd64"
                            })
                            .or(a.first())
                    })
                    .cloned()
                    .ok_or_else(|| format(name, "nested index without manifests"))?;
                continue;
            }
            let cdigest = doc["config"]["digest"].as_str().unwrap_or("");
            let cp = blob_path(cdigest)
                .ok_or_else(|| format(name, format!("bad config digest {cdigest:?}")))?;
            let (config, cbytes) = get(&cp)?;
            verify(&format!("{name}: {cp}"), cdigest, &cbytes)?;
            let descs: Vec<&Value> = doc["layers"].as_array().into_iter().flatten().collect();
            let steps = created_by(&config, descs.len());
            let diff = diff_ids(&config);
            let mut layers = Vec::new();
            for (i, l) in descs.iter().enumerate() {
                let d = l["digest"].as_str().unwrap_or("");
                let lp = blob_path(d)
                    .ok_or_else(|| format(name, format!("layer {i}: bad digest {d:?}")))?;
                let mt = l["mediaType"].as_str().unwrap_or("");
                if mt.contains("zstd") {
                    return Err(format(
                        name,
                        format!("layer {i}: zstd-compressed layers are not supported yet ({mt})"),
                    ));
                }
                layers.push(Layer {
                    index: i,
                    digest: Some(d.to_string()),
                    diff_id: diff.get(i).cloned(),
                    created_by: steps[i].clone(),
                    blob: locate(&lp)?,
                    name: format!("{name}: {lp}"),
                });
            }
            return Ok((config, layers));
        }
        Err(format(name, "index nesting deeper than two levels"))
    }

    fn oci_tar(outer: Outer) -> Result<Image, ImageError> {
        let name = outer.path.display().to_string();
        let get = |m: &str| outer.read_json(m);
        let locate = |m: &str| {
            outer
                .members
                .get(m)
                .map(|(o, s)| Blob::Member {
                    offset: *o,
                    size: *s,
                })
                .ok_or_else(|| format(&name, format!("member {m} is missing")))
        };
        let (config, layers) = Self::oci(&name, &get, &locate)?;
        Ok(Image {
            source: name,
            tags: Vec::new(),
            config,
            layers,
            rootfs_dir: None,
            outer: Some(outer.path),
        })
    }

    fn oci_dir(dir: &Path) -> Result<Image, ImageError> {
        let name = dir.display().to_string();
        let get = |m: &str| read_json_at(&dir.join(m), None, m);
        let locate = |m: &str| {
            let p = dir.join(m);
            if p.is_file() {
                Ok(Blob::File(p))
            } else {
                Err(format(&name, format!("blob {m} is missing")))
            }
        };
        let (config, layers) = Self::oci(&name, &get, &locate)?;
        Ok(Image {
            source: name,
            tags: Vec::new(),
            config,
            layers,
            rootfs_dir: None,
            outer: None,
        })
    }

    /// The raw bytes of a layer blob (compressed or not), streamed.
    pub(crate) fn blob_reader(&self, layer: &Layer) -> Result<Box<dyn Read>, ImageError> {
        match &layer.blob {
            Blob::File(p) => {
                let f = File::open(p).map_err(io(&layer.name))?;
                Ok(Box::new(BufReader::with_capacity(256 << 10, f)))
            }
            Blob::Member { offset, size } => {
                let outer = self
                    .outer
                    .as_ref()
                    .ok_or_else(|| format(&layer.name, "no archive"))?;
                let mut f = File::open(outer).map_err(io(&layer.name))?;
                f.seek(SeekFrom::Start(*offset)).map_err(io(&layer.name))?;
                Ok(Box::new(BufReader::with_capacity(256 << 10, f.take(*size))))
            }
        }
    }
}
