//! `harrier admission`: what to apply to a cluster so its API server asks `harrier serve`'s
//! admission webhook before it runs an image.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use harrier_events::base64::encode;

#[derive(Subcommand)]
pub enum AdmissionCommand {
    /// Print the Secret (the webhook's TLS certificate and key), the Service and the
    /// ValidatingWebhookConfiguration (Pods and the workloads that make them) to apply with
    /// `kubectl apply -f -`.
    Manifests {
        /// The webhook's PEM certificate (its names must include
        /// <service>.<namespace>.svc).
        #[arg(long)]
        cert: PathBuf,
        /// Its PEM private key.
        #[arg(long)]
        key: PathBuf,
        /// The CA that signed it (the API server trusts this); default: the certificate itself.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Namespace of the Service and Secret.
        #[arg(long, default_value = "harrier")]
        namespace: String,
        /// Name of the Service in front of `harrier serve`.
        #[arg(long, default_value = "harrier-admission")]
        service: String,
        /// The port `harrier serve` listens on (the admission source's `listen`).
        #[arg(long, default_value_t = 8443)]
        port: u16,
        /// The admission source's `path`.
        #[arg(long, default_value = "/validate")]
        path: String,
        /// What the API server does when the webhook cannot answer: Fail or Ignore.
        #[arg(long, default_value = "Fail")]
        failure_policy: String,
        /// Seconds the API server waits (1-30); keep the source's `timeout` below it.
        #[arg(long, default_value_t = 10)]
        timeout_seconds: u8,
    },
}

pub fn run(cmd: AdmissionCommand) -> Result<ExitCode> {
    let AdmissionCommand::Manifests {
        cert,
        key,
        ca,
        namespace,
        service,
        port,
        path,
        failure_policy,
        timeout_seconds,
    } = cmd;
    if !matches!(failure_policy.as_str(), "Fail" | "Ignore") {
        bail!("--failure-policy {failure_policy:?}: expected Fail or Ignore");
    }
    if !(1..=30).contains(&timeout_seconds) {
        bail!("--timeout-seconds {timeout_seconds}: expected 1 to 30");
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !name_ok(&namespace) || !name_ok(&service) {
        bail!("--namespace and --service must be DNS labels (a-z, 0-9, -)");
    }
    if !path.starts_with('/')
        || !path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c))
    {
        bail!("--path {path:?}: expected an absolute path of letters, digits and / - _ . ~");
    }
    let read =
        |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let (c, k) = (read(&cert)?, read(&key)?);
    let ca = match &ca {
        Some(p) => read(p)?,
        None => c.clone(),
    };
    if !String::from_utf8_lossy(&c).contains("BEGIN CERTIFICATE") {
        bail!("{}: not a PEM certificate", cert.display());
    }
    if !String::from_utf8_lossy(&k).contains("PRIVATE KEY") {
        bail!("{}: not a PEM private key", key.display());
    }
    let rules = r#"      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["pods", "pods/ephemeralcontainers", "replicationcontrollers", "podtemplates"]
      - apiGroups: ["apps"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["deployments", "replicasets", "statefulsets", "daemonsets"]
      - apiGroups: ["batch"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["jobs", "cronjobs"]"#;
    print!(
        "apiVersion: v1
kind: Secret
metadata:
  name: {service}-tls
  namespace: {namespace}
type: kubernetes.io/tls
data:
  tls.crt: {crt}
  tls.key: {key}
---
apiVersion: v1
kind: Service
metadata:
  name: {service}
  namespace: {namespace}
spec:
  selector:
    app.kubernetes.io/name: harrier
  ports:
    - name: admission
      port: 443
      targetPort: {port}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: harrier-images
webhooks:
  - name: images.harrier.dev
    admissionReviewVersions: [\"v1\"]
    sideEffects: None
    failurePolicy: {failure_policy}
    timeoutSeconds: {timeout_seconds}
    clientConfig:
      service:
        name: {service}
        namespace: {namespace}
        path: \"{path}\"
        port: 443
      caBundle: {ca}
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: [\"kube-system\", \"{namespace}\"]
    rules:
{rules}
",
        crt = encode(&c),
        key = encode(&k),
        ca = encode(&ca),
    );
    Ok(ExitCode::SUCCESS)
}
