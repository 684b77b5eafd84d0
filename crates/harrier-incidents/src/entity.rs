//! Entities: the things an alert is about (who, from where, on what), in one vocabulary for
//! every source, so that a CloudTrail call, a Kubernetes exec and a process in a container can
//! be seen to share one.

use std::fmt;

/// What kind of thing an entity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An AWS account id.
    Account,
    /// An AWS principal: an IAM user's ARN, or a role session's ARN (never the role alone: the
    /// sessions of one role are different actors).
    Principal,
    /// A principal an IAM call acts on (`CreateAccessKey` for bob): it links like a
    /// [`Kind::Principal`] (bob's later calls join the story) but is not one of the actors.
    TargetPrincipal,
    /// An AWS access key id.
    AccessKey,
    /// A source IP address.
    SourceIp,
    /// A user agent, as its family (`aws-cli`, `Boto3`, `console`, `kubectl`, ...).
    UserAgent,
    /// An AWS region.
    Region,
    /// A Kubernetes user name.
    K8sUser,
    /// A pod, as `namespace/name`.
    Pod,
    /// A Kubernetes namespace.
    Namespace,
    /// A container runtime id (12-hex short form; ECS/Fargate ids keep their task prefix).
    Container,
    /// An ECS task id (32 hex).
    EcsTask,
    /// An image as `repository:tag`, the registry host left out.
    Image,
    /// An image digest (`sha256:...`).
    ImageDigest,
    /// A host name.
    Host,
    /// An S3 bucket.
    Bucket,
    /// An EC2 security group id.
    SecurityGroup,
    /// One run of a tool that marks its calls with a run id in the user agent
    /// (`stratus-red-team_<uuid>`, `grimoire_<uuid>`): see [`tool_run`]. Inside a run, the
    /// actor entities (principal, key, address) link only to alerts of the same run.
    ToolRun,
}

impl Kind {
    /// Lower-case name, as the JSON form shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Principal => "principal",
            Kind::TargetPrincipal => "target_principal",
            Kind::AccessKey => "access_key",
            Kind::SourceIp => "source_ip",
            Kind::UserAgent => "user_agent",
            Kind::Region => "region",
            Kind::K8sUser => "k8s_user",
            Kind::Pod => "pod",
            Kind::Namespace => "namespace",
            Kind::Container => "container",
            Kind::EcsTask => "ecs_task",
            Kind::Image => "image",
            Kind::ImageDigest => "image_digest",
            Kind::Host => "host",
            Kind::Bucket => "bucket",
            Kind::SecurityGroup => "security_group",
            Kind::ToolRun => "tool_run",
        }
    }

    /// The kind named `s` ([`Kind::as_str`]'s form).
    pub fn parse(s: &str) -> Option<Kind> {
        ALL_KINDS.iter().copied().find(|k| k.as_str() == s)
    }

    /// Whether two alerts that share an entity of this kind are one story. Accounts, regions,
    /// user agents, namespaces and hosts are shared by everyone working there: they describe
    /// an incident but never join one.
    pub fn links(self) -> bool {
        !matches!(
            self,
            Kind::Account | Kind::Region | Kind::UserAgent | Kind::Namespace | Kind::Host
        )
    }
}

/// Every kind, in declaration order.
const ALL_KINDS: [Kind; 18] = [
    Kind::Account,
    Kind::Principal,
    Kind::TargetPrincipal,
    Kind::AccessKey,
    Kind::SourceIp,
    Kind::UserAgent,
    Kind::Region,
    Kind::K8sUser,
    Kind::Pod,
    Kind::Namespace,
    Kind::Container,
    Kind::EcsTask,
    Kind::Image,
    Kind::ImageDigest,
    Kind::Host,
    Kind::Bucket,
    Kind::SecurityGroup,
    Kind::ToolRun,
];

/// The most an alert's encoded entities take ([`encode`]); entities past it are left out, so
/// one hostile record cannot bloat every stored alert.
pub const MAX_ENCODED: usize = 16 * 1024;

