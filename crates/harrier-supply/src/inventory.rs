//! The images that run: pods from a Kubernetes API server (kubeconfig or in-cluster service
//! account), and (feature `aws`) the tasks of every ECS cluster, Fargate included; each image
//! resolved to the digest that actually runs where the platform says it, scanned once per
//! digest.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use harrier_image::registry::Reference;
use serde_json::Value;

use crate::results::ImageResults;
use crate::scanner::Scanner;
use crate::verdict::{Bar, Summary};

/// Largest page of a pod list accepted.
const MAX_PAGE: u64 = 64 << 20;

/// One container that runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Running {
    /// `kubernetes`, `ecs` or `fargate`.
    pub platform: String,
    /// The workload: `namespace/pod (Kind owner)` or `cluster/group task-id`.
    pub workload: String,
    /// The container's name.
    pub container: String,
    /// The image as configured.
    pub image: String,
    /// The digest that runs, when the platform reports it.
    pub digest: Option<String>,
    /// The pod, as `namespace/name` (Kubernetes).
    pub pod: Option<String>,
    /// The ECS task id (ECS, Fargate).
    pub task: Option<String>,
}

impl Running {
    /// The image to scan: by the digest that runs when it is known.
    pub fn reference(&self) -> Option<Reference> {
        let mut r = Reference::parse(&self.image)?;
        if let Some(d) = &self.digest {
            r.reference = d.clone();
        }
        Some(r)
    }
}

/// The digest in a container status `imageID` (`docker-pullable://repo@sha256:...`,
/// `repo@sha256:...`, `sha256:...`). A bare `sha256:` id from Docker is the image config's id,
/// not the manifest's digest: it is not used.
fn digest_of(image_id: &str) -> Option<String> {
    let (_, d) = image_id.rsplit_once('@')?;
    crate::push::is_digest(d).then(|| d.to_string())
}

/// The containers of a Kubernetes `PodList` (`GET /api/v1/pods`) answer.
pub fn pods_from_list(v: &Value) -> Result<Vec<Running>, String> {
    if v["kind"] != "PodList" {
        return Err(format!("not a PodList (kind {})", v["kind"]));
    }
    let items = v["items"].as_array().ok_or("a PodList without items")?;
    let mut out = Vec::new();
    for p in items {
        let phase = p
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if matches!(phase, "Succeeded" | "Failed") {
            continue;
        }
        let ns = p
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = p
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let owner = p
            .pointer("/metadata/ownerReferences/0")
            .map(|o| {
                format!(
                    " ({} {})",
                    o["kind"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                )
            })
            .unwrap_or_default();
        let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
        for list in [
            "initContainerStatuses",
            "containerStatuses",
            "ephemeralContainerStatuses",
        ] {
            for s in p
                .pointer(&format!("/status/{list}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(n), Some(id)) = (s["name"].as_str(), s["imageID"].as_str()) {
                    ids.insert(n, id);
                }
            }
        }
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for c in p
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let cname = c["name"].as_str().unwrap_or("");
                out.push(Running {
                    platform: "kubernetes".into(),
                    workload: format!("{ns}/{name}{owner}"),
                    container: cname.to_string(),
                    image: c["image"].as_str().unwrap_or("").to_string(),
                    digest: ids.get(cname).and_then(|id| digest_of(id)),
                    pod: Some(format!("{ns}/{name}")),
                    task: None,
                });
            }
        }
    }
    Ok(out)
}

/// How to reach a Kubernetes API server.
#[derive(Clone)]
pub struct KubeAccess {
    /// `https://host:port`.
    pub server: String,
    /// PEM CA certificates to trust (else the system's web roots).
    pub ca_pem: Option<Vec<u8>>,
    /// A bearer token.
    pub token: Option<String>,
}

