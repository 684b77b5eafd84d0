//! Which container a task runs in: the cgroup id the kernel reports is mapped to its cgroup
//! path (the directory with that inode under the cgroup v2 mount), the path to a container id
//! (Docker, containerd and CRI-O scopes, Kubernetes pod cgroups, ECS tasks), and the id to
//! names where the runtime's metadata on this host gives them.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What is known of a task's container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The 12-character container id; `host` outside containers.
    pub id: String,
    /// The full id as the cgroup path gives it.
    pub full_id: String,
    /// docker, containerd, cri-o, podman, ecs.
    pub runtime: Option<&'static str>,
    /// The container's name, from the runtime's metadata.
    pub name: Option<String>,
    /// The image, from the runtime's metadata.
    pub image: Option<String>,
    /// The pod UID, from a Kubernetes cgroup path.
    pub pod_uid: Option<String>,
    /// The pod name, from the runtime's metadata.
    pub pod_name: Option<String>,
    /// The pod namespace, from the runtime's metadata.
    pub namespace: Option<String>,
}

impl ContainerInfo {
    /// A task on the host.
    pub fn host() -> Self {
        ContainerInfo {
            id: "host".into(),
            ..Default::default()
        }
    }

    /// Whether the task is in a container.
    pub fn is_container(&self) -> bool {
        self.id != "host"
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a container id, runtime and pod UID from a cgroup path such as
/// `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope`,
/// `/docker/<id>`, `/system.slice/docker-<id>.scope` or `/ecs/<task>/<task>-<n>`.
pub fn parse_cgroup_path(path: &str) -> Option<ContainerInfo> {
    let mut pod_uid = None;
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for p in &parts {
        let p = p.trim_end_matches(".slice");
        if let Some(i) = p.rfind("pod") {
            let uid = &p[i + 3..];
            if uid.len() >= 32
                && uid
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
            {
                pod_uid = Some(uid.replace('_', "-"));
            }
        }
    }
    // The innermost segment that names a container: a process may sit in a child cgroup of
    // its container's scope (`.../cri-containerd-<id>.scope/init`), which must not hide it.
    let ecs = parts.first() == Some(&"ecs") && parts.len() >= 3;
    let found = parts.iter().rev().find_map(|seg| {
        let base = seg.trim_end_matches(".scope");
        let (runtime, id) = [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
        ]
        .iter()
        .find_map(|(prefix, rt)| base.strip_prefix(prefix).map(|id| (Some(*rt), id)))
        .unwrap_or((None, base));
        (is_hex(id) && id.len() == 64).then_some((runtime, id))
    });
    let (runtime, id) = match (found, ecs) {
        (Some(f), _) => f,
        (None, true) => (None, parts[2]),
        (None, false) => return None,
    };
    let runtime = if ecs {
        Some("ecs")
    } else {
        runtime.or(match parts.first() {
            Some(&"docker") => Some("docker"),
            _ if pod_uid.is_some() => Some("containerd"),
            _ => None,
        })
    };
    Some(ContainerInfo {
        id: id.chars().take(12).collect(),
        full_id: id.to_string(),
        runtime,
        pod_uid,
        ..Default::default()
    })
}

/// Reads the runtime's metadata for a container: an OCI bundle's `config.json` (containerd,
/// Kubernetes annotations) at `<root>/<namespace>/<id>/config.json` or `<root>/<id>/config.json`,
/// or Docker's `<root>/<id>/config.v2.json`.
pub fn runtime_metadata(roots: &[PathBuf], info: &mut ContainerInfo) {
    const MAX_META: u64 = 1 << 20;
    let read = |p: &Path| -> Option<serde_json::Value> {
        let meta = std::fs::metadata(p).ok()?;
        if !meta.is_file() || meta.len() > MAX_META {
            return None;
        }
        serde_json::from_slice(&std::fs::read(p).ok()?).ok()
    };
    if info.full_id.is_empty() || info.full_id.contains('/') || info.full_id.contains("..") {
        return;
    }
    for root in roots {
        let mut candidates = vec![
            root.join(&info.full_id).join("config.json"),
            root.join(&info.full_id).join("config.v2.json"),
        ];
        if let Ok(rd) = std::fs::read_dir(root) {
            for ns in rd.flatten().take(64) {
                candidates.push(ns.path().join(&info.full_id).join("config.json"));
            }
        }
        for c in candidates {
            let Some(v) = read(&c) else { continue };
            let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
            let ann = &v["annotations"];
            if ann.is_object() {
                info.pod_name = s(&ann["io.kubernetes.cri.sandbox-name"]).or(info.pod_name.take());
                info.namespace =
                    s(&ann["io.kubernetes.cri.sandbox-namespace"]).or(info.namespace.take());
                info.name = s(&ann["io.kubernetes.cri.container-name"]).or(info.name.take());
                info.image = s(&ann["io.kubernetes.cri.image-name"]).or(info.image.take());
            }
            if let Some(n) = s(&v["Name"]) {
                info.name = Some(n.trim_start_matches('/').to_string());
            }
            if let Some(i) = s(&v["Config"]["Image"]) {
                info.image = Some(i);
            }
            return;
        }
    }
}

/// The repository part of an image reference (`registry/ns/app:tag` -> `registry/ns/app`).
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// Maps cgroup ids to containers, scanning the cgroup v2 tree when an id is new.
pub struct Containers {
    root: Option<PathBuf>,
    runtime_roots: Vec<PathBuf>,
    by_id: HashMap<u64, ContainerInfo>,
    paths: HashMap<u64, String>,
    last_scan: Option<Instant>,
}

/// Most cgroups remembered; past it the cache starts over (memory stays flat).
const MAX_CGROUPS: usize = 65536;
/// Most directories visited per scan of the cgroup tree.
const MAX_SCAN: usize = 200_000;

impl Containers {
    /// A resolver over the cgroup v2 mount found in /proc/self/mountinfo (or `root`), reading
    /// runtime metadata under `runtime_roots`.
    pub fn new(root: Option<PathBuf>, runtime_roots: Vec<PathBuf>) -> Self {
        Containers {
            root: root.or_else(cgroup2_mount),
            runtime_roots,
            by_id: HashMap::new(),
            paths: HashMap::new(),
            last_scan: None,
        }
    }

    /// Whether a cgroup id has been resolved (and remembered).
    pub fn knows(&self, cgroup_id: u64) -> bool {
        self.by_id.contains_key(&cgroup_id)
    }

    /// The cgroup v2 mount point in use.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    fn scan(&mut self) {
        let Some(root) = self.root.clone() else {
            return;
        };
        if self.paths.len() > MAX_CGROUPS {
            self.paths.clear();
        }
        let mut stack = vec![root.clone()];
        let mut seen = 0;
        while let Some(d) = stack.pop() {
            seen += 1;
            if seen > MAX_SCAN {
                break;
            }
            let Ok(meta) = std::fs::metadata(&d) else {
                continue;
            };
            let rel = d.strip_prefix(&root).map(|p| format!("/{}", p.display()));
            if let Ok(rel) = rel {
                self.paths.insert(meta.ino(), rel);
            }
            if let Ok(rd) = std::fs::read_dir(&d) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
        self.last_scan = Some(Instant::now());
    }

    /// The cgroup path of an id, scanning the tree again (at most every 100 ms) when unknown.
    pub fn path_of(&mut self, cgroup_id: u64) -> Option<String> {
        if !self.paths.contains_key(&cgroup_id)
            && self
                .last_scan
                .is_none_or(|t| t.elapsed() > Duration::from_millis(100))
        {
            self.scan();
        }
        self.paths.get(&cgroup_id).cloned()
    }

    /// The cgroup path of `pid` from /proc/<pid>/cgroup, if that cgroup's inode is `cgroup_id`
    /// (no scan needed for a live process).
    fn path_from_proc(&self, pid: u32, cgroup_id: u64) -> Option<String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
        let dir = self.root.as_ref()?.join(rel.trim_start_matches('/'));
        (std::fs::metadata(dir).ok()?.ino() == cgroup_id).then(|| rel.to_string())
    }

    /// The container of a cgroup id, for a record of `pid` (host when the path names none).
    /// An id whose path cannot be found yet is reported as the host but not remembered, so the
    /// next record looks again.
    pub fn lookup(&mut self, cgroup_id: u64, pid: u32) -> ContainerInfo {
        if let Some(c) = self.by_id.get(&cgroup_id) {
            return c.clone();
        }
        let path = self.path_from_proc(pid, cgroup_id);
        let Some(path) = path.or_else(|| self.path_of(cgroup_id)) else {
            return ContainerInfo::host();
        };
        let mut info = parse_cgroup_path(&path).unwrap_or_else(ContainerInfo::host);
        if info.is_container() {
            runtime_metadata(&self.runtime_roots, &mut info);
        }
        if self.by_id.len() > MAX_CGROUPS {
            self.by_id.clear();
        }
        self.by_id.insert(cgroup_id, info.clone());
        info
    }
}

/// Where cgroup v2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if !right.starts_with("cgroup2 ") {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a6b1c9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a";