/// An alert's entities as a store keeps them beside it, for a correlator in another process:
/// a JSON array of `[kind, value]` pairs, at most [`MAX_ENCODED`] bytes.
pub fn encode(entities: &[Entity]) -> String {
    let mut out = String::from("[");
    for e in entities {
        let pair = serde_json::json!([e.kind.as_str(), e.value]).to_string();
        // One long value leaves out itself only, not the entities after it.
        if out.len() + pair.len() + 2 > MAX_ENCODED {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&pair);
    }
    out.push(']');
    out
}

/// Reads what [`encode`] wrote; an unknown kind is skipped (a newer worker's), anything else
/// malformed is an error saying what was expected.
pub fn decode(s: &str) -> Result<Vec<Entity>, String> {
    let v: Vec<(String, String)> = serde_json::from_str(s)
        .map_err(|e| format!("entities: expected a JSON array of [kind, value] pairs: {e}"))?;
    Ok(v.into_iter()
        .filter_map(|(k, value)| Entity::new(Kind::parse(&k)?, value))
        .collect())
}

/// One entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entity {
    /// Its kind.
    pub kind: Kind,
    /// Its value, normalised (see each [`Kind`]).
    pub value: String,
}

impl Entity {
    /// An entity; `None` for an empty value.
    pub fn new(kind: Kind, value: impl Into<String>) -> Option<Entity> {
        let mut value = value.into();
        if value.trim().len() != value.len() {
            value = value.trim().to_string();
        }
        (!value.is_empty() && value != "null").then_some(Entity { kind, value })
    }

    /// Whether this entity is shared by too many unrelated actors to link alerts: AWS
    /// service principals and their "IP addresses" (`ec2.amazonaws.com`), `AWS Internal`,
    /// private and loopback addresses, Kubernetes system users, and anything of a kind that
    /// never links ([`Kind::links`]).
    pub fn is_fan_out(&self) -> bool {
        if !self.kind.links() {
            return true;
        }
        let v = self.value.as_str();
        match self.kind {
            Kind::Principal | Kind::TargetPrincipal => {
                v.ends_with(".amazonaws.com")
                    || v.contains(":root")
                    || v.starts_with("arn:aws:iam::aws:")
                    || v == "AWS Internal"
            }
            Kind::SourceIp => {
                v.ends_with(".amazonaws.com") || v == "AWS Internal" || is_private_ip(v)
            }
            Kind::K8sUser => {
                // System users, except service accounts outside kube-system (a workload's
                // identity, which an attacker may steal).
                v.starts_with("system:")
                    && v.strip_prefix("system:serviceaccount:")
                        .is_none_or(|r| r.starts_with("kube-system:"))
            }
            _ => false,
        }
    }
}

impl Entity {
    /// The entity as the correlation index keys it: a target principal is the principal.
    pub fn link_key(&self) -> Entity {
        match self.kind {
            Kind::TargetPrincipal => Entity {
                kind: Kind::Principal,
                value: self.value.clone(),
            },
            _ => self.clone(),
        }
    }

    /// [`Entity::link_key`] for an alert made inside a tool run (`run`, a [`Kind::ToolRun`]
    /// value): its actor entities (principal, target principal, access key, source IP) are
    /// keyed within the run, so that one operator's key running eighteen techniques in half an
    /// hour makes eighteen incidents, while each run still joins its own set-up and detonation.
    /// Resources (buckets, groups, images, ...) link across runs as always.
    pub fn link_key_in(&self, run: Option<&str>) -> Entity {
        let key = self.link_key();
        match (run, key.kind) {
            (Some(run), Kind::Principal | Kind::AccessKey | Kind::SourceIp) => Entity {
                kind: key.kind,
                value: format!("{} in {run}", key.value),
            },
            _ => key,
        }
    }
}