impl std::fmt::Debug for KubeAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeAccess")
            .field("server", &self.server)
            .field("ca_pem", &self.ca_pem.is_some())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl KubeAccess {
    /// From a kubeconfig file's current context (server, `certificate-authority-data` or
    /// `certificate-authority`, `token` or `tokenFile`). Client certificates and exec plugins
    /// are not supported: the error says so.
    pub fn from_kubeconfig(path: &std::path::Path) -> Result<KubeAccess, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
        let y = docs
            .first()
            .ok_or_else(|| format!("{}: empty", path.display()))?;
        let at = |what: &str| format!("{}: {what}", path.display());
        let ctx_name = y["current-context"]
            .as_str()
            .ok_or_else(|| at("no current-context"))?;
        let find = |list: &str, name: &str, key: &str| {
            y[list]
                .as_vec()
                .and_then(|v| v.iter().find(|e| e["name"].as_str() == Some(name)))
                .map(|e| e[key].clone())
        };
        let ctx = find("contexts", ctx_name, "context")
            .ok_or_else(|| at(&format!("context {ctx_name:?} not found")))?;
        let cluster_name = ctx["cluster"].as_str().unwrap_or("");
        let cluster = find("clusters", cluster_name, "cluster")
            .ok_or_else(|| at(&format!("cluster {cluster_name:?} not found")))?;
        let server = cluster["server"]
            .as_str()
            .ok_or_else(|| at("cluster without server"))?
            .to_string();
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let ca_pem = if let Some(d) = cluster["certificate-authority-data"].as_str() {
            Some(
                harrier_events::base64::decode(d.trim())
                    .ok_or_else(|| at("certificate-authority-data is not base64"))?,
            )
        } else if let Some(f) = cluster["certificate-authority"].as_str() {
            Some(
                std::fs::read(dir.join(f))
                    .map_err(|e| at(&format!("certificate-authority {f}: {e}")))?,
            )
        } else {
            None
        };
        let user_name = ctx["user"].as_str().unwrap_or("");
        let user = find("users", user_name, "user").unwrap_or(yaml_rust2::Yaml::BadValue);
        let token = if let Some(t) = user["token"].as_str() {
            Some(t.to_string())
        } else if let Some(f) = user["tokenFile"].as_str() {
            Some(
                std::fs::read_to_string(dir.join(f))
                    .map_err(|e| at(&format!("tokenFile {f}: {e}")))?
                    .trim()
                    .to_string(),
            )
        } else if !user["exec"].is_badvalue() || !user["client-certificate-data"].is_badvalue() {
            return Err(at(&format!(
                "user {user_name:?} authenticates with an exec plugin or a client certificate, which harrier does not support: give it a token"
            )));
        } else {
            None
        };
        Ok(KubeAccess {
            server,
            ca_pem,
            token,
        })
    }

    /// Inside a pod: the service account's token and CA, and `KUBERNETES_SERVICE_HOST`.
    pub fn in_cluster() -> Result<KubeAccess, String> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .map_err(|_| "not in a cluster (KUBERNETES_SERVICE_HOST is unset)")?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let sa = std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount");
        let token = std::fs::read_to_string(sa.join("token"))
            .map_err(|e| format!("service account token: {e}"))?;
        let ca =
            std::fs::read(sa.join("ca.crt")).map_err(|e| format!("service account CA: {e}"))?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        Ok(KubeAccess {
            server: format!("https://{host}:{port}"),
            ca_pem: Some(ca),
            token: Some(token.trim().to_string()),
        })
    }

    fn agent(&self) -> Result<ureq::Agent, String> {
        let mut b = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60));
        if let Some(pem) = &self.ca_pem {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut &pem[..]) {
                let c = c.map_err(|e| format!("the cluster's CA is not PEM: {e}"))?;
                roots.add(c).map_err(|e| format!("the cluster's CA: {e}"))?;
            }
            if roots.is_empty() {
                return Err("the cluster's CA holds no certificate".into());
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            b = b.tls_config(Arc::new(cfg));
        }
        Ok(b.build())
    }

    /// Every pod's containers (`GET /api/v1/pods`, 500 at a time).
    pub fn running_pods(&self) -> Result<Vec<Running>, String> {
        if !self.server.starts_with("https://") {
            return Err(format!("{}: the API server must be HTTPS", self.server));
        }
        let agent = self.agent()?;
        let mut out = Vec::new();
        let mut cont = String::new();
        loop {
            let mut req = agent
                .get(&format!(
                    "{}/api/v1/pods",
                    self.server.trim_end_matches('/')
                ))
                .query("limit", "500");
            if !cont.is_empty() {
                req = req.query("continue", &cont);
            }
            if let Some(t) = &self.token {
                req = req.set("Authorization", &format!("Bearer {t}"));
            }
            let resp = req.call().map_err(|e| match e {
                ureq::Error::Status(c, _) => format!("{}: listing pods: HTTP {c}", self.server),
                ureq::Error::Transport(t) => format!("{}: listing pods: {t}", self.server),
            })?;
            let mut body = Vec::new();
            resp.into_reader()
                .take(MAX_PAGE + 1)
                .read_to_end(&mut body)
                .map_err(|e| format!("{}: {e}", self.server))?;
            if body.len() as u64 > MAX_PAGE {
                return Err(format!(
                    "{}: a pod list page over {MAX_PAGE} bytes",
                    self.server
                ));
            }
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| format!("{}: pod list: {e}", self.server))?;
            out.extend(pods_from_list(&v)?);
            cont = v
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if cont.is_empty() {
                return Ok(out);
            }
        }
    }
}

