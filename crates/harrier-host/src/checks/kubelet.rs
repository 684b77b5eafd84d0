//! The kubelet of a Kubernetes worker node (CIS Kubernetes Benchmark v1.8.0, section 4, as
//! kube-bench's `cis-1.8` node checks read it): its service and configuration files, and its
//! settings, a command-line flag taking precedence over the configuration file.

use std::collections::BTreeMap;

use harrier_posture::check::not_a_snapshot_check;
use harrier_posture::{Check, Severity};
use serde_json::Value;

use super::file_mode_check;
use crate::parse;
use crate::{Host, HostCheck, Out, Profile};

/// Service files that may carry the kubelet's flags (kubeadm, EKS, packages).
const SERVICE_FILES: [&str; 6] = [
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/etc/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/kubelet.service",
    "/lib/systemd/system/kubelet.service",
    "/var/lib/kubelet/kubeadm-flags.env",
];
/// Where the configuration file is when no `--config` says.
const CONFIG_FILES: [&str; 3] = [
    "/var/lib/kubelet/config.yaml",
    "/etc/kubernetes/kubelet/kubelet-config.json",
    "/etc/kubernetes/kubelet/config.json",
];
const KUBECONFIG: &str = "/etc/kubernetes/kubelet.conf";

/// Whether a kubelet is configured on the host.
pub fn installed(h: &Host) -> bool {
    SERVICE_FILES
        .iter()
        .chain(CONFIG_FILES.iter())
        .any(|p| h.root.exists(p))
}

/// The kubelet's settings as found.
struct Kubelet {
    /// Flags (from the running process, or the service files).
    flags: BTreeMap<String, String>,
    /// Where the flags came from.
    flags_from: String,
    /// The configuration file and its content, if one is used.
    config: Option<(String, Value)>,
}

impl Kubelet {
    fn load(h: &Host) -> Result<Option<Kubelet>, String> {
        let (flags, flags_from) = if h.live {
            match live_flags(h)? {
                Some(f) => (f, "the running kubelet's command line".to_string()),
                None => service_flags(h)?,
            }
        } else {
            service_flags(h)?
        };
        let config_path = flags.get("config").cloned().or_else(|| {
            CONFIG_FILES
                .iter()
                .find(|p| h.root.exists(p))
                .map(|p| p.to_string())
        });
        let config = match config_path {
            Some(p) => match h.root.read(&p)? {
                Some(t) => Some((p.clone(), parse::yaml(&p, &t)?)),
                None => None,
            },
            None => None,
        };
        if flags.is_empty() && config.is_none() && !installed(h) {
            return Ok(None);
        }
        Ok(Some(Kubelet {
            flags,
            flags_from,
            config,
        }))
    }

    /// A setting: the flag if given, else the configuration file's value at `path`
    /// (`/`-separated), with where it came from; `None` when neither sets it.
    fn get(&self, flag: &str, path: &str) -> Option<(String, String)> {
        if let Some(v) = self.flags.get(flag) {
            return Some((v.clone(), format!("--{flag} ({})", self.flags_from)));
        }
        let (file, doc) = self.config.as_ref()?;
        let mut v = doc;
        for p in path.split('/') {
            v = v.get(p)?;
        }
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        };
        Some((s, format!("{path} in {file}")))
    }

    /// Whether unset settings take the configuration file's defaults (a file is in use)
    /// rather than the command line's.
    fn file_defaults(&self) -> bool {
        self.config.is_some()
    }
}

fn live_flags(h: &Host) -> Result<Option<BTreeMap<String, String>>, String> {
    for pid in h.root.list("/proc")? {
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(Some(cmd)) = h.root.read(&format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&str> = cmd.split('\0').filter(|a| !a.is_empty()).collect();
        if args
            .first()
            .is_some_and(|a| a.rsplit('/').next() == Some("kubelet"))
        {
            return Ok(Some(parse::flags(args)));
        }
    }
    Ok(None)
}

fn service_flags(h: &Host) -> Result<(BTreeMap<String, String>, String), String> {
    let mut all = BTreeMap::new();
    let mut from = Vec::new();
    for f in SERVICE_FILES {
        if let Some(t) = h.root.read(f)? {
            // Words of every line; `KUBELET_ARGS=--x=1` (an environment assignment) is read
            // from its first `--`.
            let words: Vec<&str> = t
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == '"' || c == '\''))
                .filter_map(|w| w.find("--").map(|i| &w[i..]))
                .collect();
            let fl = parse::flags(words);
            if !fl.is_empty() {
                from.push(f.to_string());
                all.extend(fl);
            }
        }
    }
    let from = if from.is_empty() {
        "no flags found in the kubelet's service files".to_string()
    } else {
        from.join(", ")
    };
    Ok((all, from))
}

