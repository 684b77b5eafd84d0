//! The control plane of a kubeadm-style cluster (CIS Kubernetes Benchmark v1.8.0, sections 1
//! and 2, as kube-bench's `cis-1.8` master and etcd checks read them): the flags of the API
//! server, controller manager, scheduler and etcd, from their static pod manifests.

use std::collections::BTreeMap;

use harrier_posture::check::not_a_snapshot_check;
use harrier_posture::{Check, Severity};

use super::file_mode_check;
use crate::parse;
use crate::{Host, HostCheck, Out, Profile};

/// The API server's static pod manifest.
pub const APISERVER: &str = "/etc/kubernetes/manifests/kube-apiserver.yaml";
const CONTROLLER: &str = "/etc/kubernetes/manifests/kube-controller-manager.yaml";
const SCHEDULER: &str = "/etc/kubernetes/manifests/kube-scheduler.yaml";
const ETCD: &str = "/etc/kubernetes/manifests/etcd.yaml";

/// The flags of the first container of a static pod manifest.
fn manifest_flags(h: &Host, path: &str) -> Result<Option<BTreeMap<String, String>>, String> {
    let Some(text) = h.root.read(path)? else {
        return Ok(None);
    };
    let doc = parse::yaml(path, &text)?;
    let c = &doc["spec"]["containers"][0];
    let words: Vec<String> = ["command", "args"]
        .iter()
        .filter_map(|k| c[*k].as_array())
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if words.is_empty() {
        return Err(format!(
            "{path}: expected spec.containers[0].command with the component's flags"
        ));
    }
    Ok(Some(parse::flags(words.iter().map(String::as_str))))
}