/// The run id a tool wrote into a user agent: a token `<name>_<uuid>` (Stratus Red Team's
/// `stratus-red-team_<uuid>`, Grimoire's `exec-env/grimoire_<uuid>`), returned whole. `None`
/// for ordinary clients: their user agents name a product and versions, never one run.
pub fn tool_run(ua: &str) -> Option<&str> {
    ua.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | ',' | ';' | '/'))
        .find(|tok| {
            tok.len() > 37
                && tok.as_bytes()[tok.len() - 37] == b'_'
                && is_uuid(&tok[tok.len() - 36..])
                && tok[..tok.len() - 37]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind.as_str(), self.value)
    }
}

/// Private, loopback, link-local and carrier-grade NAT addresses: shared by whole networks.
fn is_private_ip(v: &str) -> bool {
    match v.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Every family [`user_agent_family`] returns.
pub const USER_AGENT_FAMILIES: [&str; 8] = [
    "aws-cli",
    "boto3",
    "kubectl",
    "terraform",
    "aws-sdk",
    "console",
    "aws-service",
    "other",
];

/// The family of a user agent: what kind of client made the call.
pub fn user_agent_family(ua: &str) -> &'static str {
    // Case-insensitive, without allocating: this runs for every record with --anomalies.
    let b = ua.as_bytes();
    let starts = |p: &str| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    let ends =
        |p: &str| b.len() >= p.len() && b[b.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes());
    let has = |p: &str| {
        let p = p.as_bytes();
        b.len() >= p.len() && b.windows(p.len()).any(|w| w.eq_ignore_ascii_case(p))
    };
    if starts("aws-cli/") {
        "aws-cli"
    } else if has("boto3") || has("botocore") {
        "boto3"
    } else if starts("kubectl/") {
        "kubectl"
    } else if has("terraform") {
        "terraform"
    } else if has("aws-sdk-") {
        "aws-sdk"
    } else if has("console.amazonaws.com") || has("signin.amazonaws.com") || starts("mozilla/") {
        "console"
    } else if ends(".amazonaws.com") {
        "aws-service"
    } else {
        "other"
    }
}

/// The repository (registry host left out) and tag of an image reference, as `repo:tag`;
/// `repo:latest` when it has no tag; `None` for a digest-only reference.
pub fn image_key(image: &str) -> Option<String> {
    let image = image.split('@').next().unwrap_or(image);
    let (path, tag) = match image.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => (image, "latest"),
    };
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0);
    }
    let repo = parts.join("/");
    (!repo.is_empty()).then(|| format!("{repo}:{tag}"))
}