    #[test]
    fn container_ids_from_cgroup_paths() {
        let k = format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6c1f0d1e_1111_4c3a_9a55_1c2d3e4f5a6b.slice/cri-containerd-{ID}.scope");
        let c = parse_cgroup_path(&k).unwrap();
        assert_eq!(c.id, "3f2a6b1c9d0e");
        assert_eq!(c.runtime, Some("containerd"));
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("6c1f0d1e-1111-4c3a-9a55-1c2d3e4f5a6b")
        );
        let c = parse_cgroup_path(&format!(
            "/kubepods/burstable/pod6c1f0d1e-1111-4c3a-9a55-1c2d3e4f5a6b/{ID}"
        ))
        .unwrap();
        assert_eq!(
            (c.id.as_str(), c.runtime),
            ("3f2a6b1c9d0e", Some("containerd"))
        );
        let c = parse_cgroup_path(&format!("/system.slice/docker-{ID}.scope")).unwrap();
        assert_eq!(c.runtime, Some("docker"));
        let c = parse_cgroup_path(&format!("/docker/{ID}")).unwrap();
        assert_eq!(c.runtime, Some("docker"));
        let c = parse_cgroup_path(
            "/ecs/5a1c2b3d4e5f60718293a4b5c6d7e8f9/5a1c2b3d4e5f60718293a4b5c6d7e8f9-1527013210",
        )
        .unwrap();
        assert_eq!(c.runtime, Some("ecs"));
        assert_eq!(c.id, "5a1c2b3d4e5f");
        // A child cgroup of the container's scope is still the container.
        let c = parse_cgroup_path(&format!("/system.slice/docker-{ID}.scope/init")).unwrap();
        assert_eq!((c.id.as_str(), c.runtime), ("3f2a6b1c9d0e", Some("docker")));
        // Near misses: ordinary services and short hex names are the host.
        assert_eq!(parse_cgroup_path("/system.slice/ssh.service"), None);
        assert_eq!(
            parse_cgroup_path("/user.slice/user-0.slice/session-3.scope"),
            None
        );
        assert_eq!(parse_cgroup_path("/docker/abc123"), None);
        assert_eq!(parse_cgroup_path("/"), None);
    }

    #[test]
    fn runtime_metadata_names_the_pod() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("k8s.io").join(ID);
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(
            b.join("config.json"),
            r#"{"annotations":{"io.kubernetes.cri.sandbox-name":"nginx-7c9f","io.kubernetes.cri.sandbox-namespace":"web","io.kubernetes.cri.container-name":"nginx","io.kubernetes.cri.image-name":"123.dkr.ecr.us-east-1.amazonaws.com/web:1.4"}}"#,
        )
        .unwrap();
        let mut c = parse_cgroup_path(&format!("/system.slice/cri-containerd-{ID}.scope")).unwrap();
        runtime_metadata(&[d.path().to_path_buf()], &mut c);
        assert_eq!(c.pod_name.as_deref(), Some("nginx-7c9f"));
        assert_eq!(c.namespace.as_deref(), Some("web"));
        assert_eq!(c.name.as_deref(), Some("nginx"));
        assert_eq!(
            image_repository(c.image.as_deref().unwrap()),
            "123.dkr.ecr.us-east-1.amazonaws.com/web"
        );
        assert_eq!(image_repository("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(image_repository("app@sha256:ab"), "app");
    }
}
