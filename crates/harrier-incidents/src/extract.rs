//! Reading the entities of an event, for each source, through the same field table rules use
//! (so an entity is read exactly as a rule would read it).
//!
//! | source | entities |
//! |---|---|
//! | `aws_cloudtrail` | account; principal (user ARN, or role session ARN); access key; source IP; user agent family; region; the user an IAM call acts on (`requestParameters.userName`) and the key `CreateAccessKey` made for them; bucket; security group; ECR `repository:tag` and digest of `PutImage`; the ECS task of `ExecuteCommand` |
//! | `k8s_audit` | Kubernetes user; the IAM identity EKS records for it (`user.extra.accessKeyId`, `user.extra.arn`); source IP; user agent family; pod (`namespace/name`); namespace; images of a created pod |
//! | `syscall` | container; the ECS task a Fargate container belongs to (its runtime id's prefix); image (`repository:tag`); pod; namespace; host |

use harrier_events::{Event, FieldRef, SourceInfo, Value};

use crate::entity::{ecs_task_id, image_key, tool_run, user_agent_family, Entity, Kind};

/// A field reference resolved once, by source.
struct Fields {
    refs: Vec<(&'static str, FieldRef)>,
}

impl Fields {
    fn new(src: &'static SourceInfo, specs: &[(&'static str, &str, Option<&str>)]) -> Fields {
        Fields {
            refs: specs
                .iter()
                .filter_map(|(key, name, arg)| src.resolve(name, *arg).ok().map(|r| (*key, r)))
                .collect(),
        }
    }

    fn get<'e>(&self, ev: &'e dyn Event, key: &str) -> Option<Value<'e>> {
        let r = &self.refs.iter().find(|(k, _)| *k == key)?.1;
        ev.extract(r)
    }

    fn str(&self, ev: &dyn Event, key: &str) -> Option<String> {
        match self.get(ev, key)? {
            Value::Str(s) => Some(s.into_owned()),
            Value::U64(n) => Some(n.to_string()),
            Value::List(l) => l.first().map(|s| s.to_string()),
            Value::Multi(m) => m.into_iter().flatten().next().map(|s| s.into_owned()),
        }
    }

    fn all(&self, ev: &dyn Event, key: &str) -> Vec<String> {
        match self.get(ev, key) {
            Some(Value::Str(s)) => vec![s.into_owned()],
            Some(Value::List(l)) => l.into_iter().map(|s| s.into_owned()).collect(),
            Some(Value::Multi(m)) => m.into_iter().flatten().map(|s| s.into_owned()).collect(),
            Some(Value::U64(n)) => vec![n.to_string()],
            None => Vec::new(),
        }
    }
}

/// Reads entities from events of every source.
pub struct Extractor {
    cloudtrail: Fields,
    k8s: Fields,
    syscall: Fields,
}

impl Default for Extractor {
    fn default() -> Self {
        Extractor::new()
    }
}

impl Extractor {
    /// Resolves the fields it reads.
    pub fn new() -> Extractor {
        use harrier_events::{cloudtrail, k8saudit, syscall};
        let ptr = |p: &'static str| Some(p);
        Extractor {
            cloudtrail: Fields::new(
                &cloudtrail::SOURCE,
                &[
                    ("account", "ct.user.accountid", None),
                    ("recipient", "ct.recipientaccountid", None),
                    ("arn", "ct.user.arn", None),
                    ("identity_type", "ct.user.identitytype", None),
                    ("key", "json.value", ptr("/userIdentity/accessKeyId")),
                    ("ip", "ct.srcip", None),
                    ("ua", "ct.useragent", None),
                    ("region", "ct.region", None),
                    ("name", "ct.name", None),
                    (
                        "target_user",
                        "json.value",
                        ptr("/requestParameters/userName"),
                    ),
                    (
                        "new_key",
                        "json.value",
                        ptr("/responseElements/accessKey/accessKeyId"),
                    ),
                    ("bucket", "json.value", ptr("/requestParameters/bucketName")),
                    ("sg", "json.value", ptr("/requestParameters/groupId")),
                    (
                        "repo",
                        "json.value",
                        ptr("/requestParameters/repositoryName"),
                    ),
                    ("tag", "json.value", ptr("/requestParameters/imageTag")),
                    (
                        "digest",
                        "json.value",
                        ptr("/responseElements/image/imageId/imageDigest"),
                    ),
                    ("task", "json.value", ptr("/requestParameters/task")),
                    ("task_arn", "json.value", ptr("/responseElements/taskArn")),
                ],
            ),
            k8s: Fields::new(
                &k8saudit::SOURCE,
                &[
                    ("user", "ka.user.name", None),
                    ("key", "json.value", ptr("/user/extra/accessKeyId/0")),
                    ("arn", "json.value", ptr("/user/extra/arn/0")),
                    ("ip", "ka.sourceips", None),
                    ("ua", "ka.useragent", None),
                    ("ns", "ka.target.namespace", None),
                    ("name", "ka.target.name", None),
                    ("resource", "ka.target.resource", None),
                    ("images", "ka.req.pod.containers.image", None),
                ],
            ),
            syscall: Fields::new(
                &syscall::SOURCE,
                &[
                    ("id", "container.id", None),
                    ("full_id", "container.full_id", None),
                    ("image", "container.image", None),
                    ("pod", "k8s.pod.name", None),
                    ("ns", "k8s.ns.name", None),
                    ("host", "evt.hostname", None),
                ],
            ),
        }
    }