/// Runs `judge` on the loaded kubelet, or says why it cannot.
fn with_kubelet(h: &Host, out: &mut Out<'_>, judge: impl FnOnce(&Kubelet, &mut Out<'_>)) {
    match Kubelet::load(h) {
        Ok(Some(k)) => judge(&k, out),
        Ok(None) => out.unknown("kubelet", "no kubelet configuration found on this host"),
        Err(e) => out.unknown(
            "kubelet",
            format!("cannot read the kubelet's settings: {e}"),
        ),
    }
}

/// A boolean-ish setting that must be `want`; `default` is what the kubelet does when unset
/// (command line default, configuration file default).
fn setting_is(
    out: &mut Out<'_>,
    k: &Kubelet,
    flag: &str,
    path: &str,
    want: &str,
    default: (&str, &str),
) {
    let res = format!("kubelet --{flag}");
    match k.get(flag, path) {
        Some((v, at)) if v.eq_ignore_ascii_case(want) => out.pass(res, format!("{v} ({at})")),
        Some((v, at)) => out.fail(res, format!("{v} ({at}), expected {want}")),
        None => {
            let d = if k.file_defaults() {
                default.1
            } else {
                default.0
            };
            let how = if k.file_defaults() {
                "the configuration file's default"
            } else {
                "the command line's default"
            };
            if d.eq_ignore_ascii_case(want) {
                out.pass(res, format!("not set: {how} is {d}"));
            } else {
                out.fail(res, format!("not set: {how} is {d}, expected {want}"));
            }
        }
    }
}

fn anonymous(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        setting_is(
            out,
            k,
            "anonymous-auth",
            "authentication/anonymous/enabled",
            "false",
            ("true", "false"),
        )
    });
}

fn authorization(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        let res = "kubelet --authorization-mode";
        match k.get("authorization-mode", "authorization/mode") {
            Some((v, at)) if v.split(',').any(|m| m == "AlwaysAllow") => {
                out.fail(res, format!("{v} ({at}): every request is allowed"))
            }
            Some((v, at)) => out.pass(res, format!("{v} ({at})")),
            None if k.file_defaults() => {
                out.pass(res, "not set: the configuration file's default is Webhook")
            }
            None => out.fail(res, "not set: the command line's default is AlwaysAllow"),
        }
    });
}

fn client_ca(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        let res = "kubelet --client-ca-file";
        match k.get("client-ca-file", "authentication/x509/clientCAFile") {
            Some((v, at)) => out.pass(res, format!("{v} ({at})")),
            None => out.fail(res, "not set: client certificates are not verified"),
        }
    });
}

fn read_only_port(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        setting_is(
            out,
            k,
            "read-only-port",
            "readOnlyPort",
            "0",
            ("10255", "0"),
        )
    });
}

fn streaming_timeout(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        let res = "kubelet --streaming-connection-idle-timeout";
        match k.get(
            "streaming-connection-idle-timeout",
            "streamingConnectionIdleTimeout",
        ) {
            Some((v, at)) if v == "0" || v == "0s" => {
                out.fail(res, format!("{v} ({at}): idle streams never time out"))
            }
            Some((v, at)) => out.pass(res, format!("{v} ({at})")),
            None => out.pass(res, "not set: the default is 4h"),
        }
    });
}

fn iptables_chains(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        setting_is(
            out,
            k,
            "make-iptables-util-chains",
            "makeIPTablesUtilChains",
            "true",
            ("true", "true"),
        )
    });
}

fn rotate_certificates(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        let res = "kubelet --rotate-certificates";
        match k.get("rotate-certificates", "rotateCertificates") {
            Some((v, at)) if v == "false" => out.fail(res, format!("false ({at})")),
            Some((v, at)) => out.pass(res, format!("{v} ({at})")),
            None => out.pass(res, "not set: not switched off"),
        }
    });
}