/// Runs `judge` on a component's flags, or says why it cannot.
fn with_flags(
    h: &Host,
    out: &mut Out<'_>,
    path: &str,
    judge: impl FnOnce(&BTreeMap<String, String>, &mut Out<'_>),
) {
    match manifest_flags(h, path) {
        Ok(Some(f)) => judge(&f, out),
        Ok(None) => out.unknown(path, "no such manifest on this host"),
        Err(e) => out.unknown(path, format!("cannot be read: {e}")),
    }
}

/// A flag that must be `want`; unset is `default`.
fn flag_is(h: &Host, out: &mut Out<'_>, path: &str, flag: &str, want: &str, default: &str) {
    let res = format!("{path} --{flag}");
    with_flags(h, out, path, |f, out| match f.get(flag) {
        Some(v) if v == want => out.pass(res, format!("--{flag}={v}")),
        Some(v) => out.fail(res, format!("--{flag}={v}, expected {want}")),
        None if default == want => out.pass(res, format!("not set: the default is {default}")),
        None => out.fail(
            res,
            format!("not set: the default is {default}, expected {want}"),
        ),
    });
}

fn manifest_mode(h: &Host, out: &mut Out<'_>) {
    for m in [APISERVER, CONTROLLER, SCHEDULER, ETCD] {
        if h.root.exists(m) {
            file_mode_check(h, out, m, 0o600, false);
        }
    }
}

fn api_anonymous(h: &Host, out: &mut Out<'_>) {
    flag_is(h, out, APISERVER, "anonymous-auth", "false", "true");
}

fn api_authz(h: &Host, out: &mut Out<'_>) {
    let res = format!("{APISERVER} --authorization-mode");
    with_flags(h, out, APISERVER, |f, out| {
        match f.get("authorization-mode") {
            Some(v) if v.split(',').any(|m| m == "AlwaysAllow") => out.fail(
                res,
                format!("--authorization-mode={v}: every request is allowed"),
            ),
            Some(v) => out.pass(res, format!("--authorization-mode={v}")),
            None => out.fail(res, "not set: the default is AlwaysAllow"),
        }
    });
}

fn api_profiling(h: &Host, out: &mut Out<'_>) {
    flag_is(h, out, APISERVER, "profiling", "false", "true");
}

fn api_audit_log(h: &Host, out: &mut Out<'_>) {
    let res = format!("{APISERVER} --audit-log-path");
    with_flags(h, out, APISERVER, |f, out| match f.get("audit-log-path") {
        Some(v) => out.pass(res, format!("--audit-log-path={v}")),
        None => out.fail(res, "not set: the API server keeps no audit log"),
    });
}

fn cm_profiling(h: &Host, out: &mut Out<'_>) {
    flag_is(h, out, CONTROLLER, "profiling", "false", "true");
}

fn cm_sa_credentials(h: &Host, out: &mut Out<'_>) {
    flag_is(
        h,
        out,
        CONTROLLER,
        "use-service-account-credentials",
        "true",
        "false",
    );
}

fn sched_profiling(h: &Host, out: &mut Out<'_>) {
    flag_is(h, out, SCHEDULER, "profiling", "false", "true");
}

fn etcd_client_auth(h: &Host, out: &mut Out<'_>) {
    flag_is(h, out, ETCD, "client-cert-auth", "true", "false");
}

fn etcd_auto_tls(h: &Host, out: &mut Out<'_>) {
    let res = format!("{ETCD} --auto-tls");
    with_flags(h, out, ETCD, |f, out| match f.get("auto-tls") {
        Some(v) if v == "true" => out.fail(
            res,
            "--auto-tls=true: self-signed certificates, clients not verified",
        ),
        Some(v) => out.pass(res, format!("--auto-tls={v}")),
        None => out.pass(res, "not set: the default is false"),
    });
}

macro_rules! cpcheck {
    ($name:ident, $id:expr, $svc:expr, $cis:expr, $sev:expr, $title:expr, $why:expr, $fix:expr, $cli:expr, $run:expr) => {
        /// See its `title`.
        pub static $name: HostCheck = HostCheck {
            profile: Profile::K8sControlPlane,
            run: $run,
            check: Check {
                id: $id,
                title: $title,
                service: $svc,
                resource_type: "static pod manifest",
                severity: $sev,
                rationale: $why,
                remediation: $fix,
                cli: $cli,
                frameworks: $cis,
                eval: not_a_snapshot_check,
            },
        };
    };
}

cpcheck!(MANIFEST_MODE, "k8s_manifest_permissions", "kube-apiserver", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.1.1", "1.1.3", "1.1.5", "1.1.7"])], Severity::High,
    "The control plane's static pod manifests are 600 or more restrictive",
    "Whoever can write a static pod manifest runs any container, with any flags, as the control plane.",
    "Restrict the manifests in /etc/kubernetes/manifests to root.",
    &["chmod 600 /etc/kubernetes/manifests/*.yaml"], manifest_mode);
cpcheck!(API_ANONYMOUS, "apiserver_anonymous_auth_disabled", "kube-apiserver", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.2.1"])], Severity::High,
    "The API server refuses anonymous requests",
    "Anonymous requests reach whatever RBAC grants system:anonymous and system:unauthenticated.",
    "Add `- --anonymous-auth=false` to the kube-apiserver command in its manifest (the kubelet restarts it).",
    &[], api_anonymous);
cpcheck!(
    API_AUTHZ,
    "apiserver_authorization_not_always_allow",
    "kube-apiserver",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.2.6"])],
    Severity::Critical,
    "The API server's authorization mode is not AlwaysAllow",
    "AlwaysAllow makes every authenticated user a cluster administrator.",
    "Set `- --authorization-mode=Node,RBAC` in the kube-apiserver manifest.",
    &[],
    api_authz
);
cpcheck!(
    API_PROFILING,
    "apiserver_profiling_disabled",
    "kube-apiserver",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.2.16"])],
    Severity::Low,
    "The API server's profiling endpoint is off",
    "Profiling exposes program details and costs resources; it is not needed in production.",
    "Add `- --profiling=false` to the kube-apiserver manifest.",
    &[],
    api_profiling
);
cpcheck!(API_AUDIT_LOG, "apiserver_audit_log_path_set", "kube-apiserver", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.2.17"])], Severity::High,
    "The API server writes an audit log",
    "Without an audit log, an exec into a pod or a new cluster-admin binding leaves no record (and Harrier's Kubernetes rules see nothing).",
    "Add `- --audit-log-path=/var/log/kubernetes/audit/audit.log` and an `--audit-policy-file` to the kube-apiserver manifest.",
    &[], api_audit_log);
cpcheck!(
    CM_PROFILING,
    "controller_manager_profiling_disabled",
    "kube-controller-manager",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.3.2"])],
    Severity::Low,
    "The controller manager's profiling endpoint is off",
    "Profiling exposes program details and costs resources; it is not needed in production.",
    "Add `- --profiling=false` to the kube-controller-manager manifest.",
    &[],
    cm_profiling
);
cpcheck!(
    CM_SA_CREDENTIALS,
    "controller_manager_service_account_credentials",
    "kube-controller-manager",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.3.3"])],
    Severity::Medium,
    "The controller manager uses a service account per controller",
    "With one shared identity, each controller holds the permissions of all of them.",
    "Add `- --use-service-account-credentials=true` to the kube-controller-manager manifest.",
    &[],
    cm_sa_credentials
);
cpcheck!(
    SCHED_PROFILING,
    "scheduler_profiling_disabled",
    "kube-scheduler",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["1.4.1"])],
    Severity::Low,
    "The scheduler's profiling endpoint is off",
    "Profiling exposes program details and costs resources; it is not needed in production.",
    "Add `- --profiling=false` to the kube-scheduler manifest.",
    &[],
    sched_profiling
);
cpcheck!(ETCD_CLIENT_AUTH, "etcd_client_cert_auth", "etcd", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["2.2"])], Severity::Critical,
    "etcd requires client certificates",
    "etcd holds every secret of the cluster; without client certificate authentication anyone who reaches it reads them.",
    "Add `- --client-cert-auth=true` to the etcd manifest.",
    &[], etcd_client_auth);
cpcheck!(
    ETCD_AUTO_TLS,
    "etcd_no_auto_tls",
    "etcd",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["2.3"])],
    Severity::High,
    "etcd does not use self-signed (auto) TLS certificates",
    "With --auto-tls, etcd's clients cannot verify it and it does not verify them.",
    "Remove `--auto-tls=true` from the etcd manifest.",
    &[],
    etcd_auto_tls
);
