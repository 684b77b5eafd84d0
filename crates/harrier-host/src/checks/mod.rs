//! Every host check, by profile. Each module documents the benchmark it follows.

pub mod control_plane;
pub mod docker;
pub mod kubelet;
pub mod linux;

use crate::{Host, HostCheck, Out};

/// Every host check, in the order reports list them.
pub static ALL: &[&HostCheck] = &[
    // Linux
    &linux::TMP_MOUNT,
    &linux::SHM_MOUNT,
    &linux::ASLR,
    &linux::PTRACE,
    &linux::DMESG,
    &linux::KPTR,
    &linux::IP_FORWARD,
    &linux::SEND_REDIRECTS,
    &linux::ACCEPT_REDIRECTS,
    &linux::SOURCE_ROUTE,
    &linux::SYN_COOKIES,
    &linux::SSHD_ROOT,
    &linux::SSHD_PASSWORD,
    &linux::SSHD_EMPTY,
    &linux::SSHD_MAX_AUTH,
    &linux::SSHD_IDLE,
    &linux::SSHD_CIPHERS,
    &linux::SSHD_MACS,
    &linux::PASSWD_MODE,
    &linux::SHADOW_MODE,
    &linux::GROUP_MODE,
    &linux::GSHADOW_MODE,
    &linux::CRON_MODE,
    &linux::EMPTY_PASSWORDS,
    &linux::UID0,
    &linux::AUDITD,
    &linux::AUDIT_IDENTITY,
    &linux::AUDIT_PRELOAD,
    &linux::LD_PRELOAD,
    &linux::SERVICES,
    &linux::WORLD_WRITABLE,
    // Docker
    &docker::ICC,
    &docker::USERNS,
    &docker::LIVE_RESTORE,
    &docker::NO_NEW_PRIVS,
    &docker::LOG_DRIVER,
    &docker::TCP_TLS,
    &docker::SOCKET_MODE,
    &docker::DAEMON_JSON_MODE,
    &docker::TLS_FILES,
    &docker::PRIVILEGED,
    &docker::HOST_NET,
    &docker::HOST_PID,
    &docker::SOCK_MOUNT,
    &docker::MEMORY,
    &docker::ROOT_USER,
    // Kubernetes node
    &kubelet::SERVICE_MODE,
    &kubelet::SERVICE_OWNER,
    &kubelet::KUBECONFIG_MODE,
    &kubelet::KUBECONFIG_OWNER,
    &kubelet::CONFIG_MODE,
    &kubelet::CONFIG_OWNER,
    &kubelet::ANONYMOUS,
    &kubelet::AUTHZ,
    &kubelet::CLIENT_CA,
    &kubelet::READ_ONLY_PORT,
    &kubelet::STREAMING,
    &kubelet::IPTABLES,
    &kubelet::ROTATE,
    &kubelet::PROTECT_KERNEL,
    // Kubernetes control plane
    &control_plane::MANIFEST_MODE,
    &control_plane::API_ANONYMOUS,
    &control_plane::API_AUTHZ,
    &control_plane::API_PROFILING,
    &control_plane::API_AUDIT_LOG,
    &control_plane::CM_PROFILING,
    &control_plane::CM_SA_CREDENTIALS,
    &control_plane::SCHED_PROFILING,
    &control_plane::ETCD_CLIENT_AUTH,
    &control_plane::ETCD_AUTO_TLS,
];

/// A file's mode must give nothing beyond `max` (`0o600`...), or, with `owner`, it must be
/// owned by root:root. A missing file is unknown (nothing to judge), an unreadable one too.
pub fn file_mode_check(h: &Host, out: &mut Out<'_>, path: &str, max: u32, owner: bool) {
    match h.root.meta(path) {
        Ok(Some(m)) if owner => {
            if m.uid == 0 && m.gid == 0 {
                out.pass(path, "owned by root:root")
            } else {
                out.fail(
                    path,
                    format!("owned by {}:{}, expected root:root", m.uid, m.gid),
                )
            }
        }
        Ok(Some(m)) => {
            if m.mode & !max == 0 {
                out.pass(path, format!("mode {:04o}", m.mode))
            } else {
                out.fail(
                    path,
                    format!(
                        "mode {:04o}, expected {:04o} or more restrictive",
                        m.mode, max
                    ),
                )
            }
        }
        Ok(None) => out.unknown(path, "not present"),
        Err(e) => out.unknown(path, format!("cannot be read: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_documented_unique_and_mapped_well() {
        let mut ids = std::collections::BTreeSet::new();
        for c in ALL {
            let k = &c.check;
            assert!(ids.insert(k.id), "{} twice", k.id);
            assert!(
                !k.title.is_empty() && !k.rationale.is_empty() && !k.remediation.is_empty(),
                "{}",
                k.id
            );
            for (fw, reqs) in k.frameworks {
                assert!(
                    harrier_posture::frameworks::FRAMEWORKS
                        .iter()
                        .any(|(f, _)| f == fw),
                    "{}: {fw}",
                    k.id
                );
                for r in *reqs {
                    assert!(
                        harrier_posture::frameworks::is_requirement_id(fw, r),
                        "{}: {r}",
                        k.id
                    );
                }
            }
        }
        crate::register();
        assert!(harrier_posture::check("kubelet_anonymous_auth_disabled").is_some());
    }
}