/// The ECS task id of a Fargate container runtime id (`<32 hex>-<digits>`), or of a task ARN
/// (`arn:aws:ecs:region:acct:task/cluster/<id>`) or a bare id.
pub fn ecs_task_id(v: &str) -> Option<String> {
    let last = v.rsplit('/').next().unwrap_or(v);
    let id = last.split('-').next().unwrap_or(last);
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(kind: Kind, v: &str) -> Entity {
        Entity::new(kind, v).unwrap()
    }

    #[test]
    fn fan_out_entities_never_link() {
        assert!(e(Kind::Principal, "ec2.amazonaws.com").is_fan_out());
        assert!(e(Kind::Principal, "arn:aws:iam::111122223333:root").is_fan_out());
        assert!(e(Kind::SourceIp, "AWS Internal").is_fan_out());
        assert!(e(Kind::SourceIp, "10.0.3.7").is_fan_out());
        assert!(e(Kind::SourceIp, "100.64.1.1").is_fan_out());
        assert!(e(Kind::Account, "111122223333").is_fan_out());
        assert!(e(Kind::Namespace, "web").is_fan_out());
        assert!(e(Kind::K8sUser, "system:node:ip-10-0-1-2").is_fan_out());
        assert!(e(
            Kind::K8sUser,
            "system:serviceaccount:kube-system:replicaset-controller"
        )
        .is_fan_out());
        // Near misses: these do link.
        assert!(!e(Kind::SourceIp, "198.51.100.23").is_fan_out());
        assert!(!e(Kind::Principal, "arn:aws:iam::111122223333:user/alice").is_fan_out());
        assert!(!e(Kind::K8sUser, "system:serviceaccount:web:deployer").is_fan_out());
        assert!(!e(Kind::K8sUser, "alice@example.com").is_fan_out());
        assert!(Entity::new(Kind::Bucket, " ").is_none());
    }

    #[test]
    fn images_tasks_and_agents_normalise() {
        assert_eq!(
            image_key("111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v1.4.2").as_deref(),
            Some("web:v1.4.2")
        );
        assert_eq!(image_key("nginx").as_deref(), Some("nginx:latest"));
        assert_eq!(
            image_key("localhost:5000/shop/nginx").as_deref(),
            Some("shop/nginx:latest")
        );
        assert_eq!(
            image_key("ghcr.io/a/b:1@sha256:ab").as_deref(),
            Some("a/b:1")
        );
        let task = "5a1c2b3d4e5f60718293a4b5c6d7e8f9";
        assert_eq!(
            ecs_task_id(&format!("{task}-1527013210")).as_deref(),
            Some(task)
        );
        assert_eq!(
            ecs_task_id(&format!(
                "arn:aws:ecs:eu-west-1:111122223333:task/prod/{task}"
            ))
            .as_deref(),
            Some(task)
        );
        assert_eq!(
            ecs_task_id("3f2a6b1c9d0e"),
            None,
            "a containerd id is not a task"
        );
        assert_eq!(user_agent_family("aws-cli/2.15.0 Python/3.11"), "aws-cli");
        assert_eq!(
            user_agent_family("Boto3/1.34.0 md/Botocore#1.34.0"),
            "boto3"
        );
        assert_eq!(
            user_agent_family("kubectl/v1.29.2 (linux/amd64)"),
            "kubectl"
        );
    }
}

#[cfg(test)]
mod encoding_tests {
    use super::*;

    #[test]
    fn encoded_entities_read_back_as_they_were() {
        let e = vec![
            Entity::new(Kind::Principal, "arn:aws:iam::111122223333:user/alice").unwrap(),
            Entity::new(Kind::Pod, "web/nginx-7c9f").unwrap(),
            // Hostile values: quotes, newlines, a NUL.
            Entity::new(Kind::K8sUser, "a\"b\nc\u{0}d").unwrap(),
        ];
        assert_eq!(decode(&encode(&e)).unwrap(), e);
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<Entity>::new());
        for k in ALL_KINDS {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("principals"), None, "near miss");
    }

    #[test]
    fn a_hostile_event_cannot_bloat_the_encoded_form() {
        let big: Vec<Entity> = (0..2000)
            .map(|i| {
                Entity::new(Kind::Bucket, format!("bucket-{i:04}-{}", "x".repeat(40))).unwrap()
            })
            .collect();
        let s = encode(&big);
        assert!(s.len() <= MAX_ENCODED, "{}", s.len());
        let back = decode(&s).unwrap();
        assert!(!back.is_empty() && back.len() < big.len());
        assert_eq!(back[..], big[..back.len()], "the first ones kept, in order");
        // A hostile long value first leaves out itself, not the pod and the run after it.
        let e = vec![
            Entity::new(Kind::Bucket, "b".repeat(MAX_ENCODED)).unwrap(),
            Entity::new(Kind::Pod, "web/nginx").unwrap(),
            Entity::new(Kind::ToolRun, "grimoire_1").unwrap(),
        ];
        assert_eq!(decode(&encode(&e)).unwrap(), e[1..]);
    }

    #[test]
    fn unknown_kinds_are_skipped_and_malformed_text_is_an_error() {
        let e = decode(r#"[["principal","arn:x"],["from_the_future","v"],["pod",""]]"#).unwrap();
        assert_eq!(e, vec![Entity::new(Kind::Principal, "arn:x").unwrap()]);
        let err = decode(r#"{"principal":"arn:x"}"#).unwrap_err();
        assert!(
            err.contains("expected a JSON array of [kind, value] pairs"),
            "{err}"
        );
        assert!(decode(r#"[["principal"]]"#).is_err());
    }
}