    /// The entities of `ev`, sorted, without repeats.
    pub fn entities(&self, ev: &dyn Event) -> Vec<Entity> {
        let mut out = Vec::new();
        match ev.source().name {
            "aws_cloudtrail" => self.cloudtrail(ev, &mut out),
            "k8s_audit" => self.k8s(ev, &mut out),
            "syscall" => self.syscall(ev, &mut out),
            _ => {}
        }
        out.sort();
        out.dedup();
        out
    }

    fn cloudtrail(&self, ev: &dyn Event, out: &mut Vec<Entity>) {
        let f = &self.cloudtrail;
        let s = |k: &str| f.str(ev, k);
        let mut push =
            |kind: Kind, v: Option<String>| out.extend(v.and_then(|v| Entity::new(kind, v)));
        // The account whose trail logged the call: a top-level member (cheap), and the one
        // the call and the user it acts on belong to.
        let account = s("recipient");
        push(Kind::Account, account.clone());
        push(Kind::Principal, s("arn"));
        push(Kind::AccessKey, s("key"));
        push(Kind::SourceIp, s("ip"));
        let ua = s("ua");
        if let Some(ua) = &ua {
            push(Kind::UserAgent, Some(user_agent_family(ua).to_string()));
            push(Kind::ToolRun, tool_run(ua).map(str::to_string));
        }
        push(Kind::Region, s("region"));
        // The rest only where the call has it: reading a nested member costs a walk of the
        // record, and this runs for every alert.
        let name = ev.type_key().map(|n| n.into_owned()).unwrap_or_default();
        let has = |p: &str| name.contains(p);
        if has("Bucket") || has("Object") {
            push(Kind::Bucket, s("bucket"));
        }
        if has("SecurityGroup") {
            push(Kind::SecurityGroup, s("sg"));
        }
        if has("User") || has("AccessKey") || has("LoginProfile") || has("MFA") || has("Group") {
            // The user an IAM call acts on, as the ARN CloudTrail would show for them, and
            // the key CreateAccessKey made for that user.
            if let (Some(user), Some(acct)) = (s("target_user"), account.as_ref()) {
                push(
                    Kind::TargetPrincipal,
                    Some(format!("arn:aws:iam::{acct}:user/{user}")),
                );
            }
            push(Kind::AccessKey, s("new_key"));
        }
        if name == "PutImage" {
            if let Some(repo) = s("repo") {
                let tag = s("tag").unwrap_or_else(|| "latest".into());
                push(Kind::Image, Some(format!("{repo}:{tag}")));
            }
            push(Kind::ImageDigest, s("digest"));
        }
        if name == "ExecuteCommand" {
            push(
                Kind::EcsTask,
                s("task")
                    .or_else(|| s("task_arn"))
                    .and_then(|t| ecs_task_id(&t)),
            );
        }
    }

    fn k8s(&self, ev: &dyn Event, out: &mut Vec<Entity>) {
        let f = &self.k8s;
        let s = |k: &str| f.str(ev, k);
        let mut push =
            |kind: Kind, v: Option<String>| out.extend(v.and_then(|v| Entity::new(kind, v)));
        push(Kind::K8sUser, s("user"));
        push(Kind::AccessKey, s("key"));
        push(Kind::Principal, s("arn"));
        push(Kind::SourceIp, s("ip"));
        push(
            Kind::UserAgent,
            s("ua").map(|u| user_agent_family(&u).to_string()),
        );
        let ns = s("ns");
        push(Kind::Namespace, ns.clone());
        if let (Some(ns), Some(name), Some("pods")) = (&ns, s("name"), s("resource").as_deref()) {
            push(Kind::Pod, Some(format!("{ns}/{name}")));
        }
        for image in f.all(ev, "images") {
            push(Kind::Image, private_image_key(&image));
        }
    }

    fn syscall(&self, ev: &dyn Event, out: &mut Vec<Entity>) {
        let f = &self.syscall;
        let s = |k: &str| f.str(ev, k);
        let mut push =
            |kind: Kind, v: Option<String>| out.extend(v.and_then(|v| Entity::new(kind, v)));
        let id = s("id").filter(|i| i != "host");
        if id.is_some() {
            push(Kind::Container, id);
            push(Kind::EcsTask, s("full_id").and_then(|i| ecs_task_id(&i)));
            push(Kind::Image, s("image").and_then(|i| private_image_key(&i)));
            let ns = s("ns");
            if let (Some(ns), Some(pod)) = (&ns, s("pod")) {
                push(Kind::Pod, Some(format!("{ns}/{pod}")));
            }
            push(Kind::Namespace, ns);
        }
        push(Kind::Host, s("host"));
    }
}

/// [`image_key`] for an image from a named registry only: `nginx:latest` from Docker Hub runs
/// everywhere and links nothing; `<acct>.dkr.ecr.<region>.amazonaws.com/web:v1.4.2` is one
/// organisation's build.
fn private_image_key(image: &str) -> Option<String> {
    let first = image.split('/').next().unwrap_or("");
    let named = image.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
        && first != "docker.io"
        && first != "index.docker.io";
    if named {
        image_key(image)
    } else {
        None
    }
}