fn protect_kernel_defaults(h: &Host, out: &mut Out<'_>) {
    with_kubelet(h, out, |k, out| {
        setting_is(
            out,
            k,
            "protect-kernel-defaults",
            "protectKernelDefaults",
            "true",
            ("false", "false"),
        )
    });
}

fn service_file_mode(h: &Host, out: &mut Out<'_>) {
    let f = SERVICE_FILES.iter().find(|p| h.root.exists(p)).copied();
    match f {
        Some(f) => file_mode_check(h, out, f, 0o600, false),
        None => out.unknown("kubelet service file", "no kubelet service file found"),
    }
}

fn service_file_owner(h: &Host, out: &mut Out<'_>) {
    let f = SERVICE_FILES.iter().find(|p| h.root.exists(p)).copied();
    match f {
        Some(f) => file_mode_check(h, out, f, 0o7777, true),
        None => out.unknown("kubelet service file", "no kubelet service file found"),
    }
}

fn kubeconfig_mode(h: &Host, out: &mut Out<'_>) {
    file_mode_check(h, out, KUBECONFIG, 0o600, false);
}

fn kubeconfig_owner(h: &Host, out: &mut Out<'_>) {
    file_mode_check(h, out, KUBECONFIG, 0o7777, true);
}

fn config_path(h: &Host) -> Option<String> {
    match Kubelet::load(h) {
        Ok(Some(k)) => k.config.map(|(p, _)| p),
        _ => CONFIG_FILES
            .iter()
            .find(|p| h.root.exists(p))
            .map(|p| p.to_string()),
    }
}

fn config_mode(h: &Host, out: &mut Out<'_>) {
    match config_path(h) {
        Some(p) => file_mode_check(h, out, &p, 0o600, false),
        None => out.unknown(
            "kubelet config file",
            "no kubelet configuration file in use",
        ),
    }
}

fn config_owner(h: &Host, out: &mut Out<'_>) {
    match config_path(h) {
        Some(p) => file_mode_check(h, out, &p, 0o7777, true),
        None => out.unknown(
            "kubelet config file",
            "no kubelet configuration file in use",
        ),
    }
}

const SVC: &str = "kubelet";

