//! Harrier's host benchmarks: the CIS checks of a Linux machine, its Docker daemon and its
//! Kubernetes node or control plane, run over the running host or a mounted root filesystem
//! (`--root`: an EBS snapshot, an image, a fixture) without executing anything from it.
//!
//! Each check is a self-describing [`HostCheck`]: a posture [`harrier_posture::Check`] (id,
//! title, rationale, remediation with the exact command or configuration line, severity,
//! framework mappings with the CIS reference) and the function that judges it. Findings are
//! posture findings (pass, fail, or unknown with the reason: never pass what could not be
//! read), so the posture reports, scores, formats and history take them as they are once
//! [`register`] has added these checks to posture's catalogue.
#![deny(missing_docs)]

pub mod checks;
pub mod docker_api;
pub mod parse;
pub mod root;

use std::path::PathBuf;

use harrier_posture::{Check, Finding, Status};

pub use root::Root;

/// A group of checks, applied to one kind of machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// Any Linux host (CIS Distribution Independent Linux).
    Linux,
    /// A host running the Docker daemon (CIS Docker).
    Docker,
    /// A Kubernetes worker node: the kubelet (CIS Kubernetes, section 4).
    K8sNode,
    /// A Kubernetes control plane node: API server, controller manager, scheduler, etcd
    /// from their static pod manifests (CIS Kubernetes, sections 1 and 2).
    K8sControlPlane,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 4] = [
        Profile::Linux,
        Profile::Docker,
        Profile::K8sNode,
        Profile::K8sControlPlane,
    ];

    /// Its name, as `--profile` takes it and findings show it (their region).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Linux => "linux",
            Profile::Docker => "docker",
            Profile::K8sNode => "k8s-node",
            Profile::K8sControlPlane => "k8s-control-plane",
        }
    }
}

/// The machine being judged.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its root filesystem.
    pub root: Root,
    /// Whether it is the running host (kernel parameters, mounts and processes are then read
    /// live from `/proc`; in a mounted tree only configuration files are).
    pub live: bool,
    /// The Docker Engine API socket to ask about running containers (`None`: not asked).
    pub docker_socket: Option<PathBuf>,
}

impl Host {
    /// The running host: `/`, `/proc` read live, Docker asked on `/var/run/docker.sock`.
    pub fn running() -> Host {
        Host {
            root: Root::new("/"),
            live: true,
            docker_socket: Some(PathBuf::from("/var/run/docker.sock")),
        }
    }

    /// A mounted root filesystem: configuration files only, no socket.
    pub fn mounted(dir: impl Into<PathBuf>) -> Host {
        Host {
            root: Root::new(dir),
            live: false,
            docker_socket: None,
        }
    }

    /// The profiles that apply: Linux always; Docker when its daemon or configuration is
    /// installed; a Kubernetes node when a kubelet is configured; a control plane when the
    /// API server's static pod manifest is there.
    pub fn applicable(&self) -> Vec<Profile> {
        let r = &self.root;
        let mut out = vec![Profile::Linux];
        if [
            "/etc/docker/daemon.json",
            "/usr/bin/dockerd",
            "/usr/sbin/dockerd",
        ]
        .iter()
        .any(|p| r.exists(p))
            || self.docker_socket.as_ref().is_some_and(|s| s.exists())
        {
            out.push(Profile::Docker);
        }
        if checks::kubelet::installed(self) {
            out.push(Profile::K8sNode);
        }
        if r.exists(checks::control_plane::APISERVER) {
            out.push(Profile::K8sControlPlane);
        }
        out
    }
}

/// One host check.
pub struct HostCheck {
    /// What posture knows of it (id, title, severity, rationale, remediation, frameworks).
    pub check: Check,
    /// The profile it belongs to.
    pub profile: Profile,
    /// The judgement.
    pub run: fn(&Host, &mut Out<'_>),
}

impl std::fmt::Debug for HostCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCheck")
            .field("id", &self.check.id)
            .finish()
    }
}

/// Where a check writes its findings.
pub struct Out<'a> {
    check: &'static str,
    profile: Profile,
    findings: &'a mut Vec<Finding>,
}

impl Out<'_> {
    /// A finding on `resource` (a file, a setting, a container).
    pub fn add(&mut self, resource: impl Into<String>, status: Status, reason: impl Into<String>) {
        self.findings.push(Finding {
            check: self.check,
            resource: resource.into(),
            region: self.profile.as_str().to_string(),
            status,
            reason: reason.into(),
        });
    }

    /// A pass.
    pub fn pass(&mut self, resource: impl Into<String>, reason: impl Into<String>) {
        self.add(resource, Status::Pass, reason);
    }

    /// A failure.
    pub fn fail(&mut self, resource: impl Into<String>, reason: impl Into<String>) {
        self.add(resource, Status::Fail, reason);
    }

    /// Could not be judged, and why.
    pub fn unknown(&mut self, resource: impl Into<String>, reason: impl Into<String>) {
        self.add(resource, Status::Unknown, reason);
    }
}

/// Adds every host check to posture's catalogue (reports, scores, history). Idempotent.
pub fn register() {
    harrier_posture::register(checks::ALL.iter().map(|c| &c.check));
}

/// Runs the checks of `profiles` on `host`, in catalogue order.
pub fn bench(host: &Host, profiles: &[Profile]) -> Vec<Finding> {
    register();
    let mut findings = Vec::new();
    for c in checks::ALL.iter().filter(|c| profiles.contains(&c.profile)) {
        let mut out = Out {
            check: c.check.id,
            profile: c.profile,
            findings: &mut findings,
        };
        (c.run)(host, &mut out);
    }
    findings
}