/// The containers of every running task on every ECS cluster the caller can see.
#[cfg(feature = "aws")]
pub async fn ecs_running(client: &aws_sdk_ecs::Client) -> Result<Vec<Running>, String> {
    let err = |what: &str, e: String| format!("ECS {what}: {e}");
    let mut clusters = Vec::new();
    let mut next = None;
    loop {
        let r = client
            .list_clusters()
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| err("ListClusters", harrier_aws::describe_error(&e)))?;
        clusters.extend(r.cluster_arns().iter().cloned());
        next = r.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    for c in clusters {
        let cname = c.rsplit('/').next().unwrap_or(&c).to_string();
        let mut tasks = Vec::new();
        let mut next = None;
        loop {
            let r = client
                .list_tasks()
                .cluster(&c)
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| err("ListTasks", harrier_aws::describe_error(&e)))?;
            tasks.extend(r.task_arns().iter().cloned());
            next = r.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        for chunk in tasks.chunks(100) {
            let r = client
                .describe_tasks()
                .cluster(&c)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| err("DescribeTasks", harrier_aws::describe_error(&e)))?;
            for t in r.tasks() {
                let fargate = t.launch_type() == Some(&aws_sdk_ecs::types::LaunchType::Fargate);
                let id = t
                    .task_arn()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let group = t.group().unwrap_or("");
                for k in t.containers() {
                    out.push(Running {
                        platform: if fargate { "fargate" } else { "ecs" }.into(),
                        workload: format!("{cname}/{group} task {id}"),
                        container: k.name().unwrap_or("").to_string(),
                        image: k.image().unwrap_or("").to_string(),
                        digest: k
                            .image_digest()
                            .filter(|d| crate::push::is_digest(d))
                            .map(str::to_string),
                        pod: None,
                        task: Some(id.clone()),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// One running container with what its image's scan says.
#[derive(Debug, Clone)]
pub struct Row {
    /// The container.
    pub running: Running,
    /// The scan of its image (`None` when it could not be scanned).
    pub summary: Option<Arc<Summary>>,
    /// Why the image is bad (empty: fine).
    pub problems: Vec<String>,
    /// Why it could not be scanned.
    pub error: Option<String>,
}

/// Scans each image of `running` once per digest (reusing `db`'s stored scans, storing new
/// ones) and judges it by `bar`.
pub fn judge(
    running: Vec<Running>,
    db: Option<&dyn ImageResults>,
    scanner: &dyn Scanner,
    bar: Bar,
) -> Vec<Row> {
    let mut by_ref: BTreeMap<String, Result<Arc<Summary>, String>> = BTreeMap::new();
    let mut rows = Vec::new();
    for r in running {
        let Some(reference) = r.reference() else {
            rows.push(Row {
                error: Some(format!("{:?} is not an image reference", r.image)),
                running: r,
                summary: None,
                problems: vec![],
            });
            continue;
        };
        let key = reference.to_string();
        let got = by_ref.entry(key).or_insert_with(|| {
            let digest = match &r.digest {
                Some(d) => d.clone(),
                None => scanner.digest(&reference, Duration::from_secs(30))?,
            };
            if let Some(s) = db.and_then(|db| db.scan(&digest).ok().flatten()) {
                return Ok(Arc::new(s));
            }
            let by_digest = Reference {
                reference: digest,
                ..reference.clone()
            };
            let s = scanner.scan(&by_digest)?;
            if let Some(db) = db {
                db.put_scan(&s).map_err(|e| e.to_string())?;
            }
            Ok(Arc::new(s))
        });
        rows.push(match got {
            Ok(s) => Row {
                problems: s.reasons(bar),
                summary: Some(Arc::clone(s)),
                running: r,
                error: None,
            },
            Err(e) => Row {
                error: Some(e.clone()),
                running: r,
                summary: None,
                problems: vec![],
            },
        });
    }
    rows
}

/// The rule name of a running container whose image fails its scan.
pub const RULE_RUNNING_FAILS: &str = "Running Image Fails Its Scan";

/// An alert for each row whose image is bad: one per container and digest (a deterministic
/// id, so a periodic inventory does not repeat it), joined to incidents through the digest,
/// the image, the pod or the ECS task.
pub fn alerts(rows: &[Row], time_ns: i64) -> Vec<crate::watch::SupplyAlert> {
    use harrier_incidents::{Entity, Kind};
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| !r.problems.is_empty()) {
        let Some(s) = &r.summary else { continue };
        let run = &r.running;
        let mut entities: Vec<Entity> = [
            Entity::new(Kind::ImageDigest, s.digest.clone()),
            harrier_incidents::entity::image_key(&run.image)
                .and_then(|k| Entity::new(Kind::Image, k)),
            run.pod.clone().and_then(|p| Entity::new(Kind::Pod, p)),
            run.pod
                .as_deref()
                .and_then(|p| p.split('/').next())
                .and_then(|n| Entity::new(Kind::Namespace, n)),
            run.task.clone().and_then(|t| {
                harrier_incidents::entity::ecs_task_id(&t)
                    .and_then(|t| Entity::new(Kind::EcsTask, t))
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        entities.sort();
        let malware = !s.malware.is_empty();
        out.push(crate::watch::SupplyAlert {
            rule: RULE_RUNNING_FAILS,
            priority: if malware {
                harrier_rules::Priority::Critical
            } else {
                harrier_rules::Priority::Error
            },
            output: format!(
                "{} {} container {} runs {} ({}) that fails its scan: {}",
                run.platform,
                run.workload,
                run.container,
                run.image,
                s.digest.get(..19).unwrap_or(&s.digest),
                r.problems
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            fields: vec![
                ("image.platform", Some(run.platform.clone())),
                ("image.workload", Some(run.workload.clone())),
                ("image.container", Some(run.container.clone())),
                ("image.name", Some(run.image.clone())),
                ("image.digest", Some(s.digest.clone())),
                ("image.findings", Some(r.problems.join("; "))),
            ],
            tags: ["container", "image", "mitre_execution", "T1610"]
                .iter()
                .map(|t| t.to_string())
                .collect(),
            event_id: format!(
                "running/{}/{}/{}/{}",
                run.platform, run.workload, run.container, s.digest
            ),
            time_ns,
            entities,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_list_gives_each_container_with_the_digest_that_runs() {
        let v = serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
            {"metadata": {"name": "nginx-7d9-abc", "namespace": "web",
                          "ownerReferences": [{"kind": "ReplicaSet", "name": "nginx-7d9"}]},
             "spec": {"containers": [{"name": "nginx", "image": "reg.example.com/web:1.4"}]},
             "status": {"phase": "Running", "containerStatuses": [{"name": "nginx",
                "imageID": "reg.example.com/web@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]}},
            {"metadata": {"name": "old", "namespace": "web"},
             "spec": {"containers": [{"name": "c", "image": "busybox"}]},
             "status": {"phase": "Succeeded"}},
            {"metadata": {"name": "docker", "namespace": "kube-system"},
             "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
             "status": {"phase": "Running", "containerStatuses": [{"name": "c", "imageID": "sha256:0123"}]}}
        ]});
        let got = pods_from_list(&v).unwrap();
        assert_eq!(got.len(), 2, "a finished pod runs nothing");
        assert_eq!(got[0].workload, "web/nginx-7d9-abc (ReplicaSet nginx-7d9)");
        assert_eq!(
            got[0].reference().unwrap().to_string(),
            "reg.example.com/web@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        );
        assert_eq!(
            got[1].digest, None,
            "a bare image id is not a manifest digest"
        );
        assert!(pods_from_list(&serde_json::json!({"kind": "Status"})).is_err());
    }
}