macro_rules! kcheck {
    ($name:ident, $id:expr, $cis:expr, $sev:expr, $title:expr, $why:expr, $fix:expr, $cli:expr, $run:expr) => {
        /// See its `title`.
        pub static $name: HostCheck = HostCheck {
            profile: Profile::K8sNode,
            run: $run,
            check: Check {
                id: $id,
                title: $title,
                service: SVC,
                resource_type: "kubelet",
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

const RESTART: &str = "systemctl daemon-reload && systemctl restart kubelet";

kcheck!(SERVICE_MODE, "kubelet_service_file_permissions", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.1"])], Severity::Medium,
    "The kubelet service file is 600 or more restrictive",
    "Whoever can write the service file chooses the kubelet's flags, and with them its authentication.",
    "Make the kubelet's systemd unit or drop-in readable and writable by root only.",
    &["chmod 600 /etc/systemd/system/kubelet.service.d/10-kubeadm.conf"], service_file_mode);
kcheck!(
    SERVICE_OWNER,
    "kubelet_service_file_owner",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.2"])],
    Severity::Medium,
    "The kubelet service file is owned by root:root",
    "A service file owned by another user can be rewritten by that user.",
    "Give the kubelet's systemd unit or drop-in to root.",
    &["chown root:root /etc/systemd/system/kubelet.service.d/10-kubeadm.conf"],
    service_file_owner
);
kcheck!(
    KUBECONFIG_MODE,
    "kubelet_kubeconfig_permissions",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.5"])],
    Severity::High,
    "The kubelet's kubeconfig (kubelet.conf) is 600 or more restrictive",
    "kubelet.conf holds the node's credentials to the API server.",
    "Restrict the kubelet's kubeconfig to root.",
    &["chmod 600 /etc/kubernetes/kubelet.conf"],
    kubeconfig_mode
);
kcheck!(
    KUBECONFIG_OWNER,
    "kubelet_kubeconfig_owner",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.6"])],
    Severity::High,
    "The kubelet's kubeconfig (kubelet.conf) is owned by root:root",
    "kubelet.conf holds the node's credentials to the API server.",
    "Give the kubelet's kubeconfig to root.",
    &["chown root:root /etc/kubernetes/kubelet.conf"],
    kubeconfig_owner
);
kcheck!(
    CONFIG_MODE,
    "kubelet_config_file_permissions",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.9"])],
    Severity::Medium,
    "The kubelet configuration file is 600 or more restrictive",
    "The configuration file sets the kubelet's authentication, authorization and ports.",
    "Restrict the kubelet's configuration file to root.",
    &["chmod 600 /var/lib/kubelet/config.yaml"],
    config_mode
);
kcheck!(
    CONFIG_OWNER,
    "kubelet_config_file_owner",
    &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.1.10"])],
    Severity::Medium,
    "The kubelet configuration file is owned by root:root",
    "A configuration file owned by another user can be rewritten by that user.",
    "Give the kubelet's configuration file to root.",
    &["chown root:root /var/lib/kubelet/config.yaml"],
    config_owner
);
kcheck!(ANONYMOUS, "kubelet_anonymous_auth_disabled", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.1"])], Severity::Critical,
    "The kubelet refuses anonymous requests",
    "With anonymous authentication, anyone who reaches port 10250 can list pods and, with a permissive authorizer, exec into them.",
    "Set `authentication: anonymous: enabled: false` in the kubelet configuration file (or --anonymous-auth=false), then restart the kubelet.",
    &[RESTART], anonymous);
kcheck!(AUTHZ, "kubelet_authorization_not_always_allow", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.2"])], Severity::Critical,
    "The kubelet's authorization mode is not AlwaysAllow",
    "AlwaysAllow lets every authenticated (or anonymous) caller run commands in any pod of the node.",
    "Set `authorization: mode: Webhook` in the kubelet configuration file (or --authorization-mode=Webhook), then restart the kubelet.",
    &[RESTART], authorization);
kcheck!(CLIENT_CA, "kubelet_client_ca_file_set", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.3"])], Severity::High,
    "The kubelet verifies client certificates (client CA file set)",
    "Without a client CA the kubelet cannot authenticate the API server's or users' certificates.",
    "Set `authentication: x509: clientCAFile: /etc/kubernetes/pki/ca.crt` in the kubelet configuration file, then restart the kubelet.",
    &[RESTART], client_ca);
kcheck!(READ_ONLY_PORT, "kubelet_read_only_port_disabled", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.4"])], Severity::High,
    "The kubelet's unauthenticated read-only port is off (0)",
    "Port 10255 serves pod specs, environment included, to anyone without authentication.",
    "Set `readOnlyPort: 0` in the kubelet configuration file (or --read-only-port=0), then restart the kubelet.",
    &[RESTART], read_only_port);
kcheck!(STREAMING, "kubelet_streaming_idle_timeout_set", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.5"])], Severity::Low,
    "The kubelet's streaming connections time out when idle",
    "Exec and port-forward streams that never time out can be held open to exhaust the node or keep access.",
    "Set `streamingConnectionIdleTimeout: 5m` in the kubelet configuration file, then restart the kubelet.",
    &[RESTART], streaming_timeout);
kcheck!(IPTABLES, "kubelet_make_iptables_util_chains", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.6"])], Severity::Low,
    "The kubelet manages its iptables chains",
    "Letting the kubelet keep its iptables rules keeps pod networking consistent with the network policies.",
    "Set `makeIPTablesUtilChains: true` in the kubelet configuration file (or remove --make-iptables-util-chains=false), then restart the kubelet.",
    &[RESTART], iptables_chains);
kcheck!(ROTATE, "kubelet_rotate_certificates", &[("nist-800-53-r5", &["CM-6"]), ("cis-k8s-1.8", &["4.2.10"])], Severity::Medium,
    "The kubelet rotates its client certificates",
    "Certificates that are not rotated stay valid long after a node's credentials may have leaked.",
    "Remove `rotateCertificates: false` from the kubelet configuration file (or --rotate-certificates=false), then restart the kubelet.",
    &[RESTART], rotate_certificates);
kcheck!(PROTECT_KERNEL, "kubelet_protect_kernel_defaults", &[("nist-800-53-r5", &["CM-6"])], Severity::Low,
    "The kubelet protects the kernel's defaults",
    "With protectKernelDefaults the kubelet refuses to start when kernel tunables differ from what it needs, instead of silently changing them (CIS Kubernetes 1.7 and earlier, 4.2.6; the CIS EKS benchmark, 3.2.6).",
    "Set `protectKernelDefaults: true` in the kubelet configuration file, then restart the kubelet.",
    &[RESTART], protect_kernel_defaults);
